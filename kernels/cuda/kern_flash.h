// kern_flash.h: flash attention on mma.sync (FlashAttention-2's layout) for
// 16-bit storage and head dims 32, 64 and 128. A block is 4 warps and 64
// queries of one (sequence, head); each warp owns 16 query rows whose Q
// fragments, scores, running max/sum and output accumulator stay in
// registers for the whole pass. Keys and values go through shared memory
// 64 rows at a time with 16-byte loads. S = Q·Kᵀ and O += P·V are
// m16n8k16 tensor-core MMAs (fp32 accumulation); the softmax runs online in
// fp32 on the accumulator registers, the weights rounded to the storage type
// for the P·V product and its normaliser (as attn_tc). The padding mask goes
// to shared memory once per key tile; causal masks compare indices.
//
// The launcher (attention_flash.go) picks it where qkv's rows are 16-byte
// aligned; attn_tc (kern_attention.h) is the reference it is tested against,
// with the CPU backend.
#pragma once
#include "kern_common.h"

#define ATTN_FA_THREADS 128

// mma16816: d += a·b for one warp, m16n8k16, row-major A (16×16 in four
// registers of two 16-bit values), column-major B (16×8 in two), fp32 C/D
// (16×8 in four). Lane l = 4g + t holds A rows g and g+8, columns 2t, 2t+1
// (registers 0, 1) and 2t+8, 2t+9 (registers 2, 3); B column g, rows 2t, 2t+1
// and 2t+8, 2t+9; D rows g (d0, d1) and g+8 (d2, d3), columns 2t, 2t+1.
#ifdef ADB_EMU
// The emulator gathers the warp's fragments through the warp exchange and
// computes each lane's four outputs: exact products, fp32 sums in k order.
template <typename T> inline void mma16816(float d[4], const unsigned a[4], const unsigned b[2]) {
	uint64_t *x = emu::warp_exchange();
	const int lane = emu::lane_id(), g = lane >> 2, t = lane & 3;
	unsigned A[4][32], B[2][32];
	for (int r = 0; r < 4; r++) {
		x[lane] = a[r];
		emu::sync_warp();
		for (int j = 0; j < 32; j++) A[r][j] = (unsigned)x[j];
		emu::sync_warp();
	}
	for (int r = 0; r < 2; r++) {
		x[lane] = b[r];
		emu::sync_warp();
		for (int j = 0; j < 32; j++) B[r][j] = (unsigned)x[j];
		emu::sync_warp();
	}
	auto half_of = [](unsigned w, int hi) {
		T v;
		unsigned short s = (unsigned short)(hi ? w >> 16 : w & 0xffff);
		std::memcpy(&v, &s, 2);
		return to_f(v);
	};
	// A(row, k): row = g' or g'+8 of lane 4g'+t' with k = 2t'+e (+8).
	auto Aat = [&](int row, int k) {
		int gg = row & 7, reg = (row >> 3) + ((k >> 3) << 1), tt = (k & 7) >> 1;
		return half_of(A[reg][4 * gg + tt], k & 1);
	};
	auto Bat = [&](int k, int col) {
		int reg = k >> 3, tt = (k & 7) >> 1;
		return half_of(B[reg][4 * col + tt], k & 1);
	};
	for (int e = 0; e < 4; e++) {
		int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
		float s = d[e];
		for (int k = 0; k < 16; k++) s = fmaf(Aat(row, k), Bat(k, col), s);
		d[e] = s;
	}
}
#else
template <typename T> DI void mma16816(float d[4], const unsigned a[4], const unsigned b[2]);
template <> DI void mma16816<f16>(float d[4], const unsigned a[4], const unsigned b[2]) {
	asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
	             "{%0,%1,%2,%3};\n"
	             : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
	             : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <> DI void mma16816<bf16>(float d[4], const unsigned a[4], const unsigned b[2]) {
	asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
	             "{%0,%1,%2,%3};\n"
	             : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
	             : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

// bits16 / pair16: 16-bit values as register halves (lo at the lower address).
template <typename T> DI unsigned bits16(T v) {
	unsigned short s;
	memcpy(&s, &v, 2);
	return s;
}
template <typename T> DI unsigned pair16(T lo, T hi) { return bits16(lo) | (bits16(hi) << 16); }
template <typename T> DI unsigned ld_pair(const T *p) { return *reinterpret_cast<const unsigned *>(p); }

// fa_tile copies 64 rows of HD values (row r at src + r·ld) into dst (row
// stride HD + 8), 16 bytes at a time; rows ≥ valid read as zero.
template <typename T, int HD> DI void fa_tile(T *dst, const T *src, long long ld, int valid) {
	constexpr int C8 = HD / 8, LD = HD + 8;
	for (int e = threadIdx.x; e < 64 * C8; e += ATTN_FA_THREADS) {
		const int r = e / C8, c = (e % C8) * 8;
		uint4 v = make_uint4(0u, 0u, 0u, 0u);
		if (r < valid) v = *reinterpret_cast<const uint4 *>(src + r * ld + c);
		*reinterpret_cast<uint4 *>(dst + r * LD + c) = v;
	}
}

template <typename T, int HD> DI void attn_fa(const kAttn &p) {
	constexpr int LD = HD + 8; // 16-bit values per shared row: 16-byte rows, banks staggered
	constexpr int KS = HD / 16, NO = HD / 8;
	__shared__ __align__(16) T Ks[64 * LD];
	__shared__ __align__(16) T Vs[64 * LD];
	__shared__ unsigned char Ms[64];

	const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5, g = lane >> 2, t = lane & 3;
	const int T_ = p.T, h = blockIdx.y, b = blockIdx.z, D = p.H * HD;
	const long long ld = 3LL * D;
	const int q0 = blockIdx.x * 64;
	const T *base = dp<const T>(p.qkv) + (long long)b * T_ * ld + h * HD;
	const unsigned char *mask = dp<const unsigned char>(p.mask) + (long long)b * T_;

	// Q through shared memory into this warp's A fragments.
	fa_tile<T, HD>(Ks, base + (long long)q0 * ld, ld, T_ - q0);
	__syncthreads();
	unsigned qa[KS][4];
	{
		const T *r0 = Ks + (16 * w + g) * LD + 2 * t, *r1 = r0 + 8 * LD;
#pragma unroll
		for (int kk = 0; kk < KS; kk++) {
			qa[kk][0] = ld_pair(r0 + 16 * kk);
			qa[kk][1] = ld_pair(r1 + 16 * kk);
			qa[kk][2] = ld_pair(r0 + 16 * kk + 8);
			qa[kk][3] = ld_pair(r1 + 16 * kk + 8);
		}
	}
	float o[NO][4];
#pragma unroll
	for (int n = 0; n < NO; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
	float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
	// This lane's rows; rows past T compute a copy of the last, never stored.
	const int iq[2] = {imin(q0 + 16 * w + g, T_ - 1), imin(q0 + 16 * w + g + 8, T_ - 1)};
	const int kend = p.causal ? imin(T_, q0 + 64) : T_;

	for (int k0 = 0; k0 < kend; k0 += 64) {
		__syncthreads(); // Q fragments read, or the previous tiles consumed
		fa_tile<T, HD>(Ks, base + (long long)k0 * ld + D, ld, T_ - k0);
		fa_tile<T, HD>(Vs, base + (long long)k0 * ld + 2 * D, ld, T_ - k0);
		if (tid < 64) Ms[tid] = k0 + tid < T_ ? mask[k0 + tid] : 0;
		__syncthreads();

		// S [16, 64] = Q · Kᵀ: 8 tiles of 16×8.
		float s[8][4];
#pragma unroll
		for (int n = 0; n < 8; n++) {
			s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
			const T *kr = Ks + (8 * n + g) * LD + 2 * t;
#pragma unroll
			for (int kk = 0; kk < KS; kk++) {
				unsigned kb[2] = {ld_pair(kr + 16 * kk), ld_pair(kr + 16 * kk + 8)};
				mma16816<T>(s[n], qa[kk], kb);
			}
		}
		// Scale, mask, row maxima (a row's 64 scores live in the 4 lanes of its group).
		float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
		for (int n = 0; n < 8; n++) {
#pragma unroll
			for (int e = 0; e < 4; e++) {
				const int row = e >> 1, c = 8 * n + 2 * t + (e & 1);
				const bool ok = Ms[c] != 0 && !(p.causal && k0 + c > iq[row]);
				const float v = ok ? s[n][e] * p.scale : -INFINITY;
				s[n][e] = v;
				mx[row] = fmaxf(mx[row], v);
			}
		}
		float mnew[2], corr[2];
#pragma unroll
		for (int row = 0; row < 2; row++) {
			mx[row] = fmaxf(mx[row], __shfl_xor_sync(0xffffffffu, mx[row], 1));
			mx[row] = fmaxf(mx[row], __shfl_xor_sync(0xffffffffu, mx[row], 2));
			mnew[row] = fmaxf(m[row], mx[row]);
			corr[row] = mnew[row] == -INFINITY ? 1.0f : expf(m[row] - mnew[row]); // 0 when m was −∞
		}
		// P in the storage type, as A fragments of the P·V product: S tile n
		// holds keys 8n..8n+7, so k-step j takes tiles 2j (registers 0, 1) and
		// 2j+1 (registers 2, 3).
		unsigned pa[4][4];
		float tot[2] = {0.0f, 0.0f};
#pragma unroll
		for (int n = 0; n < 8; n++) {
			T pe[4];
#pragma unroll
			for (int e = 0; e < 4; e++) {
				const int row = e >> 1;
				pe[e] = from_f<T>(s[n][e] == -INFINITY ? 0.0f : expf(s[n][e] - mnew[row]));
				tot[row] += to_f(pe[e]); // the normaliser sums the weights as rounded for the product
			}
			pa[n >> 1][(n & 1) * 2 + 0] = pair16(pe[0], pe[1]);
			pa[n >> 1][(n & 1) * 2 + 1] = pair16(pe[2], pe[3]);
		}
#pragma unroll
		for (int row = 0; row < 2; row++) {
			tot[row] += __shfl_xor_sync(0xffffffffu, tot[row], 1);
			tot[row] += __shfl_xor_sync(0xffffffffu, tot[row], 2);
			l[row] = l[row] * corr[row] + tot[row];
			m[row] = mnew[row];
		}
#pragma unroll
		for (int n = 0; n < NO; n++) {
			o[n][0] *= corr[0];
			o[n][1] *= corr[0];
			o[n][2] *= corr[1];
			o[n][3] *= corr[1];
		}
		// O [16, HD] += P [16, 64] · V [64, HD]: B fragments are V's column
		// g of the tile, rows 2t, 2t+1 (+8) of each 16-key step.
#pragma unroll
		for (int j = 0; j < 4; j++) {
			const T *vr = Vs + (16 * j + 2 * t) * LD + g;
#pragma unroll
			for (int n = 0; n < NO; n++) {
				const T *v = vr + 8 * n;
				unsigned vb[2] = {pair16(v[0], v[LD]), pair16(v[8 * LD], v[9 * LD])};
				mma16816<T>(o[n], pa[j], vb);
			}
		}
	}
	T *ctx = dp<T>(p.ctx) + h * HD + 2 * t;
#pragma unroll
	for (int row = 0; row < 2; row++) {
		const int i = q0 + 16 * w + g + 8 * row;
		if (i >= T_) continue;
		const float inv = l[row] > 0.0f ? 1.0f / l[row] : 0.0f;
		T *out = ctx + ((long long)b * T_ + i) * D;
#pragma unroll
		for (int n = 0; n < NO; n++)
			*reinterpret_cast<unsigned *>(out + 8 * n) =
			    pair16(from_f<T>(o[n][2 * row] * inv), from_f<T>(o[n][2 * row + 1] * inv));
	}
}

#define FLASH_KERNELS(sfx, T)                                                                      \
	KERNEL(k_attn_fa32_##sfx, kAttn, ATTN_FA_THREADS) { attn_fa<T, 32>(p); }                     \
	KERNEL(k_attn_fa64_##sfx, kAttn, ATTN_FA_THREADS) { attn_fa<T, 64>(p); }                     \
	KERNEL(k_attn_fa128_##sfx, kAttn, ATTN_FA_THREADS) { attn_fa<T, 128>(p); }
