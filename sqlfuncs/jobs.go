package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

// Background training. CREATE [OR REPLACE] ADAPTER ... OPTIONS (background =
// true) AS SELECT reads and checks its rows in the client's statement, with
// the client's privileges, then hands them to the job runner and returns one
// row (job_id, adapter, state). The runner trains at most MaxJobs adapters at
// a time (the rest wait, queued), so that prediction keeps its cores. Each job
// is a row of the catalog file's adapterdb_jobs (catalog/jobs.go), shown by
// SHOW JOBS and adapterdb.jobs; while it runs it is also an entry of the
// process list (SHOW PROCESSLIST: its progress; KILL id stops it). CANCEL
// JOB n and KILL cancel it: nothing is stored. The training rows stay in
// memory: a job that a stopped server (Close, or a crash) did not finish is
// failed, with the reason, not resumed.

// DefaultMaxJobs is how many background jobs train at once when not set.
const DefaultMaxJobs = 1

// MaxMaxJobs bounds the MaxJobs setting.
const MaxMaxJobs = 64

// reasonStopped is the error of a job whose server stopped before it ended.
const reasonStopped = "server stopped before the job finished"

// Job writes: progress goes to the file at most once per jobFlushEvery; an
// unchanged active job is rewritten every jobHeartbeatEvery, as a sign that
// its server still runs it; another server takes a job whose sign is older
// than jobStaleAfter for orphaned.
const (
	jobFlushEvery     = time.Second
	jobHeartbeatEvery = 10 * time.Second
	jobStaleAfter     = 60 * time.Second
)

// processStart tells this process apart from an earlier one with the same
// pid (a restarted container's server is often pid 1). Set once, never
// changed.
var processStart = time.Now().UnixNano()

// JobProgress is a background job's progress report: the current training
// run's progress and, for a hyperparameter search, which trial it is
// (train.Progress's Trial and Trials, which SearchTrain sets; 0 without a
// search).
type JobProgress struct {
	train.Progress
}

// JobFunc is a background job's work: it trains with ctx (cancelled by
// CANCEL JOB, KILL or Close) and reports through progress, and returns the
// adapter it stored. Training and storing go through the registry
// (registry.Train), which stores nothing when ctx is cancelled.
type JobFunc func(ctx context.Context, progress func(JobProgress)) (catalog.Record, error)

// JobRequest is a job to run.
type JobRequest struct {
	Adapter string
	Rows    int           // examples the statement read
	Options train.Options // for the process list's progress display
	Run     JobFunc
}

// jobRunner runs a DB's background jobs.
type jobRunner struct {
	cat     *catalog.Catalog
	log     zerolog.Logger
	pl      sql.ProcessList // nil: jobs are not listed there
	connID  func() uint32   // process-list ids, from the DB's in-process ids
	pid     func() uint64
	owner   catalog.JobOwner
	slots   chan struct{} // one token per running job
	stop    chan struct{} // closed by close
	writeMu sync.Mutex    // orders the file writes of a job (flush, final)

	mu     sync.Mutex
	active map[int64]*runningJob // queued and running jobs of this runner
	closed bool
	wg     sync.WaitGroup
}

// runningJob is an active job's state; job and the fields below it are
// guarded by jobRunner.mu.
type runningJob struct {
	cancel context.CancelFunc
	job    catalog.Job
	stopBy string // why it was cancelled: "cancel", "close"; "" for KILL
	conn   uint32 // its process-list id while running
	dirty  bool   // changed since last written
	wrote  time.Time
	// ended: finish has set the final state and is writing it; the job
	// stays in active until then, so that readers never see the file's
	// older state (running after done, say).
	ended bool
}

func newJobRunner(cat *catalog.Catalog, log zerolog.Logger, maxJobs int, pl sql.ProcessList, connID func() uint32, pid func() uint64) *jobRunner {
	if maxJobs <= 0 {
		maxJobs = DefaultMaxJobs
	}
	host, _ := os.Hostname()
	r := &jobRunner{cat: cat, log: log, pl: pl, connID: connID, pid: pid,
		owner: catalog.JobOwner{Host: host, PID: os.Getpid(), Start: processStart},
		slots: make(chan struct{}, maxJobs), stop: make(chan struct{}), active: map[int64]*runningJob{}}
	// Jobs a stopped server left are failed now, so that SHOW JOBS says so.
	if err := r.sweep(context.Background()); err != nil {
		log.Warn().Err(err).Msg("jobs: marking the jobs of a stopped server failed")
	}
	r.wg.Add(1)
	go r.flushLoop()
	return r
}

