package cuda

import (
	"reflect"
	"testing"
)

func TestEwBlocks(t *testing.T) {
	for _, c := range []struct {
		n         int64
		sms, want int
	}{{1, 132, 1}, {256, 132, 1}, {257, 132, 2}, {1 << 30, 132, 132 * 16}, {1000, 0, 4}} {
		if got := ewBlocks(c.n, c.sms); got != c.want {
			t.Errorf("ewBlocks(%d, %d) = %d, want %d", c.n, c.sms, got, c.want)
		}
	}
}

func TestRowBlocks(t *testing.T) {
	if gx, gy := rowBlocks(100000, 768); gx != 3 || gy != maxGridY {
		t.Errorf("rowBlocks(100000, 768) = %d, %d", gx, gy)
	}
	if gx, gy := rowBlocks(1, 1); gx != 1 || gy != 1 {
		t.Errorf("rowBlocks(1, 1) = %d, %d", gx, gy)
	}
}

func TestNormVariant(t *testing.T) {
	for cols, want := range map[int]int{1: 4, 128: 4, 129: 8, 384: 16, 768: 32, 1024: 32, 1025: 0, 4096: 0} {
		if got := normVariant(cols); got != want {
			t.Errorf("normVariant(%d) = %d, want %d", cols, got, want)
		}
	}
}

func TestPickGemm(t *testing.T) {
	if got := pickGemm(FP32, 16384, 3072, 132); got != cfgSIMT {
		t.Errorf("fp32: %+v", got)
	}
	if got := pickGemm(BF16, 16384, 3072, 132); got != cfgTCBig {
		t.Errorf("a large GEMM: %+v", got)
	}
	if got := pickGemm(BF16, 16384, 64, 132); got != cfgTCSmall {
		t.Errorf("an adapter down projection: %+v", got)
	}
	if got := pickGemm(FP16, 128, 768, 132); got != cfgTCSmall {
		t.Errorf("one short sequence (6 big tiles for 132 SMs): %+v", got)
	}
}

func TestRowTiles(t *testing.T) {
	got := rowTiles([]int{130, 0, 64, 1}, 64)
	want := []rowTile{{0, 0}, {0, 64}, {0, 128}, {2, 0}, {3, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rowTiles = %v, want %v", got, want)
	}
	if rowTiles(nil, 64) != nil {
		t.Error("no problems gave tiles")
	}
}

func TestPlanAttention(t *testing.T) {
	cases := []struct {
		p               Precision
		hd              int
		probs, blas, tc bool
		kernel          string
		qtile, threads  int
	}{
		{FP32, 64, false, true, true, "simt64", 32, 128},
		{FP32, 8, false, false, false, "simt32", 32, 128},
		{BF16, 64, false, true, true, "tc64", 64, 128},
		{FP16, 32, false, false, true, "tc32", 64, 128},
		{BF16, 64, false, true, false, "simt64", 32, 128}, // no room for the tensor-core kernel
		{BF16, 48, false, true, true, "simt64", 32, 128},
		{BF16, 64, true, false, true, "simt64", 32, 128},
		{FP32, 64, true, true, true, "blas", 0, 0},
		{FP16, 256, false, false, true, "simt256", 32, 128},
	}
	for _, c := range cases {
		got, err := planAttention(c.p, c.hd, c.probs, c.blas, c.tc)
		if err != nil || got.kernel != c.kernel || got.qtile != c.qtile || got.threads != c.threads {
			t.Errorf("planAttention(%s, %d, probs %v, blas %v, tc %v) = %+v, %v; want %s", c.p, c.hd, c.probs, c.blas,
				c.tc, got, err, c.kernel)
		}
	}
	if _, err := planAttention(FP32, 300, false, false, false); err == nil {
		t.Error("head dimension 300 accepted")
	}
}

func TestAttnTCSmem(t *testing.T) {
	// The kernel opts into dynamic shared memory past 48 KiB; every head
	// dimension must fit the smallest opt-in of the GPUs it runs on (A100:
	// 163 KiB).
	for _, hd := range []int{32, 64, 128} {
		if s := attnTCSmem(hd); s <= 48<<10 || s > 163<<10 {
			t.Errorf("hd %d: %d bytes", hd, s)
		}
	}
}

func TestChunks(t *testing.T) {
	if got := chunks(10, 4); !reflect.DeepEqual(got, [][2]int{{0, 4}, {4, 8}, {8, 10}}) {
		t.Errorf("chunks(10, 4) = %v", got)
	}
	if chunks(0, 4) != nil {
		t.Error("chunks(0, 4) not empty")
	}
	if got := batchChunks(70000); len(got) != 2 || got[1] != [2]int{maxGridY, 70000} {
		t.Errorf("batchChunks(70000) = %v", got)
	}
}

func TestAligned16(t *testing.T) {
	for _, c := range []struct {
		addr   uint64
		ld, es int
		want   bool
	}{{0x1000, 768, 2, true}, {0x1002, 768, 2, false}, {0x1000, 33, 2, false}, {0x1000, 4, 4, true}, {0x1000, 8, 2, true}} {
		if got := aligned16(c.addr, c.ld, c.es); got != c.want {
			t.Errorf("aligned16(%#x, %d, %d) = %v", c.addr, c.ld, c.es, got)
		}
	}
}
