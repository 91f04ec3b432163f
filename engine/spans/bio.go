package spans

import (
	"github.com/adapterdb/adapterdb/engine/tokenizer"
)

// BIO tags: tag 0 is O (outside every span); label k (an index into the sorted
// label list) has B = 1+2k (the first token of a span) and I = 2+2k (its other
// tokens). A token head has NumTags(len(labels)) outputs.

// Ignore marks a token that has no tag to learn (special tokens, padding,
// tokens with no characters).
const Ignore = -1

// NumTags is the tag count for n labels.
func NumTags(n int) int { return 1 + 2*n }

// TagNames names the tags of labels: O, B-x, I-x, ...
func TagNames(labels []string) []string {
	out := []string{"O"}
	for _, l := range labels {
		out = append(out, "B-"+l, "I-"+l)
	}
	return out
}

// Tag gives each token its BIO tag from spans (sorted, non-overlapping, as
// Parse returns them). A token belongs to a span when their characters
// overlap; the first such token is B, the rest I. Tokens without characters
// are Ignore. index maps a label to its position in the label list; a span
// whose label is not in it tags its tokens O.
func Tag(sp []Span, offs []tokenizer.Offset, index map[string]int) []int {
	tags := make([]int, len(offs))
	k := 0 // the first span that may still overlap a token
	prevSpan := -1
	for i, o := range offs {
		if o.End <= o.Start {
			tags[i] = Ignore
			continue
		}
		for k < len(sp) && sp[k].End <= o.Start {
			k++
		}
		if k == len(sp) || sp[k].Start >= o.End {
			tags[i] = 0
			continue
		}
		lbl, ok := index[sp[k].Label]
		if !ok {
			tags[i] = 0
			continue
		}
		if prevSpan == k {
			tags[i] = 2 + 2*lbl
		} else {
			tags[i] = 1 + 2*lbl
		}
		prevSpan = k
	}
	return tags
}
