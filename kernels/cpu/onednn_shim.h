// The slice of oneDNN 2.x's C API that onednn.go uses, loaded with dlopen.
// Building needs no oneDNN headers: the types and constants below are
// copied from dnnl_types.h of oneDNN 2.6 (they are stable across 2.x; 3.x
// changed the memory descriptor to an opaque handle and is refused by the
// version check in dn_open).
#ifndef ADAPTERDB_ONEDNN_SHIM_H
#define ADAPTERDB_ONEDNN_SHIM_H

#include <stddef.h>
#include <stdint.h>

// dnnl_memory_desc_t is a 696-byte struct in 2.x; it is only ever handled
// through pointers and copied whole, so its fields are not declared.
#define DN_MD_SIZE 696
typedef struct {
	_Alignas(8) char b[DN_MD_SIZE];
} dn_md;

typedef struct dn_lib dn_lib;

// Precisions of packed weights (and of the matmul's source).
enum { DN_PREC_F32 = 0, DN_PREC_BF16 = 1, DN_PREC_INT8 = 2 };

// dn_weights is one weight matrix reordered into the blocked layout oneDNN's
// matmul picked for it: K×N (the matmul's weights), f32, bf16 or int8. int8
// weights are quantised per output column, symmetrically: W[:,j] ≈
// scale[j]·wq[:,j], and colsum[j] = Σ_k wq[k,j] undoes the source's zero
// point (kern.h's q8_out).
typedef struct {
	void *data;   // 64-byte aligned
	size_t bytes; // of data, and of scale and colsum for int8
	dn_md md;
	int n, k, prec;
	float *scale;    // [n], int8 only
	int32_t *colsum; // [n], int8 only
} dn_weights;

// dn_mm is a matmul primitive for one shape: y[m,n] (row stride ldy) =
// act(x[m,k]·W + bias).
typedef struct dn_mm dn_mm;

// dn_open loads the library at path, checks that it is oneDNN 2.x and
// creates a CPU engine and stream. On failure it returns NULL and writes
// the reason to err.
dn_lib *dn_open(const char *path, char *err, int errlen);
// dn_version is "major.minor.patch".
void dn_version(dn_lib *l, char *out, int outlen);

// dn_pack reorders w into the layout a matmul with m_hint rows prefers.
// layout 0: w is [n,k] (nn.Linear); 1: w is [k,n]. prec is a DN_PREC_*:
// bf16 rounds, int8 quantises.
dn_weights *dn_pack(dn_lib *l, const float *w, int n, int k, int inout, int prec, int m_hint, int threads,
	char *err, int errlen);
void dn_weights_free(dn_weights *w);

// dn_mm_create makes the primitive for m rows against packed weights;
// act is a kernels.Act (0 none, 1 gelu, 2 gelu_tanh, 3 tanh, 4 relu);
// accumulate adds the product to y (before act) instead of overwriting it.
// impl receives oneDNN's implementation name ("brg:avx512_core", ...).
// For int8 weights the primitive is the bare product of uint8 rows and the
// weights into int32 [m,n] (ldy, has_bias, act and accumulate are ignored):
// dn_q8_run adds the rest.
dn_mm *dn_mm_create(dn_lib *l, const dn_weights *w, int m, int ldy, int has_bias, int act, int accumulate,
	int threads, char *impl, int impllen, char *err, int errlen);
// dn_mm_run executes it on x and the weights' data w: a dn_weights' data for
// dn_mm_create's primitives, B for dn_gemm_create's. x is f32 [m,k], or bf16
// when the weights are bf16 (converted by the caller with dn_to_bf16).
// Returns 0 or -1, with the reason in err.
int dn_mm_run(dn_lib *l, dn_mm *mm, const void *x, const void *w, const float *bias, float *y, int threads,
	char *err, int errlen);
void dn_mm_free(dn_lib *l, dn_mm *mm);

// dn_q8_run is y[m,n] (row stride ldy) = act(x·W + bias) for int8
// weights w, with mm a dn_mm_create primitive of m rows: the rows of x
// [m,k] are quantised into xq (with sx, zp: kern.h's q8_quant), multiplied
// into acc [m,n] on oneDNN, and the epilogue (q8_out) writes y. The
// quantisation and the epilogue are split over threads on OpenMP's pool. ops are the C kernels
// (kern.h). Returns 0 or -1, with the reason in err.
int dn_q8_run(dn_lib *l, dn_mm *mm, const dn_weights *w, const float *x, int m, const float *bias, int act,
	float *y, int ldy, uint8_t *xq, float *sx, int32_t *zp, int32_t *acc, const void *ops,
	int threads, char *err, int errlen);

// dn_gemm_create makes a matmul primitive on plain f32 matrices, for
// weights that change (adapters, gradients) and are not worth packing:
// C[m,n] (row stride ldc) (+)= act(op(A)·op(B) + bias), A [m,k] with row
// stride lda (ta: stored [k,m]), B [k,n] with row stride ldb (tb: stored
// [n,k]). dn_mm_run runs it with A as x and B as w.
dn_mm *dn_gemm_create(dn_lib *l, int m, int n, int k, int ta, int tb, int lda, int ldb, int ldc, int has_bias,
	int act, int accumulate, int threads, char *impl, int impllen, char *err, int errlen);

// dn_to_bf16 rounds n floats to bfloat16 (nearest even; NaN stays NaN).
void dn_to_bf16(uint16_t *dst, const float *src, long n);
// dn_to_bf16_team is dn_to_bf16 in pieces of step values on nt threads of
// OpenMP's team (team.h says why), or on the caller without libgomp.
void dn_to_bf16_team(dn_lib *l, uint16_t *dst, const float *src, long n, long step, int nt);

// dn_gomp_parallel is libgomp's GOMP_parallel, as oneDNN's library brought
// it in, or NULL when it was not found.
void *dn_gomp_parallel(dn_lib *l);

#endif
