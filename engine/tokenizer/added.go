package tokenizer

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// addedToken is a token matched literally in the text before the model runs
// (special tokens such as [CLS], <|endoftext|>, <mask>, and user-added
// tokens), with HF's AddedToken flags.
type addedToken struct {
	Content    string
	ID         int32
	Special    bool
	SingleWord bool // match only when not inside a word
	LStrip     bool // swallow the whitespace on the left
	RStrip     bool // swallow the whitespace on the right
	Normalized bool // match against the normalized text instead of the raw one
}

// span is a piece of text: an added token (id >= 0) or text for the model
// (id -1).
type span struct {
	start, end int
	id         int32
}

// matcher finds added tokens leftmost-longest, like the Aho-Corasick automaton
// (MatchKind::LeftmostLongest) HF builds; the token lists are short, so a
// first-byte index over patterns sorted longest first is enough.
type matcher struct {
	pats    []addedToken // Content may be normalized (see newMatcher)
	byFirst [256][]int   // indices into pats, longest first
}

// newMatcher indexes patterns; tokens with empty content are ignored (HF
// ignores them too). When two tokens have the same content the first wins.
func newMatcher(toks []addedToken) *matcher {
	m := &matcher{}
	seen := map[string]bool{}
	for _, tk := range toks {
		if tk.Content == "" || seen[tk.Content] {
			continue
		}
		seen[tk.Content] = true
		m.pats = append(m.pats, tk)
	}
	for i, p := range m.pats {
		b := p.Content[0]
		m.byFirst[b] = append(m.byFirst[b], i)
	}
	for b := range m.byFirst {
		l := m.byFirst[b]
		sort.SliceStable(l, func(i, j int) bool { return len(m.pats[l[i]].Content) > len(m.pats[l[j]].Content) })
	}
	return m
}

// longestAt is the longest pattern starting at s[i] (-1: none).
func (m *matcher) longestAt(s []byte, i int) int {
	for _, k := range m.byFirst[s[i]] {
		c := m.pats[k].Content
		if len(c) <= len(s)-i && string(s[i:i+len(c)]) == c {
			return k
		}
	}
	return -1
}

// split cuts s into text and added-token spans (HF
// AddedVocabulary::find_matches): matches are scanned leftmost-longest and
// non-overlapping; a single_word token inside a word is skipped (its text
// stays with the model); lstrip/rstrip extend the token over adjacent
// whitespace. Empty text spans are dropped.
func (m *matcher) split(s []byte, out []span) []span {
	if m == nil || len(m.pats) == 0 {
		if len(s) > 0 {
			out = append(out, span{0, len(s), -1})
		}
		return out
	}
	prev := 0 // end of the last emitted span
	for i := 0; i < len(s); {
		k := m.longestAt(s, i)
		if k < 0 {
			i++
			continue
		}
		tk := &m.pats[k]
		start, stop := i, i+len(tk.Content)
		i = stop // the automaton resumes after the raw match in every case
		if tk.SingleWord {
			if (start > 0 && endsWithWord(s[:start])) || (stop < len(s) && startsWithWord(s[stop:])) {
				continue
			}
		}
		if tk.LStrip {
			start = max(leftmostTrailingSpace(s[:start]), prev)
		}
		if tk.RStrip {
			stop += leadingSpace(s[stop:])
		}
		// Only a pattern starting with whitespace can begin inside what an
		// rstrip swallowed; keep spans ordered and disjoint.
		start = max(start, prev)
		if stop <= start {
			continue
		}
		if prev < start {
			out = append(out, span{prev, start, -1})
		}
		out = append(out, span{start, stop, tk.ID})
		prev = stop
	}
	if prev < len(s) {
		out = append(out, span{prev, len(s), -1})
	}
	return out
}

// isWordChar is the regex class \w (Unicode): alphabetic, marks, decimal
// digits, connector punctuation, join controls.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

func endsWithWord(s []byte) bool {
	r, _ := utf8.DecodeLastRune(s)
	return isWordChar(r)
}

func startsWithWord(s []byte) bool {
	r, _ := utf8.DecodeRune(s)
	return isWordChar(r)
}

// leftmostTrailingSpace is where the whitespace run that ends s begins.
func leftmostTrailingSpace(s []byte) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRune(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// leadingSpace is the byte length of the whitespace run that starts s.
func leadingSpace(s []byte) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRune(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}
