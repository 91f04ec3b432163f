package train

import (
	"errors"
	"math"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
)

func metricMap(t *testing.T, s *Scorer) map[string]float64 {
	t.Helper()
	ms, err := s.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, m := range ms {
		if _, dup := out[m.Name]; dup {
			t.Fatalf("metric %s twice", m.Name)
		}
		out[m.Name] = m.Value
	}
	return out
}

func checkMetrics(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		if math.Abs(g-w) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", k, g, w)
		}
	}
}

// Hand-computed: labels a b c; seven rows, one with the unseen label d.
func TestScorerClassification(t *testing.T) {
	s := NewScorer(adapter.Classification, []string{"a", "b", "c"})
	rows := []struct {
		truth, pred string
		p           float64 // probability of the true label
	}{
		{"a", "a", 0.8}, {"a", "b", 0.3}, {"b", "b", 0.6}, {"b", "a", 0.25}, {"c", "c", 0.5}, {"d", "a", 0}, {"a", "a", 0.9},
	}
	for _, r := range rows {
		tg, err := s.Parse(r.truth, KindText)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(tg, adapter.Prediction{Label: r.pred, Proba: map[string]float64{r.truth: r.p}})
	}
	s.Skip()
	got := metricMap(t, s)
	ll := -(math.Log(0.8) + math.Log(0.3) + math.Log(0.6) + math.Log(0.25) + math.Log(0.5) + math.Log(0.9)) / 6
	checkMetrics(t, got, map[string]float64{
		"rows": 7, "skipped": 1, "accuracy": 4.0 / 7, "macro_f1": 29.0 / 56, "weighted_f1": 26.0 / 49,
		"log_loss": ll, "unseen_labels": 1,
		"precision:a": 0.5, "recall:a": 2.0 / 3, "f1:a": 4.0 / 7, "support:a": 3,
		"precision:b": 0.5, "recall:b": 0.5, "f1:b": 0.5, "support:b": 2,
		"precision:c": 1, "recall:c": 1, "f1:c": 1, "support:c": 1,
		"precision:d": 0, "recall:d": 0, "f1:d": 0, "support:d": 1,
	})
	if len(got) != 7+4*4 {
		t.Errorf("%d metrics, want %d: %v", len(got), 7+16, got)
	}
	// The training-time code (classScores) agrees on accuracy and macro F1.
	idx := map[string]int{"a": 0, "b": 1, "c": 2, "d": 3}
	var pred, truth []int
	for _, r := range rows {
		pred, truth = append(pred, idx[r.pred]), append(truth, idx[r.truth])
	}
	acc, f1 := classScores(pred, truth, 3)
	if math.Abs(acc-got["accuracy"]) > 1e-12 || math.Abs(f1-got["macro_f1"]) > 1e-12 {
		t.Errorf("classScores %g %g, Scorer %g %g", acc, f1, got["accuracy"], got["macro_f1"])
	}
	cells := s.Confusion()
	want := []Cell{{"a", "a", 2}, {"a", "b", 1}, {"b", "a", 1}, {"b", "b", 1}, {"c", "c", 1}, {"d", "a", 1}}
	if len(cells) != len(want) {
		t.Fatalf("confusion %v, want %v", cells, want)
	}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("cell %d = %v, want %v", i, cells[i], want[i])
		}
	}
}

func TestScorerLogLossUndefined(t *testing.T) {
	s := NewScorer(adapter.Classification, []string{"a", "b"})
	s.Add(Target{Label: "z"}, adapter.Prediction{Label: "a", Proba: map[string]float64{"a": 1}})
	if got := metricMap(t, s); !math.IsNaN(got["log_loss"]) || got["accuracy"] != 0 || got["unseen_labels"] != 1 {
		t.Errorf("only unseen labels: %v", got)
	}
	// A probability of 0 for the true label is clipped, not infinite.
	s = NewScorer(adapter.Classification, []string{"a", "b"})
	s.Add(Target{Label: "b"}, adapter.Prediction{Label: "a", Proba: map[string]float64{"a": 1, "b": 0}})
	if got := metricMap(t, s); math.Abs(got["log_loss"]+math.Log(logLossFloor)) > 1e-9 {
		t.Errorf("log_loss %g, want %g", got["log_loss"], -math.Log(logLossFloor))
	}
}