// orphaned reports an active job of the file that no live server runs.
func (r *jobRunner) orphaned(j catalog.Job, now time.Time) bool {
	r.mu.Lock()
	_, mine := r.active[j.ID]
	r.mu.Unlock()
	if mine {
		return false
	}
	o := j.Owner
	if o.Host == r.owner.Host && o != r.owner {
		if o.PID == r.owner.PID {
			return true // an earlier process with this pid
		}
		if err := unix.Kill(o.PID, 0); errors.Is(err, unix.ESRCH) {
			return true
		}
	}
	// Another host, this process (another DB on the same file), or a live
	// pid (perhaps reused): the owner's heartbeat says.
	return now.Sub(j.Heartbeat) > jobStaleAfter
}

// sweep fails the file's orphaned jobs.
func (r *jobRunner) sweep(ctx context.Context) error {
	now := time.Now().UTC()
	ids, err := r.cat.FailJobs(ctx, func(j catalog.Job) bool { return r.orphaned(j, now) }, reasonStopped, now)
	if len(ids) > 0 {
		r.log.Warn().Ints64("jobs", ids).Msg("jobs failed: " + reasonStopped)
	}
	return err
}

// submit stores a new job and starts it. values carries what the job's
// context keeps of the statement's (the creator of the adapter it stores).
func (r *jobRunner) submit(values context.Context, user catalog.Account, req JobRequest) (catalog.Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return catalog.Job{}, sqlErr(codeOptionPrevents, stateGeneral, "The server is shutting down: no new background jobs")
	}
	for _, rj := range r.active {
		if !rj.ended && strings.EqualFold(rj.job.Adapter, req.Adapter) {
			return catalog.Job{}, sqlErr(codeAlreadyExists, stateSyntax,
				"A background job for ADAPTER %s is already %s (job %d): wait for it or CANCEL JOB %d", req.Adapter,
				rj.job.State, rj.job.ID, rj.job.ID)
		}
	}
	now := time.Now().UTC()
	j := catalog.Job{Adapter: req.Adapter, State: catalog.JobQueued, Epochs: req.Options.Epochs, Loss: math.NaN(),
		Rows: req.Rows, User: user, Submitted: now, Owner: r.owner, Heartbeat: now}
	id, err := r.cat.AddJob(context.Background(), j)
	if err != nil {
		return catalog.Job{}, err
	}
	j.ID = id
	ctx, cancel := context.WithCancel(context.WithoutCancel(values))
	rj := &runningJob{cancel: cancel, job: j, wrote: now}
	r.active[id] = rj
	r.wg.Add(1)
	go r.run(ctx, rj, req)
	r.log.Info().Int64("job", id).Str("adapter", req.Adapter).Int("rows", req.Rows).Msg("background job queued")
	return j, nil
}

// run waits for a slot, trains, and records how the job ended.
func (r *jobRunner) run(ctx context.Context, rj *runningJob, req JobRequest) {
	defer r.wg.Done()
	defer rj.cancel()
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		r.finish(rj, ctx.Err())
		return
	}
	qctx, tp, end := r.register(ctx, rj, req)
	defer end()
	r.mu.Lock()
	rj.job.State, rj.job.Started, rj.dirty = catalog.JobRunning, time.Now().UTC(), true
	r.mu.Unlock()
	r.log.Info().Int64("job", rj.job.ID).Str("adapter", req.Adapter).Msg("background job running")
	progress := func(p JobProgress) {
		if tp != nil {
			tp.update(p.Progress)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		j := &rj.job
		j.Epoch, j.Epochs, j.Trial, j.Trials, j.Loss = p.Epoch, p.Epochs, p.Trial, p.Trials, p.Loss
		frac := 0.0
		if p.Steps > 0 {
			frac = float64(p.Step) / float64(p.Steps)
		}
		if p.Trials > 0 {
			frac = (float64(p.Trial-1) + frac) / float64(p.Trials)
		}
		// The job's progress never goes back (a trial's steps restart).
		j.Progress = math.Min(math.Max(frac, j.Progress), 1)
		rj.dirty = true
	}
	rec, err := req.Run(qctx, progress)
	if err == nil && rec.Name != "" {
		r.log.Info().Int64("job", rj.job.ID).Str("adapter", rec.Name).Str("result", summary(rec)).Msg("background job done")
	}
	r.finish(rj, err)
}

