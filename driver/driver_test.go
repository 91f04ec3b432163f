package driver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/vitess/go/mysql"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/sqlfuncs"
)

func dsn(t *testing.T, path, extra string) string {
	return "file:" + path + "?model=" + testmodels.Dir("bert-tiny") + extra
}

func open(t *testing.T, d string) *sql.DB {
	t.Helper()
	db, err := sql.Open(DriverName, d)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func wantErr(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != code || !strings.Contains(se.Message, msg) {
		t.Fatalf("error %v, want %d %q", err, code, msg)
	}
}

const quickOptions = "OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"

func setup(t *testing.T, db *sql.DB) {
	t.Helper()
	exec(t, db, "CREATE TABLE labelled (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10), score DOUBLE)")
	rows := [][]any{{1, "a wonderful delightful film", "pos", 4.5}, {2, "terrible boring awful", "neg", 1.0},
		{3, "delightful and wonderful", "pos", 4.8}, {4, "awful, terrible acting", "neg", 1.5}, {5, "wonderful cast", "pos", 4.1},
		{6, "boring plot", "neg", 2.0}, {7, "great wonderful fun", "pos", 4.9}, {8, "dull awful mess", "neg", 1.2}}
	for _, r := range rows {
		exec(t, db, "INSERT INTO labelled VALUES (?, ?, ?, ?)", r...)
	}
	// ? parameters work inside the SELECT of CREATE ADAPTER in process.
	exec(t, db, "CREATE ADAPTER sent "+quickOptions+" AS SELECT txt, label FROM labelled WHERE id <= ?", 8)
	exec(t, db, "CREATE ADAPTER stars "+quickOptions+" AS SELECT txt, score FROM labelled")
}

func TestDriverSQL(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	db := open(t, dsn(t, filepath.Join(dir, "data.db"), "&batch=16&files_dir="+files))
	defer db.Close()
	setup(t, db)

	var label, proba, emb string
	var value float64
	err := db.QueryRow("SELECT PREDICT('sent', txt), PREDICT('stars', txt), PREDICT_PROBA(?, txt), EMBED(txt, 'mean') FROM labelled WHERE id = ?",
		"sent", 1).Scan(&label, &value, &proba, &emb)
	if err != nil {
		t.Fatal(err)
	}
	if label != "pos" || value < 2.5 || !strings.HasPrefix(proba, `{"neg": `) || strings.Count(emb, ",") != 31 {
		t.Errorf("got %q %v %s %.40s", label, value, proba, emb)
	}
	rows, err := db.Query("SELECT PREDICT('sent', txt), PREDICT('stars', txt), PREDICT_PROBA('sent', txt) FROM labelled")
	if err != nil {
		t.Fatal(err)
	}
	cts, _ := rows.ColumnTypes()
	var names []string
	for _, c := range cts {
		names = append(names, c.DatabaseTypeName())
	}
	rows.Close()
	if strings.Join(names, ",") != "VARCHAR,DOUBLE,JSON" {
		t.Errorf("column types %v", names)
	}

	// Prepared statements with ? parameters, NULLs, unicode.
	stmt, err := db.Prepare("SELECT PREDICT(?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	var ns sql.NullString
	for _, c := range []struct {
		text  any
		valid bool
	}{{"wonderful fun", true}, {nil, false}, {"très bien 👍 日本語", true}} {
		if err := stmt.QueryRow("sent", c.text).Scan(&ns); err != nil || ns.Valid != c.valid {
			t.Errorf("PREDICT('sent', %v): %v %v", c.text, ns, err)
		}
	}
	wantErr(t, stmt.QueryRow("nope", "x").Scan(&ns), 1305, "ADAPTER nope does not exist")

	// Statements, the catalog table, files.
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM adapterdb.adapters WHERE task = ?", "regression").Scan(&n); err != nil || n != 1 {
		t.Fatalf("adapters table: %d %v", n, err)
	}
	exec(t, db, "EXPORT ADAPTER sent TO 'sent.safetensors'")
	exec(t, db, "CREATE ADAPTER copy FROM 'sent.safetensors'")
	if err := db.QueryRow("SELECT COUNT(*) FROM labelled WHERE PREDICT('copy', txt) = PREDICT('sent', txt)").Scan(&n); err != nil || n != 8 {
		t.Fatalf("imported copy: %d %v", n, err)
	}
	_, err = db.Exec("EXPORT ADAPTER sent TO '../sent.safetensors'")
	wantErr(t, err, 1290, "outside that directory")
	res := exec(t, db, "DROP ADAPTER copy")
	if k, _ := res.RowsAffected(); k != 1 {
		t.Errorf("DROP: %d rows", k)
	}
	rs, err := db.Query("SHOW ADAPTERS")
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for rs.Next() {
		var name, task, inputs, labels, base string
		var size, params, bytes int64
		var created time.Time
		if err := rs.Scan(&name, &task, &inputs, &labels, &base, &size, &params, &bytes, &created); err != nil {
			t.Fatal(err)
		}
		shown = append(shown, name)
	}
	rs.Close()
	if strings.Join(shown, ",") != "sent,stars" {
		t.Errorf("SHOW ADAPTERS: %v", shown)
	}

	// Errors are MySQL errors, as over the wire.
	_, err = db.Exec("CREATE ADAPTER x OPTONS (a = 1) AS SELECT txt, label FROM labelled")
	wantErr(t, err, 1064, "at position 18 near 'OPTONS")
	_, err = db.Exec("SELECT PREDICT('sent') FROM labelled")
	wantErr(t, err, 1582, "PREDICT")
	_, err = db.Exec("CREATE ADAPTER sent AS SELECT txt, label FROM labelled")
	wantErr(t, err, 1304, "ADAPTER sent already exists")

	// Transactions go through the engine.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO labelled VALUES (9, 'fine', 'pos', 3)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM labelled").Scan(&n); err != nil || n != 9 {
		t.Fatalf("after commit: %d %v", n, err)
	}
}

