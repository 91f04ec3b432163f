package sqlfuncs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// GRANT/REVOKE ... ON ADAPTER are ours; every other GRANT and REVOKE goes to
// vitess untouched.
func TestParseGrant(t *testing.T) {
	for _, c := range []struct {
		in   string
		want *Stmt // nil: not ours
	}{
		{"GRANT SELECT ON *.* TO bob", nil},
		{"GRANT ALL ON adapter.* TO bob", nil},
		{"GRANT SELECT ON adapter TO bob", nil},
		{"REVOKE SELECT ON adapter FROM bob", nil},
		{"GRANT SELECT ON TABLE adapter TO bob", nil},
		{"GRANT role1 TO bob", nil},
		{"GRANT EXECUTE ON ADAPTER sent TO bob", &Stmt{Kind: StmtGrant, Name: "sent", NamePos: 25,
			Privileges: []string{"EXECUTE"}, Grantees: []Grantee{{User: "bob", Host: "%"}}, End: 36}},
		{"grant alter, drop, execute on adapter `s-1` to 'bob'@'localhost', ann@`%`;", &Stmt{Kind: StmtGrant, Name: "s-1", NamePos: 38,
			Privileges: []string{"ALTER", "DROP", "EXECUTE"}, Grantees: []Grantee{{User: "bob", Host: "localhost"}, {User: "ann", Host: "%"}}, End: 74}},
		{"GRANT ALL PRIVILEGES, EXECUTE ON ADAPTER a TO \"x\"@\"10.0.0.1\"", &Stmt{Kind: StmtGrant, Name: "a", NamePos: 41,
			Privileges: []string{"EXECUTE", "ALTER", "DROP"}, Grantees: []Grantee{{User: "x", Host: "10.0.0.1"}}, End: 60}},
		{"GRANT DROP ON adapter TO bob", nil},
		{"GRANT EXECUTE ON ADAPTER a TO CURRENT_USER, current_user(), 'current_user'", &Stmt{Kind: StmtGrant, Name: "a", NamePos: 25,
			Privileges: []string{"EXECUTE"}, Grantees: []Grantee{{Current: true}, {Current: true}, {User: "current_user", Host: "%"}}, End: 74}},
		{"REVOKE ALL ON ADAPTER a FROM bob", &Stmt{Kind: StmtRevoke, Name: "a", NamePos: 22,
			Privileges: []string{"EXECUTE", "ALTER", "DROP"}, Grantees: []Grantee{{User: "bob", Host: "%"}}, End: 32}},
	} {
		st, ours, err := ParseStatement(c.in, false)
		if c.want == nil {
			if ours {
				t.Errorf("%q: parsed as ours: %+v %v", c.in, st, err)
			}
			continue
		}
		if !ours || err != nil {
			t.Errorf("%q: ours=%v err=%v", c.in, ours, err)
			continue
		}
		if !reflect.DeepEqual(st, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, st, c.want)
		}
	}
}

func TestParseGrantErrors(t *testing.T) {
	for _, c := range []struct{ in, msg string }{
		{"GRANT SELECT ON ADAPTER a TO bob", "expected EXECUTE, ALTER, DROP or ALL [PRIVILEGES] (the privileges an adapter has) at position 7 near 'SELECT"},
		{"GRANT EXECUTE, ON ADAPTER a TO bob", "expected EXECUTE, ALTER, DROP or ALL"},
		{"GRANT EXECUTE ON ADAPTER a", "expected TO at position 27 (end of statement)"},
		{"REVOKE EXECUTE ON ADAPTER a TO bob", "expected FROM at position 29 near 'TO bob'"},
		{"GRANT EXECUTE ON ADAPTER a TO bob@", "expected a host after '@'"},
		{"GRANT EXECUTE ON ADAPTER a TO bob,", "expected an account name"},
		{"GRANT EXECUTE ON ADAPTER a TO bob WITH GRANT OPTION", "unexpected identifier at position 35 near 'WITH"},
		{"GRANT EXECUTE ON ADAPTER 'a' TO bob", "expected an adapter name"},
		// The name missing: ours (EXECUTE is no table privilege), not a table named adapter.
		{"GRANT EXECUTE ON ADAPTER TO 'x'@'%'", "expected an adapter name at position 26 near 'TO 'x'@'%''"},
		{"REVOKE EXECUTE, DROP ON ADAPTER FROM x", "expected an adapter name at position 33 near 'FROM x'"},
		{"GRANT EXECUTE ON ADAPTER a TO CURRENT_USER(", "expected ')'"},
	} {
		_, ours, err := ParseStatement(c.in, false)
		var se *SyntaxError
		if !ours || !errors.As(err, &se) {
			t.Errorf("%q: ours=%v err=%v, want a syntax error", c.in, ours, err)
			continue
		}
		if !strings.Contains(se.Error(), c.msg) {
			t.Errorf("%q: %q, want %q", c.in, se.Error(), c.msg)
		}
	}
}
