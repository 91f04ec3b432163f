package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// The goldens in testdata/adapters fix the adapter spec: forward values,
// losses and gradients computed in float64 by an independent reference
// (testdata/adapters/README.md).

// forward runs a training or inference pass over every row, or (rows) one
// that keeps only the rows pool reads (model.ForwardRows), where it has any.
func forward(t *testing.T, m *model.Model, b *model.Batch, train, rows bool, pool model.Pool) *model.Pass {
	t.Helper()
	var keep []int32
	if rows {
		var err error
		if keep, err = m.PoolRows(b, pool); err != nil {
			t.Fatal(err)
		}
		if keep == nil {
			t.Skipf("pooling %v reads every row", pool)
		}
	}
	pass, err := m.ForwardRows(context.Background(), b, train, keep)
	if err != nil {
		t.Fatal(err)
	}
	return pass
}

// TestAdapterGoldens checks passes over every row and passes that keep only
// the pooled rows (the last layer past its attention over one row per
// sequence) against the same goldens.
func TestAdapterGoldens(t *testing.T) {
	testmodels.ForEachBackend(t, func(t *testing.T, be kernels.Backend) {
		for _, name := range testmodels.Names {
			for _, rows := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/rows=%v", name, rows), func(t *testing.T) { checkGoldens(t, be, name, rows) })
			}
		}
	})
}

func checkGoldens(t *testing.T, be kernels.Backend, name string, rows bool) {
	m := testmodels.Load(t, name, be)
	g := testmodels.ReadAdapterGolden(t, name)
	for _, tc := range g.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			gf := testmodels.OpenTensors(t, filepath.Join(g.Dir, tc.GoldenFile))
			want := func(n string) []float32 { return testmodels.Tensor(t, gf, n) }
			if tc.Name == "mixed" {
				checkMixed(t, m, g, tc.AdapterFiles, tc.RowAdapter, want, g.Tolerance.Forward, rows)
				return
			}
			set := g.LoadAdapter(t, tc.AdapterFile, m)
			B := len(g.Batch.InputIDs)
			bound := set.Bind(be)
			b := g.Rows(nil, []model.Segment{{Seqs: B, Adapter: bound}})
			pass := forward(t, m, b, true, rows, set.Pool)
			defer pass.Release()
			pd, err := pass.Pool(set.Pool)
			if err != nil {
				t.Fatal(err)
			}
			if d := testmodels.MaxAbsDiff(pd.Values, want("pooled")); d > g.Tolerance.Forward {
				t.Errorf("pooled differs by %g", d)
			}
			logits := set.Logits(pd.Values, B)
			if d := testmodels.MaxAbsDiff(logits, want("logits")); d > g.Tolerance.Forward {
				t.Errorf("logits differ by %g", d)
			}
			var targets adapter.Targets
			switch set.Task {
			case adapter.Classification:
				targets.Class = tc.Labels
			case adapter.Regression:
				if err := json.Unmarshal(tc.Targets, &targets.Value); err != nil {
					t.Fatal(err)
				}
			case adapter.Multilabel:
				var rows [][]float32
				if err := json.Unmarshal(tc.Targets, &rows); err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					targets.Multi = append(targets.Multi, r...)
				}
			}
			loss, dLogits, err := set.Loss(logits, B, targets)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(loss - tc.Loss); !(d <= g.Tolerance.Forward) { // NaN fails too
				t.Errorf("loss %g, want %g", loss, tc.Loss)
			}
			// Backward through head, pooling and network.
			grad := set.ZeroLike()
			gb := grad.Bind(be)
			dPooled := set.HeadBackward(grad, pd.Values, dLogits, B)
			dHidden, err := pd.Backward(pass, dPooled)
			if err != nil {
				t.Fatal(err)
			}
			if err := pass.Backward(context.Background(), dHidden, bound, gb); err != nil {
				t.Fatal(err)
			}
			// The gradients are on the backend (a GPU's memory): read them back.
			for i, buf := range adapter.BoundParams(gb) {
				be.Download(grad.Params()[i].Data, buf)
			}
			zero := map[string]bool{}
			for _, n := range tc.ZeroGrads {
				zero[n] = true
			}
			for _, p := range grad.Params() {
				ref := want("grad." + p.Name)
				if zero[p.Name] {
					var n float64
					for _, x := range p.Data {
						n += float64(x) * float64(x)
					}
					if !(math.Sqrt(n) <= 1e-6) {
						t.Errorf("grad %s: norm %g, want exactly zero", p.Name, math.Sqrt(n))
					}
					continue
				}
				if e := testmodels.RelL2(p.Data, ref); !(e <= g.Tolerance.Grad) {
					t.Errorf("grad %s: relative error %g", p.Name, e)
				}
			}
		})
	}
}

// checkMixed runs the mixed test: rows of sets A and B in one pass (grouped
// into two segments), compared with the golden rows.
func checkMixed(t *testing.T, m *model.Model, g *testmodels.AdapterGolden, files map[string]string, rowAdapter []string,
	want func(string) []float32, tol float64, rows bool) {
	sets := map[string]*adapter.Set{}
	bound := map[string]*model.Adapter{}
	for k, f := range files {
		sets[k] = g.LoadAdapter(t, f, m)
		bound[k] = sets[k].Bind(m.Be)
	}
	var order []int
	var segs []model.Segment
	for _, k := range []string{"A", "B"} {
		n := 0
		for r, a := range rowAdapter {
			if a == k {
				order = append(order, r)
				n++
			}
		}
		segs = append(segs, model.Segment{Seqs: n, Adapter: bound[k]})
	}
	b := g.Rows(order, segs)
	pass := forward(t, m, b, false, rows, testmodels.SpecPool[m.Cfg.Type])
	defer pass.Release()
	pd, err := pass.Pool(testmodels.SpecPool[m.Cfg.Type])
	if err != nil {
		t.Fatal(err)
	}
	H := m.Cfg.Hidden
	wantPooled, wantLogits := want("pooled"), want("logits")
	n := len(wantLogits) / len(rowAdapter)
	for i, r := range order {
		set := sets[rowAdapter[r]]
		if d := testmodels.MaxAbsDiff(pd.Values[i*H:(i+1)*H], wantPooled[r*H:(r+1)*H]); d > tol {
			t.Errorf("row %d (%s): pooled differs by %g", r, rowAdapter[r], d)
		}
		logits := set.Logits(pd.Values[i*H:(i+1)*H], 1)
		if d := testmodels.MaxAbsDiff(logits, wantLogits[r*n:(r+1)*n]); d > tol {
			t.Errorf("row %d (%s): logits differ by %g", r, rowAdapter[r], d)
		}
	}
}
