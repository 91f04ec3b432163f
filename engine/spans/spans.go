// Package spans is sequence labeling's data: labelled character spans of a
// text (parsed from the JSON users give), their BIO tags on tokens, the
// decoding of per-token tag probabilities back to spans, the overlapping
// windows long texts are labelled in, and span-level scoring.
//
// Offsets are Unicode code points of the text, end exclusive, everywhere.
package spans

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Span is one labelled stretch of a text: code points [Start, End).
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Label string `json:"label"`
}

// rawSpan reads a span with every field required and typed.
type rawSpan struct {
	Start *json.Number `json:"start"`
	End   *json.Number `json:"end"`
	Label *string      `json:"label"`
}

// Parse reads a JSON array of {"start", "end", "label"} for text and returns
// the spans sorted by start. Spans must be non-empty, inside the text and not
// overlap; labels must be non-empty. An empty array (or JSON null) is no
// span. Errors name the span (1-based, in the order given).
func Parse(js, text string) ([]Span, error) {
	n := utf8.RuneCountInString(text)
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var raw []rawSpan
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("spans are not a JSON array of {\"start\", \"end\", \"label\"}: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("spans: text after the JSON array")
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("spans: text after the JSON array")
	}
	out := make([]Span, len(raw))
	for i, r := range raw {
		if r.Start == nil || r.End == nil || r.Label == nil {
			return nil, fmt.Errorf("span %d: needs \"start\", \"end\" and \"label\"", i+1)
		}
		s, err1 := r.Start.Int64()
		e, err2 := r.End.Int64()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("span %d: start %s and end %s must be integers", i+1, r.Start, r.End)
		}
		lbl := strings.TrimSpace(*r.Label)
		switch {
		case lbl == "":
			return nil, fmt.Errorf("span %d: empty label", i+1)
		case s < 0 || e > int64(n):
			return nil, fmt.Errorf("span %d [%d, %d) is outside the text (%d characters)", i+1, s, e, n)
		case e <= s:
			return nil, fmt.Errorf("span %d [%d, %d) is empty (end is exclusive and must exceed start)", i+1, s, e)
		}
		out[i] = Span{Start: int(s), End: int(e), Label: lbl}
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return out[order[a]].Start < out[order[b]].Start })
	sorted := make([]Span, len(out))
	for i, k := range order {
		sorted[i] = out[k]
		if i > 0 && sorted[i].Start < sorted[i-1].End {
			return nil, fmt.Errorf("span %d [%d, %d) overlaps span %d [%d, %d)", k+1, sorted[i].Start, sorted[i].End,
				order[i-1]+1, sorted[i-1].Start, sorted[i-1].End)
		}
	}
	return sorted, nil
}

// Format writes spans as the JSON array Parse reads.
func Format(sp []Span) string {
	if sp == nil {
		sp = []Span{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(sp) // Span always encodes
	return strings.TrimSpace(b.String())
}

// Labels are the distinct labels of spans, sorted.
func Labels(all [][]Span) []string {
	seen := map[string]bool{}
	for _, sp := range all {
		for _, s := range sp {
			seen[s.Label] = true
		}
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
