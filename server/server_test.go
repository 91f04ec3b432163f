package server_test

import (
	"context"
	gosql "database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/server"
	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// testServer is a server on the bert-tiny checkpoint over a database file.
type testServer struct {
	t    testing.TB
	srv  *server.Server
	eng  *engine.Engine
	done chan error
}

type serverOpts struct {
	dbPath   string
	listen   string
	rootPw   string
	filesDir string
	grace    time.Duration
	maxConns uint64
	connect  time.Duration // connect_timeout
	wait     time.Duration // wait_timeout
}

func startServer(t testing.TB, o serverOpts) *testServer {
	t.Helper()
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "test.db")
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	e, err := sqlfuncs.Open(sqlfuncs.Options{Path: o.dbPath, Model: testmodels.Dir("bert-tiny"), Backend: testmodels.CPU(t),
		BatchSize: 64, FilesDir: o.filesDir, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{DB: e, Listen: o.listen, RootPassword: o.rootPw,
		ShutdownGrace: o.grace, MaxConnections: o.maxConns, ConnectTimeout: o.connect, WaitTimeout: o.wait, Log: zerolog.Nop()})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv, eng: e.Registry().Engine(), done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve() }()
	t.Cleanup(ts.stop) // Shutdown closes the database and its engine
	return ts
}

func (ts *testServer) stop() {
	ts.srv.Shutdown(context.Background())
	<-ts.done
	ts.done <- nil // later stops return at once
}

func (ts *testServer) open(user, password, params string) *gosql.DB {
	ts.t.Helper()
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/main?%s", user, password, ts.srv.Addr(), params)
	db, err := gosql.Open("mysql", dsn)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *gosql.DB, q string, args ...any) gosql.Result {
	t.Helper()
	res, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// mysqlErr wants a MySQL error with the code whose message has want.
func mysqlErr(t *testing.T, err error, code uint16, want string) {
	t.Helper()
	var me *mysqldrv.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T), want MySQL error %d", err, err, code)
	}
	if me.Number != code || !strings.Contains(me.Message, want) {
		t.Fatalf("error %d %q, want %d %q", me.Number, me.Message, code, want)
	}
}

const quickOptions = "OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"

func loadSentiment(t *testing.T, db *gosql.DB) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE labelled (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10), score DOUBLE)")
	mustExec(t, db, `INSERT INTO labelled VALUES (1, 'a wonderful delightful film', 'pos', 4.5), (2, 'terrible boring awful', 'neg', 1),
		(3, 'delightful and wonderful', 'pos', 4.8), (4, 'awful, terrible acting', 'neg', 1.5), (5, 'wonderful cast', 'pos', 4.1),
		(6, 'boring plot', 'neg', 2), (7, 'great wonderful fun', 'pos', 4.9), (8, 'dull awful mess', 'neg', 1.2)`)
	mustExec(t, db, "CREATE ADAPTER sent "+quickOptions+" AS SELECT txt, label FROM labelled")
	mustExec(t, db, "CREATE ADAPTER stars "+quickOptions+" AS SELECT txt, score FROM labelled")
}

func TestAccounts(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "acc.db")
	ts := startServer(t, serverOpts{dbPath: dbPath})
	root := ts.open("root", "", "")
	if err := root.Ping(); err != nil {
		t.Fatalf("root without password on loopback: %v", err)
	}
	mustExec(t, root, "CREATE USER 'alice'@'%' IDENTIFIED BY 'secret'")
	mustExec(t, root, "GRANT ALL ON *.* TO 'alice'@'%'")
	if err := ts.open("alice", "secret", "").Ping(); err != nil {
		t.Fatalf("alice: %v", err)
	}
	mysqlErr(t, ts.open("alice", "wrong", "").Ping(), 1045, "Access denied")
	if err := ts.open("bob", "", "").Ping(); err == nil {
		t.Fatal("unknown user bob logged in")
	}
	ts.stop()

	// Accounts live in the database file: a new server knows alice.
	ts = startServer(t, serverOpts{dbPath: dbPath})
	if err := ts.open("alice", "secret", "").Ping(); err != nil {
		t.Fatalf("alice after restart: %v", err)
	}
	ts.stop()

	// Beyond loopback: refused while no account has a password that can log
	// in... (alice has one, but root@localhost stays local-only: allowed).
	if _, err := startServerErr(t, serverOpts{dbPath: filepath.Join(t.TempDir(), "fresh.db"), listen: "0.0.0.0:0"}); err == nil ||
		!strings.Contains(err.Error(), "refusing to listen beyond loopback without a password") {
		t.Fatalf("0.0.0.0 on a fresh file: %v", err)
	}
	ts = startServer(t, serverOpts{dbPath: dbPath, listen: "0.0.0.0:0"})
	ts.stop()
	// An address without a port is a bad address, not an exposed one.
	for _, addr := range []string{"127.0.0.1", "nonsense", ""} {
		if _, err := startServerErr(t, serverOpts{dbPath: dbPath, listen: addr}); err == nil ||
			!strings.Contains(err.Error(), "missing port in address (want host:port") {
			t.Fatalf("listen %q: %v", addr, err)
		}
	}
	// A root password set at start applies to root@localhost and root@%.
	ts = startServer(t, serverOpts{dbPath: filepath.Join(t.TempDir(), "pw.db"), listen: "0.0.0.0:0", rootPw: "s3cret"})
	mysqlErr(t, ts.open("root", "", "").Ping(), 1045, "Access denied")
	if err := ts.open("root", "s3cret", "").Ping(); err != nil {
		t.Fatalf("root with password: %v", err)
	}
}

