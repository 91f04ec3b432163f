//go:build cuda || cudaemu

package main

import (
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// openBackend selects the kernel backend for --device: cpu[:fp32|bf16|int8], or
// cuda[:options] (see cuda.ParseDeviceSpec: precision fp32, bf16 or fp16,
// gpu=N, nocublas, nolt, budget=SIZE). Without a usable GPU the cuda backend
// fails with an error saying what is missing (docs/cuda.md).
func openBackend(device string, log zerolog.Logger) (kernels.Backend, error) {
	switch {
	case isCPUDevice(device):
		return openCPU(device, log)
	case cuda.IsDeviceSpec(device):
		spec, err := cuda.ParseDeviceSpec(device)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		return newCUDA(log, cuda.Options{Device: spec.Device, Precision: spec.Precision,
			DisableCublas: spec.DisableCublas, DisableCublasLt: spec.DisableLt, MemoryBudget: spec.MemoryBudget})
	}
	return nil, usageErr("unknown device %q (cpu[:fp32|bf16|int8], or cuda[:fp32|bf16|fp16,gpu=N,nocublas,nolt,budget=SIZE])", device)
}
