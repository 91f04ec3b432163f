/* cudrv.h: the CUDA driver and cuBLAS functions the backend calls, loaded with
   dlopen at run time so that a binary built with -tags cuda needs neither a
   CUDA toolkit to build nor a driver to start (it reports a clear error
   instead). The prototypes are written once, as X-macros, with the type
   names of cuda.h and cublas_api.h: csrc/abi_check.c expands the same lists
   against the real headers and fails to compile if any prototype, type or
   constant differs (make -C kernels/cuda abi-check). */
#ifndef ADB_CUDRV_H
#define ADB_CUDRV_H

#include <stddef.h>

#ifndef ADB_ABI_CHECK
/* The handful of types used, as cuda.h and cublas_api.h declare them. */
typedef enum cudaError_enum { CUDA_SUCCESS = 0 } CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef enum CUdevice_attribute_enum { CU_DEVICE_ATTRIBUTE_DUMMY = 0 } CUdevice_attribute;
typedef enum CUfunction_attribute_enum { CU_FUNC_ATTRIBUTE_DUMMY = 0 } CUfunction_attribute;
typedef enum CUjit_option_enum { CU_JIT_DUMMY = 0 } CUjit_option;

typedef enum cublasStatus_t_ { CUBLAS_STATUS_SUCCESS = 0 } cublasStatus_t;
typedef struct cublasContext *cublasHandle_t;
typedef struct CUstream_st *cudaStream_t;
typedef enum cublasOperation_t_ { CUBLAS_OP_N = 0 } cublasOperation_t;
typedef enum cublasMath_t_ { CUBLAS_DEFAULT_MATH = 0 } cublasMath_t;
typedef enum cudaDataType_t_ { CUDA_R_32F = 0 } cudaDataType;
typedef enum cublasComputeType_t_ { CUBLAS_COMPUTE_16F = 64 } cublasComputeType_t;
typedef enum cublasGemmAlgo_t_ { CUBLAS_GEMM_DFALT = -1 } cublasGemmAlgo_t;
#endif

/* Constants, checked against the headers by abi_check.c. */
#define ADB_CUDA_ERROR_OUT_OF_MEMORY 2
#define ADB_CUDA_ERROR_NOT_INITIALIZED 3
#define ADB_CUDA_ERROR_NO_DEVICE 100
#define ADB_CUDA_ERROR_NOT_READY 600
#define ADB_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define ADB_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define ADB_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define ADB_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN 97
#define ADB_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8
#define ADB_CU_STREAM_NON_BLOCKING 1
#define ADB_CU_EVENT_DISABLE_TIMING 2
#define ADB_CU_JIT_ERROR_LOG_BUFFER 5
#define ADB_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6
#define ADB_CUBLAS_OP_N 0
#define ADB_CUBLAS_OP_T 1
#define ADB_CUBLAS_DEFAULT_MATH 0
#define ADB_CUDA_R_32F 0
#define ADB_CUDA_R_16F 2
#define ADB_CUDA_R_16BF 14
#define ADB_CUBLAS_COMPUTE_32F 68
#define ADB_CUBLAS_GEMM_DEFAULT (-1)

/* X(return type, symbol, parameter list): the driver functions. Names are the
   exported symbols (the _v2 entry points that cuda.h's macros select). */
