package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Load reads the tokenizer of a Hugging Face checkpoint directory. It prefers
// tokenizer.json; without it, it reads the classic files: vocab.txt (BERT
// WordPiece) or vocab.json + merges.txt (byte-level BPE, GPT-2 or RoBERTa
// flavour from tokenizer_config.json, special_tokens_map.json or config.json).
// tokenizer_config.json and special_tokens_map.json, when present, also give
// the pad token and the settings transformers applies on top of
// tokenizer.json (do_lower_case, strip_accents, tokenize_chinese_chars,
// add_prefix_space).
func Load(dir string) (*Tokenizer, error) {
	cfg, err := readHFConfig(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		s, err := parseTokenizerJSON(data)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		cfg.overrideJSON(s)
		t, err := s.build()
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		return t, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if exists(filepath.Join(dir, "vocab.txt")) {
		return loadClassicWordPiece(dir, cfg)
	}
	if exists(filepath.Join(dir, "vocab.json")) || exists(filepath.Join(dir, "merges.txt")) {
		return loadClassicBPE(dir, cfg)
	}
	return nil, fmt.Errorf("load tokenizer from %s: no tokenizer.json, vocab.txt, or vocab.json + merges.txt", dir)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// hfConfig is what tokenizer_config.json, special_tokens_map.json and
// config.json say about tokenization.
type hfConfig struct {
	class     string // tokenizer_class
	modelType string // config.json model_type

	doLowerCase, tokenizeChineseChars, addPrefixSpace, addBOS *bool
	stripAccents                                              *bool
	stripAccentsSet                                           bool // present, possibly null

	special    map[string]addedToken // unk_token, pad_token, ... by key
	additional []addedToken          // additional_special_tokens
	decoder    []addedToken          // added_tokens_decoder (with ids)
}

var specialKeys = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

func readHFConfig(dir string) (*hfConfig, error) {
	c := &hfConfig{special: map[string]addedToken{}}
	tc, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	stm, err := readJSONObject(filepath.Join(dir, "special_tokens_map.json"))
	if err != nil {
		return nil, err
	}
	mc, err := readJSONObject(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if err := c.parse(tc, stm, mc); err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	return c, nil
}

// readJSONObject reads a JSON object file; a missing file is an empty object.
func readJSONObject(path string) (map[string]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}

func (c *hfConfig) parse(tc, stm, mc map[string]json.RawMessage) error {
	str := func(m map[string]json.RawMessage, key string) (string, error) {
		raw, ok := m[key]
		if !ok || isNull(raw) {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		return s, nil
	}
	flag := func(key string, dst **bool) error {
		raw, ok := tc[key]
		if !ok || isNull(raw) {
			return nil
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("tokenizer_config.json %s: %w", key, err)
		}
		*dst = &b
		return nil
	}
	var err error
	if c.class, err = str(tc, "tokenizer_class"); err != nil {
		return fmt.Errorf("tokenizer_config.json %w", err)
	}
	if c.modelType, err = str(mc, "model_type"); err != nil {
		return fmt.Errorf("config.json %w", err)
	}
	for key, dst := range map[string]**bool{"do_lower_case": &c.doLowerCase,
		"tokenize_chinese_chars": &c.tokenizeChineseChars, "add_prefix_space": &c.addPrefixSpace,
		"add_bos_token": &c.addBOS} {
		if err := flag(key, dst); err != nil {
			return err
		}
	}
	if _, ok := tc["strip_accents"]; ok {
		c.stripAccentsSet = true
		if err := flag("strip_accents", &c.stripAccents); err != nil {
			return err
		}
	}
	// special_tokens_map.json overrides tokenizer_config.json, as in
	// transformers.
	for _, src := range []struct {
		name string
		m    map[string]json.RawMessage
	}{{"tokenizer_config.json", tc}, {"special_tokens_map.json", stm}} {
		for _, key := range specialKeys {
			raw, ok := src.m[key]
			if !ok || isNull(raw) {
				continue
			}
			tok, err := parseSpecialToken(raw)
			if err != nil {
				return fmt.Errorf("%s %s: %w", src.name, key, err)
			}
			c.special[key] = tok
		}
		if raw, ok := src.m["additional_special_tokens"]; ok && !isNull(raw) {
			var list []json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				return fmt.Errorf("%s additional_special_tokens: %w", src.name, err)
			}
			c.additional = c.additional[:0]
			for i, item := range list {
				tok, err := parseSpecialToken(item)
				if err != nil {
					return fmt.Errorf("%s additional_special_tokens[%d]: %w", src.name, i, err)
				}
				c.additional = append(c.additional, tok)
			}
		}
	}
	if raw, ok := tc["added_tokens_decoder"]; ok && !isNull(raw) {
		var dec map[string]json.RawMessage
		if err := json.Unmarshal(raw, &dec); err != nil {
			return fmt.Errorf("tokenizer_config.json added_tokens_decoder: %w", err)
		}
		for key, item := range dec {
			id, err := strconv.ParseInt(key, 10, 32)
			if err != nil || id < 0 {
				return fmt.Errorf("tokenizer_config.json added_tokens_decoder: bad id %q", key)
			}
			tok, err := parseSpecialToken(item)
			if err != nil {
				return fmt.Errorf("tokenizer_config.json added_tokens_decoder[%s]: %w", key, err)
			}
			tok.ID = int32(id)
			c.decoder = append(c.decoder, tok)
		}
		// Map order is random; HF keeps id order.
		sortAdded(c.decoder)
	}
	return nil
}

// parseSpecialToken reads "text" or {"content": "text", "lstrip": ..., ...}.
// A token given as a plain string is special and not normalized
// (transformers' AddedToken defaults for special tokens).
func parseSpecialToken(raw json.RawMessage) (addedToken, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return addedToken{Content: s, Special: true, ID: -1}, nil
	}
	var o struct {
		Content    *string `json:"content"`
		SingleWord bool    `json:"single_word"`
		LStrip     bool    `json:"lstrip"`
		RStrip     bool    `json:"rstrip"`
		Normalized *bool   `json:"normalized"`
		Special    *bool   `json:"special"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return addedToken{}, err
	}
	if o.Content == nil {
		return addedToken{}, errors.New("no \"content\"")
	}
	special := boolOr(o.Special, true)
	return addedToken{Content: *o.Content, ID: -1, Special: special, SingleWord: o.SingleWord,
		LStrip: o.LStrip, RStrip: o.RStrip, Normalized: boolOr(o.Normalized, !special)}, nil
}

func sortAdded(a []addedToken) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].ID < a[j-1].ID; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func (c *hfConfig) tokenName(key, def string) string {
	if t, ok := c.special[key]; ok {
		return t.Content
	}
	return def
}

// overrideJSON applies what transformers' fast tokenizers take from
// tokenizer_config.json over tokenizer.json, and the pad/eos tokens.
func (c *hfConfig) overrideJSON(s *spec) {
	if s.kind == KindWordPiece && (c.doLowerCase != nil || c.stripAccentsSet || c.tokenizeChineseChars != nil) {
		if clean, chinese, strip, lower, ok := bertFlags(s.norm); ok {
			if c.doLowerCase != nil {
				lower = *c.doLowerCase
			}
			if c.stripAccentsSet {
				strip = c.stripAccents
			}
			if c.tokenizeChineseChars != nil {
				chinese = *c.tokenizeChineseChars
			}
			s.norm = bertOps(clean, chinese, strip, lower)
		}
	}
	if s.kind == KindBPE && c.addPrefixSpace != nil {
		s.addPrefixSpace = *c.addPrefixSpace
	}
	s.padToken = c.tokenName("pad_token", "")
	s.eosToken = c.tokenName("eos_token", "")
}

// bertFlags recognizes ops built by bertOps (a BertNormalizer); strip is
// reported explicitly.
func bertFlags(ops []normOp) (clean, chinese bool, strip *bool, lower, ok bool) {
	i := 0
	next := func(op normOp) bool {
		if i < len(ops) && ops[i] == op {
			i++
			return true
		}
		return false
	}
	clean = next(opCleanText)
	chinese = next(opChineseChars)
	s := false
	if next(opNFD) {
		if !next(opStripMarks) {
			return false, false, nil, false, false
		}
		s = true
	}
	lower = next(opLowercase)
	if i != len(ops) || !clean {
		return false, false, nil, false, false
	}
	return clean, chinese, &s, lower, true
}

// WordPieceOptions configures NewWordPiece (BERT's BasicTokenizer settings
// and special tokens). The zero value is bert-base-cased's behaviour; set
// Lowercase for uncased vocabularies.
type WordPieceOptions struct {
	Lowercase bool
	// StripAccents removes accents; nil follows Lowercase (BERT's rule).
	StripAccents *bool
	// KeepChineseChars leaves CJK ideographs in their words instead of
	// isolating each one (tokenize_chinese_chars = false).
	KeepChineseChars bool
	// Special tokens; empty means [UNK], [CLS], [SEP], [PAD], [MASK].
	UnkToken, ClsToken, SepToken, PadToken, MaskToken string
	// MaxInputCharsPerWord: longer words become the unknown token (0: 100).
	MaxInputCharsPerWord int
}

// NewWordPiece builds a BERT tokenizer from a vocab.txt (one token per line,
// the line number is the id). The vocabulary must contain the unknown, CLS
// and SEP tokens.
func NewWordPiece(vocab io.Reader, opts WordPieceOptions) (*Tokenizer, error) {
	v, err := readVocabTxt(vocab)
	if err != nil {
		return nil, fmt.Errorf("vocab.txt: %w", err)
	}
	s, err := wordPieceSpec(v, opts, nil)
	if err != nil {
		return nil, err
	}
	return s.build()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// wordPieceSpec describes a classic BERT tokenizer; c (may be nil) can list
// the added tokens with their flags.
func wordPieceSpec(vocab map[string]int32, opts WordPieceOptions, c *hfConfig) (*spec, error) {
	unk := orDefault(opts.UnkToken, "[UNK]")
	cls := orDefault(opts.ClsToken, "[CLS]")
	sep := orDefault(opts.SepToken, "[SEP]")
	pad := orDefault(opts.PadToken, "[PAD]")
	mask := orDefault(opts.MaskToken, "[MASK]")
	s := &spec{kind: KindWordPiece, vocab: vocab, unkToken: unk, wpPrefix: "##",
		wpMaxChars: opts.MaxInputCharsPerWord, padToken: pad,
		norm: bertOps(true, !opts.KeepChineseChars, opts.StripAccents, opts.Lowercase)}
	for _, name := range []string{unk, cls, sep} {
		if _, ok := vocab[name]; !ok {
			return nil, fmt.Errorf("vocabulary has no %s token", name)
		}
	}
	s.post = bertPost(vocab[cls], vocab[sep])
	var defaults []addedToken
	for _, name := range []string{pad, unk, cls, sep, mask} {
		if id, ok := vocab[name]; ok {
			defaults = append(defaults, addedToken{Content: name, ID: id, Special: true})
		}
	}
	s.added = defaults
	if c != nil {
		s.added = c.addedTokens(defaults)
	}
	return s, nil
}

// readVocabTxt reads one token per line; the line number (from 0) is the
// id. A repeated token keeps its last id, as in HF.
func readVocabTxt(r io.Reader) (map[string]int32, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	vocab := make(map[string]int32, 32*1024)
	n := 0
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d is not valid UTF-8", n+1)
		}
		if n >= maxVocab {
			return nil, fmt.Errorf("more than %d lines", maxVocab)
		}
		vocab[line] = int32(n)
		n++
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("empty vocabulary")
	}
	return vocab, nil
}

func loadClassicWordPiece(dir string, c *hfConfig) (*Tokenizer, error) {
	path := filepath.Join(dir, "vocab.txt")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	vocab, err := readVocabTxt(f)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	opts := WordPieceOptions{
		Lowercase:        boolOr(c.doLowerCase, true),
		StripAccents:     c.stripAccents,
		KeepChineseChars: !boolOr(c.tokenizeChineseChars, true),
		UnkToken:         c.tokenName("unk_token", ""),
		ClsToken:         c.tokenName("cls_token", ""),
		SepToken:         c.tokenName("sep_token", ""),
		PadToken:         c.tokenName("pad_token", ""),
		MaskToken:        c.tokenName("mask_token", ""),
	}
	s, err := wordPieceSpec(vocab, opts, c)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	t, err := s.build()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return t, nil
}

// addedTokens is the added tokens of a classic checkpoint:
// added_tokens_decoder when the config has it, else the defaults of the
// tokenizer class, plus additional_special_tokens.
func (c *hfConfig) addedTokens(defaults []addedToken) []addedToken {
	out := append([]addedToken(nil), c.decoder...)
	if c.decoder == nil {
		out = append(out, defaults...)
	}
	return append(out, c.additional...)
}

// BPEOptions configures NewByteLevelBPE.
type BPEOptions struct {
	// RoBERTa selects RoBERTa's special tokens (<s> <pad> </s> <unk>, <mask>
	// with lstrip) and its <s> A </s></s> B </s> template; otherwise GPT-2's:
	// <|endoftext|> matched in text and nothing added.
	RoBERTa bool
	// AddPrefixSpace makes the first word look like any other (" Hello").
	AddPrefixSpace bool
	// AddBOS prepends GPT-2's bos token (transformers' add_bos_token).
	AddBOS bool
}

// NewByteLevelBPE builds a GPT-2 or RoBERTa tokenizer from vocab.json and
// merges.txt contents.
func NewByteLevelBPE(vocabJSON, merges io.Reader, opts BPEOptions) (*Tokenizer, error) {
	c := &hfConfig{special: map[string]addedToken{}, addPrefixSpace: &opts.AddPrefixSpace, addBOS: &opts.AddBOS}
	if opts.RoBERTa {
		c.class = "RobertaTokenizer"
	} else {
		c.class = "GPT2Tokenizer"
	}
	s, err := bpeSpec(vocabJSON, merges, c)
	if err != nil {
		return nil, err
	}
	return s.build()
}

func loadClassicBPE(dir string, c *hfConfig) (*Tokenizer, error) {
	vpath, mpath := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	vf, err := os.Open(vpath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", vpath, err)
	}
	defer vf.Close()
	mf, err := os.Open(mpath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", mpath, err)
	}
	defer mf.Close()
	s, err := bpeSpec(vf, mf, c)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	t, err := s.build()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	return t, nil
}

// isRoBERTa decides the classic BPE flavour: the tokenizer class, else the
// model type, else whether the special tokens include a CLS token.
func (c *hfConfig) isRoBERTa() bool {
	cls := strings.ToLower(c.class)
	switch {
	case strings.Contains(cls, "roberta") || strings.Contains(cls, "bart") || strings.Contains(cls, "longformer"):
		return true
	case strings.Contains(cls, "gpt2"):
		return false
	}
	switch c.modelType {
	case "roberta", "bart", "longformer", "camembert":
		return true
	case "gpt2":
		return false
	}
	_, hasCLS := c.special["cls_token"]
	return hasCLS
}

func bpeSpec(vocabJSON, mergesTxt io.Reader, c *hfConfig) (*spec, error) {
	var raw map[string]int64
	dec := json.NewDecoder(vocabJSON)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("vocab.json: %w", err)
	}
	vocab, err := vocabFromJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("vocab.json: %w", err)
	}
	merges, err := readMergesTxt(mergesTxt)
	if err != nil {
		return nil, fmt.Errorf("merges.txt: %w", err)
	}
	s := &spec{kind: KindBPE, vocab: vocab, merges: merges, useRegex: true,
		addPrefixSpace: boolOr(c.addPrefixSpace, false)}
	var specials []addedToken
	if c.isRoBERTa() {
		bos, eos := c.tokenName("bos_token", "<s>"), c.tokenName("eos_token", "</s>")
		cls, sep := c.tokenName("cls_token", "<s>"), c.tokenName("sep_token", "</s>")
		unk, pad := c.tokenName("unk_token", "<unk>"), c.tokenName("pad_token", "<pad>")
		maskTok, ok := c.special["mask_token"]
		if !ok {
			maskTok = addedToken{Content: "<mask>", Special: true}
		}
		// RobertaTokenizer always makes <mask> swallow the space before it.
		maskTok.LStrip = true
		for _, name := range []string{bos, pad, eos, unk} {
			specials = append(specials, addedToken{Content: name, Special: true})
		}
		specials = append(specials, maskTok)
		clsID, ok1 := vocab[cls]
		sepID, ok2 := vocab[sep]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("vocab.json lacks the RoBERTa special tokens %q and %q", cls, sep)
		}
		s.post = robertaPost(clsID, sepID)
		s.padToken, s.eosToken = pad, eos
	} else {
		eot := "<|endoftext|>"
		bos, eos, unk := c.tokenName("bos_token", eot), c.tokenName("eos_token", eot), c.tokenName("unk_token", eot)
		for _, name := range []string{bos, eos, unk} {
			specials = append(specials, addedToken{Content: name, Special: true})
		}
		if boolOr(c.addBOS, false) {
			bosID, ok := vocab[bos]
			if !ok {
				return nil, fmt.Errorf("vocab.json lacks the bos token %q", bos)
			}
			s.post = &postProcessor{
				single: newTemplate([]piece{specialPiece(0, bosID), seqPiece(0, 0)}),
				pair:   newTemplate([]piece{specialPiece(0, bosID), seqPiece(0, 0), specialPiece(1, bosID), seqPiece(1, 1)}),
			}
		}
		s.padToken, s.eosToken = c.tokenName("pad_token", ""), eos
	}
	if c.decoder == nil {
		for i, t := range specials {
			id, ok := vocab[t.Content]
			if !ok {
				return nil, fmt.Errorf("special token %q is not in vocab.json", t.Content)
			}
			specials[i].ID = id
		}
	}
	s.added = c.addedTokens(specials)
	return s, nil
}

// readMergesTxt reads "a b" lines in rank order, skipping the "#version"
// header and blank lines.
func readMergesTxt(r io.Reader) ([][2]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var out [][2]string
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) == 0 || bytes.HasPrefix(line, []byte("#version")) {
			continue
		}
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("line %d is not valid UTF-8", n)
		}
		a, b, ok := bytes.Cut(line, []byte(" "))
		if !ok || len(a) == 0 || len(b) == 0 || bytes.IndexByte(b, ' ') >= 0 {
			return nil, fmt.Errorf("line %d %q: want two tokens separated by one space", n, truncateForError(line))
		}
		out = append(out, [2]string{string(a), string(b)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
