//go:build cuda

/* cublaslt.c: loads cuBLASLt with dlopen (prototypes in cublaslt.h) and
   keeps, per GEMM shape and epilogue, its descriptors and the algorithm the
   heuristic chose (a plan), so that a pass pays the heuristic once. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cublaslt.h"
#include "cublaslt_api.h"

#define LT_FIELD(ret, name, params) ret(*name) params;
struct adb_lt {
	void *lib;
	ADB_CUBLASLT_FUNCS(LT_FIELD)
};

_Static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96, "cublasLtMatmulHeuristicResult_t as cublasLt.h has it");

struct adb_lt_plan {
	cublasLtMatmulDesc_t desc;
	cublasLtMatrixLayout_t a, b, c;
	cublasLtMatmulAlgo_t algo;
	int bias;
};

#define LT_RESOLVE(ret, name, params)                                                              \
	t->name = (ret(*) params)dlsym(t->lib, #name);                                             \
	if (!t->name) {                                                                            \
		snprintf(err, errlen, "%s: symbol %s missing", path, #name);                       \
		dlclose(t->lib);                                                                   \
		free(t);                                                                           \
		return NULL;                                                                       \
	}

adb_lt *adb_lt_open(const char *path, char *err, size_t errlen) {
	adb_lt *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dlerror();
	t->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!t->lib) {
		const char *e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		free(t);
		return NULL;
	}
	ADB_CUBLASLT_FUNCS(LT_RESOLVE)
	return t;
}

size_t adb_lt_version(adb_lt *t) { return t->cublasLtGetVersion(); }

int adb_lt_create(adb_lt *t, void **h) {
	cublasLtHandle_t hd = NULL;
	int r = t->cublasLtCreate(&hd);
	*h = hd;
	return r;
}

int adb_lt_destroy(adb_lt *t, void *h) { return t->cublasLtDestroy((cublasLtHandle_t)h); }

void adb_lt_plan_destroy(adb_lt *t, adb_lt_plan *p) {
	if (!p) return;
	if (p->a) t->cublasLtMatrixLayoutDestroy(p->a);
	if (p->b) t->cublasLtMatrixLayoutDestroy(p->b);
	if (p->c) t->cublasLtMatrixLayoutDestroy(p->c);
	if (p->desc) t->cublasLtMatmulDescDestroy(p->desc);
	free(p);
}

#define LT_TRY(call)                                                                               \
	do {                                                                                       \
		st = (call);                                                                       \
		if (st != 0) goto fail;                                                            \
	} while (0)

int adb_lt_plan_create(adb_lt *t, void *h, int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc, int dtype,
                       int epilogue, size_t ws_bytes, int align_a, int align_b, int align_c, adb_lt_plan **plan) {
	*plan = NULL;
	adb_lt_plan *p = calloc(1, sizeof *p);
	if (!p) return 3; /* CUBLAS_STATUS_ALLOC_FAILED */
	cublasLtMatmulPreference_t pref = NULL;
	int st;
	int32_t opA = ta ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N, opB = tb ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N;
	uint32_t epi = (uint32_t)epilogue;
	cudaDataType dt = (cudaDataType)dtype;
	LT_TRY(t->cublasLtMatmulDescCreate(&p->desc, (cublasComputeType_t)ADB_CUBLAS_COMPUTE_32F,
	                                   (cudaDataType_t)ADB_CUDA_R_32F));
	LT_TRY(t->cublasLtMatmulDescSetAttribute(p->desc, (cublasLtMatmulDescAttributes_t)ADB_CUBLASLT_MATMUL_DESC_TRANSA,
	                                         &opA, sizeof opA));
	LT_TRY(t->cublasLtMatmulDescSetAttribute(p->desc, (cublasLtMatmulDescAttributes_t)ADB_CUBLASLT_MATMUL_DESC_TRANSB,
	                                         &opB, sizeof opB));
	LT_TRY(t->cublasLtMatmulDescSetAttribute(p->desc, (cublasLtMatmulDescAttributes_t)ADB_CUBLASLT_MATMUL_DESC_EPILOGUE,
	                                         &epi, sizeof epi));
	p->bias = (epilogue & ADB_CUBLASLT_EPILOGUE_BIAS) != 0;
	/* A is op(A) [m,k]: stored k×m when transposed; B likewise. */
	LT_TRY(t->cublasLtMatrixLayoutCreate(&p->a, dt, ta ? k : m, ta ? m : k, lda));
	LT_TRY(t->cublasLtMatrixLayoutCreate(&p->b, dt, tb ? n : k, tb ? k : n, ldb));
	LT_TRY(t->cublasLtMatrixLayoutCreate(&p->c, dt, m, n, ldc));
	LT_TRY(t->cublasLtMatmulPreferenceCreate(&pref));
	uint64_t ws = ws_bytes;
	LT_TRY(t->cublasLtMatmulPreferenceSetAttribute(
	    pref, (cublasLtMatmulPreferenceAttributes_t)ADB_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
	uint32_t al[4] = {(uint32_t)align_a, (uint32_t)align_b, (uint32_t)align_c, (uint32_t)align_c};
	for (int i = 0; i < 4; i++)
		LT_TRY(t->cublasLtMatmulPreferenceSetAttribute(
		    pref, (cublasLtMatmulPreferenceAttributes_t)(ADB_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES + i), &al[i],
		    sizeof al[i]));
	cublasLtMatmulHeuristicResult_t res;
	memset(&res, 0, sizeof res);
	int found = 0;
	st = t->cublasLtMatmulAlgoGetHeuristic((cublasLtHandle_t)h, p->desc, p->a, p->b, p->c, p->c, pref, 1, &res, &found);
	t->cublasLtMatmulPreferenceDestroy(pref);
	pref = NULL;
	if (st == ADB_CUBLAS_STATUS_NOT_SUPPORTED || (st == 0 && (found < 1 || res.state != 0))) {
		adb_lt_plan_destroy(t, p);
		return 0; /* no algorithm: *plan stays NULL */
	}
	if (st != 0) goto fail;
	p->algo = res.algo;
	*plan = p;
	return 0;
fail:
	if (pref) t->cublasLtMatmulPreferenceDestroy(pref);
	adb_lt_plan_destroy(t, p);
	return st;
}

int adb_lt_matmul(adb_lt *t, void *h, adb_lt_plan *p, unsigned long long A, unsigned long long B, unsigned long long C,
                  unsigned long long bias, unsigned long long ws, size_t ws_bytes, void *s) {
	const float one = 1.0f, zero = 0.0f;
	if (p->bias) {
		void *bp = (void *)(size_t)bias;
		int st = t->cublasLtMatmulDescSetAttribute(
		    p->desc, (cublasLtMatmulDescAttributes_t)ADB_CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp);
		if (st != 0) return st;
	}
	return t->cublasLtMatmul((cublasLtHandle_t)h, p->desc, &one, (const void *)(size_t)A, p->a,
	                         (const void *)(size_t)B, p->b, &zero, (const void *)(size_t)C, p->c, (void *)(size_t)C,
	                         p->c, &p->algo, (void *)(size_t)ws, ws_bytes, (cudaStream_t)s);
}
