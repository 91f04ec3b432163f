// kern_gemm.h: the GEMM kernels behind Gemm, Linear and SegLinear.
//
// Both kernels compute C = act(alpha·op(A)·op(B) + beta·C + bias) for one
// problem (direct mode) or for many problems in one launch (grouped mode: a
// table of row tiles, each naming its problem; this is the segmented GEMM of
// mixed-adapter batches, in the spirit of Punica's SGMV). A row's result
// depends only on its own inputs and the k order, never on the tile it fell
// in or the other rows of the launch, so a mixed batch gives bit-identical
// rows to per-adapter batches.
#pragma once
#include "kern_common.h"

// gemm_problem resolves the problem and first row of this block.
struct gemm_view {
	dptr_t a, b, c, bias;
	int m, row0;
};

DI gemm_view gemm_resolve(const kGemm &p, int BM) {
	gemm_view v;
	if (p.tiles) {
		kGemmTile t = dp<const kGemmTile>(p.tiles)[blockIdx.y];
		kGemmProb q = dp<const kGemmProb>(p.probs)[t.prob];
		v.a = q.a;
		v.b = q.b;
		v.c = q.c;
		v.bias = q.bias;
		v.m = q.m;
		v.row0 = t.row0;
	} else {
		v.a = p.a;
		v.b = p.b;
		v.c = p.c;
		v.bias = p.bias;
		v.m = p.m;
		v.row0 = blockIdx.y * BM;
	}
	return v;
}

// gemm_store applies the epilogue to one accumulated value of C[i, j].
template <typename T> DI void gemm_store(const kGemm &p, const gemm_view &v, int i, int j, float acc) {
	T *c = dp<T>(v.c) + (long long)i * p.ldc + j;
	float r = p.alpha * acc;
	if (p.beta != 0.0f) r += p.beta * to_f(*c); // BLAS: beta = 0 never reads C
	if (v.bias) r += to_f(dp<const T>(v.bias)[j]);
	*c = from_f<T>(act_of<T>(r, p.act));
}

// gemm_simt: exact fp32 on the CUDA cores, 64×64 tiles of C, 256 threads each
// owning a 4×4 block; k is summed in order with fused multiply-adds.
#define GEMM_SIMT_THREADS 256
DI void gemm_simt(const kGemm &p) {
	constexpr int BM = 64, BN = 64, BK = 16;
	__shared__ __align__(16) float As[BK][BM + 4];
	__shared__ __align__(16) float Bs[BK][BN + 4];
	const gemm_view v = gemm_resolve(p, BM);
	const float *A = dp<const float>(v.a), *B = dp<const float>(v.b);
	const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
	const int col0 = blockIdx.x * BN;
	float acc[4][4];
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

	for (int k0 = 0; k0 < p.k; k0 += BK) {
#pragma unroll
		for (int e = 0; e < BM * BK / GEMM_SIMT_THREADS; e++) {
			int idx = tid + GEMM_SIMT_THREADS * e;
			int r, q; // A(r, q) of the tile; the global walk follows memory order
			if (!p.ta) {
				r = idx / BK;
				q = idx % BK;
			} else {
				q = idx / BM;
				r = idx % BM;
			}
			int gi = v.row0 + r, gq = k0 + q;
			float x = 0.0f;
			if (gi < v.m && gq < p.k) x = p.ta ? A[(long long)gq * p.lda + gi] : A[(long long)gi * p.lda + gq];
			As[q][r] = x;
		}
#pragma unroll
		for (int e = 0; e < BN * BK / GEMM_SIMT_THREADS; e++) {
			int idx = tid + GEMM_SIMT_THREADS * e;
			int q, j; // B(q, j) of the tile
			if (p.tb) {
				j = idx / BK;
				q = idx % BK;
			} else {
				q = idx / BN;
				j = idx % BN;
			}
			int gj = col0 + j, gq = k0 + q;
			float x = 0.0f;
			if (gj < p.n && gq < p.k) x = p.tb ? B[(long long)gj * p.ldb + gq] : B[(long long)gq * p.ldb + gj];
			Bs[q][j] = x;
		}
		__syncthreads();
#pragma unroll
		for (int q = 0; q < BK; q++) {
			float4 a4 = *(const float4 *)&As[q][ty * 4];
			float4 b4 = *(const float4 *)&Bs[q][tx * 4];
			float a[4] = {a4.x, a4.y, a4.z, a4.w}, b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
		}
		__syncthreads();
	}
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int gi = v.row0 + ty * 4 + i;
		if (gi >= v.m) continue;
#pragma unroll
		for (int j = 0; j < 4; j++) {
			int gj = col0 + tx * 4 + j;
			if (gj < p.n) gemm_store<float>(p, v, gi, gj, acc[i][j]);
		}
	}
}

// pack8 is eight 16-bit values moved as one 16-byte word.
union pack8 {
	uint4 u;
	unsigned short h[8];
};

