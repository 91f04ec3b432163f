package sqlfuncs_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// longJob trains for minutes unless cancelled.
const longJob = "OPTIONS (background = true, epochs = 10000, batch_size = 4, early_stopping = 0, max_length = 16) " +
	"AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM docs"

// job is SHOW JOBS's row for id, as a map by column.
func (v *env) job(id int64) map[string]any {
	v.t.Helper()
	rows, err := v.c.Query(context.Background(), "SHOW JOBS", nil)
	if err != nil {
		v.t.Fatal(err)
	}
	sch := rows.Schema
	rows.Close()
	for _, r := range v.rows("SHOW JOBS") {
		if r[0] == id {
			m := map[string]any{}
			for i, c := range sch {
				m[c.Name] = r[i]
			}
			return m
		}
	}
	v.t.Fatalf("job %d not in SHOW JOBS", id)
	return nil
}

// waitJob polls until job id's state is one of states.
func (v *env) waitJob(id int64, states ...string) map[string]any {
	v.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j := v.job(id)
		for _, s := range states {
			if j["state"] == s {
				return j
			}
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("job %d: %v, want state %v", id, j, states)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// submit runs a background CREATE ADAPTER and returns the job's id.
func (v *env) submit(q string) int64 {
	v.t.Helper()
	start := time.Now()
	rows := v.rows(q)
	if len(rows) != 1 || len(rows[0]) != 3 {
		v.t.Fatalf("%s: %v, want one row (job_id, adapter, state)", q, rows)
	}
	if took := time.Since(start); took > 5*time.Second {
		v.t.Errorf("%s took %v: background jobs return at once", q, took)
	}
	id, ok := rows[0][0].(int64)
	if !ok || id < 1 || (rows[0][2] != "queued" && rows[0][2] != "running") {
		v.t.Fatalf("%s: %v", q, rows)
	}
	return id
}

func TestBackgroundJobDone(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	v.exec("CREATE TABLE more (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10))")
	v.exec("INSERT INTO more SELECT id, txt, label FROM labelled")
	id := v.submit("CREATE ADAPTER bg OPTIONS (background = true, epochs = 30, max_length = 16, batch_size = 4, " +
		"validation_fraction = 0, adapter_size = 8) AS SELECT txt, label FROM more")
	// The rows were read by the statement: the table can go at once.
	v.exec("DROP TABLE more")
	j := v.waitJob(id, "done", "failed")
	if j["state"] != "done" || j["progress"] != 1.0 || j["epoch"] != int64(30) || j["epochs"] != int64(30) ||
		j["rows_read"] != int64(len(sentiment)) || j["error"] != nil || j["started"] == nil || j["finished"] == nil ||
		j["adapter"] != "bg" || j["user"] != "test" {
		t.Fatalf("job: %v", j)
	}
	if l, ok := j["loss"].(float64); !ok || math.IsNaN(l) {
		t.Fatalf("loss %v", j["loss"])
	}
	got := v.rows("SELECT PREDICT('bg', 'wonderful delightful'), PREDICT('sent', 'wonderful delightful')")
	if got[0][0] != got[0][1] {
		t.Fatalf("background adapter predicts %v, foreground %v", got[0][0], got[0][1])
	}
	// adapterdb.jobs is the same table; LAST_INSERT_ID() is the job id.
	if r := v.rows("SELECT id, state FROM adapterdb.jobs WHERE adapter = 'bg'"); len(r) != 1 || r[0][0] != id || r[0][1] != "done" {
		t.Fatalf("adapterdb.jobs: %v", r)
	}
	// The foreground form is unchanged.
	if res := v.exec("CREATE ADAPTER fg " + quickOptions + " AS SELECT txt, label FROM labelled"); res.RowsAffected != uint64(len(sentiment)) {
		t.Fatalf("foreground: %+v", res)
	}
}

func TestBackgroundJobChecksInStatement(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	// Bad rows, options and names fail the statement; no job is made.
	v.fails("CREATE ADAPTER x OPTIONS (background = true) AS SELECT txt, 'same' FROM labelled", 1105, "at least two classes")
	v.fails("CREATE ADAPTER x OPTIONS (background = true) AS SELECT NULL, label FROM labelled", 1105, "text is NULL")
	v.fails("CREATE ADAPTER x OPTIONS (background = maybe) AS SELECT txt, label FROM labelled", 1231, "background")
	v.fails("CREATE ADAPTER sent OPTIONS (background = true) AS SELECT txt, label FROM labelled", 1304, "already exists")
	v.fails("CREATE ADAPTER x OPTIONS (background = true) AS SELECT txt FROM labelled", 1241)
	v.fails("CREATE ADAPTER x OPTIONS (background = true, adapter_size = 5000) AS SELECT txt, label FROM labelled", 1231,
		"Option 'adapter_size' can't be set to the value of '5000': 5000 is out of range [1, 128]")
	if r := v.rows("SHOW JOBS"); len(r) != 0 {
		t.Fatalf("jobs after refused statements: %v", r)
	}
	// One job per adapter at a time.
	v.texts(400)
	id := v.submit("CREATE ADAPTER slow " + longJob)
	// SQLSTATE 42000, as for "already exists".
	if se := v.fails("CREATE OR REPLACE ADAPTER slow "+longJob, 1304, "already", "CANCEL JOB"); se.State != "42000" {
		t.Errorf("second job's error: SQLSTATE %s, want 42000", se.State)
	}
	v.exec("CANCEL JOB " + itoa(uint32(id)))
	v.waitJob(id, "cancelled")
}

func TestBackgroundJobCancel(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	v.texts(400)
	before := v.rows("SELECT name, version, sha256 FROM adapterdb.adapters ORDER BY name")
	// A replace of an existing adapter: cancelled, the old one stays.
	id := v.submit("CREATE OR REPLACE ADAPTER sent " + longJob)
	j := v.waitJob(id, "running")
	// It shows in the process list, with its progress.
	var state string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(state, "loss") {
		for _, r := range v.rows("SHOW PROCESSLIST") {
			if q, _ := r[7].(string); strings.Contains(q, "background job "+itoa(uint32(id))) {
				state, _ = r[6].(string)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(state, "CREATE ADAPTER sent") || !strings.Contains(state, "epoch") {
		t.Errorf("processlist state %q", state)
	}
	if j = v.job(id); j["process_id"] == nil {
		t.Fatalf("running job without process id: %v", j)
	}
	// A second job waits: one runs at a time by default.
	queued := v.submit("CREATE ADAPTER other " + longJob)
	time.Sleep(200 * time.Millisecond)
	if j := v.job(queued); j["state"] != "queued" || j["started"] != nil {
		t.Fatalf("second job: %v, want queued", j)
	}
	v.exec("CANCEL JOB " + itoa(uint32(queued)))
	if j := v.waitJob(queued, "cancelled", "failed", "done"); j["state"] != "cancelled" {
		t.Fatalf("cancelled queued job: %v", j)
	}
	res := v.exec("CANCEL JOB " + itoa(uint32(id)))
	if res.RowsAffected != 1 {
		t.Fatalf("CANCEL JOB: %+v", res)
	}
	if j := v.waitJob(id, "cancelled", "failed", "done"); j["state"] != "cancelled" || j["error"] != nil || j["finished"] == nil {
		t.Fatalf("cancelled job: %v", j)
	}
	if after := v.rows("SELECT name, version, sha256 FROM adapterdb.adapters ORDER BY name"); !sameRows(after, before) {
		t.Fatalf("catalog changed: %v -> %v", before, after)
	}
	// Cancelling an ended job is a note; an unknown id an error.
	if res := v.exec("CANCEL JOB " + itoa(uint32(id))); res.RowsAffected != 0 {
		t.Fatalf("second CANCEL JOB: %+v", res)
	}
	if w := v.rows("SHOW WARNINGS"); len(w) != 1 || w[0][0] != "Note" || fmt.Sprint(w[0][1]) != "1094" ||
		w[0][2] != "Job "+itoa(uint32(id))+" has already ended (cancelled)" {
		t.Fatalf("second CANCEL JOB's warnings: %v, want one Note 1094", w)
	}
	v.fails("CANCEL JOB 999", 1094, "Unknown job id: 999")
	// KILL of the job's process-list entry cancels it too.
	id = v.submit("CREATE ADAPTER killed " + longJob)
	v.waitJob(id, "running")
	var pid int64
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); {
		if p, ok := v.job(id)["process_id"].(int64); ok {
			pid = p
		}
	}
	v.exec("KILL " + itoa(uint32(pid)))
	if j := v.waitJob(id, "cancelled", "failed", "done"); j["state"] != "cancelled" {
		t.Fatalf("killed job: %v", j)
	}
	if r := v.rows("SELECT COUNT(*) FROM adapterdb.adapters WHERE name IN ('killed', 'other')"); r[0][0] != int64(0) {
		t.Fatalf("cancelled jobs stored adapters: %v", r)
	}
}

func TestBackgroundJobFailed(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	// The adapter appears while the job waits: the job fails with the
	// reason, the adapter made meanwhile stays.
	v.texts(400)
	slow := v.submit("CREATE ADAPTER slow " + longJob)
	v.waitJob(slow, "running")
	id := v.submit("CREATE ADAPTER late OPTIONS (background = true, epochs = 2, max_length = 16) AS SELECT txt, label FROM labelled")
	v.exec("CREATE ADAPTER late " + quickOptions + " AS SELECT txt, label FROM labelled")
	v.exec("CANCEL JOB " + itoa(uint32(slow)))
	j := v.waitJob(id, "failed", "done", "cancelled")
	if j["state"] != "failed" || j["error"] != "ADAPTER late already exists" || j["finished"] == nil {
		t.Fatalf("job: %v", j)
	}
}

func TestBackgroundJobsStopped(t *testing.T) {
	eng := newEnv(t, envOpts{}).eng
	path := filepath.Join(t.TempDir(), "jobs.db")
	open := func() (*sqlfuncs.DB, *catalog.Catalog) {
		cat, err := catalog.Open(path, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		db, err := sqlfuncs.New(sqlfuncs.Config{Registry: registry.New(eng, cat, zerolog.Nop(), 0), Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return db, cat
	}
	db, cat := open()
	v := &env{t: t, eng: eng, e: db}
	c, err := db.Connect(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	v.c = c
	v.withAdapters()
	v.texts(400)
	id := v.submit("CREATE OR REPLACE ADAPTER sent " + longJob)
	v.waitJob(id, "running")
	before := v.rows("SELECT name, version, sha256 FROM adapterdb.adapters ORDER BY name")
	// A graceful stop: Close cancels the job and waits for it.
	c.Close()
	// (go-mysql-server's engine Close always reports context.Canceled.)
	if err := db.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	cat.Close()

	// A server killed while a job ran left it running in the file: a dead
	// process's job. The next server marks it failed.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	cat, err = catalog.Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	crashed, err := cat.AddJob(context.Background(), catalog.Job{Adapter: "sent", State: catalog.JobRunning, Loss: 0.5,
		User: catalog.Account{User: "ann", Host: "localhost"}, Submitted: now, Started: now, Heartbeat: now,
		Owner: catalog.JobOwner{Host: host, PID: dead.Process.Pid, Start: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// One whose owner is elsewhere and silent for long.
	silent, err := cat.AddJob(context.Background(), catalog.Job{Adapter: "stars", State: catalog.JobQueued, Loss: math.NaN(),
		User: catalog.Account{User: "ann", Host: "localhost"}, Submitted: now, Heartbeat: now.Add(-time.Hour),
		Owner: catalog.JobOwner{Host: "elsewhere", PID: 1, Start: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// And one of a live server elsewhere: left alone.
	live, err := cat.AddJob(context.Background(), catalog.Job{Adapter: "tags", State: catalog.JobRunning, Loss: math.NaN(),
		User: catalog.Account{User: "ann", Host: "localhost"}, Submitted: now, Heartbeat: now,
		Owner: catalog.JobOwner{Host: "elsewhere", PID: 1, Start: 1}})
	if err != nil {
		t.Fatal(err)
	}
	cat.Close()

	db, cat = open()
	defer cat.Close()
	defer db.Close()
	c, err = db.Connect(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v = &env{t: t, eng: eng, e: db, c: c}
	for _, id := range []int64{id, crashed, silent} {
		if j := v.job(id); j["state"] != "failed" || j["error"] != "server stopped before the job finished" || j["finished"] == nil {
			t.Fatalf("job %d after restart: %v", id, j)
		}
	}
	if j := v.job(live); j["state"] != "running" {
		t.Fatalf("live server's job: %v", j)
	}
	if after := v.rows("SELECT name, version, sha256 FROM adapterdb.adapters ORDER BY name"); !sameRows(after, before) {
		t.Fatalf("catalog changed: %v -> %v", before, after)
	}
	v.fails("CANCEL JOB "+itoa(uint32(live)), 1290, "another server process")
}

func TestMaxJobs(t *testing.T) {
	eng := newEnv(t, envOpts{}).eng
	cat, err := catalog.Open(filepath.Join(t.TempDir(), "jobs.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	db, err := sqlfuncs.New(sqlfuncs.Config{Registry: registry.New(eng, cat, zerolog.Nop(), 0), MaxJobs: 2, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Connect(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := &env{t: t, eng: eng, e: db, c: c}
	v.texts(400)
	a, b, q := v.submit("CREATE ADAPTER a "+longJob), v.submit("CREATE ADAPTER b "+longJob), v.submit("CREATE ADAPTER c "+longJob)
	v.waitJob(a, "running")
	v.waitJob(b, "running")
	time.Sleep(200 * time.Millisecond)
	if j := v.job(q); j["state"] != "queued" {
		t.Fatalf("third job with max 2: %v", j)
	}
	for _, id := range []int64{a, b, q} {
		v.exec("CANCEL JOB " + itoa(uint32(id)))
	}
	for _, id := range []int64{a, b, q} {
		v.waitJob(id, "cancelled")
	}
}

// A background hyperparameter search shows its trial, and its progress over
// all trials, which never goes back.
func TestBackgroundSearchJobProgress(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.texts(200)
	id := v.submit("CREATE ADAPTER bgs OPTIONS (background = true, learning_rate = (1e-3, 1e-2), epochs = 10, " +
		"early_stopping = 0, batch_size = 4, max_length = 16, adapter_size = 4) AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM docs")
	q := "SELECT state, trial, trials, progress FROM adapterdb.jobs WHERE id = " + itoa(uint32(id))
	var last float64
	lastTrial, running := int64(0), 0
	deadline := time.Now().Add(120 * time.Second)
	for {
		r := v.rows(q)[0]
		state, p := r[0].(string), r[3].(float64)
		if p < last {
			t.Fatalf("progress went back: %v after %v (%v)", p, last, r)
		}
		last = p
		if state == "done" || state == "failed" {
			if state != "done" || r[1] != int64(2) || r[2] != int64(2) || p != 1 {
				t.Fatalf("finished search job: %v, want done, trial 2 of 2, progress 1", r)
			}
			break
		}
		if state == "running" && p > 0 {
			trial, ok := r[1].(int64)
			if !ok || r[2] != int64(2) || trial < lastTrial || trial < 1 || trial > 2 {
				t.Fatalf("running search job: %v, want trial 1 or 2 of 2", r)
			}
			// Overall progress: within this trial's share.
			if p < float64(trial-1)/2-1e-4 || p > float64(trial)/2+1e-4 {
				t.Fatalf("running search job: progress %v outside trial %d's share of 2", p, trial)
			}
			lastTrial = trial
			running++
		}
		if time.Now().After(deadline) {
			t.Fatalf("search job: %v", r)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if running == 0 {
		t.Fatal("never saw the search job running")
	}
}
