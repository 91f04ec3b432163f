/* cublaslt_api.h: what cublaslt.c offers Go (build tag cuda). */
#ifndef ADB_CUBLASLT_API_H
#define ADB_CUBLASLT_API_H

#include <stddef.h>

typedef struct adb_lt adb_lt;
typedef struct adb_lt_plan adb_lt_plan;

adb_lt *adb_lt_open(const char *path, char *err, size_t errlen);
size_t adb_lt_version(adb_lt *t);
int adb_lt_create(adb_lt *t, void **h);
int adb_lt_destroy(adb_lt *t, void *h);

/* adb_lt_plan_create describes column-major D[m,n] = epi(op(A)·op(B) + bias)
   (alpha 1, beta 0, fp32 compute, dtype storage) and asks cuBLASLt's
   heuristic for an algorithm within ws_bytes of workspace for operands
   aligned to align_{a,b,c} bytes. *plan is NULL, with status 0, where no
   algorithm supports the case. */
int adb_lt_plan_create(adb_lt *t, void *h, int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc, int dtype,
                       int epilogue, size_t ws_bytes, int align_a, int align_b, int align_c, adb_lt_plan **plan);
void adb_lt_plan_destroy(adb_lt *t, adb_lt_plan *p);

/* adb_lt_matmul runs a plan on stream s (bias 0 where the epilogue has none). */
int adb_lt_matmul(adb_lt *t, void *h, adb_lt_plan *p, unsigned long long A, unsigned long long B, unsigned long long C,
                  unsigned long long bias, unsigned long long ws, size_t ws_bytes, void *s);

#endif
