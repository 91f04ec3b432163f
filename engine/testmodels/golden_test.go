package testmodels

import (
	"math"
	"testing"
)

// A NaN or a length mismatch must fail every tolerance check.
func TestMaxAbsDiff(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 2}, []float32{1, 2.5}, 0.5},
		{[]float32{1, nan}, []float32{1, 2}, math.Inf(1)},
		{[]float32{nan, 1}, []float32{nan, 1}, math.Inf(1)},
		{[]float32{1}, []float32{1, 2}, math.Inf(1)},
	} {
		if got := MaxAbsDiff(c.a, c.b); got != c.want {
			t.Errorf("MaxAbsDiff(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
