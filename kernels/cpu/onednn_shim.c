// oneDNN 2.x matmul through dlopen: see onednn_shim.h and onednn.go.
#include "onednn_shim.h"
#include "kern.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int st; // dnnl_status_t
typedef void *h; // every dnnl_*_t handle

typedef struct {
	int major, minor, patch;
	const char *hash;
	unsigned cpu_runtime, gpu_runtime;
} dn_version_t;

typedef struct {
	int arg;
	h memory;
} dn_arg;

typedef int64_t dn_dims[12];

// dnnl_matmul_desc_t is 2800 bytes in 2.6; it is only filled in by
// dnnl_matmul_desc_init and read back by the library.
typedef struct {
	_Alignas(8) char b[4096];
} dn_matmul_desc;

enum {
	DN_F32 = 3, DN_BF16 = 2, DN_S32 = 4, DN_S8 = 5, DN_U8 = 6, // dnnl_data_type_t
	DN_TAG_ANY = 1, DN_TAG_AB = 3,   // dnnl_format_tag_t
	DN_CPU = 1,                      // dnnl_engine_kind_t
	DN_STREAM_DEFAULT = 1,           // dnnl_stream_flags_t
	DN_ARG_SRC = 1, DN_ARG_DST = 17, DN_ARG_WEIGHTS = 33, DN_ARG_BIAS = 41,
	DN_ARG_FROM = 1, DN_ARG_TO = 17,
	DN_QUERY_IMPL_INFO = 8, DN_QUERY_SRC_MD = 129, DN_QUERY_WEIGHTS_MD = 131, DN_QUERY_DST_MD = 133,
	DN_GELU_ERF = 48, DN_GELU_TANH = 207, DN_TANH = 47, DN_RELU = 31, // dnnl_alg_kind_t
};

struct dn_lib {
	void *so;
	h engine, stream;
	const dn_version_t *ver;
	st (*engine_create)(h *, int, size_t);
	st (*stream_create)(h *, h, unsigned);
	st (*stream_wait)(h);
	st (*md_init_by_tag)(dn_md *, int, const int64_t *, int, int);
	st (*md_init_by_strides)(dn_md *, int, const int64_t *, int, const int64_t *);
	size_t (*md_get_size)(const dn_md *);
	st (*matmul_desc_init)(dn_matmul_desc *, const dn_md *, const dn_md *, const dn_md *, const dn_md *);
	st (*pd_create)(h *, const void *, h, h, h);
	st (*pd_destroy)(h);
	const dn_md *(*pd_query_md)(h, int, int);
	st (*pd_query)(h, int, int, void *);
	st (*prim_create)(h *, h);
	st (*prim_destroy)(h);
	st (*prim_execute)(h, h, int, const dn_arg *);
	st (*mem_create)(h *, const dn_md *, h, void *);
	st (*mem_set_handle)(h, void *);
	st (*mem_destroy)(h);
	st (*reorder_pd_create)(h *, const dn_md *, h, const dn_md *, h, h);
	st (*attr_create)(h *);
	st (*attr_destroy)(h);
	st (*attr_set_post_ops)(h, h);
	st (*post_ops_create)(h *);
	st (*post_ops_destroy)(h);
	st (*post_ops_append_eltwise)(h, float, int, float, float);
	st (*post_ops_append_sum)(h, float);
	void (*omp_set_num_threads)(int);
	void (*gomp_parallel)(void (*)(void *), void *, unsigned, unsigned);
	int (*omp_get_thread_num)(void);
	int (*omp_get_num_threads)(void);
};

struct dn_mm {
	h prim;
	h src, wei, bias, dst; // memory objects; data handles are set per run
};

static const char *status_name(st s) {
	switch (s) {
	case 1: return "out of memory";
	case 2: return "invalid arguments";
	case 3: return "unimplemented";
	case 5: return "runtime error";
	case 6: return "not required";
	}
	return "unknown status";
}

