package cpu

/*
#include "onednn_shim.h"
*/
import "C"

import (
	"github.com/adapterdb/adapterdb/kernels"
)

// Products of plain matrices on oneDNN: the adapters' bottleneck layers and
// the training's weight gradients, whose operands change from call to call
// (another adapter, another step) and so are not packed the way Linear's
// frozen weights are. oneDNN's brgemm matmul reads them as they lie, fuses
// the bias, the activation and the accumulation into the product, and
// splits small products over both cores where OpenBLAS runs them on one
// (B = 1: a 128×64×384 bottleneck is 6 MFLOP).

// gemmKey is one shape of product: the primitive is JIT-compiled for it.
type gemmKey struct {
	m, n, k       int
	tA, tB        bool
	lda, ldb, ldc int
	bias, acc     bool
	act           kernels.Act
}

// gemm runs c (+)= act(op(a)·op(b) + bias) on oneDNN and reports whether it
// did; false leaves it to OpenBLAS. The operands are checked slices.
func (d *dnn) gemm(key gemmKey, a, b, bias, c []float32) bool {
	if key.m == 0 || key.n == 0 || key.k == 0 || !fitsBLASInt(key.m*key.ldc, key.m*key.lda, key.k*key.lda,
		key.k*key.ldb, key.n*key.ldb) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.gemms[key]
	if !ok {
		if len(d.gemms) >= maxPrims {
			for k, p := range d.gemms {
				if p.mm != nil {
					C.dn_mm_free(d.lib.l, p.mm)
				}
				delete(d.gemms, k)
			}
		}
		p = &prim{}
		mm, impl, err := d.lib.gemm(key, d.threads)
		switch {
		case err != nil:
			d.warn(err, "no gemm for this shape; running it on OpenBLAS")
		case len(impl) >= 3 && impl[:3] == "ref":
			d.log.Debug().Str("impl", impl).Int("m", key.m).Int("n", key.n).Int("k", key.k).
				Msg("cpu backend: oneDNN has only its reference matmul for this gemm; using OpenBLAS")
			C.dn_mm_free(d.lib.l, mm)
		default:
			p.mm, p.impl = mm, impl
		}
		d.gemms[key] = p
	}
	if p.mm == nil {
		return false
	}
	if err := d.lib.gemmRun(p.mm, a, b, bias, c, d.threads); err != nil {
		d.warn(err, "gemm failed; running it on OpenBLAS")
		return false
	}
	return true
}
