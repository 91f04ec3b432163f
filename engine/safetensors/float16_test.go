package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFloat16ToFloat32Known(t *testing.T) {
	cases := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xbc00, -1},
		{0xc000, -2},
		{0x3800, 0.5},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},                  // largest finite
		{0x0400, 6.103515625e-05},        // smallest normal, 2^-14
		{0x0001, 5.960464477539063e-08},  // smallest subnormal, 2^-24
		{0x03ff, 6.097555160522461e-05},  // largest subnormal, 1023·2^-24
		{0x8001, -5.960464477539063e-08}, // negative subnormal
		{0x0200, 3.0517578125e-05},       // 2^-15
		{0x4248, 3.140625},               // pi rounded
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
		{0x5640, 100},
		{0xd640, -100},
		{0x1400, 0.0009765625},  // 2^-10
		{0x3bff, 0.99951171875}, // 1 - 2^-11
		{0x3c01, 1.0009765625},  // 1 + 2^-10
		{0x4900, 10},
		{0x7800, 32768},                  // 2^15
		{0x0002, 1.1920928955078125e-07}, // 2·2^-24
		{0x83ff, -6.097555160522461e-05},
		{0x2e66, 0.0999755859375}, // 0.1 rounded
		{0xb3ff, -0.2498779296875},
		{0x0155, 2.0325183868408203e-05}, // subnormal 341·2^-24
		{0x6a40, 3200},
		{0x1000, 0.00048828125}, // 2^-11
		{0x7bfe, 65472},
		{0x0401, 6.109476089477539e-05}, // smallest normal + 1 ulp
		{0x3e00, 1.5},
		{0x4000, 2},
		{0x4400, 4},
		{0xfbff, -65504},
		{0x8400, -6.103515625e-05},
		{0x2000, 0.0078125}, // 2^-7
		{0x5bd0, 250},
		{0x63d0, 1000},
		{0x7000, 8192},
		{0x3400, 0.25},
		{0x3a00, 0.75},
		{0x3d00, 1.25},
		{0x4500, 5},
		{0x4a00, 12},
		{0x4c00, 16},
		{0x5000, 32},
		{0x5400, 64},
		{0x5800, 128},
		{0x5c00, 256},
		{0x6000, 512},
		{0x6400, 1024},
		{0x6800, 2048},
		{0x6c00, 4096},
		{0x7400, 16384},
		{0x0100, 1.52587890625e-05},     // 2^-16
		{0x0080, 7.62939453125e-06},     // 2^-17
		{0x0004, 2.384185791015625e-07}, // 2^-22
		{0x8000, float32(math.Copysign(0, -1))},
	}
	for _, c := range cases {
		got := Float16ToFloat32(c.h)
		if math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("Float16ToFloat32(%#04x) = %v (%#08x), want %v (%#08x)", c.h, got, math.Float32bits(got), c.want, math.Float32bits(c.want))
		}
	}
	for _, h := range []uint16{0x7c01, 0x7e00, 0xfe00, 0x7fff, 0xfd00} {
		got := Float16ToFloat32(h)
		if !math.IsNaN(float64(got)) {
			t.Errorf("Float16ToFloat32(%#04x) = %v, want NaN", h, got)
		}
		if math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Errorf("Float16ToFloat32(%#04x) lost the NaN's sign", h)
		}
	}
}

// f16Value computes a float16's value from the IEEE 754 definition in float64,
// independently of the bit manipulation in Float16ToFloat32.
func f16Value(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

func TestFloat16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := Float16ToFloat32(h)
		want := f16Value(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			if back := Float32ToFloat16(got); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("%#04x: NaN round-trips to %#04x, not a NaN", h, back)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
		// Every float16 is exactly representable in float32, so narrowing
		// it again must give the same bits.
		if back := Float32ToFloat16(got); back != h {
			t.Fatalf("%#04x → %v → %#04x", h, got, back)
		}
	}
}

