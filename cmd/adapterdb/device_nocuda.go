//go:build !cuda && !cudaemu

package main

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// openBackend selects the kernel backend for --device. This build has the
// cpu backend only; build with -tags cuda for --device cuda (docs/cuda.md).
func openBackend(device string, log zerolog.Logger) (kernels.Backend, error) {
	switch {
	case isCPUDevice(device):
		return openCPU(device, log)
	case device == "cuda" || strings.HasPrefix(device, "cuda:"):
		return nil, fmt.Errorf("this adapterdb was built without CUDA support: build it with -tags cuda (see docs/cuda.md)")
	}
	return nil, usageErr("unknown device %q (cpu[:fp32|bf16|int8] or cuda)", device)
}
