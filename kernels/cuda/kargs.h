/* kargs.h: the argument block of every kernel, shared by the CUDA sources and
   the Go launcher (which includes it through cgo, so both sides agree on the
   layout by construction). Each kernel takes one of these structs by value.
   Device addresses are dptr_t; a zero address means "absent" where a comment
   says so. Sizes are element counts, not bytes. */
#ifndef ADB_KARGS_H
#define ADB_KARGS_H

#include <stdint.h>

typedef uint64_t dptr_t;

/* Activation codes: the same numbers as kernels.Act. */
enum { KACT_NONE = 0, KACT_GELU = 1, KACT_GELU_TANH = 2, KACT_TANH = 3, KACT_RELU = 4 };

/* y[i] = act(x[i]) for i < n. */
typedef struct {
	dptr_t y, x;
	int64_t n;
	int32_t act, _pad;
} kAct;

/* y[i] = a[i] + b[i] for i < n. */
typedef struct {
	dptr_t y, a, b;
	int64_t n;
} kAdd;

/* y[r, j] = act(y[r, j] + bias[j]) for r < rows, j < n (bias 0: none);
   fill != 0 writes y[r, j] = bias[j] instead (act ignored). */
typedef struct {
	dptr_t y, bias;
	int32_t rows, n, ldy, act, fill, _pad;
} kBiasAct;

/* One segment of a segmented LayerNorm: rows from row0 on use gamma/beta. */
typedef struct {
	int32_t row0, _pad;
	dptr_t gamma, beta;
} kNormSeg;

/* sum = a + b (b 0: sum = a), y = LayerNorm(sum)·gamma + beta row by row.
   sum 0: not stored. nsegs 1: gamma/beta are the arguments; otherwise segs
   points to nsegs kNormSeg sorted by row0 (the first has row0 0). */
typedef struct {
	dptr_t y, sum, a, b, gamma, beta, segs;
	int32_t rows, cols, nsegs;
	float eps;
} kNorm;

/* y[i, :] = table[ids[i], :] (add: +=) for i < count; ids int32 on the device. */
typedef struct {
	dptr_t y, table, ids;
	int32_t count, cols, add, _pad;
} kEmbed;

/* Fused multi-head attention (see kernels.Attn). mask: B·T bytes on the
   device, 1 for real tokens. probs 0: not stored. */
typedef struct {
	dptr_t ctx, qkv, mask, probs;
	int32_t B, T, H, hd, causal;
	float scale;
} kAttn;

/* Masked softmax in place over rows of p [B, H, T, T] (already scaled). */
typedef struct {
	dptr_t p, mask;
	int32_t B, T, H, causal;
} kSoftmax;

/* One problem of a grouped GEMM: its A, B, C and bias (0: none) and rows. */
typedef struct {
	dptr_t a, b, c, bias;
	int32_t m, _pad;
} kGemmProb;

/* One row tile of a grouped GEMM: problem index and first row. */
typedef struct {
	int32_t prob, row0;
} kGemmTile;

/* C = act(alpha·op(A)·op(B) + beta·C + bias) with op(A) [m, k], op(B) [k, n],
   C [m, n], row-major with leading dimensions lda, ldb, ldc. beta 0 never
   reads C. Direct mode (tiles 0): one problem given by a, b, c, bias, m and
   gridDim.y row tiles. Grouped mode: gridDim.y = ntiles entries of tiles,
   each naming one of the problems in probs (same n, k, strides, flags). */
typedef struct {
	dptr_t a, b, c, bias;
	dptr_t probs, tiles;
	int32_t m, n, k;
	int32_t lda, ldb, ldc;
	int32_t ta, tb, act, ntiles;
	int32_t vec_a, vec_b; /* 1: rows of A / B are 16-byte aligned, 8 (16-bit) or 4 (fp32) values may be loaded at once */
	float alpha, beta;
} kGemm;

#endif
