//go:build cuda || cudaemu

package cuda

import (
	"testing"

	"github.com/adapterdb/adapterdb/kernels/kerneltest"
)

// TestTrainerConformance checks the backward ops (fp32) against finite
// differences of the float64 references: kerneltest.RunTrainer's suite, on
// the package's GEMM kernels and on cuBLAS. (TestConformance covers the
// forward ops; run with -run 'TestTrainerConformance/.*/.*Backward' for the
// backward ones alone.)
func TestTrainerConformance(t *testing.T) {
	t.Run("kernels", func(t *testing.T) {
		kerneltest.RunTrainer(t, openTest(t, Options{Precision: FP32, DisableCublas: true}))
	})
	t.Run("cublas", func(t *testing.T) {
		be := openTest(t, Options{Precision: FP32})
		if be.blas == nil {
			t.Skip("no cuBLAS library found")
		}
		kerneltest.RunTrainer(t, be)
	})
}
