package driver

import (
	"path/filepath"
	"testing"
	"time"
)

// Background training through database/sql: the statement returns the job's
// id as a row (and LAST_INSERT_ID()), the job runs on after it, and SHOW JOBS
// follows it; max_jobs is a DSN parameter.
func TestDriverBackgroundJob(t *testing.T) {
	db := open(t, dsn(t, filepath.Join(t.TempDir(), "jobs.db"), "&max_jobs=2"))
	defer db.Close()
	db.SetMaxOpenConns(1) // LAST_INSERT_ID() is the session's
	setup(t, db)
	var id int64
	var adapter, state string
	start := time.Now()
	err := db.QueryRow("CREATE ADAPTER bg OPTIONS (background = true, epochs = 30, max_length = 16, batch_size = 4, "+
		"validation_fraction = 0, adapter_size = 8) AS SELECT txt, label FROM labelled").Scan(&id, &adapter, &state)
	if err != nil || id < 1 || adapter != "bg" || (state != "queued" && state != "running") {
		t.Fatalf("background CREATE: %d %q %q %v", id, adapter, state, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("background CREATE took %v", took)
	}
	var last int64
	if err := db.QueryRow("SELECT LAST_INSERT_ID()").Scan(&last); err != nil || last != id {
		t.Errorf("LAST_INSERT_ID() = %d %v, want %d", last, err, id)
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
	if state != "done" {
		t.Fatalf("job %d: %s", id, state)
	}
	var got, want string
	if err := db.QueryRow("SELECT PREDICT('bg', 'wonderful delightful'), PREDICT('sent', 'wonderful delightful')").Scan(&got, &want); err != nil || got != want {
		t.Fatalf("PREDICT: %q %q %v", got, want, err)
	}
	rows, err := db.Query("SHOW JOBS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		n++
	}
	if n != 1 || len(cols) < 10 || cols[0] != "id" || cols[2] != "state" {
		t.Fatalf("SHOW JOBS: %d rows, columns %v", n, cols)
	}
	_, err = db.Exec("CANCEL JOB 12345")
	wantErr(t, err, 1094, "Unknown job id: 12345")
}

func TestParseDSNMaxJobs(t *testing.T) {
	for _, bad := range []string{"file:x.db?max_jobs=0", "file:x.db?max_jobs=x", "file:x.db?max_jobs=65"} {
		if _, err := parseDSN(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if o, err := parseDSN("file:x.db?max_jobs=3"); err != nil || o.maxJobs != 3 {
		t.Errorf("%+v %v", o, err)
	}
	if o, err := parseDSN("file:x.db"); err != nil || o.maxJobs != 1 {
		t.Errorf("default: %+v %v", o, err)
	}
}
