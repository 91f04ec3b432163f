package sqlfuncs_test

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql/mysql_db"

	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// column runs q on c and returns its first column as strings.
func column(t *testing.T, c *sqlfuncs.Conn, q string) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), q, nil)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := []string{}
	for {
		r, err := rows.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, toString(r[0]))
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case interface{ String() string }:
		return x.String()
	}
	return ""
}

func wantColumn(t *testing.T, c *sqlfuncs.Conn, q string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := column(t, c, q); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %q, want %q", q, got, want)
	}
}

// TestAdapterGrants: with accounts on, an account sees and uses only the
// adapters it created, was granted, or holds global privileges for; GRANT
// and REVOKE ON ADAPTER change that, DROP ADAPTER takes the grants with it.
func TestAdapterGrants(t *testing.T) {
	v := newEnv(t, envOpts{filesDir: t.TempDir()})
	v.withAdapters() // sent, stars, tags: made with accounts off, no creator
	const predict = "SELECT PREDICT('sent', txt) FROM labelled"
	// The name from a row, not a literal: checked as rows are computed.
	const predictDynamic = "SELECT PREDICT(CONCAT('se', 'nt'), txt) FROM labelled"
	// Accounts off (the in-process driver): everything, as before.
	wantColumn(t, v.c, "SHOW ADAPTERS", "sent", "stars", "tags")
	execOn(t, v.c, "GRANT EXECUTE ON ADAPTER tags TO nobody") // no accounts to check against

	mdb := v.e.SQL.Analyzer.Catalog.MySQLDb
	mdb.SetPersister(&mysql_db.NoopPersister{})
	mdb.AddRootAccount() // turns privilege checks on
	root := v.connAs("root")
	for _, q := range []string{
		"CREATE USER 'bob'@'localhost'", "GRANT SELECT ON main.* TO 'bob'@'localhost'",
		"GRANT SELECT ON adapterdb.* TO 'bob'@'localhost'",
		"CREATE USER 'carol'@'localhost'", "GRANT SELECT, CREATE ON *.* TO 'carol'@'localhost'",
		"CREATE USER 'dave'@'localhost'", "GRANT SELECT ON *.* TO 'dave'@'localhost'",
	} {
		execOn(t, root, q)
	}
	bob, carol, dave := v.connAs("bob"), v.connAs("carol"), v.connAs("dave")

	// bob has no adapter privileges: sees none, uses none.
	wantColumn(t, bob, "SHOW ADAPTERS")
	wantColumn(t, bob, "SELECT name FROM adapterdb.adapters")
	failsOn(t, bob, predict, 1142, "EXECUTE command denied to user 'bob'@'localhost' for adapter 'sent'")
	failsOn(t, bob, "SELECT PREDICT('sent', txt) FROM labelled WHERE 1 = 0", 1142, "for adapter 'sent'")
	failsOn(t, bob, predictDynamic, 1142, "for adapter 'sent'")
	failsOn(t, bob, "SELECT PREDICT_PROBA('sent', 'x')", 1142)
	failsOn(t, bob, "DROP ADAPTER sent", 1142, "DROP command denied")
	failsOn(t, bob, "DROP ADAPTER IF EXISTS nosuch", 1142)
	failsOn(t, bob, "CREATE OR REPLACE ADAPTER sent "+quickOptions+" AS SELECT txt, label FROM labelled", 1142, "ALTER command denied")
	failsOn(t, bob, "GRANT EXECUTE ON ADAPTER sent TO bob@localhost", 1142, "GRANT command denied")

	// Root grants EXECUTE: bob sees and uses sent, and only sent.
	execOn(t, root, "GRANT EXECUTE ON ADAPTER sent TO bob@localhost")
	wantColumn(t, bob, "SHOW ADAPTERS", "sent")
	wantColumn(t, bob, "SELECT name FROM adapterdb.adapters", "sent")
	if got := column(t, bob, predict); len(got) != len(sentiment) {
		t.Fatalf("bob's predictions: %q", got)
	}
	column(t, bob, predictDynamic)
	failsOn(t, bob, "SELECT PREDICT('stars', txt) FROM labelled", 1142, "for adapter 'stars'")
	// A pinned version is the adapter's; EVALUATE needs EXECUTE as PREDICT does.
	column(t, bob, "SELECT PREDICT('sent@1', txt) FROM labelled")
	failsOn(t, bob, "SELECT PREDICT('stars@1', txt) FROM labelled", 1142, "for adapter 'stars'")
	column(t, bob, "EVALUATE ADAPTER sent AS SELECT txt, label FROM labelled")
	failsOn(t, bob, "EVALUATE ADAPTER stars AS SELECT txt, score FROM labelled", 1142, "EXECUTE command denied")
	failsOn(t, bob, "DROP ADAPTER sent", 1142)
	wantColumn(t, root, "SHOW GRANTS FOR 'bob'@'localhost'",
		"GRANT USAGE ON *.* TO `bob`@`localhost`",
		"GRANT SELECT ON `adapterdb`.* TO `bob`@`localhost`",
		"GRANT SELECT ON `main`.* TO `bob`@`localhost`",
		"GRANT EXECUTE ON ADAPTER `sent` TO `bob`@`localhost`")

	// ALTER and DROP: bob retrains sent (the grants stay), then drops it
	// (the grants go: a new sent does not give bob anything).
	execOn(t, root, "GRANT ALTER, DROP ON ADAPTER sent TO 'bob'@'localhost'")
	execOn(t, bob, "CREATE OR REPLACE ADAPTER sent "+quickOptions+" AS SELECT txt, label FROM labelled")
	wantColumn(t, bob, "SHOW ADAPTERS", "sent")
	execOn(t, bob, "DROP ADAPTER sent")
	wantColumn(t, bob, "SHOW ADAPTERS")
	execOn(t, root, "CREATE ADAPTER sent "+quickOptions+" AS SELECT txt, label FROM labelled")
	wantColumn(t, bob, "SHOW ADAPTERS")
	failsOn(t, bob, predict, 1142)

	// carol (global CREATE) creates mine: she may use, see, grant and drop
	// it; bob may not until she grants.
	execOn(t, carol, "CREATE ADAPTER mine "+quickOptions+" AS SELECT txt, label FROM labelled")
	wantColumn(t, carol, "SHOW ADAPTERS", "mine", "sent", "stars", "tags") // global SELECT
	failsOn(t, carol, "DROP ADAPTER sent", 1142)
	failsOn(t, bob, "SELECT PREDICT('mine', 'x')", 1142)
	failsOn(t, carol, "GRANT EXECUTE ON ADAPTER sent TO bob@localhost", 1142, "GRANT command denied to user 'carol'")
	execOn(t, carol, "GRANT EXECUTE ON ADAPTER mine TO bob@localhost")
	wantColumn(t, bob, "SHOW ADAPTERS", "mine")
	column(t, bob, "SELECT PREDICT('mine', 'x')")
	execOn(t, carol, "REVOKE EXECUTE ON ADAPTER mine FROM bob@localhost")
	failsOn(t, bob, "SELECT PREDICT('mine', 'x')", 1142)
	failsOn(t, carol, "REVOKE EXECUTE ON ADAPTER mine FROM bob@localhost", 1147,
		"There is no such grant defined for user 'bob' on host 'localhost' on adapter 'mine'")
	execOn(t, carol, "CREATE OR REPLACE ADAPTER mine "+quickOptions+" AS SELECT txt, label FROM labelled")
	execOn(t, carol, "DROP ADAPTER mine")

	// dave (global SELECT) sees and uses every adapter, drops none.
	wantColumn(t, dave, "SELECT name FROM adapterdb.adapters", "sent", "stars", "tags")
	column(t, dave, "SELECT PREDICT('stars', txt) FROM labelled")
	failsOn(t, dave, "DROP ADAPTER stars", 1142)

	// Grants name existing accounts and adapters.
	failsOn(t, root, "GRANT EXECUTE ON ADAPTER sent TO ghost", 1410, "'ghost'@'%'")
	failsOn(t, root, "GRANT EXECUTE ON ADAPTER nosuch TO bob@localhost", 1305, "ADAPTER nosuch does not exist")
	failsOn(t, root, "GRANT SELECT ON ADAPTER sent TO bob@localhost", 1064, "expected EXECUTE, ALTER, DROP or ALL")
	// Root does everything.
	column(t, root, predict)
	execOn(t, root, "DROP ADAPTER stars")
	if got := column(t, root, "SHOW GRANTS"); !strings.Contains(strings.Join(got, "\n"), "SUPER") {
		t.Fatalf("root's grants: %q", got)
	}
}

