package model

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/adapterdb/adapterdb/kernels"
)

// Model is a loaded base transformer on a backend. It is immutable and safe
// for concurrent use; every forward pass allocates its own activations.
type Model struct {
	Cfg Config
	W   *Weights
	Be  kernels.Backend
}

// New binds loaded weights to their config and backend.
func New(cfg Config, w *Weights, be kernels.Backend) *Model {
	return &Model{Cfg: cfg, W: w, Be: be}
}

// Batch is B sequences padded to length T, row-major [B, T] token arrays.
type Batch struct {
	Seqs, Len int     // B, T
	IDs       []int32 // [B·T] token ids (pads hold the pad id)
	TypeIDs   []int32 // [B·T] token type ids; nil means all 0
	PosIDs    []int32 // [B·T] position ids (rows of the position table)
	Mask      []uint8 // [B·T] 1 for real tokens, 0 for padding
	// Segs groups consecutive sequences by adapter; Σ Seqs = B. Nil runs every
	// sequence through the base model.
	Segs []Segment
}

func (b *Batch) rows() int { return b.Seqs * b.Len }

func (b *Batch) segments() []Segment {
	if b.Segs == nil {
		return []Segment{{Seqs: b.Seqs}}
	}
	return b.Segs
}

// check validates the batch against the model so that kernels only ever see
// in-range indices.
func (m *Model) check(b *Batch) error {
	M := b.rows()
	if b.Seqs <= 0 || b.Len <= 0 {
		return fmt.Errorf("empty batch (%d×%d)", b.Seqs, b.Len)
	}
	if len(b.IDs) != M || len(b.PosIDs) != M || len(b.Mask) != M || (b.TypeIDs != nil && len(b.TypeIDs) != M) {
		return fmt.Errorf("batch arrays do not match %d×%d", b.Seqs, b.Len)
	}
	cfg := m.Cfg
	for i := 0; i < M; i++ {
		if id := b.IDs[i]; id < 0 || int(id) >= cfg.Vocab {
			return fmt.Errorf("token id %d outside vocabulary of %d", id, cfg.Vocab)
		}
		if p := b.PosIDs[i]; p < 0 || int(p) >= cfg.MaxPos {
			return fmt.Errorf("position id %d outside position table of %d (sequence too long?)", p, cfg.MaxPos)
		}
		if b.TypeIDs != nil {
			if t := b.TypeIDs[i]; t < 0 || (t > 0 && int(t) >= cfg.TypeVocab) {
				return fmt.Errorf("token type id %d outside %d types", t, cfg.TypeVocab)
			}
		}
	}
	n := 0
	for _, s := range b.segments() {
		if s.Seqs < 0 {
			return fmt.Errorf("negative segment")
		}
		n += s.Seqs
		if a := s.Adapter; a != nil {
			if len(a.Layers) != cfg.Layers || len(a.Norms) != len(m.W.Norms) || a.Size <= 0 {
				return fmt.Errorf("adapter does not fit this model (%d layers, %d norms)", len(a.Layers), len(a.Norms))
			}
		}
	}
	if n != b.Seqs {
		return fmt.Errorf("segments cover %d sequences, batch has %d", n, b.Seqs)
	}
	return nil
}

