package engine

import (
	"context"
	"fmt"
	"sort"

	"github.com/adapterdb/adapterdb/engine/model"
)

// Sequence is one tokenized text: token ids with special tokens, and token
// type ids (nil when all zero).
type Sequence struct {
	IDs, TypeIDs []int32
}

// Pack lays sequences out, in the given order, as one batch right-padded to
// the longest. segs groups consecutive sequences by adapter (nil: every
// sequence on the base model).
func Pack(cfg model.Config, seqs []Sequence, segs []model.Segment) *model.Batch {
	T := 1
	hasTypes := false
	for _, q := range seqs {
		T = max(T, len(q.IDs))
		hasTypes = hasTypes || q.TypeIDs != nil
	}
	B := len(seqs)
	b := &model.Batch{Seqs: B, Len: T, Segs: segs,
		IDs: make([]int32, B*T), PosIDs: make([]int32, B*T), Mask: make([]uint8, B*T)}
	if hasTypes {
		b.TypeIDs = make([]int32, B*T)
	}
	for i, q := range seqs {
		row := i * T
		for t := 0; t < T; t++ {
			if t < len(q.IDs) {
				b.IDs[row+t] = q.IDs[t]
				b.Mask[row+t] = 1
				b.PosIDs[row+t] = int32(cfg.PosOffset + t)
				if q.TypeIDs != nil {
					b.TypeIDs[row+t] = q.TypeIDs[t]
				}
				continue
			}
			b.IDs[row+t] = cfg.PadID
			if cfg.Type == model.RoBERTa {
				b.PosIDs[row+t] = cfg.PadID // RoBERTa's padding_idx row
			}
		}
	}
	return b
}

// pack lays queued sequences out as one batch. They are grouped by adapter
// (each group becomes one segment: the base GEMMs run over all rows, adapter
// blocks per segment), keeping their queue order — already sorted by length
// by Features — inside a group. order[i] is the index in seqs of the batch's
// i-th sequence.
func pack(cfg model.Config, seqs []*seq) (*model.Batch, []int) {
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	// Adapters are ordered by first appearance so the layout is deterministic.
	rank := map[*model.Adapter]int{}
	for _, q := range seqs {
		if _, ok := rank[q.adapter]; !ok {
			rank[q.adapter] = len(rank)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return rank[seqs[order[a]].adapter] < rank[seqs[order[b]].adapter] })
	ordered := make([]Sequence, len(seqs))
	var segs []model.Segment
	for i, k := range order {
		q := seqs[k]
		ordered[i] = q.Sequence
		if i == 0 || seqs[order[i-1]].adapter != q.adapter {
			segs = append(segs, model.Segment{Adapter: q.adapter})
		}
		segs[len(segs)-1].Seqs++
	}
	return Pack(cfg, ordered, segs), order
}

// runBatch runs one forward pass over seqs and returns each sequence's pooled
// feature (or, for sequences that ask for tokens, the hidden states of its
// tokens [T·H]), in the order of seqs.
func runBatch(ctx context.Context, m *model.Model, seqs []*seq, observe func(seqs, tokens, padded int)) ([][]float32, error) {
	b, order := pack(m.Cfg, seqs)
	if observe != nil {
		tokens := 0
		for _, q := range seqs {
			tokens += len(q.IDs)
		}
		observe(len(seqs), tokens, b.Seqs*b.Len)
	}
	keep, err := keptRows(m, b, seqs)
	if err != nil {
		return nil, err
	}
	pass, err := m.ForwardRows(ctx, b, false, keep)
	if err != nil {
		return nil, fmt.Errorf("forward pass: %w", err)
	}
	defer pass.Release()
	H := m.Cfg.Hidden
	out := make([][]float32, len(seqs))
	pooled := map[model.Pool]*model.Pooled{}
	var hidden []float32 // [B·T, H] on the host, when some sequence wants tokens
	for i, k := range order {
		q := seqs[k]
		if q.tokens {
			if hidden == nil {
				hidden = make([]float32, b.Seqs*b.Len*H)
				m.Be.Download(hidden, pass.Hidden)
			}
			row := i * b.Len * H
			out[k] = hidden[row : row+len(q.IDs)*H : row+len(q.IDs)*H]
			continue
		}
		pd, ok := pooled[q.pool]
		if !ok {
			if pd, err = pass.Pool(q.pool); err != nil {
				return nil, err
			}
			pooled[q.pool] = pd
		}
		out[k] = pd.Values[i*H : (i+1)*H : (i+1)*H]
	}
	return out, nil
}

// keptRows gives the rows a batch's pass must keep when every sequence reads
// one hidden state — all pool with cls/first or all with last — so the last
// layer past its attention runs on those rows only (model.ForwardRows); nil
// (every row) when some sequence wants its tokens, pools by mean, or the
// batch mixes first and last rows.
func keptRows(m *model.Model, b *model.Batch, seqs []*seq) ([]int32, error) {
	var pool model.Pool
	for i, q := range seqs {
		if q.tokens {
			return nil, nil
		}
		p, err := m.Resolve(q.pool)
		if err != nil {
			return nil, err
		}
		if p == model.PoolCLS {
			p = model.PoolFirst // the same row
		}
		if i > 0 && p != pool {
			return nil, nil
		}
		pool = p
	}
	return m.PoolRows(b, pool)
}
