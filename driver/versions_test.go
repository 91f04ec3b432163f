package driver

import (
	"path/filepath"
	"testing"
	"time"
)

// Versions through database/sql: a replaced adapter keeps version 1, which
// PREDICT('sent@1', ?) pins with a bound name too; ALTER ADAPTER rolls
// back; DROP ... VERSION refuses the active one; keep_versions given to a
// background retrain bounds the versions as in the foreground.
func TestDriverAdapterVersions(t *testing.T) {
	db := open(t, dsn(t, filepath.Join(t.TempDir(), "versions.db"), ""))
	defer db.Close()
	setup(t, db)
	exec(t, db, "CREATE OR REPLACE ADAPTER sent "+quickOptions+" AS SELECT txt, IF(label = 'pos', 'neg', 'pos') FROM labelled")
	const text = "a wonderful delightful film"
	predict := func(ref string) string {
		t.Helper()
		var got string
		if err := db.QueryRow("SELECT PREDICT(?, ?)", ref, text).Scan(&got); err != nil {
			t.Fatalf("PREDICT(%s): %v", ref, err)
		}
		return got
	}
	if a, b, c := predict("sent@1"), predict("sent@2"), predict("sent"); a != "pos" || b != "neg" || c != "neg" {
		t.Fatalf("sent@1 %s, sent@2 %s, sent %s", a, b, c)
	}
	exec(t, db, "ALTER ADAPTER sent SET ACTIVE VERSION 1")
	if got := predict("sent"); got != "pos" {
		t.Fatalf("after rollback: %s", got)
	}
	_, err := db.Exec("DROP ADAPTER sent VERSION 1")
	wantErr(t, err, 1290, "active version")
	exec(t, db, "DROP ADAPTER sent VERSION 2")
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM adapterdb.adapter_versions WHERE name = 'sent'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("versions after DROP VERSION: %d %v", n, err)
	}

	// A background retrain with keep_versions = 1 leaves its version alone.
	var id int64
	var adapter, state string
	if err := db.QueryRow("CREATE OR REPLACE ADAPTER sent OPTIONS (background = true, keep_versions = 1, epochs = 5, "+
		"max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8) AS SELECT txt, label FROM labelled").Scan(&id, &adapter, &state); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for state != "done" && state != "failed" && state != "cancelled" {
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s", id, state)
		}
		time.Sleep(20 * time.Millisecond)
		if err := db.QueryRow("SELECT state FROM adapterdb.jobs WHERE id = ?", id).Scan(&state); err != nil {
			t.Fatal(err)
		}
	}
	var versions string
	var keep int
	if err := db.QueryRow("SELECT GROUP_CONCAT(version), MAX(keep_versions) FROM adapterdb.adapter_versions WHERE name = 'sent'").Scan(&versions, &keep); err != nil || versions != "3" || keep != 1 || state != "done" {
		t.Fatalf("after a background retrain with keep_versions = 1: job %s, versions %q, keep %d, %v", state, versions, keep, err)
	}
}
