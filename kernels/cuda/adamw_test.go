//go:build cuda || cudaemu

package cuda

import (
	"testing"

	"github.com/adapterdb/adapterdb/kernels/kerneltest"
)

// TestAdamW runs the shared AdamW suite (kerneltest.RunOptimizer: the
// device AdamW follows the host one step by step) in every precision: the
// weights the passes read are the master weights as the storage type
// rounds them.
func TestAdamW(t *testing.T) {
	for _, prec := range []Precision{FP32, BF16, FP16} {
		t.Run(string(prec), func(t *testing.T) { kerneltest.RunOptimizer(t, openTest(t, Options{Precision: prec})) })
	}
}