// register lists a running job in the process list as a connection of its
// own, running the query "CREATE ADAPTER name /* background job n */":
// SHOW PROCESSLIST shows its progress and KILL stops it. Without a process
// list ctx is used as it is.
func (r *jobRunner) register(ctx context.Context, rj *runningJob, req JobRequest) (context.Context, *trainProgress, func()) {
	if r.pl == nil {
		return ctx, nil, func() {}
	}
	id := r.connID()
	sess := sql.NewBaseSessionWithClientServer("", sql.Client{User: rj.job.User.User, Address: rj.job.User.Host}, id)
	r.pl.AddConnection(id, "background job")
	r.pl.ConnectionReady(sess)
	sctx := sql.NewContext(ctx, sql.WithSession(sess), sql.WithPid(r.pid()), sql.WithProcessList(r.pl))
	qctx, err := r.pl.BeginQuery(sctx, fmt.Sprintf("CREATE ADAPTER %s /* background job %d */", req.Adapter, rj.job.ID))
	if err != nil {
		r.pl.RemoveConnection(id)
		r.log.Warn().Err(err).Int64("job", rj.job.ID).Msg("job not listed in the process list")
		return ctx, nil, func() {}
	}
	r.mu.Lock()
	rj.conn = id
	r.mu.Unlock()
	tp := newTrainProgress(qctx, r.log, req.Adapter, req.Options)
	tp.rows = req.Rows
	return qctx, tp, func() {
		tp.done()
		r.pl.EndQuery(qctx)
		r.pl.RemoveConnection(id)
		r.mu.Lock()
		rj.conn = 0
		r.mu.Unlock()
	}
}

// finish records a job's end: done, cancelled (CANCEL JOB, KILL: nothing was
// stored), or failed with the error (Close: the server stopped).
func (r *jobRunner) finish(rj *runningJob, err error) {
	r.mu.Lock()
	j := &rj.job
	switch {
	case err == nil:
		j.State, j.Progress = catalog.JobDone, 1
	case rj.stopBy == "close":
		j.State, j.Error = catalog.JobFailed, reasonStopped
	case isCancel(err):
		j.State = catalog.JobCancelled
	default:
		j.State, j.Error = catalog.JobFailed, jobError(err)
	}
	now := time.Now().UTC()
	j.Finished, j.Heartbeat = now, now
	final := *j
	rj.ended = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.active, final.ID)
		r.mu.Unlock()
	}()
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	// The job's own context may be cancelled; the record of how it ended
	// is written regardless.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if werr := r.cat.UpdateJob(ctx, final); werr != nil {
		r.log.Error().Err(werr).Int64("job", final.ID).Str("state", final.State).Msg("recording the job's end")
	}
	ev := r.log.Info()
	if final.State == catalog.JobFailed {
		ev = r.log.Warn().Str("error", final.Error)
	}
	ev.Int64("job", final.ID).Str("adapter", final.Adapter).Str("state", final.State).Msg("background job ended")
}

// jobError is a failed job's error text: a MySQL error's message without
// its code (the job has no client to send the code to).
func jobError(err error) string {
	var se *mysql.SQLError
	if errors.As(toSQLError(nil, "", err), &se) && se.Num != codeUnknown {
		return se.Message
	}
	return err.Error()
}

// flushLoop writes active jobs' progress and heartbeats until close.
func (r *jobRunner) flushLoop() {
	defer r.wg.Done()
	t := time.NewTicker(jobFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.flush()
		}
	}
}

func (r *jobRunner) flush() {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	now := time.Now().UTC()
	var due []catalog.Job
	r.mu.Lock()
	for _, rj := range r.active {
		if rj.dirty || now.Sub(rj.wrote) >= jobHeartbeatEvery {
			rj.job.Heartbeat, rj.dirty, rj.wrote = now, false, now
			due = append(due, rj.job)
		}
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, j := range due {
		if err := r.cat.UpdateJob(ctx, j); err != nil {
			r.log.Warn().Err(err).Int64("job", j.ID).Msg("recording job progress")
		}
	}
}

// cancelJob cancels an active job of this runner. ok is false when the
// runner has no such active job.
func (r *jobRunner) cancelJob(id int64) (ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rj := r.active[id]
	if rj == nil || rj.ended {
		return false
	}
	if rj.stopBy == "" {
		rj.stopBy = "cancel"
	}
	rj.cancel()
	return true
}

// processID is the process-list id of a running job of this runner (0: none).
func (r *jobRunner) processID(id int64) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rj := r.active[id]; rj != nil {
		return rj.conn
	}
	return 0
}

