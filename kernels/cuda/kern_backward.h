// kern_backward.h: the backward kernels of training (kernels.Trainer):
// activation derivatives, column sums for bias gradients (partial sums per
// chunk of rows, then their sum: parallel over rows without atomics), the LayerNorm
// backward with gain/bias gradients per segment, and the attention backward.
// They compute in fp32 (fp32 storage: activations' derivatives in double, as
// the forward's exact path) and need no atomics: every output element is
// written by one thread, so results do not depend on scheduling.
#pragma once
#include "kern_common.h"
#include "kargs_backward.h"

// act_grad is act'(x).
template <bool EXACT> DI float act_grad(float x, int act);

template <> DI float act_grad<true>(float xf, int act) {
	double x = xf;
	switch (act) {
	case KACT_GELU: return (float)(0.5 * erfc(-x * INV_SQRT_2) + x * exp(-0.5 * x * x) * (INV_SQRT_2 / 1.7724538509055160273));
	case KACT_GELU_TANH: {
		double x2 = x * x;
		double u = SQRT_2_OVER_PI * (x + 0.044715 * x2 * x);
		double s = 1.0 / (1.0 + exp(-2.0 * u)); // ½(1 + tanh u)
		double du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x2);
		return (float)(s + 2.0 * x * s * (1.0 - s) * du);
	}
	case KACT_TANH: {
		double t = tanh(x);
		return (float)(1.0 - t * t);
	}
	case KACT_RELU: return xf > 0.0f ? 1.0f : 0.0f;
	}
	return 1.0f;
}

template <> DI float act_grad<false>(float x, int act) {
	switch (act) {
	case KACT_GELU:
		return 0.5f * erfcf(-x * (float)INV_SQRT_2) + x * expf(-0.5f * x * x) * (float)(INV_SQRT_2 / 1.7724538509055160273);
	case KACT_GELU_TANH: {
		float x2 = x * x;
		float u = (float)SQRT_2_OVER_PI * (x + 0.044715f * x2 * x);
		float s = 1.0f / (1.0f + expf(-2.0f * u));
		float du = (float)SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x2);
		return s + 2.0f * x * s * (1.0f - s) * du;
	}
	case KACT_TANH: {
		float t = tanhf(x);
		return 1.0f - t * t;
	}
	case KACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
	}
	return 1.0f;
}

template <typename T> DI void act_bwd_kernel(const kActBwd &p) {
	T *dx = dp<T>(p.dx);
	const T *x = dp<const T>(p.x), *dy = dp<const T>(p.dy);
	long long step = (long long)gridDim.x * blockDim.x;
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += step)
		dx[i] = from_f<T>(to_f(dy[i]) * act_grad<exact_math<T>::value>(to_f(x[i]), p.act));
}

// colsum_part_kernel: thread j of chunk blockIdx.y sums its column over the
// chunk's rows (coalesced across the warp) in fp32.
template <typename T> DI void colsum_part_kernel(const kColSum &p) {
	const T *src = dp<const T>(p.src);
	float *part = dp<float>(p.part) + (long long)blockIdx.y * p.n;
	const int r0 = blockIdx.y * p.chunk_rows, r1 = imin(p.rows, r0 + p.chunk_rows);
	for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < p.n; j += gridDim.x * blockDim.x) {
		float s = 0.0f;
		for (int r = r0; r < r1; r++) s += to_f(src[(long long)r * p.n + j]);
		part[j] = s;
	}
}

// colsum_fin_kernel: dst[j] += Σ over the chunks' partial sums, in order.
template <typename T> DI void colsum_fin_kernel(const kColSum &p) {
	const float *part = dp<const float>(p.part);
	T *dst = dp<T>(p.dst);
	for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < p.n; j += gridDim.x * blockDim.x) {
		float s = 0.0f;
		for (int c = 0; c < p.chunks; c++) s += part[(long long)c * p.n + j];
		dst[j] = from_f<T>(to_f(dst[j]) + s);
	}
}

