// kern_optim.h: AdamW on the device (kernels.Optimizer): the gradient norm
// and the update, over a table of tensors in one launch each. Arithmetic is
// in double as engine/train's host AdamW, moments and master weights stored
// in fp32, the weights the passes read in the storage type.
#pragma once
#include "kern_common.h"
#include "kargs_backward.h"

#define OPT_THREADS 256

// sumsq_kernel: block b sums the squares of tensor b's gradient.
template <typename T> DI void sumsq_kernel(const kSumSq &p) {
	__shared__ float part[OPT_THREADS / 32];
	const kAdamWTensor t = dp<const kAdamWTensor>(p.tensors)[blockIdx.x];
	const T *g = dp<const T>(t.g);
	float s = 0.0f;
	for (long long i = threadIdx.x; i < t.n; i += blockDim.x) {
		float v = to_f(g[i]);
		s += v * v;
	}
	s = warp_sum(s);
	if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s;
	__syncthreads();
	if (threadIdx.x == 0) {
		float tot = 0.0f;
		for (int w = 0; w < (int)(blockDim.x >> 5); w++) tot += part[w];
		dp<float>(p.out)[blockIdx.x] = tot;
	}
}

template <typename T> DI void adamw_kernel(const kAdamW &p) {
	const kAdamWTensor t = dp<const kAdamWTensor>(p.tensors)[blockIdx.y];
	T *w = dp<T>(t.w), *g = dp<T>(t.g);
	float *master = dp<float>(t.master), *m = dp<float>(t.m), *v = dp<float>(t.v);
	const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
	const double wd = t.decay ? (double)p.wd : 0.0;
	long long step = (long long)gridDim.x * blockDim.x;
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < t.n; i += step) {
		double gi = (double)(to_f(g[i]) * p.gscale);
		double mi = b1 * (double)m[i] + (1 - b1) * gi;
		double vi = b2 * (double)v[i] + (1 - b2) * gi * gi;
		m[i] = (float)mi;
		v[i] = (float)vi;
		double x = master[i];
		x -= (double)p.lr * (mi / p.c1 / (sqrt(vi / p.c2) + eps) + wd * x);
		master[i] = (float)x;
		w[i] = from_f<T>((float)x);
		g[i] = from_f<T>(0.0f);
	}
}
