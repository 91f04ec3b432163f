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
//	account := user ['@' host] | CURRENT_USER ['(' ')']   (host '%' when omitted, as in MySQL)
//	user, host := identifier | `quoted identifier` | 'string'
//
// Every other GRANT and REVOKE (ON *.*, ON db.table, roles) is MySQL's,
// parsed by vitess and run by go-mysql-server.

// Grantee is an account a GRANT or REVOKE names: User and Host, or, with
// Current, the session's own account (CURRENT_USER, as MySQL allows).
type Grantee struct {
	User, Host string
	Current    bool
}

// recogniseGrant reports whether the GRANT or REVOKE whose privilege list
// starts at token i is ON ADAPTER name. The privilege list is skipped
// loosely (words and commas) so that a wrong privilege still reaches this
// grammar and its error; ON ADAPTER followed by '.' (a database named
// adapter) is MySQL's, and so is ON ADAPTER TO/FROM (a table named adapter)
// unless the list names EXECUTE, which no table has: that is ON ADAPTER
// with its name missing, a syntax error of ours.
func (p *stmtParser) recogniseGrant(i int) bool {
	execute := false
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
			if err != nil || nt.kind == tokPunct && nt.val == "." {
				return false
			}
			return execute || !isKw(nt, "to") && !isKw(nt, "from")
		case t.kind == tokIdent, t.kind == tokPunct && t.val == ",":
			execute = execute || isKw(t, "execute")
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
	to := "to"
	if revoke {
		to = "from"
	}
	// TO/FROM where the name goes: the name is missing (not an adapter
	// named to).
	if t, err := p.peek(0); err != nil {
		return err
	} else if isKw(t, to) {
		return p.errAt(t, "expected an adapter name")
	}
	if err := p.name(st); err != nil {
		return err
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
	// CURRENT_USER or CURRENT_USER(), unquoted: the session's account.
	if t, err := p.peek(0); err != nil {
		return Grantee{}, err
	} else if isKw(t, "current_user") {
		p.advance()
		if o, err := p.peek(0); err != nil {
			return Grantee{}, err
		} else if o.kind == tokPunct && o.val == "(" {
			p.advance()
			if _, err := p.expectPunct(")"); err != nil {
				return Grantee{}, err
			}
		}
		return Grantee{Current: true}, nil
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