// gemm_fetch8 reads X(r, q..q+7) of a matrix stored row-major with leading
// dimension ld (trans: X(r, q) is stored at [q, r]), zero outside rows × cols.
template <typename T>
DI uint4 gemm_fetch8(const T *X, int ld, bool trans, bool vec, int r, int rows, int q, int cols) {
	pack8 v;
	v.u = make_uint4(0, 0, 0, 0);
	if (r >= rows) return v.u;
	if (!trans) {
		const T *src = X + (long long)r * ld + q;
		if (vec && q + 8 <= cols) return *(const uint4 *)src;
#pragma unroll
		for (int e = 0; e < 8; e++)
			if (q + e < cols) v.h[e] = *(const unsigned short *)(src + e);
		return v.u;
	}
#pragma unroll
	for (int e = 0; e < 8; e++)
		if (q + e < cols) v.h[e] = *(const unsigned short *)(X + (long long)(q + e) * ld + r);
	return v.u;
}

// gemm_tc: 16-bit inputs on the tensor cores (wmma 16×16×16, fp32
// accumulation). A block computes a BM×BN tile of C with warps of WM×WN;
// the k loop stages BK = 32 columns of A and rows of B in shared memory, both
// k-contiguous (B as op(B)ᵀ, which is nn.Linear's [out, in] as stored). The
// next k step is fetched into registers while the current one is multiplied.
template <typename T, int BM, int BN, int WM, int WN> DI void gemm_tc(const kGemm &p) {
	using namespace nvcuda;
	constexpr int BK = 32, LDS = BK + 8;
	constexpr int NWN = BN / WN, NWARPS = (BM / WM) * NWN, NT = NWARPS * 32;
	constexpr int FM = WM / 16, FN = WN / 16;
	constexpr int GA = BM * BK / 8 / NT, GB = BN * BK / 8 / NT; // 16-byte groups per thread
	__shared__ __align__(32) T As[BM * LDS];
	__shared__ __align__(32) T Bs[BN * LDS];
	__shared__ __align__(32) float Cs[NWARPS][16 * 20];

	const gemm_view v = gemm_resolve(p, BM);
	const T *A = dp<const T>(v.a), *B = dp<const T>(v.b);
	const int tid = threadIdx.x, w = tid >> 5, lane = tid & 31;
	const int wm = w / NWN, wn = w % NWN;
	const int col0 = blockIdx.x * BN;
	const int arows = v.m - v.row0; // rows of this tile's problem from row0 on

	wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
	for (int i = 0; i < FM; i++)
#pragma unroll
		for (int j = 0; j < FN; j++) wmma::fill_fragment(acc[i][j], 0.0f);

	const T *Atile = p.ta ? A + v.row0 : A + (long long)v.row0 * p.lda;
	const T *Btile = p.tb ? B + (long long)col0 * p.ldb : B + col0;
	uint4 ra[GA], rb[GB];
	auto fetch = [&](int k0) {
#pragma unroll
		for (int g = 0; g < GA; g++) {
			int idx = tid + NT * g, r = idx / (BK / 8), q = (idx % (BK / 8)) * 8;
			ra[g] = gemm_fetch8<T>(Atile, p.lda, p.ta, p.vec_a, r, arows, k0 + q, p.k);
		}
#pragma unroll
		for (int g = 0; g < GB; g++) {
			int idx = tid + NT * g, r = idx / (BK / 8), q = (idx % (BK / 8)) * 8;
			rb[g] = gemm_fetch8<T>(Btile, p.ldb, !p.tb, p.vec_b, r, p.n - col0, k0 + q, p.k);
		}
	};
	fetch(0);
	for (int k0 = 0; k0 < p.k; k0 += BK) {
#pragma unroll
		for (int g = 0; g < GA; g++) {
			int idx = tid + NT * g;
			*(uint4 *)&As[(idx / (BK / 8)) * LDS + (idx % (BK / 8)) * 8] = ra[g];
		}
#pragma unroll
		for (int g = 0; g < GB; g++) {
			int idx = tid + NT * g;
			*(uint4 *)&Bs[(idx / (BK / 8)) * LDS + (idx % (BK / 8)) * 8] = rb[g];
		}
		__syncthreads();
		if (k0 + BK < p.k) fetch(k0 + BK); // in flight during the products below
#pragma unroll
		for (int kk = 0; kk < BK / 16; kk++) {
			wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bf[FN];
#pragma unroll
			for (int j = 0; j < FN; j++) wmma::load_matrix_sync(bf[j], Bs + (wn * WN + 16 * j) * LDS + 16 * kk, LDS);
#pragma unroll
			for (int i = 0; i < FM; i++) {
				wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> af;
				wmma::load_matrix_sync(af, As + (wm * WM + 16 * i) * LDS + 16 * kk, LDS);
#pragma unroll
				for (int j = 0; j < FN; j++) wmma::mma_sync(acc[i][j], af, bf[j], acc[i][j]);
			}
		}
		__syncthreads();
	}
	float *cs = Cs[w];
#pragma unroll
	for (int i = 0; i < FM; i++) {
#pragma unroll
		for (int j = 0; j < FN; j++) {
			wmma::store_matrix_sync(cs, acc[i][j], 20, wmma::mem_row_major);
			__syncwarp();
			for (int e = lane; e < 256; e += 32) {
				int rr = e >> 4, cc = e & 15;
				int gi = v.row0 + wm * WM + 16 * i + rr, gj = col0 + wn * WN + 16 * j + cc;
				if (gi < v.m && gj < p.n) gemm_store<T>(p, v, gi, gj, cs[rr * 20 + cc]);
			}
			__syncwarp();
		}
	}
}
