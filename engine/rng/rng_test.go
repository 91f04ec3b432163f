package rng

import (
	"math"
	"testing"
)

// The reference stream of SplitMix64 (Steele, Lea and Flood 2014) for seed 0,
// as printed by the authors' C code: the generator must never drift, since
// demo weights, adapter initialisation and shuffles are all derived from it.
func TestSplitMix64Reference(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec}
	s := New(0)
	for i, w := range want {
		if got := s.Uint64(); got != w {
			t.Fatalf("draw %d: %#x, want %#x", i, got, w)
		}
	}
}

func TestSameSeedSameStream(t *testing.T) {
	a, b := Named(42, "layer.0.weight"), Named(42, "layer.0.weight")
	c := Named(42, "layer.1.weight")
	same := 0
	for range 100 {
		x, y, z := a.Uint64(), b.Uint64(), c.Uint64()
		if x != y {
			t.Fatal("equal seeds and names gave different streams")
		}
		if x == z {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("streams of different names agree on %d of 100 draws", same)
	}
}

func TestFloat64Range(t *testing.T) {
	s := New(7)
	sum := 0.0
	const n = 100000
	for range n {
		f := s.Float64()
		if f < 0 || f >= 1 {
			t.Fatalf("Float64 %v outside [0, 1)", f)
		}
		u := s.Uniform(3)
		if u < -3 || u >= 3 {
			t.Fatalf("Uniform(3) %v outside [-3, 3)", u)
		}
		sum += f
	}
	// Mean of n uniforms: standard error sqrt(1/12/n) ≈ 0.0009; 5 sigma.
	if m := sum / n; math.Abs(m-0.5) > 0.0046 {
		t.Fatalf("mean %v, want 0.5", m)
	}
}

func TestNormalMoments(t *testing.T) {
	s := New(11)
	const n = 200000
	var sum, sq float64
	for range n {
		x := s.Normal()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("Normal gave %v", x)
		}
		sum += x
		sq += x * x
	}
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	// Standard errors: mean 1/sqrt(n) ≈ 0.0022, variance sqrt(2/n) ≈ 0.0032; 5 sigma.
	if math.Abs(mean) > 0.011 || math.Abs(variance-1) > 0.016 {
		t.Fatalf("mean %v variance %v, want 0 and 1", mean, variance)
	}
}

func TestIntnUniform(t *testing.T) {
	s := New(3)
	const k, n = 7, 70000
	var counts [k]int
	for range n {
		v := s.Intn(k)
		if v < 0 || v >= k {
			t.Fatalf("Intn(%d) = %d", k, v)
		}
		counts[v]++
	}
	// Chi-square with 6 degrees of freedom: 22.46 is the 0.999 quantile.
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - n/k
		chi += d * d / (n / k)
	}
	if chi > 22.46 {
		t.Fatalf("counts %v: chi-square %.1f", counts, chi)
	}
	if s.Intn(1) != 0 {
		t.Fatal("Intn(1) != 0")
	}
}

func TestShuffleIsPermutation(t *testing.T) {
	s := New(5)
	xs := make([]int, 50)
	for i := range xs {
		xs[i] = i
	}
	s.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	seen := make([]bool, len(xs))
	moved := 0
	for i, x := range xs {
		if seen[x] {
			t.Fatalf("%d appears twice", x)
		}
		seen[x] = true
		if x != i {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("Shuffle left every element in place")
	}
	s.Shuffle(0, func(i, j int) { t.Fatal("swap called for n = 0") })
	s.Shuffle(1, func(i, j int) { t.Fatal("swap called for n = 1") })
}
