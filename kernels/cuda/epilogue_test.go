package cuda

import (
	"testing"

	"github.com/adapterdb/adapterdb/kernels"
)

func TestPickEpilogue(t *testing.T) {
	type want struct {
		epi   epilogue
		rest  kernels.Act
		fused bool
	}
	for _, c := range []struct {
		act  kernels.Act
		bias bool
		want want
	}{
		{kernels.ActNone, true, want{epiBias, kernels.ActNone, true}},
		{kernels.ActNone, false, want{epiDefault, kernels.ActNone, false}},
		{kernels.ActGELUTanh, true, want{epiGELUBias, kernels.ActNone, true}},
		{kernels.ActGELUTanh, false, want{epiGELU, kernels.ActNone, true}},
		{kernels.ActReLU, true, want{epiReLUBias, kernels.ActNone, true}},
		{kernels.ActReLU, false, want{epiReLU, kernels.ActNone, true}},
		// cuBLASLt's GELU is the tanh form: the exact GELU (BERT's) keeps its
		// own pass after a bias epilogue, as does tanh.
		{kernels.ActGELU, true, want{epiBias, kernels.ActGELU, true}},
		{kernels.ActGELU, false, want{epiDefault, kernels.ActGELU, false}},
		{kernels.ActTanh, true, want{epiBias, kernels.ActTanh, true}},
	} {
		epi, rest, fused := pickEpilogue(c.act, c.bias)
		if got := (want{epi, rest, fused}); got != c.want {
			t.Errorf("pickEpilogue(%v, bias=%v) = %v, %v, %v; want %v, %v, %v", c.act, c.bias, epi, rest, fused,
				c.want.epi, c.want.rest, c.want.fused)
		}
	}
}

func TestVec4AndNorm4Variant(t *testing.T) {
	for _, c := range []struct {
		addr         uint64
		n, ld, esize int
		want         bool
	}{
		{256, 768, 768, 2, true},
		{256 + 8, 768, 768, 2, true},  // 8-byte aligned: four 16-bit values
		{256 + 4, 768, 768, 2, false}, // two values off
		{256 + 8, 768, 768, 4, false}, // fp32 needs 16 bytes
		{256, 770, 770, 2, false},
		{256, 768, 771, 2, false},
	} {
		if got := vec4(c.addr, c.n, c.ld, c.esize); got != c.want {
			t.Errorf("vec4(%d, n=%d, ld=%d, esize=%d) = %v", c.addr, c.n, c.ld, c.esize, got)
		}
	}
	for cols, want := range map[int]int{4: 1, 128: 1, 132: 2, 384: 3, 512: 4, 768: 6, 1024: 8, 1028: 0, 98: 0, 0: 0} {
		if got := norm4Variant(cols); got != want {
			t.Errorf("norm4Variant(%d) = %d, want %d", cols, got, want)
		}
	}
}
