//go:build cudaemu && !cuda

package cuda

import (
	"testing"

	"github.com/rs/zerolog"
)

// openTest returns the emulated backend for tests on machines without a GPU.
func openTest(t testing.TB, opts Options) *Backend {
	t.Helper()
	be, err := NewEmulated(zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return be
}

// emulated says whether tests run on the CPU emulator (slow: sizes shrink).
const emulated = true
