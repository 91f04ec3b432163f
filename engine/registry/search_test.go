package registry_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

// Train with a search stores the chosen trial's adapter, with its options,
// a "trials" array in its metrics, and every trial in the catalog's trials
// table under the version it wrote.
func TestTrainSearchStoresTrials(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	o := quick()
	o.Epochs, o.ValidationFraction = 2, 0.25
	s := &train.Search{}
	if err := s.Add("learning_rate", []string{"1e-4", "1e-2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("adapter_size", []string{"4", "8"}); err != nil {
		t.Fatal(err)
	}
	o.Search = s
	trials := map[int]bool{}
	rec, created, err := r.Train(ctx, registry.TrainRequest{Name: "s", Examples: sentiment, Options: o, Mode: catalog.Create,
		Progress: func(p train.Progress) { trials[p.Trial] = p.Trials == 4 }})
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if len(trials) != 4 || !trials[1] || !trials[4] {
		t.Errorf("progress saw trials %v, want 1…4 of 4", trials)
	}
	var m struct {
		ValLoss float64 `json:"validation_loss"`
		Search  string  `json:"search"`
		Trials  []struct {
			Trial   int               `json:"trial"`
			Options map[string]string `json:"options"`
			Metrics struct {
				ValLoss float64 `json:"validation_loss"`
			} `json:"metrics"`
			Seconds float64 `json:"seconds"`
			Chosen  bool    `json:"chosen"`
		} `json:"trials"`
	}
	if err := json.Unmarshal(rec.Metrics, &m); err != nil {
		t.Fatal(err)
	}
	if m.Search != "grid" || len(m.Trials) != 4 {
		t.Fatalf("metrics %s", rec.Metrics)
	}
	chosen := -1
	for i, tr := range m.Trials {
		if tr.Chosen {
			chosen = i
		}
	}
	if chosen < 0 || m.Trials[chosen].Metrics.ValLoss != m.ValLoss {
		t.Fatalf("chosen trial %d, metrics %s", chosen, rec.Metrics)
	}
	want := m.Trials[chosen].Options
	if rec.Options["learning_rate"] != want["learning_rate"] || rec.Options["adapter_size"] != want["adapter_size"] ||
		rec.AdapterSize != map[string]int{"4": 4, "8": 8}[want["adapter_size"]] {
		t.Errorf("stored options %v / size %d, chosen trial's %v", rec.Options, rec.AdapterSize, want)
	}
	rows, err := r.Catalog().Trials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d trial rows, want 4", len(rows))
	}
	for i, row := range rows {
		var opts map[string]string
		if err := json.Unmarshal(row.Options, &opts); err != nil {
			t.Fatal(err)
		}
		if row.Adapter != "s" || row.Version != rec.Version || row.Trial.Trial != i+1 || row.Chosen != (i == chosen) ||
			opts["learning_rate"] != m.Trials[i].Options["learning_rate"] || row.Seconds != m.Trials[i].Seconds {
			t.Errorf("row %d: %+v, metrics say %+v", i, row, m.Trials[i])
		}
	}
	// The stored adapter predicts.
	if _, err := r.Run(ctx, []registry.Request{{Adapter: "s", Text: "wonderful"}}); err != nil {
		t.Fatal(err)
	}
}