// layerActs are one block's activations. Inference keeps one set and reuses
// its buffers for every layer (fields alias where a value is not needed
// again); training keeps a set per layer for the backward pass.
type layerActs struct {
	in    kernels.Buffer // [M,H] block input (GPT-2: the residual stream)
	ln1   kernels.Buffer // [M,H] GPT-2: ln_1(in)
	qkv   kernels.Buffer // [M,3H]
	probs kernels.Buffer // [B,heads,T,T] attention weights (training)
	ctx   kernels.Buffer // [M,H] attention context
	attn  kernels.Buffer // [M,H] attention output projection, before the adapter
	attnA kernels.Buffer // [M,H] A1(attn); aliases attn in inference
	ad    kernels.Buffer // [M,m] A1 down projection before its activation (training)
	adAct kernels.Buffer // [M,m] act(down(attn))
	sum1  kernels.Buffer // [M,H] in + A1(attn): LN input (BERT) / residual stream (GPT-2)
	h1    kernels.Buffer // [M,H] LayerNorm output feeding the feed-forward network
	f1    kernels.Buffer // [M,I] feed-forward pre-activation (training)
	f1Act kernels.Buffer // [M,I]
	f2    kernels.Buffer // [M,H] feed-forward output projection
	f2A   kernels.Buffer // [M,H] A2(f2); aliases f2 in inference
	fd    kernels.Buffer // [M,m] A2 down pre-activation (training)
	fdAct kernels.Buffer // [M,m]
	sum2  kernels.Buffer // [M,H] h1 + A2(f2): LN input (BERT) / residual stream (GPT-2)
	out   kernels.Buffer // [M,H] block output
}

// Pass is one forward pass over a batch: its final hidden states and, when run
// for training, every activation the backward pass needs.
type Pass struct {
	m      *Model
	b      *Batch
	train  bool
	segs   []Segment
	emb    kernels.Buffer // [M,H] embedding sum (LN input), training
	layers []layerActs
	final  kernels.Buffer // GPT-2 training: the residual stream before ln_f
	// Hidden is the last hidden state [B·T, H] (GPT-2: after ln_f), or, in a
	// pass that keeps rows (ForwardRows), those rows' states [B, H].
	Hidden kernels.Buffer
	owned  []kernels.Buffer
	mSize  int // widest adapter bottleneck in the batch

	// A pass that keeps one row per sequence (ForwardRows): keep[s] is
	// sequence s's row; spread[r] is where row r's gradient comes from in a
	// [B+1, H] buffer whose last row is zero (its kept position, else B).
	keep            []int32
	spread          []int32
	keptCtx, keptIn kernels.Buffer // [B, H] the last layer's gathered attention context and input
	// rowAttn runs the last layer's attention for the kept rows only (nil:
	// the backend has no RowAttention, the attention runs over every row and
	// the kept rows' contexts are gathered); keepPos[s] is sequence s's kept
	// row within it, and the layer's probs are [B, heads, T].
	rowAttn kernels.RowAttention
	keepPos []int32
}

// Batch is the batch the pass ran on.
func (p *Pass) Batch() *Batch { return p.b }

// Model is the model the pass ran on.
func (p *Pass) Model() *Model { return p.m }

// alloc returns a zeroed buffer the pass owns.
func (p *Pass) alloc(n int) kernels.Buffer {
	buf := p.m.Be.Alloc(n)
	p.owned = append(p.owned, buf)
	return buf
}

// scratch returns a buffer the pass owns whose values are undefined: for
// activations an operation writes entirely before anything reads them
// (kernels.Backend.Scratch). The adapters' [M, m] buffers are zeroed:
// SegLinear leaves the rows of segments without an adapter as they were.
func (p *Pass) scratch(n int) kernels.Buffer {
	buf := p.m.Be.Scratch(n)
	p.owned = append(p.owned, buf)
	return buf
}

// Upload returns host values on the backend as a buffer the pass owns, freed
// by Release with its other buffers (on a GPU an upload stays resident until
// freed): for values a pass's own computations need, such as gradients sent
// back into it.
func (p *Pass) Upload(host []float32) kernels.Buffer {
	buf := p.m.Be.Upload(host)
	p.owned = append(p.owned, buf)
	return buf
}

// Release frees the pass's buffers (device memory on GPU backends).
func (p *Pass) Release() {
	for _, b := range p.owned {
		p.m.Be.Free(b)
	}
	p.owned = nil
}

// Forward runs the model over a batch. With train set it keeps the activations
// for Backward. It checks ctx between layers.
func (m *Model) Forward(ctx context.Context, b *Batch, train bool) (*Pass, error) {
	return m.ForwardRows(ctx, b, train, nil)
}