func TestFloat32ToFloat16Rounding(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		f    float32
		want uint16
	}{
		{65504, 0x7bff},
		{65519, 0x7bff}, // below the midpoint to 65536
		{65520, 0x7c00}, // midpoint: ties to even = 2^16, which is Inf
		{1e6, 0x7c00},
		{-1e6, 0xfc00},
		{inf, 0x7c00},
		{-inf, 0xfc00},
		{1 + 1.0/2048, 0x3c00},                     // tie between 1 and 1+2^-10: even (1)
		{1 + 3.0/2048, 0x3c02},                     // tie between 1+2^-10 and 1+2^-9: even
		{1 + 1.5/2048, 0x3c01},                     // above the midpoint
		{float32(math.Ldexp(1, -25)), 0x0000},      // half the smallest subnormal: ties to 0
		{float32(math.Ldexp(1.0001, -25)), 0x0001}, // just above
		{float32(math.Ldexp(3, -25)), 0x0002},      // 1.5 units: ties to even (2)
		{float32(math.Ldexp(5, -25)), 0x0002},      // 2.5 units: ties to even (2)
		{float32(math.Ldexp(1, -26)), 0x0000},
		{float32(math.Ldexp(2047, -25)), 0x0400}, // 1023.5 units: ties to even, carries into the smallest normal
		{float32(math.Ldexp(1, -14)), 0x0400},
		{float32(math.Copysign(0, -1)), 0x8000},
		{math.Float32frombits(1), 0x0000}, // float32 subnormal
		{-math.Float32frombits(0x007fffff), 0x8000},
		{0.1, 0x2e66},
		{-2, 0xc000},
	}
	for _, c := range cases {
		if got := Float32ToFloat16(c.f); got != c.want {
			t.Errorf("Float32ToFloat16(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if got := Float32ToFloat16(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("Float32ToFloat16(NaN) = %#04x, not a NaN", got)
	}
	// A NaN whose payload lies only in the low bits must stay NaN.
	if got := Float32ToFloat16(math.Float32frombits(0x7f800001)); got&0x3ff == 0 {
		t.Errorf("signalling NaN narrowed to %#04x", got)
	}
}

// nearestF16 finds the float16 nearest to f (ties to even) by search over the
// values themselves, independently of Float32ToFloat16's bit arithmetic.
func nearestF16(f float32) uint16 {
	x := float64(f)
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	// Binary search the largest non-negative finite h with value ≤ x.
	lo, hi := uint16(0), uint16(0x7bff)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if f16Value(mid) <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	below := lo
	if f16Value(below) == x {
		return sign | below
	}
	// The value above "below" is below+1; past the largest finite it is the
	// overflow threshold 65536 (rounding there gives Inf).
	next := 65536.0
	if below < 0x7bff {
		next = f16Value(below + 1)
	}
	dlo, dhi := x-f16Value(below), next-x
	switch {
	case dlo < dhi:
		return sign | below
	case dhi < dlo || below&1 == 1:
		return sign | (below + 1)
	}
	return sign | below
}

func TestFloat32ToFloat16Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		var f float32
		if i%2 == 0 {
			f = math.Float32frombits(r.Uint32()) // any bits
		} else {
			// Concentrate on the float16 range, including subnormals.
			f = float32(math.Ldexp(r.Float64()*2-1, r.IntN(46)-28))
		}
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		got, want := Float32ToFloat16(f), nearestF16(f)
		if got != want {
			t.Fatalf("Float32ToFloat16(%v = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
}

func TestBFloat16(t *testing.T) {
	known := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3f80, 1},
		{0xc000, -2},
		{0x4049, 3.140625},
		{0x7f7f, 3.3895313892515355e+38}, // largest finite
		{0x0080, 1.1754943508222875e-38}, // smallest normal
		{0x0001, 9.183549615799121e-41},  // smallest subnormal
		{0x7f80, float32(math.Inf(1))},
		{0xff80, float32(math.Inf(-1))},
		{0x3dcd, 0.10009765625},
	}
	for _, c := range known {
		if got := BFloat16ToFloat32(c.h); got != c.want {
			t.Errorf("BFloat16ToFloat32(%#04x) = %v, want %v", c.h, got, c.want)
		}
		if back := Float32ToBFloat16(c.want); back != c.h {
			t.Errorf("Float32ToBFloat16(%v) = %#04x, want %#04x", c.want, back, c.h)
		}
	}
	if !math.IsNaN(float64(BFloat16ToFloat32(0x7fc0))) || !math.IsNaN(float64(BFloat16ToFloat32(0xff81))) {
		t.Error("bf16 NaN not widened to NaN")
	}
	rounding := []struct {
		bits uint32
		want uint16
	}{
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, odd below: up
		{0x3f808001, 0x3f81}, // above the tie
		{0x3f807fff, 0x3f80}, // below the tie
		{0x7f7fffff, 0x7f80}, // largest float32 rounds up to Inf
		{0x7f800001, 0x7fc0}, // signalling NaN with a low payload stays NaN
		{0xffc00000, 0xffc0}, // negative quiet NaN
	}
	for _, c := range rounding {
		if got := Float32ToBFloat16(math.Float32frombits(c.bits)); got != c.want {
			t.Errorf("Float32ToBFloat16(%#08x) = %#04x, want %#04x", c.bits, got, c.want)
		}
	}
	// Against the definition: the nearest of the two bf16 neighbours.
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		b := r.Uint32()
		f := math.Float32frombits(b)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		lo := uint16(b >> 16) // truncated towards zero
		hi := lo + 1
		x := math.Abs(float64(f))
		dlo := x - math.Abs(float64(BFloat16ToFloat32(lo)))
		next := math.Abs(float64(BFloat16ToFloat32(hi)))
		if math.IsInf(next, 0) {
			next = math.Ldexp(1, 128) // rounding overflows to Inf from 2^128 on
		}
		dhi := next - x
		want := lo
		if dhi < dlo || (dhi == dlo && lo&1 == 1) {
			want = hi
		}
		if got := Float32ToBFloat16(f); got != want {
			t.Fatalf("Float32ToBFloat16(%#08x) = %#04x, want %#04x", b, got, want)
		}
	}
	// Widening is exact, so every non-NaN bf16 survives a round trip.
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BFloat16ToFloat32(h)
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := Float32ToBFloat16(f); back != h {
			t.Fatalf("%#04x → %v → %#04x", h, f, back)
		}
	}
}
