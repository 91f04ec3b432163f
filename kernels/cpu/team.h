/* team.h: the C kernels' pieces run on OpenMP's thread team. oneDNN's
   products run on libgomp's team of the calling thread, whose idle thread
   spins for the next product; the kernels between products (attention,
   activations) ran on Go helper goroutines, whose thread had to be woken and
   then shared a core with that spinning thread. Here the spinning thread
   takes the pieces itself: each team thread takes pieces of step units from
   a shared counter until none are left (as threads.go's parallelDynamic). */
#ifndef ADAPTERDB_TEAM_H
#define ADAPTERDB_TEAM_H

#include "kern.h"

/* team_fn is libgomp's GOMP_parallel (what #pragma omp parallel compiles
   to): fn(arg) on nt threads, the caller among them. */
typedef void (*team_fn)(void (*fn)(void *), void *arg, unsigned nt, unsigned flags);

/* Each returns 0, or -1 when a piece ran out of memory. */
int team_act_fwd(team_fn t, int nt, long step, const kern_ops *o, float *y, const float *x, long n, int act);
int team_act_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dx, const float *x, const float *dy,
                 long n, int act);
int team_attn_fwd(team_fn t, int nt, long step, const kern_ops *o, float *ctx, const float *qkv,
                  const uint8_t *mask, float *probs, const kattn *a);
int team_attn_fwd_bf16(team_fn t, int nt, long step, const kern_ops *o, float *ctx, const float *qkv,
                       const uint8_t *mask, const kattn *a);
int team_attn_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dqkv, const float *dctx,
                  const float *qkv, const float *probs, const uint8_t *mask, const kattn *a);
/* Over sequences (pieces of step of them), kern.h's attn_rows_fwd and _bwd. */
int team_attn_rows_fwd(team_fn t, int nt, long step, const kern_ops *o, float *ctx, const float *qkv,
                       const uint8_t *mask, const int32_t *rows, float *probs, const kattn *a);
int team_attn_rows_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dqkv, const float *dctx,
                       const float *qkv, const float *probs, const uint8_t *mask, const int32_t *rows,
                       const kattn *a);
int team_addnorm(team_fn t, int nt, long step, const kern_ops *o, float *y, float *sum, const float *a,
                 const float *b, long rows, long cols, float eps, const float *gamma, const float *beta);
/* team_norm_bwd splits rows in pieces of step; with part (parameter
   gradients wanted) into chunks instead, each summing its dγ and dβ into
   its own [2, cols] of part for the caller to add up. */
int team_norm_bwd(team_fn t, int nt, long step, const kern_ops *o, float *dx, const float *dy, const float *x,
                  long rows, long cols, float eps, const float *gamma, float *part, long chunks, int acc);
/* team_colsum: the rows of y [rows, n] in chunks, chunk k's column sums
   added to part[k·n ...] for the caller to add up. */
int team_colsum(team_fn t, int nt, const kern_ops *o, float *part, long chunks, const float *y, long rows, long n);

#endif
