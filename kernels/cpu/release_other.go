//go:build !linux

package cpu

// releaseFilePages is a no-op where /proc/self/maps is not available.
func releaseFilePages([]float32) {}

// tempFloats is n floats of scratch, left to the garbage collector.
func tempFloats(n int) ([]float32, func(), error) { return make([]float32, n), func() {}, nil }
