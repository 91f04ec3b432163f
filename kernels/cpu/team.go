package cpu

/*
#include "team.h"
*/
import "C"

import "unsafe"

// team runs the C kernels' pieces on OpenMP's thread team of the calling
// thread, the one oneDNN's products use (team.h says why). fn is libgomp's
// GOMP_parallel; nil: no team, the pieces go to parallelDynamic.
type team struct{ fn unsafe.Pointer }

func (t team) c() C.team_fn { return C.team_fn(t.fn) }

func (k kern) actFwdTeam(t team, nt, step int, y, x []float32, n int, act int) {
	C.team_act_fwd(t.c(), C.int(nt), C.long(step), k.o, fp(y), fp(x), C.long(n), C.int(act))
}

func (k kern) actBwdTeam(t team, nt, step int, dx, x, dy []float32, n int, act int) {
	C.team_act_bwd(t.c(), C.int(nt), C.long(step), k.o, fp(dx), fp(x), fp(dy), C.long(n), C.int(act))
}

func (k kern) attnFwdTeam(t team, nt, step int, ctx, qkv []float32, mask []uint8, probs []float32, a attnShape) {
	if C.team_attn_fwd(t.c(), C.int(nt), C.long(step), k.o, fp(ctx), fp(qkv), (*C.uint8_t)(unsafe.Pointer(&mask[0])), fp(probs), a.c()) != 0 {
		oom("Attention")
	}
}

func (k kern) attnFwdBF16Team(t team, nt, step int, ctx, qkv []float32, mask []uint8, a attnShape) {
	if C.team_attn_fwd_bf16(t.c(), C.int(nt), C.long(step), k.o, fp(ctx), fp(qkv), (*C.uint8_t)(unsafe.Pointer(&mask[0])), a.c()) != 0 {
		oom("Attention")
	}
}

func (k kern) attnBwdTeam(t team, nt, step int, dqkv, dctx, qkv, probs []float32, mask []uint8, a attnShape) {
	if C.team_attn_bwd(t.c(), C.int(nt), C.long(step), k.o, fp(dqkv), fp(dctx), fp(qkv), fp(probs), (*C.uint8_t)(unsafe.Pointer(&mask[0])), a.c()) != 0 {
		oom("AttentionBackward")
	}
}

func (k kern) addNormTeam(t team, nt, step int, y, sum, a, b []float32, rows, cols int, eps float32, gamma, beta []float32) {
	if C.team_addnorm(t.c(), C.int(nt), C.long(step), k.o, fp(y), fp(sum), fp(a), fp(b), C.long(rows), C.long(cols),
		C.float(eps), fp(gamma), fp(beta)) != 0 {
		oom("AddNorm")
	}
}

// normBwdTeam: with part (len 2·chunks·cols, zeroed) the rows go in chunks,
// each adding its dγ and dβ to its own [2, cols] of part.
func (k kern) normBwdTeam(t team, nt, step int, dx, dy, x []float32, rows, cols int, eps float32, gamma, part []float32,
	chunks int, acc bool) {
	C.team_norm_bwd(t.c(), C.int(nt), C.long(step), k.o, fp(dx), fp(dy), fp(x), C.long(rows), C.long(cols), C.float(eps),
		fp(gamma), fp(part), C.long(chunks), cbool(acc))
}

// colSumTeam adds chunk k's column sums of y [rows, n] to part[k·n:].
func (k kern) colSumTeam(t team, nt int, part []float32, chunks int, y []float32, rows, n int) {
	C.team_colsum(t.c(), C.int(nt), k.o, fp(part), C.long(chunks), fp(y), C.long(rows), C.long(n))
}

func (k kern) attnRowsFwdTeam(t team, nt, step int, ctx, qkv []float32, mask []uint8, rows []int32, probs []float32, a attnShape) {
	if C.team_attn_rows_fwd(t.c(), C.int(nt), C.long(step), k.o, fp(ctx), fp(qkv), (*C.uint8_t)(unsafe.Pointer(&mask[0])),
		(*C.int32_t)(unsafe.Pointer(&rows[0])), fp(probs), a.c()) != 0 {
		oom("AttentionRows")
	}
}

func (k kern) attnRowsBwdTeam(t team, nt, step int, dqkv, dctx, qkv, probs []float32, mask []uint8, rows []int32, a attnShape) {
	if C.team_attn_rows_bwd(t.c(), C.int(nt), C.long(step), k.o, fp(dqkv), fp(dctx), fp(qkv), fp(probs),
		(*C.uint8_t)(unsafe.Pointer(&mask[0])), (*C.int32_t)(unsafe.Pointer(&rows[0])), a.c()) != 0 {
		oom("AttentionRowsBackward")
	}
}