// snapshot is the in-memory state of this runner's active jobs, fresher
// than the file's.
func (r *jobRunner) snapshot() map[int64]catalog.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int64]catalog.Job, len(r.active))
	for id, rj := range r.active {
		out[id] = rj.job
	}
	return out
}

// close cancels the active jobs, waits for them (each records that the
// server stopped) and stops the flusher. New jobs are refused from now on.
func (r *jobRunner) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	for _, rj := range r.active {
		rj.stopBy = "close"
		rj.cancel()
	}
	r.mu.Unlock()
	close(r.stop)
	r.wg.Wait()
}

// ---- the SQL side ----

// jobOption takes OPTIONS (background = ...) out of a CREATE ADAPTER's
// options: it is not a training option.
func jobOption(opts []Option) (background bool, rest []Option, err error) {
	for _, kv := range opts {
		if kv.Key != "background" {
			rest = append(rest, kv)
			continue
		}
		switch strings.ToLower(kv.Value) {
		case "true", "1", "on", "yes":
			background = true
		case "false", "0", "off", "no":
			background = false
		default:
			return false, nil, sqlErr(codeWrongOptionValue, stateSyntax,
				"Option 'background' can't be set to the value of '%s': want true or false", kv.Value)
		}
	}
	return background, rest, nil
}

// jobUser is the account a job runs for: the session's account (user and
// host pattern), or its client's name and address with accounts off.
func (s *service) jobUser(ctx *sql.Context) catalog.Account {
	c := ctx.Session.Client()
	if s.cat != nil && s.cat.MySQLDb != nil && s.cat.MySQLDb.Enabled() {
		rd := s.cat.MySQLDb.Reader()
		defer rd.Close()
		if u := s.cat.MySQLDb.GetUser(rd, c.User, c.Address, false); u != nil {
			return catalog.Account{User: u.User, Host: u.Host}
		}
	}
	return catalog.Account{User: c.User, Host: c.Address}
}

// seesAllJobs: the global PROCESS privilege (or SUPER, or accounts off)
// shows and cancels every account's jobs, as for SHOW PROCESSLIST and KILL.
func (s *service) seesAllJobs(ctx *sql.Context) bool {
	a := s.askerOf(ctx)
	return a.all || a.global.Has(sql.PrivilegeType_Process)
}

// jobResultSchema is the result of CREATE ADAPTER ... background = true.
var jobResultSchema = sql.Schema{
	{Name: "job_id", Type: types.Int64},
	{Name: "adapter", Type: varchar(64)},
	{Name: "state", Type: varchar(16)},
}

// startBackground is CREATE ADAPTER's background form, after the statement
// has read the rows: it checks them and submits the job.
func (n *CreateAdapter) startBackground(ctx *sql.Context, examples []train.Example, kind train.TargetKind) (sql.RowIter, error) {
	what := "CREATE ADAPTER " + n.Name
	if n.svc.jobs == nil {
		return nil, sqlErr(codeOptionPrevents, stateGeneral, "%s: background jobs are not available in this database", what)
	}
	if err := train.Check(n.svc.reg.Engine(), examples, kind, n.Options); err != nil {
		return nil, toSQLError(ctx, what, err)
	}
	reg, name, opts, mode := n.svc.reg, n.Name, n.Options, n.Mode
	run := func(jctx context.Context, progress func(JobProgress)) (catalog.Record, error) {
		rec, created, err := reg.Train(jctx, registry.TrainRequest{Name: name, Examples: examples, Kind: kind, Options: opts,
			Mode: mode, Progress: func(p train.Progress) { progress(JobProgress{Progress: p}) }})
		if err == nil && !created {
			// IF NOT EXISTS, and the adapter appeared while the job waited.
			return rec, fmt.Errorf("%w: %s", catalog.ErrExists, name)
		}
		return rec, err
	}
	job, err := n.svc.jobs.submit(catalog.WithKeepVersions(n.svc.creatorContext(ctx), n.KeepVersions), n.svc.jobUser(ctx),
		JobRequest{Adapter: n.Name, Rows: len(examples), Options: n.Options, Run: run})
	if err != nil {
		return nil, toSQLError(ctx, what, err)
	}
	// LAST_INSERT_ID() is the job's id too, for clients that only read OK
	// packets.
	ctx.Session.SetLastQueryInfoInt(sql.LastInsertId, job.ID)
	ctx.Session.Warn(&sql.Warning{Level: "Note", Code: codeSummary,
		Message: fmt.Sprintf("adapter %s: background job %d %s; SHOW JOBS shows its progress", n.Name, job.ID, job.State)})
	return sql.RowsToRowIter(sql.NewRow(job.ID, job.Adapter, job.State)), nil
}

