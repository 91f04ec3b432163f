package adapter

import (
	"math"
	"testing"

	"github.com/adapterdb/adapterdb/engine/rng"
)

// TestTokenHeadGradients checks the sequence labeling head's forward, loss and
// backward against finite differences of the loss: for the head's weights and
// bias and for the token rows it reads. Ignored tokens get no gradient.
func TestTokenHeadGradients(t *testing.T) {
	const H, T = 6, 5
	s := &Set{Spec: Spec{Task: SequenceLabeling, Labels: []string{"LOC", "PER"}}, Hidden: H}
	n := s.Outputs()
	if n != 5 {
		t.Fatalf("outputs %d, want 5 (O, B/I per label)", n)
	}
	r := rng.Named(7, "tokenhead")
	s.HeadW, s.HeadB = make([]float32, n*H), make([]float32, n)
	for i := range s.HeadW {
		s.HeadW[i] = float32(0.5 * r.Normal())
	}
	for i := range s.HeadB {
		s.HeadB[i] = float32(0.1 * r.Normal())
	}
	x := make([]float32, T*H)
	for i := range x {
		x[i] = float32(r.Normal())
	}
	tags := Targets{Tags: []int{-1, 3, 4, 0, -1}}
	lossAt := func() float64 {
		l, _, err := s.Loss(s.Logits(x, T), T, tags)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	loss, dLogits, err := s.Loss(s.Logits(x, T), T, tags)
	if err != nil {
		t.Fatal(err)
	}
	if want := lossAt(); loss != want || !(loss > 0) {
		t.Fatalf("loss %v", loss)
	}
	grad := &Set{Spec: s.Spec, Hidden: H, HeadW: make([]float32, n*H), HeadB: make([]float32, n)}
	dx := s.HeadBackward(grad, x, dLogits, T)
	check := func(name string, v []float32, g []float32) {
		for i := range v {
			const eps = 1e-2
			old := v[i]
			v[i] = old + eps
			lp := lossAt()
			v[i] = old - eps
			lm := lossAt()
			v[i] = old
			num := (lp - lm) / (2 * eps)
			if d := math.Abs(num - float64(g[i])); d > 2e-3+2e-2*math.Abs(num) {
				t.Fatalf("%s[%d]: analytic %v, numeric %v", name, i, g[i], num)
			}
		}
	}
	check("head.weight", s.HeadW, grad.HeadW)
	check("head.bias", s.HeadB, grad.HeadB)
	check("tokens", x, dx)
	for _, i := range []int{0, 4} {
		for _, v := range dx[i*H : (i+1)*H] {
			if v != 0 {
				t.Fatalf("ignored token %d has gradient %v", i, dx[i*H:(i+1)*H])
			}
		}
	}
	// All tokens ignored: no loss, no gradient.
	if l, d, err := s.Loss(s.Logits(x, T), T, Targets{Tags: []int{-1, -1, -1, -1, -1}}); err != nil || l != 0 || d[0] != 0 {
		t.Fatalf("all ignored: %v %v %v", l, d[:3], err)
	}
	if _, _, err := s.Loss(s.Logits(x, T), T, Targets{Tags: []int{0, 5, 0, 0, 0}}); err == nil {
		t.Fatal("tag 5 of 5 outputs accepted")
	}
	p := TagProbs(s.Logits(x, T), T, n)
	for i := 0; i < T; i++ {
		sum := 0.0
		for _, v := range p[i*n : (i+1)*n] {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Fatalf("token %d probabilities sum to %v", i, sum)
		}
	}
}
