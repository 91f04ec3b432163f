package sqlfuncs

import (
	"strings"
)

// The adapter privilege statements' grammar (grammar.go routes them here):
//
//	grant   := GRANT privs ON ADAPTER name TO account {',' account}
//	revoke  := REVOKE privs ON ADAPTER name FROM account {',' account}
//	privs   := priv {',' priv}
//	priv    := EXECUTE | ALTER | DROP | ALL [PRIVILEGES]
//	account := user ['@' host]        (host '%' when omitted, as in MySQL)
//	user, host := identifier | `quoted identifier` | 'string'
//
// Every other GRANT and REVOKE (ON *.*, ON db.table, roles) is MySQL's,
// parsed by vitess and run by go-mysql-server.

// Grantee is an account a GRANT or REVOKE names.
type Grantee struct{ User, Host string }

// recogniseGrant reports whether the GRANT or REVOKE whose privilege list
// starts at token i is ON ADAPTER name. The privilege list is skipped
// loosely (words and commas) so that a wrong privilege still reaches this
// grammar and its error; ON ADAPTER followed by '.' (a database named
// adapter) or by TO/FROM (a table named adapter) is MySQL's.
func (p *stmtParser) recogniseGrant(i int) bool {
	for n := 0; n < 32; n, i = n+1, i+1 {
		t, err := p.peek(i)
		if err != nil {
			return false
		}
		switch {
		case isKw(t, "on"):
			a, err := p.peek(i + 1)
			if err != nil || !isKw(a, "adapter") {
				return false
			}
			nt, err := p.peek(i + 2)
			if err != nil || nt.kind == tokPunct && nt.val == "." || isKw(nt, "to") || isKw(nt, "from") {
				return false
			}
			return true
		case t.kind == tokIdent, t.kind == tokPunct && t.val == ",":
		default:
			return false
		}
	}
	return false
}

// grant parses GRANT/REVOKE after its first keyword.
func (p *stmtParser) grant(st *Stmt, revoke bool) error {
	st.Kind = StmtGrant
	if revoke {
		st.Kind = StmtRevoke
	}
	seen := map[string]bool{}
	for {
		t, err := p.advance()
		if err != nil {
			return err
		}
		var privs []string
		switch {
		case isKw(t, "execute"), isKw(t, "alter"), isKw(t, "drop"):
			privs = []string{strings.ToUpper(t.val)}
		case isKw(t, "all"):
			if _, err := p.optKw("privileges"); err != nil {
				return err
			}
			privs = []string{"EXECUTE", "ALTER", "DROP"}
		default:
			return p.errAt(t, "expected EXECUTE, ALTER, DROP or ALL [PRIVILEGES] (the privileges an adapter has)")
		}
		for _, pr := range privs {
			if !seen[pr] {
				seen[pr] = true
				st.Privileges = append(st.Privileges, pr)
			}
		}
		sep, err := p.peek(0)
		if err != nil {
			return err
		}
		if sep.kind != tokPunct || sep.val != "," {
			break
		}
		p.advance()
	}
	if _, err := p.expectKw("on"); err != nil {
		return err
	}
	if _, err := p.expectKw("adapter"); err != nil {
		return err
	}
	if err := p.name(st); err != nil {
		return err
	}
	to := "to"
	if revoke {
		to = "from"
	}
	if _, err := p.expectKw(to); err != nil {
		return err
	}
	for {
		g, err := p.account()
		if err != nil {
			return err
		}
		st.Grantees = append(st.Grantees, g)
		sep, err := p.peek(0)
		if err != nil {
			return err
		}
		if sep.kind != tokPunct || sep.val != "," {
			break
		}
		p.advance()
	}
	return p.end(st)
}

// account parses user ['@' host].
func (p *stmtParser) account() (Grantee, error) {
	part := func(what string) (string, error) {
		t, err := p.advance()
		if err != nil {
			return "", err
		}
		switch t.kind {
		case tokIdent, tokQIdent, tokString:
			return t.val, nil
		}
		return "", p.errAt(t, "expected %s", what)
	}
	user, err := part("an account name ('user'@'host')")
	if err != nil {
		return Grantee{}, err
	}
	g := Grantee{User: user, Host: "%"}
	if t, err := p.peek(0); err != nil {
		return g, err
	} else if t.kind == tokPunct && t.val == "@" {
		p.advance()
		if g.Host, err = part("a host after '@'"); err != nil {
			return g, err
		}
	}
	return g, nil
}
