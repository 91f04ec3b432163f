package tokenizer

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", " ", "Hello, world!", "I'm sure you've seen it; they'll say we'd won't",
	"Café naïve Ångström", "我爱自然语言处理。", "東京タワー", "안녕하세요", "👨\u200d👩\u200d👧\u200d👦 🇫🇷 👍🏽",
	"  leading\tand\ttabs\n\nnew lines   ", "a\x00b\u200bc\ufeffd\u00ade", "[CLS] [SEP] <s> </s> <mask> <|endoftext|>",
	"x<mask>y  <mask>", "https://example.com/path?q=1&x=y#frag", strings.Repeat("a", 101), "İstanbul ΣΊΣΥΦΟΣ",
	"'s's''s 're've'll'd'm't", "\xff\xfe", "a\xc3", "123 4567 8.9e10 ½ ²", "\u3000x\u2028y\u0085z",
	"㠿〯0 東\u0301\u0316x",
}

// checkEncoding verifies what holds for every encoding: ids in range with
// non-empty token strings, type ids aligned.
func checkEncoding(t *testing.T, tok *Tokenizer, enc Encoding) {
	t.Helper()
	if len(enc.TypeIDs) != len(enc.IDs) {
		t.Fatalf("%d type ids for %d ids", len(enc.TypeIDs), len(enc.IDs))
	}
	for _, id := range enc.IDs {
		s, ok := tok.Token(id)
		if !ok || s == "" {
			t.Fatalf("id %d out of range or empty token (vocab %d)", id, tok.VocabSize())
		}
	}
}

func FuzzWordPiece(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, fuzzSeeds[(i+3)%len(fuzzSeeds)], uint8(i*7))
	}
	f.Fuzz(func(t *testing.T, text, pair string, maxLen uint8) {
		tok := testTokenizer(t, "bert-tiny")
		plain, err := tok.Encode(text, Options{})
		if !utf8.ValidString(text) {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8 gave %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkEncoding(t, tok, plain)
		again, err := tok.Encode(text, Options{})
		if err != nil || !slices.Equal(again.IDs, plain.IDs) {
			t.Fatalf("not deterministic: %v then %v (%v)", plain.IDs, again.IDs, err)
		}
		special, err := tok.Encode(text, Options{AddSpecial: true})
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]int32{101}, plain.IDs...), 102)
		if !slices.Equal(special.IDs, want) {
			t.Fatalf("with special tokens %v, want %v", special.IDs, want)
		}
		if !utf8.ValidString(pair) {
			return
		}
		checkPair(t, tok, text, pair, len(plain.IDs), int(maxLen))
	})
}

// checkPair encodes a truncated pair (na: the length of text's ids) and
// checks the length bound and the truncation report.
func checkPair(t *testing.T, tok *Tokenizer, text, pair string, na, maxLen int) {
	t.Helper()
	b, err := tok.Encode(pair, Options{})
	if err != nil {
		t.Fatal(err)
	}
	added := tok.NumSpecialTokens(true)
	if maxLen < added {
		maxLen = 0
	}
	enc, err := tok.Encode(text, Options{Pair: pair, HasPair: true, AddSpecial: true, MaxLength: maxLen})
	if err != nil {
		t.Fatal(err)
	}
	checkEncoding(t, tok, enc)
	full := na + len(b.IDs) + added
	if enc.Untruncated != full {
		t.Fatalf("untruncated %d, want %d", enc.Untruncated, full)
	}
	if maxLen > 0 && len(enc.IDs) > maxLen {
		t.Fatalf("%d ids exceed max length %d", len(enc.IDs), maxLen)
	}
	if enc.Truncated != (maxLen > 0 && full > maxLen) {
		t.Fatalf("truncated %v with %d ids, max %d", enc.Truncated, full, maxLen)
	}
	if !enc.Truncated && len(enc.IDs) != full {
		t.Fatalf("%d ids, want %d", len(enc.IDs), full)
	}
}

