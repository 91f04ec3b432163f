package cpu

/*
#include "onednn_shim.h"
*/
import "C"

import (
	"unsafe"

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
// did; false leaves it to OpenBLAS. The operands are checked slices. A
// single row (a vector-matrix product: mean pooling's weights·hidden per
// sequence) stays on OpenBLAS's GEMV: oneDNN took 19-28 µs for 1×384×32 and
// 1×384×64 against OpenBLAS's 1.5-4 µs, while from two rows up (2×64×384)
// it was 1.4-2.9 µs against 4.8-5.1.
func (d *dnn) gemm(key gemmKey, a, b, bias, c []float32) bool {
	if key.m < 2 || key.n == 0 || key.k == 0 || !fitsBLASInt(key.m, key.n, key.k, key.lda, key.ldb, key.ldc) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := cachedPrim(d, d.gemms, key, key.m, key.n, key.k, func() (*C.dn_mm, string, error) {
		return d.lib.gemm(key, d.threads)
	})
	if p.mm == nil {
		return false
	}
	if err := d.lib.run(p.mm, unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), bias, c, d.threads); err != nil {
		d.warn(err, "gemm failed; running it on OpenBLAS")
		return false
	}
	return true
}
