/* The kernels compiled for AVX2 with FMA (Haswell and later, Zen). */
#include "kern.h"
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
#define KNAME(x) x##_avx2
#define KISA "avx2"
#define MM_R 4  /* 4 rows × 1 vector of 16 = 8 ymm accumulators of 16 registers */
#define MM_NV 1
#define MM_NATIVE 8 /* mm_tile on ymm-sized vectors (see kern_impl.h) */
#include "kern_impl.h"
#endif
