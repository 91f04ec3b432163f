package tokenizer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Loaded once per test binary: the real tokenizers of the test models.
var (
	testToksOnce sync.Once
	testToks     map[string]*Tokenizer
	testToksErr  error
)

func testTokenizer(t testing.TB, model string) *Tokenizer {
	t.Helper()
	testToksOnce.Do(func() {
		testToks = map[string]*Tokenizer{}
		for _, m := range []string{"bert-tiny", "gpt2-tiny", "roberta-tiny"} {
			tok, err := Load(filepath.Join(testdata, "models", m))
			if err != nil {
				testToksErr = err
				return
			}
			testToks[m] = tok
		}
	})
	if testToksErr != nil {
		t.Fatal(testToksErr)
	}
	return testToks[model]
}

func encode(t testing.TB, tok *Tokenizer, text string, opts Options) Encoding {
	t.Helper()
	enc, err := tok.Encode(text, opts)
	if err != nil {
		t.Fatalf("Encode(%q): %v", text, err)
	}
	return enc
}

func TestAccessors(t *testing.T) {
	bert, gpt2, roberta := testTokenizer(t, "bert-tiny"), testTokenizer(t, "gpt2-tiny"), testTokenizer(t, "roberta-tiny")
	for _, c := range []struct {
		tok          *Tokenizer
		kind         Kind
		vocab        int
		pad          int32
		single, pair int
	}{
		{bert, KindWordPiece, 30522, 0, 2, 3},
		{gpt2, KindBPE, 50257, 50256, 0, 0},
		{roberta, KindBPE, 50265, 1, 2, 4},
	} {
		if c.tok.Kind() != c.kind || c.tok.VocabSize() != c.vocab || c.tok.PadID() != c.pad {
			t.Errorf("kind %v vocab %d pad %d, want %v %d %d", c.tok.Kind(), c.tok.VocabSize(), c.tok.PadID(), c.kind, c.vocab, c.pad)
		}
		if c.tok.NumSpecialTokens(false) != c.single || c.tok.NumSpecialTokens(true) != c.pair {
			t.Errorf("%v: special tokens %d/%d, want %d/%d", c.kind, c.tok.NumSpecialTokens(false), c.tok.NumSpecialTokens(true), c.single, c.pair)
		}
	}
	if id, ok := bert.ID("[CLS]"); !ok || id != 101 {
		t.Errorf("ID([CLS]) = %d %v", id, ok)
	}
	if s, ok := gpt2.Token(995); !ok || s != "Ġworld" {
		t.Errorf("Token(995) = %q %v", s, ok)
	}
	if _, ok := gpt2.Token(50257); ok {
		t.Error("Token(50257) exists")
	}
	if got := bert.Tokens([]int32{101, -1, 7592}); !slices.Equal(got, []string{"[CLS]", "", "hello"}) {
		t.Errorf("Tokens = %q", got)
	}
	if KindWordPiece.String() != "wordpiece" || KindBPE.String() != "bpe" {
		t.Error("Kind.String")
	}
}

func TestEmptyText(t *testing.T) {
	for model, want := range map[string][]int32{"bert-tiny": {101, 102}, "gpt2-tiny": {}, "roberta-tiny": {0, 2}} {
		enc := encode(t, testTokenizer(t, model), "", Options{AddSpecial: true})
		if !slices.Equal(enc.IDs, want) || len(enc.TypeIDs) != len(want) || enc.Truncated || enc.Untruncated != len(want) {
			t.Errorf("%s: %+v, want ids %v", model, enc, want)
		}
		if enc := encode(t, testTokenizer(t, model), "", Options{}); len(enc.IDs) != 0 {
			t.Errorf("%s without special tokens: %v", model, enc.IDs)
		}
	}
}

func TestInvalidUTF8(t *testing.T) {
	for _, model := range []string{"bert-tiny", "gpt2-tiny"} {
		tok := testTokenizer(t, model)
		for _, opts := range []Options{{}, {Pair: "ok", HasPair: true}} {
			_, err := tok.Encode("ab\xffcd", opts)
			if !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "byte 2") {
				t.Errorf("%s: err = %v", model, err)
			}
		}
		_, err := tok.Encode("fine", Options{Pair: "\xc3", HasPair: true})
		if !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "pair") {
			t.Errorf("%s pair: err = %v", model, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	bert := testTokenizer(t, "bert-tiny")
	if _, err := bert.Encode("hello", Options{AddSpecial: true, MaxLength: 1}); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("max length 1: %v", err)
	}
	if _, err := bert.Encode("hello", Options{MaxLength: -1}); err == nil {
		t.Error("negative max length accepted")
	}
	// Exactly the special tokens fit: the text is cut away entirely.
	enc := encode(t, bert, "hello world", Options{AddSpecial: true, MaxLength: 2})
	if !slices.Equal(enc.IDs, []int32{101, 102}) || !enc.Truncated || enc.Untruncated != 4 {
		t.Errorf("max length 2: %+v", enc)
	}
}

