package sqlfuncs

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The adapter statements' grammar (keywords are case-insensitive):
//
//	stmt    := [EXPLAIN [PLAN | FORMAT '=' TREE]] body [';']
//	body    := CREATE [OR REPLACE] ADAPTER [IF NOT EXISTS] name [OPTIONS '(' [opt {',' opt}] ')']
//	               (AS select | FROM string)
//	         | EXPORT ADAPTER name TO string
//	         | DROP ADAPTER [IF EXISTS] name
//	         | SHOW ADAPTERS
//	         | GRANT ... ON ADAPTER ... | REVOKE ... ON ADAPTER ...  (grants_grammar.go)
//	         | EVALUATE ADAPTER name[@N] [CONFUSION MATRIX] AS select  (evaluate.go)
//	         | SHOW JOBS | CANCEL JOB integer  (jobs_grammar.go)
//	         | ALTER ADAPTER name SET ACTIVE VERSION integer  (versions_grammar.go)
//	         | DROP ADAPTER [IF EXISTS] name VERSION integer | SHOW ADAPTER VERSIONS [name]
//	opt     := key '=' (value | '(' value {',' value} ')')  (a list: search.go)
//	value   := string | number | ['-'] number | identifier
//	name    := identifier | `quoted identifier`
//
// The SELECT after AS is MySQL's, parsed by vitess (sqlparser.go); this grammar
// stops at its first token. A statement is ours when its first keywords are
// one of the body's openings; anything else goes to vitess untouched.

// StmtKind says which adapter statement was parsed.
type StmtKind uint8

const (
	StmtCreateAs          StmtKind = iota + 1 // CREATE ADAPTER ... AS SELECT
	StmtCreateFrom                            // CREATE ADAPTER ... FROM 'file'
	StmtExport                                // EXPORT ADAPTER ... TO 'file'
	StmtDrop                                  // DROP ADAPTER
	StmtShow                                  // SHOW ADAPTERS
	StmtGrant                                 // GRANT ... ON ADAPTER (grants_grammar.go)
	StmtRevoke                                // REVOKE ... ON ADAPTER
	StmtEvaluate                              // EVALUATE ADAPTER ... AS SELECT (evaluate.go)
	StmtEvaluateConfusion                     // EVALUATE ADAPTER ... CONFUSION MATRIX AS SELECT
	StmtShowJobs                              // SHOW JOBS (jobs_grammar.go)
	StmtCancelJob                             // CANCEL JOB n
	StmtAlterActive                           // ALTER ADAPTER ... SET ACTIVE VERSION n (versions_grammar.go)
	StmtShowVersions                          // SHOW ADAPTER VERSIONS [name]
)

// Option is one OPTIONS (key = value) entry; Pos is the key's offset.
type Option struct {
	Key, Value string
	Pos        int
	Values     []string // a parenthesised list (search.go); Value then shows it as "(a, b)"
}

// Stmt is a parsed adapter statement. Offsets are bytes into the statement.
type Stmt struct {
	Kind        StmtKind
	Explain     bool // EXPLAIN [PLAN | FORMAT=TREE] prefix
	Name        string
	NamePos     int
	OrReplace   bool
	IfNotExists bool
	IfExists    bool
	Options     []Option
	File        string // FROM / TO path
	FilePos     int
	SelectPos   int // StmtCreateAs: where the SELECT starts
	// End is the offset just after the statement and its ';' (StmtCreateAs: -1,
	// the SELECT's parser finds its end).
	End int
	// GRANT, REVOKE: the privileges (EXECUTE, ALTER, DROP) and accounts.
	Privileges []string
	Grantees   []Grantee
	// CANCEL JOB: the job's id.
	JobID int64
	// ALTER ... SET ACTIVE VERSION n, DROP ADAPTER ... VERSION n (0: none).
	Version int64
}

// SyntaxError is an error in an adapter statement at a byte offset.
type SyntaxError struct {
	Pos  int    // byte offset (0-based)
	Msg  string // what was expected
	Near string // the text from Pos, shortened
}

func (e *SyntaxError) Error() string {
	if e.Near == "" {
		return fmt.Sprintf("%s at position %d (end of statement)", e.Msg, e.Pos+1)
	}
	return fmt.Sprintf("%s at position %d near '%s'", e.Msg, e.Pos+1, e.Near)
}

