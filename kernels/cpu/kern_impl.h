/* kern_impl.h: the cpu backend's C kernels, written once with GCC vector
   extensions and compiled once per instruction set by the file that includes
   it (KNAME suffixes the exported table, MM_R/MM_NV size the matmul tile).
   A v16 is 16 floats: one zmm register with AVX-512, two ymm with AVX2, four
   xmm otherwise, so the same source vectorises for every target. */

#ifndef KNAME
#error "kern_impl.h is included by kern_avx512.c, kern_avx2.c and kern_generic.c"
#endif

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define VW 16
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int32_t i16 __attribute__((vector_size(64)));
typedef uint32_t u16 __attribute__((vector_size(64)));

#define KI static inline __attribute__((always_inline))

KI v16 vld(const float *p) { return *(const v16u *)p; }
KI void vst(float *p, v16 v) { *(v16u *)p = v; }
KI v16 vset(float x) { return (v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
/* vld_part loads n < 16 floats, the other lanes zero. */
KI v16 vld_part(const float *p, long n) {
	float t[VW] = {0};
	memcpy(t, p, (size_t)n * sizeof(float));
	return vld(t);
}
KI void vst_part(float *p, v16 v, long n) {
	float t[VW];
	vst(t, v);
	memcpy(p, t, (size_t)n * sizeof(float));
}
/* vsel picks a where m is all ones, b where it is zero (bitwise, so NaN in the
   discarded input never leaks through). */
KI v16 vsel(i16 m, v16 a, v16 b) { return (v16)((m & (i16)a) | (~m & (i16)b)); }
/* vlt, vgt compare lane by lane (all ones where true). Below AVX-512 GCC
   turns a comparison of 16-float vectors into 16 scalar compares; the
   including file's MM_NATIVE (floats per register) makes it compare
   register-sized pieces instead. */
#if defined(MM_NATIVE)
typedef float vpiece __attribute__((vector_size(MM_NATIVE * 4)));
typedef int32_t ipiece __attribute__((vector_size(MM_NATIVE * 4)));
typedef union {
	v16 v;
	vpiece p[VW / MM_NATIVE];
} v16pieces;
typedef union {
	i16 v;
	ipiece p[VW / MM_NATIVE];
} i16pieces;
KI i16 vlt(v16 a, v16 b) {
	v16pieces x = {a}, y = {b};
	i16pieces r;
	for (int i = 0; i < VW / MM_NATIVE; i++) r.p[i] = x.p[i] < y.p[i];
	return r.v;
}
#else
KI i16 vlt(v16 a, v16 b) { return a < b; }
#endif
KI i16 vgt(v16 a, v16 b) { return vlt(b, a); }
#if defined(__AVX512F__)
KI v16 vmax(v16 a, v16 b) { return (v16)_mm512_max_ps((__m512)a, (__m512)b); }
KI v16 vmin(v16 a, v16 b) { return (v16)_mm512_min_ps((__m512)a, (__m512)b); }
#else
KI v16 vmax(v16 a, v16 b) { return vsel(vgt(a, b), a, b); }
KI v16 vmin(v16 a, v16 b) { return vsel(vlt(a, b), a, b); }
#endif
KI v16 vabs(v16 x) { return (v16)((i16)x & 0x7fffffff); }
/* vrcp is 1/d. With AVX-512: rcp14 and one Newton step (~1 ulp) instead of
   vdivps, which issues on one port only. */
KI v16 vrcp(v16 d) {
#if defined(__AVX512F__)
	v16 r = (v16)_mm512_rcp14_ps((__m512)d);
	return r + r * (vset(1.0f) - d * r);
#else
	return vset(1.0f) / d;
#endif
}
/* vsquare splits x² into hi + lo exactly: with FMA lo = fma(x, x, −hi), else
   Dekker's product of 12-bit halves. (Plain x*x − hi is folded to 0.) */
KI v16 vsquare(v16 x, v16 *lo) {
	v16 hi = x * x;
#ifdef __FMA__
	v16 r;
	for (int i = 0; i < VW; i++) r[i] = __builtin_fmaf(x[i], x[i], -hi[i]);
	*lo = r;
#else
	v16 c = x * vset(4097.0f);
	v16 xh = c - (c - x), xl = x - xh;
	*lo = ((xh * xh - hi) + vset(2.0f) * xh * xl) + xl * xl;
#endif
	return hi;
}
/* Horizontal reductions by halving with shuffles (a scalar loop over the
   lanes went through memory and cost more than the softmax's exponentials). */
KI v16 vshuf(v16 v, i16 m) { return __builtin_shuffle(v, m); }
#define HALVES                                                                                   \
	(i16){8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7},                             \
	(i16){4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11},                             \
	(i16){2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13},                             \
	(i16){1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14}
KI float hsum(v16 v) {
	const i16 m[4] = {HALVES};
	for (int i = 0; i < 4; i++) v += vshuf(v, m[i]);
	return v[0];
}
KI float hmax(v16 v) {
	const i16 m[4] = {HALVES};
	for (int i = 0; i < 4; i++) v = vmax(v, vshuf(v, m[i]));
	return v[0];
}
KI i16 lane_index(long base) {
	return (i16){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} + (int32_t)base;
}
KI long round16(long n) { return (n + VW - 1) & ~(long)(VW - 1); }

/* vexp_r is exp(x) to about 2 ulp for x ≤ 88.37 (e^x ≈ 2.5e38), with the
   reduced argument r corrected by lo (see vexp2): Cody–Waite reduction
   x = n·ln2 + r and a degree-6 polynomial for e^r on |r| ≤ ln2/2 (fitted to
   1e-8 relative; Horner, the last two coefficients exactly 1). Lanes below
   −87.33 (e^x < 2^-126, −inf included) are set to 0 at the end, which also
   discards whatever the reduction made of them. */
#define VEXP_BODY(x, CORRECT)                                                                    \
	const v16 magic = vset(12582912.0f); /* 1.5·2^23: adding it rounds to an integer */      \
	v16 t = x * vset(1.44269504088896341f) + magic;                                          \
	v16 n = t - magic;                                                                       \
	v16 r = x - n * vset(0.693359375f);                                                      \
	r = r - n * vset(-2.12194440e-4f);                                                       \
	CORRECT;                                                                                 \
	v16 p = vset(0.00139261761199f);                                                         \
	p = p * r + vset(0.00836317307451f);                                                     \
	p = p * r + vset(0.0416665546621f);                                                      \
	p = p * r + vset(0.166665770256f);                                                       \
	p = p * r + vset(0.5f);                                                                  \
	p = p * r + vset(1.0f);                                                                  \
	p = p * r + vset(1.0f);                                                                  \
	u16 ni = (u16)((i16)t - (i16)magic);                                                     \
	v16 res = (v16)((u16)p + (ni << 23));                                                    \
	return vsel(vlt(x, vset(-87.33f)), vset(0.0f), res)

/* vexp2 is exp(x + lo) for a small correction lo (the low part of −x²/2). */
KI v16 vexp2(v16 x, v16 lo) { VEXP_BODY(x, r = r + lo); }
/* vexp_neg is exp(x) for x ≤ 0 (softmax): no clamp needed. */
KI v16 vexp_neg(v16 x) { VEXP_BODY(x, (void)0); }
KI v16 vexp(v16 x) { return vexp_neg(vmin(x, vset(88.37f))); }

/* vtanh: an odd polynomial x + x³·P(x²) below |x| = 0.625 (relative error
   2e-8), 1 − 2/(e^{2|x|} + 1) above, where there is no cancellation. */
KI v16 vtanh(v16 x) {
	v16 ax = vabs(x);
	v16 s = x * x;
	v16 p = vset(-0.00609671416591f);
	p = p * s + vset(0.0209971789991f);
	p = p * s + vset(-0.0538509095785f);
	p = p * s + vset(0.13332769737f);
	p = p * s + vset(-0.333333289441f);
	v16 small = x + (x * s) * p;
	v16 big = vset(1.0f) - vset(2.0f) * vrcp(vexp(ax + ax) + vset(1.0f));
	big = (v16)((i16)big | ((i16)x & (i16)vset(-0.0f))); /* copy the sign of x */
	return vsel(vlt(ax, vset(0.625f)), small, big);
}

/* gelu_phi returns Φ(x), the standard normal CDF, and e = exp(−x²/2).
   The tail h = ½·erfc(|x|/√2) = e·t·F(t) with t = 1/(1 + 0.35|x|) and F a
   degree-8 polynomial fitted for relative error 4e-8 on |x| ≤ 14 (beyond,
   e underflows and Φ is exactly 0 or 1 in float32). Φ = h for x < 0 and
   1 − h otherwise, so both sides stay accurate relative to their size.
   −x²/2 is split into hi + lo so that e keeps full precision even at
   |x| ≈ 10, where rounding x² alone would cost 3e-6 relative. */
KI v16 gelu_phi(v16 x, v16 *e_out) {
	v16 ax = vabs(x);
	v16 lo, hi = vsquare(x, &lo);
	v16 e = vexp2(hi * vset(-0.5f), lo * vset(-0.5f));
	v16 t = vrcp(vset(0.35f) * ax + vset(1.0f));
	v16 f = vset(-0.0296795220045f);
	f = f * t + vset(0.146545830293f);
	f = f * t + vset(-0.260961228295f);
	f = f * t + vset(0.165050995857f);
	f = f * t + vset(-0.0270466082671f);
	f = f * t + vset(0.107114587597f);
	f = f * t + vset(0.119444916846f);
	f = f * t + vset(0.139912298125f);
	f = f * t + vset(0.139618712561f);
	v16 h = e * (t * f);
	*e_out = e;
	return vsel(vlt(x, vset(0.0f)), h, vset(1.0f) - h);
}

#define INV_SQRT_2PI 0.398942280401432678f
#define SQRT_2_OVER_PI 0.797884560802865355f
#define GELU_C 0.044715f

KI v16 f_none(v16 x) { return x; }
KI v16 f_gelu(v16 x) {
	v16 e;
	return x * gelu_phi(x, &e);
}
KI v16 f_gelu_tanh(v16 x) {
	/* 0.5·x·(1 + tanh(u)) = x·sigmoid(2u) = x / (1 + e^{−2u}): no cancellation for u < 0 */
	v16 u = vset(SQRT_2_OVER_PI) * (x + vset(GELU_C) * x * x * x);
	return x * vrcp(vset(1.0f) + vexp(vset(-2.0f) * u));
}
KI v16 f_tanh(v16 x) { return vtanh(x); }
KI v16 f_relu(v16 x) { return vsel(vgt(x, vset(0.0f)), x, vset(0.0f)); }

/* Derivatives, multiplied by the incoming gradient g. */
KI v16 d_none(v16 x, v16 g) {
	(void)x;
	return g;
}
KI v16 d_gelu(v16 x, v16 g) {
	v16 e;
	v16 phi = gelu_phi(x, &e);
	return g * (phi + x * e * vset(INV_SQRT_2PI));
}
KI v16 d_gelu_tanh(v16 x, v16 g) {
	v16 x2 = x * x;
	v16 u = vset(SQRT_2_OVER_PI) * (x + vset(GELU_C) * x2 * x);
	v16 s = vrcp(vset(1.0f) + vexp(vset(-2.0f) * u)); /* s = ½(1 + tanh u) */
	v16 du = vset(SQRT_2_OVER_PI) * (vset(1.0f) + vset(3.0f * GELU_C) * x2);
	return g * (s + vset(2.0f) * x * s * (vset(1.0f) - s) * du);
}
KI v16 d_tanh(v16 x, v16 g) {
	v16 t = vtanh(x);
	return g * (vset(1.0f) - t * t);
}
KI v16 d_relu(v16 x, v16 g) { return vsel(vgt(x, vset(0.0f)), g, vset(0.0f)); }

/* ---- element-wise maps ---- */

#define MAP1(F)                                                                                  \
	do {                                                                                     \
		long i = 0;                                                                      \
		for (; i + VW <= n; i += VW) vst(y + i, F(vld(x + i)));                          \
		if (i < n) vst_part(y + i, F(vld_part(x + i, n - i)), n - i);                    \
	} while (0)

static void act_fwd(float *y, const float *x, long n, int act) {
	switch (act) {
	case KACT_GELU: MAP1(f_gelu); break;
	case KACT_GELU_TANH: MAP1(f_gelu_tanh); break;
	case KACT_TANH: MAP1(f_tanh); break;
	case KACT_RELU: MAP1(f_relu); break;
	default:
		if (y != x) memmove(y, x, (size_t)n * sizeof(float));
	}
}

#define MAP2(F)                                                                                  \
	do {                                                                                     \
		long i = 0;                                                                      \
		for (; i + VW <= n; i += VW) vst(dx + i, F(vld(x + i), vld(dy + i)));            \
		if (i < n) vst_part(dx + i, F(vld_part(x + i, n - i), vld_part(dy + i, n - i)), n - i); \
	} while (0)

static void act_bwd(float *dx, const float *x, const float *dy, long n, int act) {
	switch (act) {
	case KACT_GELU: MAP2(d_gelu); break;
	case KACT_GELU_TANH: MAP2(d_gelu_tanh); break;
	case KACT_TANH: MAP2(d_tanh); break;
	case KACT_RELU: MAP2(d_relu); break;
	default: MAP2(d_none);
	}
}

/* One row of bias + activation, in place. */
#define BIAS_ROW(F)                                                                              \
	do {                                                                                     \
		long i = 0;                                                                      \
		if (bias) {                                                                      \
			for (; i + VW <= n; i += VW) vst(yr + i, F(vld(yr + i) + vld(bias + i)));  \
			if (i < n)                                                               \
				vst_part(yr + i, F(vld_part(yr + i, n - i) + vld_part(bias + i, n - i)), n - i); \
		} else {                                                                         \
			for (; i + VW <= n; i += VW) vst(yr + i, F(vld(yr + i)));                  \
			if (i < n) vst_part(yr + i, F(vld_part(yr + i, n - i)), n - i);            \
		}                                                                                \
	} while (0)

static void bias_act(float *y, long ldy, long rows, long n, const float *bias, int act) {
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * ldy;
		switch (act) {
		case KACT_GELU: BIAS_ROW(f_gelu); break;
		case KACT_GELU_TANH: BIAS_ROW(f_gelu_tanh); break;
		case KACT_TANH: BIAS_ROW(f_tanh); break;
		case KACT_RELU: BIAS_ROW(f_relu); break;
		default: BIAS_ROW(f_none);
		}
	}
}

static void bias_fill(float *y, long ldy, long rows, long n, const float *bias) {
	for (long r = 0; r < rows; r++) memcpy(y + r * ldy, bias, (size_t)n * sizeof(float));
}

static void add(float *y, const float *a, const float *b, long n) {
	long i = 0;
	for (; i + VW <= n; i += VW) vst(y + i, vld(a + i) + vld(b + i));
	for (; i < n; i++) y[i] = a[i] + b[i];
}

/* ---- LayerNorm ---- */

/* row_stats returns the mean and 1/sqrt(var + eps) of s[0:cols], two-pass. */
KI void row_stats(const float *s, long cols, float eps, float *mean, float *rstd) {
	v16 acc = vset(0.0f);
	long j = 0;
	for (; j + VW <= cols; j += VW) acc += vld(s + j);
	float tot = hsum(acc);
	for (; j < cols; j++) tot += s[j];
	float m = tot / (float)cols;
	v16 vm = vset(m);
	acc = vset(0.0f);
	for (j = 0; j + VW <= cols; j += VW) {
		v16 d = vld(s + j) - vm;
		acc += d * d;
	}
	float var = hsum(acc);
	for (; j < cols; j++) var += (s[j] - m) * (s[j] - m);
	*mean = m;
	*rstd = 1.0f / sqrtf(var / (float)cols + eps);
}

static int addnorm(float *y, float *sum, const float *a, const float *b, long rows, long cols, float eps,
                   const float *gamma, const float *beta) {
	/* Each row is first gathered into s, so y and sum may alias a or b. */
	float *s = malloc((size_t)cols * sizeof(float));
	if (!s) return -1;
	for (long r = 0; r < rows; r++) {
		const float *ar = a + r * cols;
		long j = 0;
		if (b) {
			const float *br = b + r * cols;
			for (; j + VW <= cols; j += VW) vst(s + j, vld(ar + j) + vld(br + j));
			for (; j < cols; j++) s[j] = ar[j] + br[j];
		} else {
			memcpy(s, ar, (size_t)cols * sizeof(float));
		}
		float mean, rstd;
		row_stats(s, cols, eps, &mean, &rstd);
		if (sum) memcpy(sum + r * cols, s, (size_t)cols * sizeof(float));
		float *yr = y + r * cols;
		v16 vm = vset(mean), vr = vset(rstd);
		for (j = 0; j + VW <= cols; j += VW)
			vst(yr + j, (vld(s + j) - vm) * vr * vld(gamma + j) + vld(beta + j));
		for (; j < cols; j++) yr[j] = (s[j] - mean) * rstd * gamma[j] + beta[j];
	}
	free(s);
	return 0;
}

static void norm_bwd(float *dx, const float *dy, const float *x, long rows, long cols, float eps,
                     const float *gamma, float *dgamma, float *dbeta, int accumulate) {
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * cols, *gr = dy + r * cols;
		float *dr = dx ? dx + r * cols : NULL;
		float mean, rstd;
		row_stats(xr, cols, eps, &mean, &rstd);
		v16 vm = vset(mean), vr = vset(rstd);
		v16 a1 = vset(0.0f), a2 = vset(0.0f);
		long j = 0;
		for (; j + VW <= cols; j += VW) {
			v16 xh = (vld(xr + j) - vm) * vr;
			v16 g = vld(gr + j);
			v16 gg = g * vld(gamma + j);
			a1 += gg;
			a2 += gg * xh;
			if (dgamma) vst(dgamma + j, vld(dgamma + j) + g * xh);
			if (dbeta) vst(dbeta + j, vld(dbeta + j) + g);
		}
		float s1 = hsum(a1), s2 = hsum(a2);
		for (; j < cols; j++) {
			float xh = (xr[j] - mean) * rstd, g = gr[j], gg = g * gamma[j];
			s1 += gg;
			s2 += gg * xh;
			if (dgamma) dgamma[j] += g * xh;
			if (dbeta) dbeta[j] += g;
		}
		if (!dr) continue;
		float m1 = s1 / (float)cols, m2 = s2 / (float)cols;
		v16 vm1 = vset(m1), vm2 = vset(m2);
		for (j = 0; j + VW <= cols; j += VW) {
			v16 xh = (vld(xr + j) - vm) * vr;
			v16 d = vr * (vld(gr + j) * vld(gamma + j) - vm1 - xh * vm2);
			vst(dr + j, accumulate ? vld(dr + j) + d : d);
		}
		for (; j < cols; j++) {
			float xh = (xr[j] - mean) * rstd;
			float d = rstd * (gr[j] * gamma[j] - m1 - xh * m2);
			dr[j] = accumulate ? dr[j] + d : d;
		}
	}
}

