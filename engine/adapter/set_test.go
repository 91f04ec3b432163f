package adapter_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/rng"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

func newSet(t *testing.T, m *model.Model, task adapter.Task, seed uint64) *adapter.Set {
	t.Helper()
	spec := adapter.Spec{Task: task, Size: 8, Act: kernels.ActGELU, Pool: m.Cfg.DefaultPool(m.W.Pooler != nil)}
	switch task {
	case adapter.Classification:
		spec.Labels = []string{"neg", "pos", "neutral"}
	case adapter.Multilabel:
		spec.Labels = []string{"a", "b"}
	case adapter.SequenceLabeling:
		spec.Labels = []string{"LOC", "PER"}
	case adapter.Regression:
		spec.TargetMean, spec.TargetStd = 3, 2
	}
	s, err := adapter.New(m, spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// perturb moves every tensor of a set away from its initial value (so up
// projections are non-zero and LayerNorm copies differ from the base).
func perturb(s *adapter.Set, seed uint64) {
	r := rng.New(seed)
	for _, p := range s.Params() {
		for i := range p.Data {
			p.Data[i] += float32(0.1 * r.Normal())
		}
	}
}

func TestRandomChangesFeatures(t *testing.T) {
	m := testmodels.Load(t, "bert-tiny", testmodels.Backends(t)[0])
	spec := adapter.Spec{Task: adapter.Regression, Size: 4, Act: kernels.ActGELU, Pool: model.PoolMean}
	s, err := adapter.Random(m, spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	plain := pooled(t, m, batchOf(m, []int{5}, nil), model.PoolMean)
	with := pooled(t, m, batchOf(m, []int{5}, []model.Segment{{Seqs: 1, Adapter: s.Bind(m.Be)}}), model.PoolMean)
	if testmodels.MaxAbsDiff(plain, with) < 1e-3 {
		t.Error("a random adapter leaves features unchanged")
	}
}

// batchOf is a right-padded batch of sequences of the given lengths; a
// sequence's tokens depend only on its length.
func batchOf(m *model.Model, lens []int, segs []model.Segment) *model.Batch {
	T := 0
	for _, n := range lens {
		T = max(T, n)
	}
	b := &model.Batch{Seqs: len(lens), Len: T, Segs: segs}
	for _, n := range lens {
		for p := 0; p < T; p++ {
			id, mask, pos := int32((n*131+p*29+7)%m.Cfg.Vocab), uint8(1), int32(m.Cfg.PosOffset+p)
			if p >= n {
				id, mask, pos = m.Cfg.PadID, 0, 0
			}
			b.IDs, b.Mask, b.PosIDs = append(b.IDs, id), append(b.Mask, mask), append(b.PosIDs, pos)
		}
	}
	return b
}

func pooled(t *testing.T, m *model.Model, b *model.Batch, pool model.Pool) []float32 {
	t.Helper()
	p, err := m.Forward(context.Background(), b, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	pd, err := p.Pool(pool)
	if err != nil {
		t.Fatal(err)
	}
	return pd.Values
}

// A fresh adapter is the identity: features equal the plain featurizer's
// exactly, bit for bit.
func TestFreshAdapterIsIdentity(t *testing.T) {
	testmodels.ForEachBackend(t, func(t *testing.T, be kernels.Backend) {
		for _, name := range testmodels.Names {
			m := testmodels.Load(t, name, be)
			set := newSet(t, m, adapter.Classification, 1)
			lens := []int{7, 3, 12}
			plain := pooled(t, m, batchOf(m, lens, nil), set.Pool)
			with := pooled(t, m, batchOf(m, lens, []model.Segment{{Seqs: 3, Adapter: set.Bind(be)}}), set.Pool)
			if d := testmodels.MaxAbsDiff(plain, with); d != 0 {
				t.Errorf("%s: fresh adapter changes features by %g", name, d)
			}
		}
	})
}

// A mixed batch returns what per-adapter batches return. The pure-Go GEMM
// gives every row the same arithmetic whatever the batch, so there the match
// is exact; OpenBLAS picks its kernels (and so its rounding) by matrix size,
// so there a row may differ in the last bits with the batch around it.
func TestMixedEqualsSeparate(t *testing.T) {
	testmodels.ForEachBackend(t, func(t *testing.T, be kernels.Backend) {
		tol := 0.0
		if strings.Contains(be.Name(), "openblas") {
			tol = 1e-5
		}
		for _, name := range testmodels.Names {
			m := testmodels.Load(t, name, be)
			a, b := newSet(t, m, adapter.Classification, 1), newSet(t, m, adapter.Regression, 2)
			perturb(a, 3)
			perturb(b, 4)
			ba, bb := a.Bind(be), b.Bind(be)
			lensA, lensB, lensBase := []int{5, 9}, []int{11, 2, 6}, []int{4}
			all := append(append(append([]int{}, lensA...), lensB...), lensBase...)
			mixed := pooled(t, m, batchOf(m, all, []model.Segment{{Seqs: 2, Adapter: ba}, {Seqs: 3, Adapter: bb}, {Seqs: 1}}), a.Pool)
			sepA := pooled(t, m, batchOf(m, lensA, []model.Segment{{Seqs: 2, Adapter: ba}}), a.Pool)
			sepB := pooled(t, m, batchOf(m, lensB, []model.Segment{{Seqs: 3, Adapter: bb}}), a.Pool)
			sepBase := pooled(t, m, batchOf(m, lensBase, nil), a.Pool)
			sep := append(append(append([]float32{}, sepA...), sepB...), sepBase...)
			if d := testmodels.MaxAbsDiff(mixed, sep); d > tol {
				t.Errorf("%s: mixed batch differs from per-adapter batches by %g", name, d)
			}
		}
	})
}

func TestCodecRoundTrip(t *testing.T) {
	be := testmodels.Backends(t)[0]
	for _, name := range testmodels.Names {
		m := testmodels.Load(t, name, be)
		for i, task := range []adapter.Task{adapter.Classification, adapter.Regression, adapter.Multilabel, adapter.SequenceLabeling} {
			set := newSet(t, m, task, uint64(i))
			perturb(set, uint64(10+i))
			meta := adapter.Meta{Name: "t", BaseModel: name, BaseFingerprint: "fp", ModelType: string(m.Cfg.Type),
				Options: map[string]string{"epochs": "3"}, Metrics: []byte(`{"loss":1}`)}
			data, err := adapter.Encode(set, meta)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := adapter.Encode(set, meta)
			if !bytes.Equal(data, again) {
				t.Fatalf("%s %s: encoding is not deterministic", name, task)
			}
			got, gotMeta, err := adapter.Decode(data)
			if err != nil {
				t.Fatalf("%s %s: %v", name, task, err)
			}
			if err := got.Align(m); err != nil {
				t.Fatal(err)
			}
			if gotMeta.BaseFingerprint != "fp" || gotMeta.Options["epochs"] != "3" || string(gotMeta.Metrics) != `{"loss":1}` {
				t.Errorf("%s %s: metadata %+v", name, task, gotMeta)
			}
			if got.Task != set.Task || got.Pool != set.Pool || got.TargetMean != set.TargetMean || strings.Join(got.Labels, ",") != strings.Join(set.Labels, ",") {
				t.Errorf("%s %s: spec %+v, want %+v", name, task, got.Spec, set.Spec)
			}
			want, have := set.Params(), got.Params()
			for j := range want {
				if want[j].Name != have[j].Name || testmodels.MaxAbsDiff(want[j].Data, have[j].Data) != 0 {
					t.Fatalf("%s %s: tensor %s changed", name, task, want[j].Name)
				}
			}
		}
	}
}

func TestDecodeRejectsBadFiles(t *testing.T) {
	be := testmodels.Backends(t)[0]
	m := testmodels.Load(t, "bert-tiny", be)
	set := newSet(t, m, adapter.Classification, 1)
	good, err := adapter.Encode(set, adapter.Meta{BaseFingerprint: "fp"})
	if err != nil {
		t.Fatal(err)
	}
	headerLen := int(binary.LittleEndian.Uint64(good))
	dataStart := 8 + headerLen
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":          {},
		"truncated data": good[:len(good)-5],
		"truncated head": good[:dataStart-3],
		"flipped weight": mutate(func(b []byte) []byte { b[dataStart+17] ^= 0x40; return b }),
		"nan weight": mutate(func(b []byte) []byte {
			copy(b[dataStart+4:], []byte{0, 0, 0xc0, 0x7f})
			return b
		}),
		"not an adapter": mutate(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"format":"adapter"`), []byte(`"format":"pt00000"`), 1)
		}),
		"lying label count": mutate(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"num_labels":"3"`), []byte(`"num_labels":"4"`), 1)
		}),
	}
	for name, data := range cases {
		if _, _, err := adapter.Decode(data); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	// A well-formed file for another shape of model is refused by Align.
	other := testmodels.Load(t, "gpt2-tiny", be)
	s, _, err := adapter.Decode(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Align(other); err == nil {
		t.Error("a bert adapter aligned to gpt2")
	}
}
