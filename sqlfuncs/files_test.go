package sqlfuncs_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"

	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// fileQuery runs q on c (rows drained) and returns the rows or the error.
func fileQuery(c *sqlfuncs.Conn, q string) ([][]any, error) {
	rows, err := c.Query(context.Background(), q, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for {
		r, err := rows.Next()
		if err == io.EOF {
			return out, rows.Close()
		}
		if err != nil {
			return nil, err
		}
		out = append(out, append([]any(nil), r...))
	}
}

// wantFileErr wants q on c to fail with the MySQL code and a message holding want.
func wantFileErr(t *testing.T, c *sqlfuncs.Conn, q string, code int, want string) {
	t.Helper()
	_, err := fileQuery(c, q)
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != code || !strings.Contains(se.Message, want) {
		t.Fatalf("%s: error %v, want %d %q", q, err, code, want)
	}
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every file statement is confined to the files directory by the real path:
// a sibling directory whose name starts with the files directory's (which
// go-mysql-server's prefix test let through), links leading out, "..".
// Relative names are taken inside the directory.
func TestFileConfinement(t *testing.T) {
	base := t.TempDir()
	dir, old := filepath.Join(base, "files"), filepath.Join(base, "files-old")
	for _, d := range []string{dir, old} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(old, "y.tsv"), "9\tsecret\n")
	mustWrite(t, filepath.Join(dir, "rows.tsv"), "1\tone\n2\ttwo\n")
	if err := os.Symlink(old, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(old, "y.tsv"), filepath.Join(dir, "link.tsv")); err != nil {
		t.Fatal(err)
	}
	v := newEnv(t, envOpts{filesDir: dir})
	v.exec("CREATE TABLE t (id INT PRIMARY KEY, s TEXT)")
	for _, q := range []string{
		"SELECT 'x' INTO DUMPFILE '" + filepath.Join(old, "d.bin") + "'",
		"SELECT 'x' INTO OUTFILE '" + filepath.Join(old, "o.tsv") + "'",
		"SELECT 'x' INTO OUTFILE 'out/o.tsv'",
		"SELECT 'x' INTO OUTFILE '../o.tsv'",
		"LOAD DATA INFILE '" + filepath.Join(old, "y.tsv") + "' INTO TABLE t",
		"LOAD DATA INFILE 'out/y.tsv' INTO TABLE t",
		"LOAD DATA INFILE 'link.tsv' INTO TABLE t",
		"LOAD DATA INFILE '../files-old/y.tsv' INTO TABLE t",
		"LOAD DATA LOCAL INFILE '" + filepath.Join(old, "y.tsv") + "' INTO TABLE t",
		"SELECT LOAD_FILE('" + filepath.Join(old, "y.tsv") + "')",
		"SELECT LOAD_FILE('out/y.tsv')",
		"SELECT LOAD_FILE('link.tsv')",
		"SELECT LOAD_FILE('/etc/passwd')",
	} {
		v.fails(q, 1290, "outside that directory")
	}
	for _, f := range []string{"d.bin", "o.tsv"} {
		if _, err := os.Stat(filepath.Join(old, f)); err == nil {
			t.Fatalf("%s written outside the files directory", f)
		}
	}
	if r := v.rows("SELECT COUNT(*) FROM t"); r[0][0] != int64(0) {
		t.Fatalf("rows loaded from outside: %v", r)
	}
	// Inside, relative and absolute names work.
	v.exec("LOAD DATA INFILE 'rows.tsv' INTO TABLE t")
	v.exec("SELECT * FROM t ORDER BY id INTO OUTFILE 'sub-out.tsv'")
	v.exec("SELECT s FROM t WHERE id = 2 INTO DUMPFILE '" + filepath.Join(dir, "two.bin") + "'")
	if b, _ := os.ReadFile(filepath.Join(dir, "sub-out.tsv")); string(b) != "1\tone\n2\ttwo\n" {
		t.Fatalf("OUTFILE wrote %q", b)
	}
	if r := v.rows("SELECT LOAD_FILE('two.bin'), LOAD_FILE('missing.bin') IS NULL"); string(r[0][0].([]byte)) != "two" || r[0][1] != true {
		t.Fatalf("LOAD_FILE: %v", r)
	}
	v.fails("SELECT 1 INTO OUTFILE 'two.bin'", 1086, "already exists")
	v.fails("LOAD DATA INFILE 'missing.tsv' INTO TABLE t", 29, "not found")
	v.fails("SELECT id FROM t INTO DUMPFILE 'many.bin'", 1172, "more than one row")
	if _, err := os.Stat(filepath.Join(dir, "many.bin")); err == nil {
		t.Fatal("a failed DUMPFILE left its file")
	}
	// Without a files directory, all are refused.
	w := newEnv(t, envOpts{})
	w.exec("CREATE TABLE t (id INT PRIMARY KEY, s TEXT)")
	for _, q := range []string{
		"SELECT 1 INTO OUTFILE '" + filepath.Join(dir, "n.tsv") + "'",
		"LOAD DATA INFILE '" + filepath.Join(dir, "rows.tsv") + "' INTO TABLE t",
		"SELECT LOAD_FILE('" + filepath.Join(dir, "two.bin") + "')",
	} {
		w.fails(q, 1290, "without a files directory")
	}
}

// LOAD_FILE and SELECT ... INTO OUTFILE/DUMPFILE need the global FILE
// privilege, as LOAD DATA INFILE does.
func TestFilePrivilege(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "rows.tsv"), "1\tone\n")
	v := newEnv(t, envOpts{filesDir: dir})
	v.exec("CREATE TABLE t (id INT PRIMARY KEY, s TEXT)")
	mdb := v.e.SQL.Analyzer.Catalog.MySQLDb
	mdb.SetPersister(&mysql_db.NoopPersister{})
	mdb.AddRootAccount() // turns privilege checks on
	root, err := v.e.Connect(context.Background(), "root")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, q := range []string{"CREATE USER 'reader'@'localhost'", "GRANT SELECT ON *.* TO 'reader'@'localhost'",
		"CREATE USER 'filer'@'localhost'", "GRANT SELECT, INSERT, FILE ON *.* TO 'filer'@'localhost'"} {
		if _, err := fileQuery(root, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	reader, err := v.e.Connect(context.Background(), "reader")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for _, q := range []string{
		"SELECT LOAD_FILE('rows.tsv')",
		"SELECT * FROM t INTO OUTFILE 'r.tsv'",
		"SELECT 'x' INTO DUMPFILE 'r.bin'",
		"LOAD DATA INFILE 'rows.tsv' INTO TABLE t",
	} {
		wantFileErr(t, reader, q, 1105, "command denied")
	}
	for _, f := range []string{"r.tsv", "r.bin"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Fatalf("%s written without FILE", f)
		}
	}
	filer, err := v.e.Connect(context.Background(), "filer")
	if err != nil {
		t.Fatal(err)
	}
	defer filer.Close()
	for _, q := range []string{"SELECT LOAD_FILE('rows.tsv')", "SELECT 'x' INTO DUMPFILE 'f.bin'",
		"LOAD DATA INFILE 'rows.tsv' INTO TABLE t", "SELECT * FROM t INTO OUTFILE 'f.tsv'"} {
		if _, err := fileQuery(filer, q); err != nil {
			t.Fatalf("with FILE: %s: %v", q, err)
		}
	}
}

