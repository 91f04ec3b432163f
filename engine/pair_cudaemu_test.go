//go:build cudaemu && !cuda

package engine

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// TestPairGoldensCUDAEmulated runs the text-pair goldens (features and the
// adapter batch, pair and single rows in shared passes) on the CUDA backend's
// CPU emulator, fp32 (the pairs and two single texts of the hidden-state
// goldens: the emulator is slow).
func TestPairGoldensCUDAEmulated(t *testing.T) {
	be, err := cuda.NewEmulated(zerolog.Nop(), cuda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			checkPairFeatures(t, name, be, true)
			checkPairAdapter(t, name, be)
		})
	}
}
