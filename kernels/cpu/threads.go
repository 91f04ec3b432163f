package cpu

import (
	"sync"
	"sync/atomic"
)

// Work splitting. An op cuts its items (values or rows) into pieces that
// Threads workers take in turn: the calling goroutine and Threads−1 new ones,
// each piece one cgo call into C. Pieces hold at least grain items so that
// waking a helper (8–45 µs on a VM, see elemGrain) stays small, and there
// are a few per worker so that a worker slowed down (a core shared with
// another process, a busier part of the data) does not hold up the others.
// Small ops run on the caller alone.
//
// A GEMM runs on OpenBLAS's own Threads threads while the calling goroutine
// waits in cgo; OpenBLAS's idle threads sleep shortly after (see tuneEnv).
// So GEMMs and the other ops of one caller alternate and each keeps the
// cores busy without oversubscribing them. Concurrent callers each split
// their own work; the Go scheduler and the OS share the cores between them.
//
// Where oneDNN runs the products, its OpenMP thread spins after each one
// (GOMP_SPINCOUNT) on the core a helper goroutine needs. There the ops
// between products that matter (attention, activations, LayerNorms, column
// sums) hand their pieces to that OpenMP team instead (team.h, teamSize):
// the same kernels, in pieces teamGrainDiv times smaller, taken by a thread
// already awake. A training step of MiniLM-L6 (16 × 64) spent 27–30 ms in
// attention, activations and LayerNorms, where it spent 41–48 on helpers
// (docs/performance.md, run I).

// piecesPerWorker is how many pieces an op is cut into per worker.
const piecesPerWorker = 4

// parallel runs fn over [0, n) in pieces of at least grain items whose
// bounds are multiples of align.
func (be *Backend) parallel(n, grain, align int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	be.parallelDynamic(n, be.step(n, grain, align), fn)
}

// step is the size of the pieces parallel cuts n > 0 items into.
func (be *Backend) step(n, grain, align int) int {
	pieces := min(be.threads*piecesPerWorker, (n+grain-1)/grain)
	step := (n + pieces - 1) / pieces
	return (step + align - 1) / align * align
}

// omp is the OpenMP team the ops hand their pieces to (team.h); its fn is
// nil without one (no oneDNN, no GOMP_parallel, one OpenMP thread).
func (be *Backend) omp() team {
	if be.dnn == nil {
		return team{}
	}
	return be.dnn.team
}

// teamSize is how many threads of OpenMP's team (team.h) take n items in
// pieces of step, or 0 when the work stays with parallelDynamic: no team
// (oneDNN not loaded), or one piece, which the caller runs alone.
func (be *Backend) teamSize(n, step int) int {
	if be.omp().fn == nil || n <= 0 {
		return 0
	}
	// The team is no larger than oneDNN's (OMP_NUM_THREADS when the user
	// set it).
	if w := min(be.threads, be.dnn.threads, (n+step-1)/step); w > 1 {
		return w
	}
	return 0
}

// parallelDynamic runs fn over [0, n) in pieces of step items handed out to
// be.threads workers as they finish.
func (be *Backend) parallelDynamic(n, step int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := min(be.threads, (n+step-1)/step)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			lo := int(next.Add(int64(step))) - step
			if lo >= n {
				return
			}
			fn(lo, min(lo+step, n))
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// teamGrainDiv divides an op's grain where OpenMP's team takes its pieces:
// the team's thread, spinning after the last product, starts a piece in
// about a microsecond, where a helper goroutine took 8–45 to wake. A
// one-sequence pass now splits its attention and LayerNorms too: `bench
// --batch 1 --seq 128` on MiniLM-L6 ran at 60.0–62.1 seq/s against
// 48.0–56.2 with the helpers' grains, at 16 tokens 309–358 against 284–346
// (four rounds alternating the binaries, Zen 4).
const teamGrainDiv = 8

// grain is the least work an op splits: g for helper goroutines, less for
// the team.
func (be *Backend) grain(g int) int {
	if be.omp().fn != nil {
		return max(1, g/teamGrainDiv)
	}
	return g
}
