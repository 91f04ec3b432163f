package tokenizer

import (
	"bytes"
	"slices"
	"testing"
	"unicode/utf8"
)

func gpt2Split(s string) []string {
	b := []byte(s)
	var out []string
	for i := 0; i < len(b); {
		j := gpt2Next(b, i)
		if j <= i {
			panic("gpt2Next made no progress")
		}
		out = append(out, string(b[i:j]))
		i = j
	}
	return out
}

// TestGPT2PreTokenizerMatchesRegex compares the hand-written scanner with
// splits made by a backtracking regex engine (testdata/gen_pretok.py).
func TestGPT2PreTokenizerMatchesRegex(t *testing.T) {
	var gold struct {
		Pattern string `json:"pattern"`
		Cases   []struct {
			Text   string   `json:"text"`
			Pieces []string `json:"pieces"`
		} `json:"cases"`
	}
	readJSON(t, "testdata/pretok_gpt2.json", &gold)
	if len(gold.Cases) < 1000 {
		t.Fatalf("only %d cases", len(gold.Cases))
	}
	bad := 0
	for _, c := range gold.Cases {
		got := gpt2Split(c.Text)
		if len(got) == 0 && len(c.Pieces) == 0 {
			continue
		}
		if !slices.Equal(got, c.Pieces) {
			t.Errorf("%q:\n got  %q\n want %q", c.Text, got, c.Pieces)
			if bad++; bad > 10 {
				t.Fatal("too many differences")
			}
		}
	}
}

func TestByteToRune(t *testing.T) {
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToRune[b]
		if seen[r] {
			t.Fatalf("byte %d maps to %U twice", b, r)
		}
		seen[r] = true
		if runeToByte(r) != b {
			t.Fatalf("runeToByte(%U) = %d, want %d", r, runeToByte(r), b)
		}
	}
	// The well-known ones: space is Ġ, newline Ċ, tab ĉ.
	for b, want := range map[byte]rune{' ': 'Ġ', '\n': 'Ċ', '\t': 'ĉ', 'a': 'a', 0xAD: 'Ń'} {
		if byteToRune[b] != want {
			t.Errorf("byte %#x -> %q, want %q", b, byteToRune[b], want)
		}
	}
	if !utf8.ValidRune(byteToRune[255]) {
		t.Fatal("invalid rune")
	}
}

// runeToByte inverts byteToRune (-1: not a byte symbol).
func runeToByte(r rune) int {
	switch {
	case r >= 0 && r < 256 && byteToRune[r] == r:
		return int(r)
	case r >= 256 && r < 256+68:
		for b, br := range byteToRune {
			if br == r {
				return b
			}
		}
	}
	return -1
}

// decodeByteLevel turns a byte-level token string back into the bytes it
// stands for (false if it holds a character outside the map).
func decodeByteLevel(tok string, dst []byte) ([]byte, bool) {
	for _, r := range tok {
		b := runeToByte(r)
		if b < 0 {
			return dst, false
		}
		dst = append(dst, byte(b))
	}
	return dst, true
}

// containsAny reports whether s contains some pattern (then byte round
// trips need not hold).
func (m *matcher) containsAny(s []byte) bool {
	if m == nil {
		return false
	}
	for _, p := range m.pats {
		if bytes.Contains(s, []byte(p.Content)) {
			return true
		}
	}
	return false
}
