// kern_elementwise.h: activations, sums, bias epilogues, embedding gathers and
// the segmented LayerNorm.
#pragma once
#include "kern_common.h"

// Grid-stride loops: the launcher sizes the grid for the device, any n works.
template <typename T> DI void act_kernel(const kAct &p) {
	T *y = dp<T>(p.y);
	const T *x = dp<const T>(p.x);
	long long step = (long long)gridDim.x * blockDim.x;
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += step)
		y[i] = from_f<T>(act_of<T>(to_f(x[i]), p.act)); // y may alias x: each element read then written by one thread
}

template <typename T> DI void add_kernel(const kAdd &p) {
	T *y = dp<T>(p.y);
	const T *a = dp<const T>(p.a), *b = dp<const T>(p.b);
	long long step = (long long)gridDim.x * blockDim.x;
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += step)
		y[i] = from_f<T>(to_f(a[i]) + to_f(b[i]));
}

// bias_act: blockIdx.y walks rows, threads walk columns.
template <typename T> DI void bias_act_kernel(const kBiasAct &p) {
	const T *bias = dp<const T>(p.bias);
	for (int r = blockIdx.y; r < p.rows; r += gridDim.y) {
		T *y = dp<T>(p.y) + (long long)r * p.ldy;
		for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < p.n; j += gridDim.x * blockDim.x) {
			if (p.fill) {
				y[j] = bias[j];
				continue;
			}
			float v = to_f(y[j]);
			if (bias) v += to_f(bias[j]);
			y[j] = from_f<T>(act_of<T>(v, p.act));
		}
	}
}

template <typename T> DI void embed_kernel(const kEmbed &p) {
	const int *ids = dp<const int>(p.ids);
	const T *table = dp<const T>(p.table);
	for (int i = blockIdx.y; i < p.count; i += gridDim.y) {
		const T *src = table + (long long)ids[i] * p.cols;
		T *dst = dp<T>(p.y) + (long long)i * p.cols;
		for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < p.cols; j += gridDim.x * blockDim.x) {
			if (p.add)
				dst[j] = from_f<T>(to_f(dst[j]) + to_f(src[j]));
			else
				dst[j] = src[j];
		}
	}
}

// norm_seg finds the gain and bias of row r: the last segment starting at or
// before r (segments sorted by row0, the first at 0).
DI void norm_seg(const kNorm &p, int r, dptr_t *gamma, dptr_t *beta) {
	if (p.nsegs <= 1) {
		*gamma = p.gamma;
		*beta = p.beta;
		return;
	}
	const kNormSeg *s = dp<const kNormSeg>(p.segs);
	int lo = 0, hi = p.nsegs - 1;
	while (lo < hi) { // largest i with s[i].row0 <= r
		int mid = (lo + hi + 1) >> 1;
		if (s[mid].row0 <= r)
			lo = mid;
		else
			hi = mid - 1;
	}
	*gamma = s[lo].gamma;
	*beta = s[lo].beta;
}

