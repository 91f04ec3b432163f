package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Background training jobs: the SQL layer runs them (sqlfuncs/jobs.go); the
// catalog keeps one row per job in the database file, so that SHOW JOBS and
// adapterdb.jobs outlive the connection that started a job and the server
// that ran it. The training rows are not stored: a job whose server stopped
// before it finished is marked failed when a server next opens the file
// (FailJobs), not resumed.

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// ErrNoJob reports an unknown job id.
var ErrNoJob = errors.New("no such job")

// JobOwner says which process runs a job: a server that finds a queued or
// running job whose owner is gone marks it failed.
type JobOwner struct {
	Host  string // host name
	PID   int
	Start int64 // the process's start time (Unix ns): tells a reused pid apart
}

// Job is one row of adapterdb_jobs.
type Job struct {
	ID       int64
	Adapter  string
	State    string
	Progress float64 // 0 to 1
	Epoch    int     // 1-based; 0 before training starts
	Epochs   int
	Trial    int // hyperparameter search: 1-based trial (0: no search)
	Trials   int
	Loss     float64 // the running training loss; NaN before the first step
	Rows     int     // examples read by the statement
	User     Account // who submitted it
	// Submitted, Started and Finished are zero until they happen.
	Submitted, Started, Finished time.Time
	Error                        string
	Owner                        JobOwner
	Heartbeat                    time.Time // the owner's last sign of life
}

// Active reports a queued or running job.
func (j Job) Active() bool { return j.State == JobQueued || j.State == JobRunning }

const jobsSchema = `
CREATE TABLE IF NOT EXISTS adapterdb_jobs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	adapter     TEXT NOT NULL,
	state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
	progress    REAL NOT NULL,
	epoch       INTEGER NOT NULL,
	epochs      INTEGER NOT NULL,
	trial       INTEGER NOT NULL,
	trials      INTEGER NOT NULL,
	loss        REAL,               -- NULL before the first step
	rows        INTEGER NOT NULL,
	user        TEXT NOT NULL,
	host        TEXT NOT NULL,
	submitted   TEXT NOT NULL,      -- RFC 3339, UTC
	started     TEXT,
	finished    TEXT,
	error       TEXT NOT NULL,
	owner_host  TEXT NOT NULL,
	owner_pid   INTEGER NOT NULL,
	owner_start INTEGER NOT NULL,
	heartbeat   TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS adapterdb_jobs_state ON adapterdb_jobs (state);
`

func timeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func lossValue(l float64) any {
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return nil
	}
	return l
}

// AddJob stores a new job and returns its id.
func (c *Catalog) AddJob(ctx context.Context, j Job) (int64, error) {
	res, err := c.db.ExecContext(ctx, `INSERT INTO adapterdb_jobs (adapter, state, progress, epoch, epochs, trial, trials,
		loss, rows, user, host, submitted, started, finished, error, owner_host, owner_pid, owner_start, heartbeat)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.Adapter, j.State, j.Progress, j.Epoch, j.Epochs, j.Trial, j.Trials, lossValue(j.Loss), j.Rows, j.User.User,
		j.User.Host, timeText(j.Submitted), timeText(j.Started), timeText(j.Finished), j.Error, j.Owner.Host,
		j.Owner.PID, j.Owner.Start, timeText(j.Heartbeat))
	if err != nil {
		return 0, fmt.Errorf("add job: %w", FileError(err))
	}
	return res.LastInsertId()
}

// UpdateJob writes a job's state, progress and times (not its adapter, user
// or owner).
func (c *Catalog) UpdateJob(ctx context.Context, j Job) error {
	res, err := c.db.ExecContext(ctx, `UPDATE adapterdb_jobs SET state = ?, progress = ?, epoch = ?, epochs = ?,
		trial = ?, trials = ?, loss = ?, started = ?, finished = ?, error = ?, heartbeat = ? WHERE id = ?`,
		j.State, j.Progress, j.Epoch, j.Epochs, j.Trial, j.Trials, lossValue(j.Loss), timeText(j.Started),
		timeText(j.Finished), j.Error, timeText(j.Heartbeat), j.ID)
	if err != nil {
		return fmt.Errorf("update job %d: %w", j.ID, FileError(err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %d", ErrNoJob, j.ID)
	}
	return nil
}

// TouchJobs records a sign of life of the owner of the jobs ids.
func (c *Catalog) TouchJobs(ctx context.Context, ids []int64, now time.Time) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE adapterdb_jobs SET heartbeat = ? WHERE id = ?`, timeText(now), id); err != nil {
			return FileError(err)
		}
	}
	return FileError(tx.Commit())
}

