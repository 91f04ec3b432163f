package engine

import (
	"context"
	"testing"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/tokenizer"
	"github.com/adapterdb/adapterdb/kernels"
)

// The goldens in testdata/golden were computed by an independent float64
// PyTorch reference of Hugging Face's models (testdata/README.md).

func loadTestModel(t *testing.T, name string, be kernels.Backend) *checkpoint {
	t.Helper()
	ck, err := loadCheckpoint(testmodels.Dir(name), be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ck.model.W.Release(be) // before the checkpoint is unmapped (model.Weights.Release)
		ck.closer.Close()
	})
	return ck
}

// TestGoldenTokenization checks the ids the engine feeds the model, including
// sentence pairs and truncation at max_length.
func TestGoldenTokenization(t *testing.T) {
	be := testmodels.Backends(t)[0]
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			ck := loadTestModel(t, name, be)
			g, _ := testmodels.ReadGolden(t, name)
			for _, c := range g.Cases {
				opts := tokenizer.Options{AddSpecial: true, MaxLength: g.MaxLength}
				if c.TextPair != nil {
					opts.Pair, opts.HasPair = *c.TextPair, true
				}
				enc, err := ck.tok.Encode(c.Text, opts)
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				if !equalIDs(enc.IDs, c.InputIDs) {
					t.Errorf("%s: ids %v, want %v", c.Name, enc.IDs, c.InputIDs)
				}
				if c.TypeIDs != nil && !equalIDs(enc.TypeIDs, c.TypeIDs) {
					t.Errorf("%s: type ids %v, want %v", c.Name, enc.TypeIDs, c.TypeIDs)
				}
				if enc.Truncated != c.Truncated {
					t.Errorf("%s: truncated %v, want %v", c.Name, enc.Truncated, c.Truncated)
				}
			}
		})
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEmbedMatchesGolden runs texts end to end (tokenizer, scheduler,
// length-bucketed batches) and checks every pooled output against the goldens.
func TestEmbedMatchesGolden(t *testing.T) {
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			eng, err := Open(Config{Model: testmodels.Dir(name), Backend: testmodels.Backends(t)[0], MaxLength: 128, BatchSize: 5})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			g, st := testmodels.ReadGolden(t, name)
			var texts []string
			var cases []testmodels.GoldenCase
			for _, c := range g.Cases {
				if c.Forward && c.TextPair == nil {
					texts = append(texts, c.Text)
					cases = append(cases, c)
				}
			}
			for key, pool := range map[string]model.Pool{"mean_pooled": model.PoolMean, "first_token": model.PoolFirst, "last_token": model.PoolLast} {
				feats, err := eng.Embed(context.Background(), texts, pool)
				if err != nil {
					t.Fatal(err)
				}
				for i, c := range cases {
					if d := testmodels.MaxAbsDiff(feats[i], testmodels.Tensor(t, st, c.Tensors[key])); d > g.Tolerance.MaxAbsDiff {
						t.Errorf("%s %s: differs by %g", c.Name, key, d)
					}
				}
			}
		})
	}
}
