package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeFiles makes a directory holding the given files.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readTestFile(t *testing.T, model, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, "models", model, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// editJSON decodes the model's tokenizer.json, lets edit change it and
// encodes it again.
func editJSON(t *testing.T, model string, edit func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(readTestFile(t, model, "tokenizer.json")), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

const smallVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n"

// smallWordPieceJSON is a BERT tokenizer.json (as HF writes it) over a tiny
// vocabulary.
func smallWordPieceJSON() map[string]any {
	special := func(id int, content string) map[string]any {
		return map[string]any{"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
	}
	piece := func(kind, id string, typeID int) map[string]any {
		return map[string]any{kind: map[string]any{"id": id, "type_id": typeID}}
	}
	return map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens":  []any{special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]"), special(4, "[MASK]")},
		"normalizer":    map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
		"pre_tokenizer": map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0), piece("SpecialToken", "[SEP]", 0)},
			"pair": []any{piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0), piece("SpecialToken", "[SEP]", 0),
				piece("Sequence", "B", 1), piece("SpecialToken", "[SEP]", 1)},
			"special_tokens": map[string]any{
				"[CLS]": map[string]any{"id": "[CLS]", "ids": []any{2}, "tokens": []any{"[CLS]"}},
				"[SEP]": map[string]any{"id": "[SEP]", "ids": []any{3}, "tokens": []any{"[SEP]"}},
			}},
		"decoder": map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model": map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
			"vocab": map[string]any{"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "hello": 5, "##lo": 6}},
	}
}