// ForwardRows is Forward for a caller that reads one row of the last hidden
// state per sequence (cls, first or last pooling: Model.PoolRows): keep[s] is
// sequence s's row. The last layer needs every row's keys and values, so its
// QKV projection runs over all rows, and so does its attention unless the
// backend has kernels.RowAttention (then only the kept rows' queries attend);
// the rest of it — the output projection, the feed-forward network, the
// adapters and LayerNorms, a share of the layer's products (3/4) — runs over
// the kept rows only, and Hidden is [B, H]. Nil keep is Forward.
func (m *Model) ForwardRows(ctx context.Context, b *Batch, train bool, keep []int32) (*Pass, error) {
	if err := m.check(b); err != nil {
		return nil, err
	}
	if keep != nil && len(keep) != b.Seqs {
		return nil, fmt.Errorf("%d kept rows for %d sequences", len(keep), b.Seqs)
	}
	for s, r := range keep {
		if int(r) < s*b.Len || int(r) >= (s+1)*b.Len {
			return nil, fmt.Errorf("kept row %d is not in sequence %d", r, s)
		}
	}
	p := &Pass{m: m, b: b, train: train, segs: b.segments(), keep: slices.Clone(keep)}
	if ra, ok := m.Be.(kernels.RowAttention); ok && keep != nil {
		p.rowAttn, p.keepPos = ra, make([]int32, len(keep))
		for s, r := range keep {
			p.keepPos[s] = r - int32(s*b.Len)
		}
	}
	for _, s := range p.segs {
		if s.Adapter != nil && s.Adapter.Size > p.mSize {
			p.mSize = s.Adapter.Size
		}
	}
	if train && len(adapterGroups(p.segs)) > 1 {
		return nil, fmt.Errorf("a training pass takes adapters of one bottleneck size and activation")
	}
	p.allocActs()
	ok := false
	defer func() {
		if !ok {
			p.Release()
		}
	}()
	if err := p.forward(ctx); err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

func (p *Pass) allocActs() {
	cfg, b := p.m.Cfg, p.b
	M, H, I, ms := b.rows(), cfg.Hidden, cfg.FFN, p.mSize
	n := 1
	if p.train {
		n = cfg.Layers
		p.emb = p.scratch(M * H)
	}
	p.layers = make([]layerActs, n)
	if p.keep != nil {
		B := b.Seqs
		p.keptCtx, p.keptIn = p.scratch(B*H), p.scratch(B*H)
		p.spread = make([]int32, M)
		for r := range p.spread {
			p.spread[r] = int32(B)
		}
		for s, r := range p.keep {
			p.spread[r] = int32(s)
		}
	}
	if !p.train {
		// One set, reused by every layer. The block's input and output share a
		// buffer: the input is dead once the first residual sum is formed.
		a := &p.layers[0]
		x := p.scratch(M * H)
		a.in, a.out = x, x
		a.qkv = p.scratch(M * 3 * H)
		a.ctx = p.scratch(M * H)
		a.attn = p.scratch(M * H)
		a.attnA = a.attn
		a.h1 = p.scratch(M * H)
		a.f1Act = p.scratch(M * I)
		a.f1 = a.f1Act
		a.f2 = p.scratch(M * H)
		a.f2A = a.f2
		if ms > 0 {
			a.adAct = p.alloc(M * ms)
			a.ad, a.fd, a.fdAct = a.adAct, a.adAct, a.adAct
		}
		if cfg.PreLN {
			a.ln1 = a.h1 // ln_1 output is dead once the attention has run
			a.sum1, a.sum2 = x, x
		}
		p.Hidden = p.kept(x)
		return
	}
	// The backward pass reads, per layer, what the derivatives of the
	// LayerNorms, attention, activations and adapters need: qkv, probs, attn,
	// sum1, f1, f2, sum2 and the adapters' d, dAct (GPT-2 also in, whose
	// LayerNorm it inverts). The base weights are frozen, so the inputs of
	// their products (ctx, h1, f1Act, GPT-2's ln1) and the adapters' outputs
	// (attnA, f2A) are not needed after their layer: one set serves every
	// layer. A BERT block's output is the next block's input and dead after
	// it: two buffers take turns.
	shared := layerActs{ctx: p.scratch(M * H), attnA: p.scratch(M * H), h1: p.scratch(M * H), f1Act: p.scratch(M * I), f2A: p.scratch(M * H)}
	if cfg.PreLN {
		shared.ln1 = p.scratch(M * H)
	}
	var outs [2]kernels.Buffer
	for l := range p.layers {
		a := &p.layers[l]
		switch {
		case l == 0 && cfg.PreLN:
			a.in = p.emb // GPT-2 has no embedding LayerNorm
		case l == 0:
			a.in = p.scratch(M * H)
			outs[1] = a.in
		default:
			a.in = p.layers[l-1].out
		}
		a.ln1, a.ctx, a.attnA, a.h1, a.f1Act, a.f2A = shared.ln1, shared.ctx, shared.attnA, shared.h1, shared.f1Act, shared.f2A
		a.qkv = p.scratch(M * 3 * H)
		if p.rowAttn != nil && l == cfg.Layers-1 {
			a.probs = p.scratch(b.Seqs * cfg.Heads * b.Len) // the kept rows' weights
		} else {
			a.probs = p.scratch(b.Seqs * cfg.Heads * b.Len * b.Len)
		}
		a.attn = p.scratch(M * H)
		a.sum1 = p.scratch(M * H)
		a.f1 = p.scratch(M * I)
		a.f2 = p.scratch(M * H)
		a.sum2 = p.scratch(M * H)
		switch {
		case cfg.PreLN:
			a.out = a.sum2
		case outs[l%2] == nil:
			outs[l%2] = p.scratch(M * H)
			a.out = outs[l%2]
		default:
			a.out = outs[l%2]
		}
		if ms > 0 {
			a.ad = p.alloc(M * ms)
			a.adAct = p.alloc(M * ms)
			a.fd = p.alloc(M * ms)
			a.fdAct = p.alloc(M * ms)
		}
	}
	if cfg.PreLN {
		p.final = p.kept(p.layers[cfg.Layers-1].out)
		p.Hidden = p.kept(p.scratch(M * H))
	} else {
		p.Hidden = p.kept(p.layers[cfg.Layers-1].out)
	}
}

// kept is the [B, H] head of an [M, H] buffer in a pass that keeps rows (the
// last layer's outputs fill it), else the buffer.
func (p *Pass) kept(x kernels.Buffer) kernels.Buffer {
	if p.keep == nil {
		return x
	}
	return p.m.Be.View(x, 0, p.b.Seqs*p.m.Cfg.Hidden)
}

// rowsPerSeq is how many rows each sequence has past a layer's attention:
// Batch.Len, or 1 in the last layer of a pass that keeps rows.
func (p *Pass) rowsPerSeq(layer int) int {
	if p.keep != nil && layer == p.m.Cfg.Layers-1 {
		return 1
	}
	return p.b.Len
}

// normSegs gives, for a LayerNorm of the base model, each segment's gain and
// bias: the adapter's copy, or the base values for plain rows. per is the
// rows of each sequence (Batch.Len, or 1 past the attention of a pass that
// keeps rows).
func (p *Pass) normSegs(idx, per int) []kernels.NormSeg {
	segs := make([]kernels.NormSeg, len(p.segs))
	base := p.m.W.Norms[idx]
	for i, s := range p.segs {
		n := base
		if s.Adapter != nil {
			n = s.Adapter.Norms[idx]
		}
		segs[i] = kernels.NormSeg{Rows: s.Seqs * per, Gamma: n.Gamma, Beta: n.Beta}
	}
	return segs
}

// adapterGroup is the set of segments whose adapters share bottleneck size and
// activation: one pair of segmented GEMMs serves them all.
type adapterGroup struct {
	size int
	act  kernels.Act
}

func adapterGroups(segs []Segment) []adapterGroup {
	var gs []adapterGroup
	for _, s := range segs {
		if s.Adapter == nil {
			continue
		}
		g := adapterGroup{s.Adapter.Size, s.Adapter.Act}
		found := false
		for _, h := range gs {
			found = found || h == g
		}
		if !found {
			gs = append(gs, g)
		}
	}
	return gs
}

// blockSegs returns the down and up projections of one adapter block for the
// segments of group g (other segments get a nil weight and are skipped).
func (p *Pass) blockSegs(g adapterGroup, layer int, ffn bool) (down, up []kernels.LinearSeg) {
	down = make([]kernels.LinearSeg, len(p.segs))
	up = make([]kernels.LinearSeg, len(p.segs))
	per := p.rowsPerSeq(layer)
	for i, s := range p.segs {
		rows := s.Seqs * per
		down[i].Rows, up[i].Rows = rows, rows
		if s.Adapter == nil || s.Adapter.Size != g.size || s.Adapter.Act != g.act {
			continue
		}
		blk := s.Adapter.Layers[layer].Attn
		if ffn {
			blk = s.Adapter.Layers[layer].FFN
		}
		down[i] = kernels.LinearSeg{Rows: rows, W: blk.Down, Bias: blk.DownB}
		up[i] = kernels.LinearSeg{Rows: rows, W: blk.Up, Bias: blk.UpB}
	}
	return down, up
}

// adapt computes zA = A(z) = z + up(act(down(z))) per segment; rows without an
// adapter pass through unchanged. d/dAct are [M,m] scratch (d is only written
// in training, where the backward pass needs the pre-activation).
func (p *Pass) adapt(zA, z, d, dAct kernels.Buffer, layer int, ffn bool) {
	be, H, M := p.m.Be, p.m.Cfg.Hidden, p.b.Seqs*p.rowsPerSeq(layer)
	if p.train { // inference aliases zA and z: the blocks add in place
		be.Copy(be.View(zA, 0, M*H), be.View(z, 0, M*H))
	}
	for _, g := range adapterGroups(p.segs) {
		down, up := p.blockSegs(g, layer, ffn)
		dv := be.View(dAct, 0, M*g.size)
		if p.train {
			pre := be.View(d, 0, M*g.size)
			be.SegLinear(pre, z, g.size, H, down, kernels.ActNone, false)
			be.Activate(dv, pre, M*g.size, g.act)
		} else {
			be.SegLinear(dv, z, g.size, H, down, g.act, false)
		}
		be.SegLinear(zA, dv, H, g.size, up, kernels.ActNone, true)
	}
}

// attnArgs describes the batch's self-attention: padded keys masked, causal
// for GPT-2, scores scaled by 1/√head_dim.
func (m *Model) attnArgs(b *Batch) kernels.Attn {
	return kernels.Attn{Batch: b.Seqs, Seq: b.Len, Heads: m.Cfg.Heads, HeadDim: m.Cfg.HeadDim(),
		KeyMask: b.Mask, Causal: m.Cfg.PreLN, Scale: float32(1 / math.Sqrt(float64(m.Cfg.HeadDim())))}
}

func (p *Pass) forward(ctx context.Context) error {
	m, b := p.m, p.b
	cfg, w, be := m.Cfg, m.W, m.Be
	M, H, I := b.rows(), cfg.Hidden, cfg.FFN

	// Embeddings: word + position (+ token type), then (BERT family) LayerNorm.
	emb := p.emb
	if emb == nil {
		emb = p.layers[0].in
	}
	be.Embed(emb, w.Word, b.IDs, H, false)
	be.Embed(emb, w.Pos, b.PosIDs, H, true)
	if w.TokType != nil {
		types := b.TypeIDs
		if types == nil {
			types = make([]int32, M)
		}
		be.Embed(emb, w.TokType, types, H, true)
	}
	if !cfg.PreLN {
		be.AddNorm(p.layers[0].in, nil, emb, nil, H, cfg.Eps, p.normSegs(w.EmbNorm, b.Len))
	}

	attn := m.attnArgs(b)

	for l, ly := range w.Layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		a := &p.layers[0]
		if p.train {
			a = &p.layers[l]
		}
		x := a.in
		if cfg.PreLN {
			// x = x + A1(attn(ln_1(x))); x = x + A2(mlp(ln_2(x)))
			be.AddNorm(a.ln1, nil, a.in, nil, H, cfg.Eps, p.normSegs(ly.Norm1, b.Len))
			x = a.ln1
		}
		be.Linear(a.qkv, 3*H, x, M, 3*H, H, ly.QKV.W, ly.QKV.Layout, ly.QKV.B, kernels.ActNone)
		// Past the attention, a pass that keeps rows needs only those in the
		// last layer: rows, per and the block's input and context shrink.
		per := p.rowsPerSeq(l)
		rows, in, ctxs := b.Seqs*per, a.in, a.ctx
		switch {
		case per == b.Len:
			be.Attention(a.ctx, a.qkv, attn, a.probs)
		case p.rowAttn != nil:
			p.rowAttn.AttentionRows(p.keptCtx, a.qkv, attn, p.keepPos, a.probs)
		default:
			be.Attention(a.ctx, a.qkv, attn, a.probs)
			be.Embed(p.keptCtx, a.ctx, p.keep, H, false)
		}
		if per != b.Len {
			be.Embed(p.keptIn, a.in, p.keep, H, false)
			in, ctxs = p.keptIn, p.keptCtx
		}
		be.Linear(a.attn, H, ctxs, rows, H, H, ly.O.W, ly.O.Layout, ly.O.B, kernels.ActNone)
		p.adapt(a.attnA, a.attn, a.ad, a.adAct, l, false)
		// BERT: h1 = LN1(in + A1(attn)). GPT-2: sum1 = in + A1(attn); h1 = ln_2(sum1).
		afterAttn := ly.Norm1 // BERT family: attention.output.LayerNorm
		if cfg.PreLN {
			afterAttn = ly.Norm2 // GPT-2: ln_2, before the feed-forward network
		}
		be.AddNorm(a.h1, a.sum1, in, a.attnA, H, cfg.Eps, p.normSegs(afterAttn, per))

		if p.train {
			be.Linear(a.f1, I, a.h1, rows, I, H, ly.FC1.W, ly.FC1.Layout, ly.FC1.B, kernels.ActNone)
			be.Activate(a.f1Act, a.f1, rows*I, cfg.Act)
		} else {
			be.Linear(a.f1Act, I, a.h1, rows, I, H, ly.FC1.W, ly.FC1.Layout, ly.FC1.B, cfg.Act)
		}
		be.Linear(a.f2, H, a.f1Act, rows, H, I, ly.FC2.W, ly.FC2.Layout, ly.FC2.B, kernels.ActNone)
		p.adapt(a.f2A, a.f2, a.fd, a.fdAct, l, true)
		if cfg.PreLN {
			// sum2 = sum1 + A2(f2) is the block output (the residual stream).
			be.Add(a.sum2, a.sum1, a.f2A, rows*H)
		} else {
			be.AddNorm(a.out, a.sum2, a.h1, a.f2A, H, cfg.Eps, p.normSegs(ly.Norm2, per))
		}
	}
	if cfg.PreLN {
		last := p.layers[len(p.layers)-1].out
		be.AddNorm(p.Hidden, nil, last, nil, H, cfg.Eps, p.normSegs(w.Final, p.rowsPerSeq(cfg.Layers-1)))
	}
	return ctx.Err()
}
