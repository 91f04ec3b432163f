package model_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// The goldens in testdata/golden were computed by an independent float64
// PyTorch reference of Hugging Face's models (testdata/README.md).

type goldenCase struct {
	Name        string  `json:"name"`
	Text        string  `json:"text"`
	TextPair    *string `json:"text_pair"`
	InputIDs    []int32 `json:"input_ids"`
	Mask        []uint8 `json:"attention_mask"`
	TypeIDs     []int32 `json:"token_type_ids"`
	PosIDs      []int32 `json:"position_ids"`
	NumTokens   int     `json:"num_tokens"`
	Truncated   bool    `json:"truncated"`
	Untruncated int     `json:"untruncated_length"`
	Forward     bool    `json:"forward"`
	Tensors     map[string]string
}

type goldenBatch struct {
	Name      string    `json:"name"`
	CaseNames []string  `json:"case_names"`
	Padding   string    `json:"padding_side"`
	InputIDs  [][]int32 `json:"input_ids"`
	Mask      [][]uint8 `json:"attention_mask"`
	TypeIDs   [][]int32 `json:"token_type_ids"`
	PosIDs    [][]int32 `json:"position_ids"`
	Tensors   map[string]string
}

type goldenFile struct {
	ModelType string        `json:"model_type"`
	MaxLength int           `json:"max_length"`
	Cases     []goldenCase  `json:"cases"`
	Batches   []goldenBatch `json:"batches"`
	Tolerance struct {
		MaxAbsDiff float64 `json:"max_abs_diff"`
	} `json:"tolerance"`
}

func readGolden(t *testing.T, name string) (*goldenFile, *safetensors.File) {
	t.Helper()
	dir := filepath.Join(testmodels.Root(), "golden", name)
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &g, st
}

func tensor(t *testing.T, st *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := st.Float32(name)
	if err != nil {
		t.Fatalf("golden tensor %s: %v", name, err)
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func TestGoldenHiddenStates(t *testing.T) {
	testmodels.ForEachBackend(t, func(t *testing.T, be kernels.Backend) {
		for _, name := range testmodels.Names {
			t.Run(name, func(t *testing.T) {
				m := testmodels.Load(t, name, be)
				g, st := readGolden(t, name)
				tol := g.Tolerance.MaxAbsDiff
				H := m.Cfg.Hidden
				for _, c := range g.Cases {
					if !c.Forward {
						continue
					}
					b := &model.Batch{Seqs: 1, Len: len(c.InputIDs), IDs: c.InputIDs, Mask: c.Mask, PosIDs: c.PosIDs}
					if len(c.TypeIDs) > 0 {
						b.TypeIDs = c.TypeIDs
					}
					pass, err := m.Forward(context.Background(), b, false)
					if err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
					hidden := make([]float32, len(c.InputIDs)*H)
					m.Be.Download(hidden, pass.Hidden)
					if d := maxAbsDiff(hidden, tensor(t, st, c.Tensors["last_hidden_state"])); d > tol {
						t.Errorf("%s: last_hidden_state differs by %g", c.Name, d)
					}
					checkPools(t, m, pass, st, c.Tensors, c.Name, tol)
					pass.Release()
				}
				for _, gb := range g.Batches {
					B, T := len(gb.InputIDs), len(gb.InputIDs[0])
					b := &model.Batch{Seqs: B, Len: T}
					for i := 0; i < B; i++ {
						b.IDs = append(b.IDs, gb.InputIDs[i]...)
						b.Mask = append(b.Mask, gb.Mask[i]...)
						b.PosIDs = append(b.PosIDs, gb.PosIDs[i]...)
						if gb.TypeIDs != nil {
							b.TypeIDs = append(b.TypeIDs, gb.TypeIDs[i]...)
						}
					}
					pass, err := m.Forward(context.Background(), b, false)
					if err != nil {
						t.Fatalf("batch %s: %v", gb.Name, err)
					}
					hidden := make([]float32, B*T*H)
					m.Be.Download(hidden, pass.Hidden)
					want := tensor(t, st, gb.Tensors["last_hidden_state"])
					var d float64
					for i := 0; i < B*T; i++ {
						if b.Mask[i] == 0 {
							continue // padded rows are zero-filled in the golden
						}
						d = math.Max(d, maxAbsDiff(hidden[i*H:(i+1)*H], want[i*H:(i+1)*H]))
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
		if d := maxAbsDiff(pd.Values, tensor(t, st, name)); d > tol {
			t.Errorf("%s: %s differs by %g", what, key, d)
		}
	}
}
