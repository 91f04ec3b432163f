package kerneltest

import (
	"fmt"
	"testing"

	"github.com/adapterdb/adapterdb/kernels"
)

// runRowAttention (Run, for a backend with kernels.RowAttention) checks its
// attention for one query row per sequence against the float64 attention,
// and the backward (a Trainer's) against finite differences. Each sequence
// keeps its first row, its last real row or its middle one (padding rows
// included: their context, weights and gradients are zero).
func runRowAttention(t *testing.T, be kernels.Backend, ra kernels.RowAttention) {
	t.Run("AttentionRows", func(t *testing.T) { testAttentionRows(newEnv(t, be, 15), ra) })
	if tr, ok := be.(kernels.Trainer); ok {
		t.Run("AttentionRowsBackward", func(t *testing.T) { testAttentionRowsBackward(newEnv(t, tr, 16), ra) })
	}
}

// keptRows picks one row per sequence of c: the first, the last real one
// (the first when none is real) or the middle one, by turns.
func keptRows(c attnCase) []int32 {
	rows := make([]int32, c.B)
	for b, l := range c.lens {
		switch b % 3 {
		case 1:
			rows[b] = int32(max(l-1, 0))
		case 2:
			rows[b] = int32(c.T / 2)
		}
	}
	return rows
}

func testAttentionRows(e *env, ra kernels.RowAttention) {
	for _, c := range attnCases() {
		a, rows := c.attn(), keptRows(c)
		D := c.H * c.hd
		qkv := e.uniform(c.B*c.T*3*D, -2, 2)
		ctx, probs := refAttention(to64(qkv), a) // padding queries' rows are zero
		wantCtx, wantProbs := make([]float64, c.B*D), make([]float64, c.B*c.H*c.T)
		for b, r := range rows {
			copy(wantCtx[b*D:(b+1)*D], ctx[(b*c.T+int(r))*D:])
			for h := range c.H {
				copy(wantProbs[(b*c.H+h)*c.T:(b*c.H+h+1)*c.T], probs[((b*c.H+h)*c.T+int(r))*c.T:])
			}
		}
		for _, withProbs := range []bool{false, true} {
			pq, pc := e.put(qkv), e.put(e.randn(c.B*D))
			var pp *placed
			var pv kernels.Buffer
			if withProbs {
				pp = e.put(e.randn(c.B * c.H * c.T))
				pv = pp.view
			}
			ra.AttentionRows(pc.view, pq.view, a, rows, pv)
			what := fmt.Sprintf("AttentionRows(B=%d T=%d H=%d hd=%d causal=%v lens=%v holes=%v rows=%v probs=%v)",
				c.B, c.T, c.H, c.hd, c.causal, c.lens, c.holes, rows, withProbs)
			e.near(what+" ctx", e.get(pc), wantCtx, nil, 2e-5, 2e-5)
			e.guarded(what+" ctx", pc)
			if pp != nil {
				e.near(what+" probs", e.get(pp), wantProbs, nil, 2e-5, 1e-6)
				e.guarded(what+" probs", pp)
			}
		}
	}
}

func testAttentionRowsBackward(e *env, ra kernels.RowAttention) {
	tr := e.be.(kernels.Trainer)
	for _, c := range attnGradCases() {
		a, rows := c.attn(), keptRows(c)
		D := c.H * c.hd
		qkv := to64(e.uniform(c.B*c.T*3*D, -1.5, 1.5))
		dctx := e.randn(c.B * D)
		want := numGrad(qkv, func() float64 {
			ctx, _ := refAttention(qkv, a)
			loss := 0.0
			for b, r := range rows {
				loss += dot64(ctx[(b*c.T+int(r))*D:(b*c.T+int(r)+1)*D], dctx[b*D:(b+1)*D])
			}
			return loss
		})
		pq := e.put(f32(qkv))
		ctx, probs := tr.Alloc(c.B*D), tr.Alloc(c.B*c.H*c.T)
		ra.AttentionRows(ctx, pq.view, a, rows, probs)
		pd := e.put(e.randn(c.B * c.T * 3 * D)) // garbage: must be overwritten
		ra.AttentionRowsBackward(pd.view, e.put(dctx).view, pq.view, probs, a, rows)
		what := fmt.Sprintf("AttentionRowsBackward(B=%d T=%d H=%d hd=%d causal=%v lens=%v holes=%v rows=%v)",
			c.B, c.T, c.H, c.hd, c.causal, c.lens, c.holes, rows)
		e.gradNear(what, e.get(pd), want)
		e.guarded(what, pd)
		tr.Free(ctx)
		tr.Free(probs)
	}
}
