/* cudrv_api.h: what cudrv.c offers Go (build tag cuda). Handles are opaque
   pointers; every call returns the library's status code (0: success). */
#ifndef ADB_CUDRV_API_H
#define ADB_CUDRV_API_H

#include <stddef.h>

typedef struct adb_cuda adb_cuda;
typedef struct adb_cublas adb_cublas;

adb_cuda *adb_cuda_open(const char *path, char *err, size_t errlen);
adb_cublas *adb_cublas_open(const char *path, char *err, size_t errlen);

int adb_init(adb_cuda *t);
int adb_driver_version(adb_cuda *t, int *v);
void adb_error(adb_cuda *t, int code, char *buf, size_t len);
int adb_device_count(adb_cuda *t, int *n);
int adb_device(adb_cuda *t, int ordinal, int *dev);
int adb_device_name(adb_cuda *t, int dev, char *buf, int len);
int adb_device_attr(adb_cuda *t, int dev, int attr, int *v);
int adb_device_mem(adb_cuda *t, int dev, size_t *bytes);
int adb_ctx_retain(adb_cuda *t, int dev, void **ctx);
int adb_ctx_release(adb_cuda *t, int dev);
int adb_ctx_set(adb_cuda *t, void *ctx);
int adb_stream_create(adb_cuda *t, void **s);
int adb_stream_destroy(adb_cuda *t, void *s);
int adb_stream_sync(adb_cuda *t, void *s);
int adb_module_load(adb_cuda *t, const void *image, void **mod, char *log, size_t loglen);
int adb_module_unload(adb_cuda *t, void *mod);
int adb_function(adb_cuda *t, void *mod, const char *name, void **fn);
int adb_func_max_smem(adb_cuda *t, void *fn, int bytes);
int adb_launch(adb_cuda *t, void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               unsigned smem, void *stream, void *args);
int adb_mem_alloc(adb_cuda *t, unsigned long long *p, size_t bytes);
int adb_mem_free(adb_cuda *t, unsigned long long p);
int adb_host_alloc(adb_cuda *t, void **p, size_t bytes);
int adb_host_free(adb_cuda *t, void *p);
int adb_mem_info(adb_cuda *t, size_t *free_, size_t *total);
int adb_htod(adb_cuda *t, unsigned long long dst, const void *src, size_t bytes, void *s);
int adb_dtoh(adb_cuda *t, void *dst, unsigned long long src, size_t bytes, void *s);
int adb_dtod(adb_cuda *t, unsigned long long dst, unsigned long long src, size_t bytes, void *s);
int adb_memset(adb_cuda *t, unsigned long long dst, size_t bytes, void *s);
int adb_event_create(adb_cuda *t, void **e);
int adb_event_destroy(adb_cuda *t, void *e);
int adb_event_record(adb_cuda *t, void *e, void *s);
int adb_event_query(adb_cuda *t, void *e);
int adb_event_sync(adb_cuda *t, void *e);

int adb_cublas_create(adb_cublas *b, void **h);
int adb_cublas_destroy(adb_cublas *b, void *h);
int adb_cublas_version(adb_cublas *b, void *h, int *v);
int adb_cublas_set_stream(adb_cublas *b, void *h, void *s);
int adb_cublas_default_math(adb_cublas *b, void *h);
int adb_cublas_sgemm(adb_cublas *b, void *h, int ta, int tb, int m, int n, int k, float alpha, unsigned long long A,
                     int lda, unsigned long long B, int ldb, float beta, unsigned long long C, int ldc);
int adb_cublas_gemm_ex(adb_cublas *b, void *h, int ta, int tb, int m, int n, int k, float alpha, unsigned long long A,
                       int lda, unsigned long long B, int ldb, float beta, unsigned long long C, int ldc, int dtype);
int adb_cublas_gemm_sb(adb_cublas *b, void *h, int ta, int tb, int m, int n, int k, float alpha, unsigned long long A,
                       int lda, long long sa, unsigned long long B, int ldb, long long sb, float beta,
                       unsigned long long C, int ldc, long long sc, int batch, int dtype);

#endif
