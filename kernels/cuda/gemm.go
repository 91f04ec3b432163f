//go:build cuda || cudaemu

package cuda

/*
#include "kargs.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/adapterdb/adapterdb/kernels"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C.
func (be *Backend) Gemm(tA, tB bool, m, n, k int, alpha float32, a kernels.Buffer, lda int, b kernels.Buffer, ldb int,
	beta float32, c kernels.Buffer, ldc int) {
	na, nb, nc, err := kernels.GemmSpans(tA, tB, m, n, k, lda, ldb, ldc)
	if err != nil {
		panic("cuda: " + err.Error())
	}
	if m == 0 || n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	ap := be.in(a, na, "gemm A")
	bp := be.in(b, nb, "gemm B")
	cp := be.out(c, nc, "gemm C")
	if k == 0 || alpha == 0 {
		// C = beta·C without reading A or B (BLAS semantics; NaNs in A or B
		// do not leak through a zero alpha).
		be.ownGemm(false, false, m, n, 0, 1, 0, 1, 0, 1, beta, cp, ldc, 0, kernels.ActNone)
		return
	}
	if be.blas != nil {
		be.blasGemm(tA, tB, m, n, k, alpha, ap, lda, bp, ldb, beta, cp, ldc)
		return
	}
	be.ownGemm(tA, tB, m, n, k, alpha, ap, lda, bp, ldb, beta, cp, ldc, 0, kernels.ActNone)
}

// Linear computes y[m,n] = act(x[m,k]·W + bias) with W stored as layout says.
func (be *Backend) Linear(y kernels.Buffer, ldy int, x kernels.Buffer, m, n, k int, w kernels.Buffer, layout kernels.Layout,
	bias kernels.Buffer, act kernels.Act) {
	if m < 0 || n < 0 || k < 0 || ldy < max(1, n) {
		panic(fmt.Sprintf("cuda: linear of size %d×%d×%d with ldy %d", m, n, k, ldy))
	}
	checkAct(act)
	if m == 0 || n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	xp := be.in(x, m*k, "linear x")
	wp := be.in(w, n*k, "linear W")
	bp := be.opt(bias, n, "linear bias")
	yp := be.out(y, kernels.Span(m, n, ldy), "linear y")
	tB, ldw := true, k
	if layout == kernels.InOut {
		tB, ldw = false, n
	}
	if be.blas == nil || k == 0 {
		be.ownGemm(false, tB, m, n, k, 1, xp, k, wp, ldw, 0, yp, ldy, bp, act)
		return
	}
	if be.ltLinear(yp, ldy, xp, m, n, k, wp, tB, ldw, bp, act) {
		return
	}
	// Without cuBLASLt, cuBLAS has no epilogue: without an activation the
	// bias is written first and the GEMM adds onto it; with one, a pass
	// after the GEMM adds the bias and applies it.
	beta := float32(0)
	if bp != 0 && act == kernels.ActNone {
		be.biasAct(yp, ldy, m, n, bp, kernels.ActNone, true)
		beta = 1
	}
	be.blasGemm(false, tB, m, n, k, 1, xp, k, wp, ldw, beta, yp, ldy)
	if act != kernels.ActNone {
		be.biasAct(yp, ldy, m, n, bp, act, false)
	}
}

// SegLinear is Linear per segment with OutIn weights, as one grouped GEMM
// launch over every segment that has weights (always this package's
// kernels: cuBLAS would take a launch per segment).
func (be *Backend) SegLinear(y, x kernels.Buffer, n, k int, segs []kernels.LinearSeg, act kernels.Act, accumulate bool) {
	checkAct(act)
	if accumulate && act != kernels.ActNone {
		panic("cuda: SegLinear accumulates only without activation")
	}
	if n < 0 || k < 0 {
		panic(fmt.Sprintf("cuda: SegLinear of size n=%d k=%d", n, k))
	}
	rows := 0
	for _, s := range segs {
		if s.Rows < 0 {
			panic(fmt.Sprintf("cuda: segment of %d rows", s.Rows))
		}
		rows += s.Rows
	}
	if rows == 0 || n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	xp := be.in(x, rows*k, "seglinear x")
	yp := be.out(y, rows*n, "seglinear y")
	es := devptr(be.esize)
	var probs []C.kGemmProb
	var ms []int
	vecA, vecB := aligned16(xp, k, be.esize), true
	off := 0
	for _, s := range segs {
		if s.W != nil && s.Rows > 0 {
			wp := be.in(s.W, n*k, "seglinear W")
			ap := xp + devptr(off*k)*es
			probs = append(probs, C.kGemmProb{a: C.dptr_t(ap), b: C.dptr_t(wp), c: C.dptr_t(yp + devptr(off*n)*es),
				bias: C.dptr_t(be.opt(s.Bias, n, "seglinear bias")), m: C.int32_t(s.Rows)})
			ms = append(ms, s.Rows)
			vecA = vecA && aligned16(ap, k, be.esize)
			vecB = vecB && aligned16(wp, k, be.esize)
		}
		off += s.Rows
	}
	if len(probs) == 0 {
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	if len(probs) == 1 {
		p := probs[0]
		be.ownGemm(false, true, int(p.m), n, k, 1, devptr(p.a), k, devptr(p.b), k, beta, devptr(p.c), n,
			devptr(p.bias), act)
		return
	}
	cfg := pickGemm(be.prec, rows, n, be.sms())
	tiles := rowTiles(ms, cfg.bm)
	ct := make([]C.kGemmTile, len(tiles))
	for i, t := range tiles {
		ct[i] = C.kGemmTile{prob: C.int32_t(t.prob), row0: C.int32_t(t.row0)}
	}
	pp := be.stage(bytesOf(probs))
	tp := be.stage(bytesOf(ct))
	args := C.kGemm{probs: C.dptr_t(pp), n: C.int32_t(n), k: C.int32_t(k), lda: C.int32_t(k), ldb: C.int32_t(k),
		ldc: C.int32_t(n), tb: 1, act: C.int32_t(act), vec_a: cbool(vecA), vec_b: cbool(vecB), alpha: 1,
		beta: C.float(beta)}
	for _, ch := range chunks(len(tiles), maxGridY) {
		args.tiles = C.dptr_t(tp + devptr(ch[0])*devptr(unsafe.Sizeof(ct[0])))
		args.ntiles = C.int32_t(ch[1] - ch[0])
		grid := [3]int{ceilDiv(n, cfg.bn), ch[1] - ch[0], 1}
		be.launch(be.k.gemm[cfg.kernel], "segmented gemm "+cfg.kernel, grid, [3]int{cfg.threads, 1, 1}, 0,
			unsafe.Pointer(&args), unsafe.Sizeof(args))
	}
}

// ownGemm runs C = act(alpha·op(A)·op(B) + beta·C + bias) on this package's
// kernels (direct mode, row tiles on gridDim.y).
func (be *Backend) ownGemm(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, b devptr, ldb int, beta float32,
	c devptr, ldc int, bias devptr, act kernels.Act) {
	cfg := pickGemm(be.prec, m, n, be.sms())
	args := C.kGemm{n: C.int32_t(n), k: C.int32_t(k), lda: C.int32_t(lda), ldb: C.int32_t(ldb), ldc: C.int32_t(ldc),
		ta: cbool(tA), tb: cbool(tB), act: C.int32_t(act), alpha: C.float(alpha), beta: C.float(beta),
		vec_a: cbool(!tA && aligned16(a, lda, be.esize)), vec_b: cbool(tB && aligned16(b, ldb, be.esize))}
	es := devptr(be.esize)
	// Row tiles beyond the grid's y limit go in further launches.
	rowsPer := maxGridY * cfg.bm
	for r0 := 0; r0 < m; r0 += rowsPer {
		rm := min(m-r0, rowsPer)
		args.m = C.int32_t(rm)
		args.a = C.dptr_t(a + devptr(r0*lda)*es)
		if tA {
			args.a = C.dptr_t(a + devptr(r0)*es)
		}
		args.b = C.dptr_t(b)
		args.c = C.dptr_t(c + devptr(r0*ldc)*es)
		args.bias = C.dptr_t(bias)
		grid := [3]int{ceilDiv(n, cfg.bn), ceilDiv(rm, cfg.bm), 1}
		be.launch(be.k.gemm[cfg.kernel], "gemm "+cfg.kernel, grid, [3]int{cfg.threads, 1, 1}, 0, unsafe.Pointer(&args),
			unsafe.Sizeof(args))
	}
}

// blasGemm is a row-major GEMM on cuBLAS, which is column-major: the
// row-major C [m,n] is the column-major Cᵀ [n,m] = op(B)ᵀ·op(A)ᵀ, so the
// operands swap and each keeps its own transpose flag.
func (be *Backend) blasGemm(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, b devptr, ldb int, beta float32,
	c devptr, ldc int) {
	check(be.blas.gemm(tB, tA, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc), "%s gemm %dx%dx%d", be.blas.name(), m, n, k)
}

// blasGemmStrided is blasGemm over batch matrices at fixed strides.
func (be *Backend) blasGemmStrided(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, sa int64, b devptr, ldb int,
	sb int64, beta float32, c devptr, ldc int, sc int64, batch int) {
	check(be.blas.gemmStrided(tB, tA, n, m, k, alpha, b, ldb, sb, a, lda, sa, beta, c, ldc, sc, batch),
		"%s strided batched gemm %dx%dx%d ×%d", be.blas.name(), m, n, k, batch)
}

func cbool(v bool) C.int32_t {
	if v {
		return 1
	}
	return 0
}
