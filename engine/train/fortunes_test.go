package train_test

import (
	"context"
	"os"
	"testing"

	"github.com/adapterdb/adapterdb/engine/train"
)

// TestFortunes trains on the fortunes set (10 labels) with the demo base
// model and compares adapters with the head-only linear probe and the
// majority-class baseline on the test split: adapters must beat the probe.
// It takes minutes, so it runs only when ADAPTERDB_LONG=1 is set (make test does
// not set it; performance.md reports its figures).
func TestFortunes(t *testing.T) {
	if os.Getenv("ADAPTERDB_LONG") == "" {
		t.Skip("set ADAPTERDB_LONG=1: trains on 2,719 rows")
	}
	eng := demoEngine(t)
	trainSet, testSet := fortunes(t, "train"), fortunes(t, "test")
	var trainLabels, testLabels []string
	for _, e := range trainSet {
		trainLabels = append(trainLabels, e.Target)
	}
	for _, e := range testSet {
		testLabels = append(testLabels, e.Target)
	}
	acc, f1 := train.Majority(trainLabels, testLabels)
	t.Logf("majority class: accuracy %.4f macro-F1 %.4f", acc, f1)
	scores := map[string]float64{}
	for _, trainable := range []string{"head", "adapters"} {
		o := train.DefaultOptions()
		o.Trainable = trainable
		res, err := train.Train(context.Background(), eng, trainSet, train.KindUnknown, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := train.Evaluate(context.Background(), eng, res.Set, testSet, o.MaxLength)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("trainable=%s: test accuracy %.4f macro-F1 %.4f (epochs %d, best %d, %.0f examples/s, %.0f s)",
			trainable, *ev.Accuracy, *ev.MacroF1, res.Metrics.Epochs, res.Metrics.BestEpoch, res.Metrics.ExamplesPerSec, res.Metrics.Seconds)
		scores[trainable] = *ev.Accuracy
	}
	if scores["adapters"] <= scores["head"] {
		t.Errorf("adapters (%.4f) do not beat the head-only probe (%.4f)", scores["adapters"], scores["head"])
	}
	if scores["head"] <= acc {
		t.Errorf("the probe (%.4f) does not beat the majority class (%.4f)", scores["head"], acc)
	}
}