// ---- SHOW JOBS, adapterdb.jobs ----

// jobsSchema is SHOW JOBS's and adapterdb.jobs's columns.
var jobsSchema = sql.Schema{
	jobCol("id", types.Int64, true),
	jobCol("adapter", varchar(64), false),
	jobCol("state", varchar(16), false),
	jobCol("progress", types.Float64, false),
	jobCol("epoch", types.Int64, false),
	jobCol("epochs", types.Int64, false),
	jobCol("trial", types.Int64, false),
	jobCol("trials", types.Int64, false),
	jobCol("loss", types.Float64, false),
	jobCol("rows_read", types.Int64, false),
	jobCol("user", varchar(80), false),
	jobCol("host", varchar(255), false),
	jobCol("submitted", types.DatetimeMaxPrecision, false),
	jobCol("started", types.DatetimeMaxPrecision, false),
	jobCol("finished", types.DatetimeMaxPrecision, false),
	jobCol("error", types.Text, false),
	jobCol("process_id", types.Int64, false),
}

func jobCol(name string, t sql.Type, pk bool) *sql.Column {
	return &sql.Column{Name: name, Type: t, Source: "jobs", DatabaseSource: CatalogDatabase, PrimaryKey: pk, Nullable: !pk}
}

// jobRows lists the jobs the session may see, oldest first: its account's,
// or all with PROCESS. Orphaned jobs are failed first, so none shows as
// running that nothing runs.
func (s *service) jobRows(ctx *sql.Context, what string) ([]sql.Row, error) {
	var live map[int64]catalog.Job
	if s.jobs != nil {
		if err := s.jobs.sweep(ctx); err != nil {
			s.log.Warn().Err(err).Msg("jobs: marking the jobs of a stopped server failed")
		}
		live = s.jobs.snapshot()
	}
	jobs, err := s.reg.Catalog().Jobs(ctx)
	if err != nil {
		return nil, toSQLError(ctx, what, err)
	}
	all, me := s.seesAllJobs(ctx), s.jobUser(ctx)
	rows := make([]sql.Row, 0, len(jobs))
	for i := len(jobs) - 1; i >= 0; i-- {
		j := jobs[i]
		if l, ok := live[j.ID]; ok {
			j = l
		}
		if !all && j.User != me {
			continue
		}
		rows = append(rows, s.jobRow(j))
	}
	return rows, nil
}

func (s *service) jobRow(j catalog.Job) sql.Row {
	opt := func(v int, ok bool) any {
		if !ok {
			return nil
		}
		return int64(v)
	}
	at := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC()
	}
	var loss, errText, pid any
	if !math.IsNaN(j.Loss) {
		loss = j.Loss
	}
	if j.Error != "" {
		errText = j.Error
	}
	if s.jobs != nil {
		if id := s.jobs.processID(j.ID); id != 0 {
			pid = int64(id)
		}
	}
	return sql.NewRow(j.ID, j.Adapter, j.State, math.Round(j.Progress*1e4)/1e4, opt(j.Epoch, j.Epoch > 0),
		int64(j.Epochs), opt(j.Trial, j.Trials > 0), opt(j.Trials, j.Trials > 0), loss, int64(j.Rows), j.User.User,
		j.User.Host, at(j.Submitted), at(j.Started), at(j.Finished), errText, pid)
}

type showJobsStmt struct{ svc *service }

func (s *showJobsStmt) String() string { return "SHOW JOBS" }

func (s *showJobsStmt) WithResolvedChildren([]any) (any, error) { return &ShowJobs{svc: s.svc}, nil }

// ShowJobs lists background jobs (adapterdb.jobs's rows).
type ShowJobs struct{ svc *service }

var _ sql.ExecSourceRel = (*ShowJobs)(nil)

