//go:build cuda

package cuda

import (
	"os"
	"testing"

	"github.com/rs/zerolog"
)

// openTest opens GPU 0, or skips the test where there is none, unless
// ADAPTERDB_REQUIRE_GPU is set (the device check), where that fails it.
func openTest(t testing.TB, opts Options) *Backend {
	t.Helper()
	be, err := New(zerolog.Nop(), opts)
	if err != nil {
		if os.Getenv("ADAPTERDB_REQUIRE_GPU") != "" {
			t.Fatalf("ADAPTERDB_REQUIRE_GPU is set and the GPU cannot be opened: %v", err)
		}
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return be
}

// emulated says whether tests run on the CPU emulator (they do not here).
const emulated = false
