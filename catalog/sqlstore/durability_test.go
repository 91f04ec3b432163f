package sqlstore

import (
	gosql "database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gmsql "github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
)

func mustExecDB(t *testing.T, db *gosql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryStrings(t *testing.T, db *gosql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]gosql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestart: tables written through a server are there, equal, after the
// server process stops and a new one starts on the file.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "restart.db")
	p := spawnServer(t, path)
	db := dial(t, p.addr, "")
	mustExecDB(t, db, `CREATE TABLE reviews (id BIGINT PRIMARY KEY AUTO_INCREMENT, body TEXT, stars TINYINT UNSIGNED,
		price DECIMAL(10,2), at DATETIME(3), tags JSON, KEY by_stars (stars))`)
	mustExecDB(t, db, `INSERT INTO reviews (body, stars, price, at, tags) VALUES
		('great 👍', 5, 19.99, '2024-01-02 03:04:05.678', '["a"]'), ('meh', 3, NULL, NULL, NULL), ('bad', 1, 0.5, '2001-01-01', '{}')`)
	mustExecDB(t, db, "CREATE DATABASE other")
	mustExecDB(t, db, "CREATE TABLE other.kv (k VARCHAR(10) PRIMARY KEY, v BLOB)")
	mustExecDB(t, db, "INSERT INTO other.kv VALUES ('x', X'00FF')")
	before := queryStrings(t, db, "SELECT * FROM reviews ORDER BY id")
	beforeCreate := queryStrings(t, db, "SHOW CREATE TABLE reviews")
	db.Close()
	p.stop(t)

	p2 := spawnServer(t, path)
	db2 := dial(t, p2.addr, "")
	after := queryStrings(t, db2, "SELECT * FROM reviews ORDER BY id")
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("rows changed across restart:\n%v\n%v", before, after)
	}
	if got := queryStrings(t, db2, "SHOW CREATE TABLE reviews"); fmt.Sprint(got) != fmt.Sprint(beforeCreate) {
		t.Fatalf("SHOW CREATE TABLE changed:\n%v\n%v", beforeCreate, got)
	}
	if got := queryStrings(t, db2, "SELECT hex(v) FROM other.kv WHERE k = 'x'"); len(got) != 1 || got[0][0] != "00FF" {
		t.Fatalf("other database: %v", got)
	}
	mustExecDB(t, db2, "INSERT INTO reviews (body) VALUES ('after restart')")
	if got := queryStrings(t, db2, "SELECT max(id) FROM reviews"); got[0][0] != "4" {
		t.Fatalf("AUTO_INCREMENT continued at %v, want 4", got)
	}
	db2.Close()
	p2.stop(t)
}

// TestCrash kills the server (SIGKILL) while clients stream committed
// inserts and while a transaction is open; every insert acknowledged as
// committed must survive, nothing of the open transaction may, and SQLite's
// integrity check must pass.
func TestCrash(t *testing.T) {
	for round := 0; round < 2; round++ {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) { crashRound(t, round) })
	}
}

func crashRound(t *testing.T, round int) {
	path := filepath.Join(t.TempDir(), "crash.db")
	p := spawnServer(t, path)
	db := dial(t, p.addr, "")
	mustExecDB(t, db, "CREATE TABLE events (id BIGINT PRIMARY KEY, payload VARCHAR(200), batch INT)")

	// Writers: autocommit single inserts and small explicit transactions.
	var acked sync.Map // id -> true once the client saw the commit succeed
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conn := dial(t, p.addr, "")
			for i := 0; !stop.Load(); i++ {
				id := int64(w)*1_000_000 + int64(i)*3
				if i%2 == 0 {
					if _, err := conn.Exec("INSERT INTO events VALUES (?, ?, ?)", id, strings.Repeat("x", 150), w); err != nil {
						return // server gone
					}
					acked.Store(id, true)
					continue
				}
				tx, err := conn.Begin()
				if err != nil {
					return
				}
				ok := true
				for k := int64(0); k < 3 && ok; k++ {
					_, err := tx.Exec("INSERT INTO events VALUES (?, ?, ?)", id+k, "in a transaction", w)
					ok = err == nil
				}
				if !ok || tx.Commit() != nil {
					return
				}
				for k := int64(0); k < 3; k++ {
					acked.Store(id+k, true)
				}
			}
		}(w)
	}
	time.Sleep(800 * time.Millisecond)
	var tx *gosql.Tx
	if round == 1 {
		// Round 1 dies inside a transaction holding many writes (the writers
		// above wait for it: SQLite has one writer at a time).
		var err error
		if tx, err = db.Begin(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2000; i++ {
			if _, err := tx.Exec("INSERT INTO events VALUES (?, 'uncommitted', -1)", -1-i); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.kill()
	stop.Store(true)
	wg.Wait()
	if tx != nil {
		tx.Rollback()
	}
	db.Close()

	// SQLite's own checker on the file as left by the crash (the sqlite3
	// tool recovers the WAL like any reader would).
	if out, err := exec.Command("sqlite3", path, "PRAGMA integrity_check").CombinedOutput(); err != nil {
		t.Logf("sqlite3 tool not available (%v); checking through the driver only", err)
	} else if strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("integrity_check after crash: %s", out)
	}

	p2 := spawnServer(t, path)
	db2 := dial(t, p2.addr, "")
	present := map[int64]bool{}
	rows, err := db2.Query("SELECT id FROM events")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		present[id] = true
	}
	rows.Close()
	nAcked := 0
	acked.Range(func(k, _ any) bool {
		nAcked++
		if !present[k.(int64)] {
			t.Errorf("committed id %d lost", k)
		}
		return true
	})
	for id := range present {
		if id < 0 {
			t.Errorf("uncommitted id %d present after crash", id)
		}
	}
	if nAcked < 50 {
		t.Fatalf("only %d inserts acknowledged before the kill; the test did not exercise anything", nAcked)
	}
	if got := queryStrings(t, db2, "SELECT count(*) FROM events"); got[0][0] != fmt.Sprint(len(present)) {
		t.Fatalf("count %v vs %d ids", got, len(present))
	}
	t.Logf("%d committed inserts acknowledged, %d rows after restart (unacknowledged in-flight commits may also be present)", nAcked, len(present))
	// The file takes writes again.
	mustExecDB(t, db2, "INSERT INTO events VALUES (-999999, 'after', 0)")
	db2.Close()
	p2.stop(t)
	if out, err := exec.Command("sqlite3", path, "PRAGMA integrity_check").CombinedOutput(); err == nil && strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("integrity_check after restart: %s", out)
	}
}

