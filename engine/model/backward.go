package model

import (
	"context"
	"fmt"

	"github.com/adapterdb/adapterdb/kernels"
)

// Backward propagates ∂L/∂Hidden ([B·T, H], or [B, H] for a pass that keeps
// rows; left unchanged) through the network of a
// training pass and accumulates (+=) the gradients of the trainable tensors of
// adapter a — its bottleneck blocks and LayerNorm copies — into grad, which has
// a's shapes. Base weights are frozen: only their input gradients are formed.
// Rows of segments that do not use a contribute no parameter gradients.
func (p *Pass) Backward(ctx context.Context, dHidden kernels.Buffer, a, grad *Adapter) error {
	if !p.train {
		return fmt.Errorf("backward needs a pass run for training")
	}
	tr, ok := p.m.Be.(kernels.Trainer)
	if !ok {
		return fmt.Errorf("backend %s cannot train", p.m.Be.Name())
	}
	b := &backward{p: p, tr: tr, a: a, g: grad}
	defer b.release()
	return b.run(ctx, dHidden)
}

type backward struct {
	p     *Pass
	tr    kernels.Trainer
	a, g  *Adapter
	owned []kernels.Buffer
}

// alloc returns a buffer with undefined values (kernels.Backend.Scratch):
// every gradient buffer is written entirely before it is read (Copy,
// NormBackward and SegLinearBackward without accumulating, Gemm with beta 0,
// ActivateBackward, AttentionBackward).
func (b *backward) alloc(n int) kernels.Buffer {
	buf := b.tr.Scratch(n)
	b.owned = append(b.owned, buf)
	return buf
}

func (b *backward) release() {
	for _, buf := range b.owned {
		b.tr.Free(buf)
	}
}

// normGrads pairs each segment's gain with where its gradients go; per is
// the rows of each sequence (Pass.normSegs).
func (b *backward) normGrads(idx, per int) []kernels.NormGrad {
	p := b.p
	segs := make([]kernels.NormGrad, len(p.segs))
	for i, s := range p.segs {
		n := p.m.W.Norms[idx]
		segs[i] = kernels.NormGrad{Rows: s.Seqs * per, Gamma: n.Gamma}
		if s.Adapter != nil {
			segs[i].Gamma = s.Adapter.Norms[idx].Gamma
			if s.Adapter == b.a {
				segs[i].DGamma = b.g.Norms[idx].Gamma
				segs[i].DBeta = b.g.Norms[idx].Beta
			}
		}
	}
	return segs
}

// blockGrads gives the up and down projections of one adapter block with their
// gradient destinations.
func (b *backward) blockGrads(layer int, ffn bool) (down, up []kernels.LinearGrad) {
	p := b.p
	down = make([]kernels.LinearGrad, len(p.segs))
	up = make([]kernels.LinearGrad, len(p.segs))
	per := p.rowsPerSeq(layer)
	for i, s := range p.segs {
		rows := s.Seqs * per
		down[i].Rows, up[i].Rows = rows, rows
		if s.Adapter == nil {
			continue
		}
		blk, gb := s.Adapter.Layers[layer].Attn, Bottleneck{}
		if ffn {
			blk = s.Adapter.Layers[layer].FFN
		}
		if s.Adapter == b.a {
			gb = b.g.Layers[layer].Attn
			if ffn {
				gb = b.g.Layers[layer].FFN
			}
		}
		down[i] = kernels.LinearGrad{Rows: rows, W: blk.Down, DW: gb.Down, DBias: gb.DownB}
		up[i] = kernels.LinearGrad{Rows: rows, W: blk.Up, DW: gb.Up, DBias: gb.UpB}
	}
	return down, up
}

