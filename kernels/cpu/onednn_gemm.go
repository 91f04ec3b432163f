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

// gemmMinRows is the fewest rows a product of plain matrices needs to run on
// oneDNN; fewer stay on OpenBLAS, whose call costs less than oneDNN's at
// such sizes. An adapter block of MiniLM-L6 (M×64×384 then M×384×64, bias,
// ReLU, accumulated; BenchmarkAdapterBlock, Zen 4, two runs) took 2.7–3.8 µs
// on OpenBLAS against 9.9–11.3 on oneDNN at 2 rows, 15.2–15.7 against
// 18.5–18.6 at 8, and at 16 either won by turns (21.7–24.2 against
// 21.3–30.7). Short texts' single-row PREDICTs have such products, and so
// have the kept rows of small batches (model.ForwardRows).
const gemmMinRows = 9

// gemm runs c (+)= act(op(a)·op(b) + bias) on oneDNN and reports whether it
// did; false leaves it to OpenBLAS (fewer than gemmMinRows rows, among
// others). The operands are checked slices.
func (d *dnn) gemm(key gemmKey, a, b, bias, c []float32) bool {
	return key.m >= gemmMinRows && d.runGemm(key, a, b, bias, c)
}

// runGemm is gemm whatever the rows.
func (d *dnn) runGemm(key gemmKey, a, b, bias, c []float32) bool {
	if key.m == 0 || key.n == 0 || key.k == 0 || !fitsBLASInt(key.m, key.n, key.k, key.lda, key.ldb, key.ldc) {
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
	if err := d.lib.run(p.mm, unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), bias, c, d.threads, &d.errMsg); err != nil {
		d.warn(err, "gemm failed; running it on OpenBLAS")
		return false
	}
	return true
}
