package tokenizer

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normOp is one normalization step; a normalizer is a sequence of them.
type normOp int

const (
	opCleanText    normOp = iota // drop U+0000, U+FFFD and control chars; whitespace -> ' '
	opChineseChars               // spaces around CJK ideographs
	opNFD
	opNFC
	opNFKD
	opNFKC
	opStripMarks // drop nonspacing marks (Mn); after NFD this strips accents
	opLowercase  // per-character lowercase, as Rust's char::to_lowercase
)

// normalizer applies its ops in order (HF BertNormalizer is clean_text,
// handle_chinese_chars, NFD+strip, lowercase; HF Sequence concatenates).
type normalizer struct {
	ops []normOp
	// For the ASCII fast path: every op is the identity on ASCII text except
	// clean_text and lowercase.
	clean, lower bool
}

func newNormalizer(ops []normOp) *normalizer {
	if len(ops) == 0 {
		return nil
	}
	n := &normalizer{ops: ops}
	for _, o := range ops {
		n.clean = n.clean || o == opCleanText
		n.lower = n.lower || o == opLowercase
	}
	return n
}

// bertOps are BertNormalizer's steps. stripAccents nil follows lowercase, as
// in HF.
func bertOps(cleanText, chineseChars bool, stripAccents *bool, lowercase bool) []normOp {
	var ops []normOp
	if cleanText {
		ops = append(ops, opCleanText)
	}
	if chineseChars {
		ops = append(ops, opChineseChars)
	}
	strip := lowercase
	if stripAccents != nil {
		strip = *stripAccents
	}
	if strip {
		ops = append(ops, opNFD, opStripMarks)
	}
	if lowercase {
		ops = append(ops, opLowercase)
	}
	return ops
}

// apply normalizes src using a and b as buffers; res holds the result and
// spare is the other buffer, both to be reused by the caller.
func (n *normalizer) apply(src, a, b []byte) (res, spare []byte) {
	if isASCII(src) {
		for _, c := range src {
			if n.clean {
				switch {
				case c == '\t' || c == '\n' || c == '\r':
					c = ' '
				case c < 0x20 || c == 0x7f: // other ASCII controls (Cc), and U+0000
					continue
				}
			}
			if n.lower && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			a = append(a, c)
		}
		return a, b
	}
	// Ping-pong: each op reads the previous result and writes the buffer
	// that does not hold it.
	cur, dst, free := src, a, b
	for _, op := range n.ops {
		cur = runOp(op, cur, dst[:0])
		dst, free = free, cur
	}
	return cur, dst
}

func isASCII(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// runOp appends op(src) to dst.
func runOp(op normOp, src, dst []byte) []byte {
	switch op {
	case opNFD:
		return norm.NFD.Append(dst, src...)
	case opNFC:
		return norm.NFC.Append(dst, src...)
	case opNFKD:
		return norm.NFKD.Append(dst, src...)
	case opNFKC:
		return norm.NFKC.Append(dst, src...)
	}
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		i += size
		switch op {
		case opCleanText:
			if r == 0 || r == 0xFFFD || isControl(r) {
				continue
			}
			if r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r) {
				r = ' '
			}
			dst = utf8.AppendRune(dst, r)
		case opChineseChars:
			if isChineseChar(r) {
				dst = append(dst, ' ')
				dst = utf8.AppendRune(dst, r)
				dst = append(dst, ' ')
			} else {
				dst = utf8.AppendRune(dst, r)
			}
		case opStripMarks:
			if !unicode.Is(unicode.Mn, r) {
				dst = utf8.AppendRune(dst, r)
			}
		case opLowercase:
			dst = appendLower(dst, r)
		}
	}
	return dst
}

// isControl is HF's BERT "control": category C (Cc, Cf, Co; Cs cannot occur
// in valid UTF-8) except tab, newline and carriage return, which count as
// whitespace.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isChineseChar is the CJK ideograph ranges BERT isolates (the CJK Unified
// Ideographs blocks and extensions and the compatibility ideographs; not
// Hangul, Hiragana or Katakana).
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// appendLower appends the lowercase of r the way Rust's char::to_lowercase
// does: the simple case mapping, except U+0130 (İ), whose full lowercase is
// two characters (i + combining dot above).
func appendLower(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(dst, byte(r))
	}
	if r == 0x130 {
		return append(dst, 'i', 0xCC, 0x87)
	}
	return utf8.AppendRune(dst, unicode.ToLower(r))
}
