package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FromJSON reads a Hugging Face tokenizers file (tokenizer.json). Supported
// components: normalizer BertNormalizer, Lowercase, StripAccents, NF(K)C/D
// and Sequences of them; pre_tokenizer BertPreTokenizer or ByteLevel; model
// WordPiece (with BertPreTokenizer) or BPE (byte-level); post_processor
// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel and
// Sequences of them. Anything else is an error naming it. The file's
// truncation and padding settings are not applied (Encode's options decide),
// except that padding's pad_id becomes PadID; the decoder is not used.
func FromJSON(r io.Reader) (*Tokenizer, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t, err := s.build()
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	return t, nil
}

type hfTokenizerFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         json.RawMessage `json:"model"`
	Padding       *struct {
		PadID *int32 `json:"pad_id"`
	} `json:"padding"`
}

type hfAddedToken struct {
	ID         *int32 `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

// typed reads the "type" of a component (empty for JSON null).
func typed(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var t struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", err
	}
	if t.Type == "" {
		return "", errors.New("missing \"type\"")
	}
	return t.Type, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func parseTokenizerJSON(data []byte) (*spec, error) {
	var f hfTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if isNull(f.Model) {
		return nil, errors.New("no \"model\"")
	}
	s := &spec{}
	if err := s.parseModel(f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	ops, err := parseNormalizer(f.Normalizer)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	s.norm = ops
	if err := s.parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	for i, a := range f.AddedTokens {
		if a.ID == nil {
			return nil, fmt.Errorf("added_tokens[%d] (%q): no id", i, a.Content)
		}
		normalized := !a.Special // HF's default for a token without the flag
		if a.Normalized != nil {
			normalized = *a.Normalized
		}
		s.added = append(s.added, addedToken{Content: a.Content, ID: *a.ID, Special: a.Special,
			SingleWord: a.SingleWord, LStrip: a.LStrip, RStrip: a.RStrip, Normalized: normalized})
	}
	post, err := parsePostProcessor(f.PostProcessor, s)
	if err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	s.post = post
	if f.Padding != nil && f.Padding.PadID != nil {
		s.padID = f.Padding.PadID
	}
	return s, nil
}

func (s *spec) parseModel(raw json.RawMessage) error {
	var m struct {
		Type                    string           `json:"type"`
		Vocab                   map[string]int64 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
		UnkToken                *string          `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int             `json:"max_input_chars_per_word"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
		Dropout                 *float64         `json:"dropout"`
		ByteFallback            bool             `json:"byte_fallback"`
		IgnoreMerges            bool             `json:"ignore_merges"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if m.Type == "" { // HF accepts untyped models and guesses
		switch {
		case !isNull(m.Merges):
			m.Type = "BPE"
		case m.MaxInputCharsPerWord != nil || m.ContinuingSubwordPrefix != nil:
			m.Type = "WordPiece"
		}
	}
	if m.Vocab == nil {
		return errors.New("no \"vocab\"")
	}
	vocab, err := vocabFromJSON(m.Vocab)
	if err != nil {
		return err
	}
	s.vocab = vocab
	switch m.Type {
	case "WordPiece":
		s.kind = KindWordPiece
		s.unkToken, s.wpPrefix, s.wpMaxChars = "[UNK]", "##", 100
		if m.UnkToken != nil {
			s.unkToken = *m.UnkToken
		}
		if m.ContinuingSubwordPrefix != nil {
			s.wpPrefix = *m.ContinuingSubwordPrefix
		}
		if m.MaxInputCharsPerWord != nil {
			s.wpMaxChars = *m.MaxInputCharsPerWord
		}
	case "BPE":
		s.kind = KindBPE
		switch {
		case m.Dropout != nil && *m.Dropout != 0:
			return fmt.Errorf("BPE dropout %g is not supported (tokenization would be random)", *m.Dropout)
		case m.ByteFallback:
			return errors.New("BPE byte_fallback is not supported (only byte-level BPE is)")
		case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
			return fmt.Errorf("BPE continuing_subword_prefix %q is not supported (only byte-level BPE is)", *m.ContinuingSubwordPrefix)
		case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
			return fmt.Errorf("BPE end_of_word_suffix %q is not supported (only byte-level BPE is)", *m.EndOfWordSuffix)
		}
		s.ignoreMerges = m.IgnoreMerges
		merges, err := mergesFromJSON(m.Merges)
		if err != nil {
			return err
		}
		s.merges = merges
	case "":
		return errors.New("missing \"type\"")
	default:
		return fmt.Errorf("unsupported model type %q (supported: WordPiece, BPE)", m.Type)
	}
	return nil
}

