//go:build cudaemu && !cuda

package model_test

import (
	"testing"

	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// TestPooledBackwardCUDAEmulated runs TestPooledBackward's checks on the CUDA
// backend's CPU emulator: the pooled rows are copied between device buffers
// and mean pooling is a K = 1 cuBLAS product per sequence; what Backward
// uploads must not stay on the device.
func TestPooledBackwardCUDAEmulated(t *testing.T) {
	be := cuda.OpenEmulatedTest(t, cuda.Options{})
	checkPooledBackward(t, be, func() int { return be.Stats().ResidentUploads })
}
