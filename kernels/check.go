package kernels

import "fmt"

// Span is how many values a row-major [rows, cols] matrix with row stride ld
// occupies: the last row needs only cols.
func Span(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// GemmSpans checks the sizes and leading dimensions of
// C[m,n] = op(A)·op(B) (op(A) [m,k], op(B) [k,n], row-major) and returns how
// many values A, B and C occupy. Backends panic on the error: it is a
// programming error, never a user's.
func GemmSpans(tA, tB bool, m, n, k, lda, ldb, ldc int) (a, b, c int, err error) {
	if m < 0 || n < 0 || k < 0 {
		return 0, 0, 0, fmt.Errorf("gemm of negative size %d×%d×%d", m, n, k)
	}
	ar, ac := m, k // A as stored
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	if lda < max(1, ac) || ldb < max(1, bc) || ldc < max(1, n) {
		return 0, 0, 0, fmt.Errorf("gemm leading dimensions %d, %d, %d too small for %d×%d×%d (tA %v, tB %v)",
			lda, ldb, ldc, m, n, k, tA, tB)
	}
	return Span(ar, ac, lda), Span(br, bc, ldb), Span(m, n, ldc), nil
}