static void colsum(float *out, const float *y, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		const float *yr = y + r * n;
		long j = 0;
		for (; j + VW <= n; j += VW) vst(out + j, vld(out + j) + vld(yr + j));
		for (; j < n; j++) out[j] += yr[j];
	}
}

static void embed(float *y, const float *table, const int32_t *ids, long count, long cols, int accumulate) {
	for (long i = 0; i < count; i++) {
		const float *src = table + (long)ids[i] * cols;
		float *dst = y + i * cols;
		if (accumulate)
			add(dst, dst, src, cols);
		else
			memcpy(dst, src, (size_t)cols * sizeof(float));
	}
}

static void embed_bf16(float *y, const uint16_t *table, const int32_t *ids, long count, long cols,
                       int accumulate) {
	for (long i = 0; i < count; i++) {
		const uint16_t *src = table + (long)ids[i] * cols;
		float *dst = y + i * cols;
		for (long j = 0; j < cols; j++) {
			union { uint32_t u; float f; } v = {.u = (uint32_t)src[j] << 16};
			dst[j] = accumulate ? dst[j] + v.f : v.f;
		}
	}
}

/* ---- small matrix products for attention ---- */

#ifndef MM_R
#define MM_R 2
#endif
#ifndef MM_NV
#define MM_NV 1
#endif