// norm_bwd_gamma is the gain of row r (segments as norm_seg's).
DI dptr_t norm_bwd_gamma(const kNormBwd &p, int r) {
	if (p.nsegs <= 1) return p.gamma;
	const kNormSeg *s = dp<const kNormSeg>(p.segs);
	int lo = 0, hi = p.nsegs - 1;
	while (lo < hi) {
		int mid = (lo + hi + 1) >> 1;
		if (s[mid].row0 <= r)
			lo = mid;
		else
			hi = mid - 1;
	}
	return s[lo].gamma;
}

// norm_stats_kernel: one warp per row writes the row's mean and 1/std.
template <typename T> DI void norm_stats_kernel(const kNormBwd &p) {
	const int lane = threadIdx.x & 31;
	const int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	if (r >= p.rows) return;
	const T *x = dp<const T>(p.x) + (long long)r * p.cols;
	const float inv = 1.0f / (float)p.cols;
	float tot = 0.0f;
	for (int j = lane; j < p.cols; j += 32) tot += to_f(x[j]);
	float mean = warp_sum(tot) * inv;
	float var = 0.0f;
	for (int j = lane; j < p.cols; j += 32) {
		float d = to_f(x[j]) - mean;
		var += d * d;
	}
	float rstd = 1.0f / sqrtf(warp_sum(var) * inv + p.eps);
	if (lane == 0) {
		float *st = dp<float>(p.stats) + 2LL * r;
		st[0] = mean;
		st[1] = rstd;
	}
}

// norm_params_kernel: thread j of chunk blockIdx.y sums dy·x̂ and dy over the
// chunk's rows of the segment.
template <typename T> DI void norm_params_kernel(const kNormBwd &p) {
	const T *x = dp<const T>(p.x), *dy = dp<const T>(p.dy);
	const float *st = dp<const float>(p.stats);
	float *pg = dp<float>(p.part) + (long long)blockIdx.y * p.cols;
	float *pb = dp<float>(p.part) + (long long)(p.chunks + blockIdx.y) * p.cols;
	const int r0 = p.row0 + blockIdx.y * p.chunk_rows, r1 = imin(p.row0 + p.rows, r0 + p.chunk_rows);
	for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < p.cols; j += gridDim.x * blockDim.x) {
		float sg = 0.0f, sb = 0.0f;
		for (int r = r0; r < r1; r++) {
			long long o = (long long)r * p.cols + j;
			float g = to_f(dy[o]);
			sg += g * (to_f(x[o]) - st[2 * r]) * st[2 * r + 1];
			sb += g;
		}
		pg[j] = sg;
		pb[j] = sb;
	}
}

// norm_dx_kernel: one warp per row; every lane reads its dy values before it
// writes the same dx values, so dx may alias dy.
template <typename T> DI void norm_dx_kernel(const kNormBwd &p) {
	const int lane = threadIdx.x & 31;
	const int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	if (r >= p.rows) return;
	const long long off = (long long)r * p.cols;
	const T *x = dp<const T>(p.x) + off, *dy = dp<const T>(p.dy) + off;
	const T *gamma = dp<const T>(norm_bwd_gamma(p, r));
	T *dx = dp<T>(p.dx) + off;
	const float mean = dp<const float>(p.stats)[2LL * r], rstd = dp<const float>(p.stats)[2LL * r + 1];
	float s1 = 0.0f, s2 = 0.0f;
	for (int j = lane; j < p.cols; j += 32) {
		float gg = to_f(dy[j]) * to_f(gamma[j]);
		s1 += gg;
		s2 += gg * (to_f(x[j]) - mean) * rstd;
	}
	const float inv = 1.0f / (float)p.cols;
	const float m1 = warp_sum(s1) * inv, m2 = warp_sum(s2) * inv;
	for (int j = lane; j < p.cols; j += 32) {
		float xh = (to_f(x[j]) - mean) * rstd;
		float d = rstd * (to_f(dy[j]) * to_f(gamma[j]) - m1 - xh * m2);
		if (p.accumulate) d += to_f(dx[j]);
		dx[j] = from_f<T>(d);
	}
}

