//go:build !linux

package cpu

// releaseFilePages is a no-op where /proc/self/maps is not available, and
// reports that w is not known to be a read-only file mapping.
func releaseFilePages([]float32) bool { return false }

func fileMapped([]float32) bool { return false }

func dropPages([]float32) {}

// tempFloats is n floats of scratch, left to the garbage collector.
func tempFloats(n int) ([]float32, func(), error) { return make([]float32, n), func() {}, nil }