/* mm_tile: C[R, NV·16] (+)= A[R, K]·B[K, NV·16] with A's elements broadcast and
   B's rows loaded as vectors; R and NV are constants at each call site, so the
   accumulators live in registers. rs, when not NULL, scales row r by rs[r]. */
#if !defined(MM_NATIVE)
KI void mm_tile(const int R, const int NV, long K, const float *A, long lda, const float *B, long ldb,
                float *C, long ldc, int acc, const float *rs) {
	v16 c[8][2];
	for (int r = 0; r < R; r++)
		for (int v = 0; v < NV; v++) c[r][v] = vset(0.0f);
	for (long k = 0; k < K; k++) {
		v16 b[2];
		for (int v = 0; v < NV; v++) b[v] = vld(B + k * ldb + v * VW);
		for (int r = 0; r < R; r++) {
			v16 a = vset(A[r * lda + k]);
			for (int v = 0; v < NV; v++) c[r][v] += a * b[v];
		}
	}
	for (int r = 0; r < R; r++)
		for (int v = 0; v < NV; v++) {
			float *p = C + r * ldc + v * VW;
			v16 x = rs ? c[r][v] * vset(rs[r]) : c[r][v];
			vst(p, acc ? vld(p) + x : x);
		}
}
#else
/* MM_NATIVE (AVX2: 8, SSE2: 4): the same tile on vectors of MM_NATIVE floats,
   the register width. GCC does not keep arrays of v16 (two ymm or four xmm
   each) in registers: the loop spilled every accumulator and ran attention
   at a tenth of the FMA rate. Arrays of native vectors it does keep. The
   sums are the same, term for term. */
#define MM_PARTS (VW / MM_NATIVE)
typedef float vn __attribute__((vector_size(MM_NATIVE * 4)));
typedef float vnu __attribute__((vector_size(MM_NATIVE * 4), aligned(4), may_alias));
#if MM_NATIVE == 8
#define vnset(x) ((vn){(x), (x), (x), (x), (x), (x), (x), (x)})
#else
#define vnset(x) ((vn){(x), (x), (x), (x)})
#endif
KI void mm_tile(const int R, const int NV, long K, const float *A, long lda, const float *B, long ldb,
                float *C, long ldc, int acc, const float *rs) {
	const int NH = MM_PARTS * NV;
	vn c[MM_R][2 * MM_PARTS];
	for (int r = 0; r < R; r++)
		for (int h = 0; h < NH; h++) c[r][h] = vnset(0.0f);
	for (long k = 0; k < K; k++) {
		vn b[2 * MM_PARTS];
		for (int h = 0; h < NH; h++) b[h] = *(const vnu *)(B + k * ldb + h * MM_NATIVE);
		for (int r = 0; r < R; r++) {
			const float x = A[r * lda + k];
			const vn a = vnset(x);
			for (int h = 0; h < NH; h++) c[r][h] += a * b[h];
		}
	}
	for (int r = 0; r < R; r++)
		for (int h = 0; h < NH; h++) {
			float *p = C + r * ldc + h * MM_NATIVE;
			vn x = c[r][h];
			if (rs) {
				const float y = rs[r];
				x = x * vnset(y);
			}
			if (acc) x += *(const vnu *)p;
			*(vnu *)p = x;
		}
}
#endif

/* mm_rows runs mm_tile over all M rows, in blocks of MM_R and a remainder. */
KI void mm_rows(const int NV, long M, long K, const float *A, long lda, const float *B, long ldb, float *C,
                long ldc, int acc, const float *rs) {
	long i = 0;
	for (; i + MM_R <= M; i += MM_R)
		mm_tile(MM_R, NV, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, acc, rs ? rs + i : NULL);
	const float *a = A + i * lda, *r = rs ? rs + i : NULL;
	float *c = C + i * ldc;
	switch (M - i) {
	case 7: if (MM_R > 7) mm_tile(7, NV, K, a, lda, B, ldb, c, ldc, acc, r); break;
	case 6: if (MM_R > 6) mm_tile(6, NV, K, a, lda, B, ldb, c, ldc, acc, r); break;
	case 5: if (MM_R > 5) mm_tile(5, NV, K, a, lda, B, ldb, c, ldc, acc, r); break;
	case 4: if (MM_R > 4) mm_tile(4, NV, K, a, lda, B, ldb, c, ldc, acc, r); break;
	case 3: if (MM_R > 3) mm_tile(3, NV, K, a, lda, B, ldb, c, ldc, acc, r); break;
	case 2: if (MM_R > 2) mm_tile(2, NV, K, a, lda, B, ldb, c, ldc, acc, r); break;
	case 1: mm_tile(1, NV, K, a, lda, B, ldb, c, ldc, acc, r); break;
	default: break;
	}
}

