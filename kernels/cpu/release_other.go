//go:build !linux

package cpu

// releaseFilePages is a no-op where /proc/self/maps is not available.
func releaseFilePages([]float32) {}
