package kernels

import "testing"

func TestGemmSpans(t *testing.T) {
	if Span(3, 4, 10) != 24 || Span(0, 4, 10) != 0 || Span(1, 4, 10) != 4 {
		t.Error("Span")
	}
	// C[2,3] = A[2,4]·Bᵀ with B stored [3,4], padded rows.
	a, b, c, err := GemmSpans(false, true, 2, 3, 4, 5, 6, 7)
	if err != nil || a != 9 || b != 16 || c != 10 {
		t.Errorf("GemmSpans = %d, %d, %d, %v", a, b, c, err)
	}
	// Aᵀ stored [4,2].
	if a, _, _, err := GemmSpans(true, false, 2, 3, 4, 2, 3, 3); err != nil || a != 8 {
		t.Errorf("transposed A: %d, %v", a, err)
	}
	for _, bad := range [][6]int{{-1, 3, 4, 4, 3, 3}, {2, 3, 4, 3, 3, 3}, {2, 3, 4, 4, 2, 3}, {2, 3, 4, 4, 3, 2}} {
		if _, _, _, err := GemmSpans(false, false, bad[0], bad[1], bad[2], bad[3], bad[4], bad[5]); err == nil {
			t.Errorf("GemmSpans%v: no error", bad)
		}
	}
}
