package tokenizer

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Offset is where a token came from in the original text: Unicode code points
// [Start, End). A token the text has no characters for (a whitespace-only
// byte-level token after trimming) has Start == End.
type Offset struct{ Start, End int }

// EncodeOffsets tokenizes one text without special tokens and without
// truncation, returning each token's id and its offsets in the original text
// (what Hugging Face's return_offsets_mapping gives, in code points). The
// normalizer runs character by character (with a character's combining marks)
// so that every normalized byte keeps the character it came from; WordPiece
// pieces map back to the characters of their word, byte-level BPE tokens to
// the characters of their bytes, trimmed of surrounding whitespace (HF's
// trim_offsets). A character split across byte-level tokens belongs to each.
func (t *Tokenizer) EncodeOffsets(text string) ([]int32, []Offset, error) {
	if !utf8.ValidString(text) {
		return nil, nil, fmt.Errorf("encode offsets: %w (at byte %d)", ErrInvalidUTF8, invalidAt(text))
	}
	raw := []byte(text)
	cp := codePoints(raw)
	var ids []int32
	var offs []Offset
	var rawAl []Offset // the identity alignment, made when an added token needs it
	for _, sp := range t.rawAdded.split(raw, nil) {
		if sp.id >= 0 {
			// lstrip/rstrip tokens swallow whitespace: trim it off again.
			if rawAl == nil {
				rawAl = rawAlign(cp)
			}
			ids = append(ids, sp.id)
			offs = append(offs, trimmedCover(raw, rawAl, sp.start, sp.end))
			continue
		}
		piece, align := t.normalizeAligned(raw[sp.start:sp.end], cp[sp.start:sp.end+1])
		for _, sp2 := range t.normAdded.split(piece, nil) {
			if sp2.id >= 0 {
				ids = append(ids, sp2.id)
				offs = append(offs, trimmedCover(piece, align, sp2.start, sp2.end))
				continue
			}
			if t.wp != nil {
				ids, offs = t.wp.offsets(piece[sp2.start:sp2.end], align[sp2.start:sp2.end], ids, offs)
			} else {
				ids, offs = t.bpe.offsets(t, piece[sp2.start:sp2.end], align[sp2.start:sp2.end], ids, offs)
			}
		}
	}
	return ids, offs, nil
}

// WithSpecial lays out the ids of one text with the model's special tokens
// (the single-text template) and returns how many special ids precede them.
func (t *Tokenizer) WithSpecial(ids []int32) (out, typeIDs []int32, lead int) {
	tmpl := &t.post.single
	for _, p := range tmpl.pieces {
		if p.seq >= 0 {
			break
		}
		lead += len(p.ids)
	}
	out, typeIDs = tmpl.apply(ids, nil, true)
	return out, typeIDs, lead
}

// codePoints maps every byte index of s (and len(s)) to the index of the
// code point it belongs to.
func codePoints(s []byte) []int {
	cp := make([]int, len(s)+1)
	n := 0
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRune(s[i:])
		for k := 0; k < size; k++ {
			cp[i+k] = n
		}
		i += size
		n++
	}
	cp[len(s)] = n
	return cp
}

// rawAlign is the identity alignment of a text whose bytes have the code
// points cp.
func rawAlign(cp []int) []Offset {
	align := make([]Offset, len(cp)-1)
	for i := range align {
		align[i] = Offset{cp[i], cp[i] + 1}
	}
	return align
}

// normalizeAligned normalizes src unit by unit (a character and the
// combining marks after it) and returns the result with, for every result
// byte, the code points of the unit it came from. cp holds the code point of
// every byte of src and one past its end.
func (t *Tokenizer) normalizeAligned(src []byte, cp []int) ([]byte, []Offset) {
	if t.norm == nil {
		return append([]byte(nil), src...), rawAlign(cp)
	}
	out := make([]byte, 0, len(src))
	align := make([]Offset, 0, len(src))
	var a, b []byte
	for i := 0; i < len(src); {
		j := i + unitLen(src[i:])
		res, spare := t.norm.apply(src[i:j], a[:0], b[:0])
		out = append(out, res...)
		align = t.alignUnit(src[i:j], cp[i:j+1], res, align)
		a, b = res, spare
		i = j
	}
	return out, align
}