// words makes a text of n one-token words for the uncased BERT vocabulary.
func words(n int, w string) string {
	return strings.TrimSpace(strings.Repeat(w+" ", n))
}

// TestTruncatePairs checks HF's longest_first on pairs: only the longer
// text is cut while that suffices, else the shorter keeps budget/2 and the
// longer budget/2 + budget%2; special tokens and type ids stay.
func TestTruncatePairs(t *testing.T) {
	bert := testTokenizer(t, "bert-tiny")
	const a, b = 1037, 1038 // "a", "b"
	for _, c := range []struct {
		na, nb, max int
		wa, wb      int
	}{
		{3, 20, 13, 3, 7},  // only B is cut
		{20, 3, 13, 7, 3},  // only A is cut
		{10, 10, 13, 5, 5}, // both: budget 10 -> 5 / 5
		{10, 10, 14, 5, 6}, // budget 11, equal lengths: A is "shorter" -> 5, B 6
		{12, 10, 14, 6, 5}, // budget 11: shorter B keeps 5, longer A 6
		{10, 12, 14, 5, 6},
		{4, 4, 20, 4, 4}, // fits
		{0, 9, 6, 0, 3},  // empty A
		{9, 0, 6, 3, 0},
	} {
		enc := encode(t, bert, words(c.na, "a"), Options{Pair: words(c.nb, "b"), HasPair: true, AddSpecial: true, MaxLength: c.max})
		want := []int32{101}
		wantTypes := []int32{0}
		for range c.wa {
			want, wantTypes = append(want, a), append(wantTypes, 0)
		}
		want, wantTypes = append(want, 102), append(wantTypes, 0)
		for range c.wb {
			want, wantTypes = append(want, b), append(wantTypes, 1)
		}
		want, wantTypes = append(want, 102), append(wantTypes, 1)
		if !slices.Equal(enc.IDs, want) || !slices.Equal(enc.TypeIDs, wantTypes) {
			t.Errorf("%d+%d max %d:\n got  %v %v\n want %v %v", c.na, c.nb, c.max, enc.IDs, enc.TypeIDs, want, wantTypes)
		}
		trunc := c.na+c.nb+3 > c.max
		if enc.Truncated != trunc || enc.Untruncated != c.na+c.nb+3 {
			t.Errorf("%d+%d max %d: truncated %v untruncated %d", c.na, c.nb, c.max, enc.Truncated, enc.Untruncated)
		}
	}
}

func TestRobertaPairAndTruncation(t *testing.T) {
	rob := testTokenizer(t, "roberta-tiny")
	enc := encode(t, rob, "Hello world", Options{Pair: "Hello", HasPair: true, AddSpecial: true})
	want := []int32{0, 31414, 232, 2, 2, 31414, 2}
	if !slices.Equal(enc.IDs, want) || !slices.Equal(enc.TypeIDs, make([]int32, len(want))) {
		t.Errorf("pair: %v %v, want %v and zeros", enc.IDs, enc.TypeIDs, want)
	}
	enc = encode(t, rob, "Hello world and more", Options{AddSpecial: true, MaxLength: 4})
	if !slices.Equal(enc.IDs, []int32{0, 31414, 232, 2}) || !enc.Truncated || enc.Untruncated != 6 {
		t.Errorf("truncated: %+v", enc)
	}
	// Without special tokens the pair is just concatenated (type ids 0).
	enc = encode(t, rob, "Hello", Options{Pair: "world", HasPair: true})
	if !slices.Equal(enc.IDs, []int32{31414, 8331}) {
		t.Errorf("plain pair: %v", enc.IDs)
	}
	// GPT-2 pairs: no special tokens, type ids 0 then 1.
	enc = encode(t, testTokenizer(t, "gpt2-tiny"), "Hello", Options{Pair: " world", HasPair: true, AddSpecial: true})
	if !slices.Equal(enc.IDs, []int32{15496, 995}) || !slices.Equal(enc.TypeIDs, []int32{0, 1}) {
		t.Errorf("gpt2 pair: %+v", enc)
	}
}

