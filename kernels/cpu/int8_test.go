package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// quantRef is q8_quant's definition, in float64: the row's range widened
// to hold 0, spread over 0..255.
func quantRef(x []float32) (q []uint8, sx float32, zp int32) {
	lo, hi := float32(0), float32(0)
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	sx = (hi - lo) / 255
	if !(sx >= 0x1p-126) { // below float32's least normal number 1/sx would overflow
		sx = 1
	}
	inv := 1 / sx
	zp = int32(math.Round(float64(-lo * inv)))
	q = make([]uint8, len(x))
	for i, v := range x {
		f := math.RoundToEven(float64(v*inv)) + float64(zp)
		q[i] = uint8(max(0, min(255, f)))
	}
	return q, sx, zp
}

// TestQ8Kernels checks int8's activation quantisation and epilogue in every
// kernel table this CPU runs (they run only on AVX-512 in production, but
// are compiled for all three): quantisation exactly against its definition,
// and the epilogue against float64 for every activation, with and without
// bias, on rows narrower than y's stride and n not a multiple of 16.
func TestQ8Kernels(t *testing.T) {
	best, err := isaLevel("")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(21, 21))
	for level := 0; level <= best; level++ {
		k := kernFor(level)
		t.Run(k.isa(), func(t *testing.T) {
			for _, cols := range []int{1, 15, 16, 37, 384} {
				rows := 5
				x := randVec(r, rows*cols, 2)
				for i := range cols { // a row ≥ 0, a row of zeros, a row ≤ 0, a row of denormals
					x[i] = float32(math.Abs(float64(x[i])))
					x[cols+i] = 0
					x[2*cols+i] = -float32(math.Abs(float64(x[2*cols+i])))
					x[3*cols+i] = x[3*cols+i] * 1e-40
				}
				xq, sx, zp := make([]uint8, rows*cols), make([]float32, rows), make([]int32, rows)
				k.q8Quant(xq, sx, zp, x, rows, cols)
				for row := range rows {
					q, s, z := quantRef(x[row*cols : (row+1)*cols])
					if sx[row] != s || zp[row] != z {
						t.Fatalf("cols %d row %d: scale %v zero %d, want %v %d", cols, row, sx[row], zp[row], s, z)
					}
					for i := range q {
						if xq[row*cols+i] != q[i] {
							t.Fatalf("cols %d row %d: q[%d] = %d, want %d (x %v)", cols, row, i, xq[row*cols+i], q[i], x[row*cols+i])
						}
						// Dequantised, every value is within half a step.
						if d := math.Abs(float64(s)*float64(int32(q[i])-z) - float64(x[row*cols+i])); d > 0.5001*float64(s) {
							t.Fatalf("cols %d row %d: x[%d] = %v comes back off by %g (step %g)", cols, row, i, x[row*cols+i], d, s)
						}
					}
				}
			}
			// A row with an infinity gives NaN scales, not garbage.
			inf := []float32{1, float32(math.Inf(1)), 2}
			xq, sx, zp := make([]uint8, 3), make([]float32, 1), make([]int32, 1)
			k.q8Quant(xq, sx, zp, inf, 1, 3)
			if !math.IsNaN(float64(sx[0])) {
				t.Errorf("row with +Inf: scale %v, want NaN", sx[0])
			}

			for _, n := range []int{1, 16, 23, 64} {
				rows, ldy := 3, n+5
				acc, colsum := make([]int32, rows*n), make([]int32, n)
				sw, bias := randVec(r, n, 0.01), randVec(r, n, 1)
				for i := range acc {
					acc[i] = int32(r.IntN(200001) - 100000)
				}
				for j := range colsum {
					colsum[j] = int32(r.IntN(2001) - 1000)
				}
				sx, zp := randVec(r, rows, 0.001), []int32{0, 17, 255}
				for _, act := range []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU} {
					for _, withBias := range []bool{false, true} {
						y := randVec(r, rows*ldy, 1)
						old := append([]float32(nil), y...)
						b := bias
						if !withBias {
							b = nil
						}
						k.q8Out(y, ldy, acc, rows, n, sx, zp, sw, colsum, b, int(act))
						for row := range rows {
							for j := range ldy {
								got := y[row*ldy+j]
								if j >= n {
									if got != old[row*ldy+j] {
										t.Fatalf("n %d: wrote y[%d,%d] past n", n, row, j)
									}
									continue
								}
								v := float64(sx[row]) * float64(sw[j]) * float64(acc[row*n+j]-zp[row]*colsum[j])
								if withBias {
									v += float64(bias[j])
								}
								want := refAct64(act, v)
								if d := math.Abs(float64(got) - want); !(d <= 1e-5*(1+math.Abs(v))) {
									t.Fatalf("n %d act %v bias %v: y[%d,%d] = %v, want %v", n, act, withBias, row, j, got, want)
								}
							}
						}
					}
				}
			}
		})
	}
}

