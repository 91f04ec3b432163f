package cpu

import (
	"fmt"

	"github.com/adapterdb/adapterdb/kernels"
)

// elemGrain is the fewest values worth a helper goroutine of their own
// (~40 µs of LayerNorm, ~20 µs of an add). Waking a helper costs far more
// than starting one: ~8 µs on this project's 2-vCPU VMs when the op follows
// a GEMM (the helper's thread slept meanwhile, and oneDNN's OpenMP thread
// still spins on the other core), ~45 µs when the caller is pinned to its
// thread (single-sequence passes, engine/scheduler.go), whose wait for the
// helper parks and wakes that thread too. At 32K values, the grain before,
// a one-row 16-token MiniLM-L6 pass spent ~12% of its time on such
// wake-ups (docs/performance.md).
const elemGrain = 1 << 17

// Activate computes y = act(x) over n values.
func (be *Backend) Activate(y, x kernels.Buffer, n int, act kernels.Act) {
	checkAct(act)
	ys, xs := need(y, n, "activate y"), need(x, n, "activate x")
	if n <= 0 {
		return
	}
	step := be.step(n, be.grain(elemGrain), 16)
	if nt := be.teamSize(n, step); nt > 0 {
		be.k.actFwdTeam(be.omp(), nt, step, ys, xs, n, int(act))
		return
	}
	be.parallelDynamic(n, step, func(lo, hi int) {
		be.k.actFwd(ys[lo:hi], xs[lo:hi], hi-lo, int(act))
	})
}

// ActivateBackward computes dx = dy ⊙ act'(x).
func (be *Backend) ActivateBackward(dx, x, dy kernels.Buffer, n int, act kernels.Act) {
	checkAct(act)
	dxs, xs, dys := need(dx, n, "activate backward dx"), need(x, n, "activate backward x"), need(dy, n, "activate backward dy")
	if n <= 0 {
		return
	}
	step := be.step(n, be.grain(elemGrain), 16)
	if nt := be.teamSize(n, step); nt > 0 {
		be.k.actBwdTeam(be.omp(), nt, step, dxs, xs, dys, n, int(act))
		return
	}
	be.parallelDynamic(n, step, func(lo, hi int) {
		be.k.actBwd(dxs[lo:hi], xs[lo:hi], dys[lo:hi], hi-lo, int(act))
	})
}

// Add computes y = a + b over n values.
func (be *Backend) Add(y, a, b kernels.Buffer, n int) {
	ys, as, bs := need(y, n, "add y"), need(a, n, "add a"), need(b, n, "add b")
	be.parallel(n, 4*elemGrain, 16, func(lo, hi int) {
		be.k.add(ys[lo:hi], as[lo:hi], bs[lo:hi], hi-lo)
	})
}

// segRows checks that segments are non-negative and returns their total.
func segRows[S any](segs []S, rows func(S) int) int {
	total := 0
	for _, s := range segs {
		r := rows(s)
		if r < 0 {
			panic(fmt.Sprintf("cpu: segment of %d rows", r))
		}
		total += r
	}
	return total
}

// forSegs calls fn for the part [r0, r1) of segment i that overlaps rows
// [lo, hi); starts[i] is the first row of segment i.
func forSegs(starts []int, lo, hi int, fn func(i, r0, r1 int)) {
	for i := 0; i+1 < len(starts); i++ {
		r0, r1 := max(lo, starts[i]), min(hi, starts[i+1])
		if r0 < r1 {
			fn(i, r0, r1)
		}
	}
}

func segStarts[S any](segs []S, rows func(S) int) []int {
	starts := make([]int, len(segs)+1)
	for i, s := range segs {
		starts[i+1] = starts[i] + rows(s)
	}
	return starts
}