// startServerErr is startServer for a configuration expected to fail.
func startServerErr(t *testing.T, o serverOpts) (*server.Server, error) {
	e, err := sqlfuncs.Open(sqlfuncs.Options{Path: o.dbPath, Model: testmodels.Dir("bert-tiny"), Backend: testmodels.CPU(t), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := server.New(context.Background(), server.Config{DB: e, Listen: o.listen, Log: zerolog.Nop()})
	if err == nil {
		s.Shutdown(context.Background())
	}
	return s, err
}

func TestOverTheWire(t *testing.T) {
	ts := startServer(t, serverOpts{})
	db := ts.open("root", "", "")
	loadSentiment(t, db)

	// Text protocol, and server-side prepared statements with ? parameters.
	var label string
	if err := db.QueryRow("SELECT PREDICT('sent', 'wonderful delightful')").Scan(&label); err != nil || label != "pos" {
		t.Fatalf("text protocol: %q %v", label, err)
	}
	if err := db.QueryRow("SELECT PREDICT(?, ?)", "sent", "terrible awful boring").Scan(&label); err != nil || label != "neg" {
		t.Fatalf("prepared: %q %v", label, err)
	}
	stmt, err := db.Prepare("SELECT id, PREDICT('sent', txt), PREDICT(?, txt) FROM labelled WHERE id <= ? ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for _, n := range []int{3, 8} {
		rows, err := stmt.Query("stars", n)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for rows.Next() {
			var id int
			var l string
			var v float64
			if err := rows.Scan(&id, &l, &v); err != nil {
				t.Fatal(err)
			}
			count++
		}
		rows.Close()
		if count != n {
			t.Fatalf("prepared with limit %d: %d rows", n, count)
		}
	}
	_, err = stmt.Query("nope", 3)
	mysqlErr(t, err, 1305, "ADAPTER nope does not exist")

	// Types: VARCHAR label, DOUBLE value, JSON probabilities and features.
	rows, err := db.Query("SELECT PREDICT('sent', txt), PREDICT('stars', txt), PREDICT_PROBA('sent', txt), EMBED(txt, 'mean') FROM labelled WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	cts, _ := rows.ColumnTypes()
	var types []string
	for _, c := range cts {
		types = append(types, c.DatabaseTypeName())
	}
	if strings.Join(types, ",") != "VARCHAR,DOUBLE,JSON,JSON" {
		t.Errorf("column types %v", types)
	}
	rows.Next()
	var l, proba, emb string
	var v float64
	if err := rows.Scan(&l, &v, &proba, &emb); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if !strings.HasPrefix(proba, `{"neg": `) || !strings.HasPrefix(emb, "[") || strings.Count(emb, ",") != 31 {
		t.Errorf("proba %s embed %.60s", proba, emb)
	}

	// NULLs and unicode text.
	var p gosql.NullString
	if err := db.QueryRow("SELECT PREDICT('sent', NULL)").Scan(&p); err != nil || p.Valid {
		t.Fatalf("NULL: %v %v", p, err)
	}
	if err := db.QueryRow("SELECT PREDICT('sent', ?)", "ça marche 👍 日本語").Scan(&p); err != nil || !p.Valid {
		t.Fatalf("unicode: %v %v", p, err)
	}

	// Errors keep the connection and server usable.
	_, err = db.Exec("SELEC 1")
	mysqlErr(t, err, 1064, "syntax error at position 6 near 'SELEC'")
	_, err = db.Exec("CREATE ADAPTER x OPTONS (a = 1) AS SELECT txt, label FROM labelled")
	mysqlErr(t, err, 1064, "at position 18 near 'OPTONS")
	_, err = db.Exec("SELECT PREDICT('sent') FROM labelled")
	mysqlErr(t, err, 1582, "Incorrect parameter count in the call to native function 'PREDICT'")
	_, err = db.Exec("SELECT PREDICT('nope', txt) FROM labelled")
	mysqlErr(t, err, 1305, "ADAPTER nope does not exist")
	_, err = db.Exec("EXPORT ADAPTER sent TO 'x.safetensors'")
	mysqlErr(t, err, 1290, "without a files directory")
	// Adapter statements are parsed by vitess on COM_STMT_PREPARE, so they
	// cannot be server-side prepared.
	_, err = db.Exec("DROP ADAPTER IF EXISTS sent /* ? */ ", 1)
	if err == nil {
		t.Fatal("prepared adapter statement accepted")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM adapterdb.adapters").Scan(&n); err != nil || n != 2 {
		t.Fatalf("catalog: %d %v", n, err)
	}
	// SHOW ADAPTERS and multi-statements through the text protocol.
	multi := ts.open("root", "", "multiStatements=true")
	mustExec(t, multi, "CREATE ADAPTER m1 "+quickOptions+" AS SELECT txt, label FROM labelled; DROP ADAPTER m1; SHOW ADAPTERS")
	rows, err = db.Query("SHOW ADAPTERS")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var name, task, inputs, labels, base string
		var size, params, bytes int64
		var created time.Time
		var raw []byte
		_ = raw
		if err := rows.Scan(&name, &task, &inputs, &labels, &base, &size, &params, &bytes, &raw); err != nil {
			t.Fatal(err)
		}
		_ = created
		names = append(names, name+":"+task)
	}
	rows.Close()
	if strings.Join(names, ",") != "sent:classification,stars:regression" {
		t.Errorf("SHOW ADAPTERS: %v", names)
	}
}

// TestExplainOverTheWire: EXPLAIN of a query that returns at most one row
// (COUNT(*), a unique-key lookup) prints its plan, a row per line. Such
// queries are analyzed with a one-row flag that go-mysql-server's handler
// honours (and failed the EXPLAIN's second row on: "result max1Row iterator
// returned more than one row"); the queries themselves still answer.
func TestExplainOverTheWire(t *testing.T) {
	ts := startServer(t, serverOpts{})
	db := ts.open("root", "", "")
	mustExec(t, db, "CREATE TABLE k (id INT PRIMARY KEY, v INT)")
	mustExec(t, db, "INSERT INTO k VALUES (1, 10), (2, 20)")
	for _, q := range []string{"EXPLAIN SELECT COUNT(*) FROM k", "EXPLAIN SELECT v FROM k WHERE id = 2",
		"EXPLAIN FORMAT=TREE SELECT COUNT(*) FROM k", "EXPLAIN SELECT EMBED('a')"} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		lines := 0
		for rows.Next() {
			lines++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rows.Close()
		if lines < 2 {
			t.Errorf("%s: %d plan lines", q, lines)
		}
	}
	stmt, err := db.Prepare("EXPLAIN SELECT COUNT(*) FROM k") // server-side prepared
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	rows, err := stmt.Query()
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for rows.Next() {
		lines++
	}
	if err := rows.Err(); err != nil || lines < 2 {
		t.Fatalf("prepared EXPLAIN: %d lines, %v", lines, err)
	}
	rows.Close()
	var n, v int
	if err := db.QueryRow("SELECT COUNT(*) FROM k").Scan(&n); err != nil || n != 2 {
		t.Fatalf("COUNT(*): %d %v", n, err)
	}
	if err := db.QueryRow("SELECT v FROM k WHERE id = 2").Scan(&v); err != nil || v != 20 {
		t.Fatalf("lookup: %d %v", v, err)
	}
}

func TestPassesOverTheWire(t *testing.T) {
	ts := startServer(t, serverOpts{})
	db := ts.open("root", "", "")
	loadSentiment(t, db)
	mustExec(t, db, "CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT)")
	var vals []string
	for i := 1; i <= 1000; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'text number %d is %s')", i, i, []string{"great", "awful", "dull", "fun"}[i%4]))
	}
	mustExec(t, db, "INSERT INTO docs VALUES "+strings.Join(vals, ","))
	// At batch 64: windows of 64, 128, 256, 512 and 40 rows; two calls are
	// twice the sequences.
	for _, c := range []struct {
		q    string
		want int64
	}{
		{"SELECT id, PREDICT('sent', txt) FROM docs", 16},
		{"SELECT id, PREDICT('sent', txt), PREDICT('stars', txt) FROM docs", 32},
	} {
		q := c.q
		p0 := ts.eng.Passes()
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if passes := ts.eng.Passes() - p0; n != 1000 || passes != c.want {
			t.Errorf("%s: %d rows, %d passes; want 1000 rows, %d passes", q, n, passes, c.want)
		}
	}
}