// int8Bound is the worst error of x·w when both are quantised as cpu:int8
// does (x per row over 0..255, W per column to ±127), each value off by at
// most half a step: Σ_p |x_p|·sw/2 + |w_p|·sx/2 + sx·sw/4.
func int8Bound(x []float32, m, n, k int, w []float32, layout kernels.Layout) []float64 {
	sw := make([]float64, n)
	for j := range n {
		for p := range k {
			wv := w[j*k+p]
			if layout == kernels.InOut {
				wv = w[p*n+j]
			}
			sw[j] = math.Max(sw[j], math.Abs(float64(wv))/127)
		}
	}
	bound := make([]float64, m*n)
	for i := range m {
		_, sx, _ := quantRef(x[i*k : (i+1)*k])
		for j := range n {
			var b float64
			for p := range k {
				wv := w[j*k+p]
				if layout == kernels.InOut {
					wv = w[p*n+j]
				}
				b += math.Abs(float64(x[i*k+p]))*sw[j]/2 + (math.Abs(float64(wv))+sw[j]/2)*float64(sx)/2
			}
			bound[i*n+j] = b
		}
	}
	return bound
}

// TestOneDNNInt8Linear checks cpu:int8's Linear against float64 within the
// error quantisation allows (int8Bound, times 1.13 for GELU's slope), for
// every activation, both layouts and odd shapes; a product of more rows
// than one piece (q8Elems) runs in pieces with a shorter last one.
func TestOneDNNInt8Linear(t *testing.T) {
	be := oneDNNBackend(t, "int8")
	if be.Precision() != "int8" || !strings.Contains(be.Name(), "int8") {
		t.Fatalf("backend %s, precision %s", be.Name(), be.Precision())
	}
	r := rand.New(rand.NewPCG(22, 22))
	type size struct{ m, n, k int }
	sizes := []size{{1, 1, 1}, {9, 7, 5}, {37, 24, 33}, {3, 384, 384}, {130, 96, 200}, {q8Elems/384 + 70, 384, 48}}
	for _, sz := range sizes {
		for _, layout := range []kernels.Layout{kernels.OutIn, kernels.InOut} {
			for _, act := range []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU} {
				m, n, k := sz.m, sz.n, sz.k
				x, w, bias := randVec(r, m*k, 1), randVec(r, n*k, 1/math.Sqrt(float64(k))), randVec(r, n, 1)
				for i := range x[:k] { // a row of GELU-like values: the zero point matters
					x[i] = float32(math.Abs(float64(x[i]))) - 0.17
				}
				want, mag := linearRef(x, m, n, k, w, layout, bias, act)
				bound := int8Bound(x, m, n, k, w, layout)
				what := fmt.Sprintf("int8 Linear(%dx%dx%d layout=%d act=%v)", m, n, k, layout, act)
				for call := range 2 {
					y := make([]float32, m*n)
					be.Linear(be.Upload(y), n, be.Upload(x), m, n, k, be.Upload(w), layout, be.Upload(bias), act)
					bad := 0
					for i := range y {
						lim := 1.13*bound[i] + 1e-5*mag[i] + 1e-6
						if d := math.Abs(float64(y[i]) - want[i]); !(d <= lim) && bad < 3 {
							bad++
							t.Errorf("%s call %d: y[%d] = %v, want %v (|diff| %.3g > %.3g)", what, call, i, y[i], want[i], d, lim)
						}
					}
				}
				if pw := be.dnn.weights[plain(w).key(layout == kernels.InOut)]; pw == nil || pw.c == nil || precision(pw.c.prec) != precInt8 {
					t.Fatalf("%s: weights not packed in int8", what)
				}
			}
		}
	}
	// Every shape ran on oneDNN's int8 kernels, none was left to fp32.
	for key, p := range be.dnn.prims {
		if !q8Kernel(p) {
			t.Errorf("int8 product %d×%d×%d: implementation %q", key.m, key.n, key.k, p.impl)
		}
	}
}

// TestInt8RowsIndependent checks that a row's int8 result does not depend on
// the rows beside it: each row is quantised on its own and the sums are
// exact integers, so a row alone, in a batch, or in a batch across a piece
// boundary comes out bit for bit the same.
func TestInt8RowsIndependent(t *testing.T) {
	be := oneDNNBackend(t, "int8")
	r := rand.New(rand.NewPCG(23, 23))
	n, k := 384, 96
	m := q8Elems/n + 9
	x, w, bias := randVec(r, m*k, 1), randVec(r, n*k, 0.1), randVec(r, n, 1)
	for i := range k { // rows of very different ranges
		x[3*k+i] *= 1000
		x[5*k+i] *= 1e-3
	}
	all := make([]float32, m*n)
	be.Linear(be.Upload(all), n, be.Upload(x), m, n, k, be.Upload(w), kernels.OutIn, be.Upload(bias), kernels.ActGELU)
	for _, i := range []int{0, 3, 5, q8Elems/n - 1, q8Elems / n, m - 1} {
		one := make([]float32, n)
		be.Linear(be.Upload(one), n, be.Upload(x[i*k:(i+1)*k]), 1, n, k, be.Upload(w), kernels.OutIn, be.Upload(bias), kernels.ActGELU)
		for j := range one {
			if one[j] != all[i*n+j] {
				t.Fatalf("row %d column %d: %v alone, %v in a batch of %d", i, j, one[j], all[i*n+j], m)
			}
		}
	}
}

