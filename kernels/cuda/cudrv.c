//go:build cuda

/* cudrv.c: loads the CUDA driver and cuBLAS with dlopen and calls them
   through tables of function pointers (prototypes in cudrv.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudrv.h"
#include "cudrv_api.h"

#define FIELD(ret, name, params) ret(*name) params;
struct adb_cuda {
	void *lib;
	ADB_CUDA_FUNCS(FIELD)
};
struct adb_cublas {
	void *lib;
	ADB_CUBLAS_FUNCS(FIELD)
};

static void *load(const char *path, char *err, size_t errlen) {
	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
	}
	return h;
}

#define RESOLVE(ret, name, params)                                                                 \
	t->name = (ret(*) params)dlsym(t->lib, #name);                                             \
	if (!t->name) {                                                                            \
		snprintf(err, errlen, "%s: symbol %s missing", path, #name);                       \
		dlclose(t->lib);                                                                   \
		free(t);                                                                           \
		return NULL;                                                                       \
	}

adb_cuda *adb_cuda_open(const char *path, char *err, size_t errlen) {
	adb_cuda *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->lib = load(path, err, errlen);
	if (!t->lib) {
		free(t);
		return NULL;
	}
	ADB_CUDA_FUNCS(RESOLVE)
	return t;
}

adb_cublas *adb_cublas_open(const char *path, char *err, size_t errlen) {
	adb_cublas *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->lib = load(path, err, errlen);
	if (!t->lib) {
		free(t);
		return NULL;
	}
	ADB_CUBLAS_FUNCS(RESOLVE)
	return t;
}

/* ---- driver ---- */

int adb_init(adb_cuda *t) { return t->cuInit(0); }

int adb_driver_version(adb_cuda *t, int *v) { return t->cuDriverGetVersion(v); }

void adb_error(adb_cuda *t, int code, char *buf, size_t len) {
	const char *name = NULL, *text = NULL;
	if (t->cuGetErrorName((CUresult)code, &name) != CUDA_SUCCESS) name = NULL;
	if (t->cuGetErrorString((CUresult)code, &text) != CUDA_SUCCESS) text = NULL;
	snprintf(buf, len, "%s (%d): %s", name ? name : "CUDA error", code, text ? text : "unknown error");
}

int adb_device_count(adb_cuda *t, int *n) { return t->cuDeviceGetCount(n); }

int adb_device(adb_cuda *t, int ordinal, int *dev) {
	CUdevice d = 0;
	int r = t->cuDeviceGet(&d, ordinal);
	*dev = d;
	return r;
}

int adb_device_name(adb_cuda *t, int dev, char *buf, int len) { return t->cuDeviceGetName(buf, len, dev); }

int adb_device_attr(adb_cuda *t, int dev, int attr, int *v) {
	return t->cuDeviceGetAttribute(v, (CUdevice_attribute)attr, dev);
}

int adb_device_mem(adb_cuda *t, int dev, size_t *bytes) { return t->cuDeviceTotalMem_v2(bytes, dev); }

int adb_ctx_retain(adb_cuda *t, int dev, void **ctx) {
	CUcontext c = NULL;
	int r = t->cuDevicePrimaryCtxRetain(&c, dev);
	*ctx = c;
	return r;
}

int adb_ctx_release(adb_cuda *t, int dev) { return t->cuDevicePrimaryCtxRelease_v2(dev); }

int adb_ctx_set(adb_cuda *t, void *ctx) { return t->cuCtxSetCurrent((CUcontext)ctx); }

int adb_stream_create(adb_cuda *t, void **s) {
	CUstream st = NULL;
	int r = t->cuStreamCreate(&st, ADB_CU_STREAM_NON_BLOCKING);
	*s = st;
	return r;
}

int adb_stream_destroy(adb_cuda *t, void *s) { return t->cuStreamDestroy_v2((CUstream)s); }

int adb_stream_sync(adb_cuda *t, void *s) { return t->cuStreamSynchronize((CUstream)s); }

