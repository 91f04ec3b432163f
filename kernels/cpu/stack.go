package cpu

import (
	"fmt"
	"slices"

	"github.com/adapterdb/adapterdb/kernels"
)

// stack is a weight matrix made by Stack, kept as its parts ([n, k] each,
// OutIn, rows of the parts in order). oneDNN packs it as one matrix, so
// its packed copy is the only whole one in memory (a stacked copy of the
// checkpoint's q, k and v would cost 0.2× a BERT-base checkpoint on top);
// without oneDNN, Linear and Gemm run part by part.
type stack struct {
	parts [][]float32
	bufs  []kernels.Buffer // the parts as given, freed with the stack
	n, k  int              // of each part
}

func (s *stack) Len() int { return len(s.parts) * s.n * s.k }

// free drops the stack's packed copies and frees its parts.
func (s *stack) free(be *Backend) {
	if be.dnn != nil {
		be.dnn.free(s.weight())
	}
	for _, b := range s.bufs {
		be.Free(b)
	}
	s.bufs = nil
}

// weight is the stack as oneDNN's weight cache sees it.
func (s *stack) weight() weight { return weight{parts: s.parts} }

// Stack keeps parts as one [len(parts)·n, k] weight (see kernels.Backend).
func (be *Backend) Stack(parts []kernels.Buffer, n, k int) kernels.Buffer {
	if len(parts) == 0 || n <= 0 || k <= 0 {
		panic(fmt.Sprintf("cpu: stack of %d parts of [%d, %d]", len(parts), n, k))
	}
	s := &stack{n: n, k: k, bufs: slices.Clone(parts)}
	for _, p := range parts {
		if p.Len() != n*k {
			panic(fmt.Sprintf("cpu: stack part of %d values, want [%d, %d]", p.Len(), n, k))
		}
		w := need(p, n*k, "stack part")
		s.parts = append(s.parts, w[:n*k:n*k])
	}
	return s
}

// linearStack is Linear over a stacked weight: one oneDNN product over the
// whole stack, else a product per part into its columns of y.
func (be *Backend) linearStack(y []float32, ldy int, x []float32, m, n, k int, s *stack, layout kernels.Layout,
	bias []float32, act kernels.Act) {
	if layout != kernels.OutIn || n != len(s.parts)*s.n || k != s.k {
		panic(fmt.Sprintf("cpu: linear of size %d×%d×%d (layout %d) over a stack of %d [%d, %d] parts",
			m, n, k, layout, len(s.parts), s.n, s.k))
	}
	if be.dnn != nil && be.linearDNN(y, ldy, x, m, n, k, s.weight(), false, bias, act) {
		return
	}
	for j, w := range s.parts {
		var b []float32
		if bias != nil {
			b = bias[j*s.n : (j+1)*s.n]
		}
		be.linear(y[j*s.n:], ldy, x, m, s.n, k, w, true, k, b, act, false)
	}
}

// gemmStack is Gemm with a stacked B ([N, K] as stored, N = len(parts)·n):
// on the weight oneDNN packed for Linear, else a product per part.
func (be *Backend) gemmStack(tA, tB bool, m, n, k int, alpha float32, a kernels.Buffer, lda int, s *stack, ldb int,
	beta float32, c kernels.Buffer, ldc int) {
	N, K := len(s.parts)*s.n, s.k
	if ldb != K || (tB && (n != N || k != K)) || (!tB && (k != N || n != K)) {
		panic(fmt.Sprintf("cpu: gemm %d×%d×%d (tB %v, ldb %d) over a stack of %d [%d, %d] parts",
			m, n, k, tB, ldb, len(s.parts), s.n, s.k))
	}
	na, _, nc, err := kernels.GemmSpans(tA, tB, m, n, k, lda, ldb, ldc)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	as, cs := need(a, na, "gemm A"), need(c, nc, "gemm C")
	if be.dnn != nil && be.gemmFrozen(tA, tB, m, n, k, alpha, as, lda, s.weight(), ldb, beta, cs, ldc) {
		return
	}
	for j, w := range s.parts {
		if tB {
			// C's columns of part j: op(A)·W_jᵀ.
			be.gemm(tA, true, m, s.n, k, alpha, as, lda, w, K, beta, cs[j*s.n:], ldc)
			continue
		}
		// C (+)= op(A)'s columns of part j · W_j.
		aj := as[j*s.n:]
		if tA {
			aj = as[j*s.n*lda:]
		}
		bj := beta
		if j > 0 {
			bj = 1
		}
		be.gemm(tA, false, m, n, s.n, alpha, aj, lda, w, K, bj, cs, ldc)
	}
}
