package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// byteToRune is GPT-2's reversible byte -> character map: printable Latin-1
// bytes stand for themselves, the other 68 bytes (controls, space, 0x7F-0xA0,
// 0xAD) go to U+0100 upwards in byte order, so that every BPE token is
// printable text (a leading space shows as 'Ġ' = U+0120).
var byteToRune = func() (m [256]rune) {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = 256 + n
			n++
		}
	}
	return m
}()

// Character classes of the GPT-2 pre-tokenizer pattern.
const (
	gpOther  = iota // [^\s\p{L}\p{N}]
	gpLetter        // \p{L}
	gpNumber        // \p{N}
	gpSpace         // \s (Unicode White_Space)
)

var asciiGPT2Class = func() (c [utf8.RuneSelf]uint8) {
	for b := 0; b < utf8.RuneSelf; b++ {
		switch {
		case (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'):
			c[b] = gpLetter
		case b >= '0' && b <= '9':
			c[b] = gpNumber
		case b == ' ' || (b >= '\t' && b <= '\r'):
			c[b] = gpSpace
		default:
			c[b] = gpOther
		}
	}
	return c
}()

// gpt2ClassAt classifies the character at s[i] and returns its byte length.
func gpt2ClassAt(s []byte, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiGPT2Class[c], 1
	}
	r, n := utf8.DecodeRune(s[i:])
	switch {
	case unicode.IsLetter(r):
		return gpLetter, n
	case unicode.IsNumber(r):
		return gpNumber, n
	case unicode.IsSpace(r):
		return gpSpace, n
	}
	return gpOther, n
}

// gpt2Next returns the end of the pre-token that starts at s[i], i < len(s).
// It is a hand-written matcher for GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// with a backtracking regex engine's semantics (leftmost alternative wins).
// Every character matches some alternative, so pre-tokens tile the text.
func gpt2Next(s []byte, i int) int {
	// 's 't 're 've 'm 'll 'd (lowercase only, as in the pattern).
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	cls, n := gpt2ClassAt(s, i)
	j := i + n
	// " ?X+": an optional single space (U+0020) before a run of class X.
	if s[i] == ' ' && j < len(s) {
		if c2, n2 := gpt2ClassAt(s, j); c2 != gpSpace {
			cls, j = c2, j+n2
		}
	}
	if cls != gpSpace {
		for j < len(s) {
			c, n := gpt2ClassAt(s, j)
			if c != cls {
				break
			}
			j += n
		}
		return j
	}
	// A whitespace run [i, end). "\s+(?!\S)" takes it all at the end of the
	// text; before a non-space it backs off one character so that the last
	// space can start the next word (" world"). A single whitespace before a
	// non-space fails that alternative and "\s+" takes it.
	last := i // start of the run's last character
	for j < len(s) {
		c, n := gpt2ClassAt(s, j)
		if c != gpSpace {
			break
		}
		last = j
		j += n
	}
	if j == len(s) || last == i {
		return j
	}
	return last
}
