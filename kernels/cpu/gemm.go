package cpu

import (
	"fmt"

	"gonum.org/v1/gonum/blas"

	"github.com/adapterdb/adapterdb/kernels"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C.
func (be *Backend) Gemm(tA, tB bool, m, n, k int, alpha float32, a kernels.Buffer, lda int, b kernels.Buffer, ldb int,
	beta float32, c kernels.Buffer, ldc int) {
	if s, ok := b.(*stack); ok {
		be.gemmStack(tA, tB, m, n, k, alpha, a, lda, s, ldb, beta, c, ldc)
		return
	}
	na, nb, nc, err := kernels.GemmSpans(tA, tB, m, n, k, lda, ldb, ldc)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	as := need(a, na, "gemm A")
	bs := need(b, nb, "gemm B")
	cs := need(c, nc, "gemm C")
	if be.dnn != nil && be.gemmFrozen(tA, tB, m, n, k, alpha, as, lda, plain(bs), ldb, beta, cs, ldc) {
		return
	}
	be.gemm(tA, tB, m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc)
}

// gemm runs a checked GEMM on OpenBLAS or gonum.
func (be *Backend) gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		be.scale(c, m, n, ldc, beta)
		return
	}
	if be.dnn != nil && alpha == 1 && (beta == 0 || beta == 1) &&
		be.dnn.gemm(gemmKey{m: m, n: n, k: k, tA: tA, tB: tB, lda: lda, ldb: ldb, ldc: ldc, acc: beta == 1}, a, b, nil, c) {
		return
	}
	if be.blas != nil && fitsBLASInt(m, n, k, lda, ldb, ldc) {
		be.blas.gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	be.gonum.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scale sets C = beta·C (BLAS semantics: beta = 0 clears, even NaNs).
func (be *Backend) scale(c []float32, m, n, ldc int, beta float32) {
	if beta == 1 {
		return
	}
	for r := range m {
		row := c[r*ldc : r*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

func checkAct(act kernels.Act) {
	if act > kernels.ActReLU {
		panic(fmt.Sprintf("cpu: unknown activation %d", act))
	}
}

// rowGrain is the fewest rows of n values worth a goroutine of their own.
func rowGrain(n int) int { return max(1, elemGrain/max(n, 1)) }

// Linear computes y = act(x·W + bias), W as layout says.
func (be *Backend) Linear(y kernels.Buffer, ldy int, x kernels.Buffer, m, n, k int, w kernels.Buffer, layout kernels.Layout,
	bias kernels.Buffer, act kernels.Act) {
	if m < 0 || n < 0 || k < 0 || ldy < max(1, n) {
		panic(fmt.Sprintf("cpu: linear of size %d×%d×%d with ldy %d", m, n, k, ldy))
	}
	checkAct(act)
	ys := need(y, kernels.Span(m, n, ldy), "linear y")
	xs := need(x, m*k, "linear x")
	var bs []float32
	if bias != nil {
		bs = need(bias, n, "linear bias")
	}
	if s, ok := w.(*stack); ok {
		be.linearStack(ys, ldy, xs, m, n, k, s, layout, bs, act)
		return
	}
	ws := need(w, n*k, "linear W")
	tB, ldw := true, k
	if layout == kernels.InOut {
		tB, ldw = false, n
	}
	if be.dnn != nil && be.linearDNN(ys, ldy, xs, m, n, k, plain(ws), !tB, bs, act) {
		return
	}
	be.linear(ys, ldy, xs, m, n, k, ws, tB, ldw, bs, act, false)
}

// linear is y (+)= act(x·op(W) + bias) on checked slices.
func (be *Backend) linear(y []float32, ldy int, x []float32, m, n, k int, w []float32, tB bool, ldw int,
	bias []float32, act kernels.Act, accumulate bool) {
	if m == 0 || n == 0 {
		return
	}
	// oneDNN fuses the bias, the activation and the accumulation.
	if be.dnn != nil && be.dnn.gemm(gemmKey{m: m, n: n, k: k, tB: tB, lda: k, ldb: ldw, ldc: ldy, bias: bias != nil,
		acc: accumulate, act: act}, x, w, bias, y) {
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	post := act != kernels.ActNone
	if bias != nil {
		switch {
		case accumulate:
			// y += bias first; the GEMM then accumulates onto it.
			be.parallel(m, rowGrain(n), 1, func(lo, hi int) {
				be.k.biasAct(y[lo*ldy:], ldy, hi-lo, n, bias, int(kernels.ActNone))
			})
		case !post:
			// Prefill the bias and accumulate: no extra pass, since BLAS
			// would otherwise clear C for beta = 0.
			be.parallel(m, rowGrain(n), 1, func(lo, hi int) {
				be.k.biasFill(y[lo*ldy:], ldy, hi-lo, n, bias)
			})
			beta = 1
		}
	}
	be.gemm(false, tB, m, n, k, 1, x, k, w, ldw, beta, y, ldy)
	if post {
		b := bias
		if accumulate {
			b = nil
		}
		be.parallel(m, rowGrain(n), 1, func(lo, hi int) {
			be.k.biasAct(y[lo*ldy:], ldy, hi-lo, n, b, int(act))
		})
	}
}

// SegLinear is Linear per segment with OutIn weights.
func (be *Backend) SegLinear(y, x kernels.Buffer, n, k int, segs []kernels.LinearSeg, act kernels.Act, accumulate bool) {
	checkAct(act)
	if accumulate && act != kernels.ActNone {
		panic("cpu: SegLinear accumulates only without activation")
	}
	rows := 0
	for _, s := range segs {
		if s.Rows < 0 {
			panic(fmt.Sprintf("cpu: segment of %d rows", s.Rows))
		}
		rows += s.Rows
	}
	ys := need(y, rows*n, "seglinear y")
	xs := need(x, rows*k, "seglinear x")
	off := 0
	for _, s := range segs {
		r := s.Rows
		if s.W != nil && r > 0 {
			ws := need(s.W, n*k, "seglinear W")
			var bs []float32
			if s.Bias != nil {
				bs = need(s.Bias, n, "seglinear bias")
			}
			be.linear(ys[off*n:(off+r)*n], n, xs[off*k:(off+r)*k], r, n, k, ws, true, k, bs, act, accumulate)
		}
		off += r
	}
}

// SegLinearBackward: dx (+)= dy·W, DW += dyᵀ·x, DBias += Σ_rows dy per
// segment. A segment without W does not depend on x: its dx rows are cleared
// (left alone when accumulating).
func (be *Backend) SegLinearBackward(dx, dy, x kernels.Buffer, n, k int, segs []kernels.LinearGrad, accumulate bool) {
	rows := 0
	for _, s := range segs {
		if s.Rows < 0 {
			panic(fmt.Sprintf("cpu: segment of %d rows", s.Rows))
		}
		rows += s.Rows
	}
	dys := need(dy, rows*n, "seglinear backward dy")
	xs := need(x, rows*k, "seglinear backward x")
	var dxs []float32
	if dx != nil {
		dxs = need(dx, rows*k, "seglinear backward dx")
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	off := 0
	for _, s := range segs {
		r := s.Rows
		if r == 0 {
			continue
		}
		d, xr := dys[off*n:(off+r)*n], xs[off*k:(off+r)*k]
		if dxs != nil {
			out := dxs[off*k : (off+r)*k]
			if s.W != nil {
				be.gemm(false, false, r, k, n, 1, d, n, need(s.W, n*k, "seglinear backward W"), k, beta, out, k)
			} else if !accumulate {
				clear(out)
			}
		}
		if s.DW != nil {
			be.gemm(true, false, n, k, r, 1, d, n, xr, k, 1, need(s.DW, n*k, "seglinear backward DW"), k)
		}
		if s.DBias != nil {
			be.colSum(need(s.DBias, n, "seglinear backward DBias"), d, r, n)
		}
		off += r
	}
}

// colSum adds the column sums of y [rows, n] to out, with partial sums per
// goroutine.
func (be *Backend) colSum(out, y []float32, rows, n int) {
	chunks := min(be.threads, max(1, rows*n/elemGrain)) // the helpers' grain on the team too: the same sums
	if chunks <= 1 {
		be.k.colSum(out, y, rows, n)
		return
	}
	part := make([]float32, chunks*n)
	if nt := be.teamSize(chunks, 1); nt > 0 {
		be.k.colSumTeam(be.omp(), nt, part, chunks, y, rows, n)
	} else {
		be.parallel(chunks, 1, 1, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				r0, r1 := rows*c/chunks, rows*(c+1)/chunks
				be.k.colSum(part[c*n:(c+1)*n], y[r0*n:r1*n], r1-r0, n)
			}
		})
	}
	for c := range chunks {
		be.k.add(out, out, part[c*n:(c+1)*n], n)
	}
}

// linearDNN runs Linear on oneDNN and reports whether it did. oneDNN's fast
// matmul writes only dense rows: a y narrower than its leading dimension is
// left to the other paths (the model's products all write dense rows; q, k
// and v are one stacked product).
func (be *Backend) linearDNN(y []float32, ldy int, x []float32, m, n, k int, w weight, inOut bool,
	bias []float32, act kernels.Act) bool {
	return ldy == n && be.dnn.linear(y, ldy, x, m, n, k, w, inOut, bias, act)
}

// gemmFrozen runs C (+)= A·op(B) on oneDNN when B is a weight matrix Linear
// packed (the training's input gradients dx = dy·W go through Gemm), with
// dense operands, and reports whether it did.
func (be *Backend) gemmFrozen(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b weight, ldb int,
	beta float32, c []float32, ldc int) bool {
	ldbDense := n
	if tB {
		ldbDense = k
	}
	if tA || alpha != 1 || (beta != 0 && beta != 1) || lda != k || ldb != ldbDense || ldc != n || m == 0 || n == 0 || k == 0 {
		return false
	}
	// The forward pass packed B as Linear's weight: [n, k] (OutIn) when the
	// product transposes it, [k, n] (InOut) when not.
	return be.dnn.inputGrad(c, m, n, k, a, b, tB, beta == 1)
}
