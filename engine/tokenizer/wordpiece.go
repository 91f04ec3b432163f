package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wordPiece is BERT's WordPiece model with the BertPreTokenizer in front of it.
type wordPiece struct {
	vocab map[string]int32 // whole tokens: the first piece of a word
	// cont holds the continuation pieces keyed without their prefix ("##ing"
	// is under "ing"), so lookups need no string building.
	cont     map[string]int32
	unk      int32
	maxChars int // longer words (in characters) become [UNK]
	maxBytes int // longest key of vocab or cont: no longer piece can match
}

// newWordPiece builds the model from a token -> id vocabulary.
func newWordPiece(vocab map[string]int32, unkToken, prefix string, maxChars int) (*wordPiece, error) {
	unk, ok := vocab[unkToken]
	if !ok {
		return nil, fmt.Errorf("wordpiece: unknown token %q is not in the vocabulary", unkToken)
	}
	if maxChars <= 0 {
		maxChars = 100
	}
	wp := &wordPiece{vocab: vocab, cont: make(map[string]int32), unk: unk, maxChars: maxChars}
	for tok, id := range vocab {
		wp.maxBytes = max(wp.maxBytes, len(tok))
		if rest, ok := strings.CutPrefix(tok, prefix); ok && rest != "" {
			wp.cont[rest] = id
		}
	}
	return wp, nil
}

// asciiClass classifies ASCII bytes for the BERT pre-tokenizer.
var asciiBertClass = func() (c [utf8.RuneSelf]uint8) {
	for b := 0; b < utf8.RuneSelf; b++ {
		switch {
		case b == ' ' || (b >= '\t' && b <= '\r'):
			c[b] = bertSpace
		case (b >= '!' && b <= '/') || (b >= ':' && b <= '@') || (b >= '[' && b <= '`') || (b >= '{' && b <= '~'):
			c[b] = bertPunct
		}
	}
	return c
}()

const (
	bertWord = iota
	bertSpace
	bertPunct
)

// bertClass is how BertPreTokenizer treats r: whitespace splits and is
// dropped; punctuation (ASCII punctuation and symbols, or Unicode P*) is a
// word of its own.
func bertClass(r rune) uint8 {
	if r < utf8.RuneSelf {
		return asciiBertClass[r]
	}
	if unicode.IsSpace(r) {
		return bertSpace
	}
	if unicode.IsPunct(r) {
		return bertPunct
	}
	return bertWord
}

// encodeBert splits normalized text into words (BertPreTokenizer) and appends
// their WordPiece ids to dst.
func (wp *wordPiece) encodeBert(s []byte, dst []int32) []int32 {
	for i := 0; i < len(s); {
		start, end := nextBertWord(s, i)
		if start == end {
			break
		}
		dst = wp.tokenize(s[start:end], dst, nil)
		i = end
	}
	return dst
}

// nextBertWord finds the next word of normalized text at or after s[i]
// (BertPreTokenizer): whitespace splits and is dropped; punctuation is a word
// of its own. start == end when no word is left.
func nextBertWord(s []byte, i int) (start, end int) {
	start = -1
	for i < len(s) {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(s[i:])
		}
		switch bertClass(r) {
		case bertSpace:
			if start >= 0 {
				return start, i
			}
		case bertPunct:
			if start >= 0 {
				return start, i
			}
			return i, i + n
		default:
			if start < 0 {
				start = i
			}
		}
		i += n
	}
	if start < 0 {
		return len(s), len(s)
	}
	return start, len(s)
}

// tokenize appends the pieces of one word: greedy longest match first, a
// prefixed continuation after the first piece; a word with an unmatchable
// rest, or longer than maxChars characters, is the unknown token alone.
// ends, when not nil, gets each piece's end byte in word appended.
func (wp *wordPiece) tokenize(word []byte, dst []int32, ends *[]int) []int32 {
	if len(word) > wp.maxChars && utf8.RuneCount(word) > wp.maxChars {
		if ends != nil {
			*ends = append(*ends, len(word))
		}
		return append(dst, wp.unk)
	}
	mark := len(dst)
	markEnds := 0
	if ends != nil {
		markEnds = len(*ends)
	}
	for start := 0; start < len(word); {
		end := len(word)
		if end-start > wp.maxBytes {
			end = start + wp.maxBytes
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		dict := wp.vocab
		if start > 0 {
			dict = wp.cont
		}
		found := false
		for end > start {
			if id, ok := dict[string(word[start:end])]; ok {
				dst = append(dst, id)
				if ends != nil {
					*ends = append(*ends, end)
				}
				found = true
				break
			}
			_, n := utf8.DecodeLastRune(word[start:end])
			end -= n
		}
		if !found {
			if ends != nil {
				*ends = append((*ends)[:markEnds], len(word))
			}
			return append(dst[:mark], wp.unk)
		}
		start = end
	}
	return dst
}
