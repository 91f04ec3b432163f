/* team.c: see team.h. */
#include "team.h"

typedef struct job job;
struct job {
	int (*piece)(const job *j, long lo, long hi); /* units [lo, hi); 0 or -1 */
	long n, step;
	long next;  /* the next unit to hand out (atomic) */
	int failed; /* a piece returned -1 (atomic) */
	const kern_ops *o;
	float *y, *sum, *part;
	const float *x, *b, *dy, *qkv, *probs, *gamma, *beta;
	float *probs_out;
	const uint8_t *mask;
	const int32_t *qrows; /* AttentionRows' query rows */
	const kattn *a;
	long rows, cols;
	float eps;
	int act, acc;
};

static void worker(void *p) {
	job *j = p;
	FTZ_ON
	for (;;) {
		long lo = __atomic_fetch_add(&j->next, j->step, __ATOMIC_RELAXED);
		if (lo >= j->n) break;
		long hi = lo + j->step < j->n ? lo + j->step : j->n;
		if (j->piece(j, lo, hi) != 0) {
			__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&j->next, j->n, __ATOMIC_RELAXED); /* the others stop at their next piece */
		}
	}
	FTZ_OFF
}

static int run(team_fn t, int nt, job *j) {
	t(worker, j, (unsigned)nt, 0);
	return j->failed ? -1 : 0;
}

static int act_fwd_piece(const job *j, long lo, long hi) {
	j->o->act_fwd(j->y + lo, j->x + lo, hi - lo, j->act);
	return 0;
}

int team_act_fwd(team_fn t, int nt, long step, const kern_ops *o, float *y, const float *x, long n, int act) {
	job j = {.piece = act_fwd_piece, .n = n, .step = step, .o = o, .y = y, .x = x, .act = act};
	return run(t, nt, &j);
}

static int act_bwd_piece(const job *j, long lo, long hi) {
	j->o->act_bwd(j->y + lo, j->x + lo, j->dy + lo, hi - lo, j->act);
	return 0;
}

int team_act_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dx, const float *x, const float *dy,
                 long n, int act) {
	job j = {.piece = act_bwd_piece, .n = n, .step = step, .o = o, .y = dx, .x = x, .dy = dy, .act = act};
	return run(t, nt, &j);
}

static int attn_fwd_piece(const job *j, long lo, long hi) {
	return j->o->attn_fwd(j->y, j->qkv, j->mask, j->probs_out, j->a, lo, hi);
}

int team_attn_fwd(team_fn t, int nt, long step, const kern_ops *o, float *ctx, const float *qkv,
                  const uint8_t *mask, float *probs, const kattn *a) {
	job j = {.piece = attn_fwd_piece, .n = a->batch * a->heads, .step = step, .o = o, .y = ctx, .qkv = qkv,
	         .mask = mask, .probs_out = probs, .a = a};
	return run(t, nt, &j);
}

static int attn_fwd_bf16_piece(const job *j, long lo, long hi) {
	return j->o->attn_fwd_bf16(j->y, j->qkv, j->mask, j->a, lo, hi);
}

int team_attn_fwd_bf16(team_fn t, int nt, long step, const kern_ops *o, float *ctx, const float *qkv,
                       const uint8_t *mask, const kattn *a) {
	job j = {.piece = attn_fwd_bf16_piece, .n = a->batch * a->heads, .step = step, .o = o, .y = ctx, .qkv = qkv,
	         .mask = mask, .a = a};
	return run(t, nt, &j);
}

static int attn_rows_fwd_piece(const job *j, long lo, long hi) {
	return j->o->attn_rows_fwd(j->y, j->qkv, j->mask, j->qrows, j->probs_out, j->a, lo, hi);
}

int team_attn_rows_fwd(team_fn t, int nt, long step, const kern_ops *o, float *ctx, const float *qkv,
                       const uint8_t *mask, const int32_t *rows, float *probs, const kattn *a) {
	job j = {.piece = attn_rows_fwd_piece, .n = a->batch, .step = step, .o = o, .y = ctx, .qkv = qkv,
	         .mask = mask, .qrows = rows, .probs_out = probs, .a = a};
	return run(t, nt, &j);
}

