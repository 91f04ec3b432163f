//go:build cuda || cudaemu

package cuda

import (
	"testing"

	"github.com/adapterdb/adapterdb/kernels/kerneltest"
)

// TestConformance runs the backend conformance suite on the fp32 path (its
// float64 references leave room for fp32 rounding only): GEMMs on the
// package's exact SIMT kernels, then on cuBLAS (SGEMM, and strided batched
// GEMMs for attention with stored weights) where it is found.
func TestConformance(t *testing.T) {
	t.Run("kernels", func(t *testing.T) {
		kerneltest.Run(t, openTest(t, Options{Precision: FP32, DisableCublas: true}))
	})
	t.Run("cublas", func(t *testing.T) {
		be := openTest(t, Options{Precision: FP32})
		if be.blas == nil {
			t.Skip("no cuBLAS library found")
		}
		kerneltest.Run(t, be)
	})
}