// TestLiteralSpecialTokens: special tokens in the text are matched before
// anything else, even without AddSpecial; <mask> swallows the space before
// it (lstrip).
func TestLiteralSpecialTokens(t *testing.T) {
	for _, c := range []struct {
		model, text string
		want        []int32
	}{
		{"bert-tiny", "a [SEP] b[MASK]", []int32{1037, 102, 1038, 103}},
		{"bert-tiny", "[sep]", []int32{1031, 19802, 1033}}, // case matters: no match
		{"gpt2-tiny", "a<|endoftext|> b", []int32{64, 50256, 275}},
		{"roberta-tiny", "a <mask> b", []int32{102, 50264, 741}},
		{"roberta-tiny", "a<s>b</s>", []int32{102, 0, 428, 2}},
	} {
		enc := encode(t, testTokenizer(t, c.model), c.text, Options{})
		if !slices.Equal(enc.IDs, c.want) {
			t.Errorf("%s %q: %v (%q), want %v", c.model, c.text, enc.IDs, testTokenizer(t, c.model).Tokens(enc.IDs), c.want)
		}
	}
}

// smallWordPiece builds a tokenizer from an in-memory vocabulary.
func smallWordPiece(t *testing.T, opts WordPieceOptions, extra ...string) *Tokenizer {
	t.Helper()
	vocab := append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Hello", "hello", "Hel", "##lo", "café", "cafe", "##é", "i", "!", "中", "文"}, extra...)
	tok, err := NewWordPiece(strings.NewReader(strings.Join(vocab, "\n")+"\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestWordPieceOptions(t *testing.T) {
	f := false
	cased := smallWordPiece(t, WordPieceOptions{})
	uncased := smallWordPiece(t, WordPieceOptions{Lowercase: true})
	keepAccents := smallWordPiece(t, WordPieceOptions{Lowercase: true, StripAccents: &f})
	noCJK := smallWordPiece(t, WordPieceOptions{Lowercase: true, KeepChineseChars: true})
	for _, c := range []struct {
		tok  *Tokenizer
		text string
		want []string
	}{
		{cased, "Hello hello!", []string{"Hello", "hello", "!"}},
		{cased, "Café", []string{"[UNK]"}},
		{cased, "café", []string{"café"}},
		{uncased, "HELLO Café", []string{"hello", "cafe"}},
		{keepAccents, "CAFÉ", []string{"café"}},
		{uncased, "Helo", []string{"[UNK]"}},            // "hel" + "##o" does not exist
		{uncased, "İ", []string{"i"}},                   // NFD + strip: I, then lowercase
		{keepAccents, "İ", []string{"[UNK]"}},           // lowercase is i + U+0307 (as in Rust), no "##\u0307"
		{uncased, "中文", []string{"中", "文"}},             // each ideograph is a word
		{noCJK, "中文", []string{"[UNK]"}},                // one word, no "##文"
		{uncased, "a\u0000b\ufffdc", []string{"[UNK]"}}, // "abc" after cleaning: unknown
	} {
		enc := encode(t, c.tok, c.text, Options{})
		if got := c.tok.Tokens(enc.IDs); !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.text, got, c.want)
		}
	}
	// A word of exactly max_input_chars_per_word characters is split; one
	// more makes it [UNK].
	long := smallWordPiece(t, WordPieceOptions{Lowercase: true}, "a", "##a")
	if enc := encode(t, long, strings.Repeat("a", 100), Options{}); len(enc.IDs) != 100 {
		t.Errorf("100 chars: %d ids", len(enc.IDs))
	}
	if enc := encode(t, long, strings.Repeat("a", 101), Options{}); !slices.Equal(long.Tokens(enc.IDs), []string{"[UNK]"}) {
		t.Errorf("101 chars: %q", long.Tokens(enc.IDs))
	}
	// Accented characters count as one character each after normalization.
	if enc := encode(t, long, strings.Repeat("á", 100), Options{}); len(enc.IDs) != 100 {
		t.Errorf("100 accented chars: %d ids", len(enc.IDs))
	}
}

