/* The kernels compiled for AVX-512 (F, BW, DQ, VL) with FMA. */
#include "kern.h"
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512cd,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt")
#define KNAME(x) x##_avx512
#define KISA "avx512"
#define MM_R 8  /* micro-tile: 8 rows × 2 zmm accumulators = 16 of 32 registers */
#define MM_NV 2
#include "kern_impl.h"
#endif
