package spans

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/adapterdb/adapterdb/engine/tokenizer"
)

func TestParse(t *testing.T) {
	text := "Anna lives in Zürich." // 21 code points
	got, err := Parse(`[{"start":14,"end":20,"label":"LOC"},{"start":0,"end":4,"label":"PER"}]`, text)
	if err != nil {
		t.Fatal(err)
	}
	want := []Span{{0, 4, "PER"}, {14, 20, "LOC"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	empty, err := Parse(" [] ", text)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty array: %v %v", empty, err)
	}
	if Format(empty) != "[]" || Format(want) != `[{"start":0,"end":4,"label":"PER"},{"start":14,"end":20,"label":"LOC"}]` {
		t.Fatalf("Format: %s / %s", Format(got), Format(want))
	}
}

func TestParseErrors(t *testing.T) {
	text := "Anna lives in Zürich."
	for _, c := range []struct{ js, want string }{
		{`not json`, "not a JSON array"},
		{`{"start":0}`, "not a JSON array of {\"start\", \"end\", \"label\"}: got a JSON object"},
		{`42`, "not a JSON array of {\"start\", \"end\", \"label\"}: got a JSON number"},
		{`[1]`, "span 1: got a JSON number; want an object"},
		{`[{"start":0,"end":4,"label":"PER"},[0,4]]`, "span 2: got a JSON array; want an object"},
		{`[{"start":0,"end":4,"label":7}]`, `span 1: "label" is a JSON number; want a string`},
		{`[{"start":true,"end":4,"label":"PER"}]`, `span 1: "start" is a JSON bool; want an integer`},
		{`[{"start":0,"end":4,"label":"PER","x":1}]`, `span 1: unknown key "x"`},
		{`[{"start":0,"end":4,"label":"PER"}] x`, "after the JSON array"},
		{`[{"start":0,"end":4}]`, "span 1: needs"},
		{`[{"start":0,"end":4,"label":" "}]`, "span 1: empty label"},
		{`[{"start":0.5,"end":4,"label":"PER"}]`, "must be integers"},
		{`[{"start":0,"end":4,"label":"PER"},{"start":15,"end":22,"label":"LOC"}]`, "span 2 [15, 22) is outside the text (21 characters)"},
		{`[{"start":-1,"end":4,"label":"PER"}]`, "outside"},
		{`[{"start":4,"end":4,"label":"PER"}]`, "span 1 [4, 4) is empty"},
		{`[{"start":5,"end":10,"label":"A"},{"start":0,"end":6,"label":"B"}]`, "span 1 [5, 10) overlaps span 2 [0, 6)"},
	} {
		_, err := Parse(c.js, text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s): %v, want %q", c.js, err, c.want)
		}
	}
}

// offs is a hand-made token layout of "Anna lives in New York": Anna | li ##ves | in | New | York.
var offs = []tokenizer.Offset{{Start: 0, End: 0}, {Start: 0, End: 4}, {Start: 5, End: 7}, {Start: 7, End: 10}, {Start: 11, End: 13}, {Start: 14, End: 17}, {Start: 18, End: 22}, {Start: 22, End: 22}}

func TestTagAndDecode(t *testing.T) {
	text := []rune("Anna lives in New York")
	labels := []string{"LOC", "PER"}
	sp := []Span{{0, 4, "PER"}, {14, 22, "LOC"}}
	tags := Tag(sp, offs, map[string]int{"LOC": 0, "PER": 1})
	want := []int{Ignore, 3, 0, 0, 0, 1, 2, Ignore}
	if !reflect.DeepEqual(tags, want) {
		t.Fatalf("tags %v, want %v", tags, want)
	}
	nt := NumTags(len(labels))
	probs := make([]float32, len(offs)*nt)
	for i, tg := range tags {
		if tg < 0 {
			tg = 0
		}
		probs[i*nt+tg] = 0.9
		probs[i*nt+(tg+1)%nt] = 0.1
	}
	got := Decode(text, offs, probs, labels)
	if len(got) != 2 || got[0].Text != "Anna" || got[1].Text != "New York" || got[1].Label != "LOC" ||
		!reflect.DeepEqual(AsSpans(got), sp) || got[0].Score < 0.89 || got[0].Score > 0.91 {
		t.Fatalf("decoded %+v", got)
	}
	if p := got[1].Proba; p["LOC"] < 0.89 || p["PER"] > 0.2 {
		t.Fatalf("proba %v", p)
	}
	if !reflect.DeepEqual(TagNames(labels), []string{"O", "B-LOC", "I-LOC", "B-PER", "I-PER"}) {
		t.Fatal(TagNames(labels))
	}
}

