/* kargs_backward.h: argument blocks of the backward (training) kernels in
   kern_backward.h, shared with the Go launcher (backward.go) as kargs.h is.
   Scratch buffers (stats, ds) are fp32 whatever the storage type. */
#ifndef ADB_KARGS_BACKWARD_H
#define ADB_KARGS_BACKWARD_H

#include "kargs.h"

/* dx[i] = dy[i]·act'(x[i]) for i < n (dx may alias dy). */
typedef struct {
	dptr_t dx, x, dy;
	int64_t n;
	int32_t act, _pad;
} kActBwd;

/* Column sums in two passes without atomics: the part kernel sums rows
   [c·chunk_rows, (c+1)·chunk_rows) of src [rows, n] for chunk c = blockIdx.y
   into part[c·n + j] (fp32); the finish kernel adds Σ_c part[c·n + j] to
   dst[j] (storage type) for j < n. */
typedef struct {
	dptr_t dst, src, part;
	int32_t rows, n, chunk_rows, chunks;
} kColSum;

/* LayerNorm backward over rows of cols values, y = (x − mean)·rstd·gamma + beta.
   stats: fp32 [rows, 2] (mean, rstd), written by k_norm_stats and read by the
   others. dx (accumulate: +=) = rstd·(g − mean(g) − x̂·mean(g·x̂)) with
   g = dy·gamma; gamma per row as in kNorm (nsegs 1: gamma; else segs, whose
   beta is unused). The params kernel sums dy·x̂ and dy over chunk c =
   blockIdx.y of rows [row0, row0 + rows) (chunk_rows each) into fp32
   part[c·cols + j] and part[(chunks + c)·cols + j]; the colsum finish kernel
   then adds them to the gain and bias gradients. */
typedef struct {
	dptr_t dx, dy, x, gamma, segs, stats, part;
	int32_t row0, rows, cols, nsegs, accumulate, chunk_rows, chunks;
	float eps;
} kNormBwd;

/* Attention backward (kernels.Attn): ds fp32 [B, H, T, T] holds
   P ⊙ (dP − rowsum(P ⊙ dP)) with dP = dctx·vᵀ; then
   dq = scale·ds·k, dk = scale·dsᵀ·q, dv = Pᵀ·dctx into dqkv [B·T, 3D].
   Queries and keys from one past the last real key of a sequence on get zero
   gradients (as the cpu backend). */
typedef struct {
	dptr_t dqkv, dctx, qkv, probs, mask, ds;
	int32_t B, T, H, hd;
	float scale;
	int32_t _pad;
} kAttnBwd;

/* One tensor of an AdamW state: weights w and gradient g in the storage
   type, fp32 master weights and moments m, v, all of n values. */
typedef struct {
	dptr_t w, g, master, m, v;
	int64_t n;
	int32_t decay, _pad;
} kAdamWTensor;

/* One AdamW step over count tensors (a device table of kAdamWTensor;
   blockIdx.y is the tensor): g·gscale, moments (β 0.9, 0.999), the master
   update at lr with bias corrections c1 = 1 − 0.9^t, c2 = 1 − 0.999^t and
   weight decay wd where the tensor's decay is set, w = master, g = 0. */
typedef struct {
	dptr_t tensors;
	int32_t count, _pad;
	float lr, wd, gscale;
	double c1, c2;
} kAdamW;

/* Σ g² of each tensor of a kAdamWTensor table: block b writes out[b] (fp32). */
typedef struct {
	dptr_t tensors, out;
	int32_t count, _pad;
} kSumSq;

#endif