#define FAIL(...)                                   \
	do {                                            \
		if (err) snprintf(err, errlen, __VA_ARGS__); \
		goto fail;                                  \
	} while (0)
#define CHECK(call, what)                                                        \
	do {                                                                         \
		st s_ = (call);                                                          \
		if (s_ != 0) FAIL("%s: %s (dnnl status %d)", what, status_name(s_), s_); \
	} while (0)

dn_lib *dn_open(const char *path, char *err, int errlen) {
	dn_lib *l = calloc(1, sizeof *l);
	if (!l) FAIL("out of memory");
	l->so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!l->so) FAIL("load %s: %s", path, dlerror());
	const dn_version_t *(*version)(void) = (const dn_version_t *(*)(void))dlsym(l->so, "dnnl_version");
	if (!version) FAIL("load %s: no dnnl_version: not oneDNN", path);
	l->ver = version();
	if (l->ver->major != 2)
		FAIL("load %s: oneDNN %d.%d.%d, this build needs 2.x", path, l->ver->major, l->ver->minor, l->ver->patch);
	if (l->ver->cpu_runtime != 2) // DNNL_RUNTIME_OMP: thread counts are set through OpenMP
		FAIL("load %s: oneDNN built with CPU runtime %u, this build needs OpenMP", path, l->ver->cpu_runtime);
#define SYM(field, name)                                                  \
	do {                                                                  \
		*(void **)&l->field = dlsym(l->so, name);                          \
		if (!l->field) FAIL("load %s: symbol %s missing", path, name);      \
	} while (0)
	SYM(engine_create, "dnnl_engine_create");
	SYM(stream_create, "dnnl_stream_create");
	SYM(stream_wait, "dnnl_stream_wait");
	SYM(md_init_by_tag, "dnnl_memory_desc_init_by_tag");
	SYM(md_init_by_strides, "dnnl_memory_desc_init_by_strides");
	SYM(md_get_size, "dnnl_memory_desc_get_size");
	SYM(matmul_desc_init, "dnnl_matmul_desc_init");
	SYM(pd_create, "dnnl_primitive_desc_create");
	SYM(pd_destroy, "dnnl_primitive_desc_destroy");
	SYM(pd_query_md, "dnnl_primitive_desc_query_md");
	SYM(pd_query, "dnnl_primitive_desc_query");
	SYM(prim_create, "dnnl_primitive_create");
	SYM(prim_destroy, "dnnl_primitive_destroy");
	SYM(prim_execute, "dnnl_primitive_execute");
	SYM(mem_create, "dnnl_memory_create");
	SYM(mem_set_handle, "dnnl_memory_set_data_handle");
	SYM(mem_destroy, "dnnl_memory_destroy");
	SYM(reorder_pd_create, "dnnl_reorder_primitive_desc_create");
	SYM(attr_create, "dnnl_primitive_attr_create");
	SYM(attr_destroy, "dnnl_primitive_attr_destroy");
	SYM(attr_set_post_ops, "dnnl_primitive_attr_set_post_ops");
	SYM(post_ops_create, "dnnl_post_ops_create");
	SYM(post_ops_destroy, "dnnl_post_ops_destroy");
	SYM(post_ops_append_eltwise, "dnnl_post_ops_append_eltwise");
	SYM(post_ops_append_sum, "dnnl_post_ops_append_sum");
	SYM(omp_set_num_threads, "omp_set_num_threads"); // libgomp, a dependency of libdnnl
	// What #pragma omp parallel compiles to: dn_q8_run's own parallel parts
	// run on the pool oneDNN's matmuls use, which spins between them.
	// Optional: without them dn_q8_run's parts run on the caller alone.
	*(void **)&l->gomp_parallel = dlsym(l->so, "GOMP_parallel");
	*(void **)&l->omp_get_thread_num = dlsym(l->so, "omp_get_thread_num");
	*(void **)&l->omp_get_num_threads = dlsym(l->so, "omp_get_num_threads");
	if (!l->gomp_parallel || !l->omp_get_thread_num || !l->omp_get_num_threads) l->gomp_parallel = NULL;
