package model_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// rowsCase is one batch layout: each row of mask is one sequence (1 real,
// 0 padding); segs names each sequence's adapter ("" for the base model,
// "A" and "B" the golden adapters, "C" a random adapter of another size and
// activation, inference only) — consecutive equal names form one segment.
type rowsCase struct {
	name  string
	mask  [][]uint8
	segs  []string
	train bool // also compare training passes' adapter gradients
}

var rowsCases = []rowsCase{
	{name: "right-padding", train: true,
		mask: [][]uint8{
			{1, 1, 1, 1, 1, 1},
			{1, 1, 1, 0, 0, 0},
			{1, 0, 0, 0, 0, 0}, // one real token: first == last
			{1, 1, 1, 1, 0, 0},
		},
		segs: []string{"A", "A", "A", "A"}},
	{name: "left-padding-hole", train: true,
		mask: [][]uint8{
			{0, 0, 1, 1, 1, 1}, // left padding: the first real row is not at 0
			{1, 0, 1, 1, 1, 0}, // a hole
			{0, 0, 0, 1, 1, 0}, // both sides
			{1, 1, 1, 0, 0, 0},
			{0, 0, 0, 0, 0, 1}, // one real token, at the end
		},
		segs: []string{"A", "A", "A", "A", "A"}},
	{name: "T1", train: true,
		mask: [][]uint8{{1}, {1}, {1}},
		segs: []string{"", "A", "A"}},
	{name: "B1", train: true,
		mask: [][]uint8{{0, 1, 1, 1, 0}},
		segs: []string{"A"}},
	{name: "segments", train: true,
		mask: [][]uint8{
			{1, 1, 1, 1, 1, 0, 0},
			{0, 0, 1, 1, 1, 1, 1},
			{1, 1, 0, 0, 0, 0, 0},
			{1, 1, 1, 1, 1, 1, 1},
			{0, 1, 1, 0, 1, 1, 0},
			{1, 1, 1, 0, 0, 0, 0},
			{0, 0, 0, 1, 1, 1, 1},
		},
		segs: []string{"", "A", "A", "B", "", "B", "A"}},
	{name: "segments-mixed-sizes", // two adapter groups: inference only
		mask: [][]uint8{
			{1, 1, 1, 1, 0},
			{0, 1, 1, 1, 1},
			{1, 1, 0, 0, 0},
			{1, 0, 1, 1, 1},
			{1, 1, 1, 1, 1},
		},
		segs: []string{"C", "", "A", "C", "B"}},
}

// batchOf builds a case's batch: random ids, positions counting the real
// tokens (pads on position 0, RoBERTa's on its padding row).
func batchOf(m *model.Model, c rowsCase, adapters map[string]*model.Adapter, seed uint64) *model.Batch {
	cfg := m.Cfg
	B, T := len(c.mask), len(c.mask[0])
	r := rand.New(rand.NewPCG(seed, 11))
	b := &model.Batch{Seqs: B, Len: T, IDs: make([]int32, B*T), PosIDs: make([]int32, B*T), Mask: make([]uint8, B*T)}
	if cfg.TypeVocab > 1 {
		b.TypeIDs = make([]int32, B*T)
	}
	for s, row := range c.mask {
		pos := 0
		for t, v := range row {
			i := s*T + t
			b.Mask[i] = v
			if v == 0 {
				b.IDs[i] = cfg.PadID
				if cfg.Type == model.RoBERTa {
					b.PosIDs[i] = cfg.PadID
				}
				continue
			}
			b.IDs[i] = int32(1000 + r.IntN(5000))
			b.PosIDs[i] = int32(cfg.PosOffset + pos)
			if b.TypeIDs != nil && pos >= 2 {
				b.TypeIDs[i] = 1
			}
			pos++
		}
	}
	for s, name := range c.segs {
		if s == 0 || c.segs[s-1] != name {
			b.Segs = append(b.Segs, model.Segment{Adapter: adapters[name]})
		}
		b.Segs[len(b.Segs)-1].Seqs++
	}
	return b
}

