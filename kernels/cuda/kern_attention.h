// kern_attention.h: fused multi-head attention, flash-attention style: scores
// are never stored (unless probs are asked for), the softmax is computed
// online tile by tile in fp32.
//
// qkv is [B·T, 3D] with D = H·hd: q of head h at columns h·hd, k at D + h·hd,
// v at 2D + h·hd. ctx is [B·T, D].
#pragma once
#include "kern_common.h"

// attn_simt: any head dimension up to HDMAX, any storage type, exact fp32
// arithmetic (the golden path). A block is 32 queries of one (sequence,
// head); each query is a quad of 4 consecutive lanes, lane `sub` of the quad
// owning the dimensions d ≡ sub (mod 4). Keys go through shared memory KT at
// a time.
#define ATTN_SIMT_THREADS 128
template <typename T, int HDMAX> DI void attn_simt(const kAttn &p) {
	constexpr int KT = HDMAX <= 128 ? 32 : 16;
	constexpr int D4 = HDMAX / 4;
	__shared__ float Ks[KT][HDMAX];
	__shared__ float Vs[KT][HDMAX];

	const int tid = threadIdx.x, sub = tid & 3, ql = tid >> 2;
	const int T_ = p.T, hd = p.hd, h = blockIdx.y, b = blockIdx.z;
	const int D = p.H * hd;
	const long long ld = 3LL * D;
	const int q0 = blockIdx.x * 32;
	const int i = q0 + ql;                  // this quad's query
	const bool real_q = i < T_;
	const int iq = real_q ? i : T_ - 1;     // rows past T compute a copy of the last one, never stored
	const T *qkv = dp<const T>(p.qkv);
	const unsigned char *mask = dp<const unsigned char>(p.mask);
	const T *base = qkv + (long long)b * T_ * ld;

	float q[D4], o[D4];
#pragma unroll
	for (int t = 0; t < D4; t++) {
		int d = sub + 4 * t;
		q[t] = d < hd ? to_f(base[iq * ld + h * hd + d]) : 0.0f;
		o[t] = 0.0f;
	}
	float m = -INFINITY, l = 0.0f;
	// Causal: keys after the block's last query are never needed.
	const int kend = p.causal ? imin(T_, q0 + 32) : T_;

	for (int k0 = 0; k0 < kend; k0 += KT) {
		__syncthreads(); // the previous tile is consumed
		for (int e = tid; e < KT * HDMAX; e += ATTN_SIMT_THREADS) {
			int j = e / HDMAX, d = e % HDMAX;
			float kv = 0.0f, vv = 0.0f;
			if (k0 + j < T_ && d < hd) {
				const T *row = base + (long long)(k0 + j) * ld + h * hd + d;
				kv = to_f(row[D]);
				vv = to_f(row[2 * D]);
			}
			Ks[j][d] = kv;
			Vs[j][d] = vv;
		}
		__syncthreads();
		float sc[KT];
		float tmax = -INFINITY;
#pragma unroll
		for (int j = 0; j < KT; j++) {
			float part = 0.0f;
#pragma unroll
			for (int t = 0; t < D4; t++) part = fmaf(q[t], Ks[j][sub + 4 * t], part);
			part += __shfl_xor_sync(0xffffffffu, part, 1);
			part += __shfl_xor_sync(0xffffffffu, part, 2);
			sc[j] = key_ok(mask, b, T_, iq, k0 + j, p.causal) ? part * p.scale : -INFINITY;
			tmax = fmaxf(tmax, sc[j]);
		}
		float mnew = fmaxf(m, tmax);
		if (mnew == -INFINITY) continue; // every key so far is masked
		float corr = expf(m - mnew);      // 0 when m is −∞
		l *= corr;
#pragma unroll
		for (int t = 0; t < D4; t++) o[t] *= corr;
#pragma unroll
		for (int j = 0; j < KT; j++) {
			float pj = sc[j] == -INFINITY ? 0.0f : expf(sc[j] - mnew);
			l += pj;
#pragma unroll
			for (int t = 0; t < D4; t++) o[t] = fmaf(pj, Vs[j][sub + 4 * t], o[t]);
		}
		m = mnew;
	}
	const float inv = l > 0.0f ? 1.0f / l : 0.0f;
	if (real_q) {
		T *ctx = dp<T>(p.ctx) + ((long long)b * T_ + i) * D + h * hd;
#pragma unroll
		for (int t = 0; t < D4; t++) {
			int d = sub + 4 * t;
			if (d < hd) ctx[d] = from_f<T>(o[t] * inv);
		}
	}
	if (!p.probs) return; // uniform over the block
	// probs: a second sweep recomputes each score and writes the normalised
	// weights of the whole row (zero for masked keys).
	T *prow = dp<T>(p.probs) + (((long long)b * p.H + h) * T_ + iq) * T_;
	for (int k0 = 0; k0 < T_; k0 += KT) {
		__syncthreads();
		for (int e = tid; e < KT * HDMAX; e += ATTN_SIMT_THREADS) {
			int j = e / HDMAX, d = e % HDMAX;
			Ks[j][d] = (k0 + j < T_ && d < hd) ? to_f(base[(long long)(k0 + j) * ld + D + h * hd + d]) : 0.0f;
		}
		__syncthreads();
		for (int j = 0; j < KT; j++) {
			float part = 0.0f;
#pragma unroll
			for (int t = 0; t < D4; t++) part = fmaf(q[t], Ks[j][sub + 4 * t], part);
			part += __shfl_xor_sync(0xffffffffu, part, 1);
			part += __shfl_xor_sync(0xffffffffu, part, 2);
			int jj = k0 + j;
			if (real_q && jj < T_ && (jj & 3) == sub) {
				float v = 0.0f;
				if (l > 0.0f && key_ok(mask, b, T_, iq, jj, p.causal)) v = expf(part * p.scale - m) * inv;
				prow[jj] = from_f<T>(v);
			}
		}
	}
}

