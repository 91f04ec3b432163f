package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// TestPairFeaturesMatchGolden runs the goldens' sentence pairs end to end on
// both CPU backends (pair_cudaemu_test.go: the CUDA emulator).
func TestPairFeaturesMatchGolden(t *testing.T) {
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			for _, be := range testmodels.Backends(t) {
				checkPairFeatures(t, name, be, false)
			}
		})
	}
}

// TestPairAdapterMatchesGolden: the adapter goldens' batch holds a sentence
// pair beside single texts; encoded from its texts by EncodePair and run
// through Features with the golden adapter, in one call with the same texts
// on the base model, it gives the golden's pooled features and logits.
func TestPairAdapterMatchesGolden(t *testing.T) {
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			for _, be := range testmodels.Backends(t) {
				checkPairAdapter(t, name, be)
			}
		})
	}
}

// checkPairFeatures runs the goldens' sentence pairs (the pair template,
// segment ids reaching the embedding, the scheduler) in the same call as
// single texts, so pair and single rows share passes, and checks every
// pooled output against the reference. few keeps the pairs and two single
// texts (the emulator is slow).
func checkPairFeatures(t *testing.T, name string, be kernels.Backend, few bool) {
	g, st := testmodels.ReadGolden(t, name)
	var pairs int
	for _, c := range g.Cases {
		if c.TextPair != nil {
			pairs++
		}
	}
	if name == "gpt2-tiny" {
		if pairs != 0 {
			t.Fatal("the gpt2 golden grew sentence pairs: test them")
		}
		return // the reference has no pair template for GPT-2 (docs/sql.md)
	}
	if pairs == 0 {
		t.Fatal("golden has no sentence pair")
	}
	eng, err := Open(Config{Model: testmodels.Dir(name), Backend: be, MaxLength: g.MaxLength, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for key, pool := range map[string]model.Pool{"mean_pooled": model.PoolMean, "first_token": model.PoolFirst, "last_token": model.PoolLast} {
		var inputs []Input
		var cases []testmodels.GoldenCase
		singles := 0
		for _, c := range g.Cases {
			if !c.Forward || few && c.TextPair == nil && singles == 2 {
				continue
			}
			if c.TextPair == nil {
				singles++
			}
			in := Input{Text: c.Text, Pool: pool}
			if c.TextPair != nil {
				in.Pair, in.HasPair = *c.TextPair, true
			}
			inputs = append(inputs, in)
			cases = append(cases, c)
		}
		feats, err := eng.Features(context.Background(), inputs)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			if d := testmodels.MaxAbsDiff(feats[i], testmodels.Tensor(t, st, c.Tensors[key])); d > g.Tolerance.MaxAbsDiff {
				t.Errorf("%s %s %s: differs by %g", be.Name(), c.Name, key, d)
			}
		}
	}
}

// checkPairAdapter is TestPairAdapterMatchesGolden on one backend.
func checkPairAdapter(t *testing.T, name string, be kernels.Backend) {
	ag := testmodels.ReadAdapterGolden(t, name)
	g, _ := testmodels.ReadGolden(t, name)
	byName := map[string]testmodels.GoldenCase{}
	for _, c := range g.Cases {
		byName[c.Name] = c
	}
	eng, err := Open(Config{Model: testmodels.Dir(name), Backend: be, MaxLength: g.MaxLength, BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	m := eng.Model()
	tc := ag.Tests[0]
	if tc.Name != "classification" {
		t.Fatalf("first adapter test is %q, want classification", tc.Name)
	}
	set := ag.LoadAdapter(t, tc.AdapterFile, m)
	bound := set.Bind(be)
	defer adapter.Unbind(be, bound)
	gf := testmodels.OpenTensors(t, filepath.Join(ag.Dir, tc.GoldenFile))
	wantPooled, wantLogits := testmodels.Tensor(t, gf, "pooled"), testmodels.Tensor(t, gf, "logits")
	H, n := m.Cfg.Hidden, set.Outputs()
	var inputs []Input
	pairs := 0
	for r, cn := range ag.Batch.CaseNames {
		c, ok := byName[cn]
		if !ok {
			t.Fatalf("batch case %q is not in the golden", cn)
		}
		in := Input{Text: c.Text, Adapter: bound, Pool: set.Pool}
		var q Sequence
		if c.TextPair != nil {
			in.Pair, in.HasPair = *c.TextPair, true
			pairs++
			q, err = eng.EncodePair(c.Text, *c.TextPair, 0)
		} else {
			q, err = eng.Encode(c.Text, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		want := ag.Batch.InputIDs[r][:len(q.IDs)]
		if !slices.Equal(q.IDs, want) || slices.ContainsFunc(ag.Batch.Mask[r][len(q.IDs):], func(v uint8) bool { return v != 0 }) {
			t.Fatalf("%s: ids %v, want the golden row %v", cn, q.IDs, ag.Batch.InputIDs[r])
		}
		if ag.Batch.TypeIDs != nil && q.TypeIDs != nil && !slices.Equal(q.TypeIDs, ag.Batch.TypeIDs[r][:len(q.IDs)]) {
			t.Fatalf("%s: type ids %v, want %v", cn, q.TypeIDs, ag.Batch.TypeIDs[r])
		}
		// The same text on the base model, in the same call: another segment.
		base := in
		base.Adapter = nil
		inputs = append(inputs, in, base)
	}
	if want := map[bool]int{true: 0, false: 1}[name == "gpt2-tiny"]; pairs != want {
		t.Fatalf("%d sentence pairs in the adapter batch, want %d", pairs, want)
	}
	feats, err := eng.Features(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	for r, cn := range ag.Batch.CaseNames {
		f := feats[2*r]
		what := fmt.Sprintf("%s %s", be.Name(), cn)
		if d := testmodels.MaxAbsDiff(f, wantPooled[r*H:(r+1)*H]); d > ag.Tolerance.Forward {
			t.Errorf("%s pooled: differs by %g", what, d)
		}
		if d := testmodels.MaxAbsDiff(set.Logits(f, 1), wantLogits[r*n:(r+1)*n]); d > ag.Tolerance.Forward {
			t.Errorf("%s logits: differs by %g", what, d)
		}
		if d := testmodels.MaxAbsDiff(feats[2*r+1], wantPooled[r*H:(r+1)*H]); d == 0 {
			t.Errorf("%s: the base model's row equals the adapter's", what)
		}
	}
}
