package train_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/train"
)

// pairSet reads testdata/datasets/pairs_SPLIT.csv (text, text2, label).
func pairSet(t testing.TB, split string) []train.Example {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "datasets", "pairs_"+split+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []train.Example
	for _, r := range rows[1:] {
		out = append(out, train.Example{Text: r[0], Pair: r[1], HasPair: true, Target: r[2]})
	}
	return out
}

// TestPairsLearns trains a text-pair adapter on the demo model (random
// weights) to tell duplicates from unrelated pairs (make_pairs.py: neither
// text alone says which) and scores the held-out split: balanced labels, so
// chance is 0.5.
func TestPairsLearns(t *testing.T) {
	learningTest(t)
	eng := demoEngine(t)
	trainSet, testSet := pairSet(t, "train"), pairSet(t, "test")
	o := opts("epochs", "6", "max_length", "24", "batch_size", "16", "validation_fraction", "0")
	res, err := train.Train(context.Background(), eng, trainSet, train.KindUnknown, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Set.Inputs != adapter.TextPair {
		t.Fatalf("inputs %q, want pair", res.Set.Inputs)
	}
	ev, err := train.Evaluate(context.Background(), eng, res.Set, testSet, o.MaxLength)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out accuracy %.4f on %d pairs (chance 0.5); %.0f examples/s, %.1f s", *ev.Accuracy, len(testSet), res.Metrics.ExamplesPerSec, res.Metrics.Seconds)
	if *ev.Accuracy < 0.7 {
		t.Errorf("held-out accuracy %.4f, want ≥ 0.7", *ev.Accuracy)
	}
	// Scoring single texts with a pair adapter is refused.
	single := []train.Example{{Text: testSet[0].Text, Target: testSet[0].Target}}
	if _, err := train.Evaluate(context.Background(), eng, res.Set, single, o.MaxLength); err == nil || !strings.Contains(err.Error(), "takes 2 text(s)") {
		t.Errorf("single text on a pair adapter: %v", err)
	}
}

// TestPairRowsChecked: every row is a pair or none is; a pair needs a second
// text; sequence labeling takes single texts.
func TestPairRowsChecked(t *testing.T) {
	eng := demoEngine(t)
	o := opts("epochs", "1", "max_length", "16")
	for _, c := range []struct {
		ex   []train.Example
		task string
		want string
	}{
		{[]train.Example{{Text: "a b", Pair: "c", HasPair: true, Target: "x"}, {Text: "d", Target: "y"}}, "", "row 2: a text pair among single texts"},
		{[]train.Example{{Text: "a b", Pair: "c", HasPair: true, Target: "x"}, {Text: "d", PairNull: true, HasPair: true, Target: "y"}}, "", "row 2: second text is NULL"},
		{[]train.Example{{Text: "a b", Pair: " ", HasPair: true, Target: "x"}, {Text: "d", Pair: "e", HasPair: true, Target: "y"}}, "", "row 1: second text is empty"},
		{[]train.Example{{Text: "a b", Pair: "c", HasPair: true, Target: "[]"}}, "sequence_labeling", "sequence labeling takes single texts"},
	} {
		oo := o
		if c.task != "" {
			if err := oo.Set("task", c.task); err != nil {
				t.Fatal(err)
			}
		}
		if err := train.Check(eng, c.ex, train.KindUnknown, oo); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.ex, err, c.want)
		}
	}
}