// TestForwardRowsMatchesForward checks that a pass keeping only the pooled
// rows (ForwardRows with Model.PoolRows) gives the pooled features of a full
// pass, within 1e-5 relative per sequence, for every row pooling of every
// test model (and of random 1- and 3-layer BERTs), on batches with right and
// left padding, a hole, T = 1, B = 1 and segments mixing the base model with
// two adapters (and, in inference, a third of another size and activation);
// and that training passes give the bound adapters the same gradients
// (Pooled.Backward, Pass.Backward) within 1e-4 relative L2 per tensor. The
// backends are poisoned (Scratch holds NaN), so a kept pass that reads a
// value nothing wrote fails.
func TestForwardRowsMatchesForward(t *testing.T) {
	testmodels.ForEachBackend(t, func(t *testing.T, be kernels.Backend) {
		for _, name := range testmodels.Names {
			t.Run(name, func(t *testing.T) {
				m := testmodels.Load(t, name, be)
				g := testmodels.ReadAdapterGolden(t, name)
				var files map[string]string
				for _, tc := range g.Tests {
					if tc.Name == "mixed" {
						files = tc.AdapterFiles
					}
				}
				if files["A"] == "" || files["B"] == "" {
					t.Fatalf("no mixed test with adapters A and B in %s's adapter golden", name)
				}
				checkForwardRows(t, m, g.LoadAdapter(t, files["A"], m), g.LoadAdapter(t, files["B"], m))
			})
		}
		// One layer (the kept layer is the first: its input is the
		// embeddings) and three layers, on random BERT weights.
		for i, c := range []model.Config{{Layers: 1, Hidden: 16, Heads: 2, FFN: 40}, {Layers: 3, Hidden: 24, Heads: 3, FFN: 48}} {
			c.Type, c.MaxPos, c.Vocab, c.TypeVocab, c.Eps, c.Act = model.BERT, 40, 6000, 2, 1e-12, kernels.ActGELU
			t.Run(fmt.Sprintf("random-bert-L%d", c.Layers), func(t *testing.T) {
				w, err := model.LoadWeights(demo.RandomBERT(c, uint64(21+i)), be, c, nil)
				if err != nil {
					t.Fatal(err)
				}
				m := model.New(c, w, be)
				var sets [2]*adapter.Set
				for k := range sets {
					spec := adapter.Spec{Task: adapter.Regression, Size: 6, Act: kernels.ActGELU, Pool: model.PoolCLS}
					if sets[k], err = adapter.Random(m, spec, uint64(31+k)); err != nil {
						t.Fatal(err)
					}
				}
				checkForwardRows(t, m, sets[0], sets[1])
			})
		}
	})
}

// checkForwardRows runs every case of rowsCases on m with adapters setA and
// setB (the cases' "A" and "B") and a random one of another group ("C").
func checkForwardRows(t *testing.T, m *model.Model, setA, setB *adapter.Set) {
	be := m.Be
	sets := map[string]*adapter.Set{"A": setA, "B": setB}
	// C: another bottleneck size and activation (a second adapter group).
	specC := setA.Spec
	specC.Size, specC.Act = setA.Size+3, kernels.ActReLU
	if specC.Act == setA.Act {
		specC.Act = kernels.ActTanh
	}
	setC, err := adapter.Random(m, specC, 5)
	if err != nil {
		t.Fatal(err)
	}
	sets["C"] = setC
	bound := map[string]*model.Adapter{"": nil}
	for k, s := range sets {
		bound[k] = s.Bind(be)
	}
	sameGroup := sets["A"].Size == sets["B"].Size && sets["A"].Act == sets["B"].Act

	pools := []model.Pool{model.PoolFirst, model.PoolLast}
	if m.W.Pooler != nil {
		pools = append([]model.Pool{model.PoolCLS}, pools...)
	}
	H := m.Cfg.Hidden
	ctx := context.Background()
	for ci, c := range rowsCases {
		t.Run(c.name, func(t *testing.T) {
			b := batchOf(m, c, bound, uint64(ci+1))
			B := b.Seqs
			full := map[model.Pool][]float32{}
			for _, pool := range pools {
				keep, err := m.PoolRows(b, pool)
				if err != nil {
					t.Fatal(err)
				}
				if len(keep) != B {
					t.Fatalf("%v: PoolRows gave %d rows for %d sequences", pool, len(keep), B)
				}
				trains := []bool{false}
				if c.train && (sameGroup || !slices.Contains(c.segs, "B")) {
					trains = append(trains, true)
				}
				for _, train := range trains {
					fp, err := m.Forward(ctx, b, train)
					if err != nil {
						t.Fatal(err)
					}
					want, err := fp.Pool(pool)
					if err != nil {
						t.Fatal(err)
					}
					kp, err := m.ForwardRows(ctx, b, train, keep)
					if err != nil {
						t.Fatal(err)
					}
					got, err := kp.Pool(pool)
					if err != nil {
						t.Fatal(err)
					}
					full[pool] = want.Values
					for s := 0; s < B; s++ {
						if e := testmodels.RelL2(got.Values[s*H:(s+1)*H], want.Values[s*H:(s+1)*H]); !(e <= 1e-5) {
							t.Errorf("%v train=%v: sequence %d (%s) pooled differs from Forward's by %g relative", pool, train, s, c.segs[s], e)
						}
					}
					if _, err := kp.Pool(model.PoolMean); err == nil {
						t.Errorf("%v train=%v: a pass keeping rows pooled by mean", pool, train)
					}
					if train {
						checkRowsGrads(t, m, b, pool, fp, want, kp, got, bound, sets, sameGroup)
					}
					fp.Release()
					kp.Release()
				}
			}
			// The batch tells the rows apart: a pass that kept or gathered
			// the wrong row would not match (first vs last where they differ).
			for s, row := range c.mask {
				n := 0
				for _, v := range row {
					n += int(v)
				}
				if n < 2 {
					continue
				}
				if e := testmodels.RelL2(full[model.PoolFirst][s*H:(s+1)*H], full[model.PoolLast][s*H:(s+1)*H]); !(e > 1e-2) {
					t.Errorf("sequence %d: first and last rows pool alike (%g): the case cannot tell rows apart", s, e)
				}
			}
		})
	}

	// PoolRows of mean is nil (every row), and bad kept rows are refused.
	b := batchOf(m, rowsCases[0], bound, 1)
	if keep, err := m.PoolRows(b, model.PoolMean); err != nil || keep != nil {
		t.Errorf("PoolRows(mean) = %v, %v; want nil, nil", keep, err)
	}
	first, _ := m.PoolRows(b, model.PoolFirst)
	if _, err := m.ForwardRows(ctx, b, false, first[1:]); err == nil {
		t.Error("ForwardRows took fewer kept rows than sequences")
	}
	bad := append([]int32(nil), first...)
	bad[1] = bad[0]
	if _, err := m.ForwardRows(ctx, b, false, bad); err == nil {
		t.Error("ForwardRows took a kept row outside its sequence")
	}
	kp, err := m.ForwardRows(ctx, b, false, first)
	if err != nil {
		t.Fatal(err)
	}
	defer kp.Release()
	if _, err := kp.Pool(model.PoolLast); err == nil {
		t.Error("a pass keeping the first rows pooled the last ones")
	}
	// A Pooled of another pass, of other rows, is refused by Backward.
	tp, err := m.ForwardRows(ctx, b, true, first)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Release()
	fullPass, err := m.Forward(ctx, b, true)
	if err != nil {
		t.Fatal(err)
	}
	defer fullPass.Release()
	dPooled := make([]float32, b.Seqs*m.Cfg.Hidden)
	for _, pool := range []model.Pool{model.PoolMean, model.PoolLast} {
		other, err := fullPass.Pool(pool)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Backward(tp, dPooled); err == nil {
			t.Errorf("Backward of a %v Pooled accepted a pass that kept the first rows", pool)
		}
	}
}

