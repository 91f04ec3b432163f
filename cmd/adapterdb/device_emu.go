//go:build cudaemu && !cuda

package main

import (
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// newCUDA opens the CPU emulator of the cuda backend (build tag cudaemu):
// --device cuda runs the GPU kernels' code on the CPU, slowly, so that the
// end-to-end tests cover the cuda backend on machines without a GPU.
func newCUDA(log zerolog.Logger, opts cuda.Options) (*cuda.Backend, error) {
	log.Warn().Msg("cuda backend: this binary was built with -tags cudaemu: the GPU kernels run on a CPU emulator (tests only, slow)")
	return cuda.NewEmulated(log, opts)
}