/* mm_nn: C[M,N] = A[M,K]·B[K,N] (acc: C +=), row r scaled by rs[r] when rs is
   not NULL. Operands should be contiguous or nearly: rows of a strided qkv
   (4.5 KiB apart at H = 384) map to few L1 sets and evict each other, so the
   attention kernels pack them first. When N is not a multiple of 16, tail
   (K·16 floats of scratch) holds the last columns of B zero-padded. */
static void mm_nn(long M, long N, long K, const float *A, long lda, const float *B, long ldb, float *C,
                  long ldc, int acc, const float *rs, float *tail) {
	long n0 = 0;
	if (MM_NV == 2)
		for (; n0 + 2 * VW <= N; n0 += 2 * VW) mm_rows(2, M, K, A, lda, B + n0, ldb, C + n0, ldc, acc, rs);
	for (; n0 + VW <= N; n0 += VW) mm_rows(1, M, K, A, lda, B + n0, ldb, C + n0, ldc, acc, rs);
	if (n0 == N) return;
	long nt = N - n0;
	for (long k = 0; k < K; k++) {
		memset(tail + k * VW, 0, VW * sizeof(float));
		memcpy(tail + k * VW, B + k * ldb + n0, (size_t)nt * sizeof(float));
	}
	float tmp[MM_R * VW];
	for (long i = 0; i < M; i += MM_R) {
		long r = M - i < MM_R ? M - i : MM_R;
		mm_rows(1, r, K, A + i * lda, lda, tail, VW, tmp, VW, 0, rs ? rs + i : NULL);
		for (long rr = 0; rr < r; rr++) {
			float *c = C + (i + rr) * ldc + n0;
			for (long j = 0; j < nt; j++) c[j] = acc ? c[j] + tmp[rr * VW + j] : tmp[rr * VW + j];
		}
	}
}

/* pack copies rows×cols of a strided matrix into a contiguous one, times scale. */
KI void pack(float *dst, const float *src, long rows, long cols, long ld, float scale) {
	for (long r = 0; r < rows; r++) {
		const float *s = src + r * ld;
		float *d = dst + r * cols;
		long j = 0;
		for (; j + VW <= cols; j += VW) vst(d + j, vld(s + j) * vset(scale));
		for (; j < cols; j++) d[j] = s[j] * scale;
	}
}

/* transpose16 transposes a 16×16 block in registers: four stages that swap
   the off-diagonal d×d sub-blocks for d = 8, 4, 2, 1 (one vpermt2ps per
   output vector). Written out so that the masks are constants. */
#define T16_PAIR(i, j, mlo, mhi)                                                          \
	do {                                                                                     \
		v16 a_ = r[i], b_ = r[j];                                                        \
		r[i] = __builtin_shuffle(a_, b_, mlo);                                           \
		r[j] = __builtin_shuffle(a_, b_, mhi);                                           \
	} while (0)
KI void transpose16(v16 r[16]) {
	{
		const i16 lo = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
		const i16 hi = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
		T16_PAIR(0, 8, lo, hi);
		T16_PAIR(1, 9, lo, hi);
		T16_PAIR(2, 10, lo, hi);
		T16_PAIR(3, 11, lo, hi);
		T16_PAIR(4, 12, lo, hi);
		T16_PAIR(5, 13, lo, hi);
		T16_PAIR(6, 14, lo, hi);
		T16_PAIR(7, 15, lo, hi);
	}
	{
		const i16 lo = {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27};
		const i16 hi = {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31};
		T16_PAIR(0, 4, lo, hi);
		T16_PAIR(1, 5, lo, hi);
		T16_PAIR(2, 6, lo, hi);
		T16_PAIR(3, 7, lo, hi);
		T16_PAIR(8, 12, lo, hi);
		T16_PAIR(9, 13, lo, hi);
		T16_PAIR(10, 14, lo, hi);
		T16_PAIR(11, 15, lo, hi);
	}
	{
		const i16 lo = {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29};
		const i16 hi = {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31};
		T16_PAIR(0, 2, lo, hi);
		T16_PAIR(1, 3, lo, hi);
		T16_PAIR(4, 6, lo, hi);
		T16_PAIR(5, 7, lo, hi);
		T16_PAIR(8, 10, lo, hi);
		T16_PAIR(9, 11, lo, hi);
		T16_PAIR(12, 14, lo, hi);
		T16_PAIR(13, 15, lo, hi);
	}
	{
		const i16 lo = {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30};
		const i16 hi = {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31};
		T16_PAIR(0, 1, lo, hi);
		T16_PAIR(2, 3, lo, hi);
		T16_PAIR(4, 5, lo, hi);
		T16_PAIR(6, 7, lo, hi);
		T16_PAIR(8, 9, lo, hi);
		T16_PAIR(10, 11, lo, hi);
		T16_PAIR(12, 13, lo, hi);
		T16_PAIR(14, 15, lo, hi);
	}
}

/* pack_t writes the transpose of rows×cols of a strided matrix: dst[c][r],
   with row stride ldd (columns rows..ldd zero). */
KI void pack_t(float *dst, long ldd, const float *src, long rows, long cols, long ld) {
	long r0 = 0;
	for (; r0 + VW <= rows; r0 += VW) {
		long c0 = 0;
		for (; c0 + VW <= cols; c0 += VW) {
			v16 t[VW];
			for (int i = 0; i < VW; i++) t[i] = vld(src + (r0 + i) * ld + c0);
			transpose16(t);
			for (int i = 0; i < VW; i++) vst(dst + (c0 + i) * ldd + r0, t[i]);
		}
		for (long r = r0; r < r0 + VW; r++)
			for (long c = c0; c < cols; c++) dst[c * ldd + r] = src[r * ld + c];
	}
	for (long r = r0; r < rows; r++)
		for (long c = 0; c < cols; c++) dst[c * ldd + r] = src[r * ld + c];
	for (long c = 0; c < cols; c++) memset(dst + c * ldd + rows, 0, (size_t)(ldd - rows) * sizeof(float));
}

/* prefetch_seq asks for rows [r0, r1) of a sequence's qkv [T, 3D] and ctx
   [T, D] blocks, columns [c0, c1) of each of q, k, v and ctx. A head's q, k,
   v are 128-byte pieces of rows 4.5 KiB apart, which the hardware
   prefetchers do not follow, so each head would wait on memory; instead each
   head of sequence b prefetches a share of sequence b+1 while it computes,
   and a call's first unit fetches the heads of its own sequence the call
   has (only those: a one-sequence pass splits its heads over pieces of a
   unit or two, and each fetching the whole sequence made (1, 128)'s
   attention 15% slower). */
/* PREFETCH_COLS asks for the lines holding row[c0, c1), the last value
   included (steps of 16 from an unaligned c0 would miss its line); rw is
   __builtin_prefetch's constant 0 (read) or 1 (write). */
#define PREFETCH_COLS(row, c0, c1, rw)                                                    \
	do {                                                                                     \
		for (long c_ = (c0); c_ < (c1); c_ += 16) __builtin_prefetch((row) + c_, rw, 2); \
		__builtin_prefetch((row) + (c1) - 1, rw, 2);                                     \
	} while (0)

KI void prefetch_seq(const float *qkv, const float *ctx, long r0, long r1, long D, long c0, long c1) {
	for (long i = r0; i < r1; i++) {
		const float *q = qkv + i * 3 * D;
		PREFETCH_COLS(q, c0, c1, 0);
		PREFETCH_COLS(q + D, c0, c1, 0);
		PREFETCH_COLS(q + 2 * D, c0, c1, 0);
		PREFETCH_COLS(ctx + i * D, c0, c1, 1);
	}
}

/* valid_keys is one past the last real key of a sequence: right padding is
   skipped entirely. */
KI long valid_keys(const uint8_t *mask, long T) {
	long L = T;
	while (L > 0 && !mask[L - 1]) L--;
	return L;
}

/* softmax_row turns the (already scaled) scores s[0:Lp) of one query into
   unnormalised weights e^{s−max} in place and returns 1/Σ, by which the
   caller scales the row of p·v. mb (NULL when no key before L is padding)
   adds 0 or −inf per key; keys at or past lim (the causal limit, or L) get
   weight 0. A row with no visible key becomes zeros, and 0 is returned. */
