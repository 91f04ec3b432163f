package model

import (
	"fmt"
	"slices"

	"github.com/adapterdb/adapterdb/kernels"
)

// Pool selects how a sequence's hidden states become one feature vector.
type Pool uint8

const (
	PoolDefault Pool = iota // the model type's default (Config.DefaultPool)
	PoolCLS                 // BERT/RoBERTa pooler: tanh(dense(h[first]))
	PoolFirst               // hidden state of the first real token
	PoolMean                // mean over real tokens (special tokens included)
	PoolLast                // hidden state of the last real token (GPT-2)
)

var poolNames = map[Pool]string{PoolDefault: "default", PoolCLS: "cls", PoolFirst: "first", PoolMean: "mean", PoolLast: "last"}

func (p Pool) String() string { return poolNames[p] }

// ParsePool reads a pooling name: cls, first, mean, last (or "" / default).
func ParsePool(s string) (Pool, error) {
	if s == "" {
		return PoolDefault, nil
	}
	for p, n := range poolNames {
		if n == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown pooling %q (cls, first, mean, last)", s)
}

// Resolve turns PoolDefault into the model's default and checks that the
// pooling is available (cls needs a pooler).
func (m *Model) Resolve(p Pool) (Pool, error) {
	if p == PoolDefault {
		p = m.Cfg.DefaultPool(m.W.Pooler != nil)
	}
	if p == PoolCLS && m.W.Pooler == nil {
		return 0, fmt.Errorf("pooling cls needs a pooler, and this %s checkpoint has none (use first, mean or last)", m.Cfg.Type)
	}
	if _, ok := poolNames[p]; !ok {
		return 0, fmt.Errorf("unknown pooling %d", p)
	}
	return p, nil
}

// Pooled is a pass's pooled features [B, H] on the host, with what the
// backward pass needs to send gradients back into the hidden states.
type Pooled struct {
	Pool   Pool
	Values []float32 // [B, H]
	rows   []int32   // cls/first/last: the hidden-state row of each sequence
	pre    []float32 // cls: dense output before tanh [B, H]
	weight [][]float32
}

// Pool computes the pooled feature of every sequence.
func (p *Pass) Pool(pool Pool) (*Pooled, error) {
	m, b := p.m, p.b
	pool, err := m.Resolve(pool)
	if err != nil {
		return nil, err
	}
	be, H, B, T := m.Be, m.Cfg.Hidden, b.Seqs, b.Len
	out := &Pooled{Pool: pool, Values: make([]float32, B*H)}
	if p.keep != nil && pool == PoolMean {
		return nil, fmt.Errorf("pooling mean needs every row, and this pass kept one per sequence")
	}
	switch pool {
	case PoolCLS, PoolFirst, PoolLast:
		if out.rows, err = m.poolRows(b, pool); err != nil {
			return nil, err
		}
		g := p.Hidden // a pass that keeps rows holds them in order
		if p.keep == nil {
			g = be.Alloc(B * H)
			defer be.Free(g)
			be.Embed(g, p.Hidden, out.rows, H, false) // gather rows
		} else if !slices.Equal(out.rows, p.keep) {
			return nil, fmt.Errorf("pooling %v reads other rows than this pass kept", pool)
		}
		if pool != PoolCLS {
			be.Download(out.Values, g)
			return out, nil
		}
		pl := m.W.Pooler
		y := be.Alloc(B * H)
		defer be.Free(y)
		be.Linear(y, H, g, B, H, H, pl.W, pl.Layout, pl.B, kernels.ActNone)
		out.pre = make([]float32, B*H)
		be.Download(out.pre, y)
		be.Activate(y, y, B*H, kernels.ActTanh)
		be.Download(out.Values, y)
	case PoolMean:
		out.weight = make([][]float32, B)
		y := be.Alloc(B * H)
		defer be.Free(y)
		for s := 0; s < B; s++ {
			mask := b.Mask[s*T : (s+1)*T]
			n := 0
			for _, v := range mask {
				n += int(v)
			}
			if n == 0 {
				return nil, fmt.Errorf("sequence %d has no tokens to pool", s)
			}
			w := make([]float32, T)
			for t, v := range mask {
				if v != 0 {
					w[t] = 1 / float32(n)
				}
			}
			out.weight[s] = w
			// y[s] = w[1,T] · hidden[s] [T,H]
			wb := be.Upload(w)
			be.Gemm(false, false, 1, H, T, 1, wb, T, be.View(p.Hidden, s*T*H, T*H), H, 0, be.View(y, s*H, H), H)
			be.Free(wb)
		}
		be.Download(out.Values, y)
	}
	return out, nil
}

// PoolRows gives the hidden-state row each sequence's pooled feature reads —
// what ForwardRows keeps — or nil for mean pooling, which reads every row.
func (m *Model) PoolRows(b *Batch, pool Pool) ([]int32, error) {
	pool, err := m.Resolve(pool)
	if err != nil || pool == PoolMean {
		return nil, err
	}
	return m.poolRows(b, pool)
}

func (m *Model) poolRows(b *Batch, pool Pool) ([]int32, error) {
	T := b.Len
	rows := make([]int32, b.Seqs)
	for s := range rows {
		first, last, ok := realSpan(b.Mask[s*T : (s+1)*T])
		if !ok {
			return nil, fmt.Errorf("sequence %d has no tokens to pool", s)
		}
		r := first
		if pool == PoolLast {
			r = last
		}
		rows[s] = int32(s*T + r)
	}
	return rows, nil
}

// realSpan finds the first and last real token of one sequence's mask.
func realSpan(mask []uint8) (first, last int, ok bool) {
	first, last = -1, -1
	for t, v := range mask {
		if v != 0 {
			if first < 0 {
				first = t
			}
			last = t
		}
	}
	return first, last, first >= 0
}

// Backward returns ∂L/∂Hidden [B·T, H] — [B, H] for a pass that keeps rows —
// given ∂L/∂pooled [B, H] (host), in a buffer the pass owns (freed by Release) from the backend's recycled memory:
// a fresh host slice each step cost a page fault per 4 KiB on first read
// (~4 ms of a MiniLM-L6 training step at batch 16, length 64).
func (pd *Pooled) Backward(p *Pass, dPooled []float32) (kernels.Buffer, error) {
	m, b := p.m, p.b
	H, B, T := m.Cfg.Hidden, b.Seqs, b.Len
	if len(dPooled) != B*H {
		return nil, fmt.Errorf("pooled gradient has %d values, want %d", len(dPooled), B*H)
	}
	if p.keep != nil && (pd.Pool == PoolMean || !slices.Equal(pd.rows, p.keep)) {
		return nil, fmt.Errorf("pooling %v reads other rows than this pass kept", pd.Pool)
	}
	be := m.Be
	tr, ok := be.(kernels.Trainer)
	if !ok {
		return nil, fmt.Errorf("backend %s cannot train", be.Name())
	}
	var dRows kernels.Buffer // [B, H]: the gradient of each pooled row
	switch pd.Pool {
	case PoolFirst, PoolLast:
		dRows = p.Upload(dPooled)
	case PoolCLS:
		// pooled = tanh(pre), pre = g·Wᵀ + b: dpre = dpooled·(1 − pooled²), dg = dpre·W.
		dpre, pre := p.Upload(append([]float32(nil), dPooled...)), p.Upload(pd.pre)
		tr.ActivateBackward(dpre, pre, dpre, B*H, kernels.ActTanh)
		dRows = p.scratch(B * H)
		pl := m.W.Pooler
		tr.Gemm(false, pl.Layout == kernels.InOut, B, H, H, 1, dpre, H, pl.W, H, 0, dRows, H)
	case PoolMean:
	default:
		return nil, fmt.Errorf("no backward for pooling %v", pd.Pool)
	}
	if p.keep != nil {
		return dRows, nil // the pass's Hidden is the pooled rows, in order
	}
	dHidden := p.alloc(B * T * H) // zeroed: only pooled rows get gradient
	if pd.Pool == PoolMean {
		// dHidden[s] [T,H] = weight[s] [T,1] · dPooled[s] [1,H]: one product
		// per sequence (a K = 1 GEMM multiplies each pair once, as a loop would).
		w := make([]float32, 0, B*T)
		for s := 0; s < B; s++ {
			w = append(w, pd.weight[s]...)
		}
		wb, dp := p.Upload(w), p.Upload(dPooled)
		for s := 0; s < B; s++ {
			be.Gemm(false, false, T, H, 1, 1, be.View(wb, s*T, T), 1, be.View(dp, s*H, H), H, 0,
				be.View(dHidden, s*T*H, T*H), H)
		}
		return dHidden, nil
	}
	for s, r := range pd.rows {
		be.Copy(be.View(dHidden, int(r)*H, H), be.View(dRows, s*H, H))
	}
	return dHidden, nil
}
