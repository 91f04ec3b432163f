package adapter

import (
	"fmt"
	"math"
	"sort"

	"github.com/adapterdb/adapterdb/engine/spans"
)

// The head is a linear map on the pooled feature, s = pooled·Wᵀ + b, small
// enough ([n, H]) to run on the host in float64 accumulation. A sequence
// labeling head is the same map applied to every token's final hidden state:
// its rows are tokens, not texts.

// Logits computes s [B, n] for B pooled rows [B, H] (token rows for sequence
// labeling).
func (s *Set) Logits(pooled []float32, B int) []float32 {
	H, n := s.Hidden, s.Outputs()
	out := make([]float32, B*n)
	for i := 0; i < B; i++ {
		x := pooled[i*H : (i+1)*H]
		for j := 0; j < n; j++ {
			w := s.HeadW[j*H : (j+1)*H]
			acc := float64(s.HeadB[j])
			for k, v := range x {
				acc += float64(v) * float64(w[k])
			}
			out[i*n+j] = float32(acc)
		}
	}
	return out
}

// Targets are a batch's training targets; which field is used depends on the
// task. Targets are indices into Labels (classification), standardised values
// (regression) or a 0/1 matrix [B, n] (multilabel).
type Targets struct {
	Class []int
	Value []float32
	Multi []float32
	// ClassWeight, when set, weighs each row's loss by the weight of its class
	// and normalises by the weights' sum (balanced training on skewed data).
	ClassWeight []float64
	// Tags are sequence labeling's per-token targets: a BIO tag index per
	// token row, or -1 (spans.Ignore) for rows without one (special tokens,
	// padding).
	Tags []int
}

// Loss returns the mean loss over B rows and ∂loss/∂logits:
//
//	classification: (1/B) Σ_i [logsumexp(s_i) − s_i[y_i]]
//	regression:     (1/B) Σ_i (s_i − t_i)²
//	multilabel:     (1/(B·n)) Σ_ij [max(s,0) − s·t + log(1 + e^−|s|)]
//	sequence labeling (rows are tokens, K of them tagged):
//	                (1/K) Σ_tagged i [logsumexp(s_i) − s_i[tag_i]]
func (s *Set) Loss(logits []float32, B int, t Targets) (float64, []float32, error) {
	n := s.Outputs()
	d := make([]float32, B*n)
	var loss float64
	switch s.Task {
	case Classification:
		if len(t.Class) != B {
			return 0, nil, fmt.Errorf("%d class targets for %d rows", len(t.Class), B)
		}
		norm := 0.0
		for i := 0; i < B; i++ {
			y := t.Class[i]
			if y < 0 || y >= n {
				return 0, nil, fmt.Errorf("class %d out of range", y)
			}
			w := 1.0
			if t.ClassWeight != nil {
				w = t.ClassWeight[y]
			}
			norm += w
			row := logits[i*n : (i+1)*n]
			p := softmax(row)
			loss += w * (logSumExp(row) - float64(row[y]))
			for j := range row {
				g := p[j]
				if j == y {
					g -= 1
				}
				d[i*n+j] = float32(w * g)
			}
		}
		loss /= norm
		for i := range d {
			d[i] = float32(float64(d[i]) / norm)
		}
	case Regression:
		if len(t.Value) != B {
			return 0, nil, fmt.Errorf("%d targets for %d rows", len(t.Value), B)
		}
		for i := 0; i < B; i++ {
			e := float64(logits[i]) - float64(t.Value[i])
			loss += e * e
			d[i] = float32(2 * e / float64(B))
		}
		loss /= float64(B)
	case Multilabel:
		if len(t.Multi) != B*n {
			return 0, nil, fmt.Errorf("%d multilabel targets for %d×%d", len(t.Multi), B, n)
		}
		for i, sv := range logits[:B*n] {
			x, y := float64(sv), float64(t.Multi[i])
			loss += math.Max(x, 0) - x*y + math.Log1p(math.Exp(-math.Abs(x)))
			d[i] = float32((sigmoid(x) - y) / float64(B*n))
		}
		loss /= float64(B * n)
	case SequenceLabeling:
		if len(t.Tags) != B {
			return 0, nil, fmt.Errorf("%d tag targets for %d token rows", len(t.Tags), B)
		}
		k := 0
		for _, y := range t.Tags {
			if y >= n {
				return 0, nil, fmt.Errorf("tag %d out of range", y)
			}
			if y >= 0 {
				k++
			}
		}
		if k == 0 {
			return 0, d, nil
		}
		for i, y := range t.Tags {
			if y < 0 {
				continue
			}
			row := logits[i*n : (i+1)*n]
			p := softmax(row)
			loss += logSumExp(row) - float64(row[y])
			for j := range row {
				g := p[j]
				if j == y {
					g -= 1
				}
				d[i*n+j] = float32(g / float64(k))
			}
		}
		loss /= float64(k)
	default:
		return 0, nil, fmt.Errorf("unknown task %q", s.Task)
	}
	return loss, d, nil
}

