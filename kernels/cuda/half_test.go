package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
)

// nearestIn returns the value among cands nearest to x, ties to the one whose
// bits are even: the IEEE rounding the conversions must implement.
func nearestIn(x float64, cands []uint16, val func(uint16) float64) uint16 {
	best := cands[0]
	for _, c := range cands[1:] {
		db, dc := math.Abs(val(best)-x), math.Abs(val(c)-x)
		if dc < db || (dc == db && c&1 == 0) {
			best = c
		}
	}
	return best
}

// TestF16Exhaustive: every half converts to float32 exactly and back to
// itself, and values between neighbours round to the nearest, ties to even.
func TestF16Exhaustive(t *testing.T) {
	val := func(h uint16) float64 { return float64(f16ToF32(h)) }
	for h := 0; h < 1<<16; h++ {
		u := uint16(h)
		f := f16ToF32(u)
		if u&0x7c00 == 0x7c00 && u&0x3ff != 0 {
			if !math.IsNaN(float64(f)) || f32ToF16(f)&0x7c00 != 0x7c00 || f32ToF16(f)&0x3ff == 0 {
				t.Fatalf("NaN %#04x → %v → %#04x", u, f, f32ToF16(f))
			}
			continue
		}
		if back := f32ToF16(f); back != u {
			t.Fatalf("%#04x → %v → %#04x", u, f, back)
		}
		// The midpoint to the next half up (same sign) rounds to even, and
		// the float32 values just inside it round to the nearer side.
		next := u + 1
		if u&0x7fff >= 0x7bff { // the largest finite half, infinities
			continue
		}
		mid := (val(u) + val(next)) / 2
		m32 := float32(mid) // exact: halves have 11 significant bits
		if got, want := f32ToF16(m32), nearestIn(mid, []uint16{u, next}, val); got != want {
			t.Fatalf("midpoint %v of %#04x and %#04x → %#04x, want %#04x", mid, u, next, got, want)
		}
		lo := math.Nextafter32(m32, float32(val(u)))
		hi := math.Nextafter32(m32, float32(val(next)))
		if f32ToF16(lo) != u || f32ToF16(hi) != next {
			t.Fatalf("around the midpoint of %#04x and %#04x: %#04x, %#04x", u, next, f32ToF16(lo), f32ToF16(hi))
		}
	}
}

func TestF16Edges(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000},
		{65504, 0x7bff}, {65519.99, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{float32(math.Ldexp(1, -24)), 0x0001}, {float32(math.Ldexp(1, -25)), 0}, // tie with 0: even
		{float32(math.Ldexp(1.5, -25)), 0x0001}, {float32(math.Ldexp(1, -14)), 0x0400},
		{float32(math.Ldexp(1023, -24)), 0x03ff}, {1e-30, 0},
	}
	for _, c := range cases {
		if got := f32ToF16(c.f); got != c.want {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if !math.IsNaN(float64(f16ToF32(f32ToF16(float32(math.NaN()))))) {
		t.Error("NaN does not survive fp16")
	}
}

// TestBF16 checks bfloat16 rounding against the nearest of the two
// neighbours on random and special float32 values.
func TestBF16(t *testing.T) {
	// Rounding works as if the exponent were unbounded; infinity stands at
	// 2^128 for the comparison.
	val := func(h uint16) float64 {
		if h&0x7fff == 0x7f80 {
			return math.Copysign(math.Ldexp(1, 128), float64(bf16ToF32(h)))
		}
		return float64(bf16ToF32(h))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(f float32) {
		b := math.Float32bits(f)
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(bf16ToF32(f32ToBF16(f)))) {
				t.Fatalf("NaN %#08x lost", b)
			}
			return
		}
		down := uint16(b >> 16)
		if float64(f) == val(down) {
			if got := f32ToBF16(f); got != down {
				t.Fatalf("exact %v → %#04x, want %#04x", f, got, down)
			}
			return
		}
		up := down + 1 // the next value away from zero (same sign)
		want := nearestIn(float64(f), []uint16{down, up}, val)
		if got := f32ToBF16(f); got != want {
			t.Fatalf("%v (%#08x) → %#04x, want %#04x", f, b, got, want)
		}
	}
	for range 1 << 20 {
		check(math.Float32frombits(rng.Uint32()))
	}
	for _, f := range []float32{0, 1, -1, 1.00390625, 1.005859375, math.MaxFloat32, -math.MaxFloat32,
		float32(math.Inf(1)), float32(math.NaN()), 1e-40} {
		check(f)
	}
	if got := f32ToBF16(math.MaxFloat32); got != 0x7f80 {
		t.Errorf("MaxFloat32 → %#04x, want infinity", got)
	}
}

func TestEncodeDecode(t *testing.T) {
	src := []float32{0, 1, -2.5, 3.14159, 65504, 1e-3}
	for _, p := range []Precision{FP32, BF16, FP16} {
		buf := make([]byte, len(src)*p.size())
		encode(p, buf, src)
		got := make([]float32, len(src))
		decode(p, got, buf)
		for i := range src {
			rel := math.Abs(float64(got[i]-src[i])) / math.Max(math.Abs(float64(src[i])), 1e-30)
			lim := map[Precision]float64{FP32: 0, BF16: 1.0 / 256, FP16: 1.0 / 2048}[p]
			if rel > lim {
				t.Errorf("%s: %v → %v", p, src[i], got[i])
			}
		}
	}
}

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"": FP32, "fp32": FP32, "bf16": BF16, "fp16": FP16} {
		if got, err := ParsePrecision(s); err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParsePrecision("fp8"); err == nil {
		t.Error("fp8 accepted")
	}
}
