package testmodels

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

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
func ReadGolden(t *testing.T, name string) (*Golden, *safetensors.File) {
	t.Helper()
	dir := filepath.Join(Root(), "golden", name)
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g Golden
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

// Tensor is a golden tensor as float32s.
func Tensor(t *testing.T, st *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := st.Float32(name)
	if err != nil {
		t.Fatalf("golden tensor %s: %v", name, err)
	}
	return v
}

// MaxAbsDiff is max |a−b| (+Inf when the lengths differ).
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
