package sqlfuncs

import (
	"strconv"

	"github.com/adapterdb/adapterdb/catalog"
)

// The version statements' grammar (grammar.go routes them here):
//
//	ALTER ADAPTER name SET ACTIVE VERSION integer
//	DROP ADAPTER [IF EXISTS] name VERSION integer
//	SHOW ADAPTER VERSIONS [name]
//	EXPORT ADAPTER name['@'integer] TO string     (no space around '@')
//
// A version number is a positive integer literal.

// versionNumber reads a version number.
func (p *stmtParser) versionNumber() (int64, error) {
	t, err := p.advance()
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(t.val, 10, 64)
	if t.kind != tokNumber || perr != nil || n < 1 {
		return 0, p.errAt(t, "expected a version number (1, 2, ...)")
	}
	return n, nil
}

// alterAdapter parses ALTER ADAPTER name SET ACTIVE VERSION n, after ALTER.
func (p *stmtParser) alterAdapter(st *Stmt) error {
	if _, err := p.expectKw("adapter"); err != nil {
		return err
	}
	if err := p.name(st); err != nil {
		return err
	}
	for _, w := range []string{"set", "active", "version"} {
		if _, err := p.expectKw(w); err != nil {
			return err
		}
	}
	v, err := p.versionNumber()
	if err != nil {
		return err
	}
	st.Kind, st.Version = StmtAlterActive, v
	return p.end(st)
}

// dropVersion parses DROP ADAPTER's optional VERSION n, after the name.
func (p *stmtParser) dropVersion(st *Stmt) error {
	if ok, err := p.optKw("version"); err != nil || !ok {
		return err
	}
	v, err := p.versionNumber()
	st.Version = v
	return err
}

// showVersions parses SHOW ADAPTER VERSIONS [name], after SHOW ADAPTER.
func (p *stmtParser) showVersions(st *Stmt) error {
	if _, err := p.expectKw("versions"); err != nil {
		return err
	}
	st.Kind = StmtShowVersions
	if t, err := p.peek(0); err != nil {
		return err
	} else if t.kind == tokIdent || t.kind == tokQIdent {
		if err := p.name(st); err != nil {
			return err
		}
	}
	return p.end(st)
}

// atVersion parses '@'n right after a name (EXPORT ADAPTER name@2): the
// name becomes the reference "name@2".
func (p *stmtParser) atVersion(st *Stmt) error {
	at, err := p.peek(0)
	if err != nil || at.kind != tokPunct || at.val != "@" || at.pos != st.NamePos+len(p.nameText(st)) {
		return err
	}
	p.advance()
	v, err := p.advance()
	if err != nil {
		return err
	}
	ref := st.Name + "@" + v.val
	if _, _, verr := catalog.SplitVersion(ref); v.kind != tokNumber || v.pos != at.end || verr != nil {
		return p.errAt(v, "expected a version number (1, 2, ...) right after '@'")
	}
	st.Name = ref
	return nil
}

// nameText is the name as written (quoted names with their quotes).
func (p *stmtParser) nameText(st *Stmt) string {
	l := lexer{s: p.s, pos: st.NamePos, ansiQuotes: p.lex.ansiQuotes}
	t, err := l.next()
	if err != nil {
		return st.Name
	}
	return p.s[t.pos:t.end]
}
