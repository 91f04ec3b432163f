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

func checkAct(act kernels.Act) {
	if act > kernels.ActReLU {
		panic(fmt.Sprintf("cuda: unknown activation %d", act))
	}
}

func (be *Backend) sms() int { return be.dev.sms() }

// ew is the launch shape of a grid-stride element-wise kernel.
func (be *Backend) ew(n int) (grid, block [3]int) {
	return [3]int{ewBlocks(int64(n), be.sms()), 1, 1}, [3]int{ewThreads, 1, 1}
}

// Activate computes y = act(x) over n values (y may alias x).
func (be *Backend) Activate(y, x kernels.Buffer, n int, act kernels.Act) {
	checkAct(act)
	if n < 0 {
		panic(fmt.Sprintf("cuda: Activate over %d values", n))
	}
	if n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	a := C.kAct{x: C.dptr_t(be.in(x, n, "activate x")), y: C.dptr_t(be.out(y, n, "activate y")), n: C.int64_t(n),
		act: C.int32_t(act)}
	g, b := be.ew(n)
	be.launch(be.k.act, "activate", g, b, 0, unsafe.Pointer(&a), unsafe.Sizeof(a))
}

// Add computes y = a + b over n values (y may alias a or b).
func (be *Backend) Add(y, a, b kernels.Buffer, n int) {
	if n < 0 {
		panic(fmt.Sprintf("cuda: Add over %d values", n))
	}
	if n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	args := C.kAdd{a: C.dptr_t(be.in(a, n, "add a")), b: C.dptr_t(be.in(b, n, "add b")),
		y: C.dptr_t(be.out(y, n, "add y")), n: C.int64_t(n)}
	g, blk := be.ew(n)
	be.launch(be.k.add, "add", g, blk, 0, unsafe.Pointer(&args), unsafe.Sizeof(args))
}

// biasAct runs y[r, :n] = act(y + bias) (bias 0: act only; fill: y = bias)
// over rows with stride ldy: the epilogue of cuBLAS GEMMs, vectorised where
// the shape allows.
func (be *Backend) biasAct(y devptr, ldy, rows, n int, bias devptr, act kernels.Act, fill bool) {
	if be.biasAct4(y, ldy, rows, n, bias, act, fill) {
		return
	}
	a := C.kBiasAct{y: C.dptr_t(y), bias: C.dptr_t(bias), rows: C.int32_t(rows), n: C.int32_t(n),
		ldy: C.int32_t(ldy), act: C.int32_t(act)}
	if fill {
		a.fill = 1
	}
	gx, gy := rowBlocks(rows, n)
	be.launch(be.k.biasAct, "bias epilogue", [3]int{gx, gy, 1}, [3]int{ewThreads, 1, 1}, 0, unsafe.Pointer(&a),
		unsafe.Sizeof(a))
}

// AddNorm computes sum = a + b and y = LayerNorm(sum) per segment.
func (be *Backend) AddNorm(y, sum, a, b kernels.Buffer, cols int, eps float32, segs []kernels.NormSeg) {
	rows := 0
	for _, s := range segs {
		if s.Rows < 0 {
			panic(fmt.Sprintf("cuda: segment of %d rows", s.Rows))
		}
		rows += s.Rows
	}
	if cols <= 0 {
		if rows > 0 && cols < 0 {
			panic(fmt.Sprintf("cuda: AddNorm over %d columns", cols))
		}
		return
	}
	if rows == 0 {
		return
	}
	n := rows * cols
	be.lock()
	defer be.unlock()
	args := C.kNorm{a: C.dptr_t(be.in(a, n, "addnorm a")), b: C.dptr_t(be.opt(b, n, "addnorm b")),
		rows: C.int32_t(rows), cols: C.int32_t(cols), eps: C.float(eps)}
	var table []C.kNormSeg
	row := 0
	for _, s := range segs {
		if s.Rows == 0 {
			continue
		}
		table = append(table, C.kNormSeg{row0: C.int32_t(row), gamma: C.dptr_t(be.in(s.Gamma, cols, "addnorm gamma")),
			beta: C.dptr_t(be.in(s.Beta, cols, "addnorm beta"))})
		row += s.Rows
	}
	if sum != nil {
		args.sum = C.dptr_t(be.out(sum, n, "addnorm sum"))
	}
	args.y = C.dptr_t(be.out(y, n, "addnorm y"))
	args.nsegs = C.int32_t(len(table))
	if len(table) == 1 {
		args.gamma, args.beta = table[0].gamma, table[0].beta
	} else {
		args.segs = C.dptr_t(be.stage(bytesOf(table)))
	}
	grid := [3]int{ceilDiv(rows, normWarps), 1, 1}
	if f := be.norm4Kernel(&args, table); f != nil {
		be.launch(f, "addnorm (vectorised)", grid, [3]int{32 * normWarps, 1, 1}, 0, unsafe.Pointer(&args),
			unsafe.Sizeof(args))
		return
	}
	be.launch(be.k.norm[normVariant(cols)], "addnorm", grid, [3]int{32 * normWarps, 1, 1}, 0, unsafe.Pointer(&args),
		unsafe.Sizeof(args))
}

