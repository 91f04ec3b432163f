package cuda

import (
	"fmt"
	"strconv"
	"strings"
)

// DeviceSpec is a --device value for the cuda backend, parsed:
//
//	cuda[:OPTION[,OPTION...]]
//
// with options fp32, bf16 or fp16 (the precision; default fp16), gpu=N (the
// GPU's ordinal; default 0), nocublas (GEMMs on the package's kernels),
// nolt (no cuBLASLt epilogues: bias and activation as passes after cuBLAS
// GEMMs) and budget=SIZE (MemoryBudget: bytes, or with a KiB, MiB or GiB
// suffix).
type DeviceSpec struct {
	Device        int
	Precision     Precision
	DisableCublas bool
	DisableLt     bool
	MemoryBudget  int64
}

// DefaultPrecision is the precision of a bare "cuda": fp16 keeps 11
// significant bits (bf16 8), enough range for BERT-family activations, and
// runs at the same tensor-core speed.
const DefaultPrecision = FP16

// IsDeviceSpec says whether s names the cuda backend ("cuda" or "cuda:...").
func IsDeviceSpec(s string) bool { return s == "cuda" || strings.HasPrefix(s, "cuda:") }

// ParseDeviceSpec reads a --device value naming the cuda backend.
func ParseDeviceSpec(s string) (DeviceSpec, error) {
	if !IsDeviceSpec(s) {
		return DeviceSpec{}, fmt.Errorf("device %q is not cuda[:options]", s)
	}
	d := DeviceSpec{Precision: DefaultPrecision}
	opts, _ := strings.CutPrefix(s, "cuda")
	opts = strings.TrimPrefix(opts, ":")
	if opts == "" {
		return d, nil
	}
	for _, o := range strings.Split(opts, ",") {
		key, val, hasVal := strings.Cut(strings.TrimSpace(o), "=")
		switch {
		case !hasVal && (key == "fp32" || key == "bf16" || key == "fp16"):
			d.Precision = Precision(key)
		case !hasVal && key == "nocublas":
			d.DisableCublas = true
		case !hasVal && key == "nolt":
			d.DisableLt = true
		case hasVal && key == "gpu":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return DeviceSpec{}, fmt.Errorf("device %q: gpu=%q is not a GPU ordinal", s, val)
			}
			d.Device = n
		case hasVal && key == "budget":
			b, err := parseBytes(val)
			if err != nil {
				return DeviceSpec{}, fmt.Errorf("device %q: budget: %w", s, err)
			}
			d.MemoryBudget = b
		default:
			return DeviceSpec{}, fmt.Errorf("device %q: unknown option %q (fp32, bf16, fp16, gpu=N, nocublas, nolt, budget=SIZE)", s, o)
		}
	}
	return d, nil
}

// parseBytes reads a size: digits with an optional KiB, MiB or GiB suffix.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with KiB, MiB or GiB)", s)
	}
	return n * mult, nil
}
