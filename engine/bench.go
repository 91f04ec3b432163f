package engine

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/adapterdb/adapterdb/engine/model"
)

// FLOPs is the floating-point work of one forward pass over B sequences of L
// tokens, counting a multiply-add as 2: the four attention projections and the
// feed-forward network, 2·B·L·layers·(4H² + 2H·I), plus attention scores and
// context, 4·B·L²·H per layer. Element-wise work, embeddings and the pooler are
// not counted (the usual convention, which makes figures comparable across
// engines).
func FLOPs(cfg model.Config, B, L int) float64 {
	H, I, n := float64(cfg.Hidden), float64(cfg.FFN), float64(cfg.Layers)
	b, l := float64(B), float64(L)
	return n * (2*b*l*(4*H*H+2*H*I) + 4*b*l*l*H)
}

// SyntheticBatch is B sequences of exactly L real tokens (ids drawn
// deterministically from the vocabulary), split evenly over the given
// adapters (none: the plain featurizer).
func SyntheticBatch(cfg model.Config, B, L int, adapters []*model.Adapter) (*model.Batch, error) {
	if B <= 0 || L <= 0 {
		return nil, fmt.Errorf("batch %d and length %d must be positive", B, L)
	}
	if L > cfg.MaxTokens() {
		return nil, fmt.Errorf("length %d exceeds the model's %d positions", L, cfg.MaxTokens())
	}
	b := &model.Batch{Seqs: B, Len: L, IDs: make([]int32, B*L), PosIDs: make([]int32, B*L), Mask: make([]uint8, B*L)}
	x := uint32(2463534242)
	for i := range b.IDs {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.IDs[i] = int32(x % uint32(cfg.Vocab))
		b.PosIDs[i] = int32(cfg.PosOffset + i%L)
		b.Mask[i] = 1
	}
	if len(adapters) > 0 {
		k := len(adapters)
		for i, a := range adapters {
			n := B/k + boolToInt(i < B%k)
			if n > 0 {
				b.Segs = append(b.Segs, model.Segment{Seqs: n, Adapter: a})
			}
		}
	}
	return b, nil
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchResult is what one benchmark run measured.
type BenchResult struct {
	Iters      int
	Median     time.Duration
	Min, Max   time.Duration
	SeqPerSec  float64
	GFLOPs     float64 // effective: FLOPs / median time
	FLOPsBatch float64
}

// Bench runs the forward pass (and pooling) over batch iters times after one
// warm-up pass and reports the median.
func Bench(ctx context.Context, m *model.Model, b *model.Batch, iters int, pool model.Pool) (BenchResult, error) {
	if iters <= 0 {
		return BenchResult{}, fmt.Errorf("iterations must be positive")
	}
	// One-sequence passes pinned, as the scheduler runs them; batches not
	// (the scheduler pins them too, for reasons a lone benchmark does not
	// have: pinsThread).
	if pinsThread(b.Seqs) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	once := func() (time.Duration, error) {
		start := time.Now()
		p, err := m.Forward(ctx, b, false)
		if err != nil {
			return 0, err
		}
		_, err = p.Pool(pool)
		p.Release()
		return time.Since(start), err
	}
	if _, err := once(); err != nil {
		return BenchResult{}, err
	}
	times := make([]time.Duration, iters)
	for i := range times {
		d, err := once()
		if err != nil {
			return BenchResult{}, err
		}
		times[i] = d
	}
	slices.Sort(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	fl := FLOPs(m.Cfg, b.Seqs, b.Len)
	return BenchResult{Iters: iters, Median: med, Min: times[0], Max: times[len(times)-1],
		SeqPerSec: float64(b.Seqs) / med.Seconds(), GFLOPs: fl / med.Seconds() / 1e9, FLOPsBatch: fl}, nil
}

// pinsThread says whether Bench pins a pass over seqs sequences to one OS
// thread. The CPU backend's oneDNN keeps an OpenMP thread team per calling
// thread, and a goroutine that waited (for work, for a helper) resumes on
// whichever thread the Go scheduler picks, whose team may have gone to
// sleep: MiniLM-L6's one-row pass of 128 tokens after 5 ms idle took 19-22
// ms unpinned, 14 pinned (BenchmarkSingleRow in engine/registry) — the
// single-row PREDICT's case. In a process that makes no other OpenMP
// calls, as `adapterdb bench`, batches of several sequences run faster
// unpinned: they split their element-wise work over goroutines, and a
// pinned caller's every wait for a helper parks and wakes its own thread
// (0.82-0.95× at (8,64) and (32,32)). The scheduler pins every pass
// (scheduler.loop). (The CUDA backend binds its context to a thread of its own.)
func pinsThread(seqs int) bool { return seqs == 1 }
