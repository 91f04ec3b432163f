//go:build !cuda && !cudaemu

package main

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// openBackend selects the kernel backend for --device. This build has the
// cpu backend only; build with -tags cuda for --device cuda (docs/cuda.md).
func openBackend(device string, log zerolog.Logger) (kernels.Backend, error) {
	switch {
	case device == "" || device == "cpu":
		return cpu.New(log, cpu.Options{})
	case device == "cuda" || strings.HasPrefix(device, "cuda:"):
		return nil, fmt.Errorf("this adapterdb was built without CUDA support: build it with -tags cuda (see docs/cuda.md)")
	}
	return nil, usageErr("unknown device %q (cpu or cuda)", device)
}
