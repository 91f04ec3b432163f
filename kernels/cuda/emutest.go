//go:build cudaemu && !cuda

package cuda

import (
	"testing"

	"github.com/rs/zerolog"
)

// OpenEmulatedTest returns an emulated backend for a test on a machine
// without a GPU, closed when the test ends (a failed Close fails it): the
// set-up of every *CUDAEmulated test, here and in the engine's packages.
func OpenEmulatedTest(t testing.TB, opts Options) *Backend {
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
