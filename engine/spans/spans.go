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
	"errors"
	"fmt"
	"io"
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
	elems, err := splitArray(js)
	if err != nil {
		return nil, err
	}
	out := make([]Span, len(elems))
	for i, el := range elems {
		r, err := decodeSpan(el)
		if err != nil {
			return nil, fmt.Errorf("span %d: %v", i+1, err)
		}
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

// notArray is the error for spans that are not a JSON array of objects.
const notArray = "spans are not a JSON array of {\"start\", \"end\", \"label\"}"

// splitArray reads js as one JSON array (or null: no element) and returns
// its elements undecoded. Errors say what was found instead, in JSON's terms.
func splitArray(js string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(strings.NewReader(js))
	var elems []json.RawMessage
	if err := dec.Decode(&elems); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: got a JSON %s", notArray, te.Value)
		}
		return nil, fmt.Errorf("%s: %v", notArray, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("spans: text after the JSON array")
	}
	return elems, nil
}

// decodeSpan reads one element of the array: an object whose keys are
// start, end and label, with numbers for the offsets and a string label.
func decodeSpan(el json.RawMessage) (rawSpan, error) {
	var r rawSpan
	dec := json.NewDecoder(bytes.NewReader(el))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	err := dec.Decode(&r)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return r, nil
	case errors.As(err, &te) && te.Field != "":
		return r, fmt.Errorf("%q is a JSON %s; want %s", te.Field, te.Value, map[string]string{
			"start": "an integer", "end": "an integer", "label": "a string"}[te.Field])
	case errors.As(err, &te):
		return r, fmt.Errorf("got a JSON %s; want an object {\"start\", \"end\", \"label\"}", te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return r, fmt.Errorf("unknown key %s (spans have \"start\", \"end\" and \"label\")",
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return r, err
}