// near returns up to 40 bytes of s from pos, cut at a rune boundary.
func near(s string, pos int) string {
	if pos >= len(s) {
		return ""
	}
	r := s[pos:]
	if len(r) > 40 {
		r = r[:40]
		for len(r) > 0 && !utf8.ValidString(r) {
			r = r[:len(r)-1]
		}
	}
	return r
}

// ParseStatement parses s if it is an adapter statement. ours is false when
// s is something else (left to the MySQL grammar); err is a *SyntaxError for
// an adapter statement that does not follow the grammar.
func ParseStatement(s string, ansiQuotes bool) (st *Stmt, ours bool, err error) {
	p := &stmtParser{lex: lexer{s: s, ansiQuotes: ansiQuotes}, s: s}
	if !p.recognise() {
		return nil, false, nil
	}
	p.lex.pos, p.buf = 0, nil
	st, err = p.parse()
	if err != nil {
		var le *lexError
		if asLexError(err, &le) {
			return nil, true, &SyntaxError{Pos: le.pos, Msg: le.msg, Near: near(s, le.pos)}
		}
		return nil, true, err
	}
	return st, true, nil
}

func asLexError(err error, out **lexError) bool {
	le, ok := err.(*lexError)
	if ok {
		*out = le
	}
	return ok
}

type stmtParser struct {
	lex lexer
	s   string
	buf []token // look-ahead
}

// peek returns the i-th token ahead without consuming it.
func (p *stmtParser) peek(i int) (token, error) {
	for len(p.buf) <= i {
		t, err := p.lex.next()
		if err != nil {
			return token{}, err
		}
		p.buf = append(p.buf, t)
		if t.kind == tokEOF {
			for len(p.buf) <= i {
				p.buf = append(p.buf, t)
			}
		}
	}
	return p.buf[i], nil
}

func (p *stmtParser) advance() (token, error) {
	t, err := p.peek(0)
	if err != nil {
		return t, err
	}
	p.buf = p.buf[1:]
	return t, nil
}

func isKw(t token, w string) bool { return t.kind == tokIdent && strings.EqualFold(t.val, w) }

// recognise reports whether the statement opens like one of ours. Any
// tokenizer error here means "not ours": the MySQL grammar reports it.
func (p *stmtParser) recognise() bool {
	i := 0
	kw := func(w string) bool {
		t, err := p.peek(i)
		return err == nil && isKw(t, w)
	}
	punct := func(c string) bool {
		t, err := p.peek(i)
		return err == nil && t.kind == tokPunct && t.val == c
	}
	if kw("explain") {
		i++
		switch {
		case kw("plan"):
			i++
		case kw("format"):
			i++
			if !punct("=") {
				return false
			}
			i++
			if !kw("tree") {
				return false
			}
			i++
		}
	}
	switch {
	case kw("create"):
		i++
		if kw("or") {
			i++
			if !kw("replace") {
				return false
			}
			i++
		}
		return kw("adapter")
	case kw("export"), kw("drop"):
		i++
		return kw("adapter")
	case kw("show"):
		i++
		return kw("adapters") || kw("jobs") || kw("adapter") // SHOW ADAPTER VERSIONS
	case kw("alter"):
		i++
		return kw("adapter")
	case kw("cancel"):
		i++
		return kw("job")
	case kw("evaluate"):
		i++
		return kw("adapter")
	case kw("grant"), kw("revoke"):
		return p.recogniseGrant(i + 1)
	}
	return false
}

func (p *stmtParser) errAt(t token, format string, a ...any) error {
	return &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf(format, a...), Near: near(p.s, t.pos)}
}

func (p *stmtParser) expectKw(w string) (token, error) {
	t, err := p.advance()
	if err != nil {
		return t, err
	}
	if !isKw(t, w) {
		return t, p.errAt(t, "expected %s", strings.ToUpper(w))
	}
	return t, nil
}

// optKw consumes keyword w if it is next.
func (p *stmtParser) optKw(w string) (bool, error) {
	t, err := p.peek(0)
	if err != nil {
		return false, err
	}
	if isKw(t, w) {
		_, err = p.advance()
		return true, err
	}
	return false, nil
}

func (p *stmtParser) expectPunct(c string) (token, error) {
	t, err := p.advance()
	if err != nil {
		return t, err
	}
	if t.kind != tokPunct || t.val != c {
		return t, p.errAt(t, "expected '%s'", c)
	}
	return t, nil
}