// attn_tc: tensor-core attention for 16-bit storage and hd = HD ∈ {32, 64,
// 128}. A block is 4 warps and 64 queries of one (sequence, head), each warp
// owning 16 query rows; keys go 64 at a time. S = Q·Kᵀ and O += P·V run on
// wmma fragments with fp32 accumulation; the online softmax runs in fp32 on
// the scores in shared memory, and O is kept in shared memory so that its
// rows can be rescaled when the running maximum moves.
#define ATTN_TC_THREADS 128
template <int HD> struct attn_tc_smem {
	static const int LQ = HD + 8;  // 16-bit rows of Q, K, V
	static const int LS = 64 + 4;  // fp32 score rows
	static const int LP = 64 + 8;  // 16-bit probability rows
	static const int LO = HD + 4;  // fp32 output rows
	static const int q = 0;
	static const int k = q + 64 * LQ * 2;
	static const int v = k + 64 * LQ * 2;
	static const int s = v + 64 * LQ * 2;
	static const int pp = s + 64 * LS * 4;
	static const int o = pp + 64 * LP * 2;
	static const int stat = o + 64 * LO * 4;     // m, l, corr: 3 × 64 floats
	static const int bytes = stat + 3 * 64 * 4;
};

template <typename T, int HD> DI void attn_tc(const kAttn &p) {
	using namespace nvcuda;
	typedef attn_tc_smem<HD> L;
	DYN_SMEM(smem);
	T *Qs = (T *)(smem + L::q), *Ks = (T *)(smem + L::k), *Vs = (T *)(smem + L::v), *Ps = (T *)(smem + L::pp);
	float *Ss = (float *)(smem + L::s), *Os = (float *)(smem + L::o);
	float *ms = (float *)(smem + L::stat), *ls = ms + 64, *cs = ms + 128;

	const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
	const int T_ = p.T, h = blockIdx.y, b = blockIdx.z, D = p.H * HD;
	const long long ld = 3LL * D;
	const int q0 = blockIdx.x * 64;
	const T *base = dp<const T>(p.qkv) + (long long)b * T_ * ld;
	const unsigned char *mask = dp<const unsigned char>(p.mask);
	const T zero = from_f<T>(0.0f);

	for (int e = tid; e < 64 * HD; e += ATTN_TC_THREADS) {
		int r = e / HD, d = e % HD;
		Qs[r * L::LQ + d] = q0 + r < T_ ? base[(long long)(q0 + r) * ld + h * HD + d] : zero;
		Os[r * L::LO + d] = 0.0f;
	}
	if (tid < 64) {
		ms[tid] = -INFINITY;
		ls[tid] = 0.0f;
	}
	const int kend = p.causal ? imin(T_, q0 + 64) : T_;
	for (int k0 = 0; k0 < kend; k0 += 64) {
		__syncthreads(); // Q/O initialised, or the previous K/V tile consumed
		for (int e = tid; e < 64 * HD; e += ATTN_TC_THREADS) {
			int r = e / HD, d = e % HD;
			bool in = k0 + r < T_;
			const T *row = base + (long long)(k0 + r) * ld + h * HD + d;
			Ks[r * L::LQ + d] = in ? row[D] : zero;
			Vs[r * L::LQ + d] = in ? row[2 * D] : zero;
		}
		__syncthreads();
		// S_w [16, 64] = Q_w · Kᵀ
		{
			wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf[4];
#pragma unroll
			for (int c = 0; c < 4; c++) wmma::fill_fragment(sf[c], 0.0f);
#pragma unroll
			for (int kk = 0; kk < HD / 16; kk++) {
				wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qa;
				wmma::load_matrix_sync(qa, Qs + (16 * w) * L::LQ + 16 * kk, L::LQ);
#pragma unroll
				for (int c = 0; c < 4; c++) {
					wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kb;
					wmma::load_matrix_sync(kb, Ks + (16 * c) * L::LQ + 16 * kk, L::LQ);
					wmma::mma_sync(sf[c], qa, kb, sf[c]);
				}
			}
#pragma unroll
			for (int c = 0; c < 4; c++)
				wmma::store_matrix_sync(Ss + (16 * w) * L::LS + 16 * c, sf[c], L::LS, wmma::mem_row_major);
		}
		__syncwarp();
		// Online softmax: two lanes per row, 32 keys each.
		{
			const int r = 16 * w + (lane >> 1), half = lane & 1;
			const int i = imin(q0 + r, T_ - 1);
			float *srow = Ss + r * L::LS;
			float tmax = -INFINITY;
			for (int c = half * 32; c < half * 32 + 32; c++) {
				float s = key_ok(mask, b, T_, i, k0 + c, p.causal) ? srow[c] * p.scale : -INFINITY;
				srow[c] = s;
				tmax = fmaxf(tmax, s);
			}
			tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
			float mold = ms[r];
			float mnew = fmaxf(mold, tmax);
			float corr = mnew == -INFINITY ? 1.0f : expf(mold - mnew);
			float tot = 0.0f;
			for (int c = half * 32; c < half * 32 + 32; c++) {
				float e = srow[c] == -INFINITY ? 0.0f : expf(srow[c] - mnew);
				T pe = from_f<T>(e);
				Ps[r * L::LP + c] = pe;
				tot += to_f(pe); // the normaliser sums the weights as rounded for the product
			}
			tot += __shfl_xor_sync(0xffffffffu, tot, 1);
			if (half == 0) {
				ms[r] = mnew;
				ls[r] = ls[r] * corr + tot;
				cs[r] = corr;
			}
		}
		__syncwarp();
		for (int e = lane; e < 16 * HD; e += 32) {
			int r = 16 * w + e / HD, d = e % HD;
			Os[r * L::LO + d] *= cs[r];
		}
		__syncwarp();
		// O_w [16, HD] += P_w [16, 64] · V [64, HD]
#pragma unroll
		for (int c = 0; c < HD / 16; c++) {
			wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
			float *optr = Os + (16 * w) * L::LO + 16 * c;
			wmma::load_matrix_sync(of, optr, L::LO, wmma::mem_row_major);
#pragma unroll
			for (int kk = 0; kk < 4; kk++) {
				wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pa;
				wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vb;
				wmma::load_matrix_sync(pa, Ps + (16 * w) * L::LP + 16 * kk, L::LP);
				wmma::load_matrix_sync(vb, Vs + (16 * kk) * L::LQ + 16 * c, L::LQ);
				wmma::mma_sync(of, pa, vb, of);
			}
			wmma::store_matrix_sync(optr, of, L::LO, wmma::mem_row_major);
		}
	}
	__syncthreads();
	T *ctx = dp<T>(p.ctx);
	for (int e = tid; e < 64 * HD; e += ATTN_TC_THREADS) {
		int r = e / HD, d = e % HD;
		if (q0 + r >= T_) continue;
		float l = ls[r];
		float v = l > 0.0f ? Os[r * L::LO + d] / l : 0.0f;
		ctx[((long long)b * T_ + q0 + r) * D + h * HD + d] = from_f<T>(v);
	}
}