// smallBPEJSON is a GPT-2 style tokenizer.json over the byte symbols and a
// few merges.
func smallBPEJSON() map[string]any {
	vocab := map[string]any{}
	for b := range 256 {
		vocab[string(byteToRune[b])] = b
	}
	vocab["Ġt"], vocab["he"], vocab["Ġthe"], vocab["<|endoftext|>"] = 256, 257, 258, 259
	return map[string]any{
		"added_tokens": []any{map[string]any{"id": 259, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": true, "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []any{"Ġ t", "h e", "Ġt he"}},
	}
}

// editSmall applies edit to a tokenizer.json object and encodes it.
func editSmall(t *testing.T, m map[string]any, edit func(m map[string]any)) string {
	t.Helper()
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestSmallJSONs: the synthetic files the error tests start from are valid.
func TestSmallJSONs(t *testing.T) {
	wp, err := FromJSON(strings.NewReader(editSmall(t, smallWordPieceJSON(), func(map[string]any) {})))
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, wp, "HELLO hello", Options{AddSpecial: true}).IDs; !slices.Equal(got, []int32{2, 5, 5, 3}) {
		t.Errorf("wordpiece: %v", got)
	}
	bpe, err := FromJSON(strings.NewReader(editSmall(t, smallBPEJSON(), func(map[string]any) {})))
	if err != nil {
		t.Fatal(err)
	}
	if got := bpe.Tokens(encode(t, bpe, "at the<|endoftext|>", Options{AddSpecial: true}).IDs); !slices.Equal(got, []string{"a", "t", "Ġthe", "<|endoftext|>"}) {
		t.Errorf("bpe: %q", got)
	}
}

// byteVocab is a minimal byte-level BPE vocabulary: the 256 byte symbols and
// extra tokens.
func byteVocab(extra ...string) string {
	m := map[string]int{}
	for b := range 256 {
		m[string(byteToRune[b])] = b
	}
	for i, e := range extra {
		m[e] = 256 + i
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// TestLoadErrors: broken or unsupported files give errors that say what is
// wrong (and never panic).
func TestLoadErrors(t *testing.T) {
	ws := func(f func(m map[string]any)) string { return editSmall(t, smallWordPieceJSON(), f) }
	bs := func(f func(m map[string]any)) string { return editSmall(t, smallBPEJSON(), f) }
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"empty dir", map[string]string{}, "no tokenizer.json, vocab.txt, or vocab.json + merges.txt"},
		{"corrupt tokenizer.json", map[string]string{"tokenizer.json": `{"model": {"type": "WordPiece", "vocab": {"a": 1`}, "tokenizer.json"},
		{"tokenizer.json not an object", map[string]string{"tokenizer.json": `[1, 2]`}, "tokenizer.json"},
		{"no model", map[string]string{"tokenizer.json": `{"normalizer": null}`}, `no "model"`},
		{"unigram", map[string]string{"tokenizer.json": ws(func(m map[string]any) { model(m)["type"] = "Unigram" })}, `unsupported model type "Unigram"`},
		{"normalizer", map[string]string{"tokenizer.json": ws(func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Precompiled", "precompiled_charsmap": "AAAA"}
		})}, `unsupported normalizer "Precompiled"`},
		{"normalizer in sequence", map[string]string{"tokenizer.json": ws(func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFC"}, map[string]any{"type": "Replace"}}}
		})}, `Sequence[1]: unsupported normalizer "Replace"`},
		{"pre_tokenizer", map[string]string{"tokenizer.json": ws(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Metaspace"}
		})}, `unsupported pre_tokenizer "Metaspace"`},
		{"no pre_tokenizer", map[string]string{"tokenizer.json": ws(func(m map[string]any) { m["pre_tokenizer"] = nil })}, `unsupported pre_tokenizer "null"`},
		{"post_processor", map[string]string{"tokenizer.json": ws(func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "Fancy"}
		})}, `unsupported post_processor "Fancy"`},
		{"template special token", map[string]string{"tokenizer.json": ws(func(m map[string]any) {
			delete(m["post_processor"].(map[string]any)["special_tokens"].(map[string]any), "[SEP]")
		})}, `special token "[SEP]" is not in special_tokens`},
		{"template id outside vocab", map[string]string{"tokenizer.json": ws(func(m map[string]any) {
			m["post_processor"].(map[string]any)["special_tokens"].(map[string]any)["[SEP]"].(map[string]any)["ids"] = []any{102}
		})}, "special token id 102 is outside the vocabulary of 7 tokens"},
		{"no [UNK]", map[string]string{"tokenizer.json": ws(func(m map[string]any) { model(m)["unk_token"] = "<unk>" })}, `"<unk>" is not in the vocabulary`},
		{"negative id", map[string]string{"tokenizer.json": ws(func(m map[string]any) { model(m)["vocab"].(map[string]any)["hello"] = -5 })}, `"hello" has id -5`},
		{"duplicate id", map[string]string{"tokenizer.json": ws(func(m map[string]any) { model(m)["vocab"].(map[string]any)["hello"] = 2 })}, "id 2 is used by both"},
		{"added token without id", map[string]string{"tokenizer.json": ws(func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"content": "<new>", "special": true}}
		})}, `added_tokens[0] ("<new>"): no id`},
		{"bpe dropout", map[string]string{"tokenizer.json": bs(func(m map[string]any) { model(m)["dropout"] = 0.1 })}, "dropout"},
		{"bpe byte fallback", map[string]string{"tokenizer.json": bs(func(m map[string]any) { model(m)["byte_fallback"] = true })}, "byte_fallback"},
		{"bpe with bert pre-tokenizer", map[string]string{"tokenizer.json": bs(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "BertPreTokenizer"}
		})}, `unsupported pre_tokenizer "BertPreTokenizer" for a bpe model`},
		{"merge of unknown token", map[string]string{"tokenizer.json": bs(func(m map[string]any) {
			model(m)["merges"] = append(model(m)["merges"].([]any), "Ġ zzzunknown")
		})}, `"zzzunknown" is not in the vocabulary`},
		{"bad merge string", map[string]string{"tokenizer.json": bs(func(m map[string]any) { model(m)["merges"] = []any{"abc"} })}, `merges[0] "abc"`},
		{"bad merge pair", map[string]string{"tokenizer.json": bs(func(m map[string]any) { model(m)["merges"] = []any{[]any{"a"}} })}, "merges[0]"},
		{"bpe not byte-level", map[string]string{"tokenizer.json": bs(func(m map[string]any) {
			delete(model(m)["vocab"].(map[string]any), "Ġ")
			model(m)["merges"] = []any{}
		})}, "lacks the byte symbol"},

		{"empty vocab.txt", map[string]string{"vocab.txt": ""}, "empty vocabulary"},
		{"vocab.txt without [UNK]", map[string]string{"vocab.txt": "[PAD]\n[CLS]\n[SEP]\nhello\n"}, "no [UNK] token"},
		{"vocab.txt without [SEP]", map[string]string{"vocab.txt": "[PAD]\n[UNK]\n[CLS]\nhello\n"}, "no [SEP] token"},
		{"vocab.txt not UTF-8", map[string]string{"vocab.txt": "[UNK]\n\xff\n"}, "line 2 is not valid UTF-8"},
		{"corrupt tokenizer_config.json", map[string]string{"vocab.txt": smallVocab, "tokenizer_config.json": "{"}, "tokenizer_config.json"},
		{"bad do_lower_case", map[string]string{"vocab.txt": smallVocab, "tokenizer_config.json": `{"do_lower_case": "yes"}`}, "do_lower_case"},
		{"bad special token", map[string]string{"vocab.txt": smallVocab, "special_tokens_map.json": `{"unk_token": 7}`}, "unk_token"},
		{"unknown custom unk", map[string]string{"vocab.txt": smallVocab, "special_tokens_map.json": `{"unk_token": "<oov>"}`}, "no <oov> token"},
		{"corrupt config.json", map[string]string{"vocab.txt": smallVocab, "config.json": "nope"}, "config.json"},
		{"bad added_tokens_decoder id", map[string]string{"vocab.txt": smallVocab,
			"tokenizer_config.json": `{"added_tokens_decoder": {"1x": {"content": "[UNK]"}}}`}, `bad id "1x"`},
		{"additional special token not in vocab", map[string]string{"vocab.txt": smallVocab,
			"special_tokens_map.json": `{"additional_special_tokens": ["<new>"]}`}, `"<new>" is not in the vocabulary`},

		{"vocab.json without merges.txt", map[string]string{"vocab.json": byteVocab()}, "merges.txt"},
		{"merges.txt without vocab.json", map[string]string{"merges.txt": "#version: 0.2\n"}, "vocab.json"},
		{"corrupt vocab.json", map[string]string{"vocab.json": `{"a": `, "merges.txt": ""}, "vocab.json"},
		{"vocab.json ids not numbers", map[string]string{"vocab.json": `{"a": "x"}`, "merges.txt": ""}, "vocab.json"},
		{"merges.txt unknown token", map[string]string{"vocab.json": byteVocab("<|endoftext|>"), "merges.txt": "#version: 0.2\nĠ qq\n"}, `"qq" is not in the vocabulary`},
		{"merges.txt merged token missing", map[string]string{"vocab.json": byteVocab("<|endoftext|>"), "merges.txt": "Ġ t\n"}, `merged token "Ġt"`},
		{"merges.txt malformed", map[string]string{"vocab.json": byteVocab("<|endoftext|>"), "merges.txt": "#version: 0.2\nĠ t x\n"}, "line 2"},
		{"gpt2 special missing", map[string]string{"vocab.json": byteVocab(), "merges.txt": ""}, `"<|endoftext|>" is not in vocab.json`},
		{"roberta specials missing", map[string]string{"vocab.json": byteVocab("<|endoftext|>"), "merges.txt": "", "config.json": `{"model_type": "roberta"}`}, "RoBERTa special tokens"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeFiles(t, c.files))
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory loaded")
	}
	if _, err := NewWordPiece(strings.NewReader(""), WordPieceOptions{}); err == nil {
		t.Error("empty vocabulary accepted")
	}
	if _, err := NewByteLevelBPE(strings.NewReader("{}"), strings.NewReader(""), BPEOptions{}); err == nil {
		t.Error("empty BPE vocabulary accepted")
	}
	if _, err := FromJSON(strings.NewReader("not json")); err == nil {
		t.Error("FromJSON accepted garbage")
	}
}

