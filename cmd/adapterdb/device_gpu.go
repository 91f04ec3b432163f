//go:build cuda

package main

import (
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// newCUDA opens the GPU.
func newCUDA(log zerolog.Logger, opts cuda.Options) (*cuda.Backend, error) {
	return cuda.New(log, opts)
}