// adaptBackward is the backward of zA = z + up(act(down(z))): given dzA it
// writes dz and accumulates the block's parameter gradients. d and dAct are the
// forward's pre- and post-activation of the bottleneck; scratch is [M,m].
func (b *backward) adaptBackward(dz, dzA, z, d, dAct, scratch kernels.Buffer, layer int, ffn bool) {
	tr, p := b.tr, b.p
	H, M := p.m.Cfg.Hidden, p.b.Seqs*p.rowsPerSeq(layer)
	tr.Copy(tr.View(dz, 0, M*H), tr.View(dzA, 0, M*H)) // the skip connection
	for _, g := range adapterGroups(p.segs) {
		down, up := b.blockGrads(layer, ffn)
		n := M * g.size
		dh := tr.View(scratch, 0, n)
		// up: y = h·Wupᵀ + b → dh = dy·Wup, dWup += dyᵀ·h
		tr.SegLinearBackward(dh, dzA, tr.View(dAct, 0, n), H, g.size, up, false)
		tr.ActivateBackward(dh, tr.View(d, 0, n), dh, n, g.act)
		// down: h = z·Wdownᵀ + b → dz += dh·Wdown, dWdown += dhᵀ·z
		tr.SegLinearBackward(dz, dh, z, g.size, H, down, true)
	}
}

// linearInputGrad forms dx = dy · (∂y/∂x) for a frozen base linear map,
// dx = beta·dx + dy·W (OutIn) or dy·Wᵀ (InOut). dy has leading dimension ldy.
func (b *backward) linearInputGrad(dx kernels.Buffer, ldx int, dy kernels.Buffer, ldy, M int, lin Linear, beta float32) {
	if lin.Layout == kernels.OutIn {
		b.tr.Gemm(false, false, M, lin.In, lin.Out, 1, dy, ldy, lin.W, lin.In, beta, dx, ldx)
	} else {
		b.tr.Gemm(false, true, M, lin.In, lin.Out, 1, dy, ldy, lin.W, lin.Out, beta, dx, ldx)
	}
}

// attentionBackward writes dQKV [M, 3H] from the gradient of a layer's
// attention context: dCtx [M, H], or in the kept rows' layer the [B+1, H]
// dKeptCtx, whose [B, H] head the kept rows' attention (Pass.rowAttn) takes
// as it is and the full attention spread over every row (the last row,
// zero, for the others).
func (b *backward) attentionBackward(dQKV, dCtx, dKeptCtx kernels.Buffer, a *layerActs, kept bool) {
	p, tr := b.p, b.tr
	attn, H := p.m.attnArgs(p.b), p.m.Cfg.Hidden
	switch {
	case !kept:
		tr.AttentionBackward(dQKV, dCtx, a.qkv, a.probs, attn)
	case p.rowAttn != nil:
		p.rowAttn.AttentionRowsBackward(dQKV, tr.View(dKeptCtx, 0, p.b.Seqs*H), a.qkv, a.probs, attn, p.keepPos)
	default:
		tr.Embed(dCtx, dKeptCtx, p.spread, H, false)
		tr.AttentionBackward(dQKV, dCtx, a.qkv, a.probs, attn)
	}
}