func TestDriverSharesEngine(t *testing.T) {
	d, ok := mustDriver(t)
	if !ok {
		return
	}
	path := filepath.Join(t.TempDir(), "shared.db")
	var dbs []*sql.DB
	for i := 0; i < 3; i++ {
		db := open(t, dsn(t, path, ""))
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
	}
	exec(t, dbs[0], "CREATE TABLE t (x INT)")
	exec(t, dbs[1], "INSERT INTO t VALUES (1)")
	var n int
	if err := dbs[2].QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("tables across handles: %d %v", n, err)
	}
	d.mu.Lock()
	var refs int
	for _, s := range d.open {
		if s.opts.path == path {
			refs = s.refs
		}
	}
	d.mu.Unlock()
	if refs != 3 {
		t.Errorf("%d references to the shared engine, want 3 (one load)", refs)
	}
	if _, err := sql.Open(DriverName, dsn(t, path, "&batch=8")); err == nil || !strings.Contains(err.Error(), "already open") {
		// sql.Open defers errors to first use for drivers without
		// OpenConnector; with it, the error comes here.
		t.Errorf("other settings on an open file: %v", err)
	}
	for i, db := range dbs {
		// The last one shuts the engine down; a clean shutdown is no error.
		if err := db.Close(); err != nil {
			t.Errorf("Close %d: %v", i, err)
		}
	}
	d.mu.Lock()
	left := len(d.open)
	d.mu.Unlock()
	if left != 0 {
		t.Errorf("%d engines still open after every DB closed", left)
	}
}

func mustDriver(t *testing.T) (*Driver, bool) {
	db := open(t, "file:"+filepath.Join(t.TempDir(), "probe.db")+"?model="+testmodels.Dir("bert-tiny"))
	defer db.Close()
	d, ok := db.Driver().(*Driver)
	if !ok {
		t.Fatalf("driver %T", db.Driver())
	}
	return d, ok
}

func TestDriverPassesAndKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db := open(t, dsn(t, path, ""))
	defer db.Close()
	setup(t, db)
	exec(t, db, "CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT)")
	var vals []string
	for i := 1; i <= 1000; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'doc %d is %s')", i, i, []string{"great", "awful", "dull", "fun"}[i%4]))
	}
	exec(t, db, "INSERT INTO docs VALUES "+strings.Join(vals, ","))
	d := db.Driver().(*Driver)
	d.mu.Lock()
	var s *shared
	for _, x := range d.open {
		if x.opts.path == path {
			s = x
		}
	}
	d.mu.Unlock()
	// At batch 64, one call over 1,000 rows is 16 passes (windows of 64, 128,
	// 256, 512 and 40 rows); two calls are twice the sequences, 32 passes.
	eng := s.sql.Registry().Engine()
	for _, c := range []struct {
		q    string
		want int64
	}{{"SELECT PREDICT('sent', txt) FROM docs", 16}, {"SELECT PREDICT('sent', txt), PREDICT('stars', txt) FROM docs", 32}} {
		q := c.q
		p0 := eng.Passes()
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for rows.Next() {
			k++
		}
		rows.Close()
		if p := eng.Passes() - p0; k != 1000 || p != c.want {
			t.Errorf("%s: %d rows, %d passes, want 1000 and %d", q, k, p, c.want)
		}
	}

	// KILL QUERY from another connection; then a cancelled context.
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id int64
	if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(context.Background(), "CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 10000, early_stopping = 0) AS SELECT txt, label FROM labelled")
		errc <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var state sql.NullString
		rows, err := db.Query("SHOW PROCESSLIST")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var pid, secs int64
			var user, host, command string
			var dbname, info, st sql.NullString
			if err := rows.Scan(&pid, &user, &host, &dbname, &command, &secs, &st, &info); err != nil {
				t.Fatal(err)
			}
			if pid == id {
				state = st
			}
		}
		rows.Close()
		if strings.Contains(state.String, "loss") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no training progress in the process list: %q", state.String)
		}
		time.Sleep(20 * time.Millisecond)
	}
	exec(t, db, fmt.Sprintf("KILL QUERY %d", id))
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("KILL QUERY did not stop training")
	}
	wantErr(t, err, 1317, "interrupted")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = conn.ExecContext(ctx, "CREATE ADAPTER other OPTIONS (epochs = 10000, early_stopping = 0) AS SELECT txt, label FROM labelled")
	wantErr(t, err, 1317, "interrupted")
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM adapterdb.adapters").Scan(&n); err != nil || n != 2 {
		t.Fatalf("catalog: %d %v", n, err)
	}
}

func TestParseDSN(t *testing.T) {
	for _, bad := range []string{"data.db", "file:", "file:x.db?batch=0", "file:x.db?batch=x", "file:x.db?colour=red", "file:x.db?max_text_bytes=-1"} {
		if _, err := parseDSN(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	o, err := parseDSN("file:x.db?model=demo&batch=32&files_dir=/tmp")
	if err != nil || o.model != "demo" || o.batch != 32 || o.filesDir != "/tmp" || !filepath.IsAbs(o.path) {
		t.Errorf("%+v %v", o, err)
	}
	// Defaults are the engine's own, so that "already open with other
	// settings" names the values in force.
	if o.maxText != engine.DefaultMaxTextBytes || o.maxJobs != sqlfuncs.DefaultMaxJobs {
		t.Errorf("defaults: %+v", o)
	}
	// Given explicitly or left out, the same settings share one engine.
	a, _ := parseDSN("file:x.db")
	b, _ := parseDSN("file:x.db?max_text_bytes=1048576")
	if a != b {
		t.Errorf("default and explicit max_text_bytes differ: %+v %+v", a, b)
	}
}

// go-mysql-server's own file statements are confined like ours: without
// files_dir, LOAD DATA INFILE and SELECT ... INTO OUTFILE are refused; with
// it, only paths inside it are accepted.
func TestDriverFileStatements(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "rows.tsv"), []byte("1\tone\n2\ttwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside.tsv")
	if err := os.WriteFile(outside, []byte("3\tthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, extra string
		inside      bool
	}{{"no files_dir", "", false}, {"files_dir", "&files_dir=" + files, true}} {
		t.Run(c.name, func(t *testing.T) {
			db := open(t, dsn(t, filepath.Join(t.TempDir(), "f.db"), c.extra))
			defer db.Close()
			exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, s TEXT)")
			if _, err := db.Exec("LOAD DATA INFILE '" + outside + "' INTO TABLE t"); err == nil {
				t.Error("LOAD DATA INFILE outside the files directory was accepted")
			}
			_, err := db.Exec("LOAD DATA INFILE '" + filepath.Join(files, "rows.tsv") + "' INTO TABLE t")
			if c.inside && err != nil {
				t.Errorf("LOAD DATA INFILE inside the files directory: %v", err)
			}
			if !c.inside && err == nil {
				t.Error("LOAD DATA INFILE accepted without a files directory")
			}
			if _, err := db.Exec("SELECT * FROM t INTO OUTFILE '" + filepath.Join(dir, "out.tsv") + "'"); err == nil {
				t.Error("SELECT ... INTO OUTFILE outside the files directory was accepted")
			}
		})
	}
}
