package sqlfuncs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"

	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// slowCreate would train for minutes (512 rows, 10,000 epochs): refusals
// must come before training.
const slowCreate = "CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 10000, validation_fraction = 0) " +
	"AS SELECT a.txt, a.label FROM labelled a, labelled b, labelled c"

// connAs opens another in-process connection to v's engine as user.
func (v *env) connAs(user string) *sqlfuncs.Conn {
	v.t.Helper()
	c, err := v.e.Connect(context.Background(), user)
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { c.Close() })
	return c
}

// failsOn runs q on c and wants a MySQL error with the code whose message
// contains every want.
func failsOn(t *testing.T, c *sqlfuncs.Conn, q string, code int, want ...string) {
	t.Helper()
	_, err := c.Exec(context.Background(), q, nil)
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != code {
		t.Fatalf("%s: error %v, want %d", q, err, code)
	}
	for _, w := range want {
		if !strings.Contains(se.Message, w) {
			t.Fatalf("%s: error %q lacks %q", q, se.Message, w)
		}
	}
}

func execOn(t *testing.T, c *sqlfuncs.Conn, q string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), q, nil); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// CREATE OR REPLACE ADAPTER of an existing adapter needs ALTER on it (global
// ALTER, or CREATE and DROP, or a grant: grants_test.go), refused with 1142
// before the SELECT runs; CREATE ADAPTER FROM 'file' needs CREATE as well as
// FILE, refused when the statement is planned.
func TestAdapterStatementPrivileges(t *testing.T) {
	v := newEnv(t, envOpts{filesDir: t.TempDir()})
	v.withAdapters()
	v.exec("EXPORT ADAPTER sent TO 'sent.safetensors'")
	before := v.rows("SELECT version FROM adapterdb.adapters WHERE name = 'sent'")[0][0]
	mdb := v.e.SQL.Analyzer.Catalog.MySQLDb
	mdb.SetPersister(&mysql_db.NoopPersister{})
	mdb.AddRootAccount() // turns privilege checks on
	root := v.connAs("root")
	execOn(t, root, "CREATE USER 'maker'@'localhost'")
	execOn(t, root, "GRANT SELECT, CREATE ON *.* TO 'maker'@'localhost'")
	execOn(t, root, "CREATE USER 'loader'@'localhost'")
	execOn(t, root, "GRANT SELECT, FILE ON *.* TO 'loader'@'localhost'")
	execOn(t, root, "CREATE USER 'owner'@'localhost'")
	execOn(t, root, "GRANT SELECT, CREATE, DROP, FILE ON *.* TO 'owner'@'localhost'")
	v.c = root // v.rows as root from here on
	version := func() any { return v.rows("SELECT version FROM adapterdb.adapters WHERE name = 'sent'")[0][0] }

	maker := v.connAs("maker")
	// Training that would take minutes: the refusal must come first.
	start := time.Now()
	failsOn(t, maker, slowCreate, 1142, "command denied")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused after %v: training ran first", d)
	}
	failsOn(t, maker, "DROP ADAPTER sent", 1142, "command denied")
	failsOn(t, maker, "CREATE OR REPLACE ADAPTER sent FROM 'sent.safetensors'", 1105, "command denied")
	execOn(t, maker, "CREATE ADAPTER mine "+quickOptions+" AS SELECT txt, label FROM labelled")

	loader := v.connAs("loader")
	failsOn(t, loader, "CREATE ADAPTER imported FROM 'sent.safetensors'", 1105, "command denied")
	failsOn(t, loader, "CREATE OR REPLACE ADAPTER sent FROM 'sent.safetensors'", 1142, "command denied")
	if got := version(); got != before {
		t.Fatalf("adapter sent replaced by users without DROP: version %v -> %v", before, got)
	}

	owner := v.connAs("owner")
	execOn(t, owner, "CREATE OR REPLACE ADAPTER sent FROM 'sent.safetensors'")
	execOn(t, owner, "CREATE OR REPLACE ADAPTER sent "+quickOptions+" AS SELECT txt, label FROM labelled")
	execOn(t, owner, "CREATE ADAPTER imported FROM 'sent.safetensors'")
	if got := version(); got == before {
		t.Fatal("owner's CREATE OR REPLACE did not replace sent")
	}
}