func (b *backward) run(ctx context.Context, dHidden kernels.Buffer) error {
	p, tr := b.p, b.tr
	cfg, w := p.m.Cfg, p.m.W
	M, H, I, T := p.b.rows(), cfg.Hidden, cfg.FFN, p.b.Len
	if want := p.Hidden.Len(); dHidden.Len() != want {
		return fmt.Errorf("hidden-state gradient has %d values, want %d", dHidden.Len(), want)
	}

	dX := b.alloc(M * H) // gradient w.r.t. the current block's output
	dS := b.alloc(M * H) // gradient w.r.t. a residual sum / LN input
	dT := b.alloc(M * H) // second [M,H] scratch
	dF := b.alloc(M * I)
	dF1 := b.alloc(M * I)
	dQKV := b.alloc(M * 3 * H)
	var scratch kernels.Buffer
	if p.mSize > 0 {
		scratch = b.alloc(M * p.mSize)
	}
	// A pass that keeps rows: the last layer's gradients past its attention
	// are [B, H]; two [B+1, H] buffers whose last row stays zero spread them
	// back over every row (Embed with Pass.spread) for the attention's
	// backward and the residual.
	var dKeptRes, dKeptCtx kernels.Buffer
	if p.keep != nil {
		n := (p.b.Seqs + 1) * H
		dKeptRes, dKeptCtx = tr.Alloc(n), tr.Alloc(n)
		b.owned = append(b.owned, dKeptRes, dKeptCtx)
	}
	tr.Copy(tr.View(dX, 0, dHidden.Len()), dHidden)
	if cfg.PreLN {
		// Hidden = ln_f(final)
		tr.NormBackward(dS, dX, p.final, H, cfg.Eps, b.normGrads(w.Final, p.rowsPerSeq(cfg.Layers-1)), false)
		dX, dS = dS, dX
	}
	for l := cfg.Layers - 1; l >= 0; l-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		a, ly := &p.layers[l], w.Layers[l]
		per := p.rowsPerSeq(l)
		rows, kept := p.b.Seqs*per, per != T
		// dRes takes the gradient of the residual sum past the attention
		// (sum1), dCtxK the attention context's: [rows, H]. In the kept rows'
		// layer they are [B, H] heads of [B+1, H] buffers, spread over every
		// row before the attention's backward.
		dCtx := tr.View(dF, 0, M*H) // dF is free after the feed-forward network: reuse it as [M,H]
		dRes, dCtxK := dS, dCtx
		if !cfg.PreLN {
			dRes = dX
		}
		if kept {
			dRes, dCtxK = tr.View(dKeptRes, 0, rows*H), tr.View(dKeptCtx, 0, rows*H)
		}
		if cfg.PreLN {
			// out = sum1 + A2(f2), f2 = mlp(h1), h1 = ln_2(sum1)
			b.adaptBackward(dT, dX, a.f2, a.fd, a.fdAct, scratch, l, true) // dT = dF2
			b.linearInputGrad(dF, I, dT, H, rows, ly.FC2, 0)
			tr.ActivateBackward(dF1, a.f1, dF, rows*I, cfg.Act)
			b.linearInputGrad(dT, H, dF1, I, rows, ly.FC1, 0) // dT = dH1
			tr.Copy(dRes, tr.View(dX, 0, rows*H))             // dRes = dSum1 via the residual
			tr.NormBackward(dRes, dT, a.sum1, H, cfg.Eps, b.normGrads(ly.Norm2, per), true)
			// sum1 = in + A1(attn), attn = proj(attention(ln_1(in)))
			b.adaptBackward(dT, dRes, a.attn, a.ad, a.adAct, scratch, l, false) // dT = dAttn
			b.linearInputGrad(dCtxK, H, dT, H, rows, ly.O, 0)
			if kept {
				tr.Embed(dS, dKeptRes, p.spread, H, false)
			}
			b.attentionBackward(dQKV, dCtx, dKeptCtx, a, kept)
			b.linearInputGrad(dT, H, dQKV, 3*H, M, ly.QKV, 0) // dT = dLn1
			tr.Copy(dX, dS)                                   // dIn via the residual
			tr.NormBackward(dX, dT, a.in, H, cfg.Eps, b.normGrads(ly.Norm1, T), true)
			continue
		}
		// out = LN2(sum2), sum2 = h1 + A2(f2), f2 = ffn(h1)
		tr.NormBackward(dS, dX, a.sum2, H, cfg.Eps, b.normGrads(ly.Norm2, per), false)
		b.adaptBackward(dT, dS, a.f2, a.fd, a.fdAct, scratch, l, true) // dT = dF2
		b.linearInputGrad(dF, I, dT, H, rows, ly.FC2, 0)
		tr.ActivateBackward(dF1, a.f1, dF, rows*I, cfg.Act)
		b.linearInputGrad(dS, H, dF1, I, rows, ly.FC1, 1) // dS = dH1 (residual + ffn)
		// h1 = LN1(sum1), sum1 = in + A1(attn)
		tr.NormBackward(dRes, dS, a.sum1, H, cfg.Eps, b.normGrads(ly.Norm1, per), false) // dRes = dSum1
		b.adaptBackward(dT, dRes, a.attn, a.ad, a.adAct, scratch, l, false)              // dT = dAttn
		b.linearInputGrad(dCtxK, H, dT, H, rows, ly.O, 0)
		if kept {
			tr.Embed(dX, dKeptRes, p.spread, H, false) // dX = dSum1 over every row
		}
		b.attentionBackward(dQKV, dCtx, dKeptCtx, a, kept)
		b.linearInputGrad(dX, H, dQKV, 3*H, M, ly.QKV, 1) // dX = dIn: residual + q, k, v
	}
	if !cfg.PreLN {
		// Embeddings are frozen: only the embedding LayerNorm copy gets gradients.
		tr.NormBackward(dS, dX, p.emb, H, cfg.Eps, b.normGrads(w.EmbNorm, T), false)
	}
	return nil
}
