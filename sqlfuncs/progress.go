package sqlfuncs

import (
	"fmt"
	"math"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/train"
)

// trainProgress shows CREATE ADAPTER's progress in SHOW PROCESSLIST (and
// information_schema.processlist) and the log.
//
// go-mysql-server renders a query's state only from progress entries, in two
// fixed formats: "NAME (done/total partitions)" for a table entry and, below
// it, " └─ NAME (done/total rows)" per partition entry. The mapping that reads
// best: the table entry is the statement with epochs as its "partitions", the
// partition entry the current epoch's step and loss with the training rows
// consumed in this epoch as its "rows":
//
//	CREATE ADAPTER fortunes (1/10 partitions)
//	 └─ epoch 2/10 step 37/130 loss 0.4321 (1056/2447 rows)
//
// While the SELECT runs, the partition entry counts the rows read. Entries
// change name as training advances, so each update replaces the entry; updates
// are throttled because each takes the process list's lock.
type trainProgress struct {
	ctx        *sql.Context
	log        zerolog.Logger
	name       string // the table entry
	part       string // the current partition entry, "" if none
	opts       train.Options
	rows       int // examples read
	last       time.Time
	epochsDone int // epochs completed, as shown
	lastLog    time.Time
	trial      int // a search's current trial (search.go); 0 outside one
}

// progressEvery throttles process-list updates, logEvery the log's epoch
// lines.
const (
	progressEvery = 200 * time.Millisecond
	logEvery      = 5 * time.Second
)

func newTrainProgress(ctx *sql.Context, log zerolog.Logger, adapterName string, opts train.Options) *trainProgress {
	p := &trainProgress{ctx: ctx, log: log, name: "CREATE ADAPTER " + adapterName, opts: opts}
	if ctx.ProcessList != nil {
		ctx.ProcessList.AddTableProgress(ctx.Pid(), p.name, int64(opts.Epochs))
	}
	p.setPart("reading rows", 0, -1)
	return p
}

func (p *trainProgress) setPart(name string, done, total int64) {
	pl := p.ctx.ProcessList
	if pl == nil {
		return
	}
	pid := p.ctx.Pid()
	if p.part != "" {
		pl.RemovePartitionProgress(pid, p.name, p.part)
	}
	p.part = name
	pl.AddPartitionProgress(pid, p.name, name, total)
	if done > 0 {
		pl.UpdatePartitionProgress(pid, p.name, name, done)
	}
}

// read is called for every row the SELECT returns.
func (p *trainProgress) read(n int) {
	p.rows = n
	if time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	p.setPart("reading rows", int64(n), -1)
}

// trainRows is how many rows train.Train trains on (the rest validate): the
// split rule of engine/train (a validation set needs a row and leaves two).
func (p *trainProgress) trainRows() int {
	n := p.rows
	nVal := int(math.Round(p.opts.ValidationFraction * float64(n)))
	if nVal < 1 || n-nVal < 2 {
		nVal = 0
	}
	return n - nVal
}

// update is train.Train's progress callback.
func (p *trainProgress) update(pr train.Progress) {
	done := pr.Epoch - 1
	if pr.Phase == "epoch done" {
		done = pr.Epoch
	}
	if pr.Trials > 0 {
		p.trialStarted(pr) // search.go: a search's entry counts trials
	} else if done > p.epochsDone && p.ctx.ProcessList != nil {
		// Completed epochs are the table entry's "partitions".
		p.ctx.ProcessList.UpdateTableProgress(p.ctx.Pid(), p.name, int64(done-p.epochsDone))
		p.epochsDone = done
	}
	if pr.Phase == "epoch done" {
		p.logEpoch(pr)
		return
	}
	if time.Since(p.last) < progressEvery && pr.Step != pr.Steps {
		return
	}
	p.last = time.Now()
	stepsPerEpoch := max(pr.Steps/max(pr.Epochs, 1), 1)
	inEpoch := pr.Step - (pr.Epoch-1)*stepsPerEpoch
	total := p.trainRows()
	rows := min(inEpoch*p.opts.BatchSize, total)
	label := fmt.Sprintf("epoch %d/%d step %d/%d loss %.4f", pr.Epoch, pr.Epochs, pr.Step, pr.Steps, pr.Loss)
	if pr.Phase == "validating" {
		label = fmt.Sprintf("epoch %d/%d validating, loss %.4f", pr.Epoch, pr.Epochs, pr.Loss)
		rows = total
	}
	if pr.Trials > 0 {
		label = fmt.Sprintf("trial %d/%d, %s", pr.Trial, pr.Trials, label)
	}
	p.setPart(label, int64(rows), int64(total))
	p.log.Debug().Str("statement", p.name).Str("progress", label).Dur("eta_ms", pr.ETA).Msg("training")
}

// logEpoch logs the epoch just completed: at info level every few seconds
// and for the last epoch, else at debug level, so tiny epochs do not flood
// the log.
func (p *trainProgress) logEpoch(pr train.Progress) {
	ev := p.log.Debug()
	if time.Since(p.lastLog) >= logEvery || pr.Last {
		p.lastLog = time.Now()
		ev = p.log.Info()
	}
	ev = ev.Str("statement", p.name)
	if p.trial > 0 {
		ev = ev.Int("trial", p.trial) // a search's (search.go)
	}
	ev = ev.Int("epoch", pr.Epoch).Int("epochs", pr.Epochs).Float64("train_loss", pr.Loss)
	if !math.IsNaN(pr.ValLoss) {
		ev = ev.Float64("val_loss", pr.ValLoss)
	}
	ev.Msg("epoch done")
}

// done removes the entries.
func (p *trainProgress) done() {
	if p.ctx.ProcessList == nil {
		return
	}
	p.ctx.ProcessList.RemoveTableProgress(p.ctx.Pid(), p.name)
}