// TestKillAndDisconnect: KILL QUERY stops training with 1317; a client
// disconnecting mid-query cancels it; the catalog is unchanged and the server
// keeps serving.
func TestKillAndDisconnect(t *testing.T) {
	ts := startServer(t, serverOpts{})
	db := ts.open("root", "", "")
	loadSentiment(t, db)
	var before string
	if err := db.QueryRow("SELECT GROUP_CONCAT(CONCAT(name, version) ORDER BY name) FROM adapterdb.adapters").Scan(&before); err != nil {
		t.Fatal(err)
	}
	long := "CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 10000, batch_size = 2, early_stopping = 0) AS SELECT txt, label FROM labelled"

	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(context.Background(), long)
		errc <- err
	}()
	state := waitState(t, db, id, "loss")
	if !strings.Contains(state, "CREATE ADAPTER sent (") || !strings.Contains(state, "epoch ") {
		t.Errorf("SHOW PROCESSLIST state %q", state)
	}
	mustExec(t, db, fmt.Sprintf("KILL QUERY %d", id))
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("KILL QUERY did not stop training")
	}
	mysqlErr(t, err, 1317, "Query execution was interrupted")
	if err := conn.PingContext(context.Background()); err != nil {
		t.Fatalf("connection after KILL QUERY: %v", err)
	}
	conn.Close()

	// Disconnect: go-sql-driver closes the connection when the context ends.
	conn, err = db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := conn.ExecContext(ctx, long)
		errc <- err
	}()
	waitState(t, db, id, "loss")
	cancel()
	<-errc
	conn.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s := stateOf(t, db, id); s == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the query of a disconnected client is still running")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var after string
	if err := db.QueryRow("SELECT GROUP_CONCAT(CONCAT(name, version) ORDER BY name) FROM adapterdb.adapters").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("catalog changed: %s -> %s", before, after)
	}
}

