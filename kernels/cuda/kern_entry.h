// kern_entry.h: every kernel the cuda backend launches, one module. nvcc
// compiles it through kernels.cu (`make ptx`) to ptx/kernels.ptx.gz, which
// the Go package embeds; the emulator (emu.cc, build tag cudaemu) compiles
// the same source for the CPU. Names end in the storage type: f32, f16 or
// bf16. (The sources are .h files in the package directory so that the go
// command's build cache sees their changes.)
#include "kern_attention.h"
#include "kern_backward.h"
#include "kern_optim.h"
#include "kern_elementwise.h"
#include "kern_flash.h"
#include "kern_fused.h"
#include "kern_gemm.h"

#define EW_THREADS 256

#define PER_TYPE(X) X(f32, float) X(f16, f16) X(bf16, bf16)

#define ELEMENTWISE(sfx, T)                                                                        \
	KERNEL(k_act_##sfx, kAct, EW_THREADS) { act_kernel<T>(p); }                                  \
	KERNEL(k_add_##sfx, kAdd, EW_THREADS) { add_kernel<T>(p); }                                  \
	KERNEL(k_bias_act_##sfx, kBiasAct, EW_THREADS) { bias_act_kernel<T>(p); }                    \
	KERNEL(k_embed_##sfx, kEmbed, EW_THREADS) { embed_kernel<T>(p); }                            \
	KERNEL(k_softmax_##sfx, kSoftmax, EW_THREADS) { softmax_kernel<T>(p); }                      \
	KERNEL(k_norm0_##sfx, kNorm, EW_THREADS) { norm_kernel<T, 0>(p); }                           \
	KERNEL(k_norm4_##sfx, kNorm, EW_THREADS) { norm_kernel<T, 4>(p); }                           \
	KERNEL(k_norm8_##sfx, kNorm, EW_THREADS) { norm_kernel<T, 8>(p); }                           \
	KERNEL(k_norm16_##sfx, kNorm, EW_THREADS) { norm_kernel<T, 16>(p); }                         \
	KERNEL(k_norm32_##sfx, kNorm, EW_THREADS) { norm_kernel<T, 32>(p); }                         \
	KERNEL(k_attn_simt32_##sfx, kAttn, ATTN_SIMT_THREADS) { attn_simt<T, 32>(p); }               \
	KERNEL(k_attn_simt64_##sfx, kAttn, ATTN_SIMT_THREADS) { attn_simt<T, 64>(p); }               \
	KERNEL(k_attn_simt128_##sfx, kAttn, ATTN_SIMT_THREADS) { attn_simt<T, 128>(p); }             \
	KERNEL(k_attn_simt256_##sfx, kAttn, ATTN_SIMT_THREADS) { attn_simt<T, 256>(p); }

PER_TYPE(ELEMENTWISE)
PER_TYPE(FUSED_KERNELS)

#define BACKWARD(sfx, T)                                                                           \
	KERNEL(k_act_bwd_##sfx, kActBwd, EW_THREADS) { act_bwd_kernel<T>(p); }                       \
	KERNEL(k_colsum_part_##sfx, kColSum, EW_THREADS) { colsum_part_kernel<T>(p); }               \
	KERNEL(k_colsum_fin_##sfx, kColSum, EW_THREADS) { colsum_fin_kernel<T>(p); }                 \
	KERNEL(k_norm_stats_##sfx, kNormBwd, EW_THREADS) { norm_stats_kernel<T>(p); }                \
	KERNEL(k_norm_params_##sfx, kNormBwd, EW_THREADS) { norm_params_kernel<T>(p); }              \
	KERNEL(k_norm_dx_##sfx, kNormBwd, EW_THREADS) { norm_dx_kernel<T>(p); }                      \
	KERNEL(k_attn_ds_##sfx, kAttnBwd, EW_THREADS) { attn_ds_kernel<T>(p); }                      \
	KERNEL(k_attn_dqkv_##sfx, kAttnBwd, EW_THREADS) { attn_dqkv_kernel<T>(p); }                  \
	KERNEL(k_sumsq_##sfx, kSumSq, OPT_THREADS) { sumsq_kernel<T>(p); }                           \
	KERNEL(k_adamw_##sfx, kAdamW, OPT_THREADS) { adamw_kernel<T>(p); }

PER_TYPE(BACKWARD)

KERNEL(k_gemm_simt_f32, kGemm, GEMM_SIMT_THREADS) { gemm_simt(p); }

#define TENSOR_CORE(sfx, T)                                                                        \
	KERNEL(k_gemm_tc_big_##sfx, kGemm, 256) { gemm_tc<T, 128, 128, 64, 32>(p); }                 \
	KERNEL(k_gemm_tc_small_##sfx, kGemm, 128) { gemm_tc<T, 64, 64, 32, 32>(p); }                 \
	KERNEL(k_attn_tc32_##sfx, kAttn, ATTN_TC_THREADS) { attn_tc<T, 32>(p); }                     \
	KERNEL(k_attn_tc64_##sfx, kAttn, ATTN_TC_THREADS) { attn_tc<T, 64>(p); }                     \
	KERNEL(k_attn_tc128_##sfx, kAttn, ATTN_TC_THREADS) { attn_tc<T, 128>(p); }

TENSOR_CORE(f16, f16)
TENSOR_CORE(bf16, bf16)
FLASH_KERNELS(f16, f16)
FLASH_KERNELS(bf16, bf16)