func (p *stmtParser) name(st *Stmt) error {
	t, err := p.advance()
	if err != nil {
		return err
	}
	if t.kind != tokIdent && t.kind != tokQIdent {
		return p.errAt(t, "expected an adapter name")
	}
	if t.kind == tokIdent && reservedName(t.val) {
		// As in MySQL: CREATE ADAPTER AS SELECT ... lacks its name.
		return p.errAt(t, "expected an adapter name, not the reserved word %s (a name that is one must be quoted: `%s`)", strings.ToUpper(t.val), t.val)
	}
	st.Name, st.NamePos = t.val, t.pos
	return nil
}

// reservedName reports the words MySQL reserves that an adapter statement
// could meet where its name belongs; quoted, they are names like any other.
func reservedName(w string) bool {
	switch strings.ToUpper(w) {
	case "AS", "SELECT", "FROM", "TO", "SET", "WITH", "VALUES", "TABLE", "INTO", "WHERE", "IF":
		return true
	}
	return false
}

func (p *stmtParser) str(what string) (token, error) {
	t, err := p.advance()
	if err != nil {
		return t, err
	}
	if t.kind != tokString {
		if t.kind == tokParam {
			return t, p.errAt(t, "expected %s as a quoted string (parameters are not supported here)", what)
		}
		return t, p.errAt(t, "expected %s as a quoted string", what)
	}
	return t, nil
}

// end consumes an optional ';' and requires the end of the statement there.
func (p *stmtParser) end(st *Stmt) error {
	t, err := p.advance()
	if err != nil {
		return err
	}
	if t.kind == tokPunct && t.val == ";" {
		st.End = t.end
		return nil
	}
	if t.kind != tokEOF {
		return p.errAt(t, "unexpected %s", t.kind)
	}
	st.End = len(p.s)
	return nil
}

func (p *stmtParser) parse() (*Stmt, error) {
	st := &Stmt{End: -1}
	if ok, err := p.optKw("explain"); err != nil {
		return nil, err
	} else if ok {
		st.Explain = true
		if _, err := p.optKw("plan"); err != nil {
			return nil, err
		}
		if ok, err := p.optKw("format"); err != nil {
			return nil, err
		} else if ok {
			if _, err := p.expectPunct("="); err != nil {
				return nil, err
			}
			if _, err := p.expectKw("tree"); err != nil {
				return nil, err
			}
		}
	}
	t, err := p.advance()
	if err != nil {
		return nil, err
	}
	switch {
	case isKw(t, "create"):
		return st, p.create(st)
	case isKw(t, "export"):
		if _, err := p.expectKw("adapter"); err != nil {
			return nil, err
		}
		st.Kind = StmtExport
		if err := p.name(st); err != nil {
			return nil, err
		}
		if err := p.atVersion(st); err != nil { // versions_grammar.go
			return nil, err
		}
		if _, err := p.expectKw("to"); err != nil {
			return nil, err
		}
		f, err := p.str("a file name")
		if err != nil {
			return nil, err
		}
		st.File, st.FilePos = f.val, f.pos
		return st, p.end(st)
	case isKw(t, "drop"):
		if _, err := p.expectKw("adapter"); err != nil {
			return nil, err
		}
		st.Kind = StmtDrop
		if ok, err := p.optKw("if"); err != nil {
			return nil, err
		} else if ok {
			if _, err := p.expectKw("exists"); err != nil {
				return nil, err
			}
			st.IfExists = true
		}
		if err := p.name(st); err != nil {
			return nil, err
		}
		if err := p.dropVersion(st); err != nil { // versions_grammar.go
			return nil, err
		}
		return st, p.end(st)
	case isKw(t, "evaluate"):
		return st, p.evaluate(st)
	case isKw(t, "grant"), isKw(t, "revoke"):
		return st, p.grant(st, isKw(t, "revoke"))
	case isKw(t, "cancel"), isKw(t, "show") && p.peekKw("jobs"):
		return st, p.jobStmt(st, t) // jobs_grammar.go
	case isKw(t, "alter"):
		return st, p.alterAdapter(st) // versions_grammar.go
	case isKw(t, "show") && p.peekKw("adapter"):
		p.advance()
		return st, p.showVersions(st) // versions_grammar.go
	case isKw(t, "show"):
		if _, err := p.expectKw("adapters"); err != nil {
			return nil, err
		}
		st.Kind = StmtShow
		return st, p.end(st)
	}
	return nil, p.errAt(t, "expected CREATE, EXPORT, DROP or SHOW")
}