// AddNorm computes sum = a + b and y = LayerNorm(sum) per segment.
func (be *Backend) AddNorm(y, sum, a, b kernels.Buffer, cols int, eps float32, segs []kernels.NormSeg) {
	segN := func(s kernels.NormSeg) int { return s.Rows }
	rows := segRows(segs, segN)
	if cols <= 0 {
		if rows > 0 && cols < 0 {
			panic(fmt.Sprintf("cpu: AddNorm over %d columns", cols))
		}
		return
	}
	n := rows * cols
	ys, as := need(y, n, "addnorm y"), need(a, n, "addnorm a")
	var ss, bs []float32
	if sum != nil {
		ss = need(sum, n, "addnorm sum")
	}
	if b != nil {
		bs = need(b, n, "addnorm b")
	}
	gains := make([][2][]float32, len(segs))
	for i, s := range segs {
		if s.Rows > 0 {
			gains[i] = [2][]float32{need(s.Gamma, cols, "addnorm gamma"), need(s.Beta, cols, "addnorm beta")}
		}
	}
	starts := segStarts(segs, segN)
	at := func(s []float32, r int) []float32 {
		if s == nil {
			return nil
		}
		return s[r*cols:]
	}
	if rows == 0 {
		return
	}
	if len(segs) == 1 { // a batch of several adapters' segments stays with the helpers
		step := be.step(rows, be.grain(rowGrain(cols)), 1)
		if nt := be.teamSize(rows, step); nt > 0 {
			be.k.addNormTeam(be.omp(), nt, step, ys, ss, as, bs, rows, cols, eps, gains[0][0], gains[0][1])
			return
		}
	}
	be.parallelDynamic(rows, be.step(rows, rowGrain(cols), 1), func(lo, hi int) {
		forSegs(starts, lo, hi, func(i, r0, r1 int) {
			be.k.addNorm(at(ys, r0), at(ss, r0), at(as, r0), at(bs, r0), r1-r0, cols, eps, gains[i][0], gains[i][1])
		})
	})
}

// NormBackward is the backward of y = LayerNorm(x) per segment.
func (be *Backend) NormBackward(dx, dy, x kernels.Buffer, cols int, eps float32, segs []kernels.NormGrad, accumulate bool) {
	segN := func(s kernels.NormGrad) int { return s.Rows }
	rows := segRows(segs, segN)
	if cols <= 0 {
		if rows > 0 && cols < 0 {
			panic(fmt.Sprintf("cpu: NormBackward over %d columns", cols))
		}
		return
	}
	n := rows * cols
	dys, xs := need(dy, n, "normbackward dy"), need(x, n, "normbackward x")
	var dxs []float32
	if dx != nil {
		dxs = need(dx, n, "normbackward dx")
	}
	off := 0
	for _, s := range segs {
		r := s.Rows
		if r == 0 {
			continue
		}
		gamma := need(s.Gamma, cols, "normbackward gamma")
		var dg, db []float32
		if s.DGamma != nil {
			dg = need(s.DGamma, cols, "normbackward DGamma")
		}
		if s.DBeta != nil {
			db = need(s.DBeta, cols, "normbackward DBeta")
		}
		seg := func(s []float32, lo int) []float32 {
			if s == nil {
				return nil
			}
			return s[(off+lo)*cols:]
		}
		step := be.step(r, be.grain(rowGrain(cols)), 1)
		if dg == nil && db == nil {
			if nt := be.teamSize(r, step); nt > 0 {
				be.k.normBwdTeam(be.omp(), nt, step, seg(dxs, 0), seg(dys, 0), seg(xs, 0), r, cols, eps, gamma, nil, 0, accumulate)
				off += r
				continue
			}
			be.parallelDynamic(r, step, func(lo, hi int) {
				be.k.normBwd(seg(dxs, lo), seg(dys, lo), seg(xs, lo), hi-lo, cols, eps, gamma, dg, db, accumulate)
			})
			off += r
			continue
		}
		// Parameter gradients: partial sums per chunk, added up after.
		chunks := min(be.threads, max(1, r/rowGrain(cols))) // the helpers' grain on the team too: the same sums
		part := make([]float32, 2*chunks*cols)
		if nt := be.teamSize(chunks, 1); nt > 0 {
			be.k.normBwdTeam(be.omp(), nt, 1, seg(dxs, 0), seg(dys, 0), seg(xs, 0), r, cols, eps, gamma, part, chunks, accumulate)
		} else {
			be.parallel(chunks, 1, 1, func(clo, chi int) {
				for c := clo; c < chi; c++ {
					lo, hi := r*c/chunks, r*(c+1)/chunks
					var pg, pb []float32
					if dg != nil {
						pg = part[2*c*cols : (2*c+1)*cols]
					}
					if db != nil {
						pb = part[(2*c+1)*cols : (2*c+2)*cols]
					}
					be.k.normBwd(seg(dxs, lo), seg(dys, lo), seg(xs, lo), hi-lo, cols, eps, gamma, pg, pb, accumulate)
				}
			})
		}
		for c := range chunks {
			if dg != nil {
				be.k.add(dg, dg, part[2*c*cols:(2*c+1)*cols], cols)
			}
			if db != nil {
				be.k.add(db, db, part[(2*c+1)*cols:(2*c+2)*cols], cols)
			}
		}
		off += r
	}
}

