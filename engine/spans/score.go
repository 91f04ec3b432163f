package spans

import "sort"

// Counts are a label's span-level matches: a predicted span is a true
// positive when a gold span has the same start, end and label.
type Counts struct {
	TP, FP, FN int
}

// Add adds c2 to c.
func (c *Counts) Add(c2 Counts) { c.TP, c.FP, c.FN = c.TP+c2.TP, c.FP+c2.FP, c.FN+c2.FN }

// Precision is TP/(TP+FP), 0 when nothing was predicted.
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN), 0 when there was nothing to find.
func (c Counts) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Counts) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Score counts exact span matches of predictions against gold spans, one
// text at a time, overall (micro-averaged) and per label.
type Score struct {
	Overall  Counts
	PerLabel map[string]Counts
}

// NewScore is an empty score.
func NewScore() *Score { return &Score{PerLabel: map[string]Counts{}} }

// Add scores one text.
func (s *Score) Add(gold, pred []Span) {
	type key struct {
		start, end int
		label      string
	}
	g := map[key]bool{}
	for _, x := range gold {
		g[key{x.Start, x.End, x.Label}] = true
	}
	for _, x := range pred {
		c := s.PerLabel[x.Label]
		k := key{x.Start, x.End, x.Label}
		if g[k] {
			c.TP++
			delete(g, k)
		} else {
			c.FP++
		}
		s.PerLabel[x.Label] = c
	}
	for k := range g {
		c := s.PerLabel[k.label]
		c.FN++
		s.PerLabel[k.label] = c
	}
	s.Overall = Counts{}
	for _, c := range s.PerLabel {
		s.Overall.Add(c)
	}
}

// LabelNames are the labels scored, sorted.
func (s *Score) LabelNames() []string {
	out := make([]string, 0, len(s.PerLabel))
	for l := range s.PerLabel {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// AsSpans drops the entities' text and scores.
func AsSpans(es []Entity) []Span {
	out := make([]Span, len(es))
	for i, e := range es {
		out[i] = Span{Start: e.Start, End: e.End, Label: e.Label}
	}
	return out
}
