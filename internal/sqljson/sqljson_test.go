package sqljson

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

func text(v any) string {
	var b bytes.Buffer
	Write(&b, v)
	return b.String()
}

// Where go-mysql-server's writer is right (no key needs escaping), Write
// prints exactly what it prints, so stored JSON and the wire keep MySQL's
// form for every value type a document can hold.
func TestWriteMatchesGMS(t *testing.T) {
	docs := []any{
		nil, true, 1.0, 2.5, float32(0.25), float32(3), int8(-1), int16(2), int32(3), int64(-4), 5, uint8(6),
		uint16(7), uint32(8), uint64(1 << 63), decimal.RequireFromString("1.50"), "tab\there \"q\" \\ <&>",
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		[]any{1.0, "x", nil, []any{}, map[string]any{}},
		map[string]any{"bb": 1.0, "a": []any{true}, "c": map[string]any{"z": "y", "yy": nil}},
		map[string]string{"k": "v", "kk": "w"},
		[]string{"a", "b"}, []float64{1, 0.5},
	}
	for _, d := range docs {
		want, err := types.JsonToMySqlString(types.JSONDocument{Val: d})
		if err != nil {
			t.Fatal(err)
		}
		if got := text(d); got != want {
			t.Errorf("%#v: got %s, want %s", d, got, want)
		}
	}
}

// Keys and strings are escaped wherever they are: the text is valid JSON
// and reads back as the same document.
func TestWriteEscapes(t *testing.T) {
	d := map[string]any{`a"x`: 1.0, "k\x01": "v\x1f\n", `b\`: []any{"\u2028"}, "": map[string]any{"<": ">"}}
	s := text(d)
	want := `{"": {"<": ">"}, "b\\": ["\u2028"], "k\u0001": "v\u001f\n", "a\"x": 1}`
	if s != want {
		t.Fatalf("got  %s\nwant %s", s, want)
	}
	var back any
	if err := json.Unmarshal([]byte(s), &back); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	if text(back) != s {
		t.Fatalf("read back as %s", text(back))
	}
	v := New(d)
	if b, _ := v.GetBytes(); string(b) != s || v.String() != s {
		t.Fatalf("Value carries %q", b)
	}
	// A stored text is sent as stored, and still parses for the functions.
	st := FromText(s)
	if got, err := Marshal(st); err != nil || got != s || st.String() != s {
		t.Fatalf("Text: %q, %v", got, err)
	}
	if doc, err := st.ToInterface(); err != nil || text(doc) != s {
		t.Fatalf("Text document: %v, %v", doc, err)
	}
	// A document without text is written by Write.
	if got, err := Marshal(types.JSONDocument{Val: d}); err != nil || got != s {
		t.Fatalf("Marshal(JSONDocument): %q, %v", got, err)
	}
}
