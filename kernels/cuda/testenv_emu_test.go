//go:build cudaemu && !cuda

package cuda

import "testing"

// openTest returns the emulated backend for tests on machines without a GPU.
func openTest(t testing.TB, opts Options) *Backend { return OpenEmulatedTest(t, opts) }

// emulated says whether tests run on the CPU emulator (slow: sizes shrink).
const emulated = true