#define ADB_CUDA_FUNCS(X)                                                                          \
	X(CUresult, cuInit, (unsigned int Flags))                                                  \
	X(CUresult, cuDriverGetVersion, (int *driverVersion))                                      \
	X(CUresult, cuGetErrorName, (CUresult error, const char **pStr))                           \
	X(CUresult, cuGetErrorString, (CUresult error, const char **pStr))                         \
	X(CUresult, cuDeviceGetCount, (int *count))                                                \
	X(CUresult, cuDeviceGet, (CUdevice * device, int ordinal))                                 \
	X(CUresult, cuDeviceGetName, (char *name, int len, CUdevice dev))                          \
	X(CUresult, cuDeviceGetAttribute, (int *pi, CUdevice_attribute attrib, CUdevice dev))      \
	X(CUresult, cuDeviceTotalMem_v2, (size_t * bytes, CUdevice dev))                           \
	X(CUresult, cuDevicePrimaryCtxRetain, (CUcontext * pctx, CUdevice dev))                    \
	X(CUresult, cuDevicePrimaryCtxRelease_v2, (CUdevice dev))                                  \
	X(CUresult, cuCtxSetCurrent, (CUcontext ctx))                                              \
	X(CUresult, cuStreamCreate, (CUstream * phStream, unsigned int Flags))                     \
	X(CUresult, cuStreamDestroy_v2, (CUstream hStream))                                        \
	X(CUresult, cuStreamSynchronize, (CUstream hStream))                                       \
	X(CUresult, cuModuleLoadDataEx,                                                            \
	  (CUmodule * module, const void *image, unsigned int numOptions, CUjit_option *options,   \
	   void **optionValues))                                                                   \
	X(CUresult, cuModuleUnload, (CUmodule hmod))                                               \
	X(CUresult, cuModuleGetFunction, (CUfunction * hfunc, CUmodule hmod, const char *name))    \
	X(CUresult, cuFuncSetAttribute, (CUfunction hfunc, CUfunction_attribute attrib, int value)) \
	X(CUresult, cuLaunchKernel,                                                                \
	  (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,      \
	   unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,                \
	   unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra))      \
	X(CUresult, cuMemAlloc_v2, (CUdeviceptr * dptr, size_t bytesize))                          \
	X(CUresult, cuMemFree_v2, (CUdeviceptr dptr))                                              \
	X(CUresult, cuMemAllocHost_v2, (void **pp, size_t bytesize))                               \
	X(CUresult, cuMemFreeHost, (void *p))                                                      \
	X(CUresult, cuMemGetInfo_v2, (size_t * free, size_t * total))                              \
	X(CUresult, cuMemcpyHtoDAsync_v2,                                                          \
	  (CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream))        \
	X(CUresult, cuMemcpyDtoHAsync_v2,                                                          \
	  (void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream))              \
	X(CUresult, cuMemcpyDtoDAsync_v2,                                                          \
	  (CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream))      \
	X(CUresult, cuMemsetD8Async, (CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)) \
	X(CUresult, cuEventCreate, (CUevent * phEvent, unsigned int Flags))                        \
	X(CUresult, cuEventDestroy_v2, (CUevent hEvent))                                           \
	X(CUresult, cuEventRecord, (CUevent hEvent, CUstream hStream))                             \
	X(CUresult, cuEventQuery, (CUevent hEvent))                                                \
	X(CUresult, cuEventSynchronize, (CUevent hEvent))

/* The cuBLAS functions (row-major callers swap operands; see blas.go). */
#define ADB_CUBLAS_FUNCS(X)                                                                        \
	X(cublasStatus_t, cublasCreate_v2, (cublasHandle_t * handle))                              \
	X(cublasStatus_t, cublasDestroy_v2, (cublasHandle_t handle))                               \
	X(cublasStatus_t, cublasGetVersion_v2, (cublasHandle_t handle, int *version))              \
	X(cublasStatus_t, cublasSetStream_v2, (cublasHandle_t handle, cudaStream_t streamId))      \
	X(cublasStatus_t, cublasSetMathMode, (cublasHandle_t handle, cublasMath_t mode))           \
	X(cublasStatus_t, cublasSgemm_v2,                                                          \
	  (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, \
	   int k, const float *alpha, const float *A, int lda, const float *B, int ldb,           \
	   const float *beta, float *C, int ldc))                                                  \
	X(cublasStatus_t, cublasGemmEx,                                                            \
	  (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, \
	   int k, const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B,    \
	   cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,    \
	   cublasComputeType_t computeType, cublasGemmAlgo_t algo))                                \
	X(cublasStatus_t, cublasGemmStridedBatchedEx,                                              \
	  (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, \
	   int k, const void *alpha, const void *A, cudaDataType Atype, int lda,                   \
	   long long int strideA, const void *B, cudaDataType Btype, int ldb,                      \
	   long long int strideB, const void *beta, void *C, cudaDataType Ctype, int ldc,          \
	   long long int strideC, int batchCount, cublasComputeType_t computeType,                 \
	   cublasGemmAlgo_t algo))

#endif