// HeadBackward accumulates the head's gradients into grad (dW += dsᵀ·pooled,
// db += Σ ds) and returns ∂loss/∂pooled [B, H] = ds·W.
func (s *Set) HeadBackward(grad *Set, pooled, dLogits []float32, B int) []float32 {
	H, n := s.Hidden, s.Outputs()
	dPooled := make([]float32, B*H)
	for i := 0; i < B; i++ {
		x := pooled[i*H : (i+1)*H]
		dx := dPooled[i*H : (i+1)*H]
		for j := 0; j < n; j++ {
			g := dLogits[i*n+j]
			if g == 0 {
				continue
			}
			grad.HeadB[j] += g
			w := s.HeadW[j*H : (j+1)*H]
			dw := grad.HeadW[j*H : (j+1)*H]
			for k := range x {
				dw[k] += g * x[k]
				dx[k] += g * w[k]
			}
		}
	}
	return dPooled
}

// Prediction is one row's output.
type Prediction struct {
	Label  string             // classification: the most probable label
	Labels []string           // multilabel: labels with probability ≥ 0.5, in label order
	Value  float64            // regression: de-standardised value
	Proba  map[string]float64 // classification, multilabel: probability per label
	// Entities are a sequence labeling prediction: the text's spans, sorted
	// by start (never nil for such an adapter; engine.Labeling decodes them).
	Entities []spans.Entity
}

// Predict turns logits [B, n] into predictions.
func (s *Set) Predict(logits []float32, B int) []Prediction {
	n := s.Outputs()
	out := make([]Prediction, B)
	for i := 0; i < B; i++ {
		row := logits[i*n : (i+1)*n]
		switch s.Task {
		case Classification:
			p := softmax(row)
			best := 0
			out[i].Proba = make(map[string]float64, n)
			for j, v := range p {
				out[i].Proba[s.Labels[j]] = v
				if v > p[best] {
					best = j
				}
			}
			out[i].Label = s.Labels[best]
		case Regression:
			out[i].Value = float64(row[0])*s.TargetStd + s.TargetMean
		case Multilabel:
			out[i].Proba = make(map[string]float64, n)
			out[i].Labels = []string{}
			for j, v := range row {
				p := sigmoid(float64(v))
				out[i].Proba[s.Labels[j]] = p
				if p >= 0.5 {
					out[i].Labels = append(out[i].Labels, s.Labels[j])
				}
			}
		}
	}
	return out
}

// TagProbs turns token logits [T, n] into tag probabilities [T, n] (a
// softmax per token), for spans.Decode.
func TagProbs(logits []float32, T, n int) []float32 {
	out := make([]float32, T*n)
	for i := 0; i < T; i++ {
		for j, p := range softmax(logits[i*n : (i+1)*n]) {
			out[i*n+j] = float32(p)
		}
	}
	return out
}

// SortedLabels returns labels sorted (the order a head's outputs take).
func SortedLabels(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func softmax(row []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(row))
	sum := 0.0
	for j, v := range row {
		p[j] = math.Exp(float64(v) - mx)
		sum += p[j]
	}
	for j := range p {
		p[j] /= sum
	}
	return p
}

func logSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(sum)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
