/* kern.h: the C kernels of the cpu backend. Each function is compiled three
   times (kern_avx512.c, kern_avx2.c, kern_generic.c) from kern_impl.h; the Go
   side picks one table at run time from the CPU's features. Sizes are long;
   every matrix is row-major float32 with an explicit row stride. */
#ifndef ADAPTERDB_KERN_H
#define ADAPTERDB_KERN_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FTZ_ON ... FTZ_OFF runs a kernel with denormals flushed to zero (MXCSR FTZ
   and DAZ, restored after; each thread has its own MXCSR): a denormal
   result, say GELU(-13) or an exponential deep in a softmax tail, costs a
   microcode assist of ~100 cycles on x86, and a GEMM output with many of
   them made a bias+GELU pass 10x slower. */
#if defined(__x86_64__)
#include <xmmintrin.h>
#define FTZ_ON                               \
	unsigned int csr_ = _mm_getcsr(); \
	_mm_setcsr(csr_ | 0x8040);
#define FTZ_OFF _mm_setcsr(csr_);
#else
#define FTZ_ON
#define FTZ_OFF
#endif

enum { KACT_NONE = 0, KACT_GELU = 1, KACT_GELU_TANH = 2, KACT_TANH = 3, KACT_RELU = 4 };

/* One multi-head attention call; see kernels.Attn. */
typedef struct {
	long batch, seq, heads, hd;
	int causal;
	float scale;
} kattn;

/* One AdamW step's scalars: learning rate, weight decay (0 for tensors
   without), the bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ, and what the gradients
   are multiplied by first (clipping). */
typedef struct {
	double lr, wd, c1, c2;
	float gscale;
} kadamw;

typedef struct {
	const char *isa;
	/* y[i] = act(x[i]), y may alias x. */
	void (*act_fwd)(float *y, const float *x, long n, int act);
	/* dx[i] = dy[i]·act'(x[i]), dx may alias dy. */
	void (*act_bwd)(float *dx, const float *x, const float *dy, long n, int act);
	/* y[r,:n] = act(y[r,:n] + bias) for r < rows; bias may be NULL. */
	void (*bias_act)(float *y, long ldy, long rows, long n, const float *bias, int act);
	/* y[r,:n] = bias for r < rows. */
	void (*bias_fill)(float *y, long ldy, long rows, long n, const float *bias);
	/* y = a + b. */
	void (*add)(float *y, const float *a, const float *b, long n);
	/* Row-wise s = a + b (b may be NULL), sum = s (sum may be NULL),
	   y = LayerNorm(s)·gamma + beta. Returns -1 when out of memory. */
	int (*addnorm)(float *y, float *sum, const float *a, const float *b, long rows, long cols,
	               float eps, const float *gamma, const float *beta);
	/* Backward of y = LayerNorm(x)·gamma + beta over rows: dx (+)= ∂L/∂x,
	   dgamma += Σ dy·x̂ and dbeta += Σ dy (each may be NULL). */
	void (*norm_bwd)(float *dx, const float *dy, const float *x, long rows, long cols, float eps,
	                 const float *gamma, float *dgamma, float *dbeta, int accumulate);
	/* out[j] += Σ_r y[r*n + j]. */
	void (*colsum)(float *out, const float *y, long rows, long n);
	/* y[i,:] (+)= table[ids[i],:] for i < count. */
	void (*embed)(float *y, const float *table, const int32_t *ids, long count, long cols, int add);
	/* embed over a bfloat16 table, each value widened to float32 exactly. */
	void (*embed_bf16)(float *y, const uint16_t *table, const int32_t *ids, long count, long cols, int add);
	/* Attention over the (batch, head) units [u0, u1), unit = b*heads + h.
	   Returns -1 when out of memory. */
	int (*attn_fwd)(float *ctx, const float *qkv, const uint8_t *mask, float *probs, const kattn *a,
	                long u0, long u1);
	/* attn_fwd with q·kᵀ and p·v in bf16 (AVX512_BF16, float32 sums), for
	   cpu:bf16 inference: no causal mask, no probs, hd a multiple of 32. NULL
	   in the tables compiled without AVX-512; call only where the CPU has
	   AVX512_BF16. Returns -1 when out of memory. */
	int (*attn_fwd_bf16)(float *ctx, const float *qkv, const uint8_t *mask, const kattn *a, long u0, long u1);
	/* Its backward: writes dq, dk, dv of the units' rows and heads in dqkv. */
	int (*attn_bwd)(float *dqkv, const float *dctx, const float *qkv, const float *probs,
	                const uint8_t *mask, const kattn *a, long u0, long u1);
	/* Attention for the query at row rows[b] of each sequence b in [b0, b1)
	   only: ctx [batch, heads·hd], probs [batch, heads, seq] (may be NULL).
	   Returns -1 when out of memory. */
	int (*attn_rows_fwd)(float *ctx, const float *qkv, const uint8_t *mask, const int32_t *rows, float *probs,
	                     const kattn *a, long b0, long b1);
	/* Its backward: writes all of those sequences' rows of dqkv [batch·seq,
	   3·heads·hd]. */
	int (*attn_rows_bwd)(float *dqkv, const float *dctx, const float *qkv, const float *probs, const uint8_t *mask,
	                     const int32_t *rows, const kattn *a, long b0, long b1);
	/* AdamW (β = 0.9, 0.999; ε = 1e-8; float64 arithmetic) over n values:
	   g' = g·gscale, m = β₁m + (1−β₁)g', v = β₂v + (1−β₂)g'²,
	   w −= lr·(m/c1/(√(v/c2) + ε) + wd·w), then g = 0. */
	void (*adamw)(float *w, float *g, float *m, float *v, long n, const kadamw *p);
	/* Σ x² in float64, summed in a fixed order. */
	double (*sumsq)(const float *x, long n);
	/* cpu:int8's activations: each row of x [rows,k] quantised on its own,
	   asymmetrically to uint8: x ≈ sx[r]·(xq[r,:] − zp[r]), with the row's
	   range (widened to hold 0) spread over 0..255. */
	void (*q8_quant)(uint8_t *xq, float *sx, int32_t *zp, const float *x, long rows, long k);
	/* cpu:int8's epilogue: acc [rows,n] holds Σ_k xq·wq (int32, exact);
	   y[r,j] = act(sx[r]·sw[j]·(acc[r,j] − zp[r]·colsum[j]) + bias[j]),
	   colsum[j] = Σ_k wq[k,j]. bias may be NULL. */
	void (*q8_out)(float *y, long ldy, const int32_t *acc, long rows, long n, const float *sx, const int32_t *zp,
	               const float *sw, const int32_t *colsum, const float *bias, int act);
} kern_ops;

/* kern_ops_for returns the table for level 2 (AVX-512), 1 (AVX2+FMA) or 0
   (baseline x86-64 or any other architecture). */
const kern_ops *kern_ops_for(int level);

#endif