// valid_keys is one past the last real key of sequence b.
DI int valid_keys(const unsigned char *mask, int b, int T) {
	int L = T;
	while (L > 0 && !mask[(long long)b * T + L - 1]) L--;
	return L;
}

// attn_ds_kernel: one warp per query row (b, h, i); lanes walk the keys.
template <typename T> DI void attn_ds_kernel(const kAttnBwd &p) {
	const int lane = threadIdx.x & 31;
	const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	if (row >= (long long)p.B * p.H * p.T) return;
	const int i = (int)(row % p.T), h = (int)((row / p.T) % p.H), b = (int)(row / ((long long)p.H * p.T));
	const int D = p.H * p.hd, S = p.T;
	const int L = valid_keys(dp<const unsigned char>(p.mask), b, S);
	float *ds = dp<float>(p.ds) + row * S;
	const T *P = dp<const T>(p.probs) + row * S;
	if (i >= L) {
		for (int j = lane; j < S; j += 32) ds[j] = 0.0f;
		return;
	}
	const T *dO = dp<const T>(p.dctx) + ((long long)b * S + i) * D + h * p.hd;
	const T *v = dp<const T>(p.qkv) + (long long)b * S * 3 * D + 2 * D + h * p.hd;
	float dot = 0.0f;
	for (int j = lane; j < S; j += 32) {
		float d = 0.0f;
		if (j < L) {
			const T *vj = v + (long long)j * 3 * D;
			for (int k = 0; k < p.hd; k++) d += to_f(dO[k]) * to_f(vj[k]);
		}
		ds[j] = d; // dP for now
		dot += to_f(P[j]) * d;
	}
	dot = warp_sum(dot);
	for (int j = lane; j < S; j += 32) ds[j] = j < L ? to_f(P[j]) * (ds[j] - dot) : 0.0f;
}

// attn_dqkv_kernel: blockIdx.y walks rows (b, t), threads the 3D columns of
// dqkv; each output is one dot product over the sequence.
template <typename T> DI void attn_dqkv_kernel(const kAttnBwd &p) {
	const int D = p.H * p.hd, S = p.T, ld = 3 * D;
	const unsigned char *mask = dp<const unsigned char>(p.mask);
	for (int r = blockIdx.y; r < p.B * S; r += gridDim.y) {
		const int b = r / S, t = r % S;
		const int L = valid_keys(mask, b, S);
		T *out = dp<T>(p.dqkv) + (long long)r * ld;
		const T *qkv = dp<const T>(p.qkv) + (long long)b * S * ld;
		const T *dO = dp<const T>(p.dctx) + (long long)b * S * D;
		for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < ld; c += gridDim.x * blockDim.x) {
			const int part = c / D, cc = c % D, h = cc / p.hd;
			const long long bh = (long long)b * p.H + h;
			float s = 0.0f;
			if (t < L) {
				if (part == 0) { // dq[t] = scale·Σ_j ds[t, j]·k[j]
					const float *ds = dp<const float>(p.ds) + (bh * S + t) * S;
					for (int j = 0; j < L; j++) s += ds[j] * to_f(qkv[(long long)j * ld + D + cc]);
					s *= p.scale;
				} else if (part == 1) { // dk[t] = scale·Σ_i ds[i, t]·q[i]
					const float *ds = dp<const float>(p.ds) + bh * S * S + t;
					for (int i = 0; i < L; i++) s += ds[(long long)i * S] * to_f(qkv[(long long)i * ld + cc]);
					s *= p.scale;
				} else { // dv[t] = Σ_i P[i, t]·dctx[i]
					const T *P = dp<const T>(p.probs) + bh * S * S + t;
					for (int i = 0; i < L; i++) s += to_f(P[(long long)i * S]) * to_f(dO[(long long)i * D + cc]);
				}
			}
			out[c] = from_f<T>(s);
		}
	}
}