func TestPad(t *testing.T) {
	bert := testTokenizer(t, "bert-tiny")
	e1 := encode(t, bert, "hello world", Options{AddSpecial: true})
	e2 := encode(t, bert, "a", Options{Pair: "b", HasPair: true, AddSpecial: true})
	b, err := bert.Pad([]Encoding{e1, e2}, PadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows != 2 || b.Len != 5 {
		t.Fatalf("shape %dx%d", b.Rows, b.Len)
	}
	wantIDs := []int32{101, 7592, 2088, 102, 0, 101, 1037, 102, 1038, 102}
	wantTypes := []int32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1}
	wantMask := []int32{1, 1, 1, 1, 0, 1, 1, 1, 1, 1}
	if !slices.Equal(b.IDs, wantIDs) || !slices.Equal(b.TypeIDs, wantTypes) || !slices.Equal(b.Mask, wantMask) {
		t.Errorf("right padding: %v %v %v", b.IDs, b.TypeIDs, b.Mask)
	}
	gpt2 := testTokenizer(t, "gpt2-tiny")
	g := encode(t, gpt2, "Hello world", Options{})
	b, err = gpt2.Pad([]Encoding{g, {}}, PadOptions{Left: true, Multiple: 4})
	if err != nil {
		t.Fatal(err)
	}
	if b.Len != 4 || !slices.Equal(b.IDs, []int32{50256, 50256, 15496, 995, 50256, 50256, 50256, 50256}) ||
		!slices.Equal(b.Mask, []int32{0, 0, 1, 1, 0, 0, 0, 0}) {
		t.Errorf("left padding: len %d %v %v", b.Len, b.IDs, b.Mask)
	}
	if _, err := gpt2.Pad([]Encoding{g}, PadOptions{Length: 1}); err == nil {
		t.Error("Length shorter than the longest row accepted")
	}
	if m := e1.AttentionMask(); !slices.Equal(m, []int32{1, 1, 1, 1}) {
		t.Errorf("AttentionMask = %v", m)
	}
}

// fortunes are the texts of the fortunes training set.
func fortunes(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, "datasets", "fortunes_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, r := range rows[1:] {
		texts = append(texts, r[0])
	}
	return texts
}

// TestConcurrentEncode encodes from many goroutines (run with -race) and
// checks every result against a serial run.
func TestConcurrentEncode(t *testing.T) {
	texts := fortunes(t)
	if testing.Short() || len(texts) > 600 {
		texts = texts[:600]
	}
	for _, model := range []string{"bert-tiny", "gpt2-tiny"} {
		ref := testTokenizer(t, model)
		tok := ref
		if model == "gpt2-tiny" {
			// A fresh tokenizer, so goroutines race to fill the BPE cache.
			fresh, err := Load(filepath.Join(testdata, "models", model))
			if err != nil {
				t.Fatal(err)
			}
			tok = fresh
		}
		want := make([][]int32, len(texts))
		for i, s := range texts {
			want[i] = encode(t, ref, s, Options{AddSpecial: true, MaxLength: 64}).IDs
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range texts {
					i := (k + g*97) % len(texts)
					enc, err := tok.Encode(texts[i], Options{AddSpecial: true, MaxLength: 64})
					if err == nil && !slices.Equal(enc.IDs, want[i]) {
						err = fmt.Errorf("%s text %d: %v, want %v", model, i, enc.IDs, want[i])
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestCacheBounded: the BPE word cache never grows past its bound, and
// evictions do not change results.
func TestCacheBounded(t *testing.T) {
	ref := testTokenizer(t, "gpt2-tiny")
	const bound = 1024 // a small cache, so the test is quick
	m := *ref.bpe
	m.cache = newWordCache(bound)
	var sb strings.Builder
	for i := range 3 * bound {
		fmt.Fprintf(&sb, " w%dx", i*7919)
	}
	text := []byte(sb.String())
	ids := m.encodeByteLevel(text, &scratch{}, nil)
	if n := m.cache.len(); n > bound || n < bound/2 {
		t.Errorf("cache holds %d words, bound %d", n, bound)
	}
	if want := encode(t, ref, string(text), Options{}).IDs; !slices.Equal(ids, want) {
		t.Error("ids differ from the tokenizer with the large cache")
	}
	if again := m.encodeByteLevel(text, &scratch{}, nil); !slices.Equal(ids, again) {
		t.Error("second encoding differs")
	}
	// Long words (>= 256 bytes) are not cached.
	before := m.cache.len()
	m.encodeByteLevel([]byte(strings.Repeat("z", 300)), &scratch{}, nil)
	if m.cache.len() != before {
		t.Error("a 300-byte word was cached")
	}
}
