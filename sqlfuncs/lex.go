package sqlfuncs

import (
	"fmt"
	"strings"
)

// The adapter statements have their own small grammar (grammar.go). This is its
// tokenizer: MySQL's lexical rules for what the grammar needs — bare and
// backquoted identifiers, strings with '' and backslash escapes, numbers,
// punctuation, and the three comment styles.

type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokIdent          // bare identifier or keyword
	tokQIdent         // `quoted` identifier (or "quoted" under ANSI_QUOTES)
	tokString         // 'string' (or "string")
	tokNumber         // 12, 1.5, 1e-3, .5
	tokParam          // ? (a bind parameter)
	tokPunct          // any other single character
)

func (k tokKind) String() string {
	return [...]string{"end of statement", "identifier", "quoted identifier", "string", "number", "parameter", "punctuation"}[k]
}

// token is one lexeme; pos is its byte offset in the statement, end the offset
// just after it. val is the decoded value (unquoted, unescaped).
type token struct {
	kind     tokKind
	val      string
	pos, end int
}

// lexError is a tokenizer error at a byte offset.
type lexError struct {
	pos int
	msg string
}

func (e *lexError) Error() string { return fmt.Sprintf("%s at position %d", e.msg, e.pos+1) }

type lexer struct {
	s          string
	pos        int
	ansiQuotes bool // "x" is an identifier, not a string (sql_mode ANSI_QUOTES)
}

// skipSpace skips whitespace and comments: -- to end of line (MySQL wants a
// space or control character after the dashes), # to end of line, /* ... */.
func (l *lexer) skipSpace() error {
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case c == '#' || c == '-' && strings.HasPrefix(l.s[l.pos:], "--") && (l.pos+2 == len(l.s) || l.s[l.pos+2] <= ' '):
			for l.pos < len(l.s) && l.s[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && strings.HasPrefix(l.s[l.pos:], "/*"):
			end := strings.Index(l.s[l.pos+2:], "*/")
			if end < 0 {
				return &lexError{l.pos, "unterminated comment"}
			}
			l.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// next returns the next token.
func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.s) {
		return token{kind: tokEOF, pos: start, end: start}, nil
	}
	c := l.s[l.pos]
	switch {
	case c == '`':
		v, err := l.quoted('`')
		return token{kind: tokQIdent, val: v, pos: start, end: l.pos}, err
	case c == '"' && l.ansiQuotes:
		v, err := l.quoted('"')
		return token{kind: tokQIdent, val: v, pos: start, end: l.pos}, err
	case c == '\'' || c == '"':
		v, err := l.quoted(c)
		return token{kind: tokString, val: v, pos: start, end: l.pos}, err
	case isDigit(c) || c == '.' && l.pos+1 < len(l.s) && isDigit(l.s[l.pos+1]):
		l.number()
		// MySQL identifiers may start with digits (1abc); a number is only a
		// number when no identifier character follows it.
		if l.pos < len(l.s) && isIdentByte(l.s[l.pos]) && l.s[l.pos] != '.' {
			for l.pos < len(l.s) && isIdentByte(l.s[l.pos]) {
				l.pos++
			}
			return token{kind: tokIdent, val: l.s[start:l.pos], pos: start, end: l.pos}, nil
		}
		return token{kind: tokNumber, val: l.s[start:l.pos], pos: start, end: l.pos}, nil
	case isIdentByte(c):
		for l.pos < len(l.s) && isIdentByte(l.s[l.pos]) {
			l.pos++
		}
		return token{kind: tokIdent, val: l.s[start:l.pos], pos: start, end: l.pos}, nil
	case c == '?':
		l.pos++
		return token{kind: tokParam, val: "?", pos: start, end: l.pos}, nil
	}
	l.pos++
	return token{kind: tokPunct, val: string(c), pos: start, end: l.pos}, nil
}

// number scans digits [. digits] [e [+-] digits].
func (l *lexer) number() {
	for l.pos < len(l.s) && isDigit(l.s[l.pos]) {
		l.pos++
	}
	if l.pos < len(l.s) && l.s[l.pos] == '.' {
		l.pos++
		for l.pos < len(l.s) && isDigit(l.s[l.pos]) {
			l.pos++
		}
	}
	if l.pos < len(l.s) && (l.s[l.pos] == 'e' || l.s[l.pos] == 'E') {
		p := l.pos + 1
		if p < len(l.s) && (l.s[p] == '+' || l.s[p] == '-') {
			p++
		}
		if p < len(l.s) && isDigit(l.s[p]) {
			for p < len(l.s) && isDigit(l.s[p]) {
				p++
			}
			l.pos = p
		}
	}
}

// quoted reads a string or quoted identifier opened by q at l.pos. A doubled
// quote stands for itself; in strings (not identifiers) backslash escapes
// follow MySQL: \0 \b \n \r \t \Z, and \x is x for any other x.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch {
		case c == q:
			if l.pos+1 < len(l.s) && l.s[l.pos+1] == q {
				b.WriteByte(q)
				l.pos += 2
				continue
			}
			l.pos++
			return b.String(), nil
		case c == '\\' && q != '`' && l.pos+1 < len(l.s):
			e := l.s[l.pos+1]
			switch e {
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'Z':
				b.WriteByte(26)
			default:
				b.WriteByte(e)
			}
			l.pos += 2
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	what := "string"
	if q == '`' || l.ansiQuotes && q == '"' {
		what = "quoted identifier"
	}
	return "", &lexError{start, "unterminated " + what}
}