// Embed writes (add: adds) y[i,:] = tab[ids[i],:]; tab may be a bfloat16
// table made by Table.
func (be *Backend) Embed(y kernels.Buffer, tab kernels.Buffer, ids []int32, cols int, add bool) {
	if cols < 0 {
		panic(fmt.Sprintf("cpu: embedding of %d columns", cols))
	}
	if cols == 0 || len(ids) == 0 {
		return
	}
	ys := need(y, len(ids)*cols, "embed y")
	var rows int
	var gather func(y []float32, ids []int32)
	if t, ok := tab.(*table); ok {
		if cols != t.cols {
			panic(fmt.Sprintf("cpu: embedding of %d columns from a table of %d", cols, t.cols))
		}
		rows = t.rows
		gather = func(y []float32, ids []int32) { be.k.embedBF16(y, t.v, ids, cols, add) }
	} else {
		ts := data(tab)
		rows = len(ts) / cols
		gather = func(y []float32, ids []int32) { be.k.embed(y, ts, ids, cols, add) }
	}
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			panic(fmt.Sprintf("cpu: embedding id %d at %d outside a table of %d rows", id, i, rows))
		}
	}
	be.parallel(len(ids), rowGrain(cols), 1, func(lo, hi int) { gather(ys[lo*cols:hi*cols], ids[lo:hi]) })
}

// attnCheck validates an Attn and the buffer sizes of one call.
func attnCheck(a kernels.Attn) (attnShape, bool) {
	if a.Batch < 0 || a.Seq < 0 || a.Heads < 0 || a.HeadDim < 0 {
		panic(fmt.Sprintf("cpu: attention of negative size %+v", a))
	}
	s := attnShape{B: a.Batch, T: a.Seq, H: a.Heads, hd: a.HeadDim, causal: a.Causal, scale: a.Scale}
	if s.B*s.T*s.H*s.hd == 0 {
		return s, false
	}
	if len(a.KeyMask) < s.B*s.T {
		panic(fmt.Sprintf("cpu: attention key mask has %d values, needs %d", len(a.KeyMask), s.B*s.T))
	}
	return s, true
}

// Attention runs multi-head attention, parallel over (sequence, head) pairs.
func (be *Backend) Attention(ctx, qkv kernels.Buffer, a kernels.Attn, probs kernels.Buffer) {
	s, ok := attnCheck(a)
	if !ok {
		return
	}
	D := s.H * s.hd
	cs := need(ctx, s.B*s.T*D, "attention ctx")
	qs := need(qkv, s.B*s.T*3*D, "attention qkv")
	var ps []float32
	if probs != nil {
		ps = need(probs, s.B*s.H*s.T*s.T, "attention probs")
	}
	bf16 := ps == nil && be.attnBF16(s)
	n, step := s.B*s.H, attnStep(s, be.threads, be.grain(attnGrainFlops))
	if nt := be.teamSize(n, step); nt > 0 {
		if bf16 {
			be.k.attnFwdBF16Team(be.omp(), nt, step, cs, qs, a.KeyMask, s)
		} else {
			be.k.attnFwdTeam(be.omp(), nt, step, cs, qs, a.KeyMask, ps, s)
		}
		return
	}
	units := func(lo, hi int) { be.k.attnFwd(cs, qs, a.KeyMask, ps, s, lo, hi) }
	if bf16 {
		units = func(lo, hi int) { be.k.attnFwdBF16(cs, qs, a.KeyMask, s, lo, hi) }
	}
	be.parallelDynamic(n, step, units)
}

// attnBF16 says whether inference attention runs its products in bf16: in
// bf16 or int8 precision where bf16 multiplies faster than fp32
// (dnn.bf16Attn), without a causal mask (GPT-2 keeps fp32), for head sizes
// the kernel tiles (multiples of 32: 32 for MiniLM, 64 for BERT-base).
// Training keeps fp32 attention: its backward differentiates the fp32
// forward.
func (be *Backend) attnBF16(s attnShape) bool {
	return be.dnn != nil && be.dnn.bf16Attn && !s.causal && s.hd%32 == 0 && be.k.hasAttnBF16()
}

// AttentionBackward writes dqkv given dctx and the forward's qkv and probs.
func (be *Backend) AttentionBackward(dqkv, dctx, qkv, probs kernels.Buffer, a kernels.Attn) {
	s, ok := attnCheck(a)
	if !ok {
		return
	}
	D := s.H * s.hd
	dqs := need(dqkv, s.B*s.T*3*D, "attention backward dqkv")
	dcs := need(dctx, s.B*s.T*D, "attention backward dctx")
	qs := need(qkv, s.B*s.T*3*D, "attention backward qkv")
	ps := need(probs, s.B*s.H*s.T*s.T, "attention backward probs")
	n, step := s.B*s.H, attnStep(s, be.threads, be.grain(attnGrainFlops))
	if nt := be.teamSize(n, step); nt > 0 {
		be.k.attnBwdTeam(be.omp(), nt, step, dqs, dcs, qs, ps, a.KeyMask, s)
		return
	}
	be.parallelDynamic(n, step, func(lo, hi int) {
		be.k.attnBwd(dqs, dcs, qs, ps, a.KeyMask, s, lo, hi)
	})
}

