package train_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/spans"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
)

// nerRows reads testdata/datasets/ner_<split>.csv (make_ner.py): text, spans.
func nerRows(t testing.TB, split string) []train.Example {
	t.Helper()
	f, err := os.Open(filepath.Join(testmodels.Root(), "datasets", "ner_"+split+".csv"))
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
		out = append(out, train.Example{Text: r[0], Target: r[1]})
	}
	return out
}

// Sequence labeling learns the entities of held-out sentences: the random
// demo model's token features identify the words, which the adapter and the
// token head learn to tag. max_length 24 cuts the longer rows into windows,
// so merging windows is part of what is scored. Chance is near 0 F1: an
// exact span match needs start, end and label right.
func TestSequenceLabelingLearns(t *testing.T) {
	learningTest(t)
	eng := demoEngine(t)
	ex, test := nerRows(t, "train")[:400], nerRows(t, "test")
	t0 := time.Now()
	res, err := train.Train(context.Background(), eng, ex, train.KindText,
		opts("task", "sequence_labeling", "epochs", "6", "max_length", "24", "learning_rate", "3e-3", "batch_size", "16"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Set.Task != adapter.SequenceLabeling || strings.Join(res.Set.Labels, ",") != "LOC,ORG,PER" {
		t.Fatalf("task %s labels %v", res.Set.Task, res.Set.Labels)
	}
	ev, err := train.Evaluate(context.Background(), eng, res.Set, test, 24)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out span P %.3f R %.3f F1 %.3f per label %+v; %d epochs, %.1f windows/s, %.1f s",
		*ev.SpanPrecision, *ev.SpanRecall, *ev.SpanF1, ev.PerLabel, res.Metrics.Epochs, res.Metrics.ExamplesPerSec, time.Since(t0).Seconds())
	if *ev.SpanF1 < 0.6 {
		t.Errorf("held-out span F1 %.3f, want ≥ 0.6", *ev.SpanF1)
	}
	for _, l := range []string{"LOC", "ORG", "PER"} {
		if ev.PerLabel[l].Support == 0 || ev.PerLabel[l].F1 < 0.3 {
			t.Errorf("label %s: %+v", l, ev.PerLabel[l])
		}
	}
	// PredictSpans gives the spans Evaluate scored, with their text.
	pred, err := train.PredictSpans(context.Background(), eng, res.Set, []string{test[0].Text}, 24)
	if err != nil {
		t.Fatal(err)
	}
	runes := []rune(test[0].Text)
	for _, e := range pred[0] {
		if e.Text != string(runes[e.Start:e.End]) || e.Score <= 0 || e.Score > 1 {
			t.Errorf("entity %+v of %q", e, test[0].Text)
		}
	}
	gold, _ := spans.Parse(test[0].Target, test[0].Text)
	t.Logf("%q: gold %v, predicted %+v", test[0].Text, gold, pred[0])
}

// Bad spans are an error naming the row and the span.
func TestSequenceLabelingBadSpans(t *testing.T) {
	eng := demoEngine(t)
	ex := []train.Example{
		{Text: "Anna lives in Oslo.", Target: `[{"start":0,"end":4,"label":"PER"}]`},
		{Text: "Oslo", Target: `[{"start":0,"end":9,"label":"LOC"}]`},
	}
	err := train.Check(eng, ex, train.KindText, opts("task", "sequence_labeling"))
	if err == nil || !strings.Contains(err.Error(), "row 2: span 1 [0, 9) is outside the text (4 characters)") {
		t.Fatalf("got %v", err)
	}
	ex[1].Target = `[]`
	ex[0].Target = `[]`
	if err := train.Check(eng, ex, train.KindText, opts("task", "sequence_labeling")); err == nil || !strings.Contains(err.Error(), "no row has any") {
		t.Fatalf("no spans at all: %v", err)
	}
}