// TestReaderDoesNotBlockWriter: a long read transaction in one session does
// not hold up commits in another (WAL), and keeps its snapshot.
func TestReaderDoesNotBlockWriter(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff, BusyTimeout: time.Second})
	db.mustExec("CREATE TABLE t (id INT PRIMARY KEY)")
	db.mustExec("INSERT INTO t VALUES (1)")
	reader := db.newSession()
	defer reader.Close()
	if _, err := db.queryIn(reader, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	if rows, err := db.queryIn(reader, "SELECT count(*) FROM t"); err != nil || fmt.Sprint(rows) != "[[1]]" {
		t.Fatal(rows, err)
	}
	start := time.Now()
	for i := 2; i <= 20; i++ {
		db.mustExec(fmt.Sprintf("INSERT INTO t VALUES (%d)", i))
	}
	// A blocked writer would wait out the 1 s busy timeout on its first
	// commit; the bound leaves room for a slow, loaded or -race host.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("commits took %v with a reader open", d)
	}
	if rows, err := db.queryIn(reader, "SELECT count(*) FROM t"); err != nil || fmt.Sprint(rows) != "[[1]]" {
		t.Fatalf("reader lost its snapshot: %v %v", rows, err)
	}
	if _, err := db.queryIn(reader, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if rows, err := db.queryIn(reader, "SELECT count(*) FROM t"); err != nil || fmt.Sprint(rows) != "[[20]]" {
		t.Fatalf("after commit: %v %v", rows, err)
	}
}