// AddNorm: one warp per row. VPL > 0 keeps the row in registers (cols ≤
// 32·VPL): every input is read once, before anything is written, so y and sum
// may alias a or b. VPL = 0 streams the row three times for wider rows; each
// element is still read before the same thread writes it.
template <typename T, int VPL> DI void norm_kernel(const kNorm &p) {
	const int lane = threadIdx.x & 31;
	const int warps = blockDim.x >> 5;
	const int r = blockIdx.x * warps + (threadIdx.x >> 5);
	if (r >= p.rows) return; // whole warps leave together: no collective after this in their path
	const long long off = (long long)r * p.cols;
	const T *a = dp<const T>(p.a) + off;
	const T *b = p.b ? dp<const T>(p.b) + off : nullptr;
	dptr_t g_, b_;
	norm_seg(p, r, &g_, &b_);
	const T *gamma = dp<const T>(g_), *beta = dp<const T>(b_);
	T *y = dp<T>(p.y) + off;
	T *sum = p.sum ? dp<T>(p.sum) + off : nullptr;
	const float inv = 1.0f / (float)p.cols;
	if (VPL > 0) {
		float s[VPL > 0 ? VPL : 1];
		float tot = 0.0f;
#pragma unroll
		for (int v = 0; v < VPL; v++) {
			int j = lane + 32 * v;
			s[v] = 0.0f;
			if (j < p.cols) {
				s[v] = to_f(a[j]);
				if (b) s[v] += to_f(b[j]);
				if (sum) s[v] = to_f(from_f<T>(s[v])); // normalise the stored (rounded) sum
			}
			tot += s[v];
		}
		float mean = warp_sum(tot) * inv;
		float var = 0.0f;
#pragma unroll
		for (int v = 0; v < VPL; v++) {
			int j = lane + 32 * v;
			float d = j < p.cols ? s[v] - mean : 0.0f;
			var += d * d;
		}
		float rstd = 1.0f / sqrtf(warp_sum(var) * inv + p.eps);
#pragma unroll
		for (int v = 0; v < VPL; v++) {
			int j = lane + 32 * v;
			if (j < p.cols) {
				if (sum) sum[j] = from_f<T>(s[v]);
				y[j] = from_f<T>((s[v] - mean) * rstd * to_f(gamma[j]) + to_f(beta[j]));
			}
		}
		return;
	}
	float tot = 0.0f;
	for (int j = lane; j < p.cols; j += 32) {
		float v = to_f(a[j]) + (b ? to_f(b[j]) : 0.0f);
		if (sum) v = to_f(from_f<T>(v));
		tot += v;
	}
	float mean = warp_sum(tot) * inv;
	float var = 0.0f;
	for (int j = lane; j < p.cols; j += 32) {
		float v = to_f(a[j]) + (b ? to_f(b[j]) : 0.0f);
		if (sum) v = to_f(from_f<T>(v));
		var += (v - mean) * (v - mean);
	}
	float rstd = 1.0f / sqrtf(warp_sum(var) * inv + p.eps);
	for (int j = lane; j < p.cols; j += 32) {
		float v = to_f(a[j]) + (b ? to_f(b[j]) : 0.0f);
		if (sum) v = to_f(from_f<T>(v));
		float o = (v - mean) * rstd * to_f(gamma[j]) + to_f(beta[j]);
		if (sum) sum[j] = from_f<T>(v);
		y[j] = from_f<T>(o);
	}
}

// softmax_kernel: masked softmax in place over the rows of p [B, H, T, T],
// one warp per row (the scores are already scaled). Fully masked rows become
// zero.
template <typename T> DI void softmax_kernel(const kSoftmax &p) {
	const int lane = threadIdx.x & 31;
	const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	const long long rows = (long long)p.B * p.H * p.T;
	if (row >= rows) return;
	const int i = (int)(row % p.T);
	const int b = (int)(row / ((long long)p.H * p.T));
	const unsigned char *mask = dp<const unsigned char>(p.mask);
	T *s = dp<T>(p.p) + row * p.T;
	float mx = -INFINITY;
	for (int j = lane; j < p.T; j += 32)
		if (key_ok(mask, b, p.T, i, j, p.causal)) mx = fmaxf(mx, to_f(s[j]));
	mx = warp_max(mx);
	float tot = 0.0f;
	for (int j = lane; j < p.T; j += 32)
		if (key_ok(mask, b, p.T, i, j, p.causal)) tot += expf(to_f(s[j]) - mx);
	tot = warp_sum(tot);
	const float inv = tot > 0.0f ? 1.0f / tot : 0.0f;
	for (int j = lane; j < p.T; j += 32) {
		float v = 0.0f;
		if (mx != -INFINITY && key_ok(mask, b, p.T, i, j, p.causal)) v = expf(to_f(s[j]) - mx) * inv;
		s[j] = from_f<T>(v);
	}
}