func vocabFromJSON(v map[string]int64) (map[string]int32, error) {
	out := make(map[string]int32, len(v))
	for tok, id := range v {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("vocab: token %q has id %d, outside [0, %d)", tok, id, maxVocab)
		}
		out[tok] = int32(id)
	}
	return out, nil
}

// mergesFromJSON accepts both layouts HF writes: ["a b", ...] (older) and
// [["a", "b"], ...] (tokenizers >= 0.20).
func mergesFromJSON(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, errors.New("BPE model has no \"merges\"")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		var str string
		if err := json.Unmarshal(it, &str); err == nil {
			a, b, ok := strings.Cut(str, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merges[%d] %q: want two tokens separated by one space", i, str)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("merges[%d]: want \"a b\" or [\"a\", \"b\"], got %s", i, truncateForError(it))
		}
		out[i] = [2]string{pair[0], pair[1]}
	}
	return out, nil
}

func truncateForError(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

func parseNormalizer(raw json.RawMessage) ([]normOp, error) {
	typ, err := typed(raw)
	if err != nil || typ == "" {
		return nil, err
	}
	switch typ {
	case "BertNormalizer":
		var n struct {
			CleanText          *bool `json:"clean_text"`
			HandleChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents       *bool `json:"strip_accents"`
			Lowercase          *bool `json:"lowercase"`
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		return bertOps(boolOr(n.CleanText, true), boolOr(n.HandleChineseChars, true), n.StripAccents, boolOr(n.Lowercase, true)), nil
	case "Lowercase":
		return []normOp{opLowercase}, nil
	case "StripAccents":
		return []normOp{opStripMarks}, nil
	case "NFD":
		return []normOp{opNFD}, nil
	case "NFC":
		return []normOp{opNFC}, nil
	case "NFKD":
		return []normOp{opNFKD}, nil
	case "NFKC":
		return []normOp{opNFKC}, nil
	case "Sequence":
		var seq struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &seq); err != nil {
			return nil, err
		}
		var ops []normOp
		for i, n := range seq.Normalizers {
			o, err := parseNormalizer(n)
			if err != nil {
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
			}
			ops = append(ops, o...)
		}
		return ops, nil
	}
	return nil, fmt.Errorf("unsupported normalizer %q (supported: BertNormalizer, Lowercase, StripAccents, NFD, NFC, NFKD, NFKC, Sequence)", typ)
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func (s *spec) parsePreTokenizer(raw json.RawMessage) error {
	typ, err := typed(raw)
	if err != nil {
		return err
	}
	if typ == "Sequence" { // a one-element sequence is that element
		var seq struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &seq); err != nil {
			return err
		}
		if len(seq.PreTokenizers) != 1 {
			return fmt.Errorf("unsupported pre_tokenizer Sequence of %d pre-tokenizers", len(seq.PreTokenizers))
		}
		return s.parsePreTokenizer(seq.PreTokenizers[0])
	}
	switch {
	case s.kind == KindWordPiece && typ == "BertPreTokenizer":
		return nil
	case s.kind == KindBPE && typ == "ByteLevel":
		var bl struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}
		if err := json.Unmarshal(raw, &bl); err != nil {
			return err
		}
		s.addPrefixSpace = boolOr(bl.AddPrefixSpace, true)
		s.useRegex = boolOr(bl.UseRegex, true)
		return nil
	case typ == "":
		typ = "null"
	}
	want := "BertPreTokenizer"
	if s.kind == KindBPE {
		want = "ByteLevel"
	}
	return fmt.Errorf("unsupported pre_tokenizer %q for a %s model (supported: %s)", typ, s.kind, want)
}