func (p *stmtParser) create(st *Stmt) error {
	if ok, err := p.optKw("or"); err != nil {
		return err
	} else if ok {
		if _, err := p.expectKw("replace"); err != nil {
			return err
		}
		st.OrReplace = true
	}
	if _, err := p.expectKw("adapter"); err != nil {
		return err
	}
	if t, err := p.peek(0); err != nil {
		return err
	} else if isKw(t, "if") {
		if n, err := p.peek(1); err == nil && isKw(n, "not") {
			p.advance()
			p.advance()
			if _, err := p.expectKw("exists"); err != nil {
				return err
			}
			if st.OrReplace {
				return p.errAt(t, "OR REPLACE and IF NOT EXISTS cannot be used together")
			}
			st.IfNotExists = true
		}
	}
	if t, err := p.peek(0); err == nil && isKw(t, "options") {
		if n, err := p.peek(1); err == nil && n.kind == tokPunct && n.val == "(" {
			return p.errAt(t, "expected an adapter name before OPTIONS")
		}
	}
	if err := p.name(st); err != nil {
		return err
	}
	if ok, err := p.optKw("options"); err != nil {
		return err
	} else if ok {
		if err := p.options(st); err != nil {
			return err
		}
	}
	t, err := p.advance()
	if err != nil {
		return err
	}
	switch {
	case isKw(t, "as"):
		sel, err := p.peek(0)
		if err != nil {
			return err
		}
		if sel.kind == tokEOF {
			return p.errAt(sel, "expected a SELECT after AS")
		}
		st.Kind, st.SelectPos = StmtCreateAs, sel.pos
		return nil
	case isKw(t, "from"):
		f, err := p.str("a file name")
		if err != nil {
			return err
		}
		st.Kind, st.File, st.FilePos = StmtCreateFrom, f.val, f.pos
		return p.end(st)
	}
	if len(st.Options) == 0 && isKw(t, "options") {
		return p.errAt(t, "expected OPTIONS (...), AS or FROM")
	}
	return p.errAt(t, "expected AS SELECT ... or FROM 'file'")
}

func (p *stmtParser) options(st *Stmt) error {
	if _, err := p.expectPunct("("); err != nil {
		return err
	}
	if t, err := p.peek(0); err != nil {
		return err
	} else if t.kind == tokPunct && t.val == ")" {
		p.advance()
		return nil
	}
	seen := map[string]bool{}
	for {
		k, err := p.advance()
		if err != nil {
			return err
		}
		if k.kind != tokIdent && k.kind != tokQIdent {
			return p.errAt(k, "expected an option name")
		}
		key := strings.ToLower(k.val)
		if seen[key] {
			return p.errAt(k, "option %s given twice", key)
		}
		seen[key] = true
		if _, err := p.expectPunct("="); err != nil {
			return err
		}
		v, err := p.advance()
		if err != nil {
			return err
		}
		val := v.val
		var list []string
		switch v.kind {
		case tokString, tokNumber, tokIdent:
		case tokPunct:
			if v.val == "(" {
				if list, err = p.optionList(key); err != nil {
					return err
				}
				val = "(" + strings.Join(list, ", ") + ")"
				break
			}
			if v.val != "-" && v.val != "+" {
				return p.errAt(v, "expected a value for option %s", key)
			}
			n, err := p.advance()
			if err != nil {
				return err
			}
			if n.kind != tokNumber || n.pos != v.end {
				return p.errAt(n, "expected a number after '%s'", v.val)
			}
			val = v.val + n.val
		case tokParam:
			return p.errAt(v, "parameters are not supported in OPTIONS")
		default:
			return p.errAt(v, "expected a value for option %s", key)
		}
		st.Options = append(st.Options, Option{Key: key, Value: val, Pos: k.pos, Values: list})
		sep, err := p.advance()
		if err != nil {
			return err
		}
		if sep.kind == tokPunct && sep.val == ")" {
			return nil
		}
		if sep.kind != tokPunct || sep.val != "," {
			return p.errAt(sep, "expected ',' or ')'")
		}
	}
}
