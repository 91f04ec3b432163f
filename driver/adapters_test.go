package driver

import (
	"path/filepath"
	"testing"
	"time"
)

// CREATE ADAPTER inside a database/sql transaction commits the transaction
// first (MySQL's implicit commit before DDL) instead of waiting for the
// transaction's own write lock: the adapter exists, another connection sees
// the INSERT, and the transaction's Commit is a no-op.
func TestDriverCreateAdapterInTransaction(t *testing.T) {
	db := open(t, dsn(t, filepath.Join(t.TempDir(), "tx.db"), ""))
	defer db.Close()
	setup(t, db)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO labelled VALUES (9, 'wonderful again', 'pos', 4.2)"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tx.Exec("CREATE ADAPTER intx " + quickOptions + " AS SELECT txt, label FROM labelled"); err != nil {
		t.Fatalf("CREATE ADAPTER in a transaction: %v (after %v)", err, time.Since(start))
	}
	var rows, adapters int
	if err := db.QueryRow("SELECT COUNT(*) FROM labelled").Scan(&rows); err != nil || rows != 9 {
		t.Fatalf("another connection sees %d rows (%v), want 9", rows, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit after the implicit commit: %v", err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'intx'").Scan(&adapters); err != nil || adapters != 1 {
		t.Fatalf("adapter intx: %d %v", adapters, err)
	}
}
