package engine_test

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/adapterdb/adapterdb/engine"
)

// TestOnDiscardedThread: f runs on another OS thread, which is gone once
// OnDiscardedThread returns; results, errors and panics come back.
func TestOnDiscardedThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	caller := syscall.Gettid()
	tid, err := engine.OnDiscardedThread(func() (int, error) { return syscall.Gettid(), errors.New("boom") })
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v", err)
	}
	if tid == caller {
		t.Fatal("f ran on the caller's thread")
	}
	if runtime.GOOS == "linux" {
		// The runtime ends the thread just after the goroutine; on a loaded
		// machine (make test runs packages in parallel, under -race) that can
		// take a while: 1,000 yields were once not enough.
		gone := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); os.IsNotExist(err) {
				gone = true
				break
			}
			time.Sleep(time.Millisecond)
		}
		if !gone {
			t.Errorf("thread %d still exists", tid)
		}
	}
	defer func() {
		if r := recover(); r != "inner" {
			t.Errorf("recovered %v, want the panic of f", r)
		}
	}()
	engine.OnDiscardedThread(func() (int, error) { panic("inner") })
	t.Error("no panic")
}
