//go:build cuda || cudaemu

package cuda

/*
#include "kargs.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/adapterdb/adapterdb/kernels"
)

// The fused forward pass: Linear's bias and activation in the GEMM's
// epilogue on cuBLASLt, and vectorised kernels (kern_fused.h) for the
// element-wise passes that remain (an exact-GELU after a bias epilogue, the
// bias passes of the fallback path, add+LayerNorm).

// epilogueLib is cuBLASLt (or the emulator's reference of it): a
// column-major C[m,n] = epi(op(A)·op(B) + bias) with alpha 1 and beta 0,
// bias (0: none) one value per row of C (per output column of the
// row-major call), in the backend's storage type; the epilogue runs in fp32
// before C is rounded.
type epilogueLib interface {
	name() string
	// gemmEpilogue reports ok false, with no work queued, where the library
	// has no algorithm for the case (the caller takes the unfused path).
	gemmEpilogue(tA, tB bool, m, n, k int, a devptr, lda int, b devptr, ldb int, c devptr, ldc int, bias devptr,
		epi epilogue) (ok bool, err error)
}

// epilogueSource is a gemmLib that may come with cuBLASLt.
type epilogueSource interface {
	epilogues() epilogueLib // nil: none
}

// fusedKernels are kern_fused.h's kernels of the storage type.
type fusedKernels struct {
	biasAct4 kfunc
	norm4    map[int]kfunc // by norm4Variant
	flash    map[int]kfunc // kern_flash.h's attention by head dim (16-bit storage)
}

func (be *Backend) loadFused() error {
	sfx := be.prec.suffix()
	fk := fusedKernels{norm4: map[int]kfunc{}, flash: map[int]kfunc{}}
	var errs []error
	get := func(name string) kfunc {
		f, err := be.dev.kernel(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("kernel %s: %w", name, err))
		}
		return f
	}
	fk.biasAct4 = get("k_bias_act4_" + sfx)
	for _, nv := range norm4Variants {
		fk.norm4[nv] = get(fmt.Sprintf("k_norm4v%d_%s", nv, sfx))
	}
	if be.prec != FP32 {
		for _, hd := range flashHeadDims {
			fk.flash[hd] = get(fmt.Sprintf("k_attn_fa%d_%s", hd, sfx))
		}
	}
	be.fk = fk
	return errors.Join(errs...)
}

// attachEpilogues takes cuBLASLt from the GEMM library where it has one.
func (be *Backend) attachEpilogues(opts Options) {
	if opts.DisableCublasLt || be.blas == nil {
		return
	}
	if s, ok := be.blas.(epilogueSource); ok {
		be.lt = s.epilogues()
	}
}

// ltLinear runs Linear's GEMM with its bias and activation on cuBLASLt:
// y[m,n] = act(x[m,k]·op(W) + bias). It reports false, with nothing queued,
// where cuBLASLt is absent or has no algorithm for the case.
func (be *Backend) ltLinear(yp devptr, ldy int, xp devptr, m, n, k int, wp devptr, tB bool, ldw int, bp devptr,
	act kernels.Act) bool {
	if be.lt == nil {
		return false
	}
	epi, rest, fused := pickEpilogue(act, bp != 0)
	if !fused {
		return false
	}
	// Row-major y = x·op(W) is column-major yᵀ = op(W)ᵀ·xᵀ (as blasGemm):
	// the bias runs along yᵀ's rows.
	ok, err := be.lt.gemmEpilogue(tB, false, n, m, k, wp, ldw, xp, k, yp, ldy, bp, epi)
	check(err, "%s gemm %dx%dx%d with epilogue %v", be.lt.name(), m, n, k, epi)
	if !ok {
		return false
	}
	if rest != kernels.ActNone {
		be.biasAct(yp, ldy, m, n, 0, rest, false)
	}
	return true
}

// biasAct4 is biasAct on kern_fused.h's vectorised kernel, where rows,
// stride and addresses allow it (false: nothing queued).
func (be *Backend) biasAct4(y devptr, ldy, rows, n int, bias devptr, act kernels.Act, fill bool) bool {
	if be.fk.biasAct4 == nil || !vec4(y, n, ldy, be.esize) || (bias != 0 && !vec4(bias, n, n, be.esize)) {
		return false
	}
	a := C.kBiasAct{y: C.dptr_t(y), bias: C.dptr_t(bias), rows: C.int32_t(rows), n: C.int32_t(n),
		ldy: C.int32_t(ldy), act: C.int32_t(act)}
	if fill {
		a.fill = 1
	}
	gx, gy := rowBlocks(rows, n/4)
	be.launch(be.fk.biasAct4, "bias epilogue (vectorised)", [3]int{gx, gy, 1}, [3]int{ewThreads, 1, 1}, 0,
		unsafe.Pointer(&a), unsafe.Sizeof(a))
	return true
}

// norm4Kernel is the vectorised AddNorm kernel for args (every address
// aligned to four values, cols a multiple of four), or nil.
func (be *Backend) norm4Kernel(args *C.kNorm, table []C.kNormSeg) kfunc {
	nv := norm4Variant(int(args.cols))
	if nv == 0 {
		return nil
	}
	cols := int(args.cols)
	ok := func(p C.dptr_t) bool { return p == 0 || vec4(uint64(p), cols, cols, be.esize) }
	if !ok(args.a) || !ok(args.b) || !ok(args.sum) || !ok(args.y) || !ok(args.gamma) || !ok(args.beta) {
		return nil
	}
	for _, s := range table {
		if !ok(s.gamma) || !ok(s.beta) {
			return nil
		}
	}
	return be.fk.norm4[nv]
}

// flashKernel is kern_flash.h's attention for a call the planner gave to the
// tensor-core kernel (plan.kernel "tc<hd>"), where qkv's and ctx's rows are
// 16-byte aligned (its tiles load 16 bytes at a time), or nil.
func (be *Backend) flashKernel(plan attnPlan, hd int, qkv, ctx devptr, D int) kfunc {
	if be.noFlash || plan.kernel != fmt.Sprintf("tc%d", hd) {
		return nil
	}
	if !flashFits(qkv, ctx, D, hd, be.esize) {
		return nil
	}
	return be.fk.flash[hd]
}
