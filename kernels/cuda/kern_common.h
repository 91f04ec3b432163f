// kern_common.h: storage types, activations and warp reductions shared by the
// kernels. Every kernel is a template over its storage type T (float, or the
// 16-bit f16/bf16 of the low-precision modes) and computes in fp32.
#pragma once

#ifdef ADB_EMU
#include "emu_cuda.h"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#endif

#include "kargs.h"

typedef __half f16;
typedef __nv_bfloat16 bf16;

// KERNEL declares an exported entry point taking one argument block. The
// emulator (ADB_EMU) also registers it by name so that the Go launcher finds
// it as it would in the PTX module.
#ifdef ADB_EMU
#define KERNEL(name, Args, threads)                                                                \
	extern "C" void name(const Args p);                                                        \
	static emu::Registrar emu_reg_##name(#name, sizeof(Args),                                  \
	                                     [](const void *a) { name(*(const Args *)a); });       \
	extern "C" void name(const Args p)
#else
#define KERNEL(name, Args, threads) extern "C" __global__ void __launch_bounds__(threads) name(const Args p)
#endif

// DYN_SMEM names the dynamic shared memory of a launch.
#ifdef ADB_EMU
#define DYN_SMEM(name) unsigned char *name = emu::dynamic_smem()
#else
#define DYN_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#endif

#define DI __device__ __forceinline__

template <typename T> DI T *dp(dptr_t p) { return reinterpret_cast<T *>(p); }

DI float to_f(float v) { return v; }
DI float to_f(f16 v) { return __half2float(v); }
DI float to_f(bf16 v) { return __bfloat162float(v); }

template <typename T> DI T from_f(float v);
template <> DI float from_f<float>(float v) { return v; }
template <> DI f16 from_f<f16>(float v) { return __float2half_rn(v); }
template <> DI bf16 from_f<bf16>(float v) { return __float2bfloat16_rn(v); }

// exact<T> is true for fp32 storage: the golden path, where activations are
// evaluated in double so that they match a float64 reference to an ulp or
// two. The 16-bit modes round every result to 8 or 11 bits and use the fp32
// library functions.
template <typename T> struct exact_math { static const bool value = false; };
template <> struct exact_math<float> { static const bool value = true; };

#define SQRT_2_OVER_PI 0.79788456080286535588
#define INV_SQRT_2 0.70710678118654752440

// act_apply is the activation `act` (kargs.h codes) of x.
template <bool EXACT> DI float act_apply(float x, int act);

template <> DI float act_apply<true>(float xf, int act) {
	double x = xf;
	switch (act) {
	case KACT_GELU: return (float)(0.5 * x * erfc(-x * INV_SQRT_2)); // x·Φ(x), no cancellation for x ≪ 0
	case KACT_GELU_TANH: {
		double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
		return (float)(x / (1.0 + exp(-2.0 * u))); // = ½x(1 + tanh u)
	}
	case KACT_TANH: return (float)tanh(x);
	case KACT_RELU: return xf > 0.0f ? xf : 0.0f;
	}
	return xf;
}

template <> DI float act_apply<false>(float x, int act) {
	switch (act) {
	case KACT_GELU: return 0.5f * x * erfcf(-x * (float)INV_SQRT_2);
	case KACT_GELU_TANH: {
		float u = (float)SQRT_2_OVER_PI * (x + 0.044715f * x * x * x);
		return x / (1.0f + expf(-2.0f * u));
	}
	case KACT_TANH: return tanhf(x);
	case KACT_RELU: return x > 0.0f ? x : 0.0f;
	}
	return x;
}

template <typename T> DI float act_of(float x, int act) { return act_apply<exact_math<T>::value>(x, act); }

DI float warp_sum(float v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

DI float warp_max(float v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// key_ok says whether query i of sequence b may attend to key j.
DI bool key_ok(const unsigned char *mask, int b, int T, int i, int j, int causal) {
	return j < T && mask[(long long)b * T + j] != 0 && !(causal && j > i);
}

DI int imin(int a, int b) { return a < b ? a : b; }
DI int imax(int a, int b) { return a > b ? a : b; }
