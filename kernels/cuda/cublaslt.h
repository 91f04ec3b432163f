/* cublaslt.h: the cuBLASLt functions the backend calls for GEMMs with a bias
   or activation epilogue, loaded with dlopen like cudrv.h's (libcublasLt.so.N
   sits beside libcublas.so.N, which depends on it). Written as X-macros with
   cublasLt.h's type names; csrc/abi_check.c checks them against the header. */
#ifndef ADB_CUBLASLT_H
#define ADB_CUBLASLT_H

#include <stddef.h>
#include <stdint.h>

#include "cudrv.h"

#ifndef ADB_ABI_CHECK
typedef struct cublasLtContext *cublasLtHandle_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct adb_lt_desc_ *cublasLtMatmulDesc_t;
typedef struct adb_lt_layout_ *cublasLtMatrixLayout_t;
typedef struct adb_lt_pref_ *cublasLtMatmulPreference_t;
typedef enum cublasLtMatmulDescAttributes_t_ { CUBLASLT_MATMUL_DESC_DUMMY = 0 } cublasLtMatmulDescAttributes_t;
typedef enum cublasLtMatmulPreferenceAttributes_t_ { CUBLASLT_MATMUL_PREF_DUMMY = 0 } cublasLtMatmulPreferenceAttributes_t;
typedef cudaDataType cudaDataType_t;
typedef struct {
	cublasLtMatmulAlgo_t algo;
	size_t workspaceSize;
	cublasStatus_t state;
	float wavesCount;
	int reserved[4];
} cublasLtMatmulHeuristicResult_t;
#endif

/* Constants, checked against cublasLt.h by abi_check.c. */
#define ADB_CUBLASLT_MATMUL_DESC_TRANSA 3
#define ADB_CUBLASLT_MATMUL_DESC_TRANSB 4
#define ADB_CUBLASLT_MATMUL_DESC_EPILOGUE 7
#define ADB_CUBLASLT_MATMUL_DESC_BIAS_POINTER 8
#define ADB_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES 1
#define ADB_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES 5
#define ADB_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES 6
#define ADB_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES 7
#define ADB_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES 8
#define ADB_CUBLASLT_EPILOGUE_DEFAULT 1
#define ADB_CUBLASLT_EPILOGUE_RELU 2
#define ADB_CUBLASLT_EPILOGUE_BIAS 4
#define ADB_CUBLASLT_EPILOGUE_RELU_BIAS 6
#define ADB_CUBLASLT_EPILOGUE_GELU 32
#define ADB_CUBLASLT_EPILOGUE_GELU_BIAS 36
#define ADB_CUBLAS_STATUS_NOT_SUPPORTED 15

#define ADB_CUBLASLT_FUNCS(X)                                                                      \
	X(cublasStatus_t, cublasLtCreate, (cublasLtHandle_t * lightHandle))                        \
	X(cublasStatus_t, cublasLtDestroy, (cublasLtHandle_t lightHandle))                         \
	X(size_t, cublasLtGetVersion, (void))                                                      \
	X(cublasStatus_t, cublasLtMatmulDescCreate,                                                \
	  (cublasLtMatmulDesc_t * matmulDesc, cublasComputeType_t computeType, cudaDataType_t scaleType)) \
	X(cublasStatus_t, cublasLtMatmulDescDestroy, (cublasLtMatmulDesc_t matmulDesc))            \
	X(cublasStatus_t, cublasLtMatmulDescSetAttribute,                                          \
	  (cublasLtMatmulDesc_t matmulDesc, cublasLtMatmulDescAttributes_t attr, const void *buf,  \
	   size_t sizeInBytes))                                                                    \
	X(cublasStatus_t, cublasLtMatrixLayoutCreate,                                              \
	  (cublasLtMatrixLayout_t * matLayout, cudaDataType type, uint64_t rows, uint64_t cols,    \
	   int64_t ld))                                                                            \
	X(cublasStatus_t, cublasLtMatrixLayoutDestroy, (cublasLtMatrixLayout_t matLayout))         \
	X(cublasStatus_t, cublasLtMatmulPreferenceCreate, (cublasLtMatmulPreference_t * pref))     \
	X(cublasStatus_t, cublasLtMatmulPreferenceDestroy, (cublasLtMatmulPreference_t pref))      \
	X(cublasStatus_t, cublasLtMatmulPreferenceSetAttribute,                                    \
	  (cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr,             \
	   const void *buf, size_t sizeInBytes))                                                   \
	X(cublasStatus_t, cublasLtMatmulAlgoGetHeuristic,                                          \
	  (cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc,                       \
	   cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, \
	   cublasLtMatrixLayout_t Ddesc, cublasLtMatmulPreference_t preference,                    \
	   int requestedAlgoCount, cublasLtMatmulHeuristicResult_t heuristicResultsArray[],        \
	   int *returnAlgoCount))                                                                  \
	X(cublasStatus_t, cublasLtMatmul,                                                          \
	  (cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc, const void *alpha,      \
	   const void *A, cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc, \
	   const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,                 \
	   cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,        \
	   size_t workspaceSizeInBytes, cudaStream_t stream))

#endif
