//go:build cuda || cudaemu

package cuda

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/kernels"
)

// randomModel is a BERT of the given shape with random weights on be.
func randomModel(t testing.TB, be kernels.Backend, cfg model.Config) *model.Model {
	t.Helper()
	w, err := model.LoadWeights(demo.RandomBERT(cfg, 1), be, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return model.New(cfg, w, be)
}

func randomAdapters(t testing.TB, m *model.Model, k, size int) []*model.Adapter {
	t.Helper()
	var out []*model.Adapter
	for i := range k {
		spec := adapter.Spec{Task: adapter.Classification, Labels: []string{"a", "b"}, Size: size,
			Act: kernels.ActGELU, Pool: model.PoolCLS}
		s, err := adapter.Random(m, spec, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s.Bind(m.Be))
	}
	return out
}

// mixedBatch is B sequences of length ≤ T (some padded) split over segs.
func mixedBatch(cfg model.Config, T int, segs []model.Segment) *model.Batch {
	B := 0
	for _, s := range segs {
		B += s.Seqs
	}
	b := &model.Batch{Seqs: B, Len: T, IDs: make([]int32, B*T), PosIDs: make([]int32, B*T), Mask: make([]uint8, B*T),
		Segs: segs}
	x := uint32(12345)
	for s := range B {
		n := T - (s*7)%(T/2) // lengths T, T−7, … : padded keys in most sequences
		for i := range n {
			x = x*1664525 + 1013904223
			b.IDs[s*T+i] = int32(x>>8) % int32(cfg.Vocab)
			b.PosIDs[s*T+i] = int32(i)
			b.Mask[s*T+i] = 1
		}
	}
	return b
}

// rows is the sub-batch of sequences [s0, s0+n) with one segment.
func subBatch(b *model.Batch, s0, n int, a *model.Adapter) *model.Batch {
	T := b.Len
	return &model.Batch{Seqs: n, Len: T, IDs: b.IDs[s0*T : (s0+n)*T], PosIDs: b.PosIDs[s0*T : (s0+n)*T],
		Mask: b.Mask[s0*T : (s0+n)*T], Segs: []model.Segment{{Seqs: n, Adapter: a}}}
}

// TestMixedEqualsPerAdapter runs one pass over sequences of many adapters
// (and plain ones) and, for each adapter, a pass over its sequences alone:
// every sequence's hidden states and pooled feature must agree. With the
// package's kernels they are bit-identical (each row's arithmetic does not
// depend on the other rows); cuBLAS may pick other algorithms for other row
// counts, so there the golden tolerance of the precision applies.
func TestMixedEqualsPerAdapter(t *testing.T) {
	cfg := model.Config{Type: model.BERT, Layers: 2, Hidden: 64, Heads: 2, FFN: 128, MaxPos: 64, Vocab: 30522,
		TypeVocab: 2, Eps: 1e-12, Act: kernels.ActGELU}
	k, size, per, T := 4, 16, 2, 24
	if !emulated {
		cfg = demoPreset("minilm-l6")
		k, size, per, T = 16, adapter.DefaultSize, 4, 128
	}
	for _, o := range goldenConfigs() {
		t.Run(configName(o), func(t *testing.T) {
			be := openConfig(t, o)
			m := randomModel(t, be, cfg)
			ads := randomAdapters(t, m, k, size)
			segs := []model.Segment{{Seqs: 1}} // a plain featurizer sequence first
			for i, a := range ads {
				segs = append(segs, model.Segment{Seqs: per + i%2, Adapter: a})
			}
			b := mixedBatch(cfg, T, segs)
			hidden, pooled := runPass(t, m, b)
			exact := o.DisableCublas
			tol := goldenTol(o.Precision, 1e-4, []float32{4}) // hidden states of a few units
			H := cfg.Hidden
			s0 := 0
			for i, s := range segs {
				sub := subBatch(b, s0, s.Seqs, s.Adapter)
				h1, p1 := runPass(t, m, sub)
				what := fmt.Sprintf("segment %d (%d sequences)", i, s.Seqs)
				compareRows(t, what+" hidden", hidden[s0*T*H:(s0+s.Seqs)*T*H], h1, sub.Mask, H, exact, tol)
				compareRows(t, what+" pooled", pooled[s0*H:(s0+s.Seqs)*H], p1, nil, H, exact, tol)
				s0 += s.Seqs
			}
		})
	}
}

func demoPreset(name string) model.Config { return demo.Presets[name] }

// runPass returns the hidden states [B·T, H] and CLS-pooled features [B, H].
func runPass(t *testing.T, m *model.Model, b *model.Batch) (hidden, pooled []float32) {
	t.Helper()
	pass, err := m.Forward(context.Background(), b, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pass.Release()
	hidden = make([]float32, b.Seqs*b.Len*m.Cfg.Hidden)
	m.Be.Download(hidden, pass.Hidden)
	pd, err := pass.Pool(model.PoolCLS)
	if err != nil {
		t.Fatal(err)
	}
	return hidden, pd.Values
}

// compareRows compares rows of width H (mask: skip padded rows).
func compareRows(t *testing.T, what string, got, want []float32, mask []uint8, H int, exact bool, tol float64) {
	t.Helper()
	worst := 0.0
	for r := range len(want) / H {
		if mask != nil && mask[r] == 0 {
			continue
		}
		for j := range H {
			g, w := got[r*H+j], want[r*H+j]
			if exact && math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("%s: row %d col %d: mixed batch %v, alone %v (want bit-identical)", what, r, j, g, w)
				return
			}
			worst = math.Max(worst, math.Abs(float64(g)-float64(w)))
		}
	}
	if worst > tol {
		t.Errorf("%s: mixed batch and alone differ by %g (tolerance %g)", what, worst, tol)
	}
}