// An adapter statement inside the session's own write transaction commits
// the transaction first, as MySQL does before DDL, instead of waiting for its
// own lock and failing: the INSERT is committed, the adapter exists, and the
// session is back in autocommit mode.
func TestAdapterStatementCommitsTransaction(t *testing.T) {
	v := newEnv(t, envOpts{filesDir: t.TempDir()})
	v.withAdapters()
	other := v.connAs("other")
	count := func() any {
		rows, err := other.Query(context.Background(), "SELECT COUNT(*) FROM labelled", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		r, err := rows.Next()
		if err != nil {
			t.Fatal(err)
		}
		return r[0]
	}
	v.exec("EXPORT ADAPTER sent TO 'sent.safetensors'") // reads only: no commit, as SELECT ... INTO OUTFILE
	for i, stmt := range []string{
		"CREATE ADAPTER made " + quickOptions + " AS SELECT txt, label FROM labelled",
		"CREATE OR REPLACE ADAPTER made " + quickOptions + " AS SELECT txt, label FROM labelled",
		"CREATE ADAPTER imported FROM 'sent.safetensors'",
		"DROP ADAPTER imported",
	} {
		v.exec("BEGIN")
		v.exec(fmt.Sprintf("INSERT INTO labelled VALUES (%d, 'more wonderful', 'pos', 4.0, '[]')", 100+i))
		start := time.Now()
		v.exec(stmt)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v", stmt, d)
		}
		if got := count(); got != int64(9+i) {
			t.Fatalf("after %s: the other session sees %v rows, want %d (the INSERT committed)", stmt, got, 9+i)
		}
		v.exec("ROLLBACK") // nothing left to roll back
		if got := v.rows("SELECT COUNT(*) FROM labelled")[0][0]; got != int64(9+i) {
			t.Fatalf("after %s and ROLLBACK: %v rows", stmt, got)
		}
	}
	if r := v.rows("SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'made'"); r[0][0] != int64(1) {
		t.Fatalf("adapter made: %v", r)
	}
	// After the implicit commit the session autocommits again.
	v.exec("BEGIN")
	v.exec("INSERT INTO labelled VALUES (200, 'last', 'pos', 4.0, '[]')")
	v.exec("CREATE OR REPLACE ADAPTER made " + quickOptions + " AS SELECT txt, label FROM labelled")
	v.exec("INSERT INTO labelled VALUES (201, 'after', 'neg', 1.0, '[]')")
	if got := count(); got != int64(14) {
		t.Fatalf("autocommit after the implicit commit: the other session sees %v rows, want 14", got)
	}
}

// Another session holding the write lock fails CREATE ADAPTER with 1205
// before it reads or trains (after the busy timeout, 10 s), not after
// training; DROP ADAPTER too. Training does not hold the lock.
func TestAdapterStatementWriteLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s busy timeout")
	}
	v := newEnv(t, envOpts{})
	v.withAdapters()
	other := v.connAs("other")
	execOn(t, other, "BEGIN")
	execOn(t, other, "INSERT INTO labelled VALUES (100, 'held', 'pos', 4.0, '[]')")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	start := time.Now()
	_, err := v.c.Exec(ctx, slowCreate, nil)
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != 1205 || !strings.Contains(se.Message, "Lock wait timeout exceeded") {
		t.Fatalf("CREATE ADAPTER while another session writes: %v (after %v), want 1205", err, time.Since(start))
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("1205 after %v: it trained first", d)
	}
	execOn(t, other, "COMMIT")
	// Training while another session writes: the lock is free meanwhile.
	done := startQuery(v.c, "CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 400, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8) AS SELECT txt, label FROM labelled")
	time.Sleep(300 * time.Millisecond)
	start = time.Now()
	execOn(t, other, "INSERT INTO labelled VALUES (101, 'during training', 'pos', 4.0, '[]')")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("an INSERT waited %v for training", d)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