// alignUnit appends the origins of res, the normalized form of one unit src
// (a character and its combining marks, code points cp). The finest split
// that normalizes to the same bytes wins: character by character, else the
// first character apart from its marks, else the whole unit. The split
// matters where the normalizer pads a character with spaces (BERT's CJK
// rule): a combining mark after it is then a word of its own, and must not
// share the character's offsets, or two tokens would claim one character.
func (t *Tokenizer) alignUnit(src []byte, cp []int, res []byte, align []Offset) []Offset {
	whole := Offset{cp[0], cp[len(src)-1] + 1}
	if cp[len(src)-1] == cp[0] {
		// One character.
		for range res {
			align = append(align, whole)
		}
		return align
	}
	// Character by character.
	var parts [][2]int // byte ranges of src
	for i := 0; i < len(src); {
		_, n := utf8.DecodeRune(src[i:])
		parts = append(parts, [2]int{i, i + n})
		i += n
	}
	if al, ok := t.alignParts(src, cp, res, parts, align); ok {
		return al
	}
	// The first character, then its marks together.
	if al, ok := t.alignParts(src, cp, res, [][2]int{parts[0], {parts[0][1], len(src)}}, align); ok {
		return al
	}
	for range res {
		align = append(align, whole)
	}
	return align
}

// alignParts appends the origins of res if normalizing the byte ranges parts
// of src one by one gives exactly res.
func (t *Tokenizer) alignParts(src []byte, cp []int, res []byte, parts [][2]int, align []Offset) ([]Offset, bool) {
	n0, k := len(align), 0
	for _, p := range parts {
		r, _ := t.norm.apply(src[p[0]:p[1]], nil, nil)
		if k+len(r) > len(res) || string(res[k:k+len(r)]) != string(r) {
			return align[:n0], false
		}
		k += len(r)
		o := Offset{cp[p[0]], cp[p[1]-1] + 1}
		for range r {
			align = append(align, o)
		}
	}
	if k != len(res) {
		return align[:n0], false
	}
	return align, true
}

// unitLen is the byte length of the first character of s with the
// non-starters (combining marks) that follow it.
func unitLen(s []byte) int {
	_, n := utf8.DecodeRune(s)
	for n < len(s) {
		p := norm.NFD.Properties(s[n:])
		if p.CCC() == 0 || p.Size() == 0 {
			break
		}
		n += p.Size()
	}
	return n
}

// cover is the smallest offset containing every offset of align (non-empty).
func cover(align []Offset) Offset {
	o := align[0]
	for _, a := range align[1:] {
		o.Start, o.End = min(o.Start, a.Start), max(o.End, a.End)
	}
	return o
}

// offsets appends the WordPiece ids of normalized text s and their offsets;
// align[i] is the origin of s[i].
func (wp *wordPiece) offsets(s []byte, align []Offset, ids []int32, offs []Offset) ([]int32, []Offset) {
	var ends []int
	for i := 0; i < len(s); {
		start, end := nextBertWord(s, i)
		if start == end {
			break
		}
		ends = ends[:0]
		ids = wp.tokenize(s[start:end], ids, &ends)
		prev := 0
		for _, e := range ends {
			offs = append(offs, cover(align[start+prev:start+e]))
			prev = e
		}
		i = end
	}
	return ids, offs
}

// offsets appends the byte-level BPE ids of normalized text s and their
// offsets, trimmed of whitespace; align[i] is the origin of s[i].
func (m *bpeModel) offsets(t *Tokenizer, s []byte, align []Offset, ids []int32, offs []Offset) ([]int32, []Offset) {
	if m.addPrefixSpace && (len(s) == 0 || s[0] != ' ') {
		at := 0
		if len(align) > 0 {
			at = align[0].Start
		}
		s = append([]byte{' '}, s...)
		align = append([]Offset{{at, at}}, align...)
	}
	var sc bpeScratch
	emit := func(word []byte, base int) {
		mark := len(ids)
		ids = m.tokenize(word, &sc, ids)
		b0 := base
		for _, id := range ids[mark:] {
			b1 := b0 + utf8.RuneCountInString(t.tokens[id]) // one character per byte
			offs = append(offs, trimmedCover(s, align, b0, min(b1, len(s))))
			b0 = b1
		}
	}
	if !m.useRegex {
		emit(s, 0)
		return ids, offs
	}
	for i := 0; i < len(s); {
		j := gpt2Next(s, i)
		emit(s[i:j], i)
		i = j
	}
	return ids, offs
}

// trimmedCover is the origin of s[b0:b1] without leading and trailing
// whitespace; a whitespace-only token is empty at its start.
func trimmedCover(s []byte, align []Offset, b0, b1 int) Offset {
	lo, hi := b0, b1
	for lo < hi {
		r, n := utf8.DecodeRune(s[lo:hi])
		if !unicode.IsSpace(r) {
			break
		}
		lo += n
	}
	for hi > lo {
		r, n := utf8.DecodeLastRune(s[lo:hi])
		if !unicode.IsSpace(r) {
			break
		}
		hi -= n
	}
	if lo == hi {
		if b0 >= b1 {
			return Offset{}
		}
		at := align[b0].Start
		return Offset{at, at}
	}
	// A token may begin or end inside a multi-byte character: cover all of it.
	return cover(align[lo:hi])
}
