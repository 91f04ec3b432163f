package catalog

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestJobs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	// A file made before jobs existed gets the table on open.
	if _, err := c.DB().Exec(`DROP TABLE adapterdb_jobs`); err != nil {
		t.Fatal(err)
	}
	if jobs, err := c.Jobs(ctx); err != nil || len(jobs) != 0 {
		t.Fatalf("no table: %v %v", jobs, err)
	}
	c.Close()
	if c, err = Open(path, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	j := Job{Adapter: "a", State: JobQueued, Epochs: 3, Loss: math.NaN(), Rows: 10, User: Account{"ann", "%"},
		Submitted: now, Heartbeat: now, Owner: JobOwner{Host: "h", PID: 7, Start: 9}}
	id, err := c.AddJob(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	j.ID, j.State, j.Epoch, j.Loss, j.Started, j.Progress = id, JobRunning, 2, 0.25, now, 0.5
	if err := c.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetJob(ctx, id)
	if err != nil || got.State != JobRunning || got.Loss != 0.25 || got.Epoch != 2 || !got.Started.Equal(now) ||
		!got.Finished.IsZero() || got.User != j.User || got.Owner != j.Owner || got.Progress != 0.5 {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := c.GetJob(ctx, 99); !errors.Is(err, ErrNoJob) {
		t.Fatalf("unknown job: %v", err)
	}
	if err := c.UpdateJob(ctx, Job{ID: 99, State: JobDone}); !errors.Is(err, ErrNoJob) {
		t.Fatalf("update of unknown job: %v", err)
	}
	// FailJobs marks only the active jobs it is asked to.
	done, err := c.AddJob(ctx, Job{Adapter: "b", State: JobDone, Loss: math.NaN(), Submitted: now, Heartbeat: now})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := c.FailJobs(ctx, func(j Job) bool { return true }, "gone", now)
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("FailJobs: %v %v", ids, err)
	}
	if got, _ := c.GetJob(ctx, id); got.State != JobFailed || got.Error != "gone" || !got.Finished.Equal(now) {
		t.Fatalf("failed job: %+v", got)
	}
	if got, _ := c.GetJob(ctx, done); got.State != JobDone {
		t.Fatalf("done job: %+v", got)
	}
	if jobs, err := c.Jobs(ctx); err != nil || len(jobs) != 2 {
		t.Fatalf("Jobs: %v %v", jobs, err)
	}
}