func TestScorerRegression(t *testing.T) {
	s := NewScorer(adapter.Regression, nil)
	for i, y := range []string{"1", "2", " 3 ", "4"} {
		tg, err := s.Parse(y, KindText)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(tg, adapter.Prediction{Value: []float64{1.5, 2, 2, 5}[i]})
	}
	got := metricMap(t, s)
	checkMetrics(t, got, map[string]float64{"rows": 4, "skipped": 0, "rmse": 0.75, "mae": 0.625, "r2": 0.55})
	if len(got) != 5 {
		t.Errorf("metrics %v", got)
	}
	// Constant targets: R² is 1 for a perfect fit, else 0.
	for _, c := range []struct{ pred, r2 float64 }{{2, 1}, {3, 0}} {
		s := NewScorer(adapter.Regression, nil)
		s.Add(Target{Value: 2}, adapter.Prediction{Value: 2})
		s.Add(Target{Value: 2}, adapter.Prediction{Value: c.pred})
		if got := metricMap(t, s); got["r2"] != c.r2 {
			t.Errorf("constant targets, prediction %g: r2 %g, want %g", c.pred, got["r2"], c.r2)
		}
	}
}

func TestScorerMultilabel(t *testing.T) {
	s := NewScorer(adapter.Multilabel, []string{"x", "y", "z"})
	rows := []struct {
		target string
		pred   []string
	}{
		{`["x","y"]`, []string{"x", "y"}}, {"x", []string{"x", "z"}}, {`["y","w","y"]`, []string{"y"}}, {`[]`, []string{}}, {"z", []string{}},
	}
	for _, r := range rows {
		tg, err := s.Parse(r.target, KindText)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(tg, adapter.Prediction{Labels: r.pred})
	}
	got := metricMap(t, s)
	checkMetrics(t, got, map[string]float64{
		"rows": 5, "micro_f1": 8.0 / 11, "macro_f1": 0.5, "subset_accuracy": 0.4, "unseen_labels": 1,
		"precision:x": 1, "recall:x": 1, "support:x": 2, "f1:y": 1, "support:y": 2,
		"precision:z": 0, "recall:z": 0, "f1:z": 0, "support:z": 1, "support:w": 1, "recall:w": 0,
	})
}

func TestScorerRefusesWrongTargets(t *testing.T) {
	cls := NewScorer(adapter.Classification, []string{"neg", "pos"})
	reg := NewScorer(adapter.Regression, nil)
	ml := NewScorer(adapter.Multilabel, []string{"a", "b"})
	for _, c := range []struct {
		s      *Scorer
		target string
		kind   TargetKind
	}{
		{cls, `["pos"]`, KindJSON},
		{cls, `["pos"]`, KindText},
		{cls, `"pos"`, KindJSON},
		{reg, "pos", KindText},
		{reg, "[1]", KindJSON},
		{reg, "NaN", KindText},
		{reg, "", KindText},
		{ml, "3", KindInteger},
		{ml, "1.5", KindFloat},
		{ml, `[1`, KindText},
		{ml, `[{"a":1}]`, KindJSON},
	} {
		if _, err := c.s.Parse(c.target, c.kind); !errors.Is(err, ErrTarget) {
			t.Errorf("%s adapter, target %q (kind %d): err %v, want ErrTarget", c.s.task, c.target, c.kind, err)
		}
	}
	for _, c := range []struct {
		s      *Scorer
		target string
		kind   TargetKind
	}{
		{cls, "pos", KindText}, {cls, "unseen", KindText}, {cls, "3", KindInteger}, {cls, "[x", KindText},
		{reg, "4.5", KindFloat}, {reg, "7", KindInteger}, {reg, " 1e3 ", KindText},
		{ml, `["a"]`, KindJSON}, {ml, "a|b", KindText},
	} {
		if _, err := c.s.Parse(c.target, c.kind); err != nil {
			t.Errorf("%s adapter, target %q: %v", c.s.task, c.target, err)
		}
	}
	if _, err := NewScorer(adapter.Classification, []string{"a"}).Metrics(); err == nil {
		t.Error("no rows: no error")
	}
}