// stateOf returns a connection's SHOW PROCESSLIST state while it runs a
// query, else "".
func stateOf(t *testing.T, db *gosql.DB, id int64) string {
	rows, err := db.Query("SHOW PROCESSLIST")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		var user, host, command, state string
		var dbname, info gosql.NullString
		var secs int64
		if err := rows.Scan(&pid, &user, &host, &dbname, &command, &secs, &state, &info); err != nil {
			t.Fatal(err)
		}
		if pid == id && command == "Query" {
			return state
		}
	}
	return ""
}

func waitState(t *testing.T, db *gosql.DB, id int64, want string) string {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s := stateOf(t, db, id); strings.Contains(s, want) {
			return s
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("connection %d never showed %q", id, want)
	return ""
}

// TestShutdown: a running query finishes within the grace period; one that
// outlasts it is cancelled; idle connections are closed; the file stays
// consistent (a new server opens it with the adapters).
func TestShutdown(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "shut.db")
	ts := startServer(t, serverOpts{dbPath: dbPath, grace: 500 * time.Millisecond})
	db := ts.open("root", "", "")
	loadSentiment(t, db)
	idle := ts.open("root", "", "")
	if err := idle.Ping(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var longErr error
	go func() {
		defer wg.Done()
		_, longErr = db.Exec("CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 10000, early_stopping = 0) AS SELECT txt, label FROM labelled")
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	ts.stop()
	wg.Wait()
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	mysqlErr(t, longErr, 1317, "interrupted")
	if err := idle.Ping(); err == nil {
		t.Error("idle connection still open after shutdown")
	}
	ts2 := startServer(t, serverOpts{dbPath: dbPath})
	var n int
	if err := ts2.open("root", "", "").QueryRow("SELECT COUNT(*) FROM adapterdb.adapters").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after restart: %d adapters, %v", n, err)
	}
}