const jobColumns = `id, adapter, state, progress, epoch, epochs, trial, trials, loss, rows, user, host, submitted,
	started, finished, error, owner_host, owner_pid, owner_start, heartbeat`

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var loss sql.NullFloat64
	var submitted, heartbeat string
	var started, finished sql.NullString
	if err := row.Scan(&j.ID, &j.Adapter, &j.State, &j.Progress, &j.Epoch, &j.Epochs, &j.Trial, &j.Trials, &loss,
		&j.Rows, &j.User.User, &j.User.Host, &submitted, &started, &finished, &j.Error, &j.Owner.Host, &j.Owner.PID,
		&j.Owner.Start, &heartbeat); err != nil {
		return Job{}, err
	}
	j.Loss = math.NaN()
	if loss.Valid {
		j.Loss = loss.Float64
	}
	var err error
	parse := func(s string, t *time.Time) {
		if err == nil && s != "" {
			*t, err = time.Parse(time.RFC3339Nano, s)
		}
	}
	parse(submitted, &j.Submitted)
	parse(started.String, &j.Started)
	parse(finished.String, &j.Finished)
	parse(heartbeat, &j.Heartbeat)
	if err != nil {
		return Job{}, fmt.Errorf("job %d: %w", j.ID, err)
	}
	return j, nil
}

// Jobs lists the jobs, newest first. A file without the jobs table (opened
// read-only before it was created) has none.
func (c *Catalog) Jobs(ctx context.Context) ([]Job, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM adapterdb_jobs ORDER BY id DESC`)
	if err != nil {
		if missingJobsTable(err) {
			return nil, nil
		}
		return nil, FileError(err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, FileError(rows.Err())
}

// GetJob returns one job (ErrNoJob if there is none with that id).
func (c *Catalog) GetJob(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(c.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM adapterdb_jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || err != nil && missingJobsTable(err) {
		return Job{}, fmt.Errorf("%w: %d", ErrNoJob, id)
	}
	return j, FileError(err)
}

// FailJobs marks the active jobs for which orphaned is true failed with
// reason, each only if it is still active (another server may have finished
// it meanwhile). It returns the ids it marked.
func (c *Catalog) FailJobs(ctx context.Context, orphaned func(Job) bool, reason string, now time.Time) ([]int64, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM adapterdb_jobs WHERE state IN ('queued', 'running')`)
	if err != nil {
		if missingJobsTable(err) {
			return nil, nil
		}
		return nil, FileError(err)
	}
	var ids []int64
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if orphaned(j) {
			ids = append(ids, j.ID)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, FileError(err)
	}
	if len(ids) == 0 {
		// Asked first: a write would need the write lock, which a
		// read-only file refuses.
		return nil, nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, FileError(err)
	}
	defer tx.Rollback()
	var failed []int64
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `UPDATE adapterdb_jobs SET state = 'failed', error = ?, finished = ?
			WHERE id = ? AND state IN ('queued', 'running')`, reason, timeText(now), id)
		if err != nil {
			return nil, FileError(err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			failed = append(failed, id)
		}
	}
	return failed, FileError(tx.Commit())
}

func missingJobsTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table: adapterdb_jobs")
}