static int attn_rows_bwd_piece(const job *j, long lo, long hi) {
	return j->o->attn_rows_bwd(j->y, j->dy, j->qkv, j->probs, j->mask, j->qrows, j->a, lo, hi);
}

int team_attn_rows_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dqkv, const float *dctx,
                       const float *qkv, const float *probs, const uint8_t *mask, const int32_t *rows,
                       const kattn *a) {
	job j = {.piece = attn_rows_bwd_piece, .n = a->batch, .step = step, .o = o, .y = dqkv, .dy = dctx,
	         .qkv = qkv, .probs = probs, .mask = mask, .qrows = rows, .a = a};
	return run(t, nt, &j);
}

static int attn_bwd_piece(const job *j, long lo, long hi) {
	return j->o->attn_bwd(j->y, j->dy, j->qkv, j->probs, j->mask, j->a, lo, hi);
}

int team_attn_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dqkv, const float *dctx,
                  const float *qkv, const float *probs, const uint8_t *mask, const kattn *a) {
	job j = {.piece = attn_bwd_piece, .n = a->batch * a->heads, .step = step, .o = o, .y = dqkv, .dy = dctx,
	         .qkv = qkv, .probs = probs, .mask = mask, .a = a};
	return run(t, nt, &j);
}

static int addnorm_piece(const job *j, long lo, long hi) {
	const long c = j->cols;
	return j->o->addnorm(j->y + lo * c, j->sum ? j->sum + lo * c : NULL, j->x + lo * c, j->b ? j->b + lo * c : NULL,
	                     hi - lo, c, j->eps, j->gamma, j->beta);
}

int team_addnorm(team_fn t, int nt, long step, const kern_ops *o, float *y, float *sum, const float *a,
                 const float *b, long rows, long cols, float eps, const float *gamma, const float *beta) {
	job j = {.piece = addnorm_piece, .n = rows, .step = step, .o = o, .y = y, .sum = sum, .x = a, .b = b,
	         .cols = cols, .eps = eps, .gamma = gamma, .beta = beta};
	return run(t, nt, &j);
}

/* norm_bwd_piece: rows [lo, hi) without parameter gradients; with them
   (part not NULL), chunks [lo, hi) of the rows, chunk c's sums of dγ and dβ
   into part[2c·cols ...] and part[(2c+1)·cols ...]. */
static int norm_bwd_piece(const job *j, long lo, long hi) {
	const long c = j->cols;
	if (!j->part) {
		j->o->norm_bwd(j->y ? j->y + lo * c : NULL, j->dy + lo * c, j->x + lo * c, hi - lo, c, j->eps, j->gamma,
		               NULL, NULL, j->acc);
		return 0;
	}
	for (long k = lo; k < hi; k++) {
		const long r0 = j->rows * k / j->n, r1 = j->rows * (k + 1) / j->n;
		float *pg = j->part + 2 * k * c, *pb = pg + c;
		j->o->norm_bwd(j->y ? j->y + r0 * c : NULL, j->dy + r0 * c, j->x + r0 * c, r1 - r0, c, j->eps, j->gamma,
		               pg, pb, j->acc);
	}
	return 0;
}

int team_norm_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dx, const float *dy, const float *x,
                  long rows, long cols, float eps, const float *gamma, float *part, long chunks, int acc) {
	job j = {.piece = norm_bwd_piece, .n = part ? chunks : rows, .step = part ? 1 : step, .o = o, .y = dx,
	         .dy = dy, .x = x, .rows = rows, .cols = cols, .eps = eps, .gamma = gamma, .part = part, .acc = acc};
	return run(t, nt, &j);
}

/* colsum_piece: chunks [lo, hi) of the rows, chunk k's column sums into
   part[k·cols ...]. */
static int colsum_piece(const job *j, long lo, long hi) {
	const long c = j->cols;
	for (long k = lo; k < hi; k++) {
		const long r0 = j->rows * k / j->n, r1 = j->rows * (k + 1) / j->n;
		j->o->colsum(j->part + k * c, j->x + r0 * c, r1 - r0, c);
	}
	return 0;
}

int team_colsum(team_fn t, int nt, const kern_ops *o, float *part, long chunks, const float *y, long rows, long n) {
	job j = {.piece = colsum_piece, .n = chunks, .step = 1, .o = o, .part = part, .x = y, .rows = rows, .cols = n};
	return run(t, nt, &j);
}