// A FIFO (or any non-regular file) in the files directory is refused before
// it is opened, so no statement waits for a writer that never comes.
func TestFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "p.fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	v := newEnv(t, envOpts{filesDir: dir})
	v.exec("CREATE TABLE t (id INT PRIMARY KEY, s TEXT)")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, q := range []string{
			"CREATE ADAPTER x FROM 'p.fifo'",
			"LOAD DATA INFILE 'p.fifo' INTO TABLE t",
			"SELECT LOAD_FILE('p.fifo')",
			"CREATE ADAPTER x FROM 'd'",
			"LOAD DATA INFILE 'd' INTO TABLE t",
		} {
			v.fails(q, 1210, "is not a regular file")
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a file statement on a FIFO hangs")
	}
}

// The shipped CSV (RFC 4180: CRLF lines, quoted fields with commas and
// doubled quotes) and one with line breaks inside quotes load with MySQL's
// CSV options, every row equal to what a CSV reader reads.
func TestLoadDataCSV(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "testdata", "datasets", "fortunes_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "f.csv"), string(src))
	mustWrite(t, filepath.Join(dir, "nl.csv"), "text,label\n\"two\nlines, \"\"quoted\"\"\",a\nplain,\"b\"\n\"\",c\n")
	v := newEnv(t, envOpts{filesDir: dir})
	v.exec("CREATE TABLE g (id INT PRIMARY KEY AUTO_INCREMENT, text TEXT, label VARCHAR(40))")
	for _, c := range []struct{ file, lines string }{{"f.csv", `\r\n`}, {"nl.csv", `\n`}} {
		b, _ := os.ReadFile(filepath.Join(dir, c.file))
		want, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want = want[1:] // header
		v.exec("CREATE TABLE f (id INT PRIMARY KEY AUTO_INCREMENT, text TEXT, label VARCHAR(40))")
		v.exec(`LOAD DATA LOCAL INFILE '` + c.file + `' INTO TABLE f FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '` + c.lines + `' IGNORE 1 LINES (text, label)`)
		got := v.rows("SELECT text, label FROM f ORDER BY id")
		if len(got) != len(want) {
			t.Fatalf("%s: loaded %d rows, the CSV has %d", c.file, len(got), len(want))
		}
		for i := range want {
			if got[i][0] != want[i][0] || got[i][1] != want[i][1] {
				t.Fatalf("%s: row %d: %q, want %q", c.file, i+1, got[i], want[i])
			}
		}
		v.exec("DROP TABLE f")
		// With the default escape character too (the statement).
		v.exec("DELETE FROM g")
		v.exec(`LOAD DATA INFILE '` + c.file + `' INTO TABLE g FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' LINES TERMINATED BY '` + c.lines + `' IGNORE 1 LINES (text, label)`)
		if r := v.rows("SELECT COUNT(*) FROM g"); r[0][0] != int64(len(want)) {
			t.Fatalf("%s, default escape: %v rows, want %d", c.file, r[0][0], len(want))
		}
	}
	mustWrite(t, filepath.Join(dir, "open.csv"), "\"never closed,x\n")
	v.fails(`LOAD DATA INFILE 'open.csv' INTO TABLE g FIELDS TERMINATED BY ',' ENCLOSED BY '"' (text, label)`, 1210, "line 1: the field enclosed by \" has no closing")
}

