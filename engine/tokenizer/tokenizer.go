// Package tokenizer turns text into the token ids a transformer checkpoint
// expects, reproducing Hugging Face tokenization exactly for the two families
// the engine serves:
//
//   - BERT WordPiece (bert, distilbert, sentence-transformers MiniLM):
//     BertNormalizer, BertPreTokenizer, greedy longest-match WordPiece, the
//     [CLS] A [SEP] B [SEP] template;
//   - byte-level BPE (gpt2, roberta): the GPT-2 pre-tokenizer, the byte to
//     unicode map, rank-ordered merges, RoBERTa's <s> A </s></s> B </s>.
//
// The pipeline is the one of HF's Rust tokenizers (what transformers' fast
// tokenizers run): added/special tokens are cut out of the raw text first,
// the rest is normalized, pre-tokenized into words and each word run through
// the model; a post-processor adds the special tokens; truncation keeps them.
//
// A Tokenizer is immutable after loading and safe for concurrent use.
package tokenizer

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"
)

// Kind is the tokenization model of a Tokenizer.
type Kind int

const (
	// KindWordPiece is BERT's WordPiece.
	KindWordPiece Kind = iota + 1
	// KindBPE is GPT-2/RoBERTa byte-level BPE.
	KindBPE
)

func (k Kind) String() string {
	switch k {
	case KindWordPiece:
		return "wordpiece"
	case KindBPE:
		return "bpe"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ErrInvalidUTF8 is returned (wrapped) for text that is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("text is not valid UTF-8")

// Options controls one Encode call.
type Options struct {
	// Pair is the second text of a pair (a question and its passage, two
	// sentences); it is used when HasPair is set, so an empty pair is possible.
	Pair    string
	HasPair bool
	// AddSpecial adds the model's special tokens ([CLS]/[SEP], <s>/</s>).
	AddSpecial bool
	// MaxLength truncates the result to at most this many ids, special tokens
	// included and kept (0: no truncation). Pairs are cut "longest first".
	MaxLength int
}

// Encoding is the tokenized input.
type Encoding struct {
	IDs     []int32
	TypeIDs []int32 // segment ids, same length as IDs (0 for the first text)
	// Truncated tells whether MaxLength removed ids; Untruncated is the length
	// the encoding would have had without truncation.
	Truncated   bool
	Untruncated int
}

// Tokenizer encodes text. Build one with Load, FromJSON, NewWordPiece or
// NewByteLevelBPE.
type Tokenizer struct {
	kind   Kind
	tokens []string         // id -> token (model vocabulary and added tokens)
	ids    map[string]int32 // token -> id (added tokens win, as in HF)

	// Stage 1: added tokens cut out of the raw text, then out of the
	// normalized text (HF's two matching passes).
	rawAdded  *matcher
	normAdded *matcher
	// Stage 2: normalizer (nil: none).
	norm *normalizer
	// Stage 3 and 4: pre-tokenizer and model, one of the two pairs.
	wp  *wordPiece // with the BERT pre-tokenizer
	bpe *bpeModel  // with the byte-level pre-tokenizer
	// Stage 5: special tokens around the sequences.
	post *postProcessor

	padID int32
	pool  sync.Pool // *scratch
}

// Kind is the tokenization model.
func (t *Tokenizer) Kind() Kind { return t.kind }

// VocabSize is the number of ids the tokenizer can produce (highest id + 1),
// i.e. the rows the model's embedding table needs.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// PadID is the id to pad batches with: the pad token, or for GPT-2 (which
// has none) the end-of-text token; pads are masked out anyway.
func (t *Tokenizer) PadID() int32 { return t.padID }

// Token is the vocabulary string of an id (byte-level BPE tokens are in
// GPT-2's byte-to-unicode form, e.g. "Ġworld").
func (t *Tokenizer) Token(id int32) (string, bool) {
	if id < 0 || int(id) >= len(t.tokens) {
		return "", false
	}
	return t.tokens[id], true
}

// Tokens maps ids to their token strings, for debugging; an unknown id maps
// to "".
func (t *Tokenizer) Tokens(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i], _ = t.Token(id)
	}
	return out
}

// ID is the id of a token string.
func (t *Tokenizer) ID(token string) (int32, bool) {
	id, ok := t.ids[token]
	return id, ok
}

// NumSpecialTokens is the number of special tokens AddSpecial adds to a single
// text (pair false) or a pair.
func (t *Tokenizer) NumSpecialTokens(pair bool) int {
	if pair {
		return t.post.pair.added
	}
	return t.post.single.added
}

