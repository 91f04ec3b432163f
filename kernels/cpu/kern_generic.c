/* The kernels compiled for the baseline instruction set (x86-64 SSE2, or any
   other architecture GCC targets). */
#include "kern.h"
#define KNAME(x) x##_generic
#define KISA "generic"
#define MM_R 2
#define MM_NV 1
#define MM_NATIVE 4 /* mm_tile on xmm-sized vectors (see kern_impl.h) */
#include "kern_impl.h"

extern const kern_ops kern_ops_avx512, kern_ops_avx2;

const kern_ops *kern_ops_for(int level) {
#if defined(__x86_64__) && defined(__GNUC__)
	if (level >= 2) return &kern_ops_avx512;
	if (level == 1) return &kern_ops_avx2;
#endif
	(void)level;
	return &kern_ops_generic;
}
