// kern_fused.h: the element-wise passes of the forward pass that remain
// after the GEMM epilogues, vectorised: every thread moves four values with
// one 8-byte (16-bit storage) or 16-byte (fp32) load or store instead of four
// 2- or 4-byte ones. The launcher (ops_fused.go) picks them only where rows
// hold a multiple of four values and every address is aligned to four values;
// otherwise the scalar kernels of kern_elementwise.h run. The arithmetic is
// theirs, value for value (the LayerNorm sums run in another order).
#pragma once
#include "kern_elementwise.h"

// pack4<T>::raw is four values of T as one aligned machine word.
#ifdef ADB_EMU
struct alignas(8) adb_pk8 {
	unsigned x, y;
};
#else
typedef uint2 adb_pk8;
#endif
template <typename T> struct pack4 { typedef adb_pk8 raw; };
template <> struct pack4<float> { typedef float4 raw; };

template <typename T> DI void load4(const T *p, float v[4]) {
	typename pack4<T>::raw r = *reinterpret_cast<const typename pack4<T>::raw *>(p);
	const T *e = reinterpret_cast<const T *>(&r);
#pragma unroll
	for (int i = 0; i < 4; i++) v[i] = to_f(e[i]);
}

template <typename T> DI void store4(T *p, const float v[4]) {
	typename pack4<T>::raw r;
	T *e = reinterpret_cast<T *>(&r);
#pragma unroll
	for (int i = 0; i < 4; i++) e[i] = from_f<T>(v[i]);
	*reinterpret_cast<typename pack4<T>::raw *>(p) = r;
}

// bias_act4: y[r, j] = act(y[r, j] + bias[j]) (bias 0: act only; fill:
// y = bias) with n, ldy and both addresses multiples of four values.
// blockIdx.y walks rows, threads walk groups of four columns.
template <typename T> DI void bias_act4_kernel(const kBiasAct &p) {
	const T *bias = dp<const T>(p.bias);
	const int groups = p.n >> 2;
	for (int r = blockIdx.y; r < p.rows; r += gridDim.y) {
		T *y = dp<T>(p.y) + (long long)r * p.ldy;
		for (int g = blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += gridDim.x * blockDim.x) {
			float v[4], b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
			if (bias) load4(bias + 4 * g, b);
			if (p.fill) {
				store4(y + 4 * g, b);
				continue;
			}
			load4(y + 4 * g, v);
#pragma unroll
			for (int i = 0; i < 4; i++) v[i] = act_of<T>(v[i] + b[i], p.act);
			store4(y + 4 * g, v);
		}
	}
}

// norm4: AddNorm (kern_elementwise.h's norm_kernel) with one warp per row and
// each lane holding NV groups of four consecutive values in registers: cols
// ≤ 128·NV, cols a multiple of four. Every input is read before anything is
// written, so y and sum may alias a or b.
template <typename T, int NV> DI void norm4_kernel(const kNorm &p) {
	const int lane = threadIdx.x & 31;
	const int warps = blockDim.x >> 5;
	const int r = blockIdx.x * warps + (threadIdx.x >> 5);
	if (r >= p.rows) return; // whole warps leave together
	const long long off = (long long)r * p.cols;
	const T *a = dp<const T>(p.a) + off;
	const T *b = p.b ? dp<const T>(p.b) + off : nullptr;
	dptr_t g_, b_;
	norm_seg(p, r, &g_, &b_);
	const T *gamma = dp<const T>(g_), *beta = dp<const T>(b_);
	T *y = dp<T>(p.y) + off;
	T *sum = p.sum ? dp<T>(p.sum) + off : nullptr;
	const float inv = 1.0f / (float)p.cols;
	float s[NV][4];
	float tot = 0.0f;
#pragma unroll
	for (int v = 0; v < NV; v++) {
		const int j = 4 * (lane + 32 * v);
		if (j < p.cols) {
			load4(a + j, s[v]);
			if (b) {
				float t[4];
				load4(b + j, t);
#pragma unroll
				for (int i = 0; i < 4; i++) s[v][i] += t[i];
			}
#pragma unroll
			for (int i = 0; i < 4; i++) {
				if (sum) s[v][i] = to_f(from_f<T>(s[v][i])); // normalise the stored (rounded) sum
				tot += s[v][i];
			}
		} else {
#pragma unroll
			for (int i = 0; i < 4; i++) s[v][i] = 0.0f;
		}
	}
	const float mean = warp_sum(tot) * inv;
	float var = 0.0f;
#pragma unroll
	for (int v = 0; v < NV; v++) {
		if (4 * (lane + 32 * v) < p.cols) {
#pragma unroll
			for (int i = 0; i < 4; i++) {
				const float d = s[v][i] - mean;
				var += d * d;
			}
		}
	}
	const float rstd = 1.0f / sqrtf(warp_sum(var) * inv + p.eps);
#pragma unroll
	for (int v = 0; v < NV; v++) {
		const int j = 4 * (lane + 32 * v);
		if (j < p.cols) {
			float g[4], be[4], o[4];
			load4(gamma + j, g);
			load4(beta + j, be);
#pragma unroll
			for (int i = 0; i < 4; i++) o[i] = (s[v][i] - mean) * rstd * g[i] + be[i];
			if (sum) store4(sum + j, s[v]);
			store4(y + j, o);
		}
	}
}

// FUSED_KERNELS(sfx, T): the entry points, instantiated per storage type in
// kern_entry.h. norm4 variants: NV groups of four per lane (cols ≤ 128·NV;
// 3 serves MiniLM's 384, 6 BERT-base's 768, 8 BERT-large's 1024).
#define FUSED_KERNELS(sfx, T)                                                                      \
	KERNEL(k_bias_act4_##sfx, kBiasAct, EW_THREADS) { bias_act4_kernel<T>(p); }                  \
	KERNEL(k_norm4v1_##sfx, kNorm, EW_THREADS) { norm4_kernel<T, 1>(p); }                        \
	KERNEL(k_norm4v2_##sfx, kNorm, EW_THREADS) { norm4_kernel<T, 2>(p); }                        \
	KERNEL(k_norm4v3_##sfx, kNorm, EW_THREADS) { norm4_kernel<T, 3>(p); }                        \
	KERNEL(k_norm4v4_##sfx, kNorm, EW_THREADS) { norm4_kernel<T, 4>(p); }                        \
	KERNEL(k_norm4v6_##sfx, kNorm, EW_THREADS) { norm4_kernel<T, 6>(p); }                        \
	KERNEL(k_norm4v8_##sfx, kNorm, EW_THREADS) { norm4_kernel<T, 8>(p); }
