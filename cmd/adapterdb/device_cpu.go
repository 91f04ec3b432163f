package main

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// deviceHelp is the --device flag's help of the commands that run the
// featurizer.
const deviceHelp = "kernel backend: cpu, cpu:bf16 (bfloat16 weights, AVX512_BF16 CPUs), cpu:int8 (int8 weights and activations, AVX512_VNNI CPUs) or cuda[:options]"

// isCPUDevice says whether a --device value names the cpu backend: "cpu",
// "cpu:fp32", "cpu:bf16" (the spelling of cuda:bf16) or "cpu:int8".
func isCPUDevice(device string) bool {
	return device == "" || device == "cpu" || strings.HasPrefix(device, "cpu:")
}

// openCPU opens the cpu backend for such a device. cpu:bf16 stores the
// linear layers' weights in bfloat16 and multiplies them with AVX512_BF16
// (oneDNN), cpu:int8 in int8 with AVX512_VNNI; on a CPU without it the
// error says so.
func openCPU(device string, log zerolog.Logger) (kernels.Backend, error) {
	precision, _ := strings.CutPrefix(device, "cpu")
	precision = strings.TrimPrefix(precision, ":")
	switch precision {
	case "", "fp32", "bf16", "int8":
	default:
		return nil, usageErr("unknown device %q (cpu, cpu:fp32, cpu:bf16 or cpu:int8)", device)
	}
	return cpu.New(log, cpu.Options{Precision: precision})
}

// trainBackend is what trains adapters when be cannot (a backend without
// backward kernels): the cpu kernels, opened here because the engine leaves
// the choice of kernels to its caller. nil when be trains itself.
func trainBackend(be kernels.Backend, log zerolog.Logger) (kernels.Trainer, error) {
	if _, ok := be.(kernels.Trainer); ok {
		return nil, nil
	}
	c, err := cpu.New(log, cpu.Options{})
	if err != nil {
		return nil, fmt.Errorf("backend %s cannot train, and the cpu backend for training: %w", be.Name(), err)
	}
	return c, nil
}
