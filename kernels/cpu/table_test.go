package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/adapterdb/adapterdb/kernels"
)

// bf16Of is v rounded to the nearest bfloat16 (ties to even), as a float32:
// an independent reference for the table's rounding (NaN stays NaN).
func bf16Of(v float32) float32 {
	if v != v {
		return v
	}
	u := math.Float32bits(v)
	u += 0x7fff + (u>>16)&1
	return math.Float32frombits(u &^ 0xffff)
}

// TestEmbedTable: in cpu:bf16 and cpu:int8 the embedding table is kept in
// bfloat16, and Embed gathers each row rounded to the nearest bfloat16,
// exactly, writing or adding; fp32 keeps the table as it is.
func TestEmbedTable(t *testing.T) {
	const rows, cols = 50, 40
	r := rand.New(rand.NewPCG(4, 4))
	src := randVec(r, rows*cols, 3)
	src[7] = float32(math.Inf(-1))
	src[8] = 1e-40 // a subnormal
	src[9] = float32(math.NaN())
	src[10] = math.MaxFloat32 // rounds up to +Inf
	ids := []int32{0, 49, 3, 3, 17}

	fp := newBackend(t, Options{})
	if tb, ok := fp.Table(fp.Upload(src), cols).(buffer); !ok || &tb[0] != &src[0] {
		t.Fatal("fp32: Table changed the table")
	}
	for _, prec := range []string{"bf16", "int8"} {
		t.Run(prec, func(t *testing.T) {
			be := oneDNNBackend(t, prec)
			tab := be.Table(be.Upload(append([]float32(nil), src...)), cols)
			if _, ok := tab.(*table); !ok || tab.Len() != rows*cols {
				t.Fatalf("Table gave %T of %d values", tab, tab.Len())
			}
			base := randVec(r, len(ids)*cols, 1)
			for _, add := range []bool{false, true} {
				y := append([]float32(nil), base...)
				be.Embed(be.Upload(y), tab, ids, cols, add)
				for i, id := range ids {
					for j := 0; j < cols; j++ {
						want := bf16Of(src[int(id)*cols+j])
						if add {
							want += base[i*cols+j]
						}
						if got := y[i*cols+j]; got != want && !(got != got && want != want) {
							t.Fatalf("add=%v: y[%d][%d] = %g, want %g", add, i, j, got, want)
						}
					}
				}
			}
			mustPanic(t, "an id past the table", func() { be.Embed(be.Alloc(cols), tab, []int32{rows}, cols, false) })
			mustPanic(t, "other columns", func() { be.Embed(be.Alloc(2*cols), tab, []int32{0}, 2*cols, false) })
			mustPanic(t, "a table read as a buffer", func() { data(tab) })
			be.Free(tab)
		})
	}
}

// mustPanic fails the test when f returns normally.
func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

var _ kernels.Buffer = (*table)(nil)
