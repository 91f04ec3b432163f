//go:build cudaemu && !cuda

package cuda

import (
	"fmt"
	"math"
)

// emuLt is the reference of cuBLASLt's epilogues for the emulator: the
// column-major GEMM of emuBLAS with the bias added and the activation
// applied in fp32 before C is rounded to the storage type, as cuBLASLt
// documents it. Its GELU is the tanh approximation, as cuBLASLt's.
type emuLt struct{ b *emuBLAS }

func (b *emuBLAS) epilogues() epilogueLib { return &emuLt{b: b} }

func (l *emuLt) name() string { return "emulated-cublaslt" }

func (l *emuLt) gemmEpilogue(tA, tB bool, m, n, k int, a devptr, lda int, bb devptr, ldb int, c devptr, ldc int,
	bias devptr, epi epilogue) (bool, error) {
	if m < 0 || n < 0 || k < 0 || lda < 1 || ldb < 1 || ldc < max(1, m) {
		return false, fmt.Errorf("invalid gemm arguments m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", m, n, k, lda, ldb, ldc)
	}
	hasBias := epi == epiBias || epi == epiReLUBias || epi == epiGELUBias
	if hasBias != (bias != 0) {
		return false, fmt.Errorf("epilogue %v with bias address %#x", epi, bias)
	}
	b := l.b
	for j := range n {
		for i := range m {
			var s float32
			for p := range k {
				ai, bi := i+p*lda, p+j*ldb
				if tA {
					ai = p + i*lda
				}
				if tB {
					bi = j + p*ldb
				}
				s = float32(math.FMA(float64(b.load(a, ai)), float64(b.load(bb, bi)), float64(s)))
			}
			if hasBias {
				s += b.load(bias, i)
			}
			switch epi {
			case epiReLU, epiReLUBias:
				s = max(s, 0)
			case epiGELU, epiGELUBias:
				u := float32(math.Sqrt(2/math.Pi)) * (s + 0.044715*s*s*s)
				s = 0.5 * s * (1 + float32(math.Tanh(float64(u))))
			}
			b.store(c, i+j*ldc, s)
		}
	}
	return true, nil
}