// checkRowsGrads compares, for every adapter of the batch that can train
// (one adapter group), the gradients a full training pass and a kept-rows
// training pass give it for the same random ∂L/∂pooled.
func checkRowsGrads(t *testing.T, m *model.Model, b *model.Batch, pool model.Pool, fp *model.Pass, fpd *model.Pooled,
	kp *model.Pass, kpd *model.Pooled, bound map[string]*model.Adapter, sets map[string]*adapter.Set, sameGroup bool) {
	t.Helper()
	be, H, ctx := m.Be, m.Cfg.Hidden, context.Background()
	r := rand.New(rand.NewPCG(uint64(pool), 3))
	dPooled := make([]float32, b.Seqs*H)
	for i := range dPooled {
		dPooled[i] = float32(r.NormFloat64())
	}
	names := []string{"A"}
	if sameGroup {
		names = append(names, "B")
	}
	for _, name := range names {
		in := false
		for _, s := range b.Segs {
			in = in || (s.Adapter == bound[name] && s.Seqs > 0)
		}
		if !in {
			continue
		}
		grads := func(p *model.Pass, pd *model.Pooled) []adapter.Param {
			dh, err := pd.Backward(p, dPooled)
			if err != nil {
				t.Fatal(err)
			}
			grad := sets[name].ZeroLike()
			gb := grad.Bind(be)
			if err := p.Backward(ctx, dh, bound[name], gb); err != nil {
				t.Fatal(err)
			}
			for i, buf := range adapter.BoundParams(gb) {
				be.Download(grad.Params()[i].Data, buf)
			}
			return grad.Params()
		}
		want, got := grads(fp, fpd), grads(kp, kpd)
		nonzero := 0
		for i, w := range want {
			if w.Head {
				continue
			}
			if e := testmodels.RelL2(got[i].Data, w.Data); !(e <= 1e-4) {
				t.Errorf("%v: adapter %s: gradient of %s differs from Forward's by %g relative L2", pool, name, w.Name, e)
			}
			for _, v := range w.Data {
				if v != 0 {
					nonzero++
					break
				}
			}
		}
		if nonzero == 0 {
			t.Errorf("%v: adapter %s got no gradient at all: the check compares nothing", pool, name)
		}
	}
}