#undef SYM
	CHECK(l->engine_create(&l->engine, DN_CPU, 0), "create engine");
	CHECK(l->stream_create(&l->stream, l->engine, DN_STREAM_DEFAULT), "create stream");
	return l;
fail:
	if (l && l->so) dlclose(l->so);
	free(l);
	return NULL;
}

void dn_version(dn_lib *l, char *out, int outlen) {
	snprintf(out, outlen, "%d.%d.%d", l->ver->major, l->ver->minor, l->ver->patch);
}

static h matmul_pd_src(dn_lib *l, const dn_md *src, int m, int n, int ldy, int dtype, const dn_md *wmd,
	int has_bias, int act, int accumulate, char *err, int errlen);

// src_type is the data type a matmul's source has with weights of prec;
// dst_type its destination's (int32 sums for int8, dn_q8_run's epilogue
// makes them floats).
static int src_type(int prec) { return prec == DN_PREC_BF16 ? DN_BF16 : prec == DN_PREC_INT8 ? DN_U8 : DN_F32; }
static int wei_type(int prec) { return prec == DN_PREC_BF16 ? DN_BF16 : prec == DN_PREC_INT8 ? DN_S8 : DN_F32; }
static int dst_type(int prec) { return prec == DN_PREC_INT8 ? DN_S32 : DN_F32; }

// matmul_pd makes the primitive descriptor for x[m,k]·W[k,n] (+ bias, act)
// with weights of prec described by wmd.
static h matmul_pd(dn_lib *l, int m, int n, int k, int ldy, int prec, const dn_md *wmd, int has_bias, int act,
	int accumulate, char *err, int errlen) {
	dn_md src;
	int64_t sd[2] = {m, k};
	if (l->md_init_by_tag(&src, 2, sd, src_type(prec), DN_TAG_AB) != 0) {
		if (err) snprintf(err, errlen, "source descriptor");
		return NULL;
	}
	return matmul_pd_src(l, &src, m, n, ldy, dst_type(prec), wmd, has_bias, act, accumulate, err, errlen);
}

// matmul_pd_src is matmul_pd with the source's descriptor given (strided:
// a transposed or wider-than-k source).
static h matmul_pd_src(dn_lib *l, const dn_md *src, int m, int n, int ldy, int dtype, const dn_md *wmd,
	int has_bias, int act, int accumulate, char *err, int errlen) {
	h pd = NULL, attr = NULL, po = NULL;
	dn_md bias, dst;
	dn_matmul_desc d;
	int64_t bd[2] = {1, n}, dd[2] = {m, n}, ds[2] = {ldy, 1};
	CHECK(l->md_init_by_tag(&bias, 2, bd, DN_F32, DN_TAG_AB), "bias descriptor");
	CHECK(l->md_init_by_strides(&dst, 2, dd, dtype, ds), "destination descriptor");
	CHECK(l->matmul_desc_init(&d, src, wmd, has_bias ? &bias : NULL, &dst), "matmul descriptor");
	CHECK(l->attr_create(&attr), "attributes");
	if (accumulate || act) CHECK(l->post_ops_create(&po), "post-ops");
	if (accumulate) CHECK(l->post_ops_append_sum(po, 1.0f), "sum post-op");
	if (act) {
		int alg = 0;
		switch (act) {
		case 1: alg = DN_GELU_ERF; break;
		case 2: alg = DN_GELU_TANH; break;
		case 3: alg = DN_TANH; break;
		case 4: alg = DN_RELU; break;
		default: FAIL("unknown activation %d", act);
		}
		CHECK(l->post_ops_append_eltwise(po, 1.0f, alg, 0.0f, 0.0f), "eltwise post-op");
	}
	if (po) CHECK(l->attr_set_post_ops(attr, po), "set post-ops");
	CHECK(l->pd_create(&pd, &d, attr, l->engine, NULL), "matmul primitive descriptor");
fail:
	if (po) l->post_ops_destroy(po);
	if (attr) l->attr_destroy(attr);
	return pd;
}