func FuzzBPE(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		gpt2, roberta := testTokenizer(t, "gpt2-tiny"), testTokenizer(t, "roberta-tiny")
		enc, err := gpt2.Encode(text, Options{AddSpecial: true})
		if !utf8.ValidString(text) {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8 gave %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkEncoding(t, gpt2, enc)
		// The pre-tokens tile the text.
		if got := strings.Join(gpt2Split(text), ""); got != text {
			t.Fatalf("pre-tokens join to %q", got)
		}
		// GPT-2 is lossless: token bytes (special tokens as their text) give
		// the input back.
		if got := decodeIDs(t, gpt2, enc.IDs); got != text {
			t.Fatalf("decoded %q", got)
		}
		if !gpt2.rawAdded.containsAny([]byte(text)) && !gpt2.normAdded.containsAny([]byte(text)) {
			// The merges agree with OpenAI's original algorithm.
			if want := referenceBPE(gpt2, text); !slices.Equal(enc.IDs, want) {
				t.Fatalf("ids %v, reference BPE %v", enc.IDs, want)
			}
		}
		renc, err := roberta.Encode(text, Options{AddSpecial: true})
		if err != nil {
			t.Fatal(err)
		}
		checkEncoding(t, roberta, renc)
		if renc.IDs[0] != 0 || renc.IDs[len(renc.IDs)-1] != 2 {
			t.Fatalf("roberta ids %v lack <s> ... </s>", renc.IDs)
		}
		if !roberta.rawAdded.containsAny([]byte(text)) && !roberta.normAdded.containsAny([]byte(text)) {
			if got := decodeIDs(t, roberta, renc.IDs[1:len(renc.IDs)-1]); got != text {
				t.Fatalf("roberta decoded %q", got)
			}
		}
		checkPair(t, roberta, text, "second", len(renc.IDs)-2, len(text)%16)
	})
}

// decodeIDs turns byte-level BPE ids back into text.
func decodeIDs(t *testing.T, tok *Tokenizer, ids []int32) string {
	t.Helper()
	var out []byte
	for _, id := range ids {
		s, _ := tok.Token(id)
		if _, special := tok.rawOrNormAdded(s); special {
			out = append(out, s...)
			continue
		}
		var ok bool
		if out, ok = decodeByteLevel(s, out); !ok {
			t.Fatalf("token %q is not byte-level", s)
		}
	}
	return string(out)
}

// rawOrNormAdded reports whether s is an added token's content.
func (t *Tokenizer) rawOrNormAdded(s string) (int32, bool) {
	for _, m := range []*matcher{t.rawAdded, t.normAdded} {
		for _, p := range m.pats {
			if p.Content == s {
				return p.ID, true
			}
		}
	}
	return 0, false
}

// referenceBPE encodes text the way OpenAI's GPT-2 encoder.py does: split
// into pre-tokens, map bytes to characters, then repeatedly merge every
// occurrence of the lowest-ranked adjacent pair, on strings.
func referenceBPE(tok *Tokenizer, text string) []int32 {
	m := tok.bpe
	rank := func(a, b string) (uint32, bool) {
		ia, ok1 := tok.ids[a]
		ib, ok2 := tok.ids[b]
		if !ok1 || !ok2 {
			return 0, false
		}
		v, ok := m.merges[pairKey(ia, ib)]
		return uint32(v >> 32), ok
	}
	var ids []int32
	for _, word := range gpt2Split(text) {
		var parts []string
		for i := 0; i < len(word); i++ {
			parts = append(parts, string(byteToRune[word[i]]))
		}
		for len(parts) > 1 {
			best, bi := uint32(0), -1
			for i := 0; i+1 < len(parts); i++ {
				if r, ok := rank(parts[i], parts[i+1]); ok && (bi < 0 || r < best) {
					best, bi = r, i
				}
			}
			if bi < 0 {
				break
			}
			first, second := parts[bi], parts[bi+1]
			var merged []string
			for i := 0; i < len(parts); {
				if i+1 < len(parts) && parts[i] == first && parts[i+1] == second {
					merged = append(merged, first+second)
					i += 2
				} else {
					merged = append(merged, parts[i])
					i++
				}
			}
			parts = merged
		}
		for _, p := range parts {
			ids = append(ids, tok.ids[p])
		}
	}
	return ids
}
