//go:build cudaemu && !cuda

package engine

import (
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// TestPairGoldensCUDAEmulated runs the text-pair goldens (features and the
// adapter batch, pair and single rows in shared passes) on the CUDA backend's
// CPU emulator, fp32 (the pairs and two single texts of the hidden-state
// goldens: the emulator is slow).
func TestPairGoldensCUDAEmulated(t *testing.T) {
	be := cuda.OpenEmulatedTest(t, cuda.Options{})
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			checkPairFeatures(t, name, be, true)
			checkPairAdapter(t, name, be)
		})
	}
}