KI float softmax_row(float *s, const float *mb, long Lp, long lim) {
	const long lv = round16(lim);
	const v16 ninf = vset(-INFINITY);
	v16 m = ninf;
	for (long j = 0; j < lv; j += VW) {
		v16 x = vld(s + j);
		if (mb) x += vld(mb + j);
		if (j + VW > lim) x = vsel(lane_index(j) >= (int32_t)lim, ninf, x);
		if (mb || j + VW > lim) vst(s + j, x);
		m = vmax(m, x);
	}
	float mx = hmax(m);
	if (!(mx > -INFINITY)) {
		memset(s, 0, (size_t)Lp * sizeof(float));
		return 0;
	}
	v16 vmx = vset(mx), acc = vset(0.0f);
	for (long j = 0; j < lv; j += VW) {
		v16 e = vexp_neg(vld(s + j) - vmx);
		vst(s + j, e);
		acc += e;
	}
	memset(s + lv, 0, (size_t)(Lp - lv) * sizeof(float));
	return 1.0f / hsum(acc);
}

/* Attention for one (sequence, head) unit at a time. Per unit: pack
   q·scale [L, hd], kᵀ [hd, Lp] and v [L, hd] contiguously (L = last real key
   + 1, Lp = L rounded up to 16); s = q·kᵀ [L, Lp]; softmax rows; ctx = p·v,
   normalised as it is stored. With a causal mask, row blocks of 16 queries
   stop at their last visible key. */
static int attn_fwd(float *ctx, const float *qkv, const uint8_t *mask, float *probs, const kattn *a, long u0,
                    long u1) {
	const long T = a->seq, H = a->heads, hd = a->hd, D = H * hd, ld = 3 * D, Tp = round16(T);
	float *ws = malloc((size_t)(2 * T * hd + hd * Tp + T * Tp + Tp + T + T * VW) * sizeof(float));
	if (!ws) return -1;
	float *qs = ws, *vs = qs + T * hd, *kt = vs + T * hd, *s = kt + hd * Tp, *mb = s + T * Tp, *rs = mb + Tp,
	      *tail = rs + T;
	for (long u = u0; u < u1; u++) {
		const long b = u / H, h = u % H;
		const uint8_t *mk = mask + b * T;
		const float *q = qkv + b * T * ld + h * hd, *k = q + D, *v = q + 2 * D;
		float *o = ctx + b * T * D + h * hd;
		float *pr = probs ? probs + u * T * T : NULL;
		const long L = valid_keys(mk, T), Lp = round16(L);
		if (u == u0) { /* the heads of sequence b this call has */
			const long h1 = h + (u1 - u0) < H ? h + (u1 - u0) : H;
			prefetch_seq(qkv + b * T * ld, ctx + b * T * D, 0, L, D, h * hd, h1 * hd);
		}
		if (b + 1 < a->batch && (b + 1) * H < u1)
			prefetch_seq(qkv + (b + 1) * T * ld, ctx + (b + 1) * T * D, h * T / H, (h + 1) * T / H, D, 0, D);
		for (long i = L; i < T; i++) memset(o + i * D, 0, (size_t)hd * sizeof(float));
		if (pr) memset(pr + L * T, 0, (size_t)((T - L) * T) * sizeof(float));
		if (L == 0) continue;
		int holes = 0;
		for (long j = 0; j < L; j++) holes |= !mk[j];
		if (holes)
			for (long j = 0; j < Lp; j++) mb[j] = (j < L && mk[j]) ? 0.0f : -INFINITY;
		pack(qs, q, L, hd, ld, a->scale);
		pack(vs, v, L, hd, ld, 1.0f);
		pack_t(kt, Lp, k, L, hd, ld);
		const long blk = 16; /* query rows per block: the block of s stays in L1 */
		for (long i0 = 0; i0 < L; i0 += blk) {
			long i1 = i0 + blk < L ? i0 + blk : L;
			long n = a->causal && round16(i1) < Lp ? round16(i1) : Lp;
			mm_nn(i1 - i0, n, hd, qs + i0 * hd, hd, kt, Lp, s + i0 * Lp, Lp, 0, NULL, NULL);
			for (long i = i0; i < i1; i++) {
				float *si = s + i * Lp;
				if (!mk[i]) { /* a padding query: its output is ignored, make it zero */
					memset(si, 0, (size_t)Lp * sizeof(float));
					rs[i] = 0;
					continue;
				}
				long lim = a->causal && i + 1 < L ? i + 1 : L;
				rs[i] = softmax_row(si, holes ? mb : NULL, Lp, lim);
			}
			mm_nn(i1 - i0, hd, a->causal ? i1 : L, s + i0 * Lp, Lp, vs, hd, o + i0 * D, D, 0, rs + i0, tail);
		}
		if (pr)
			for (long i = 0; i < L; i++) {
				float *p = pr + i * T;
				const float *si = s + i * Lp;
				v16 r = vset(rs[i]);
				long j = 0;
				for (; j + VW <= L; j += VW) vst(p + j, vld(si + j) * r);
				for (; j < L; j++) p[j] = si[j] * rs[i];
				memset(p + L, 0, (size_t)(T - L) * sizeof(float));
			}
	}
	free(ws);
	return 0;
}

#if defined(__AVX512F__)
/* ---- Attention with bf16 products (cpu:bf16 inference) -----------------
   As attn_fwd without causal masks or probabilities, but q·kᵀ and p·v are
   products of bfloat16 values with float32 sums (vdpbf16ps): q·scale, k, v
   and the softmax weights are rounded to bf16 (nearest even) as they are
   packed. Operands are packed as pairs of bf16 along the summed dimension,
   one pair per 32-bit word: vdpbf16ps multiplies a broadcast pair of A by
   16 pairs of B and adds both products to each of 16 float32 sums. Compiled
   for AVX512_BF16 on top of the file's AVX-512; called only on CPUs that
   have it. */
#define BF16_FN __attribute__((target("avx512bf16")))

/* tile_bf16: C[R, NV·16] = A[R, K2 pairs]·B[K2 pairs, NV·16], row r scaled
   by rs[r] when rs is not NULL. lda and ldb count 32-bit words. */
BF16_FN KI void tile_bf16(const int R, const int NV, long K2, const uint32_t *A, long lda, const uint32_t *B,
                          long ldb, float *C, long ldc, const float *rs) {
	__m512 c[8][2];
	for (int r = 0; r < R; r++)
		for (int v = 0; v < NV; v++) c[r][v] = _mm512_setzero_ps();
	for (long p = 0; p < K2; p++) {
		__m512bh b[2];
		for (int v = 0; v < NV; v++) b[v] = (__m512bh)_mm512_loadu_si512(B + p * ldb + v * 16);
		for (int r = 0; r < R; r++) {
			__m512bh a = (__m512bh)_mm512_set1_epi32((int)A[r * lda + p]);
			for (int v = 0; v < NV; v++) c[r][v] = _mm512_dpbf16_ps(c[r][v], a, b[v]);
		}
	}
	for (int r = 0; r < R; r++)
		for (int v = 0; v < NV; v++) {
			__m512 x = rs ? _mm512_mul_ps(c[r][v], _mm512_set1_ps(rs[r])) : c[r][v];
			_mm512_storeu_ps(C + r * ldc + v * 16, x);
		}
}

BF16_FN KI void rows_bf16(const int NV, long M, long K2, const uint32_t *A, long lda, const uint32_t *B, long ldb,
                          float *C, long ldc, const float *rs) {
	long i = 0;
	for (; i + 8 <= M; i += 8) tile_bf16(8, NV, K2, A + i * lda, lda, B, ldb, C + i * ldc, ldc, rs ? rs + i : NULL);
	const uint32_t *a = A + i * lda;
	const float *r = rs ? rs + i : NULL;
	float *c = C + i * ldc;
	switch (M - i) {
	case 7: tile_bf16(7, NV, K2, a, lda, B, ldb, c, ldc, r); break;
	case 6: tile_bf16(6, NV, K2, a, lda, B, ldb, c, ldc, r); break;
	case 5: tile_bf16(5, NV, K2, a, lda, B, ldb, c, ldc, r); break;
	case 4: tile_bf16(4, NV, K2, a, lda, B, ldb, c, ldc, r); break;
	case 3: tile_bf16(3, NV, K2, a, lda, B, ldb, c, ldc, r); break;
	case 2: tile_bf16(2, NV, K2, a, lda, B, ldb, c, ldc, r); break;
	case 1: tile_bf16(1, NV, K2, a, lda, B, ldb, c, ldc, r); break;
	default: break;
	}
}

