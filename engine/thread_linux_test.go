package engine

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// gone waits for thread tid to end: the runtime ends it just after its
// goroutine, and on a loaded machine (make test runs packages in parallel,
// under -race) that can take a moment.
func gone(tid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); os.IsNotExist(err) {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// TestOnDiscardedThread: f runs on another OS thread, which is gone once
// OnDiscardedThread returns; results, errors and panics come back.
func TestOnDiscardedThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	caller := syscall.Gettid()
	tid, err := OnDiscardedThread(func() (int, error) { return syscall.Gettid(), errors.New("boom") })
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v", err)
	}
	if tid == caller || tid == syscall.Getpid() {
		t.Fatalf("f ran on thread %d: the caller's (%d) or the main thread", tid, caller)
	}
	if !gone(tid) {
		t.Errorf("thread %d still exists", tid)
	}
	defer func() {
		if r := recover(); r != "inner" {
			t.Errorf("recovered %v, want the panic of f", r)
		}
	}()
	OnDiscardedThread(func() (int, error) { panic("inner") })
	t.Error("no panic")
}

// TestOnDiscardedThreadMainThread: when the goroutine lands on the main
// thread, which the runtime never ends (it failed TestOnDiscardedThread
// once under make test's load: "thread still exists" after 10 s), f runs on
// another thread that is gone afterwards; the branch is forced here, since
// where a goroutine lands cannot be chosen. A panic comes back through both
// goroutines.
func TestOnDiscardedThreadMainThread(t *testing.T) {
	held := -1
	first := func() bool {
		if held < 0 {
			held = syscall.Gettid() // "the main thread": the first goroutine's
			return true
		}
		return onMainThread() // the real one too: tests land there often
	}
	tid, err := onDiscardedThread(func() (int, error) { return syscall.Gettid(), nil }, first)
	if err != nil {
		t.Fatal(err)
	}
	if held < 0 || tid == held {
		t.Fatalf("f ran on thread %d, the held one %d (-1: none held)", tid, held)
	}
	if !gone(tid) {
		t.Errorf("thread %d (f's) still exists", tid)
	}
	if held != syscall.Getpid() && !gone(held) { // the held one ends too, unless it was the main thread
		t.Errorf("thread %d (held) still exists", held)
	}
	held = -1
	defer func() {
		if r := recover(); r != "inner" {
			t.Errorf("recovered %v, want the panic of f", r)
		}
	}()
	onDiscardedThread(func() (int, error) { panic("inner") }, first)
	t.Error("no panic")
}
