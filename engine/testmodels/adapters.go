package testmodels

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
)

// AdapterGolden is testdata/adapters/NAME/golden.json: the adapter spec's
// goldens (forward values, losses, gradients) over one padded batch.
type AdapterGolden struct {
	Batch struct {
		CaseNames []string  `json:"case_names"` // the rows' cases in ../golden/NAME/golden.json
		InputIDs  [][]int32 `json:"input_ids"`
		Mask      [][]uint8 `json:"attention_mask"`
		TypeIDs   [][]int32 `json:"token_type_ids"`
		PosIDs    [][]int32 `json:"position_ids"`
		LastIndex []int     `json:"last_token_index"`
	} `json:"batch"`
	Tests []struct {
		Name         string            `json:"name"`
		AdapterFile  string            `json:"adapter_file"`
		AdapterFiles map[string]string `json:"adapter_files"`
		GoldenFile   string            `json:"golden_file"`
		Labels       []int             `json:"labels"`
		Targets      json.RawMessage   `json:"targets"`
		Loss         float64           `json:"loss"`
		RowAdapter   []string          `json:"row_adapter"`
		ZeroGrads    []string          `json:"exactly_zero_gradients"`
	} `json:"tests"`
	Tolerance struct {
		Forward float64 `json:"forward_max_abs_diff"`
		Grad    float64 `json:"gradient_max_relative_l2"`
	} `json:"tolerance"`
	// Dir is the golden's directory (adapter and tensor files are in it).
	Dir string `json:"-"`
}

// ReadAdapterGolden reads testdata/adapters/NAME/golden.json.
func ReadAdapterGolden(t testing.TB, name string) *AdapterGolden {
	t.Helper()
	g := &AdapterGolden{Dir: filepath.Join(Root(), "adapters", name)}
	ReadJSON(t, filepath.Join(g.Dir, "golden.json"), g)
	return g
}

// Rows is the golden batch's rows in the given order, with segments.
func (g *AdapterGolden) Rows(order []int, segs []model.Segment) *model.Batch {
	b := &g.Batch
	return rows(b.InputIDs, b.Mask, b.PosIDs, b.TypeIDs, order, segs)
}

// SpecPool is the pooled feature the adapter spec uses per model type.
var SpecPool = map[model.Type]model.Pool{model.BERT: model.PoolCLS, model.RoBERTa: model.PoolCLS,
	model.DistilBERT: model.PoolFirst, model.GPT2: model.PoolLast}

// LoadAdapter decodes the golden's adapter file, pools as the spec does and
// aligns it to m.
func (g *AdapterGolden) LoadAdapter(t testing.TB, file string, m *model.Model) *adapter.Set {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(g.Dir, file))
	if err != nil {
		t.Fatal(err)
	}
	set, _, err := adapter.Decode(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	set.Pool = SpecPool[m.Cfg.Type]
	if err := set.Align(m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return set
}
