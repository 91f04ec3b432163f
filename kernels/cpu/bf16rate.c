/* How fast this CPU multiplies bfloat16 against float32, measured: cpu:bf16
   pays off only where vdpbf16ps (two products per float32 lane) issues about
   as often as vfmadd (one). Zen 4 does; Sapphire and Emerald Rapids issue
   vdpbf16ps at a quarter of the FMA rate (half its multiply-adds): their
   fast bf16 is AMX, which oneDNN uses where the machine exposes it and
   virtual machines may hide. */
#include "bf16rate.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <time.h>

#define STEPS 4000L

static double seconds(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The loops run twelve independent accumulators, enough to hide either
   instruction's latency; the asm barrier keeps the operands opaque so the
   compiler cannot fold the loop. */
/* Twelve named accumulators (an array would be kept in memory at -O2). */
#define STEP12(OP)                                                                                   \
	c0 = OP(c0); c1 = OP(c1); c2 = OP(c2); c3 = OP(c3); c4 = OP(c4); c5 = OP(c5);               \
	c6 = OP(c6); c7 = OP(c7); c8 = OP(c8); c9 = OP(c9); c10 = OP(c10); c11 = OP(c11)
/* Distinct starting values: equal chains would be merged into one. */
#define INIT12()                                                                                     \
	__m512 c0 = _mm512_set1_ps(0), c1 = _mm512_set1_ps(1), c2 = _mm512_set1_ps(2),              \
	       c3 = _mm512_set1_ps(3), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5),              \
	       c6 = _mm512_set1_ps(6), c7 = _mm512_set1_ps(7), c8 = _mm512_set1_ps(8),              \
	       c9 = _mm512_set1_ps(9), c10 = _mm512_set1_ps(10), c11 = _mm512_set1_ps(11)
#define SUM12()                                                                                      \
	_mm512_reduce_add_ps(_mm512_add_ps(                                                          \
		_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),           \
			      _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7))),          \
		_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11))))

__attribute__((target("avx512f,avx512bf16"), noinline)) static float run_bf16(long steps) {
	INIT12();
	__m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = a;
#define DP(c) _mm512_dpbf16_ps(c, a, b)
	for (long s = 0; s < steps; s++) {
		__asm__ volatile("" : "+v"(a), "+v"(b));
		STEP12(DP);
	}
#undef DP
	return SUM12();
}

__attribute__((target("avx512f,fma"), noinline)) static float run_fp32(long steps) {
	INIT12();
	__m512 a = _mm512_set1_ps(1.0f), b = a;
#define FMA(c) _mm512_fmadd_ps(a, b, c)
	for (long s = 0; s < steps; s++) {
		__asm__ volatile("" : "+v"(a), "+v"(b));
		STEP12(FMA);
	}
#undef FMA
	return SUM12();
}

double bf16_rate(void) {
	double best_bf = 1e30, best_fp = 1e30;
	volatile float sink = 0;
	/* Alternate and keep the fastest of each: a preempted run only loses. */
	for (int rep = 0; rep < 5; rep++) {
		double t0 = seconds();
		sink += run_bf16(STEPS);
		double t1 = seconds();
		sink += run_fp32(STEPS);
		double t2 = seconds();
		if (t1 - t0 < best_bf) best_bf = t1 - t0;
		if (t2 - t1 < best_fp) best_fp = t2 - t1;
	}
	(void)sink;
	if (best_bf <= 0 || best_fp <= 0) return 0;
	/* A vdpbf16ps is 32 multiply-adds, a vfmadd 16. */
	return (2.0 * best_fp) / best_bf;
}
#else
double bf16_rate(void) { return 0; }
#endif