func (n *ShowJobs) Resolved() bool                             { return true }
func (n *ShowJobs) IsReadOnly() bool                           { return true }
func (n *ShowJobs) Schema() sql.Schema                         { return jobsSchema }
func (n *ShowJobs) Children() []sql.Node                       { return nil }
func (n *ShowJobs) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *ShowJobs) String() string                             { return "ShowJobs" }

// RowIter implements sql.ExecSourceRel.
func (n *ShowJobs) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	rows, err := n.svc.jobRows(ctx, "SHOW JOBS")
	if err != nil {
		return nil, err
	}
	return sql.RowsToRowIter(rows...), nil
}

// jobsTable is adapterdb.jobs.
type jobsTable struct{ svc *service }

var _ sql.Table = (*jobsTable)(nil)

func (t *jobsTable) Name() string               { return "jobs" }
func (t *jobsTable) String() string             { return "jobs" }
func (t *jobsTable) Schema() sql.Schema         { return jobsSchema }
func (t *jobsTable) Collation() sql.CollationID { return sql.Collation_Default }

func (t *jobsTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(onePartition{}), nil
}

func (t *jobsTable) PartitionRows(ctx *sql.Context, _ sql.Partition) (sql.RowIter, error) {
	rows, err := t.svc.jobRows(ctx, "adapterdb.jobs")
	if err != nil {
		return nil, err
	}
	return sql.RowsToRowIter(rows...), nil
}

// ---- CANCEL JOB ----

// codeNoSuchJob is ER_NO_SUCH_THREAD, KILL's answer for an unknown id.
const codeNoSuchJob = 1094

// codeKillDenied is ER_KILL_DENIED_ERROR: KILL of another account's thread.
const codeKillDenied = 1095

type cancelJobStmt struct {
	svc *service
	id  int64
}

func (c *cancelJobStmt) String() string { return "CANCEL JOB " + strconv.FormatInt(c.id, 10) }

func (c *cancelJobStmt) WithResolvedChildren([]any) (any, error) {
	return &CancelJob{svc: c.svc, ID: c.id}, nil
}

// CancelJob stops a queued or running job; it ends cancelled, with nothing
// stored.
type CancelJob struct {
	svc *service
	ID  int64
}

var _ sql.ExecSourceRel = (*CancelJob)(nil)

func (n *CancelJob) Resolved() bool                             { return true }
func (n *CancelJob) IsReadOnly() bool                           { return false }
func (n *CancelJob) Schema() sql.Schema                         { return types.OkResultSchema }
func (n *CancelJob) Children() []sql.Node                       { return nil }
func (n *CancelJob) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *CancelJob) String() string                             { return fmt.Sprintf("CancelJob(%d)", n.ID) }

// RowIter implements sql.ExecSourceRel. The job's account, or the global
// PROCESS privilege (SUPER), may cancel it; others get KILL's 1095.
func (n *CancelJob) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	what := fmt.Sprintf("CANCEL JOB %d", n.ID)
	j, err := n.svc.reg.Catalog().GetJob(ctx, n.ID)
	if err != nil {
		if errors.Is(err, catalog.ErrNoJob) {
			return nil, sqlErr(codeNoSuchJob, stateGeneral, "Unknown job id: %d", n.ID)
		}
		return nil, toSQLError(ctx, what, err)
	}
	if !n.svc.seesAllJobs(ctx) && j.User != n.svc.jobUser(ctx) {
		c := ctx.Session.Client()
		return nil, sqlErr(codeKillDenied, stateGeneral, "You are not owner of job %d ('%s'@'%s' without the PROCESS privilege)",
			n.ID, c.User, c.Address)
	}
	if n.svc.jobs != nil && n.svc.jobs.cancelJob(n.ID) {
		n.svc.log.Info().Int64("job", n.ID).Str("adapter", j.Adapter).Msg("background job cancel requested")
		return okIter(1, ""), nil
	}
	if n.svc.jobs != nil {
		// A job of this runner that has just ended: its final state may
		// not be in the file yet.
		if l, ok := n.svc.jobs.snapshot()[n.ID]; ok {
			j = l
		}
	}
	if j.Active() {
		return nil, sqlErr(codeOptionPrevents, stateGeneral,
			"Job %d runs in another server process (pid %d on %s): cancel it there", n.ID, j.Owner.PID, j.Owner.Host)
	}
	ctx.Session.Warn(&sql.Warning{Level: "Note", Code: codeNoSuchJob,
		Message: fmt.Sprintf("Job %d has already ended (%s)", n.ID, j.State)})
	return okIter(0, ""), nil
}