int adb_module_load(adb_cuda *t, const void *image, void **mod, char *log, size_t loglen) {
	CUjit_option opts[2] = {(CUjit_option)ADB_CU_JIT_ERROR_LOG_BUFFER, (CUjit_option)ADB_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void *vals[2] = {log, (void *)(size_t)loglen};
	CUmodule m = NULL;
	if (loglen) log[0] = 0;
	int r = t->cuModuleLoadDataEx(&m, image, 2, opts, vals);
	*mod = m;
	return r;
}

int adb_module_unload(adb_cuda *t, void *mod) { return t->cuModuleUnload((CUmodule)mod); }

int adb_function(adb_cuda *t, void *mod, const char *name, void **fn) {
	CUfunction f = NULL;
	int r = t->cuModuleGetFunction(&f, (CUmodule)mod, name);
	*fn = f;
	return r;
}

int adb_func_max_smem(adb_cuda *t, void *fn, int bytes) {
	return t->cuFuncSetAttribute((CUfunction)fn, (CUfunction_attribute)ADB_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
	                             bytes);
}

/* adb_launch launches fn with one by-value argument block (args, copied by
   the driver before the call returns). */
int adb_launch(adb_cuda *t, void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned smem, void *stream, void *args) {
	void *params[1] = {args};
	return t->cuLaunchKernel((CUfunction)fn, gx, gy, gz, bx, by, bz, smem, (CUstream)stream, params, NULL);
}

int adb_mem_alloc(adb_cuda *t, unsigned long long *p, size_t bytes) {
	CUdeviceptr d = 0;
	int r = t->cuMemAlloc_v2(&d, bytes);
	*p = d;
	return r;
}

int adb_mem_free(adb_cuda *t, unsigned long long p) { return t->cuMemFree_v2((CUdeviceptr)p); }

int adb_host_alloc(adb_cuda *t, void **p, size_t bytes) { return t->cuMemAllocHost_v2(p, bytes); }

int adb_host_free(adb_cuda *t, void *p) { return t->cuMemFreeHost(p); }

int adb_mem_info(adb_cuda *t, size_t *free_, size_t *total) { return t->cuMemGetInfo_v2(free_, total); }

int adb_htod(adb_cuda *t, unsigned long long dst, const void *src, size_t bytes, void *s) {
	return t->cuMemcpyHtoDAsync_v2((CUdeviceptr)dst, src, bytes, (CUstream)s);
}

int adb_dtoh(adb_cuda *t, void *dst, unsigned long long src, size_t bytes, void *s) {
	return t->cuMemcpyDtoHAsync_v2(dst, (CUdeviceptr)src, bytes, (CUstream)s);
}

int adb_dtod(adb_cuda *t, unsigned long long dst, unsigned long long src, size_t bytes, void *s) {
	return t->cuMemcpyDtoDAsync_v2((CUdeviceptr)dst, (CUdeviceptr)src, bytes, (CUstream)s);
}

int adb_memset(adb_cuda *t, unsigned long long dst, size_t bytes, void *s) {
	return t->cuMemsetD8Async((CUdeviceptr)dst, 0, bytes, (CUstream)s);
}

int adb_event_create(adb_cuda *t, void **e) {
	CUevent ev = NULL;
	int r = t->cuEventCreate(&ev, ADB_CU_EVENT_DISABLE_TIMING);
	*e = ev;
	return r;
}

int adb_event_destroy(adb_cuda *t, void *e) { return t->cuEventDestroy_v2((CUevent)e); }

int adb_event_record(adb_cuda *t, void *e, void *s) { return t->cuEventRecord((CUevent)e, (CUstream)s); }

int adb_event_query(adb_cuda *t, void *e) { return t->cuEventQuery((CUevent)e); }

int adb_event_sync(adb_cuda *t, void *e) { return t->cuEventSynchronize((CUevent)e); }

/* ---- cuBLAS ---- */

int adb_cublas_create(adb_cublas *b, void **h) {
	cublasHandle_t hd = NULL;
	int r = b->cublasCreate_v2(&hd);
	*h = hd;
	return r;
}

int adb_cublas_destroy(adb_cublas *b, void *h) { return b->cublasDestroy_v2((cublasHandle_t)h); }

int adb_cublas_version(adb_cublas *b, void *h, int *v) { return b->cublasGetVersion_v2((cublasHandle_t)h, v); }

int adb_cublas_set_stream(adb_cublas *b, void *h, void *s) {
	return b->cublasSetStream_v2((cublasHandle_t)h, (cudaStream_t)s);
}

int adb_cublas_default_math(adb_cublas *b, void *h) {
	return b->cublasSetMathMode((cublasHandle_t)h, (cublasMath_t)ADB_CUBLAS_DEFAULT_MATH);
}

int adb_cublas_sgemm(adb_cublas *b, void *h, int ta, int tb, int m, int n, int k, float alpha, unsigned long long A,
                     int lda, unsigned long long B, int ldb, float beta, unsigned long long C, int ldc) {
	return b->cublasSgemm_v2((cublasHandle_t)h, (cublasOperation_t)(ta ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N),
	                         (cublasOperation_t)(tb ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N), m, n, k, &alpha,
	                         (const float *)A, lda, (const float *)B, ldb, &beta, (float *)C, ldc);
}

int adb_cublas_gemm_ex(adb_cublas *b, void *h, int ta, int tb, int m, int n, int k, float alpha, unsigned long long A,
                       int lda, unsigned long long B, int ldb, float beta, unsigned long long C, int ldc, int dtype) {
	return b->cublasGemmEx((cublasHandle_t)h, (cublasOperation_t)(ta ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N),
	                       (cublasOperation_t)(tb ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N), m, n, k, &alpha, (const void *)A,
	                       (cudaDataType)dtype, lda, (const void *)B, (cudaDataType)dtype, ldb, &beta, (void *)C,
	                       (cudaDataType)dtype, ldc, (cublasComputeType_t)ADB_CUBLAS_COMPUTE_32F,
	                       (cublasGemmAlgo_t)ADB_CUBLAS_GEMM_DEFAULT);
}

int adb_cublas_gemm_sb(adb_cublas *b, void *h, int ta, int tb, int m, int n, int k, float alpha, unsigned long long A,
                       int lda, long long sa, unsigned long long B, int ldb, long long sb, float beta,
                       unsigned long long C, int ldc, long long sc, int batch, int dtype) {
	return b->cublasGemmStridedBatchedEx(
	    (cublasHandle_t)h, (cublasOperation_t)(ta ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N),
	    (cublasOperation_t)(tb ? ADB_CUBLAS_OP_T : ADB_CUBLAS_OP_N), m, n, k, &alpha, (const void *)A, (cudaDataType)dtype,
	    lda, sa, (const void *)B, (cudaDataType)dtype, ldb, sb, &beta, (void *)C, (cudaDataType)dtype, ldc, sc, batch,
	    (cublasComputeType_t)ADB_CUBLAS_COMPUTE_32F, (cublasGemmAlgo_t)ADB_CUBLAS_GEMM_DEFAULT);
}