// Embed writes (add: adds) y[i,:] = table[ids[i],:].
func (be *Backend) Embed(y kernels.Buffer, table kernels.Buffer, ids []int32, cols int, add bool) {
	if cols < 0 {
		panic(fmt.Sprintf("cuda: embedding of %d columns", cols))
	}
	if cols == 0 || len(ids) == 0 {
		return
	}
	rows := unwrap(table, "embedding table").n / cols
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			panic(fmt.Sprintf("cuda: embedding id %d at %d outside a table of %d rows", id, i, rows))
		}
	}
	be.lock()
	defer be.unlock()
	args := C.kEmbed{table: C.dptr_t(be.in(table, rows*cols, "embedding table")),
		y: C.dptr_t(be.out(y, len(ids)*cols, "embed y")), count: C.int32_t(len(ids)), cols: C.int32_t(cols)}
	if add {
		args.add = 1
	}
	args.ids = C.dptr_t(be.stage(bytesOf(ids)))
	gx, gy := rowBlocks(len(ids), cols)
	be.launch(be.k.embed, "embed", [3]int{gx, gy, 1}, [3]int{ewThreads, 1, 1}, 0, unsafe.Pointer(&args),
		unsafe.Sizeof(args))
}

// Attention computes multi-head scaled dot-product attention.
func (be *Backend) Attention(ctx, qkv kernels.Buffer, a kernels.Attn, probs kernels.Buffer) {
	if a.Batch < 0 || a.Seq < 0 || a.Heads < 0 || a.HeadDim < 0 {
		panic(fmt.Sprintf("cuda: attention of negative size %+v", a))
	}
	B, T, H, hd := a.Batch, a.Seq, a.Heads, a.HeadDim
	if B*T*H*hd == 0 {
		return
	}
	if len(a.KeyMask) < B*T {
		panic(fmt.Sprintf("cuda: attention key mask has %d values, needs %d", len(a.KeyMask), B*T))
	}
	plan, err := planAttention(be.prec, hd, probs != nil, be.blas != nil, be.tcOK[hd])
	if err != nil {
		panic("cuda: " + err.Error())
	}
	D := H * hd
	be.lock()
	defer be.unlock()
	q := be.in(qkv, B*T*3*D, "attention qkv")
	c := be.out(ctx, B*T*D, "attention ctx")
	var p devptr
	if probs != nil {
		p = be.out(probs, B*H*T*T, "attention probs")
	}
	mask := be.stage(a.KeyMask[:B*T])
	causal := C.int32_t(0)
	if a.Causal {
		causal = 1
	}
	if plan.kernel == "blas" {
		be.attentionBLAS(c, q, p, mask, B, T, H, hd, a.Scale, causal)
		return
	}
	f := be.k.attn[plan.kernel]
	smem := 0
	if plan.qtile == 64 {
		smem = attnTCSmem(hd)
	}
	if fa := be.flashKernel(plan, hd, q, c, D); fa != nil {
		f, smem, plan.kernel = fa, 0, fmt.Sprintf("fa%d", hd) // same grid: 64 queries per block
	}
	es := devptr(be.esize)
	for _, ch := range batchChunks(B) {
		b0, nb := devptr(ch[0]), ch[1]-ch[0]
		args := C.kAttn{ctx: C.dptr_t(c + b0*devptr(T*D)*es), qkv: C.dptr_t(q + b0*devptr(T*3*D)*es),
			mask: C.dptr_t(mask + b0*devptr(T)), B: C.int32_t(nb), T: C.int32_t(T), H: C.int32_t(H),
			hd: C.int32_t(hd), causal: causal, scale: C.float(a.Scale)}
		if p != 0 {
			args.probs = C.dptr_t(p + b0*devptr(H*T*T)*es)
		}
		grid := [3]int{ceilDiv(T, plan.qtile), H, nb}
		be.launch(f, "attention "+plan.kernel, grid, [3]int{plan.threads, 1, 1}, smem, unsafe.Pointer(&args),
			unsafe.Sizeof(args))
	}
}

// attentionBLAS is attention with the weights stored: per head, scores
// S = scale·Q·Kᵀ for every sequence in one strided batched GEMM (written
// straight into probs [B, H, T, T]), a masked softmax in place, and
// ctx = P·V by a second batched GEMM into the head's columns.
func (be *Backend) attentionBLAS(c, q, p, mask devptr, B, T, H, hd int, scale float32, causal C.int32_t) {
	D := H * hd
	es := devptr(be.esize)
	seq := int64(T * 3 * D) // stride between sequences in qkv
	for h := range H {
		Q := q + devptr(h*hd)*es
		K := q + devptr(D+h*hd)*es
		S := p + devptr(h*T*T)*es
		be.blasGemmStrided(false, true, T, T, hd, scale, Q, 3*D, seq, K, 3*D, seq, 0, S, T, int64(H*T*T), B)
	}
	sm := C.kSoftmax{p: C.dptr_t(p), mask: C.dptr_t(mask), B: C.int32_t(B), T: C.int32_t(T), H: C.int32_t(H),
		causal: causal}
	rows := B * H * T
	be.launch(be.k.softmax, "softmax", [3]int{ceilDiv(rows, normWarps), 1, 1}, [3]int{32 * normWarps, 1, 1}, 0,
		unsafe.Pointer(&sm), unsafe.Sizeof(sm))
	for h := range H {
		P := p + devptr(h*T*T)*es
		V := q + devptr(2*D+h*hd)*es
		O := c + devptr(h*hd)*es
		be.blasGemmStrided(false, false, T, hd, T, 1, P, T, int64(H*T*T), V, 3*D, seq, 0, O, D, int64(T*D), B)
	}
}