// quantize_weights writes W (layout as dn_pack's inout says) as int8 [k,n]
// into q, one symmetric scale per column: scale[j] = max|W[:,j]|/127, and
// colsum[j] = Σ_k q[k,j].
static void quantize_weights(int8_t *q, float *scale, int32_t *colsum, const float *w, int n, int k, int inout) {
	for (int j = 0; j < n; j++) {
		float mx = 0;
		int nan = 0;
		for (int i = 0; i < k; i++) {
			float v = fabsf(inout ? w[(size_t)i * n + j] : w[(size_t)j * k + i]);
			mx = v > mx ? v : mx;
			nan |= v != v;
		}
		// A column with a NaN or an infinity gets a NaN scale: its outputs
		// are NaN, as fp32's would be.
		float s = nan || !isfinite(mx) ? NAN : mx > 0 ? mx / 127.0f : 1.0f;
		int32_t sum = 0;
		for (int i = 0; i < k; i++) {
			float v = (inout ? w[(size_t)i * n + j] : w[(size_t)j * k + i]) / s;
			int32_t qv = isfinite(v) ? (int32_t)nearbyintf(v) : 0;
			qv = qv < -127 ? -127 : qv > 127 ? 127 : qv;
			q[(size_t)i * n + j] = (int8_t)qv;
			sum += qv;
		}
		scale[j] = s;
		colsum[j] = sum;
	}
}

dn_weights *dn_pack(dn_lib *l, const float *w, int n, int k, int inout, int prec, int m_hint, int threads,
	char *err, int errlen) {
	dn_weights *pw = calloc(1, sizeof *pw);
	h pd = NULL, rpd = NULL, rprim = NULL, from = NULL, to = NULL;
	int8_t *q = NULL;
	dn_md any, user;
	int64_t wd[2] = {k, n};
	int64_t ws[2] = {1, k}; // [n,k] storage seen as K×N
	if (inout) {
		ws[0] = n;
		ws[1] = 1;
	}
	if (!pw) FAIL("out of memory");
	l->omp_set_num_threads(threads);
	const void *from_data = w;
	if (prec == DN_PREC_INT8) {
		// Quantised here, then reordered int8 to int8.
		q = malloc((size_t)n * k);
		pw->scale = malloc((size_t)n * sizeof(float));
		pw->colsum = malloc((size_t)n * sizeof(int32_t));
		if (!q || !pw->scale || !pw->colsum) FAIL("out of memory for %d×%d int8 weights", n, k);
		quantize_weights(q, pw->scale, pw->colsum, w, n, k, inout);
		ws[0] = n;
		ws[1] = 1;
		from_data = q;
	}
	CHECK(l->md_init_by_tag(&any, 2, wd, wei_type(prec), DN_TAG_ANY), "weights descriptor");
	CHECK(l->md_init_by_strides(&user, 2, wd, prec == DN_PREC_INT8 ? DN_S8 : DN_F32, ws), "user weights descriptor");
	pd = matmul_pd(l, m_hint, n, k, n, prec, &any, prec != DN_PREC_INT8, 0, 0, err, errlen);
	if (!pd) goto fail;
	const dn_md *packed = l->pd_query_md(pd, DN_QUERY_WEIGHTS_MD, 0);
	if (!packed) FAIL("matmul has no weights descriptor");
	memcpy(&pw->md, packed, sizeof pw->md);
	pw->n = n;
	pw->k = k;
	pw->prec = prec;
	pw->bytes = l->md_get_size(&pw->md);
	if (posix_memalign(&pw->data, 64, pw->bytes ? pw->bytes : 64) != 0) {
		pw->data = NULL;
		FAIL("out of memory for %zu bytes of packed weights", pw->bytes);
	}
	CHECK(l->reorder_pd_create(&rpd, &user, l->engine, &pw->md, l->engine, NULL), "reorder descriptor");
	CHECK(l->prim_create(&rprim, rpd), "reorder primitive");
	CHECK(l->mem_create(&from, &user, l->engine, (void *)from_data), "reorder source");
	CHECK(l->mem_create(&to, &pw->md, l->engine, pw->data), "reorder destination");
	dn_arg args[2] = {{DN_ARG_FROM, from}, {DN_ARG_TO, to}};
	CHECK(l->prim_execute(rprim, l->stream, 2, args), "reorder");
	CHECK(l->stream_wait(l->stream), "reorder wait");
	if (prec == DN_PREC_INT8) pw->bytes += (size_t)n * (sizeof(float) + sizeof(int32_t));
	l->mem_destroy(from);
	l->mem_destroy(to);
	l->prim_destroy(rprim);
	l->pd_destroy(rpd);
	l->pd_destroy(pd);
	free(q);
	return pw;
fail:
	if (from) l->mem_destroy(from);
	if (to) l->mem_destroy(to);
	if (rprim) l->prim_destroy(rprim);
	if (rpd) l->pd_destroy(rpd);
	if (pd) l->pd_destroy(pd);
	free(q);
	dn_weights_free(pw);
	return NULL;
}

