// cuda_emu.h: just enough of CUDA's execution model to run kernels.cu on the
// CPU, for tests on machines without a GPU (build tag cudaemu).
//
// Each thread of a block is a fiber (ucontext) on one OS thread; blocks run
// one after another. A fiber runs until it reaches a barrier (__syncthreads,
// __syncwarp, a warp shuffle), so every execution is one legal interleaving
// of the real GPU's. __shared__ variables become function statics, shared by
// the fibers of the running block. wmma fragments hold the whole 16×16 tile in
// every lane and each lane computes the full product (redundant but exact:
// products of 16-bit inputs are exact in fp32, summed in fp32).
//
// What it cannot show: data races that a real GPU would expose (missing
// barriers between lanes), timing, register or shared memory limits, and the
// rounding order inside real tensor cores.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

// ---- language ----
#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)

struct uint3 {
	unsigned x, y, z;
};
struct dim3 {
	unsigned x, y, z;
};
struct alignas(16) uint4 {
	unsigned x, y, z, w;
};
struct alignas(16) float4 {
	float x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

// ---- 16-bit floats (IEEE binary16 and bfloat16), round to nearest even ----
struct __half {
	unsigned short x;
};
struct __nv_bfloat16 {
	unsigned short x;
};

inline float __half2float(__half h) {
	unsigned s = (h.x >> 15) & 1, e = (h.x >> 10) & 31, m = h.x & 1023;
	float v;
	if (e == 0)
		v = std::ldexp((float)m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = std::ldexp((float)(m | 1024), (int)e - 25);
	return s ? -v : v;
}

inline __half __float2half_rn(float f) {
	uint32_t b;
	std::memcpy(&b, &f, 4);
	unsigned short sign = (unsigned short)((b >> 16) & 0x8000);
	uint32_t a = b & 0x7fffffff;
	__half h;
	if (a > 0x7f800000) { // NaN
		h.x = sign | 0x7e00;
		return h;
	}
	if (a >= 0x477ff000) { // ≥ 65520 rounds to infinity
		h.x = sign | 0x7c00;
		return h;
	}
	if (a < 0x38800000) { // below the smallest normal half: a multiple of 2^-24
		float v;
		std::memcpy(&v, &a, 4);
		h.x = sign | (unsigned short)std::nearbyint(v * 16777216.0f); // exact scaling, round to even
		return h;
	}
	uint32_t m = a + 0xfff + ((a >> 13) & 1) - 0x38000000; // rebias 127 → 15, round to even
	h.x = sign | (unsigned short)(m >> 13);
	return h;
}

inline float __bfloat162float(__nv_bfloat16 h) {
	uint32_t b = (uint32_t)h.x << 16;
	float f;
	std::memcpy(&f, &b, 4);
	return f;
}

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
	uint32_t b;
	std::memcpy(&b, &f, 4);
	__nv_bfloat16 h;
	if ((b & 0x7fffffff) > 0x7f800000)
		h.x = (unsigned short)((b >> 16) | 0x40);
	else
		h.x = (unsigned short)((b + 0x7fff + ((b >> 16) & 1)) >> 16);
	return h;
}

// ---- execution ----
namespace emu {

typedef void (*entry_fn)(const void *args);

struct Registrar {
	Registrar(const char *name, size_t size, entry_fn fn);
};

struct Fiber;
Fiber *current();
const uint3 &thread_idx();
const uint3 &block_idx();
const dim3 &block_dim();
const dim3 &grid_dim();
void sync_block();
void sync_warp();
int lane_id();
uint64_t *warp_exchange();
float *warp_scratch(); // 256 floats per warp, for the wmma emulation
unsigned char *dynamic_smem();

template <typename V> V shfl_xor(V v, int lanemask) {
	static_assert(sizeof(V) <= 8, "shuffle of a value wider than 8 bytes");
	uint64_t *x = warp_exchange();
	int l = lane_id();
	uint64_t bits = 0;
	std::memcpy(&bits, &v, sizeof(V));
	x[l] = bits;
	sync_warp();
	bits = x[(l ^ lanemask) & 31];
	sync_warp();
	V r;
	std::memcpy(&r, &bits, sizeof(V));
	return r;
}

} // namespace emu

#define threadIdx (emu::thread_idx())
#define blockIdx (emu::block_idx())
#define blockDim (emu::block_dim())
#define gridDim (emu::grid_dim())
#define __syncthreads() emu::sync_block()
#define __syncwarp(...) emu::sync_warp()
#define __shfl_xor_sync(mask, v, lanemask) emu::shfl_xor((v), (lanemask))

// ---- wmma ----
namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K> struct shape_of;
template <int M, int N, int K> struct shape_of<matrix_a, M, N, K> {
	static const int R = M, C = K;
};
template <int M, int N, int K> struct shape_of<matrix_b, M, N, K> {
	static const int R = K, C = N;
};
template <int M, int N, int K> struct shape_of<accumulator, M, N, K> {
	static const int R = M, C = N;
};

// The whole tile in logical (row, column) order, in every lane. The *_sync
// functions are warp-collective as on the GPU: every lane arrives before any
// proceeds, so no lane stores a tile while another still loads it.
template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
	static const int R = shape_of<Use, M, N, K>::R, C = shape_of<Use, M, N, K>::C;
	static const int num_elements = R * C;
	T x[R * C];
};

inline float val(float v) { return v; }
inline float val(__half v) { return __half2float(v); }
inline float val(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename Use, int M, int N, int K, typename T, typename L>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L> &f, const T *p, unsigned ldm) {
	emu::sync_warp();
	typedef fragment<Use, M, N, K, T, L> F;
	const bool rowm = std::is_same<L, row_major>::value;
	for (int r = 0; r < F::R; r++)
		for (int c = 0; c < F::C; c++) f.x[r * F::C + c] = rowm ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float> &f, const float *p, unsigned ldm, layout_t l) {
	emu::sync_warp();
	for (int r = 0; r < M; r++)
		for (int c = 0; c < N; c++) f.x[r * N + c] = l == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
}

template <int M, int N, int K>
inline void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ldm, layout_t l) {
	emu::sync_warp();
	for (int r = 0; r < M; r++)
		for (int c = 0; c < N; c++) {
			float v = f.x[r * N + c];
			if (l == mem_row_major)
				p[(size_t)r * ldm + c] = v;
			else
				p[(size_t)c * ldm + r] = v;
		}
}

template <int M, int N, int K> inline void fill_fragment(fragment<accumulator, M, N, K, float> &f, float v) {
	for (int i = 0; i < M * N; i++) f.x[i] = v;
}

template <int M, int N, int K, typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, T, LA> &a,
                     const fragment<matrix_b, M, N, K, T, LB> &b, const fragment<accumulator, M, N, K, float> &c) {
	emu::sync_warp();
	// Lane 0 multiplies (every lane holds the same tiles); the others copy.
	float *out = emu::warp_scratch();
	if (emu::lane_id() == 0)
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				float s = c.x[i * N + j];
				for (int k = 0; k < K; k++) s += val(a.x[i * K + k]) * val(b.x[k * N + j]);
				out[i * N + j] = s;
			}
	emu::sync_warp();
	std::memcpy(d.x, out, sizeof(float) * M * N);
	emu::sync_warp(); // the scratch is free again
}

} // namespace wmma
} // namespace nvcuda
