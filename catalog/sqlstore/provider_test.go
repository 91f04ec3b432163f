package sqlstore

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
)

func TestBasicDML(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20) NOT NULL, score DOUBLE, UNIQUE KEY uname (name))")
	db.mustExec("INSERT INTO t (name, score) VALUES ('a', 1.5), ('b', NULL), ('c', 3)")
	db.expect("SELECT id, name, score FROM t ORDER BY id", sql.Row{1, "a", 1.5}, sql.Row{2, "b", nil}, sql.Row{3, "c", 3.0})
	db.expect("SELECT name FROM t WHERE id = 2", sql.Row{"b"})
	db.expect("SELECT id FROM t WHERE id > 1 ORDER BY id DESC", sql.Row{3}, sql.Row{2})
	db.expect("SELECT id FROM t WHERE name = 'c'", sql.Row{3})
	db.mustExec("UPDATE t SET score = score * 2 WHERE id >= 1")
	db.expect("SELECT score FROM t ORDER BY id", sql.Row{3.0}, sql.Row{nil}, sql.Row{6.0})
	if _, err := db.query("INSERT INTO t (name) VALUES ('a')"); err == nil || sql.CastSQLError(err).Num != 1062 {
		t.Fatalf("duplicate unique: %v", err)
	}
	db.mustExec("INSERT INTO t (id, name) VALUES (1, 'z') ON DUPLICATE KEY UPDATE score = 100")
	db.expect("SELECT score FROM t WHERE id = 1", sql.Row{100.0})
	db.mustExec("DELETE FROM t WHERE id = 2")
	db.mustExec("INSERT INTO t (name) VALUES ('d')")
	db.expect("SELECT id, name FROM t ORDER BY id", sql.Row{1, "a"}, sql.Row{3, "c"}, sql.Row{4, "d"})
	db.mustExec("UPDATE t SET id = id + 10")
	db.expect("SELECT id FROM t ORDER BY id", sql.Row{11}, sql.Row{13}, sql.Row{14})
	db.mustExec("INSERT INTO t (name) SELECT concat(name, 'x') FROM t")
	db.expect("SELECT count(*) FROM t", sql.Row{6})
}

func TestTransactions(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	db.mustExec("BEGIN")
	db.mustExec("INSERT INTO t VALUES (1, 1)")
	db.mustExec("INSERT INTO t VALUES (2, 2)")
	if _, err := db.query("INSERT INTO t VALUES (3, 3), (1, 9)"); err == nil {
		t.Fatal("want duplicate key error")
	}
	db.expect("SELECT id FROM t ORDER BY id", sql.Row{1}, sql.Row{2})
	other := db.newSession()
	defer other.Close()
	rows, err := db.queryIn(other, "SELECT count(*) FROM t")
	if err != nil || rows[0][0] != int64(0) {
		t.Fatalf("other session sees uncommitted rows: %v %v", rows, err)
	}
	db.mustExec("ROLLBACK")
	db.expect("SELECT count(*) FROM t", sql.Row{0})
	db.mustExec("START TRANSACTION")
	db.mustExec("INSERT INTO t VALUES (5, 5)")
	db.mustExec("COMMIT")
	rows, err = db.queryIn(other, "SELECT id FROM t")
	if err != nil || len(rows) != 1 {
		t.Fatalf("other session after commit: %v %v", rows, err)
	}
}

// Many sessions at once: writers serialize on SQLite's lock (waiting, not
// failing), readers run alongside; run under -race by make test.
func TestConcurrentSessions(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE c (id INT PRIMARY KEY, w INT)")
	const writers, perWriter, readers = 3, 40, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := db.newSession()
			defer s.Close()
			for i := 0; i < perWriter; i++ {
				q := fmt.Sprintf("INSERT INTO c VALUES (%d, %d)", w*1000+i, w)
				if i%4 == 3 {
					q = fmt.Sprintf("UPDATE c SET w = w + 10 WHERE id = %d", w*1000+i-1)
				}
				if _, err := db.queryIn(s, q); err != nil {
					errs <- fmt.Errorf("writer %d: %s: %w", w, q, err)
					return
				}
			}
		}(w)
	}
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			s := db.newSession()
			defer s.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.queryIn(s, "SELECT COUNT(*), SUM(w) FROM c"); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
				if _, err := db.queryIn(s, "SELECT * FROM c WHERE id < 1010 ORDER BY id"); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	inserts := writers * perWriter * 3 / 4
	db.expect("SELECT COUNT(*) FROM c", sql.Row{inserts})
}

// readOnlyDB is a stand-in for the SQL layer's read-only `adapterdb`
// database (served next to the user databases through ProviderOptions.Extra).
type readOnlyDB struct{}

func (readOnlyDB) Name() string { return "adapterdb" }
func (readOnlyDB) GetTableInsensitive(ctx *sql.Context, name string) (sql.Table, bool, error) {
	return nil, false, nil
}
func (readOnlyDB) GetTableNames(*sql.Context) ([]string, error) { return nil, nil }
func (readOnlyDB) IsReadOnly() bool                             { return true }

func TestExtraDatabases(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff, Extra: []sql.Database{readOnlyDB{}}})
	got := db.mustExec("SHOW DATABASES")
	if !strings.Contains(fmt.Sprint(got), "adapterdb") || !strings.Contains(fmt.Sprint(got), "main") {
		t.Fatalf("databases: %v", got)
	}
	if _, err := db.query("CREATE DATABASE adapterdb"); err == nil {
		t.Fatal("created a database over the read-only one")
	}
	if _, err := db.query("CREATE TABLE adapterdb.x (i INT)"); err == nil {
		t.Fatal("created a table in the read-only database")
	}
	db.mustExec("USE adapterdb")
	db.mustExec("USE main")
}