// SELECT ... INTO OUTFILE and LOAD DATA read each other's format back
// exactly: separators, line breaks, quotes, backslashes, NUL, NULL, empty.
func TestOutfileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	v := newEnv(t, envOpts{filesDir: dir})
	v.exec("CREATE TABLE a (id INT PRIMARY KEY, s TEXT, n DOUBLE)")
	v.exec(`INSERT INTO a VALUES (1, 'tab\there, comma', 1.5), (2, 'line\nbreak "quoted" \\ back', NULL),
		(3, '', 0), (4, NULL, -2), (5, CONCAT('nul', CHAR(0), 'x'), 3), (6, 'NULL', 4)`)
	want := v.rows("SELECT * FROM a ORDER BY id")
	for i, opts := range []string{
		"",
		`FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"'`,
		`FIELDS TERMINATED BY ',' ENCLOSED BY '"' LINES STARTING BY '>' TERMINATED BY '\r\n'`,
	} {
		file := fmt.Sprintf("a%d.txt", i)
		v.exec(fmt.Sprintf("SELECT * FROM a ORDER BY id INTO OUTFILE '%s' %s", file, opts))
		tbl := fmt.Sprintf("b%d", i)
		v.exec("CREATE TABLE " + tbl + " (id INT PRIMARY KEY, s TEXT, n DOUBLE)")
		v.exec(fmt.Sprintf("LOAD DATA INFILE '%s' INTO TABLE %s %s", file, tbl, opts))
		got := v.rows("SELECT * FROM " + tbl + " ORDER BY id")
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			b, _ := os.ReadFile(filepath.Join(dir, file))
			t.Fatalf("options %q: got %q, want %q (file %q)", opts, got, want, b)
		}
	}
}