func TestDecodeStrayI(t *testing.T) {
	// O, I-PER, I-LOC: the stray I starts a span; a change of label starts another.
	text := []rune("Anna lives in New York")
	probs := []float32{
		1, 0, 0, 0, 0, // ignored
		1, 0, 0, 0, 0, // Anna O
		0, 0, 0, 0, 1, // li I-PER
		0, 0, 1, 0, 0, // ##ves I-LOC
		1, 0, 0, 0, 0,
		1, 0, 0, 0, 0,
		1, 0, 0, 0, 0,
		1, 0, 0, 0, 0,
	}
	got := AsSpans(Decode(text, offs, probs, []string{"LOC", "PER"}))
	want := []Span{{5, 7, "PER"}, {7, 10, "LOC"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestWindows(t *testing.T) {
	if got := Windows(5, 8); !reflect.DeepEqual(got, []Window{{0, 5}}) {
		t.Fatal(got)
	}
	ws := Windows(20, 8)
	if !reflect.DeepEqual(ws, []Window{{0, 8}, {4, 12}, {8, 16}, {12, 20}}) {
		t.Fatal(ws)
	}
	win, pos := Owners(ws, 20)
	// Every token is owned by a window that holds it, and the owner keeps at
	// least size/4 context on both sides except at the text's ends.
	for tk := 0; tk < 20; tk++ {
		w := ws[win[tk]]
		if tk < w.Start || tk >= w.End || pos[tk] != tk-w.Start {
			t.Fatalf("token %d owned by %v at %d", tk, w, pos[tk])
		}
		if tk >= 2 && tk < 18 && (tk-w.Start < 2 || w.End-1-tk < 2) {
			t.Fatalf("token %d owned by %v: too close to its edge", tk, w)
		}
	}
	if win[0] != 0 || win[19] != 3 || win[9] != 1 && win[9] != 2 {
		t.Fatalf("owners %v", win)
	}
}

func TestScore(t *testing.T) {
	s := NewScore()
	s.Add([]Span{{0, 4, "PER"}, {14, 22, "LOC"}}, []Span{{0, 4, "PER"}, {14, 17, "LOC"}})
	s.Add([]Span{{0, 3, "LOC"}}, []Span{{0, 3, "LOC"}, {5, 6, "PER"}})
	if s.Overall != (Counts{TP: 2, FP: 2, FN: 1}) {
		t.Fatalf("overall %+v", s.Overall)
	}
	if c := s.PerLabel["PER"]; c != (Counts{TP: 1, FP: 1}) || c.Precision() != 0.5 || c.Recall() != 1 {
		t.Fatalf("PER %+v", c)
	}
	if f := s.Overall.F1(); f < 0.5713 || f > 0.5715 { // P 0.5, R 2/3
		t.Fatalf("F1 %v", f)
	}
	if (Counts{}).F1() != 0 || !reflect.DeepEqual(s.LabelNames(), []string{"LOC", "PER"}) {
		t.Fatal("empty counts or label names")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`[{"start":0,"end":4,"label":"PER"}]`, "Anna")
	f.Add(`[]`, "")
	f.Add(`[{"start":1,"end":2,"label":"X"},{"start":0,"end":1,"label":"Y"}]`, "ab")
	f.Add(`[{"start":0,"end":1e3,"label":"X"}]`, "é")
	f.Fuzz(func(t *testing.T, js, text string) {
		sp, err := Parse(js, text)
		if err != nil {
			return
		}
		n := utf8.RuneCountInString(text)
		for i, s := range sp {
			if s.Start < 0 || s.End > n || s.End <= s.Start || s.Label == "" || (i > 0 && s.Start < sp[i-1].End) {
				t.Fatalf("Parse(%q, %q) accepted %v", js, text, sp)
			}
		}
		again, err := Parse(Format(sp), text)
		if err != nil || len(again) != len(sp) || (len(sp) > 0 && !reflect.DeepEqual(again, sp)) {
			t.Fatalf("round trip of %v: %v %v", sp, again, err)
		}
	})
}
