package cuda

import "fmt"

// Launch planning: pure functions from shapes to grids, tiles and kernel
// variants, kept free of device calls so that they are tested everywhere.

const (
	ewThreads   = 256 // element-wise kernels (kern_entry.h EW_THREADS)
	normWarps   = 8   // rows per AddNorm block: one warp each
	maxGridY    = 65535
	maxHeadDim  = 256 // attn_simt's widest instantiation
	simtThreads = 256 // gemm_simt
)

// ewBlocks sizes a grid-stride element-wise launch over n values: enough
// blocks to fill the device several times over, no more.
func ewBlocks(n int64, sms int) int {
	want := (n + ewThreads - 1) / ewThreads
	limit := int64(max(sms, 1) * 16)
	return int(max(1, min(want, limit)))
}

// rowBlocks sizes a launch that walks rows on gridDim.y (bias epilogue,
// embeddings) and columns on gridDim.x.
func rowBlocks(rows, cols int) (gx, gy int) {
	gx = max(1, min((cols+ewThreads-1)/ewThreads, 64))
	gy = max(1, min(rows, maxGridY))
	return gx, gy
}

// normVariant picks the AddNorm kernel: values per lane kept in registers
// (cols ≤ 32·vpl), or 0 for the streaming kernel of wider rows.
func normVariant(cols int) int {
	for _, vpl := range []int{4, 8, 16, 32} {
		if cols <= 32*vpl {
			return vpl
		}
	}
	return 0
}

// gemmCfg is one GEMM kernel and its tile of C.
type gemmCfg struct {
	kernel  string // gemm_simt, gemm_tc_big or gemm_tc_small (kern_gemm.h)
	bm, bn  int
	threads int
}

var (
	cfgSIMT    = gemmCfg{"simt", 64, 64, simtThreads}
	cfgTCBig   = gemmCfg{"tc_big", 128, 128, 256}
	cfgTCSmall = gemmCfg{"tc_small", 64, 64, 128}
)

// pickGemm chooses the kernel for an m×n output: fp32 runs the exact SIMT
// kernel; 16-bit storage the tensor-core kernel, with big tiles only when
// they still give every multiprocessor a block and n is not a thin adapter
// projection.
func pickGemm(p Precision, m, n, sms int) gemmCfg {
	if p == FP32 {
		return cfgSIMT
	}
	big := ceilDiv(m, cfgTCBig.bm) * ceilDiv(n, cfgTCBig.bn)
	if n > 64 && big >= sms {
		return cfgTCBig
	}
	return cfgTCSmall
}

// rowTile is one block row of a grouped GEMM: problem index, first row.
type rowTile struct{ prob, row0 int32 }

// rowTiles cuts problems of ms[i] rows into tiles of bm rows, in order.
func rowTiles(ms []int, bm int) []rowTile {
	var t []rowTile
	for i, m := range ms {
		for r := 0; r < m; r += bm {
			t = append(t, rowTile{int32(i), int32(r)})
		}
	}
	return t
}

// attnPlan is how one Attention call runs.
type attnPlan struct {
	kernel  string // "simt<hdmax>", "tc<hd>" or "blas" (materialised scores)
	qtile   int    // queries per block (fused kernels)
	threads int
}

// planAttention picks the attention path. Stored probabilities (training
// passes) with cuBLAS present take the materialised path: scores by strided
// batched GEMM per head, a masked softmax, the context by a second batched
// GEMM. Otherwise the fused kernels run: on the tensor cores for 16-bit
// storage and head dims 32, 64 or 128, on the exact SIMT kernel otherwise.
// tc says whether the tensor-core kernel for hd loaded (its shared memory
// fits the device).
func planAttention(p Precision, hd int, probs, blas, tc bool) (attnPlan, error) {
	if hd > maxHeadDim {
		return attnPlan{}, fmt.Errorf("attention head dimension %d exceeds the %d this backend supports", hd, maxHeadDim)
	}
	if probs && blas {
		return attnPlan{kernel: "blas"}, nil
	}
	if p != FP32 && !probs && tc && (hd == 32 || hd == 64 || hd == 128) {
		return attnPlan{kernel: fmt.Sprintf("tc%d", hd), qtile: 64, threads: 128}, nil
	}
	for _, w := range []int{32, 64, 128, 256} {
		if hd <= w {
			return attnPlan{kernel: fmt.Sprintf("simt%d", w), qtile: 32, threads: 128}, nil
		}
	}
	panic("unreachable")
}

// attnTCSmem is the dynamic shared memory of the tensor-core attention
// kernel for head dimension hd: kern_attention.h's attn_tc_smem layout
// (Q, K, V tiles, fp32 scores, 16-bit weights, fp32 output, row statistics).
func attnTCSmem(hd int) int {
	lq, ls, lp, lo := hd+8, 64+4, 64+8, hd+4
	return 3*64*lq*2 + 64*ls*4 + 64*lp*2 + 64*lo*4 + 3*64*4
}

// chunks splits [0, total) into pieces of at most size: bulk transfers go
// through fixed pinned buffers.
func chunks(total, size int) [][2]int {
	var c [][2]int
	for off := 0; off < total; off += size {
		c = append(c, [2]int{off, min(total, off+size)})
	}
	return c
}

// batchChunks splits B sequences into launches of at most maxGridY (the
// grid's z limit for attention).
func batchChunks(b int) [][2]int { return chunks(b, maxGridY) }

// aligned16 says whether a 16-bit or fp32 matrix can be read 16 bytes at a
// time along its rows: base address and row stride are multiples of 16.
func aligned16(addr uint64, ld, esize int) bool {
	return addr%16 == 0 && (ld*esize)%16 == 0
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
