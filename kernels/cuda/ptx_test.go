package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// ptxSources are the files the embedded PTX is compiled from, in the order
// the Makefile's KSRC hashes them.
var ptxSources = []string{"kernels.cu", "kern_entry.h", "kern_common.h", "kern_elementwise.h", "kern_attention.h",
	"kern_gemm.h", "kargs.h", "kern_fused.h", "kern_flash.h", "kern_backward.h", "kargs_backward.h", "kern_optim.h"}

// TestPTXUpToDate fails when a kernel source changed after the committed
// PTX was built: run `make ptx` (needs nvcc, see docs/cuda.md).
func TestPTXUpToDate(t *testing.T) {
	h := sha256.New()
	for _, f := range ptxSources {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	want, err := os.ReadFile("ptx/sources.sha256")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.TrimSpace(string(want)) {
		t.Fatalf("kernel sources changed since ptx/kernels.ptx.gz was built (sha256 %s, built from %s): run make ptx",
			got, strings.TrimSpace(string(want)))
	}
}