void dn_weights_free(dn_weights *w) {
	if (!w) return;
	free(w->data);
	free(w->scale);
	free(w->colsum);
	free(w);
}

// mm_create makes the primitive for x·W with x and W described by src and
// wmd (dense or strided), and the memory objects its runs set buffers on.
static dn_mm *mm_create(dn_lib *l, const dn_md *src, const dn_md *wmd, int m, int n, int ldy, int dtype,
	int has_bias, int act, int accumulate, int threads, char *impl, int impllen, char *err, int errlen) {
	dn_mm *mm = calloc(1, sizeof *mm);
	h pd = NULL;
	if (!mm) FAIL("out of memory");
	l->omp_set_num_threads(threads);
	pd = matmul_pd_src(l, src, m, n, ldy, dtype, wmd, has_bias, act, accumulate, err, errlen);
	if (!pd) goto fail;
	const char *info = NULL;
	if (l->pd_query(pd, DN_QUERY_IMPL_INFO, 0, &info) == 0 && info && impl) snprintf(impl, impllen, "%s", info);
	CHECK(l->prim_create(&mm->prim, pd), "matmul primitive");
	// Memory objects for the primitive's own descriptors (the source and
	// destination strides, the weights' layout); their buffers are set per run.
	CHECK(l->mem_create(&mm->src, l->pd_query_md(pd, DN_QUERY_SRC_MD, 0), l->engine, NULL), "source memory");
	CHECK(l->mem_create(&mm->wei, wmd, l->engine, NULL), "weights memory");
	CHECK(l->mem_create(&mm->dst, l->pd_query_md(pd, DN_QUERY_DST_MD, 0), l->engine, NULL), "destination memory");
	if (has_bias) {
		dn_md bias;
		int64_t bd[2] = {1, n};
		CHECK(l->md_init_by_tag(&bias, 2, bd, DN_F32, DN_TAG_AB), "bias descriptor");
		CHECK(l->mem_create(&mm->bias, &bias, l->engine, NULL), "bias memory");
	}
	l->pd_destroy(pd);
	return mm;
fail:
	if (pd) l->pd_destroy(pd);
	dn_mm_free(l, mm);
	return NULL;
}

dn_mm *dn_mm_create(dn_lib *l, const dn_weights *w, int m, int ldy, int has_bias, int act, int accumulate,
	int threads, char *impl, int impllen, char *err, int errlen) {
	dn_md src;
	int64_t sd[2] = {m, w->k};
	CHECK(l->md_init_by_tag(&src, 2, sd, src_type(w->prec), DN_TAG_AB), "source descriptor");
	if (w->prec == DN_PREC_INT8) // the bare product; dn_q8_run does the rest
		return mm_create(l, &src, &w->md, m, w->n, w->n, DN_S32, 0, 0, 0, threads, impl, impllen, err, errlen);
	return mm_create(l, &src, &w->md, m, w->n, ldy, DN_F32, has_bias, act, accumulate, threads, impl, impllen, err,
		errlen);
fail:
	return NULL;
}