/* mm_bf16: C[M, N] = A·B for N a multiple of 16 (see tile_bf16). */
BF16_FN static void mm_bf16(long M, long N, long K2, const uint32_t *A, long lda, const uint32_t *B, long ldb,
                            float *C, long ldc, const float *rs) {
	long n0 = 0;
	for (; n0 + 32 <= N; n0 += 32) rows_bf16(2, M, K2, A, lda, B + n0, ldb, C + n0, ldc, rs);
	if (n0 < N) rows_bf16(1, M, K2, A, lda, B + n0, ldb, C + n0, ldc, rs);
}

/* to_bf16 rounds n floats (a multiple of 16) times scale to bf16 into dst. */
BF16_FN KI void to_bf16(uint16_t *dst, const float *src, long n, float scale) {
	const __m512 sc = _mm512_set1_ps(scale);
	long j = 0;
	for (; j + 32 <= n; j += 32) {
		__m512bh h = _mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_loadu_ps(src + j + 16), sc),
		                                 _mm512_mul_ps(_mm512_loadu_ps(src + j), sc));
		_mm512_storeu_si512(dst + j, (__m512i)h);
	}
	if (j < n) {
		__m256bh h = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_loadu_ps(src + j), sc));
		_mm256_storeu_si256((__m256i *)(dst + j), (__m256i)h);
	}
}

BF16_FN static int attn_fwd_bf16(float *ctx, const float *qkv, const uint8_t *mask, const kattn *a, long u0,
                                 long u1) {
	const long T = a->seq, H = a->heads, hd = a->hd, D = H * hd, ld = 3 * D, Tp = round16(T), hw = hd / 2;
	const long blk = 16;
	/* qb [T, hd] bf16, kb [hd/2, Tp] words, vb [Tp/2, hd] words, s [blk, Tp], pb [blk, Tp] bf16,
	   row [2, hd] bf16, mb [Tp], rs [T] */
	const size_t words = (size_t)(T * hw + hw * Tp + (Tp / 2 + 1) * hd + blk * Tp / 2 + hd);
	uint32_t *wb = malloc(words * 4 + (size_t)(blk * Tp + Tp + T) * sizeof(float));
	if (!wb) return -1;
	uint32_t *qb = wb, *kb = qb + T * hw, *vb = kb + hw * Tp, *pb = vb + (Tp / 2 + 1) * hd, *row = pb + blk * Tp / 2;
	float *s = (float *)(row + hd), *mb = s + blk * Tp, *rs = mb + Tp;
	for (long u = u0; u < u1; u++) {
		const long b = u / H, h = u % H;
		const uint8_t *mk = mask + b * T;
		const float *q = qkv + b * T * ld + h * hd, *k = q + D, *v = q + 2 * D;
		float *o = ctx + b * T * D + h * hd;
		const long L = valid_keys(mk, T), Lp = round16(L), K2 = Lp / 2;
		for (long i = L; i < T; i++) memset(o + i * D, 0, (size_t)hd * sizeof(float));
		if (L == 0) continue;
		int holes = 0;
		for (long j = 0; j < L; j++) holes |= !mk[j];
		if (holes)
			for (long j = 0; j < Lp; j++) mb[j] = (j < L && mk[j]) ? 0.0f : -INFINITY;
		/* q·scale as rows of pairs; k as columns of pairs (kb[p, j]); v as
		   pairs of rows (vb[p, c] = v[2p, c], v[2p+1, c]); zeros past L. */
		for (long i = 0; i < L; i++) to_bf16((uint16_t *)(qb + i * hw), q + i * ld, hd, a->scale);
		for (long j = 0; j < L; j++) {
			to_bf16((uint16_t *)row, k + j * ld, hd, 1.0f);
			for (long p = 0; p < hw; p++) kb[p * Lp + j] = row[p];
		}
		for (long p = 0; p < hw; p++)
			for (long j = L; j < Lp; j++) kb[p * Lp + j] = 0;
		for (long p = 0; p < K2; p++) {
			uint16_t *r0 = (uint16_t *)row, *r1 = r0 + hd;
			if (2 * p < L) to_bf16(r0, v + 2 * p * ld, hd, 1.0f);
			else memset(r0, 0, (size_t)hd * 2);
			if (2 * p + 1 < L) to_bf16(r1, v + (2 * p + 1) * ld, hd, 1.0f);
			else memset(r1, 0, (size_t)hd * 2);
			for (long c = 0; c < hd; c++) vb[p * hd + c] = (uint32_t)r0[c] | (uint32_t)r1[c] << 16;
		}
		for (long i0 = 0; i0 < L; i0 += blk) {
			const long i1 = i0 + blk < L ? i0 + blk : L, n = i1 - i0;
			mm_bf16(n, Lp, hw, qb + i0 * hw, hw, kb, Lp, s, Lp, NULL);
			for (long i = 0; i < n; i++) {
				float *si = s + i * Lp;
				if (!mk[i0 + i]) { /* a padding query: its output is ignored, make it zero */
					memset(si, 0, (size_t)Lp * sizeof(float));
					rs[i0 + i] = 0;
				} else {
					rs[i0 + i] = softmax_row(si, holes ? mb : NULL, Lp, L);
				}
				to_bf16((uint16_t *)(pb + i * K2), si, Lp, 1.0f);
			}
			mm_bf16(n, hd, K2, pb, K2, vb, hd, o + i0 * D, D, rs + i0);
		}
	}
	free(wb);
	return 0;
}
#endif

/* attn_bwd: with P the weights, dO = dctx and S = scale·q·kᵀ:
   dv = Pᵀ·dO, dP = dO·vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)), dq = scale·dS·k,
   dk = scale·dSᵀ·q. Rows past the last real key get zero gradients. Operands
   are packed contiguously first (see mm_nn). */
static int attn_bwd(float *dqkv, const float *dctx, const float *qkv, const float *probs, const uint8_t *mask,
                    const kattn *a, long u0, long u1) {
	const long T = a->seq, H = a->heads, hd = a->hd, D = H * hd, ld = 3 * D, Tp = round16(T);
	/* pt [T, Tp] (Pᵀ, then dSᵀ), ds [T, Tp], vt [hd, Tp], qs, ks, os [T, hd], tail [T, 16] */
	float *ws = malloc((size_t)(2 * T * Tp + hd * Tp + 3 * T * hd + T * VW) * sizeof(float));
	if (!ws) return -1;
	float *pt = ws, *ds = pt + T * Tp, *vt = ds + T * Tp, *qs = vt + hd * Tp, *ks = qs + T * hd,
	      *os = ks + T * hd, *tail = os + T * hd;
	for (long u = u0; u < u1; u++) {
		const long b = u / H, h = u % H;
		const long L = valid_keys(mask + b * T, T), Lp = round16(L);
		const float *q = qkv + b * T * ld + h * hd, *k = q + D, *v = q + 2 * D;
		const float *P = probs + u * T * T;
		float *dq = dqkv + b * T * ld + h * hd, *dk = dq + D, *dv = dq + 2 * D;
		for (long i = L; i < T; i++) {
			memset(dq + i * ld, 0, (size_t)hd * sizeof(float));
			memset(dk + i * ld, 0, (size_t)hd * sizeof(float));
			memset(dv + i * ld, 0, (size_t)hd * sizeof(float));
		}
		if (L == 0) continue;
		pack(os, dctx + b * T * D + h * hd, L, hd, D, 1.0f);
		pack(qs, q, L, hd, ld, a->scale);
		pack(ks, k, L, hd, ld, a->scale);
		/* dv = Pᵀ·dO */
		pack_t(pt, Lp, P, L, L, T);
		mm_nn(L, hd, L, pt, Lp, os, hd, dv, ld, 0, NULL, tail);
		/* dP = dO·vᵀ into ds */
		pack_t(vt, Lp, v, L, hd, ld);
		mm_nn(L, Lp, hd, os, hd, vt, Lp, ds, Lp, 0, NULL, NULL);
		/* dS = P ⊙ (dP − rowsum(P ⊙ dP)) */
		for (long i = 0; i < L; i++) {
			const float *pi = P + i * T;
			float *di = ds + i * Lp;
			v16 acc = vset(0.0f);
			long j = 0;
			for (; j + VW <= L; j += VW) acc += vld(pi + j) * vld(di + j);
			float dot = hsum(acc);
			for (; j < L; j++) dot += pi[j] * di[j];
			v16 vdot = vset(dot);
			for (j = 0; j + VW <= L; j += VW) vst(di + j, vld(pi + j) * (vld(di + j) - vdot));
			for (; j < L; j++) di[j] = pi[j] * (di[j] - dot);
			memset(di + L, 0, (size_t)(Lp - L) * sizeof(float));
		}
		/* dq = dS·(scale·k), dk = dSᵀ·(scale·q) */
		mm_nn(L, hd, L, ds, Lp, ks, hd, dq, ld, 0, NULL, tail);
		pack_t(pt, Lp, ds, L, L, Lp);
		mm_nn(L, hd, L, pt, Lp, qs, hd, dk, ld, 0, NULL, tail);
	}
	free(ws);
	return 0;
}

