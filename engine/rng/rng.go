// Package rng is a small deterministic random number generator (SplitMix64).
// It is fully specified here, so everything seeded from it — the demo model's
// weights, adapter initialisation, training shuffles — stays the same across Go
// versions and platforms: same seed, same bytes.
package rng

import (
	"hash/fnv"
	"math"
	"math/bits"
)

// Source is a SplitMix64 stream. It is not safe for concurrent use.
type Source struct{ x uint64 }

// New starts a stream from seed.
func New(seed uint64) *Source { return &Source{x: seed} }

// Named starts a stream from seed mixed with a name, so that independent
// streams (one per tensor, say) do not depend on the order they are drawn in.
func Named(seed uint64, name string) *Source {
	h := fnv.New64a()
	h.Write([]byte(name))
	return New(seed ^ h.Sum64())
}

// Uint64 returns the next 64 random bits.
func (s *Source) Uint64() uint64 {
	s.x += 0x9e3779b97f4a7c15
	z := s.x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 is uniform in [0, 1) with 53 random bits.
func (s *Source) Float64() float64 { return float64(s.Uint64()>>11) / (1 << 53) }

// Uniform is uniform in [-a, a).
func (s *Source) Uniform(a float64) float64 { return a * (2*s.Float64() - 1) }

// Normal is a standard normal draw (Box–Muller, using one of the pair).
func (s *Source) Normal() float64 {
	u := s.Float64()
	for u == 0 {
		u = s.Float64()
	}
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*s.Float64())
}

// Intn is uniform in [0, n) for n > 0 (Lemire's multiply-shift; the tiny bias
// for huge n does not matter for shuffles and splits).
func (s *Source) Intn(n int) int {
	hi, _ := bits.Mul64(s.Uint64(), uint64(n))
	return int(hi)
}

// Shuffle permutes n elements with swap (Fisher–Yates).
func (s *Source) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, s.Intn(i+1))
	}
}
