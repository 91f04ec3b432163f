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
func TestBF16Fidelity(t *testing.T) { testFidelity(t, "bf16", 0.2, 0.999) }

// TestInt8Fidelity is TestBF16Fidelity on cpu:int8 (weights int8 per
// column, activations uint8 per row, int32 sums on AVX512_VNNI).
func TestInt8Fidelity(t *testing.T) { testFidelity(t, "int8", 0.5, 0.995) }

// testFidelity runs the forward goldens on the cpu backend at precision:
// the hidden states may differ from the reference by at most maxDiff (and
// by more than the fp32 tolerance: the precision is in use), the
// mean-pooled vectors keep a cosine of at least minCosine.
func testFidelity(t *testing.T, precision string, maxDiff, minCosine float64) {
	be, err := cpu.New(zerolog.Nop(), cpu.Options{Precision: precision})
	if err != nil {
		t.Skipf("no %s on this machine: %v", precision, err)
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
			t.Logf("%s %s: hidden states max |diff| %.3g (fp32 tolerance %.3g), mean-pooled cosine ≥ %.6f over %d texts",
				name, precision, worst, g.Tolerance.MaxAbsDiff, minCos, len(cases))
			if worst > maxDiff {
				t.Errorf("hidden states differ by %g from the reference, more than %g", worst, maxDiff)
			}
			if worst <= g.Tolerance.MaxAbsDiff/10 {
				t.Errorf("hidden states differ by only %g: is %s in use?", worst, precision)
			}
			if minCos < minCosine {
				t.Errorf("pooled cosine %.6f < %g", minCos, minCosine)
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
