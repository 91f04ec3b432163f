package engine

import "runtime"

// OnDiscardedThread runs f on a goroutine locked to an OS thread that ends
// when f returns, and returns f's results (a panic in f is raised again in
// the caller).
//
// Work that calls the backend outside the scheduler (training) runs this
// way. The cpu backend's oneDNN keeps an OpenMP thread team for each thread
// that calls it, and libgomp spins its idle threads only while it manages
// no more threads than there are CPUs; past that (a second team on a
// 2-vCPU machine) it puts them to sleep after every parallel region and
// wakes them through the kernel at the next, in every team. A CREATE
// ADAPTER that trained on a server thread left such a team behind, and
// every single-row PREDICT after it paid for those wake-ups (MiniLM-L6,
// cpu:int8, 128 tokens: p50 12.4–13.8 ms over the wire, 8.7 ms with the
// adapter trained in another process; docs/performance.md). A thread that
// ends takes its team with it.
func OnDiscardedThread[T any](f func() (T, error)) (T, error) {
	return onDiscardedThread(f, onMainThread)
}

// onDiscardedThread is OnDiscardedThread with the main-thread test given
// (tests force its branch).
func onDiscardedThread[T any](f func() (T, error), mainThread func() bool) (T, error) {
	type result struct {
		v     T
		err   error
		panic any
		ok    bool
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the runtime ends a locked thread whose goroutine
		// exits.
		runtime.LockOSThread()
		var r result
		defer func() {
			if !r.ok {
				r.panic = recover()
			}
			done <- r
		}()
		if mainThread() {
			// Except the process's main thread, which it parks for good
			// instead (runtime.mexit): f would leave its team there. Hold
			// the main thread, so that the next goroutine cannot land on
			// it, and run f on that one.
			r.v, r.err = onDiscardedThread(f, mainThread)
		} else {
			r.v, r.err = f()
		}
		r.ok = true
	}()
	r := <-done
	if !r.ok {
		panic(r.panic)
	}
	return r.v, r.err
}