// parsePostProcessor reads the post-processor; its special token ids come
// from the file itself.
func parsePostProcessor(raw json.RawMessage, s *spec) (*postProcessor, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "", "ByteLevel":
		return plainPost(), nil
	case "BertProcessing", "RobertaProcessing":
		var p struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		var sepID, clsID int32
		if err := json.Unmarshal(p.Sep[1], &sepID); err != nil {
			return nil, fmt.Errorf("%s sep: %w", typ, err)
		}
		if err := json.Unmarshal(p.Cls[1], &clsID); err != nil {
			return nil, fmt.Errorf("%s cls: %w", typ, err)
		}
		if typ == "BertProcessing" {
			return bertPost(clsID, sepID), nil
		}
		return robertaPost(clsID, sepID), nil
	case "TemplateProcessing":
		return parseTemplate(raw)
	case "Sequence":
		var seq struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &seq); err != nil {
			return nil, err
		}
		// ByteLevel only trims offsets; at most one member may add tokens.
		var found *postProcessor
		for i, p := range seq.Processors {
			t, err := typed(p)
			if err != nil {
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
			}
			if t == "ByteLevel" {
				continue
			}
			if found != nil {
				return nil, errors.New("unsupported post_processor Sequence with two processors that add tokens")
			}
			if found, err = parsePostProcessor(p, s); err != nil {
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
			}
		}
		if found == nil {
			return plainPost(), nil
		}
		return found, nil
	}
	return nil, fmt.Errorf("unsupported post_processor %q (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)", typ)
}

func parseTemplate(raw json.RawMessage) (*postProcessor, error) {
	var p struct {
		Single        []map[string]hfTemplateItem `json:"single"`
		Pair          []map[string]hfTemplateItem `json:"pair"`
		SpecialTokens map[string]struct {
			IDs []int32 `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	conv := func(name string, items []map[string]hfTemplateItem) (template, error) {
		var pieces []piece
		for i, item := range items {
			if len(item) != 1 {
				return template{}, fmt.Errorf("%s[%d]: want one of Sequence or SpecialToken", name, i)
			}
			for kind, v := range item {
				switch kind {
				case "Sequence":
					switch v.ID {
					case "A":
						pieces = append(pieces, seqPiece(0, v.TypeID))
					case "B":
						pieces = append(pieces, seqPiece(1, v.TypeID))
					default:
						return template{}, fmt.Errorf("%s[%d]: sequence %q (want A or B)", name, i, v.ID)
					}
				case "SpecialToken":
					st, ok := p.SpecialTokens[v.ID]
					if !ok {
						return template{}, fmt.Errorf("%s[%d]: special token %q is not in special_tokens", name, i, v.ID)
					}
					pieces = append(pieces, specialPiece(v.TypeID, st.IDs...))
				default:
					return template{}, fmt.Errorf("%s[%d]: unknown template piece %q", name, i, kind)
				}
			}
		}
		return newTemplate(pieces), nil
	}
	single, err := conv("single", p.Single)
	if err != nil {
		return nil, err
	}
	pp := &postProcessor{single: single}
	if len(p.Pair) > 0 {
		if pp.pair, err = conv("pair", p.Pair); err != nil {
			return nil, err
		}
	}
	return pp, nil
}

type hfTemplateItem struct {
	ID     string `json:"id"`
	TypeID int32  `json:"type_id"`
}
