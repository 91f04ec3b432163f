package testmodels

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
)

// The goldens in testdata/golden were computed by an independent float64
// PyTorch reference of Hugging Face's models (testdata/README.md).

// GoldenCase is one text of golden.json with its expected tokenization.
type GoldenCase struct {
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

// GoldenBatch is a padded batch of golden.json's cases.
type GoldenBatch struct {
	Name      string    `json:"name"`
	CaseNames []string  `json:"case_names"`
	Padding   string    `json:"padding_side"`
	InputIDs  [][]int32 `json:"input_ids"`
	Mask      [][]uint8 `json:"attention_mask"`
	TypeIDs   [][]int32 `json:"token_type_ids"`
	PosIDs    [][]int32 `json:"position_ids"`
	Tensors   map[string]string
}

// Golden is a model's golden.json.
type Golden struct {
	ModelType string        `json:"model_type"`
	MaxLength int           `json:"max_length"`
	Cases     []GoldenCase  `json:"cases"`
	Batches   []GoldenBatch `json:"batches"`
	Tolerance struct {
		MaxAbsDiff float64 `json:"max_abs_diff"`
	} `json:"tolerance"`
}

// ReadGolden reads testdata/golden/NAME: golden.json and golden.safetensors
// (closed when the test ends).
func ReadGolden(t testing.TB, name string) (*Golden, *safetensors.File) {
	t.Helper()
	dir := filepath.Join(Root(), "golden", name)
	var g Golden
	ReadJSON(t, filepath.Join(dir, "golden.json"), &g)
	return &g, OpenTensors(t, filepath.Join(dir, "golden.safetensors"))
}

// ReadJSON decodes a JSON file into v.
func ReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// OpenTensors opens a safetensors file, closed when the test ends.
func OpenTensors(t testing.TB, path string) *safetensors.File {
	t.Helper()
	st, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Tensor is a golden tensor as float32s.
func Tensor(t testing.TB, st *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := st.Float32(name)
	if err != nil {
		t.Fatalf("golden tensor %s: %v", name, err)
	}
	return v
}

// MaxAbsDiff is max |a−b|, +Inf when the lengths differ or a value is NaN
// (math.Max would carry a NaN through, and NaN > tolerance is false: a
// NaN output would pass).
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = math.Max(d, x)
	}
	return d
}

// RelL2 is ‖g − ref‖₂ / ‖ref‖₂ (‖g − ref‖₂ when ref is zero), +Inf when the
// lengths differ or a value is NaN.
func RelL2(g, ref []float32) float64 {
	if len(g) != len(ref) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range g {
		e := float64(g[i]) - float64(ref[i])
		num += e * e
		den += float64(ref[i]) * float64(ref[i])
	}
	e := math.Sqrt(num)
	if den > 0 {
		e /= math.Sqrt(den)
	}
	if math.IsNaN(e) {
		return math.Inf(1)
	}
	return e
}

// Batch is one golden case as a batch of one sequence.
func (c *GoldenCase) Batch() *model.Batch {
	b := &model.Batch{Seqs: 1, Len: len(c.InputIDs), IDs: c.InputIDs, Mask: c.Mask, PosIDs: c.PosIDs}
	if len(c.TypeIDs) > 0 {
		b.TypeIDs = c.TypeIDs
	}
	return b
}

// Batch is the golden batch, right-padded as stored.
func (g *GoldenBatch) Batch() *model.Batch {
	return rows(g.InputIDs, g.Mask, g.PosIDs, g.TypeIDs, nil, nil)
}

// rows builds a batch of the given rows (all when order is nil).
func rows(ids [][]int32, mask [][]uint8, pos, types [][]int32, order []int, segs []model.Segment) *model.Batch {
	if order == nil {
		order = make([]int, len(ids))
		for i := range order {
			order[i] = i
		}
	}
	b := &model.Batch{Seqs: len(order), Len: len(ids[0]), Segs: segs}
	for _, r := range order {
		b.IDs = append(b.IDs, ids[r]...)
		b.Mask = append(b.Mask, mask[r]...)
		b.PosIDs = append(b.PosIDs, pos[r]...)
		if types != nil {
			b.TypeIDs = append(b.TypeIDs, types[r]...)
		}
	}
	return b
}