dn_mm *dn_gemm_create(dn_lib *l, int m, int n, int k, int ta, int tb, int lda, int ldb, int ldc, int has_bias,
	int act, int accumulate, int threads, char *impl, int impllen, char *err, int errlen) {
	dn_md a, b;
	int64_t ad[2] = {m, k}, bd[2] = {k, n};
	int64_t as[2] = {lda, 1}, bs[2] = {ldb, 1};
	if (ta) {
		as[0] = 1;
		as[1] = lda;
	}
	if (tb) {
		bs[0] = 1;
		bs[1] = ldb;
	}
	CHECK(l->md_init_by_strides(&a, 2, ad, DN_F32, as), "A descriptor");
	CHECK(l->md_init_by_strides(&b, 2, bd, DN_F32, bs), "B descriptor");
	return mm_create(l, &a, &b, m, n, ldc, DN_F32, has_bias, act, accumulate, threads, impl, impllen, err, errlen);
fail:
	return NULL;
}

int dn_mm_run(dn_lib *l, dn_mm *mm, const void *x, const void *w, const float *bias, float *y, int threads,
	char *err, int errlen) {
	l->omp_set_num_threads(threads);
	dn_arg args[4] = {{DN_ARG_SRC, mm->src}, {DN_ARG_WEIGHTS, mm->wei}, {DN_ARG_DST, mm->dst}, {DN_ARG_BIAS, mm->bias}};
	CHECK(l->mem_set_handle(mm->src, (void *)x), "set source");
	CHECK(l->mem_set_handle(mm->wei, (void *)w), "set weights");
	CHECK(l->mem_set_handle(mm->dst, y), "set destination");
	if (mm->bias) CHECK(l->mem_set_handle(mm->bias, (void *)bias), "set bias");
	CHECK(l->prim_execute(mm->prim, l->stream, mm->bias ? 4 : 3, args), "matmul");
	CHECK(l->stream_wait(l->stream), "matmul wait");
	return 0;
fail:
	return -1;
}

// q8_job is one dn_q8_run's parallel parts: rows [0, m) split evenly over
// the pool's threads.
typedef struct {
	dn_lib *l;
	const kern_ops *ops;
	const dn_weights *w;
	const float *x, *bias;
	float *y, *sx;
	uint8_t *xq;
	int32_t *zp, *acc;
	int m, ldy, act;
} q8_job;

static void q8_rows(dn_lib *l, int m, int *r0, int *r1) {
	int t = 0, nt = 1;
	if (l->gomp_parallel) {
		t = l->omp_get_thread_num();
		nt = l->omp_get_num_threads();
	}
	*r0 = (int)((long)m * t / nt);
	*r1 = (int)((long)m * (t + 1) / nt);
}

static void q8_quant_part(void *p) {
	q8_job *j = p;
	int r0, r1;
	q8_rows(j->l, j->m, &r0, &r1);
	long k = j->w->k;
	j->ops->q8_quant(j->xq + (size_t)r0 * k, j->sx + r0, j->zp + r0, j->x + (size_t)r0 * k, r1 - r0, k);
}

static void q8_out_part(void *p) {
	q8_job *j = p;
	int r0, r1;
	q8_rows(j->l, j->m, &r0, &r1);
	long n = j->w->n;
	FTZ_ON // as around the other C kernels, on each of OpenMP's threads
	j->ops->q8_out(j->y + (size_t)r0 * j->ldy, j->ldy, j->acc + (size_t)r0 * n, r1 - r0, n, j->sx + r0, j->zp + r0,
		j->w->scale, j->w->colsum, j->bias, j->act);
	FTZ_OFF
}

// Q8_GRAIN is the least work (values) split over threads: below it waking
// the pool costs more than it saves.
#define Q8_GRAIN 32768

