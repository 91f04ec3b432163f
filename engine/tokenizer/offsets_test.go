package tokenizer

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// byteOfRune inverts byteToRune (byte-level token characters to bytes).
var byteOfRune = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, r := range byteToRune {
		m[r] = byte(b)
	}
	return m
}()

// checkOffsets verifies what holds for every text: the ids are Encode's,
// offsets are in range and monotone, WordPiece tokens do not overlap (byte-level
// ones only share a character split between them), every character that
// survives normalization as non-space is covered, and each token's text is
// the slice of the original text it claims (modulo normalization).
func checkOffsets(t *testing.T, tok *Tokenizer, text string) {
	t.Helper()
	ids, offs, err := tok.EncodeOffsets(text)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.Encode(text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, enc.IDs) {
		t.Fatalf("%q: EncodeOffsets ids %v, Encode %v", text, ids, enc.IDs)
	}
	if len(offs) != len(ids) {
		t.Fatalf("%d offsets for %d ids", len(offs), len(ids))
	}
	runes := []rune(text)
	covered := make([]int, len(runes))
	for i, o := range offs {
		if o.Start < 0 || o.End < o.Start || o.End > len(runes) {
			t.Fatalf("%q: token %d offset %v out of range (%d code points)", text, i, o, len(runes))
		}
		if i > 0 && o.Start < offs[i-1].Start {
			t.Fatalf("%q: offsets not monotone: %v then %v", text, offs[i-1], o)
		}
		for k := o.Start; k < o.End; k++ {
			covered[k]++
		}
		tokStr, _ := tok.Token(ids[i])
		slice := string(runes[o.Start:o.End])
		switch tok.Kind() {
		case KindWordPiece:
			if i > 0 && o.Start < offs[i-1].End && !(o == offs[i-1]) {
				t.Fatalf("%q: wordpiece tokens %d and %d overlap: %v, %v", text, i-1, i, offs[i-1], o)
			}
			if ids[i] == tok.wp.unk || tok.rawAdded.longestAt([]byte(tokStr), 0) >= 0 {
				continue
			}
			want := strings.TrimPrefix(tokStr, "##")
			got := slice
			if tok.norm != nil {
				res, _ := tok.norm.apply([]byte(slice), nil, nil)
				got = strings.TrimSpace(string(res))
			}
			if got != want && !strings.Contains(got, want) {
				t.Fatalf("%q: token %d %q has offsets %v = %q (normalized %q)", text, i, tokStr, o, slice, got)
			}
		case KindBPE:
			var b []byte
			for _, r := range tokStr {
				c, ok := byteOfRune[r]
				if !ok { // an added token: its content
					b = []byte(tokStr)
					break
				}
				b = append(b, c)
			}
			if !utf8.Valid(b) {
				continue // part of a character split between tokens
			}
			if got := strings.TrimFunc(string(b), unicode.IsSpace); got != strings.TrimFunc(slice, unicode.IsSpace) {
				t.Fatalf("%q: token %d %q has offsets %v = %q, want %q", text, i, tokStr, o, slice, got)
			}
		}
	}
	for k, r := range runes {
		if unicode.IsSpace(r) || covered[k] > 0 {
			continue
		}
		if tok.norm != nil {
			if res, _ := tok.norm.apply([]byte(string(r)), nil, nil); strings.TrimSpace(string(res)) == "" {
				continue // removed by normalization (controls, lone marks)
			}
			if unicode.Is(unicode.Mn, r) || unicode.IsControl(r) || unicode.In(r, unicode.Cf) {
				continue
			}
		}
		t.Fatalf("%q: character %d %q is in no token (offsets %v)", text, k, r, offs)
	}
}

// TestEncodeOffsetsGoldens checks the offset invariants on every golden
// string, for every tokenizer and way of loading it.
func TestEncodeOffsetsGoldens(t *testing.T) {
	for _, g := range goldenTokenizers {
		t.Run(g.golden, func(t *testing.T) {
			var gold tokenizerGolden
			readJSON(t, filepath.Join(testdata, "tokenizers", g.golden+".json"), &gold)
			for name, tok := range loaders(t, g.model) {
				for _, c := range gold.Cases {
					if !utf8.ValidString(c.Text) {
						continue
					}
					t.Run(name, func(t *testing.T) { checkOffsets(t, tok, c.Text) })
				}
			}
		})
	}
}

// TestEncodeOffsetsKnown pins offsets of hand-checked texts (what HF's
// return_offsets_mapping gives, in code points).
func TestEncodeOffsetsKnown(t *testing.T) {
	cases := []struct {
		model, text string
		want        []Offset
	}{
		{"bert-tiny", "Hello world!", []Offset{{0, 5}, {6, 11}, {11, 12}}},
		{"bert-tiny", "Café à Zürich", []Offset{{0, 4}, {5, 6}, {7, 13}}},
		{"bert-tiny", "東京", []Offset{{0, 1}, {1, 2}}},
		// A combining mark (U+302F, Mc) after a CJK character: padding
		// makes it a word of its own (found by FuzzEncodeOffsets).
		{"bert-tiny", "㠿〯0", []Offset{{0, 1}, {1, 3}}},
		{"gpt2-tiny", "Hello world!", []Offset{{0, 5}, {6, 11}, {11, 12}}},
		{"gpt2-tiny", "naïve  x", []Offset{{0, 2}, {2, 5}, {5, 5}, {7, 8}}},
		{"roberta-tiny", "Hello world", []Offset{{0, 5}, {6, 11}}},
	}
	for _, c := range cases {
		tok := testTokenizer(t, c.model)
		ids, got, err := tok.EncodeOffsets(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %q: offsets %v (tokens %q), want %v", c.model, c.text, got, tok.Tokens(ids), c.want)
		}
	}
}

func TestEncodeOffsetsInvalid(t *testing.T) {
	if _, _, err := testTokenizer(t, "bert-tiny").EncodeOffsets("a\xff"); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("got %v, want ErrInvalidUTF8", err)
	}
}

func TestWithSpecial(t *testing.T) {
	for _, c := range []struct {
		model string
		lead  int
	}{{"bert-tiny", 1}, {"roberta-tiny", 1}, {"gpt2-tiny", 0}} {
		tok := testTokenizer(t, c.model)
		ids, _, _ := tok.EncodeOffsets("a short text")
		out, types, lead := tok.WithSpecial(ids)
		enc, _ := tok.Encode("a short text", Options{AddSpecial: true})
		if !slices.Equal(out, enc.IDs) || len(types) != len(out) || lead != c.lead {
			t.Errorf("%s: WithSpecial %v lead %d, Encode %v (lead want %d)", c.model, out, lead, enc.IDs, c.lead)
		}
	}
}

func FuzzEncodeOffsets(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, m := range []string{"bert-tiny", "gpt2-tiny", "roberta-tiny"} {
			tok := testTokenizer(t, m)
			if !utf8.ValidString(text) {
				if _, _, err := tok.EncodeOffsets(text); !errors.Is(err, ErrInvalidUTF8) {
					t.Fatalf("invalid UTF-8 gave %v", err)
				}
				continue
			}
			checkOffsets(t, tok, text)
		}
	})
}