/* ---- Attention for one query row per sequence (kernels.RowAttention) ----
   The last layer of a pass that keeps one row per sequence (model.ForwardRows)
   needs only that row's context: its query against the sequence's keys, a
   vector-matrix product per head instead of attn_fwd's matrix products. */

/* dotv is Σ a[c]·b[c] over n values. */
KI float dotv(const float *a, const float *b, long n) {
	v16 acc = vset(0.0f);
	long c = 0;
	for (; c + VW <= n; c += VW) acc += vld(a + c) * vld(b + c);
	if (c < n) acc += vld_part(a + c, n - c) * vld_part(b + c, n - c);
	return hsum(acc);
}

/* axpyv is y += x·s over n values. */
KI void axpyv(float *y, const float *x, float s, long n) {
	long c = 0;
	for (; c + VW <= n; c += VW) vst(y + c, vld(y + c) + vld(x + c) * vset(s));
	for (; c < n; c++) y[c] += x[c] * s;
}

/* attn_rows_fwd: for each sequence b and head h, the query at row rows[b]
   attends over the keys attn_fwd gives it (real keys before the last real
   one; with a causal mask those at or before it): ctx [B, D] row b, probs
   [B, H, T] (or NULL) its weights, zero elsewhere, for sequences [b0, b1).
   A padding query gets zeros, as in attn_fwd. */
static int attn_rows_fwd(float *ctx, const float *qkv, const uint8_t *mask, const int32_t *rows, float *probs,
                         const kattn *a, long b0, long b1) {
	const long T = a->seq, H = a->heads, hd = a->hd, D = H * hd, ld = 3 * D;
	float *s = malloc((size_t)T * sizeof(float)); /* one query's scores, then weights */
	if (!s) return -1;
	for (long b = b0; b < b1; b++) {
		const uint8_t *mk = mask + b * T;
		const long r = rows[b], L = valid_keys(mk, T), lim = a->causal && r + 1 < L ? r + 1 : L;
		for (long h = 0; h < H; h++) {
			float *o = ctx + b * D + h * hd, *p = probs ? probs + (b * H + h) * T : NULL;
			memset(o, 0, (size_t)hd * sizeof(float));
			if (p) memset(p, 0, (size_t)T * sizeof(float));
			if (!mk[r]) continue;
			const float *q = qkv + (b * T + r) * ld + h * hd;
			float mx = -INFINITY;
			for (long j = 0; j < lim; j++) {
				s[j] = mk[j] ? dotv(q, qkv + (b * T + j) * ld + D + h * hd, hd) * a->scale : -INFINITY;
				mx = s[j] > mx ? s[j] : mx;
			}
			if (!(mx > -INFINITY)) continue;
			float sum = 0;
			for (long j = 0; j < lim; j++) {
				s[j] = mk[j] ? expf(s[j] - mx) : 0.0f;
				sum += s[j];
			}
			const float inv = 1.0f / sum;
			for (long j = 0; j < lim; j++) {
				const float pj = s[j] * inv;
				if (p) p[j] = pj;
				if (pj != 0.0f) axpyv(o, qkv + (b * T + j) * ld + 2 * D + h * hd, pj, hd);
			}
		}
	}
	free(s);
	return 0;
}

/* attn_rows_bwd is attn_rows_fwd's backward: with p the kept query's
   weights and dO = dctx row b, dv_j = p_j·dO, dp_j = dO·v_j,
   ds_j = p_j·(dp_j − Σ p·dp), dq = scale·Σ ds_j·k_j (the kept row only),
   dk_j = scale·ds_j·q. Every value of dqkv's rows of sequences [b0, b1)
   is written: other rows' dq and keys without weight get zeros. */
static int attn_rows_bwd(float *dqkv, const float *dctx, const float *qkv, const float *probs, const uint8_t *mask,
                         const int32_t *rows, const kattn *a, long b0, long b1) {
	const long T = a->seq, H = a->heads, hd = a->hd, D = H * hd, ld = 3 * D;
	float *s = malloc((size_t)T * sizeof(float)); /* dp_j */
	if (!s) return -1;
	memset(dqkv + b0 * T * ld, 0, (size_t)((b1 - b0) * T * ld) * sizeof(float));
	for (long b = b0; b < b1; b++) {
		const uint8_t *mk = mask + b * T;
		const long r = rows[b], L = valid_keys(mk, T), lim = a->causal && r + 1 < L ? r + 1 : L;
		if (!mk[r]) continue;
		for (long h = 0; h < H; h++) {
			const float *p = probs + (b * H + h) * T, *dO = dctx + b * D + h * hd;
			const float *q = qkv + (b * T + r) * ld + h * hd;
			float dot = 0;
			for (long j = 0; j < lim; j++) {
				s[j] = p[j] != 0.0f ? dotv(dO, qkv + (b * T + j) * ld + 2 * D + h * hd, hd) : 0.0f;
				dot += p[j] * s[j];
			}
			float *dq = dqkv + (b * T + r) * ld + h * hd;
			for (long j = 0; j < lim; j++) {
				if (p[j] == 0.0f) continue;
				const float ds = p[j] * (s[j] - dot) * a->scale;
				float *dk = dqkv + (b * T + j) * ld + D + h * hd;
				axpyv(dq, qkv + (b * T + j) * ld + D + h * hd, ds, hd);
				axpyv(dk, q, ds, hd);
				axpyv(dk + D, dO, p[j], hd);
			}
		}
	}
	free(s);
	return 0;
}

/* ---- AdamW (kernels.Optimizer) ---------------------------------------- */

/* A v8d is 8 doubles: AdamW's arithmetic is in double, as engine/train's
   host AdamW and the CUDA kernel, with fp32 storage. */
typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4), may_alias));

KI v8d ld8(const float *p) { return __builtin_convertvector(*(const v8fu *)p, v8d); }
KI void st8(float *p, v8d x) { *(v8fu *)p = __builtin_convertvector(x, v8f); }
KI v8d vset8d(double x) { return (v8d){x, x, x, x, x, x, x, x}; }
KI v8d vsqrt8d(v8d x) {
#if defined(__AVX512F__)
	return (v8d)_mm512_sqrt_pd((__m512d)x);
#elif defined(__AVX2__)
	union {
		v8d v;
		__m256d h[2];
	} u = {x};
	u.h[0] = _mm256_sqrt_pd(u.h[0]);
	u.h[1] = _mm256_sqrt_pd(u.h[1]);
	return u.v;
#else
	for (int i = 0; i < 8; i++) x[i] = sqrt(x[i]);
	return x;
#endif
}

/* adamw matches engine/train's host AdamW bit for bit: the same operations
   in the same order (1 − β as the literals Go folds them to, not computed in
   double, which is 2–4 ulp off), and no contraction into FMAs, which Go does
   not do on amd64 either. */
__attribute__((optimize("fp-contract=off"))) static void adamw(float *w, float *g, float *m, float *v, long n,
                                                               const kadamw *p) {
	const double b1 = 0.9, b2 = 0.999, a1 = 0.1, a2 = 0.001, eps = 1e-8;
	const v8d vb1 = vset8d(b1), vb2 = vset8d(b2), vc1 = vset8d(p->c1), vc2 = vset8d(p->c2);
	const v8d va1 = vset8d(a1), va2 = vset8d(a2), veps = vset8d(eps);
	const v8d vlr = vset8d(p->lr), vwd = vset8d(p->wd);
	const v8f gs = {p->gscale, p->gscale, p->gscale, p->gscale, p->gscale, p->gscale, p->gscale, p->gscale};
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		v8d gi = __builtin_convertvector(*(const v8fu *)(g + i) * gs, v8d);
		v8d mi = vb1 * ld8(m + i) + va1 * gi;
		v8d vi = vb2 * ld8(v + i) + va2 * gi * gi;
		st8(m + i, mi);
		st8(v + i, vi);
		v8d x = ld8(w + i);
		x -= vlr * (mi / vc1 / (vsqrt8d(vi / vc2) + veps) + vwd * x);
		st8(w + i, x);
		*(v8fu *)(g + i) = (v8f){0};
	}
	for (; i < n; i++) {
		double gi = (double)(g[i] * p->gscale);
		double mi = b1 * (double)m[i] + a1 * gi;
		double vi = b2 * (double)v[i] + a2 * gi * gi;
		m[i] = (float)mi;
		v[i] = (float)vi;
		double x = w[i];
		x -= p->lr * (mi / p->c1 / (sqrt(vi / p->c2) + eps) + p->wd * x);
		w[i] = (float)x;
		g[i] = 0;
	}
}

