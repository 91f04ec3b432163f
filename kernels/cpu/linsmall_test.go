package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// TestLinSmall checks the kernel of the adapters' few-row products against
// float64 in every kernel table: rows that are and are not multiples of the
// vector width, odd n and k, every activation, accumulation, a range of the
// outputs, and the rows and columns outside them left alone.
func TestLinSmall(t *testing.T) {
	best, err := isaLevel("")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for level := 0; level <= best; level++ {
		k := kernFor(level)
		t.Run(k.isa(), func(t *testing.T) {
			for _, c := range []struct{ m, n, kk, j0, j1 int }{
				{2, 64, 384, 0, 64}, {16, 384, 64, 0, 384}, {17, 37, 29, 0, 37}, {33, 50, 7, 16, 41},
				{64, 64, 384, 0, 64}, {1, 5, 3, 0, 5}, {100, 19, 40, 3, 19}, {128, 16, 16, 0, 16},
			} {
				for _, act := range []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU} {
					for _, acc := range []bool{false, true} {
						if acc && act != kernels.ActNone {
							continue // SegLinear accumulates only without activation
						}
						x, w, bias := randVec(r, c.m*c.kk, 1), randVec(r, c.n*c.kk, 0.5), randVec(r, c.n, 1)
						if c.n == 37 {
							bias = nil
						}
						const ldy = 3 // padding columns after n: must stay as they were
						y := randVec(r, c.m*(c.n+ldy), 1)
						y0 := append([]float32(nil), y...)
						k.linSmall(y, c.n+ldy, x, c.kk, c.m, c.n, c.kk, w, bias, int(act), acc, c.j0, c.j1)
						want, mag := linearRef(x, c.m, c.n, c.kk, w, kernels.OutIn, bias, act)
						for i := range c.m {
							for j := range c.n + ldy {
								got, at := float64(y[i*(c.n+ldy)+j]), i*(c.n+ldy)+j
								if j < c.j0 || j >= c.j1 {
									if y[at] != y0[at] {
										t.Fatalf("%+v act %d: y[%d,%d] outside the outputs changed", c, act, i, j)
									}
									continue
								}
								ref := want[i*c.n+j]
								if acc {
									ref += float64(y0[at])
								}
								if d := math.Abs(got - ref); !(d <= 1e-5*(mag[i*c.n+j]+1)) {
									t.Fatalf("%+v act %d acc %v: y[%d,%d] = %g, want %g", c, act, acc, i, j, got, ref)
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestSegLinearSmallRows: SegLinear's few-row segments (lin_small) and its
// one-row and many-row ones (be.linear) agree with float64, segments
// without weights left alone.
func TestSegLinearSmallRows(t *testing.T) {
	be, err := New(zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	const n, k = 48, 40
	rows := []int{1, 16, 0, 3, 70, 64}
	segs := make([]kernels.LinearSeg, len(rows))
	ws := make([][]float32, len(rows))
	M := 0
	for i, n0 := range rows {
		segs[i].Rows = n0
		M += n0
		if i != 3 {
			ws[i] = randVec(r, n*k, 0.5)
			segs[i].W, segs[i].Bias = be.Upload(ws[i]), be.Upload(randVec(r, n, 1))
		}
	}
	x := randVec(r, M*k, 1)
	y0 := randVec(r, M*n, 1)
	y := be.Upload(append([]float32(nil), y0...))
	be.SegLinear(y, be.Upload(x), n, k, segs, kernels.ActNone, true)
	got := data(y)
	off := 0
	for i, rs := range rows {
		if ws[i] != nil {
			want, mag := linearRef(x[off*k:(off+rs)*k], rs, n, k, ws[i], kernels.OutIn, data(segs[i].Bias), kernels.ActNone)
			for p := range want {
				if d := math.Abs(float64(got[off*n+p]) - float64(y0[off*n+p]) - want[p]); d > 1e-5*(mag[p]+1) {
					t.Fatalf("segment %d (%d rows): value %d off by %g", i, rs, p, d)
				}
			}
		} else {
			for p := off * n; p < (off+rs)*n; p++ {
				if got[p] != y0[p] {
					t.Fatalf("segment %d without weights: value %d changed", i, p)
				}
			}
		}
		off += rs
	}
}

// BenchmarkAdapterBlock is one adapter block of MiniLM-L6 (384 → 64 → 384,
// ReLU, added to its input) through SegLinear at the row counts of short
// single-row PREDICTs and kept rows, on the calling (locked) thread as the
// scheduler runs it: lin_small up to linSmallRows rows, oneDNN or OpenBLAS
// past it and for "linear" (be.linear, what ran before lin_small).
//
//	go test ./kernels/cpu -run '^$' -bench AdapterBlock -benchtime 2000x
func BenchmarkAdapterBlock(b *testing.B) {
	be, err := New(zerolog.Nop(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const H, m = 384, 64
	for _, M := range []int{1, 2, 4, 5, 8, 16, 32, 64, 128} {
		for _, path := range []string{"seglinear", "linear"} {
			b.Run(fmt.Sprintf("rows=%d/%s", M, path), func(b *testing.B) {
				z, d := randBuf(be, M*H, 1), be.Alloc(M*m)
				down := []kernels.LinearSeg{{Rows: M, W: randBuf(be, m*H, 2), Bias: randBuf(be, m, 3)}}
				up := []kernels.LinearSeg{{Rows: M, W: randBuf(be, m*H, 4), Bias: randBuf(be, H, 5)}}
				for b.Loop() {
					if path == "seglinear" {
						be.SegLinear(d, z, m, H, down, kernels.ActReLU, false)
						be.SegLinear(z, d, H, m, up, kernels.ActNone, true)
						continue
					}
					be.linear(data(d), m, data(z), M, m, H, data(down[0].W), true, H, data(down[0].Bias), kernels.ActReLU, false)
					be.linear(data(z), H, data(d), M, H, m, data(up[0].W), true, m, data(up[0].Bias), kernels.ActNone, true)
				}
				reportRate(b, 4*float64(M*H*m), 0, 0)
			})
		}
	}
}
