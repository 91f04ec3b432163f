package spans

import (
	"github.com/adapterdb/adapterdb/engine/tokenizer"
)

// Entity is a predicted span: its characters, label, text and score (the
// mean probability of its tokens' tags).
type Entity struct {
	Start int     `json:"start"`
	End   int     `json:"end"`
	Label string  `json:"label"`
	Text  string  `json:"text"`
	Score float64 `json:"score"`
	// Proba is each label's probability for the span's characters: the mean
	// over its tokens of P(B-label) + P(I-label), and "O" for none.
	Proba map[string]float64 `json:"-"`
}

// Decode turns per-token tag probabilities probs [T, NumTags(len(labels))]
// into spans of text, sorted by start. A token's tag is its most probable
// one; B-x starts a span, I-x continues a span of label x (or starts one
// after O or another label: a lenient reading of stray I tags), O ends it.
// Tokens without characters are skipped. Tokens sharing characters (a
// character split between byte-level tokens) extend the same span.
func Decode(text []rune, offs []tokenizer.Offset, probs []float32, labels []string) []Entity {
	nt := NumTags(len(labels))
	var out []Entity
	cur := -1 // label of the open span; -1 none
	var sum float64
	var count int
	var first, last int // tokens of the open span
	close := func() {
		if cur < 0 {
			return
		}
		e := Entity{Start: offs[first].Start, End: offs[last].End, Label: labels[cur],
			Score: sum / float64(count), Proba: map[string]float64{}}
		e.Text = string(text[e.Start:e.End])
		var o float64
		n := 0
		for t := first; t <= last; t++ {
			if offs[t].End <= offs[t].Start {
				continue
			}
			row := probs[t*nt : (t+1)*nt]
			o += float64(row[0])
			for k, l := range labels {
				e.Proba[l] += float64(row[1+2*k] + row[2+2*k])
			}
			n++
		}
		for _, l := range labels {
			e.Proba[l] /= float64(n)
		}
		e.Proba["O"] = o / float64(n)
		out = append(out, e)
		cur = -1
	}
	for t, o := range offs {
		if o.End <= o.Start {
			continue
		}
		row := probs[t*nt : (t+1)*nt]
		best := 0
		for k := 1; k < nt; k++ {
			if row[k] > row[best] {
				best = k
			}
		}
		switch {
		case best == 0:
			close()
		case cur >= 0 && (best == 2+2*cur || o.Start < offs[last].End):
			// I of the open span's label, or a token inside the last one's
			// characters: extend.
			last = t
			sum += float64(row[best])
			count++
		default:
			close()
			cur, first, last = (best-1)/2, t, t
			sum, count = float64(row[best]), 1
		}
	}
	close()
	return out
}
