package engine

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/tokenizer"
	"github.com/adapterdb/adapterdb/kernels"
)

// The goldens in testdata/golden were computed by an independent float64
// PyTorch reference of Hugging Face's models (testdata/README.md).

type goldenCase struct {
	Name        string  `json:"name"`
	Text        string  `json:"text"`
	TextPair    *string `json:"text_pair"`
	InputIDs    []int32 `json:"input_ids"`
	Mask        []uint8 `json:"attention_mask"`
	TypeIDs     []int32 `json:"token_type_ids"`
	PosIDs      []int32 `json:"position_ids"`
	NumTokens   int     `json:"num_tokens"`
	Truncated   bool    `json:"truncated"`
	Untruncated int     `json:"untruncated_length"`
	Forward     bool    `json:"forward"`
	Tensors     map[string]string
}

type goldenBatch struct {
	Name      string    `json:"name"`
	CaseNames []string  `json:"case_names"`
	Padding   string    `json:"padding_side"`
	InputIDs  [][]int32 `json:"input_ids"`
	Mask      [][]uint8 `json:"attention_mask"`
	TypeIDs   [][]int32 `json:"token_type_ids"`
	PosIDs    [][]int32 `json:"position_ids"`
	Tensors   map[string]string
}

type goldenFile struct {
	ModelType string        `json:"model_type"`
	MaxLength int           `json:"max_length"`
	Cases     []goldenCase  `json:"cases"`
	Batches   []goldenBatch `json:"batches"`
	Tolerance struct {
		MaxAbsDiff float64 `json:"max_abs_diff"`
	} `json:"tolerance"`
}

func readGolden(t *testing.T, name string) (*goldenFile, *safetensors.File) {
	t.Helper()
	dir := filepath.Join(testmodels.Root(), "golden", name)
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &g, st
}

func tensor(t *testing.T, st *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := st.Float32(name)
	if err != nil {
		t.Fatalf("golden tensor %s: %v", name, err)
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func loadTestModel(t *testing.T, name string, be kernels.Backend) *checkpoint {
	t.Helper()
	ck, err := loadCheckpoint(testmodels.Dir(name), be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.closer.Close() })
	return ck
}

// TestGoldenTokenization checks the ids the engine feeds the model, including
// sentence pairs and truncation at max_length.
func TestGoldenTokenization(t *testing.T) {
	be := testmodels.Backends(t)[0]
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			ck := loadTestModel(t, name, be)
			g, _ := readGolden(t, name)
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
			g, st := readGolden(t, name)
			var texts []string
			var cases []goldenCase
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
					if d := maxAbsDiff(feats[i], tensor(t, st, c.Tensors[key])); d > g.Tolerance.MaxAbsDiff {
						t.Errorf("%s %s: differs by %g", c.Name, key, d)
					}
				}
			}
		})
	}
}
