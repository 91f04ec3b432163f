//go:build cudaemu && !cuda

package cuda

import "testing"

// TestAttnTCSmemLayout checks that the Go side's shared memory size for the
// tensor-core attention kernel is the kernel's own layout.
func TestAttnTCSmemLayout(t *testing.T) {
	for _, hd := range []int{32, 64, 128} {
		if got, want := attnTCSmem(hd), emuAttnTCSmem(hd); got != want {
			t.Errorf("hd %d: Go says %d bytes, the kernel's layout %d", hd, got, want)
		}
	}
}