// TestWriteConflict: two transactions that read, then write, cannot both
// win; the loser gets MySQL's deadlock error and is rolled back.
func TestWriteConflict(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff, BusyTimeout: 200 * time.Millisecond})
	db.mustExec("CREATE TABLE acct (id INT PRIMARY KEY, bal INT)")
	db.mustExec("INSERT INTO acct VALUES (1, 100)")
	a, b := db.newSession(), db.newSession()
	defer a.Close()
	defer b.Close()
	for _, s := range []*Session{a, b} {
		if _, err := db.queryIn(s, "START TRANSACTION"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.queryIn(s, "SELECT bal FROM acct WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.queryIn(a, "UPDATE acct SET bal = bal - 10 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.queryIn(a, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	_, err := db.queryIn(b, "UPDATE acct SET bal = bal - 20 WHERE id = 1")
	if err == nil {
		t.Fatal("stale transaction wrote over a newer commit")
	}
	if code := castCode(err); code != 1213 {
		t.Fatalf("want deadlock error 1213, got %d %v", code, err)
	}
	db.queryIn(b, "ROLLBACK")
	db.expect("SELECT bal FROM acct", []any{90})
}

// TestDiskFull fills a small tmpfs (needs root): the failing statement gets a
// clear error, nothing committed is lost, and the file works again once
// space is freed.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (%v); needs root", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	path := filepath.Join(dir, "full.db")
	// Ballast the test removes once the disk is full, as an administrator
	// frees space: the server must then recover without a restart. (Without
	// it, whether a DELETE still fits in what the last INSERT left over
	// depends on page counts, not on the product.)
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openTestDB(t, path, ProviderOptions{})
	db.mustExec("CREATE TABLE f (id INT PRIMARY KEY, pad LONGTEXT)")
	pad := strings.Repeat("p", 20000)
	committed := 0
	var fullErr error
	for i := 0; i < 1000; i++ {
		if _, err := db.query(fmt.Sprintf("INSERT INTO f VALUES (%d, '%s')", i, pad)); err != nil {
			fullErr = err
			break
		}
		committed++
	}
	if fullErr == nil {
		t.Fatal("2 MB filled with 20 MB of rows without an error")
	}
	if code := castCode(fullErr); code != 1114 || !strings.Contains(fullErr.Error(), "Disk full") {
		t.Fatalf("disk full reported as %d: %v", code, fullErr)
	}
	t.Logf("disk full after %d rows: %v", committed, fullErr)
	db.expect("SELECT count(*) FROM f", []any{committed})
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	db.mustExec("DELETE FROM f WHERE id < 10")
	db.mustExec("INSERT INTO f VALUES (100000, 'fits again')")
	db.close()
	db.sess = nil
	db2 := openTestDB(t, path, ProviderOptions{})
	db2.expect("SELECT count(*) FROM f", []any{committed - 10 + 1})
	db2.close()
	db2.sess = nil
}

// TestReadOnlyDisk: a file on a read-only filesystem can be read, writes get
// a clear read-only error (needs root for the remount).
func TestReadOnlyDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v); needs root", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	path := filepath.Join(dir, "ro.db")
	db := openTestDB(t, path, ProviderOptions{})
	db.mustExec("CREATE TABLE r (id INT PRIMARY KEY)")
	db.mustExec("INSERT INTO r VALUES (1), (2)")
	db.close()
	db.sess = nil
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=8m"); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	_, err := catalog.Open(path, nopLog())
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("opening on a read-only filesystem: want a clear read-only error, got %v", err)
	}
	t.Logf("refused with: %v", err)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("file gone: %v", err)
	}
}

// castCode is the MySQL error number of an error from the engine or a client.
func castCode(err error) int {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return int(me.Number)
	}
	return int(gmsql.CastSQLError(err).Num)
}

func nopLog() zerolog.Logger { return zerolog.Nop() }

// TestOpenBesideWriter: a file another connection (another process) is
// writing in a long transaction opens at once, and reads what was committed:
// opening a set-up file writes nothing, so it does not wait for the lock.
func TestOpenBesideWriter(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff, BusyTimeout: 200 * time.Millisecond})
	db.mustExec("CREATE TABLE t (id INT PRIMARY KEY)")
	db.mustExec("INSERT INTO t VALUES (1)")
	writer := db.newSession()
	defer writer.Close()
	for _, q := range []string{"START TRANSACTION", "INSERT INTO t VALUES (2)"} {
		if _, err := db.queryIn(writer, q); err != nil {
			t.Fatal(err)
		}
	}
	cat, pro := openProvider(t, db.path, ProviderOptions{Synchronous: SyncOff, BusyTimeout: 200 * time.Millisecond})
	other := &testDB{t: t, path: db.path, cat: cat, pro: pro, eng: newEngine(pro)}
	other.sess = other.newSession()
	defer other.close()
	if rows, err := other.query("SELECT COUNT(*) FROM t"); err != nil || fmt.Sprint(rows) != "[[1]]" {
		t.Fatalf("read beside the writer: %v %v", rows, err)
	}
	if _, err := db.queryIn(writer, "COMMIT"); err != nil {
		t.Fatal(err)
	}
}

// TestOpenSetsUpOlderFile: a file an earlier release set up (no setup row,
// a metadata table that release did not have) is set up at its next open,
// keeping its tables and rows; an empty database list gets the default
// database back.
func TestOpenSetsUpOlderFile(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE t (id INT PRIMARY KEY)")
	db.mustExec("INSERT INTO t VALUES (7)")
	db.close()
	raw, err := gosql.Open("sqlite3", db.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DELETE FROM adapterdb_meta WHERE key = 'setup'", "DROP TABLE adapterdb_procedures"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	again := openTestDB(t, db.path, ProviderOptions{Synchronous: SyncOff})
	if rows, err := again.query("SELECT id FROM t"); err != nil || fmt.Sprint(rows) != "[[7]]" {
		t.Fatalf("rows after setup: %v %v", rows, err)
	}
	again.mustExec("CREATE PROCEDURE p() SELECT 1") // adapterdb_procedures is back
	again.close()
	raw, err = gosql.Open("sqlite3", db.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int64
	if err := raw.QueryRow("SELECT value FROM adapterdb_meta WHERE key = 'setup'").Scan(&v); err != nil || v != metaSetup {
		t.Fatalf("setup row %d %v, want %d", v, err, metaSetup)
	}
}