/* sumsq adds in a fixed order (8 lanes, then the lanes in turn, then the
   tail), so a sum is the same every run. */
static double sumsq(const float *x, long n) {
	v8d acc = vset8d(0);
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		v8d xi = ld8(x + i);
		acc += xi * xi;
	}
	double s = 0;
	for (int l = 0; l < 8; l++) s += acc[l];
	for (; i < n; i++) s += (double)x[i] * (double)x[i];
	return s;
}

/* ---- cpu:int8: activations to uint8 and the product's epilogue ---- */

typedef int32_t i16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef uint8_t u8x16 __attribute__((vector_size(16), aligned(1), may_alias));

/* vround rounds to the nearest integer (ties to even) for |x| < 2²²: adding
   and taking away 1.5·2²³ leaves no fraction bits. */
KI v16 vround(v16 x) { return (x + vset(12582912.0f)) - vset(12582912.0f); }

/* q8_quant: a row's range [lo, hi] (widened to hold 0, so that 0 is exact)
   maps to 0..255 with sx = (hi − lo)/255 and zp = round(−lo/sx). A row with
   an infinity or NaN gets sx = NaN: its outputs are NaN, as in fp32. */
static void q8_quant(uint8_t *xq, float *sx, int32_t *zp, const float *x, long rows, long k) {
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * k;
		uint8_t *qr = xq + r * k;
		float l = 0, h = 0, b = 0;
		long i = 0;
#if defined(__AVX512F__)
		/* vminps/vmaxps on two independent chains: the blends of the
		   portable loop below form one long dependency chain. */
		__m512 lo0 = _mm512_setzero_ps(), lo1 = lo0, hi0 = lo0, hi1 = lo0, bad0 = lo0, bad1 = lo0, zero = lo0;
		for (; i + 2 * VW <= k; i += 2 * VW) {
			__m512 a = _mm512_loadu_ps(xr + i), c = _mm512_loadu_ps(xr + i + VW);
			lo0 = _mm512_min_ps(lo0, a);
			hi0 = _mm512_max_ps(hi0, a);
			lo1 = _mm512_min_ps(lo1, c);
			hi1 = _mm512_max_ps(hi1, c);
			bad0 = _mm512_fmadd_ps(a, zero, bad0); /* NaN once an infinity or NaN passes */
			bad1 = _mm512_fmadd_ps(c, zero, bad1);
		}
		l = _mm512_reduce_min_ps(_mm512_min_ps(lo0, lo1));
		h = _mm512_reduce_max_ps(_mm512_max_ps(hi0, hi1));
		b = _mm512_reduce_add_ps(_mm512_add_ps(bad0, bad1));
#endif
		v16 lo = vset(0.0f), hi = vset(0.0f), bad = vset(0.0f);
		for (; i + VW <= k; i += VW) {
			v16 v = vld(xr + i);
			lo = vsel(vlt(v, lo), v, lo);
			hi = vsel(vgt(v, hi), v, hi);
			bad += v * vset(0.0f); /* NaN once an infinity or NaN passes */
		}
		for (int j = 0; j < VW; j++) {
			l = lo[j] < l ? lo[j] : l;
			h = hi[j] > h ? hi[j] : h;
			b += bad[j];
		}
		for (; i < k; i++) {
			l = xr[i] < l ? xr[i] : l;
			h = xr[i] > h ? xr[i] : h;
			b += xr[i] * 0.0f;
		}
		float s = (h - l) / 255.0f;
		/* b is 0 unless an infinity or NaN passed (NaN != 0); a range past
		   float's is treated the same. */
		if (b != 0.0f || s > FLT_MAX) {
			sx[r] = NAN;
			zp[r] = 0;
			memset(qr, 0, (size_t)k);
			continue;
		}
		/* An all-zero row, or one so close to 0 that 1/s would overflow:
		   every q is zp = 0, each value off by less than FLT_MIN·255. */
		if (!(s >= FLT_MIN)) s = 1.0f;
		float inv = 1.0f / s;
		float z = roundf(-l * inv);
		sx[r] = s;
		zp[r] = (int32_t)z;
		i = 0;
#if defined(__AVX512F__)
		{
			/* vcvtps2dq rounds to nearest even (MXCSR's default) as vround does;
			   the zero point is added after rounding, in integers. */
			__m512 vi = _mm512_set1_ps(inv);
			__m512i vzi = _mm512_set1_epi32((int32_t)z), lo8 = _mm512_setzero_si512(), hi8 = _mm512_set1_epi32(255);
			for (; i + VW <= k; i += VW) {
				__m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + i), vi)), vzi);
				q = _mm512_min_epi32(_mm512_max_epi32(q, lo8), hi8);
				_mm_storeu_si128((__m128i *)(qr + i), _mm512_cvtepi32_epi8(q));
			}
		}
#endif
		v16 vz = vset(z), vinv = vset(inv);
		for (; i + VW <= k; i += VW) {
			v16 p = vld(xr + i) * vinv;
			/* Through memory, so that the compiler cannot fuse the product
			   into vround's addition (an FMA would round the exact product,
			   not the float one the scalar tail and the AVX-512 loop round).
			   This loop runs only without AVX-512, outside production. */
			__asm__("" : "+m"(p));
			v16 q = vround(p) + vz;
			q = vsel(vlt(q, vset(0.0f)), vset(0.0f), q);
			q = vsel(vgt(q, vset(255.0f)), vset(255.0f), q);
			*(u8x16 *)(qr + i) = __builtin_convertvector(__builtin_convertvector(q, i16), u8x16);
		}
		for (; i < k; i++) {
			float q = nearbyintf(xr[i] * inv) + z;
			qr[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
		}
	}
}

/* q8_out: each row's scales, zero-point correction and bias in one vector
   pass, then the activation in place with act_fwd (the row is still in L1). */
static void q8_out(float *y, long ldy, const int32_t *acc, long rows, long n, const float *sx, const int32_t *zp,
                   const float *sw, const int32_t *colsum, const float *bias, int act) {
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * ldy;
		const int32_t *accr = acc + r * n;
		v16 va = vset(sx[r]);
		i16 vz = (i16){0} + zp[r];
		long j = 0;
		for (; j + VW <= n; j += VW) {
			v16 t = __builtin_convertvector(*(const i16u *)(accr + j) - vz * *(const i16u *)(colsum + j), v16) *
			        (va * vld(sw + j));
			vst(yr + j, bias ? t + vld(bias + j) : t);
		}
		for (; j < n; j++) {
			float t = (float)(accr[j] - zp[r] * colsum[j]) * (sx[r] * sw[j]);
			yr[j] = bias ? t + bias[j] : t;
		}
		act_fwd(yr, yr, n, act);
	}
}

const kern_ops KNAME(kern_ops) = {
    .isa = KISA,
    .act_fwd = act_fwd,
    .act_bwd = act_bwd,
    .bias_act = bias_act,
    .bias_fill = bias_fill,
    .add = add,
    .addnorm = addnorm,
    .norm_bwd = norm_bwd,
    .colsum = colsum,
    .embed = embed,
    .embed_bf16 = embed_bf16,
    .attn_fwd = attn_fwd,
    .attn_bwd = attn_bwd,
    .attn_rows_fwd = attn_rows_fwd,
    .attn_rows_bwd = attn_rows_bwd,
    .adamw = adamw,
    .sumsq = sumsq,
    .q8_quant = q8_quant,
    .q8_out = q8_out,
#if defined(__AVX512F__)
    .attn_fwd_bf16 = attn_fwd_bf16,
#endif
};