// TestInt8NaNWeights checks that a NaN in a weight makes its column's
// outputs NaN, as in fp32, and leaves the other columns alone.
func TestInt8NaNWeights(t *testing.T) {
	be := oneDNNBackend(t, "int8")
	r := rand.New(rand.NewPCG(25, 25))
	m, n, k := 4, 8, 32
	w, x := randVec(r, n*k, 0.2), randVec(r, m*k, 1)
	w[3*k+5] = float32(math.NaN()) // column 3 of the [n,k] weight
	y := make([]float32, m*n)
	be.Linear(be.Upload(y), n, be.Upload(x), m, n, k, be.Upload(w), kernels.OutIn, nil, kernels.ActNone)
	for i := range m {
		for j := range n {
			if nan := math.IsNaN(float64(y[i*n+j])); nan != (j == 3) {
				t.Errorf("y[%d,%d] = %v", i, j, y[i*n+j])
			}
		}
	}
}

// TestInt8PrimitiveCacheFlush runs a product in two pieces when making the
// second piece's primitive empties the primitive cache (and frees the first
// piece's): the result is the same as with the cache intact.
func TestInt8PrimitiveCacheFlush(t *testing.T) {
	be := oneDNNBackend(t, "int8")
	r := rand.New(rand.NewPCG(26, 26))
	n, k := 384, 32
	m := q8Elems/n + 5 // a full piece and a last one of 5 rows
	w, x := randVec(r, n*k, 0.2), randVec(r, m*k, 1)
	want := make([]float32, m*n)
	be.Linear(be.Upload(want), n, be.Upload(x), m, n, k, be.Upload(w), kernels.OutIn, nil, kernels.ActNone)
	be.dnn.mu.Lock()
	delete(be.dnn.prims, primKey{n: n, k: k, m: m % (q8Elems / n), ldy: n})
	for i := 0; len(be.dnn.prims) < maxPrims; i++ { // full, the first piece's primitive still in it
		be.dnn.prims[primKey{n: -1, m: i}] = &prim{}
	}
	be.dnn.mu.Unlock()
	got := make([]float32, m*n)
	be.Linear(be.Upload(got), n, be.Upload(x), m, n, k, be.Upload(w), kernels.OutIn, nil, kernels.ActNone)
	if len(be.dnn.prims) != 1 {
		t.Fatalf("%d primitives cached: the cache was not emptied", len(be.dnn.prims))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("y[%d] = %v after the cache was emptied, %v before", i, got[i], want[i])
		}
	}
}

// TestInt8InputGrad checks that training's input gradient on cpu:int8 goes
// through the fp32 weights (it is not quantised): dx = dy·W as exact as fp32.
func TestInt8InputGrad(t *testing.T) {
	be := oneDNNBackend(t, "int8")
	r := rand.New(rand.NewPCG(24, 24))
	m, in, out := 20, 48, 40
	w, x := randVec(r, out*in, 0.2), randVec(r, m*in, 1)
	y := make([]float32, m*out)
	be.Linear(be.Upload(y), out, be.Upload(x), m, out, in, be.Upload(w), kernels.OutIn, nil, kernels.ActNone) // packs W
	dy := randVec(r, m*out, 1)
	dx := make([]float32, m*in)
	be.Gemm(false, false, m, in, out, 1, be.Upload(dy), out, be.Upload(w), in, 0, be.Upload(dx), in)
	for i := range m {
		for j := range in {
			var s, sa float64
			for p := range out {
				v := float64(dy[i*out+p]) * float64(w[p*in+j])
				s += v
				sa += math.Abs(v)
			}
			if d := math.Abs(float64(dx[i*in+j]) - s); d > 1e-5*sa+1e-6 {
				t.Fatalf("dx[%d,%d] = %v, want %v: not fp32", i, j, dx[i*in+j], s)
			}
		}
	}
}

// TestInt8Refused checks the error on CPUs without AVX512_VNNI.
func TestInt8Refused(t *testing.T) {
	if hasInt8() {
		t.Skip("this CPU has AVX512_VNNI")
	}
	_, err := New(zerolog.Nop(), Options{Precision: "int8"})
	if err == nil || !strings.Contains(err.Error(), "int8") {
		t.Errorf("err = %v, want one about int8", err)
	}
}
