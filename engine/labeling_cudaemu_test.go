//go:build cudaemu && !cuda

package engine

import (
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// TestLabelingGoldensCUDAEmulated runs the sequence labeling golden check
// (token hidden states of labeling inputs in passes shared with pooled rows)
// on the CUDA backend's CPU emulator, fp32, on three texts per model.
func TestLabelingGoldensCUDAEmulated(t *testing.T) {
	be := cuda.OpenEmulatedTest(t, cuda.Options{})
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) { checkLabelingGolden(t, name, be, true) })
	}
}
