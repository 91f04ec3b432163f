package sqlfuncs

import (
	"encoding/json"
	"testing"

	"github.com/adapterdb/adapterdb/catalog"
)

// TestSummaryPlurals: CREATE ADAPTER's info line counts in words that agree
// with the number ("1 epoch", not "1 epochs").
func TestSummaryPlurals(t *testing.T) {
	for _, c := range []struct {
		rec  catalog.Record
		want string
	}{
		{catalog.Record{Name: "r", Task: "regression", Metrics: json.RawMessage(`{"epochs":1,"validation":{"rmse":0.5}}`)},
			"adapter r: regression, 1 epoch, validation RMSE 0.5"},
		{catalog.Record{Name: "m", Task: "multilabel", Labels: []string{"x"}, Metrics: json.RawMessage(`{"epochs":3}`)},
			"adapter m: multilabel, 1 label, 3 epochs"},
		{catalog.Record{Name: "c", Task: "classification", Labels: []string{"a", "b"}, Metrics: json.RawMessage(`{"epochs":2}`)},
			"adapter c: classification, 2 labels, 2 epochs"},
	} {
		if got := summary(c.rec); got != c.want {
			t.Errorf("summary = %q, want %q", got, c.want)
		}
	}
}