// AttentionRows runs attention for query row rows[b] of each sequence b
// (kernels.RowAttention): a vector-matrix product per head, split over
// sequences when there is enough of it (rowsStep).
func (be *Backend) AttentionRows(ctx, qkv kernels.Buffer, a kernels.Attn, rows []int32, probs kernels.Buffer) {
	s, ok := attnCheck(a)
	if !ok {
		return
	}
	D := s.H * s.hd
	cs := need(ctx, s.B*D, "attention rows ctx")
	qs := need(qkv, s.B*s.T*3*D, "attention rows qkv")
	var ps []float32
	if probs != nil {
		ps = need(probs, s.B*s.H*s.T, "attention rows probs")
	}
	rows = checkRows(rows, s)
	step := be.rowsStep(s)
	if nt := be.teamSize(s.B, step); nt > 0 {
		be.k.attnRowsFwdTeam(be.omp(), nt, step, cs, qs, a.KeyMask, rows, ps, s)
		return
	}
	be.parallelDynamic(s.B, step, func(lo, hi int) { be.k.attnRowsFwd(cs, qs, a.KeyMask, rows, ps, s, lo, hi) })
}

// AttentionRowsBackward is AttentionRows' backward.
func (be *Backend) AttentionRowsBackward(dqkv, dctx, qkv, probs kernels.Buffer, a kernels.Attn, rows []int32) {
	s, ok := attnCheck(a)
	if !ok {
		return
	}
	D := s.H * s.hd
	dqs := need(dqkv, s.B*s.T*3*D, "attention rows backward dqkv")
	dcs := need(dctx, s.B*D, "attention rows backward dctx")
	qs := need(qkv, s.B*s.T*3*D, "attention rows backward qkv")
	ps := need(probs, s.B*s.H*s.T, "attention rows backward probs")
	rows = checkRows(rows, s)
	step := be.rowsStep(s)
	if nt := be.teamSize(s.B, step); nt > 0 {
		be.k.attnRowsBwdTeam(be.omp(), nt, step, dqs, dcs, qs, ps, a.KeyMask, rows, s)
		return
	}
	be.parallelDynamic(s.B, step, func(lo, hi int) { be.k.attnRowsBwd(dqs, dcs, qs, ps, a.KeyMask, rows, s, lo, hi) })
}

// rowsStep is how many sequences a worker of AttentionRows and its backward
// takes at a time: all of them when the call writes less than an
// element-wise op's grain (the backward writes every row of dqkv, [B·T, 3D]).
func (be *Backend) rowsStep(s attnShape) int {
	if s.B*s.T*3*s.H*s.hd < be.grain(elemGrain) {
		return s.B
	}
	return max(1, s.B/(piecesPerWorker*be.threads))
}

// checkRows validates AttentionRows' rows: one per sequence, in it.
func checkRows(rows []int32, s attnShape) []int32 {
	if len(rows) != s.B {
		panic(fmt.Sprintf("cpu: %d attention rows for %d sequences", len(rows), s.B))
	}
	for b, r := range rows {
		if r < 0 || int(r) >= s.T {
			panic(fmt.Sprintf("cpu: attention row %d of sequence %d outside its %d rows", r, b, s.T))
		}
	}
	return rows
}

// attnStep is how many (sequence, head) units a worker takes at a time:
// whole sequences when there are enough (the kernel prefetches the next
// sequence while it works on one), about four pieces per worker so that
// sequences of different lengths balance; single heads for small batches;
// every unit on the caller when the whole call is less work than grain
// (attnGrainFlops, which a helper's wake-up would not repay, see elemGrain;
// less on the OpenMP team, Backend.grain).
func attnStep(s attnShape, threads, grain int) int {
	if attnWork(s) < float64(grain) {
		return s.B * s.H
	}
	if s.B >= 2*threads {
		return s.H * max(1, s.B/(4*threads))
	}
	return max(1, s.B*s.H/(4*threads))
}

// attnGrainFlops is the least attention work split across workers: a
// one-sequence MiniLM-L6 call at 128 tokens (25 MFLOP, ~0.4 ms on one core)
// runs faster on the caller alone than with a helper.
const attnGrainFlops = 32 << 20

// attnWork is a call's work at full length: 4·B·T²·D (scores and context).
func attnWork(s attnShape) float64 {
	return 4 * float64(s.B) * float64(s.T) * float64(s.T) * float64(s.H*s.hd)
}
