//go:build cudaemu && !cuda

package adapter_test

import (
	"fmt"
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// TestAdapterGoldensCUDAEmulated runs TestAdapterGoldens' checks — passes
// over every row and passes that keep the pooled rows, forward and backward —
// on the CUDA backend's CPU emulator.
func TestAdapterGoldensCUDAEmulated(t *testing.T) {
	be := cuda.OpenEmulatedTest(t, cuda.Options{})
	for _, name := range testmodels.Names {
		for _, rows := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/rows=%v", name, rows), func(t *testing.T) { checkGoldens(t, be, name, rows) })
		}
	}
}