// scratch is the per-call working memory, pooled so that a call allocates
// only its result.
type scratch struct {
	raw, bufA, bufB, pre []byte
	spans, spans2        []span
	a, b                 []int32
	bpe                  bpeScratch
}

// maxPooledBytes keeps one huge text from pinning its buffers in the pool.
const maxPooledBytes = 1 << 20

func (t *Tokenizer) getScratch() *scratch {
	if sc, ok := t.pool.Get().(*scratch); ok {
		return sc
	}
	return &scratch{}
}

func (t *Tokenizer) putScratch(sc *scratch) {
	if cap(sc.raw) > maxPooledBytes || cap(sc.bufA) > maxPooledBytes || cap(sc.bufB) > maxPooledBytes ||
		cap(sc.a) > maxPooledBytes/4 || cap(sc.b) > maxPooledBytes/4 {
		return
	}
	t.pool.Put(sc)
}

// Encode tokenizes text (and opts.Pair). Text must be valid UTF-8; empty text
// is valid.
func (t *Tokenizer) Encode(text string, opts Options) (Encoding, error) {
	if !utf8.ValidString(text) {
		return Encoding{}, fmt.Errorf("encode: %w (at byte %d)", ErrInvalidUTF8, invalidAt(text))
	}
	if opts.HasPair && !utf8.ValidString(opts.Pair) {
		return Encoding{}, fmt.Errorf("encode pair: %w (at byte %d)", ErrInvalidUTF8, invalidAt(opts.Pair))
	}
	if opts.MaxLength < 0 {
		return Encoding{}, fmt.Errorf("encode: negative max length %d", opts.MaxLength)
	}
	tmpl := &t.post.single
	if opts.HasPair {
		tmpl = &t.post.pair
		if !tmpl.ok {
			return Encoding{}, errors.New("encode: this tokenizer has no template for text pairs")
		}
	}
	added := 0
	if opts.AddSpecial {
		added = tmpl.added
	}
	if opts.MaxLength > 0 && opts.MaxLength < added {
		return Encoding{}, fmt.Errorf("encode: max length %d leaves no room for the %d special tokens", opts.MaxLength, added)
	}

	sc := t.getScratch()
	defer t.putScratch(sc)
	sc.a = t.encodeSequence(text, sc, sc.a[:0])
	a, b := sc.a, []int32(nil)
	if opts.HasPair {
		sc.b = t.encodeSequence(opts.Pair, sc, sc.b[:0])
		b = sc.b
	}

	enc := Encoding{Untruncated: len(a) + len(b) + added}
	if opts.MaxLength > 0 && enc.Untruncated > opts.MaxLength {
		na, nb := truncateLengths(len(a), len(b), opts.HasPair, opts.MaxLength-added)
		a, b = a[:na], b[:nb]
		enc.Truncated = true
	}
	enc.IDs, enc.TypeIDs = tmpl.apply(a, b, opts.AddSpecial)
	return enc, nil
}

// encodeSequence appends the ids of one text (no special tokens) to dst.
func (t *Tokenizer) encodeSequence(text string, sc *scratch, dst []int32) []int32 {
	if len(text) == 0 {
		return dst
	}
	sc.raw = append(sc.raw[:0], text...)
	raw := sc.raw
	// Pass 1: added tokens that match the raw text (normalized: false).
	sc.spans = t.rawAdded.split(raw, sc.spans[:0])
	for i := 0; i < len(sc.spans); i++ {
		sp := sc.spans[i]
		if sp.id >= 0 {
			dst = append(dst, sp.id)
			continue
		}
		piece := raw[sp.start:sp.end]
		if t.norm != nil {
			sc.bufA, sc.bufB = t.norm.apply(piece, sc.bufA[:0], sc.bufB[:0])
			piece = sc.bufA
		}
		// Pass 2: added tokens that match the normalized text.
		sc.spans2 = t.normAdded.split(piece, sc.spans2[:0])
		for _, sp2 := range sc.spans2 {
			if sp2.id >= 0 {
				dst = append(dst, sp2.id)
				continue
			}
			dst = t.encodePiece(piece[sp2.start:sp2.end], sc, dst)
		}
	}
	return dst
}

// encodePiece pre-tokenizes normalized text free of added tokens and runs the
// model on every word.
func (t *Tokenizer) encodePiece(s []byte, sc *scratch, dst []int32) []int32 {
	if t.wp != nil {
		return t.wp.encodeBert(s, dst)
	}
	return t.bpe.encodeByteLevel(s, sc, dst)
}

func invalidAt(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
