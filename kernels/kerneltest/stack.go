package kerneltest

import (
	"fmt"
	"math"

	"github.com/adapterdb/adapterdb/kernels"
)

// testStack checks a stacked weight against the matrix it stands for: Linear
// (q | k | v as one product: dense, twice so that a backend's cached packing
// is used too, then into a strided y) and Gemm with it as B, both ways round (the
// input gradient dx = dy·W, and y = x·Wᵀ), A stored either way.
func testStack(e *env) {
	type size struct{ m, n, k, parts int }
	for _, sz := range []size{{1, 1, 1, 1}, {9, 7, 5, 3}, {37, 24, 33, 3}, {70, 19, 64, 2}, {16, 32, 48, 4}} {
		for _, act := range []kernels.Act{kernels.ActNone, kernels.ActGELU} {
			for _, withBias := range []bool{false, true} {
				e.stackCase(sz.m, sz.n, sz.k, sz.parts, act, withBias)
			}
		}
	}
}

func (e *env) stackCase(m, n, k, parts int, act kernels.Act, withBias bool) {
	e.t.Helper()
	N := parts * n
	what := fmt.Sprintf("Stack(%d×[%d,%d]) m=%d act=%v bias=%v", parts, n, k, m, act, withBias)
	flat := make([]float32, 0, N*k)
	bufs := make([]kernels.Buffer, parts)
	for j := range parts {
		w := e.uniform(n*k, -0.5, 0.5)
		flat = append(flat, w...)
		if j%2 == 0 {
			bufs[j] = e.be.Upload(append([]float32(nil), w...)) // a whole upload, as a checkpoint's
		} else {
			bufs[j] = e.put(w).view // a view into a larger buffer
		}
	}
	st := e.be.Stack(bufs, n, k)
	defer e.be.Free(st)
	if st.Len() != N*k {
		e.t.Fatalf("%s: Len %d, want %d", what, st.Len(), N*k)
	}
	var bias []float32
	var bv kernels.Buffer
	if withBias {
		bias = e.randn(N)
		bv = e.put(bias).view
	}
	tol := 4e-6 * math.Sqrt(float64(k+1))

	// Linear into y [m, N] twice (a backend packing the stack packs it once),
	// then into columns [2, 2+N) of a wider y.
	for call := range 3 {
		ldy, col := N, 0
		if call == 2 {
			ldy, col = N+3, 2
		}
		yAll := e.randn(m * ldy)
		x := e.randn(m * k)
		want, mag := refLinear(yAll[col:], ldy, x, m, N, k, flat, kernels.OutIn, bias, act, false)
		py, px := e.put(yAll), e.put(x)
		e.be.Linear(e.be.View(py.view, col, len(yAll)-col), ldy, px.view, m, N, k, st, kernels.OutIn, bv, act)
		got := e.get(py)
		lw := fmt.Sprintf("%s Linear call %d", what, call)
		e.near(lw, got[col:], want, mag, tol, 2e-6)
		for i := 0; i < col; i++ {
			if got[i] != yAll[i] {
				e.t.Errorf("%s: changed y[%d] before its columns", lw, i)
				break
			}
		}
		e.guarded(lw, py)
	}

	// Gemm: C[m, k] = alpha·op(A)[m, N]·W + beta·C, and C[m, N] = op(A)[m, k]·Wᵀ.
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, -0.75}} {
				gn, gk := k, N
				if tB {
					gn, gk = N, k
				}
				ar, ac := m, gk // A as stored
				if tA {
					ar, ac = gk, m
				}
				lda, ldc := ac, gn // dense, as the backward pass's (a backend may route those differently)
				if ab[0] != 1 {
					lda, ldc = ac+1, gn+2
				}
				a, c := e.randn(ar*lda), e.randn(m*ldc)
				want, mag := refGemm(tA, tB, m, gn, gk, ab[0], a, lda, flat, k, ab[1], c, ldc)
				pa, pc := e.put(a), e.put(c)
				e.be.Gemm(tA, tB, m, gn, gk, ab[0], pa.view, lda, st, k, ab[1], pc.view, ldc)
				got := e.get(pc)
				for i := range got {
					if i%ldc >= gn {
						got[i], want[i], mag[i] = 0, 0, 0
					}
				}
				gw := fmt.Sprintf("%s Gemm(tA=%v tB=%v alpha=%v beta=%v)", what, tA, tB, ab[0], ab[1])
				e.near(gw, got, want, mag, 2e-6*math.Sqrt(float64(gk+1)), 1e-6)
				e.guarded(gw, pc)
			}
		}
	}
}
