package cpu

/*
#cgo CFLAGS: -O3 -std=gnu11 -Wno-psabi
#cgo LDFLAGS: -lm
#include "kern.h"

// Kernels run with denormals flushed to zero (kern.h's FTZ_ON, FTZ_OFF).
// Go cannot call C function pointers; these forward to the chosen table.
static void k_act_fwd(const kern_ops *o, float *y, const float *x, long n, int act) { FTZ_ON o->act_fwd(y, x, n, act); FTZ_OFF }
static void k_act_bwd(const kern_ops *o, float *dx, const float *x, const float *dy, long n, int act) { FTZ_ON o->act_bwd(dx, x, dy, n, act); FTZ_OFF }
static void k_bias_act(const kern_ops *o, float *y, long ldy, long rows, long n, const float *bias, int act) { FTZ_ON o->bias_act(y, ldy, rows, n, bias, act); FTZ_OFF }
static void k_bias_fill(const kern_ops *o, float *y, long ldy, long rows, long n, const float *bias) { FTZ_ON o->bias_fill(y, ldy, rows, n, bias); FTZ_OFF }
static void k_add(const kern_ops *o, float *y, const float *a, const float *b, long n) { FTZ_ON o->add(y, a, b, n); FTZ_OFF }
static int k_addnorm(const kern_ops *o, float *y, float *sum, const float *a, const float *b, long rows, long cols, float eps, const float *g, const float *be) { FTZ_ON int r = o->addnorm(y, sum, a, b, rows, cols, eps, g, be); FTZ_OFF return r; }
static void k_norm_bwd(const kern_ops *o, float *dx, const float *dy, const float *x, long rows, long cols, float eps, const float *g, float *dg, float *db, int acc) { FTZ_ON o->norm_bwd(dx, dy, x, rows, cols, eps, g, dg, db, acc); FTZ_OFF }
static void k_colsum(const kern_ops *o, float *out, const float *y, long rows, long n) { FTZ_ON o->colsum(out, y, rows, n); FTZ_OFF }
static void k_embed(const kern_ops *o, float *y, const float *t, const int32_t *ids, long count, long cols, int add) { FTZ_ON o->embed(y, t, ids, count, cols, add); FTZ_OFF }
static void k_embed_bf16(const kern_ops *o, float *y, const uint16_t *t, const int32_t *ids, long count, long cols, int add) { FTZ_ON o->embed_bf16(y, t, ids, count, cols, add); FTZ_OFF }
// AdamW runs without FTZ: its moments are stored as fp32 and may be tiny,
// and the host AdamW it stands for keeps them.
static void k_adamw(const kern_ops *o, float *w, float *g, float *m, float *v, long n, double lr, double wd, double c1, double c2, float gscale) {
	kadamw p = {lr, wd, c1, c2, gscale};
	o->adamw(w, g, m, v, n, &p);
}
static double k_sumsq(const kern_ops *o, const float *x, long n) { return o->sumsq(x, n); }
static int k_attn_fwd(const kern_ops *o, float *ctx, const float *qkv, const uint8_t *mask, float *probs, const kattn *a, long u0, long u1) {
	FTZ_ON int r = o->attn_fwd(ctx, qkv, mask, probs, a, u0, u1); FTZ_OFF
	return r;
}
static int k_has_attn_bf16(const kern_ops *o) { return o->attn_fwd_bf16 != NULL; }
static int k_attn_fwd_bf16(const kern_ops *o, float *ctx, const float *qkv, const uint8_t *mask, const kattn *a, long u0, long u1) {
	FTZ_ON int r = o->attn_fwd_bf16(ctx, qkv, mask, a, u0, u1); FTZ_OFF
	return r;
}
static int k_attn_bwd(const kern_ops *o, float *dqkv, const float *dctx, const float *qkv, const float *probs, const uint8_t *mask, const kattn *a, long u0, long u1) {
	FTZ_ON int r = o->attn_bwd(dqkv, dctx, qkv, probs, mask, a, u0, u1); FTZ_OFF
	return r;
}
static int k_attn_rows_fwd(const kern_ops *o, float *ctx, const float *qkv, const uint8_t *mask, const int32_t *rows, float *probs, const kattn *a, long b0, long b1) {
	FTZ_ON int r = o->attn_rows_fwd(ctx, qkv, mask, rows, probs, a, b0, b1); FTZ_OFF
	return r;
}
static int k_attn_rows_bwd(const kern_ops *o, float *dqkv, const float *dctx, const float *qkv, const float *probs, const uint8_t *mask, const int32_t *rows, const kattn *a, long b0, long b1) {
	FTZ_ON int r = o->attn_rows_bwd(dqkv, dctx, qkv, probs, mask, rows, a, b0, b1); FTZ_OFF
	return r;
}
static void k_q8_quant(const kern_ops *o, uint8_t *xq, float *sx, int32_t *zp, const float *x, long rows, long k) { o->q8_quant(xq, sx, zp, x, rows, k); }
static void k_q8_out(const kern_ops *o, float *y, long ldy, const int32_t *acc, long rows, long n, const float *sx, const int32_t *zp, const float *sw, const int32_t *cs, const float *bias, int act) { FTZ_ON o->q8_out(y, ldy, acc, rows, n, sx, zp, sw, cs, bias, act); FTZ_OFF }
*/
import "C"