// TestAdapterGrantsAccounts: DROP USER takes the account's adapter grants and
// creator rights with it (a new account of the same name gets nothing, the
// adapter it created is left to global-privilege holders); REVOKE from an
// unknown account answers MySQL's 1147; CURRENT_USER names the session's
// account; ON ADAPTER without a name is a 1064.
func TestAdapterGrantsAccounts(t *testing.T) {
	v := newEnv(t, envOpts{filesDir: t.TempDir()})
	v.withAdapters()
	mdb := v.e.SQL.Analyzer.Catalog.MySQLDb
	mdb.SetPersister(&mysql_db.NoopPersister{})
	mdb.AddRootAccount()
	root := v.connAs("root")
	for _, q := range []string{
		"CREATE USER 'bob'@'localhost'", "GRANT CREATE, SELECT ON main.* TO 'bob'@'localhost'",
		"GRANT CREATE ON *.* TO 'bob'@'localhost'",
		"CREATE USER 'ann'@'localhost'", "GRANT SELECT ON main.* TO 'ann'@'localhost'",
		"GRANT EXECUTE ON ADAPTER sent TO 'ann'@'localhost'",
	} {
		execOn(t, root, q)
	}
	bob := v.connAs("bob")
	execOn(t, bob, "CREATE ADAPTER bobs "+quickOptions+" AS SELECT txt, label FROM labelled")
	// bob owns bobs: he may grant on it, to himself as CURRENT_USER too.
	execOn(t, bob, "GRANT EXECUTE ON ADAPTER bobs TO CURRENT_USER, 'ann'@'localhost'")
	execOn(t, bob, "REVOKE EXECUTE ON ADAPTER bobs FROM CURRENT_USER()")
	wantColumn(t, bob, "SHOW ADAPTERS", "bobs")

	execOn(t, root, "DROP USER 'bob'@'localhost', 'ann'@'localhost'")
	execOn(t, root, "CREATE USER 'bob'@'localhost'")
	execOn(t, root, "GRANT SELECT ON main.* TO 'bob'@'localhost'")
	execOn(t, root, "CREATE USER 'ann'@'localhost'")
	execOn(t, root, "GRANT SELECT ON main.* TO 'ann'@'localhost'")
	bob, ann := v.connAs("bob"), v.connAs("ann")
	wantColumn(t, bob, "SHOW ADAPTERS")
	failsOn(t, bob, "SELECT PREDICT('bobs', 'x')", 1142)
	failsOn(t, bob, "DROP ADAPTER bobs", 1142)
	failsOn(t, bob, "GRANT EXECUTE ON ADAPTER bobs TO CURRENT_USER", 1142)
	wantColumn(t, ann, "SHOW ADAPTERS")
	failsOn(t, ann, "SELECT PREDICT('sent', 'x')", 1142)
	wantColumn(t, root, "SHOW GRANTS FOR 'ann'@'localhost'",
		"GRANT USAGE ON *.* TO `ann`@`localhost`",
		"GRANT SELECT ON `main`.* TO `ann`@`localhost`")
	wantColumn(t, root, "SHOW ADAPTERS", "bobs", "sent", "stars", "tags")
	// DROP USER IF EXISTS of an unknown account still works.
	execOn(t, root, "DROP USER IF EXISTS 'ghost'@'%'")

	failsOn(t, root, "REVOKE EXECUTE ON ADAPTER sent FROM 'nobody'@'%'", 1147,
		"There is no such grant defined for user 'nobody' on host '%'")
	failsOn(t, root, "GRANT EXECUTE ON ADAPTER TO 'ann'@'localhost'", 1064, "expected an adapter name")
	// root's CURRENT_USER is root's account.
	execOn(t, root, "GRANT EXECUTE ON ADAPTER sent TO CURRENT_USER")
	if got := column(t, root, "SHOW GRANTS"); !strings.Contains(strings.Join(got, "\n"), "GRANT EXECUTE ON ADAPTER `sent` TO `root`@`localhost`") {
		t.Fatalf("root's grants: %q", got)
	}
}
