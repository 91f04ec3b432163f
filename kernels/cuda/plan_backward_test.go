package cuda

import "testing"

func TestColChunks(t *testing.T) {
	for _, rows := range []int{0, 1, 31, 32, 33, 100, 2047, 2048, 4096, 100000} {
		cr, n := colChunks(rows)
		if rows == 0 {
			if n != 0 {
				t.Errorf("colChunks(0) = %d chunks", n)
			}
			continue
		}
		if n < 1 || n > maxColChunks || cr*n < rows || cr*(n-1) >= rows {
			t.Errorf("colChunks(%d) = %d chunks of %d rows: must cover the rows, each chunk non-empty, at most %d", rows, n, cr, maxColChunks)
		}
		if rows >= 32 && cr < 32 && n > 1 {
			t.Errorf("colChunks(%d): chunks of %d rows (want ≥ 32)", rows, cr)
		}
	}
}
