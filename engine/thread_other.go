//go:build !linux

package engine

// onMainThread is false where the main thread cannot be told apart: there
// OnDiscardedThread may land on it (libgomp, the reason for discarding
// threads, is a Linux library).
func onMainThread() bool { return false }
