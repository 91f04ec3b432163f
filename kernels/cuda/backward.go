//go:build cuda || cudaemu

package cuda

/*
#include "kargs_backward.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/adapterdb/adapterdb/kernels"
)

// The backward operations of training (kernels.Trainer). GEMMs go through
// Gemm (cuBLAS or the package's kernels); the rest are kern_backward.h's
// kernels, which need no atomics, so a backward pass gives the same result
// every time. In the 16-bit modes inputs and outputs are stored in 16 bits
// and everything in between is fp32.

var _ kernels.Trainer = (*Backend)(nil)

// bwdKernels are the backward kernels of the backend's storage type.
type bwdKernels struct {
	actBwd, colSumPart, colSumFin, normStats, normParams, normDx, attnDS, attnDQKV kfunc
}

func (be *Backend) loadBackward(must func(string) kfunc) {
	sfx := be.prec.suffix()
	be.bwd = bwdKernels{actBwd: must("k_act_bwd_" + sfx), colSumPart: must("k_colsum_part_" + sfx),
		colSumFin: must("k_colsum_fin_" + sfx),
		normStats: must("k_norm_stats_" + sfx), normParams: must("k_norm_params_" + sfx), normDx: must("k_norm_dx_" + sfx),
		attnDS: must("k_attn_ds_" + sfx), attnDQKV: must("k_attn_dqkv_" + sfx)}
	be.optk = optKernels{sumSq: must("k_sumsq_" + sfx), adamW: must("k_adamw_" + sfx)}
}

// scratch is fp32 device memory for one op's intermediates (held lock); it
// goes back to the pool with release once the op's launches are queued.
func (be *Backend) scratch(values int) block { return be.getBlock(int64(values) * 4) }

// zero clears n values of b.
func (be *Backend) zero(b kernels.Buffer, n int, what string) {
	if n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	check(be.dev.memset(be.out(b, n, what), int64(n*be.esize)), "clear %s", what)
}

// SegLinearBackward, for y_s = x_s·W_sᵀ + b_s per segment: dx (+)= dy·W,
// DW += dyᵀ·x, DBias += column sums of dy. A segment without W does not depend
// on x: its dx rows are cleared (left alone when accumulating).
func (be *Backend) SegLinearBackward(dx, dy, x kernels.Buffer, n, k int, segs []kernels.LinearGrad, accumulate bool) {
	rows := 0
	for _, s := range segs {
		if s.Rows < 0 {
			panic(fmt.Sprintf("cuda: segment of %d rows", s.Rows))
		}
		rows += s.Rows
	}
	if n < 0 || k < 0 {
		panic(fmt.Sprintf("cuda: SegLinearBackward of size %d×%d", n, k))
	}
	if rows == 0 || n == 0 && k == 0 {
		return
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
		d := be.View(dy, off*n, r*n)
		if dx != nil {
			out := be.View(dx, off*k, r*k)
			switch {
			case s.W != nil:
				be.Gemm(false, false, r, k, n, 1, d, n, s.W, k, beta, out, k)
			case !accumulate:
				be.zero(out, r*k, "seglinear backward dx")
			}
		}
		if s.DW != nil {
			be.Gemm(true, false, n, k, r, 1, d, n, be.View(x, off*k, r*k), k, 1, s.DW, k)
		}
		if s.DBias != nil && n > 0 {
			be.colSum(s.DBias, d, r, n)
		}
		off += r
	}
}

// colSum adds the column sums of src [rows, n] to dst [n]: partial sums per
// chunk of rows, then their sum (colChunks).
func (be *Backend) colSum(dst, src kernels.Buffer, rows, n int) {
	be.lock()
	defer be.unlock()
	cr, chunks := colChunks(rows)
	part := be.scratch(chunks * n)
	defer be.pool.put(part)
	a := C.kColSum{src: C.dptr_t(be.in(src, rows*n, "column sum source")), part: C.dptr_t(part.ptr),
		rows: C.int32_t(rows), n: C.int32_t(n), chunk_rows: C.int32_t(cr), chunks: C.int32_t(chunks)}
	be.launch(be.bwd.colSumPart, "column sum", [3]int{ceilDiv(n, ewThreads), chunks, 1}, [3]int{ewThreads, 1, 1}, 0,
		unsafe.Pointer(&a), unsafe.Sizeof(a))
	be.colFinish(be.out(dst, n, "bias gradient"), part.ptr, n, chunks)
}

// colFinish adds the sums of chunks partial column sums (fp32 [chunks, n] at
// part) to dst [n] (held lock).
func (be *Backend) colFinish(dst, part devptr, n, chunks int) {
	a := C.kColSum{dst: C.dptr_t(dst), part: C.dptr_t(part), n: C.int32_t(n), chunks: C.int32_t(chunks)}
	be.launch(be.bwd.colSumFin, "column sum finish", [3]int{ceilDiv(n, ewThreads), 1, 1}, [3]int{ewThreads, 1, 1}, 0,
		unsafe.Pointer(&a), unsafe.Sizeof(a))
}

// ActivateBackward computes dx = dy ⊙ act'(x) over n values (dx may alias dy).
func (be *Backend) ActivateBackward(dx, x, dy kernels.Buffer, n int, act kernels.Act) {
	checkAct(act)
	if n < 0 {
		panic(fmt.Sprintf("cuda: ActivateBackward over %d values", n))
	}
	if n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	a := C.kActBwd{x: C.dptr_t(be.in(x, n, "activate backward x")), dy: C.dptr_t(be.in(dy, n, "activate backward dy")),
		dx: C.dptr_t(be.out(dx, n, "activate backward dx")), n: C.int64_t(n), act: C.int32_t(act)}
	g, b := be.ew(n)
	be.launch(be.bwd.actBwd, "activate backward", g, b, 0, unsafe.Pointer(&a), unsafe.Sizeof(a))
}

// NormBackward is the backward of y = LayerNorm(x) with a gain per segment:
// dx (+)= ∂L/∂x (dx may alias dy, or be nil), DGamma/DBeta accumulated.
func (be *Backend) NormBackward(dx, dy, x kernels.Buffer, cols int, eps float32, segs []kernels.NormGrad, accumulate bool) {
	rows := 0
	for _, s := range segs {
		if s.Rows < 0 {
			panic(fmt.Sprintf("cuda: segment of %d rows", s.Rows))
		}
		rows += s.Rows
	}
	if cols <= 0 {
		if rows > 0 && cols < 0 {
			panic(fmt.Sprintf("cuda: NormBackward over %d columns", cols))
		}
		return
	}
	if rows == 0 {
		return
	}
	n := rows * cols
	be.lock()
	defer be.unlock()
	stats := be.scratch(2 * rows)
	defer be.pool.put(stats)
	a := C.kNormBwd{dy: C.dptr_t(be.in(dy, n, "normbackward dy")), x: C.dptr_t(be.in(x, n, "normbackward x")),
		stats: C.dptr_t(stats.ptr), rows: C.int32_t(rows), cols: C.int32_t(cols), eps: C.float(eps)}
	rowGrid, rowBlock := [3]int{ceilDiv(rows, normWarps), 1, 1}, [3]int{32 * normWarps, 1, 1}
	be.launch(be.bwd.normStats, "normbackward stats", rowGrid, rowBlock, 0, unsafe.Pointer(&a), unsafe.Sizeof(a))
	// Parameter gradients first: they read dy, which dx may overwrite.
	var table []C.kNormSeg
	row := 0
	for _, s := range segs {
		if s.Rows == 0 {
			continue
		}
		g := be.in(s.Gamma, cols, "normbackward gamma")
		table = append(table, C.kNormSeg{row0: C.int32_t(row), gamma: C.dptr_t(g)})
		if s.DGamma != nil || s.DBeta != nil {
			cr, chunks := colChunks(s.Rows)
			part := be.scratch(2 * chunks * cols)
			p := a
			p.row0, p.rows, p.part = C.int32_t(row), C.int32_t(s.Rows), C.dptr_t(part.ptr)
			p.chunk_rows, p.chunks = C.int32_t(cr), C.int32_t(chunks)
			be.launch(be.bwd.normParams, "normbackward params", [3]int{ceilDiv(cols, ewThreads), chunks, 1},
				[3]int{ewThreads, 1, 1}, 0, unsafe.Pointer(&p), unsafe.Sizeof(p))
			if s.DGamma != nil {
				be.colFinish(be.out(s.DGamma, cols, "normbackward DGamma"), part.ptr, cols, chunks)
			}
			if s.DBeta != nil {
				be.colFinish(be.out(s.DBeta, cols, "normbackward DBeta"), part.ptr+devptr(4*chunks*cols), cols, chunks)
			}
			be.pool.put(part)
		}
		row += s.Rows
	}
	if dx == nil {
		return
	}
	a.dx = C.dptr_t(be.out(dx, n, "normbackward dx"))
	if accumulate {
		a.accumulate = 1
	}
	a.nsegs = C.int32_t(len(table))
	if len(table) == 1 {
		a.gamma = table[0].gamma
	} else {
		a.segs = C.dptr_t(be.stage(bytesOf(table)))
	}
	be.launch(be.bwd.normDx, "normbackward dx", rowGrid, rowBlock, 0, unsafe.Pointer(&a), unsafe.Sizeof(a))
}

// AttentionBackward writes dqkv [Batch·Seq, 3D] given dctx and the forward's
// qkv and probs.
func (be *Backend) AttentionBackward(dqkv, dctx, qkv, probs kernels.Buffer, a kernels.Attn) {
	if a.Batch < 0 || a.Seq < 0 || a.Heads < 0 || a.HeadDim < 0 {
		panic(fmt.Sprintf("cuda: attention backward of negative size %+v", a))
	}
	B, T, H, hd := a.Batch, a.Seq, a.Heads, a.HeadDim
	if B*T*H*hd == 0 {
		return
	}
	if len(a.KeyMask) < B*T {
		panic(fmt.Sprintf("cuda: attention key mask has %d values, needs %d", len(a.KeyMask), B*T))
	}
	D := H * hd
	be.lock()
	defer be.unlock()
	ds := be.scratch(B * H * T * T)
	defer be.pool.put(ds)
	args := C.kAttnBwd{dctx: C.dptr_t(be.in(dctx, B*T*D, "attention backward dctx")),
		qkv: C.dptr_t(be.in(qkv, B*T*3*D, "attention backward qkv")), probs: C.dptr_t(be.in(probs, B*H*T*T, "attention backward probs")),
		ds: C.dptr_t(ds.ptr), B: C.int32_t(B), T: C.int32_t(T), H: C.int32_t(H), hd: C.int32_t(hd), scale: C.float(a.Scale)}
	args.dqkv = C.dptr_t(be.out(dqkv, B*T*3*D, "attention backward dqkv"))
	args.mask = C.dptr_t(be.stage(a.KeyMask[:B*T]))
	be.launch(be.bwd.attnDS, "attention backward ds", [3]int{ceilDiv(B*H*T, normWarps), 1, 1}, [3]int{32 * normWarps, 1, 1}, 0,
		unsafe.Pointer(&args), unsafe.Sizeof(args))
	gx, gy := rowBlocks(B*T, 3*D)
	be.launch(be.bwd.attnDQKV, "attention backward dqkv", [3]int{gx, gy, 1}, [3]int{ewThreads, 1, 1}, 0,
		unsafe.Pointer(&args), unsafe.Sizeof(args))
}