// TestSmallByteLevelBPE builds a tokenizer from a handmade vocabulary and
// merge list, checking merge order and ranks.
func TestSmallByteLevelBPE(t *testing.T) {
	vocab := byteVocab("<|endoftext|>", "ab", "bc", "abc", "Ġab")
	// "b c" outranks "a b": "abc" -> a bc (no "a bc" merge) -> [a, bc].
	merges := "#version: 0.2\nb c\na b\nab c\nĠ ab\n"
	tok, err := NewByteLevelBPE(strings.NewReader(vocab), strings.NewReader(merges), BPEOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]string{
		"abc":   {"a", "bc"},
		"ab":    {"ab"},
		"abab":  {"ab", "ab"},
		"x ab":  {"x", "Ġab"},
		"abcab": {"a", "bc", "ab"},
	} {
		enc := encode(t, tok, text, Options{})
		if got := tok.Tokens(enc.IDs); !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
	// The same with the prefix space option.
	tok, err = NewByteLevelBPE(strings.NewReader(vocab), strings.NewReader(merges), BPEOptions{AddPrefixSpace: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Tokens(encode(t, tok, "ab", Options{}).IDs); !slices.Equal(got, []string{"Ġab"}) {
		t.Errorf("prefix space: %q", got)
	}
}

// TestMergesAsPairs: tokenizers >= 0.20 writes merges as [a, b] pairs.
func TestMergesAsPairs(t *testing.T) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal([]byte(readTestFile(t, "gpt2-tiny", "tokenizer.json")), &f); err != nil {
		t.Fatal(err)
	}
	var model struct {
		Vocab  json.RawMessage `json:"vocab"`
		Merges []string        `json:"merges"`
	}
	if err := json.Unmarshal(f["model"], &model); err != nil {
		t.Fatal(err)
	}
	pairs := make([][2]string, len(model.Merges))
	for i, m := range model.Merges {
		a, b, _ := strings.Cut(m, " ")
		pairs[i] = [2]string{a, b}
	}
	mj, err := json.Marshal(map[string]any{"type": "BPE", "vocab": model.Vocab, "merges": pairs})
	if err != nil {
		t.Fatal(err)
	}
	f["model"] = mj
	js, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := FromJSON(strings.NewReader(string(js)))
	if err != nil {
		t.Fatal(err)
	}
	ref := testTokenizer(t, "gpt2-tiny")
	for _, s := range fortunes(t)[:100] {
		if a, b := encode(t, tok, s, Options{}), encode(t, ref, s, Options{}); !slices.Equal(a.IDs, b.IDs) {
			t.Fatalf("%q: %v vs %v", s, a.IDs, b.IDs)
		}
	}
}

// TestConfigOverrides: transformers applies tokenizer_config.json's
// do_lower_case and add_prefix_space over tokenizer.json.
func TestConfigOverrides(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"tokenizer.json":        readTestFile(t, "bert-tiny", "tokenizer.json"),
		"tokenizer_config.json": `{"do_lower_case": false}`,
	})
	cased, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, cased, "Hello hello", Options{}).IDs; slices.Equal(got[:1], []int32{7592}) || got[len(got)-1] != 7592 {
		t.Errorf("cased: %v", got)
	}
	dir = writeFiles(t, map[string]string{
		"tokenizer.json":        readTestFile(t, "roberta-tiny", "tokenizer.json"),
		"tokenizer_config.json": `{"add_prefix_space": true}`,
	})
	prefixed, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := prefixed.Tokens(encode(t, prefixed, "Hello", Options{}).IDs); !slices.Equal(got, []string{"ĠHello"}) {
		t.Errorf("add_prefix_space: %q", got)
	}
}

