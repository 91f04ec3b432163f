package engine

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/adapterdb/adapterdb/engine/model"
)

// The scheduler owns the featurizer: one goroutine runs forward passes one at
// a time (each pass already uses every core), and callers queue sequences. A
// pass takes up to batchSize queued sequences, whichever caller they came from,
// so small concurrent requests share one pass through the base weights while a
// large request is cut into full batches.

// seq is one tokenized text waiting for a pass.
type seq struct {
	Sequence
	adapter *model.Adapter // nil: plain featurizer
	pool    model.Pool
	tokens  bool // return every token's hidden state, not a pooled feature
	job     *job
	idx     int // position in the job's results
}

// job is one caller's request.
type job struct {
	ctx       context.Context
	out       [][]float32 // pooled feature per input, in input order
	remaining atomic.Int64
	mu        sync.Mutex
	err       error
	done      chan struct{}
}

func (j *job) finish(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil && err != nil {
		j.err = err
	}
	if j.remaining.Load() == 0 || err != nil {
		select {
		case <-j.done:
		default:
			close(j.done)
		}
	}
}

func (j *job) failed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err != nil
}

type scheduler struct {
	m         *model.Model
	batchSize int
	mu        sync.Mutex
	cond      *sync.Cond
	queue     []*seq
	closed    bool
	passes    atomic.Int64
	wg        sync.WaitGroup
	// observe, when set, is told about every pass (tests and statistics).
	observe func(seqs, tokens, padded int)
}

func newScheduler(m *model.Model, batchSize int, observe func(seqs, tokens, padded int)) *scheduler {
	s := &scheduler{m: m, batchSize: batchSize, observe: observe}
	s.cond = sync.NewCond(&s.mu)
	s.wg.Add(1)
	go s.loop()
	return s
}

var errClosed = errors.New("engine is closed")

// submit queues a job's sequences and waits for their features.
func (s *scheduler) submit(ctx context.Context, seqs []*seq, n int) ([][]float32, error) {
	j := &job{ctx: ctx, out: make([][]float32, n), done: make(chan struct{})}
	if len(seqs) == 0 {
		return j.out, nil
	}
	j.remaining.Store(int64(len(seqs)))
	for _, q := range seqs {
		q.job = j
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	s.queue = append(s.queue, seqs...)
	s.cond.Signal()
	s.mu.Unlock()
	select {
	case <-j.done:
	case <-ctx.Done():
		j.finish(ctx.Err())
		s.wake() // let the loop drop the job's queued sequences
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return nil, j.err
	}
	return j.out, nil
}

// queued is the number of sequences waiting in the queue.
func (s *scheduler) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *scheduler) wake() {
	s.mu.Lock()
	s.cond.Signal()
	s.mu.Unlock()
}

func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
}

// take removes up to batchSize live sequences from the queue, dropping those of
// cancelled jobs. It blocks while the queue is empty; nil means closed.
func (s *scheduler) take() []*seq {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		live := s.queue[:0]
		for _, q := range s.queue {
			if q.job.ctx.Err() != nil {
				q.job.finish(q.job.ctx.Err())
				continue
			}
			if !q.job.failed() {
				live = append(live, q)
			}
		}
		clear(s.queue[len(live):])
		s.queue = live
		if len(s.queue) > 0 {
			n := min(len(s.queue), s.batchSize)
			batch := slices.Clone(s.queue[:n])
			s.queue = slices.Delete(s.queue, 0, n)
			return batch
		}
		if s.closed {
			return nil
		}
		s.cond.Wait()
	}
}

func (s *scheduler) loop() {
	defer s.wg.Done()
	// Every pass runs on this one OS thread (see pinsThread in bench.go
	// for why a one-sequence pass wants it): each thread that calls oneDNN gets an
	// OpenMP team of its own, and a second team makes libgomp stop
	// spinning in all of them (OnDiscardedThread). Batches that ran
	// unpinned landed on other threads, and single-row PREDICTs after a
	// SELECT PREDICT over a table slowed back down (MiniLM-L6 cpu:int8, 16
	// and 128 tokens: p50 5.27 and 12.04 ms, against 2.43 and 9.35 with
	// every pass pinned); pinned, a server's batch throughput was up too
	// (1,024 rows: fp32 218–226 against 201–213 rows/s, int8 455–530
	// against 446–461; docs/performance.md).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		batch := s.take()
		if batch == nil {
			s.failQueued()
			return
		}
		s.run(batch)
	}
}

func (s *scheduler) failQueued() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queue {
		q.job.finish(errClosed)
	}
	s.queue = nil
}

// run executes one pass. Its context is cancelled only when every job with a
// sequence in it has been cancelled, so one caller giving up does not fail the
// others sharing the pass.
func (s *scheduler) run(batch []*seq) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := map[*job]bool{}
	for _, q := range batch {
		jobs[q.job] = true
	}
	var live atomic.Int64
	live.Store(int64(len(jobs)))
	for j := range jobs {
		stop := context.AfterFunc(j.ctx, func() {
			if live.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	s.passes.Add(1)
	feats, err := runBatch(ctx, s.m, batch, s.observe)
	for i, q := range batch {
		if err != nil {
			q.job.finish(err)
			continue
		}
		q.job.out[q.idx] = feats[i]
		q.job.remaining.Add(-1)
		q.job.finish(nil)
	}
}
