package cuda

import "github.com/adapterdb/adapterdb/kernels"

// Planning for the fused forward pass: which cuBLASLt epilogue a Linear
// takes, and when the vectorised element-wise kernels (kern_fused.h) apply.
// Pure functions of shapes and addresses, tested everywhere.

// epilogue is a cuBLASLt epilogue (cublasLtEpilogue_t's values).
type epilogue int

const (
	epiDefault  epilogue = 1  // CUBLASLT_EPILOGUE_DEFAULT: none
	epiReLU     epilogue = 2  // CUBLASLT_EPILOGUE_RELU
	epiBias     epilogue = 4  // CUBLASLT_EPILOGUE_BIAS: + bias per output column (row-major)
	epiReLUBias epilogue = 6  // CUBLASLT_EPILOGUE_RELU_BIAS
	epiGELU     epilogue = 32 // CUBLASLT_EPILOGUE_GELU: the tanh approximation
	epiGELUBias epilogue = 36 // CUBLASLT_EPILOGUE_GELU_BIAS
)

func (e epilogue) String() string {
	switch e {
	case epiDefault:
		return "default"
	case epiReLU:
		return "relu"
	case epiBias:
		return "bias"
	case epiReLUBias:
		return "relu+bias"
	case epiGELU:
		return "gelu-tanh"
	case epiGELUBias:
		return "gelu-tanh+bias"
	}
	return "epilogue?"
}

// pickEpilogue maps a Linear's bias and activation onto a cuBLASLt epilogue
// and the activation left for a pass after the GEMM (ActNone: none).
// cuBLASLt's GELU is the tanh approximation, so it serves ActGELUTanh only;
// the exact erf GELU (BERT's) and tanh keep their own kernel after a bias
// epilogue. fused is false where the epilogue would do nothing (no bias, no
// activation it has): the plain GEMM serves.
func pickEpilogue(act kernels.Act, bias bool) (epi epilogue, rest kernels.Act, fused bool) {
	switch act {
	case kernels.ActNone:
		if bias {
			return epiBias, kernels.ActNone, true
		}
		return epiDefault, kernels.ActNone, false
	case kernels.ActGELUTanh:
		if bias {
			return epiGELUBias, kernels.ActNone, true
		}
		return epiGELU, kernels.ActNone, true
	case kernels.ActReLU:
		if bias {
			return epiReLUBias, kernels.ActNone, true
		}
		return epiReLU, kernels.ActNone, true
	}
	if bias {
		return epiBias, act, true
	}
	return epiDefault, act, false
}

// vec4 says whether rows of n values at stride ld from addr can be moved
// four values at a time (kern_fused.h's load4/store4): n and ld multiples
// of four, addr aligned to four values.
func vec4(addr uint64, n, ld, esize int) bool {
	return n%4 == 0 && ld%4 == 0 && addr%uint64(4*esize) == 0
}

// norm4Variants are the vectorised AddNorm kernels: groups of four values
// per lane (k_norm4v<NV>), each serving rows of up to 128·NV values.
var norm4Variants = []int{1, 2, 3, 4, 6, 8}

// norm4Variant picks the vectorised AddNorm kernel for rows of cols values,
// or 0 where none applies (cols not a multiple of four, or wider than
// 1024): the scalar kernels serve.
func norm4Variant(cols int) int {
	if cols <= 0 || cols%4 != 0 {
		return 0
	}
	for _, nv := range norm4Variants {
		if cols <= 128*nv {
			return nv
		}
	}
	return 0
}

// flashHeadDims are the head dimensions of kern_flash.h's attention.
var flashHeadDims = []int{32, 64, 128}

// flashFits says whether the flash kernel can read qkv [·, 3D] and write ctx
// [·, D] (D = H·hd): 16-byte loads along qkv's rows and head slices, 4-byte
// stores into ctx.
func flashFits(qkv, ctx uint64, D, hd, esize int) bool {
	return qkv%16 == 0 && (3*D*esize)%16 == 0 && (hd*esize)%16 == 0 && ctx%4 == 0 && (D*esize)%4 == 0
}
