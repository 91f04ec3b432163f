package cpu

import (
	"sync"
	"sync/atomic"
)

// Work splitting. An op splits its items (values or rows) into at most
// be.threads contiguous chunks, runs the first on the calling goroutine and
// the rest on new goroutines, each one cgo call into C. Chunks hold at least
// grain items so that the ~1 µs cost of a goroutine and a cgo call stays
// negligible; small ops run on the caller alone.
//
// OpenBLAS runs its own be.threads threads inside a GEMM call, during which
// the caller's goroutine is blocked in cgo: GEMMs and the other ops of one
// caller alternate, so each keeps the cores busy without oversubscribing
// them. Concurrent callers each split their own work; the Go scheduler and
// the OS share the cores between them.

// parallel runs fn over [0, n) in chunks whose bounds are multiples of align.
func (be *Backend) parallel(n, grain, align int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	chunks := min(be.threads, (n+grain-1)/grain)
	if chunks <= 1 {
		fn(0, n)
		return
	}
	bound := func(i int) int {
		if i == chunks {
			return n
		}
		return min(n, (n*i/chunks+align-1)/align*align)
	}
	var wg sync.WaitGroup
	for i := 1; i < chunks; i++ {
		lo, hi := bound(i), bound(i+1)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, bound(1))
	wg.Wait()
}

// parallelDynamic runs fn over [0, n) in pieces of step items handed out to
// be.threads workers as they finish: for work of uneven cost per item
// (attention heads of sequences of different lengths).
func (be *Backend) parallelDynamic(n, step int, fn func(lo, hi int)) {
	workers := min(be.threads, (n+step-1)/step)
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
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
	for i := 1; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}