// q8_parallel runs fn on nt threads of OpenMP's pool, or on the caller.
static void q8_parallel(dn_lib *l, void (*fn)(void *), void *arg, int nt) {
	if (l->gomp_parallel && nt > 1)
		l->gomp_parallel(fn, arg, (unsigned)nt, 0);
	else
		fn(arg); // outside a parallel region OpenMP numbers the caller 0 of 1
}

int dn_q8_run(dn_lib *l, dn_mm *mm, const dn_weights *w, const float *x, int m, const float *bias, int act,
	float *y, int ldy, uint8_t *xq, float *sx, int32_t *zp, int32_t *acc, const void *ops,
	int threads, char *err, int errlen) {
	q8_job j = {l, ops, w, x, bias, y, sx, xq, zp, acc, m, ldy, act};
	if (w->prec != DN_PREC_INT8) FAIL("dn_q8_run on weights that are not int8");
	l->omp_set_num_threads(threads);
	int nt = threads < m ? threads : m;
	q8_parallel(l, q8_quant_part, &j, (long)m * w->k >= Q8_GRAIN ? nt : 1);
	dn_arg args[3] = {{DN_ARG_SRC, mm->src}, {DN_ARG_WEIGHTS, mm->wei}, {DN_ARG_DST, mm->dst}};
	CHECK(l->mem_set_handle(mm->src, xq), "set source");
	CHECK(l->mem_set_handle(mm->wei, w->data), "set weights");
	CHECK(l->mem_set_handle(mm->dst, acc), "set destination");
	CHECK(l->prim_execute(mm->prim, l->stream, 3, args), "matmul");
	CHECK(l->stream_wait(l->stream), "matmul wait");
	q8_parallel(l, q8_out_part, &j, (long)m * w->n >= Q8_GRAIN ? nt : 1);
	return 0;
fail:
	return -1;
}

void dn_mm_free(dn_lib *l, dn_mm *mm) {
	if (!mm) return;
	if (mm->src) l->mem_destroy(mm->src);
	if (mm->wei) l->mem_destroy(mm->wei);
	if (mm->bias) l->mem_destroy(mm->bias);
	if (mm->dst) l->mem_destroy(mm->dst);
	if (mm->prim) l->prim_destroy(mm->prim);
	free(mm);
}

// Written with integer operations so that any x86-64 runs it; compiled
// for AVX-512 (it runs only where bf16 matmuls do) so that it vectorises.
__attribute__((target("avx512f,avx512bw"))) void dn_to_bf16(uint16_t *dst, const float *src, long n) {
	const uint32_t *u = (const uint32_t *)src;
	for (long i = 0; i < n; i++) {
		uint32_t v = u[i];
		uint32_t r = v + 0x7fff + ((v >> 16) & 1);
		uint32_t nan = (v & 0x7fffffff) > 0x7f800000;
		dst[i] = nan ? (uint16_t)((v >> 16) | 0x40) : (uint16_t)(r >> 16);
	}
}

typedef struct {
	uint16_t *dst;
	const float *src;
	long n, step, next;
} bf16_job;

static void to_bf16_pieces(void *p) {
	bf16_job *j = p;
	for (;;) {
		long lo = __atomic_fetch_add(&j->next, j->step, __ATOMIC_RELAXED);
		if (lo >= j->n) break;
		long hi = lo + j->step < j->n ? lo + j->step : j->n;
		dn_to_bf16(j->dst + lo, j->src + lo, hi - lo);
	}
}

void dn_to_bf16_team(dn_lib *l, uint16_t *dst, const float *src, long n, long step, int nt) {
	bf16_job j = {dst, src, n, step, 0};
	if (l->gomp_parallel && nt > 1)
		l->gomp_parallel(to_bf16_pieces, &j, (unsigned)nt, 0);
	else
		dn_to_bf16(dst, src, n);
}

void *dn_gomp_parallel(dn_lib *l) { return *(void **)&l->gomp_parallel; }
