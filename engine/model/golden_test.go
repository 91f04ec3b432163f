package model_test

import (
	"context"
	"math"
	"testing"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// The goldens in testdata/golden were computed by an independent float64
// PyTorch reference of Hugging Face's models (testdata/README.md).

func TestGoldenHiddenStates(t *testing.T) {
	testmodels.ForEachBackend(t, func(t *testing.T, be kernels.Backend) {
		for _, name := range testmodels.Names {
			t.Run(name, func(t *testing.T) {
				m := testmodels.Load(t, name, be)
				g, st := testmodels.ReadGolden(t, name)
				tol := g.Tolerance.MaxAbsDiff
				H := m.Cfg.Hidden
				for _, c := range g.Cases {
					if !c.Forward {
						continue
					}
					pass, err := m.Forward(context.Background(), c.Batch(), false)
					if err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
					hidden := make([]float32, len(c.InputIDs)*H)
					m.Be.Download(hidden, pass.Hidden)
					if d := testmodels.MaxAbsDiff(hidden, testmodels.Tensor(t, st, c.Tensors["last_hidden_state"])); d > tol {
						t.Errorf("%s: last_hidden_state differs by %g", c.Name, d)
					}
					checkPools(t, m, pass, st, c.Tensors, c.Name, tol)
					pass.Release()
				}
				for _, gb := range g.Batches {
					B, T := len(gb.InputIDs), len(gb.InputIDs[0])
					b := gb.Batch()
					pass, err := m.Forward(context.Background(), b, false)
					if err != nil {
						t.Fatalf("batch %s: %v", gb.Name, err)
					}
					hidden := make([]float32, B*T*H)
					m.Be.Download(hidden, pass.Hidden)
					want := testmodels.Tensor(t, st, gb.Tensors["last_hidden_state"])
					var d float64
					for i := 0; i < B*T; i++ {
						if b.Mask[i] == 0 {
							continue // padded rows are zero-filled in the golden
						}
						d = math.Max(d, testmodels.MaxAbsDiff(hidden[i*H:(i+1)*H], want[i*H:(i+1)*H]))
					}
					if d > tol {
						t.Errorf("batch %s: last_hidden_state differs by %g", gb.Name, d)
					}
					checkPools(t, m, pass, st, gb.Tensors, "batch "+gb.Name, tol)
					pass.Release()
				}
			})
		}
	})
}

// checkPools compares every pooled output the golden has.
func checkPools(t *testing.T, m *model.Model, pass *model.Pass, st *safetensors.File, tensors map[string]string, what string, tol float64) {
	t.Helper()
	pools := map[string]model.Pool{"mean_pooled": model.PoolMean, "first_token": model.PoolFirst,
		"last_token": model.PoolLast, "pooler_output": model.PoolCLS}
	for key, pool := range pools {
		name, ok := tensors[key]
		if !ok {
			continue
		}
		pd, err := pass.Pool(pool)
		if err != nil {
			t.Fatalf("%s %s: %v", what, key, err)
		}
		if d := testmodels.MaxAbsDiff(pd.Values, testmodels.Tensor(t, st, name)); d > tol {
			t.Errorf("%s: %s differs by %g", what, key, d)
		}
	}
}
