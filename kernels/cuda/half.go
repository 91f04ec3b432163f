package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// Precision is how the backend stores values on the device.
type Precision string

const (
	FP32 Precision = "fp32" // float32 storage and arithmetic: the golden path
	BF16 Precision = "bf16" // bfloat16 storage, fp32 arithmetic, tensor-core GEMMs
	FP16 Precision = "fp16" // IEEE half storage, fp32 arithmetic, tensor-core GEMMs
)

// ParsePrecision reads "fp32", "bf16" or "fp16" ("" is fp32).
func ParsePrecision(s string) (Precision, error) {
	switch Precision(s) {
	case "", FP32:
		return FP32, nil
	case BF16, FP16:
		return Precision(s), nil
	}
	return "", fmt.Errorf("unknown precision %q (fp32, bf16 or fp16)", s)
}

// size is the bytes of one stored value.
func (p Precision) size() int {
	if p == FP32 {
		return 4
	}
	return 2
}

// suffix names the kernels of this storage type (kern_entry.h).
func (p Precision) suffix() string {
	switch p {
	case BF16:
		return "bf16"
	case FP16:
		return "f16"
	}
	return "f32"
}

// f32ToBF16 rounds to the nearest bfloat16, ties to even; NaN stays NaN.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f32ToF16 rounds to the nearest IEEE binary16, ties to even: overflow goes to
// infinity, tiny values to subnormals or zero, NaN stays NaN.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return sign | 0x7e00
	case a >= 0x477ff000: // ≥ 65520: past the largest half (65504) by half an ulp
		return sign | 0x7c00
	case a < 0x38800000: // below 2^-14: a multiple of 2^-24
		v := float64(math.Float32frombits(a)) * (1 << 24) // exact
		return sign | uint16(math.RoundToEven(v))
	}
	return sign | uint16((a+0xfff+(a>>13)&1-0x38000000)>>13)
}

func f16ToF32(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10)&31, float64(h&1023)
	switch e {
	case 0:
		return sign * float32(math.Ldexp(m, -24))
	case 31:
		if m != 0 {
			return float32(math.NaN())
		}
		return sign * float32(math.Inf(1))
	}
	return sign * float32(math.Ldexp(m+1024, e-25))
}

// encode stores src in dst (at least len(src)·p.size() bytes) as the device
// holds it.
func encode(p Precision, dst []byte, src []float32) {
	switch p {
	case FP32:
		copy(unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(dst))), len(src)), src)
	case BF16:
		for i, v := range src {
			putU16(dst[2*i:], f32ToBF16(v))
		}
	case FP16:
		for i, v := range src {
			putU16(dst[2*i:], f32ToF16(v))
		}
	}
}

// decode is the inverse of encode.
func decode(p Precision, dst []float32, src []byte) {
	switch p {
	case FP32:
		copy(dst, unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(src))), len(dst)))
	case BF16:
		for i := range dst {
			dst[i] = bf16ToF32(getU16(src[2*i:]))
		}
	case FP16:
		for i := range dst {
			dst[i] = f16ToF32(getU16(src[2*i:]))
		}
	}
}

// Device memory is little-endian, as is every host CUDA runs on (x86-64,
// arm64): fp32 values are copied as they are.
func putU16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func getU16(b []byte) uint16    { return uint16(b[0]) | uint16(b[1])<<8 }
