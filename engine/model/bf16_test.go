package model_test

import (
	"context"
	"math"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// TestBF16Fidelity runs the goldens on cpu:bf16 (linear layers' weights in
// bfloat16, AVX512_BF16 products, float32 accumulation) and bounds how far
// the hidden states drift from the float64 reference, and how close the
// pooled vectors stay in direction. docs/performance.md has the table the
// logged figures fill.
func TestBF16Fidelity(t *testing.T) {
	be, err := cpu.New(zerolog.Nop(), cpu.Options{Precision: "bf16"})
	if err != nil {
		t.Skipf("no bf16 on this machine: %v", err)
	}
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			m := testmodels.Load(t, name, be)
			g, st := testmodels.ReadGolden(t, name)
			H := m.Cfg.Hidden
			var cases []testmodels.GoldenCase
			for _, c := range g.Cases {
				if c.Forward {
					cases = append(cases, c)
				}
			}
			var worst, minCos float64 = 0, 1
			for _, c := range cases {
				pass, err := m.Forward(context.Background(), c.Batch(), false)
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				hidden := make([]float32, len(c.InputIDs)*H)
				m.Be.Download(hidden, pass.Hidden)
				worst = math.Max(worst, testmodels.MaxAbsDiff(hidden, testmodels.Tensor(t, st, c.Tensors["last_hidden_state"])))
				pd, err := pass.Pool(model.PoolMean)
				if err != nil {
					t.Fatal(err)
				}
				minCos = math.Min(minCos, cosine(pd.Values, testmodels.Tensor(t, st, c.Tensors["mean_pooled"])))
				pass.Release()
			}
			t.Logf("%s bf16: hidden states max |diff| %.3g (fp32 tolerance %.3g), mean-pooled cosine ≥ %.6f over %d texts",
				name, worst, g.Tolerance.MaxAbsDiff, minCos, len(cases))
			if worst > 0.2 {
				t.Errorf("hidden states differ by %g from the reference", worst)
			}
			if worst <= g.Tolerance.MaxAbsDiff/10 {
				t.Errorf("hidden states differ by only %g: is bf16 in use?", worst)
			}
			if minCos < 0.999 {
				t.Errorf("pooled cosine %.6f < 0.999", minCos)
			}
		})
	}
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