// TestAddedTokenFlags: single_word, rstrip and normalized added tokens, as
// HF's AddedVocabulary treats them.
func TestAddedTokenFlags(t *testing.T) {
	js := editJSON(t, "bert-tiny", func(m map[string]any) {
		m["added_tokens"] = append(m["added_tokens"].([]any),
			map[string]any{"id": 30522, "content": "<word>", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false},
			map[string]any{"id": 30523, "content": "<R>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": true},
			map[string]any{"id": 30524, "content": "MiXeD", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
		)
	})
	tok, err := FromJSON(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 30525 {
		t.Errorf("vocab size %d", tok.VocabSize())
	}
	for text, want := range map[string][]string{
		"a <word> b":  {"a", "<word>", "b"},
		"a<word>b":    {"a", "<", "word", ">", "b"}, // inside a word: not matched
		"<R>   hello": {"<R>", "hello"},
		"mixed":       {"MiXeD"}, // matched after normalization (lowercased pattern)
		"xMIXEDy":     {"x", "MiXeD", "y"},
	} {
		enc := encode(t, tok, text, Options{})
		if got := tok.Tokens(enc.IDs); !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}

// TestMinimalJSON: a hand-written tokenizer.json with only a model and a
// pre-tokenizer, including BPE's ignore_merges and a normalizer sequence.
func TestMinimalJSON(t *testing.T) {
	vocab := byteVocab("ab", "bc", "abc")
	for _, c := range []struct {
		ignore bool
		want   []string
	}{{false, []string{"a", "bc"}}, {true, []string{"abc"}}} {
		js := fmt.Sprintf(`{"model": {"type": "BPE", "vocab": %s, "merges": ["b c", "a b", ["ab", "c"]], "ignore_merges": %v},
			"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}}`, vocab, c.ignore)
		tok, err := FromJSON(strings.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Tokens(encode(t, tok, "abc", Options{AddSpecial: true}).IDs); !slices.Equal(got, c.want) {
			t.Errorf("ignore_merges %v: %q, want %q", c.ignore, got, c.want)
		}
	}
	js := `{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "fi": 1, "##ne": 2, "x": 3}},
		"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
		"pre_tokenizer": {"type": "BertPreTokenizer"}}`
	tok, err := FromJSON(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	// NFKC turns the ligature "ﬁ" into "fi"; no post-processor adds nothing.
	if got := tok.Tokens(encode(t, tok, "ﬁNE X", Options{AddSpecial: true}).IDs); !slices.Equal(got, []string{"fi", "##ne", "x"}) {
		t.Errorf("normalizer sequence: %q", got)
	}
	if _, err := tok.Encode("a", Options{HasPair: true}); err != nil {
		t.Errorf("pair without post-processor: %v", err)
	}
}

func TestTemplateWithoutPair(t *testing.T) {
	js := `{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "a": 2}},
		"pre_tokenizer": {"type": "BertPreTokenizer"},
		"post_processor": {"type": "TemplateProcessing",
			"single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
			"special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]}}}}`
	tok, err := FromJSON(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, tok, "a a", Options{AddSpecial: true}).IDs; !slices.Equal(got, []int32{1, 2, 2}) {
		t.Errorf("single: %v", got)
	}
	if _, err := tok.Encode("a", Options{Pair: "a", HasPair: true}); err == nil || !strings.Contains(err.Error(), "pairs") {
		t.Errorf("pair: %v", err)
	}
}

// TestClassicSpecialTokens: special_tokens_map.json names the special
// tokens (overriding tokenizer_config.json) and adds extra ones.
func TestClassicSpecialTokens(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"vocab.txt":               "<pad>\n<oov>\n<c>\n<s>\nhello\n<extra>\n",
		"tokenizer_config.json":   `{"unk_token": "[UNK]", "cls_token": "<c>", "do_lower_case": true}`,
		"special_tokens_map.json": `{"unk_token": "<oov>", "sep_token": "<s>", "pad_token": {"content": "<pad>"}, "additional_special_tokens": ["<extra>"]}`,
	})
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	enc := encode(t, tok, "HELLO<extra>zzz", Options{AddSpecial: true})
	if got := tok.Tokens(enc.IDs); !slices.Equal(got, []string{"<c>", "hello", "<extra>", "<oov>", "<s>"}) {
		t.Errorf("tokens %q", got)
	}
	if tok.PadID() != 0 {
		t.Errorf("pad id %d", tok.PadID())
	}
}