import (
	"unsafe"
)

// kern is one instruction set's table of C kernels. Each method runs one
// chunk on the calling thread; callers split work across goroutines, or
// across OpenMP's team with team.go's methods.
type kern struct{ o *C.kern_ops }

func kernFor(level int) kern { return kern{C.kern_ops_for(C.int(level))} }

func (k kern) isa() string { return C.GoString(k.o.isa) }

// fp is the address of s[0], or nil for an empty slice.
func fp(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func oom(what string) {
	panic("cpu: out of memory in " + what)
}

func (k kern) actFwd(y, x []float32, n int, act int) {
	C.k_act_fwd(k.o, fp(y), fp(x), C.long(n), C.int(act))
}

func (k kern) actBwd(dx, x, dy []float32, n int, act int) {
	C.k_act_bwd(k.o, fp(dx), fp(x), fp(dy), C.long(n), C.int(act))
}

func (k kern) biasAct(y []float32, ldy, rows, n int, bias []float32, act int) {
	C.k_bias_act(k.o, fp(y), C.long(ldy), C.long(rows), C.long(n), fp(bias), C.int(act))
}

func (k kern) biasFill(y []float32, ldy, rows, n int, bias []float32) {
	C.k_bias_fill(k.o, fp(y), C.long(ldy), C.long(rows), C.long(n), fp(bias))
}

func (k kern) add(y, a, b []float32, n int) {
	C.k_add(k.o, fp(y), fp(a), fp(b), C.long(n))
}

func (k kern) addNorm(y, sum, a, b []float32, rows, cols int, eps float32, gamma, beta []float32) {
	if C.k_addnorm(k.o, fp(y), fp(sum), fp(a), fp(b), C.long(rows), C.long(cols), C.float(eps), fp(gamma), fp(beta)) != 0 {
		oom("AddNorm")
	}
}

func (k kern) normBwd(dx, dy, x []float32, rows, cols int, eps float32, gamma, dgamma, dbeta []float32, acc bool) {
	C.k_norm_bwd(k.o, fp(dx), fp(dy), fp(x), C.long(rows), C.long(cols), C.float(eps), fp(gamma), fp(dgamma), fp(dbeta), cbool(acc))
}

func (k kern) colSum(out, y []float32, rows, n int) {
	C.k_colsum(k.o, fp(out), fp(y), C.long(rows), C.long(n))
}

func (k kern) embed(y, table []float32, ids []int32, cols int, add bool) {
	if len(ids) == 0 {
		return
	}
	C.k_embed(k.o, fp(y), fp(table), (*C.int32_t)(unsafe.Pointer(&ids[0])), C.long(len(ids)), C.long(cols), cbool(add))
}

func (k kern) embedBF16(y []float32, table []uint16, ids []int32, cols int, add bool) {
	if len(ids) == 0 {
		return
	}
	C.k_embed_bf16(k.o, fp(y), (*C.uint16_t)(unsafe.Pointer(&table[0])), (*C.int32_t)(unsafe.Pointer(&ids[0])), C.long(len(ids)),
		C.long(cols), cbool(add))
}

// adamW is one AdamW step over w, g, m, v (equal lengths); see kern.h.
func (k kern) adamW(w, g, m, v []float32, lr, wd, c1, c2 float64, gscale float32) {
	C.k_adamw(k.o, fp(w), fp(g), fp(m), fp(v), C.long(len(w)), C.double(lr), C.double(wd), C.double(c1), C.double(c2), C.float(gscale))
}

// sumSq is Σ x² in float64.
func (k kern) sumSq(x []float32) float64 { return float64(C.k_sumsq(k.o, fp(x), C.long(len(x)))) }

type attnShape struct {
	B, T, H, hd int
	causal      bool
	scale       float32
}

// c is the shape as the C kernels take it (kern.h's kattn).
func (a attnShape) c() *C.kattn {
	return &C.kattn{batch: C.long(a.B), seq: C.long(a.T), heads: C.long(a.H), hd: C.long(a.hd), causal: cbool(a.causal), scale: C.float(a.scale)}
}

func (k kern) attnFwd(ctx, qkv []float32, mask []uint8, probs []float32, a attnShape, u0, u1 int) {
	if C.k_attn_fwd(k.o, fp(ctx), fp(qkv), (*C.uint8_t)(unsafe.Pointer(&mask[0])), fp(probs),
		a.c(), C.long(u0), C.long(u1)) != 0 {
		oom("Attention")
	}
}

// hasAttnBF16 says whether the table has the bf16 attention (AVX-512 builds).
func (k kern) hasAttnBF16() bool { return C.k_has_attn_bf16(k.o) != 0 }

// attnFwdBF16 is attnFwd with bf16 products: inference only (no probs),
// no causal mask, hd a multiple of 32, on a CPU with AVX512_BF16.
func (k kern) attnFwdBF16(ctx, qkv []float32, mask []uint8, a attnShape, u0, u1 int) {
	if C.k_attn_fwd_bf16(k.o, fp(ctx), fp(qkv), (*C.uint8_t)(unsafe.Pointer(&mask[0])),
		a.c(), C.long(u0), C.long(u1)) != 0 {
		oom("Attention")
	}
}

func (k kern) attnBwd(dqkv, dctx, qkv, probs []float32, mask []uint8, a attnShape, u0, u1 int) {
	if C.k_attn_bwd(k.o, fp(dqkv), fp(dctx), fp(qkv), fp(probs), (*C.uint8_t)(unsafe.Pointer(&mask[0])),
		a.c(), C.long(u0), C.long(u1)) != 0 {
		oom("AttentionBackward")
	}
}

func (k kern) attnRowsFwd(ctx, qkv []float32, mask []uint8, rows []int32, probs []float32, a attnShape, b0, b1 int) {
	if C.k_attn_rows_fwd(k.o, fp(ctx), fp(qkv), (*C.uint8_t)(unsafe.Pointer(&mask[0])), (*C.int32_t)(unsafe.Pointer(&rows[0])), fp(probs),
		a.c(), C.long(b0), C.long(b1)) != 0 {
		oom("AttentionRows")
	}
}

func (k kern) attnRowsBwd(dqkv, dctx, qkv, probs []float32, mask []uint8, rows []int32, a attnShape, b0, b1 int) {
	if C.k_attn_rows_bwd(k.o, fp(dqkv), fp(dctx), fp(qkv), fp(probs), (*C.uint8_t)(unsafe.Pointer(&mask[0])), (*C.int32_t)(unsafe.Pointer(&rows[0])),
		a.c(), C.long(b0), C.long(b1)) != 0 {
		oom("AttentionRowsBackward")
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// q8Quant quantises rows of x [rows, k] to uint8 (kern.h's q8_quant).
func (k kern) q8Quant(xq []uint8, sx []float32, zp []int32, x []float32, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	_ = xq[rows*cols-1]
	_, _, _ = sx[rows-1], zp[rows-1], x[rows*cols-1]
	C.k_q8_quant(k.o, (*C.uint8_t)(unsafe.Pointer(&xq[0])), fp(sx), (*C.int32_t)(unsafe.Pointer(&zp[0])), fp(x),
		C.long(rows), C.long(cols))
}

// q8Out is int8's epilogue (kern.h's q8_out) on acc [rows, n] into y.
func (k kern) q8Out(y []float32, ldy int, acc []int32, rows, n int, sx []float32, zp []int32, sw []float32,
	colsum []int32, bias []float32, act int) {
	if rows == 0 || n == 0 {
		return
	}
	_, _ = y[(rows-1)*ldy+n-1], acc[rows*n-1]
	_, _, _, _ = sx[rows-1], zp[rows-1], sw[n-1], colsum[n-1]
	if bias != nil {
		_ = bias[n-1]
	}
	C.k_q8_out(k.o, fp(y), C.long(ldy), (*C.int32_t)(unsafe.Pointer(&acc[0])), C.long(rows), C.long(n), fp(sx),
		(*C.int32_t)(unsafe.Pointer(&zp[0])), fp(sw), (*C.int32_t)(unsafe.Pointer(&colsum[0])), fp(bias), C.int(act))
}
