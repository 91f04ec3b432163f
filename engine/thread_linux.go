package engine

import "syscall"

// onMainThread says whether the calling goroutine runs on the process's
// main thread (whose thread id is the process id), which the runtime never
// ends.
func onMainThread() bool { return syscall.Gettid() == syscall.Getpid() }
