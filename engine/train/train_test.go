package train_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/rng"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
)

var (
	demoOnce sync.Once
	demoEng  *engine.Engine
	demoErr  error
)

// demoEngine is the embedded demo model, shared by the tests of this package.
func demoEngine(t testing.TB) *engine.Engine {
	t.Helper()
	demoOnce.Do(func() {
		demoEng, demoErr = engine.Open(engine.Config{Model: "demo", Backend: testmodels.CPU(t), Log: zerolog.Nop()})
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoEng
}

func fortunes(t testing.TB, split string) []train.Example {
	t.Helper()
	f, err := os.Open(filepath.Join(testmodels.Root(), "datasets", "fortunes_"+split+".csv"))
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
	// The files are sorted by label: shuffle (fixed seed) so prefixes mix labels.
	rng.New(1).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func opts(kv ...string) train.Options {
	o := train.DefaultOptions()
	for i := 0; i < len(kv); i += 2 {
		if err := o.Set(kv[i], kv[i+1]); err != nil {
			panic(err)
		}
	}
	return o
}

// learningRun matches the learning tests (tens of epochs on hundreds of
// rows); make test runs them with go test -run 'Learns|Overfit' without -race.
const learningRun = "Learns|Overfit"

// learningTest skips a learning test in -short runs (make check) and under the
// race detector, which makes them take 1.7 times as long and has nothing to
// find in them that it does not find in TestDeterministic, TestCancel and
// TestProgress: the same training code, run under -race.
func learningTest(t *testing.T) {
	t.Helper()
	if !regexp.MustCompile(learningRun).MatchString(t.Name()) {
		t.Fatalf("learning test %s must match %q, or make test never runs it", t.Name(), learningRun)
	}
	if testing.Short() {
		t.Skip("learning test")
	}
	if raceEnabled {
		t.Skip("learning test: make test runs it without -race")
	}
}

// Overfitting a small set proves the gradients and the optimiser: 256 rows
// of 10 classes are learnt to ≥ 98% training accuracy.
func TestOverfit256(t *testing.T) {
	learningTest(t)
	eng := demoEngine(t)
	ex := fortunes(t, "train")[:256]
	res, err := train.Train(context.Background(), eng, ex, train.KindUnknown,
		opts("epochs", "30", "validation_fraction", "0", "max_length", "32", "learning_rate", "2e-3", "batch_size", "16"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := train.Evaluate(context.Background(), eng, res.Set, ex, 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("training accuracy %.4f after %d epochs (loss %.4f)", *ev.Accuracy, res.Metrics.Epochs, res.Metrics.TrainLoss)
	if *ev.Accuracy < 0.98 {
		t.Errorf("training accuracy %.4f, want ≥ 0.98", *ev.Accuracy)
	}
}

// Regression learns a quantity of the text (its word count), well beyond
// predicting the mean.
func TestRegressionLearns(t *testing.T) {
	learningTest(t)
	eng := demoEngine(t)
	var ex []train.Example
	for _, e := range fortunes(t, "train")[:400] {
		words := len(strings.Fields(e.Text))
		ex = append(ex, train.Example{Text: e.Text, Target: fmt.Sprint(math.Min(float64(words), 60))})
	}
	res, err := train.Train(context.Background(), eng, ex[:320], train.KindUnknown,
		opts("epochs", "15", "max_length", "64", "validation_fraction", "0.15"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Set.Task != adapter.Regression {
		t.Fatalf("task %s inferred, want regression", res.Set.Task)
	}
	ev, err := train.Evaluate(context.Background(), eng, res.Set, ex[320:], 64)
	if err != nil {
		t.Fatal(err)
	}
	std := res.Set.TargetStd
	t.Logf("held-out RMSE %.2f words (target std %.2f)", *ev.RMSE, std)
	if *ev.RMSE > 0.6*std {
		t.Errorf("RMSE %.2f is not well below the target's std %.2f", *ev.RMSE, std)
	}
}

// Multilabel learns which of several words a text contains, well beyond the
// baseline that predicts each label by its training frequency.
func TestMultilabelLearns(t *testing.T) {
	learningTest(t)
	eng := demoEngine(t)
	words := []string{"you", "the", "love", "computer", "is"}
	var ex []train.Example
	for _, e := range fortunes(t, "train")[:600] {
		var labels []string
		lower := " " + strings.ToLower(e.Text) + " "
		for _, w := range words {
			if strings.Contains(lower, " "+w+" ") {
				labels = append(labels, w)
			}
		}
		ex = append(ex, train.Example{Text: e.Text, Target: strings.Join(labels, "|")})
	}
	trainSet, testSet := ex[:480], ex[480:]
	res, err := train.Train(context.Background(), eng, trainSet, train.KindUnknown,
		opts("task", "multilabel", "epochs", "15", "max_length", "32", "learning_rate", "3e-3", "pool", "mean"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := train.Evaluate(context.Background(), eng, res.Set, testSet, 32)
	if err != nil {
		t.Fatal(err)
	}
	// Baseline: predict a label for every text iff most training texts have it.
	freq := map[string]int{}
	for _, e := range trainSet {
		for _, l := range strings.Split(e.Target, "|") {
			freq[l]++
		}
	}
	var tp, fp, fn float64
	for _, e := range testSet {
		has := map[string]bool{}
		for _, l := range strings.Split(e.Target, "|") {
			has[l] = true
		}
		for _, w := range words {
			pred := 2*freq[w] > len(trainSet)
			switch {
			case pred && has[w]:
				tp++
			case pred:
				fp++
			case has[w]:
				fn++
			}
		}
	}
	base := 2 * tp / (2*tp + fp + fn)
	t.Logf("held-out micro-F1 %.3f (baseline %.3f), exact-set accuracy %.3f", *ev.MicroF1, base, *ev.SubsetAccuracy)
	if *ev.MicroF1 < base+0.15 {
		t.Errorf("micro-F1 %.3f is not well above the baseline's %.3f", *ev.MicroF1, base)
	}
}

// trainEncoded trains on eng and returns the result with its adapter file.
func trainEncoded(t *testing.T, eng *engine.Engine, ex []train.Example, o train.Options) (*train.Result, []byte) {
	t.Helper()
	res, err := train.Train(context.Background(), eng, ex, train.KindUnknown, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := adapter.Encode(res.Set, adapter.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// Same seed, data and thread count give the same adapter bytes.
func TestDeterministic(t *testing.T) {
	eng := demoEngine(t)
	ex := fortunes(t, "train")[:48]
	o := opts("epochs", "2", "max_length", "32", "batch_size", "8")
	_, first := trainEncoded(t, eng, ex, o)
	if _, again := trainEncoded(t, eng, ex, o); !bytes.Equal(first, again) {
		t.Error("two runs with the same seed gave different adapters")
	}
	o.Seed++
	if _, other := trainEncoded(t, eng, ex, o); bytes.Equal(first, other) {
		t.Error("another seed gave the same adapter")
	}
}

func TestHeadOnly(t *testing.T) {
	eng := demoEngine(t)
	ex := fortunes(t, "train")[:64]
	res, err := train.Train(context.Background(), eng, ex, train.KindUnknown, opts("trainable", "head", "epochs", "3", "max_length", "32"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Only the head moved: a fresh set of the same seed has the same body.
	fresh, err := adapter.New(eng.Model(), res.Set.Spec, train.DefaultOptions().Seed)
	if err != nil {
		t.Fatal(err)
	}
	got, want := res.Set.Params(), fresh.Params()
	for i := range got {
		same := true
		for j := range got[i].Data {
			same = same && got[i].Data[j] == want[i].Data[j]
		}
		if got[i].Head == same {
			t.Errorf("tensor %s: changed=%v", got[i].Name, !same)
		}
	}
}

func TestCancel(t *testing.T) {
	eng := demoEngine(t)
	ex := fortunes(t, "train")[:200]
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	_, err := train.Train(ctx, eng, ex, train.KindUnknown, opts("epochs", "50", "max_length", "32"), func(p train.Progress) {
		steps++
		if steps == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// TestProgress checks the reports a training run makes: steps up to the
// total, and one "epoch done" per epoch, after its validation, carrying that
// epoch's training and validation loss (the last epoch's too), NaN without a
// validation set.
func TestProgress(t *testing.T) {
	eng := demoEngine(t)
	ex := fortunes(t, "train")[:40]
	for _, val := range []string{"0.2", "0"} {
		var last train.Progress
		var epochs []train.Progress
		res, err := train.Train(context.Background(), eng, ex, train.KindUnknown,
			opts("epochs", "3", "max_length", "32", "batch_size", "8", "validation_fraction", val, "early_stopping", "0"),
			func(p train.Progress) {
				last = p
				if p.Phase == "epoch done" {
					epochs = append(epochs, p)
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		if last.Phase != "epoch done" || last.Epoch != 3 || last.Steps == 0 || last.Step != last.Steps {
			t.Errorf("validation %s: last progress %+v", val, last)
		}
		if len(epochs) != 3 {
			t.Fatalf("validation %s: %d epoch reports, want 3", val, len(epochs))
		}
		best := math.Inf(1)
		for i, p := range epochs {
			if p.Epoch != i+1 || !(p.Loss > 0) || !(p.ExamplesPerSec > 0) || p.Last != (i == 2) {
				t.Errorf("validation %s: epoch report %d: %+v", val, i+1, p)
			}
			if val == "0" {
				if !math.IsNaN(p.ValLoss) {
					t.Errorf("no validation set, yet epoch %d reports validation loss %g", p.Epoch, p.ValLoss)
				}
				continue
			}
			if !(p.ValLoss > 0) {
				t.Errorf("epoch %d reports validation loss %g", p.Epoch, p.ValLoss)
			}
			best = math.Min(best, p.ValLoss)
		}
		if got := epochs[2].Loss; got != res.Metrics.TrainLoss {
			t.Errorf("validation %s: last epoch reports training loss %g, metrics %g", val, got, res.Metrics.TrainLoss)
		}
		if val != "0" && (res.Metrics.ValLoss == nil || *res.Metrics.ValLoss != best) {
			t.Errorf("best reported validation loss %g, metrics %v", best, res.Metrics.ValLoss)
		}
	}
	// Early stopping: the epoch it stops after is the last one reported, and
	// says so (logs raise its line).
	var epochs []train.Progress
	res, err := train.Train(context.Background(), eng, ex, train.KindUnknown,
		opts("epochs", "12", "max_length", "32", "batch_size", "8", "validation_fraction", "0.2", "early_stopping", "1",
			"learning_rate", "0.05"),
		func(p train.Progress) {
			if p.Phase == "epoch done" {
				epochs = append(epochs, p)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(epochs) != res.Metrics.Epochs || len(epochs) == 0 {
		t.Fatalf("%d epoch reports, %d epochs run", len(epochs), res.Metrics.Epochs)
	}
	for i, p := range epochs {
		if p.Last != (i == len(epochs)-1) {
			t.Errorf("epoch %d of %d: Last %v", p.Epoch, len(epochs), p.Last)
		}
	}
	t.Logf("early stopping after %d of 12 epochs", len(epochs))
}

func TestBadInput(t *testing.T) {
	eng := demoEngine(t)
	two := []train.Example{{Text: "a b", Target: "x"}, {Text: "c d", Target: "y"}}
	cases := []struct {
		name string
		ex   []train.Example
		o    train.Options
		want string
	}{
		{"empty set", nil, opts(), "no training rows"},
		{"one class", []train.Example{{Text: "a", Target: "x"}, {Text: "b", Target: "x"}}, opts(), "at least two classes"},
		{"null text", append([]train.Example{{TextNull: true, Target: "x"}}, two...), opts(), "row 1: text is NULL"},
		{"empty text", append(append([]train.Example{}, two...), train.Example{Text: "  ", Target: "x"}), opts(), "row 3: text is empty"},
		{"null target", append(append([]train.Example{}, two...), train.Example{Text: "e", TargetNull: true}), opts(), "row 3: target is NULL"},
		{"non-numeric regression", []train.Example{{Text: "a", Target: "1"}, {Text: "b", Target: "two"}}, opts("task", "regression"), "row 2: regression target \"two\" is not a number"},
		{"nan target", []train.Example{{Text: "a", Target: "1"}, {Text: "b", Target: "NaN"}}, opts("task", "regression"), "not finite"},
		{"inf target", []train.Example{{Text: "a", Target: "+Inf"}, {Text: "b", Target: "2"}}, opts("task", "regression"), "not finite"},
		{"constant regression", []train.Example{{Text: "a", Target: "1"}, {Text: "b", Target: "1.0"}}, opts("task", "regression"), "targets that vary"},
		{"constant huge regression", []train.Example{{Text: "a", Target: "-1e155"}, {Text: "b", Target: "-1e155"}}, opts("task", "regression"), "all 2 are -1e+155"},
		{"balanced regression", []train.Example{{Text: "a", Target: "1.5"}, {Text: "b", Target: "2.5"}}, opts("task", "regression", "class_weights", "balanced"), "option class_weights: balanced weighs classes, so it needs a classification task; task is regression"},
		{"balanced inferred regression", []train.Example{{Text: "a", Target: "1.5"}, {Text: "b", Target: "2.5"}}, opts("class_weights", "balanced"), "class_weights: balanced weighs classes, so it needs a classification task; this one is regression"},
		{"balanced multilabel", []train.Example{{Text: "a", Target: `["x"]`}, {Text: "b", Target: `["y"]`}}, opts("class_weights", "balanced"), "this one is multilabel"},
		{"adapter too large", two, opts("adapter_size", "4096"), "option adapter_size: 4096 is out of range [1, 1024] (at most 4 × the base model's hidden size 256)"},
		{"bad multilabel", []train.Example{{Text: "a", Target: "[1,"}, {Text: "b", Target: "x"}}, opts("task", "multilabel"), "not a JSON array"},
		{"invalid utf8", []train.Example{{Text: "a\xff", Target: "x"}, {Text: "b", Target: "y"}}, opts(), "UTF-8"},
		{"inferred spans", []train.Example{{Text: "Anna", Target: "pos"}, {Text: "Bob", Target: `[{"start":0,"end":3,"label":"PER"}]`}}, opts(),
			"row 1: spans are not a JSON array of {\"start\", \"end\", \"label\"}: invalid character 'p' looking for beginning of value (the task was inferred as sequence_labeling"},
		{"given spans", []train.Example{{Text: "Anna", Target: "[{}]"}}, opts("task", "sequence_labeling"), "row 1: span 1: needs \"start\", \"end\" and \"label\""},
	}
	for _, c := range cases {
		_, err := train.Train(context.Background(), eng, c.ex, train.KindUnknown, c.o, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestInferTask(t *testing.T) {
	ex := func(targets ...string) []train.Example {
		var out []train.Example
		for _, t := range targets {
			out = append(out, train.Example{Text: "x", Target: t})
		}
		return out
	}
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	cases := []struct {
		ex   []train.Example
		kind train.TargetKind
		want adapter.Task
	}{
		{ex("pos", "neg"), train.KindUnknown, adapter.Classification},
		{ex("1", "0", "1"), train.KindUnknown, adapter.Classification},
		{ex("1.5", "2.25"), train.KindUnknown, adapter.Regression},
		{ex(many...), train.KindUnknown, adapter.Regression},
		{ex(many...), train.KindText, adapter.Classification},
		{ex("1", "2"), train.KindFloat, adapter.Regression},
		{ex(`["a"]`, `["a","b"]`), train.KindUnknown, adapter.Multilabel},
		{ex(`["a"]`), train.KindJSON, adapter.Multilabel},
		{ex("a|b", "c"), train.KindUnknown, adapter.Classification},
		{ex(`[]`, ` [ {"start":0,"end":1,"label":"X"}]`), train.KindJSON, adapter.SequenceLabeling},
		{ex(`[]`, `[{"start":0,"end":1,"label":"X"}]`), train.KindText, adapter.SequenceLabeling},
	}
	for i, c := range cases {
		if got := train.InferTask(c.ex, c.kind); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
}

// Targets as large as ±1e155 train and evaluate: their mean and spread are
// computed without squaring them into +Inf (they were refused as "all 40 are
// -1e+155"), and the metrics stay finite.
func TestRegressionHugeTargets(t *testing.T) {
	eng := demoEngine(t)
	var ex []train.Example
	for i := 0; i < 40; i++ {
		v := -1e155
		if i%2 == 1 {
			v = 1e155
		}
		if i == 0 {
			v = -1.7e308 // the spread 1.7e308 + 1e155 is still a float64
		}
		ex = append(ex, train.Example{Text: fmt.Sprintf("row %d", i), Target: fmt.Sprint(v)})
	}
	res, err := train.Train(context.Background(), eng, ex, train.KindUnknown,
		opts("task", "regression", "epochs", "1", "max_length", "16", "validation_fraction", "0.2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, s := res.Set.TargetMean, res.Set.TargetStd; math.IsInf(m, 0) || math.IsNaN(m) || !(s > 1e155) || math.IsInf(s, 0) {
		t.Errorf("target mean %g, std %g; want finite, std above 1e155", m, s)
	}
	ev, err := train.Evaluate(context.Background(), eng, res.Set, ex, 16)
	if err != nil {
		t.Fatal(err)
	}
	if ev.RMSE == nil || math.IsInf(*ev.RMSE, 0) || math.IsNaN(*ev.RMSE) || *ev.RMSE <= 0 || math.IsInf(*ev.MAE, 0) {
		t.Errorf("RMSE %v, MAE %v: want finite and positive", ev.RMSE, ev.MAE)
	}
}

// TestAdapterSizeLimit: the documented limit, 4 × the base model's hidden
// size (1024 on the demo model), trains; one more is refused before training.
func TestAdapterSizeLimit(t *testing.T) {
	eng := demoEngine(t)
	limit := adapter.MaxSize(eng.Model().Cfg.Hidden)
	two := []train.Example{{Text: "a b", Target: "x"}, {Text: "c d", Target: "y"}}
	if _, err := train.Train(context.Background(), eng, two, train.KindUnknown,
		opts("adapter_size", fmt.Sprint(limit), "epochs", "1", "validation_fraction", "0", "max_length", "8"), nil); err != nil {
		t.Errorf("adapter_size %d: %v", limit, err)
	}
	_, err := train.Train(context.Background(), eng, two, train.KindUnknown, opts("adapter_size", fmt.Sprint(limit+1)), nil)
	if want := fmt.Sprintf("option adapter_size: %d is out of range [1, %d]", limit+1, limit); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("adapter_size %d: error %v, want %q", limit+1, err, want)
	}
}

// TestCheckModel: the checks that need the base model, or an explicit task,
// refuse a value before any row is read (CheckModel, which Train and Check
// make first), each as an *OptionError naming the key and the bad value,
// in a search's list too.
func TestCheckModel(t *testing.T) {
	eng := demoEngine(t)
	limit := adapter.MaxSize(eng.Model().Cfg.Hidden)
	search := func(key string, values ...string) train.Options {
		o := train.DefaultOptions()
		var s train.Search
		if err := s.Add(key, values); err != nil {
			t.Fatal(err)
		}
		o.Search = &s
		return o
	}
	gpt2, err := engine.Open(engine.Config{Model: filepath.Join(testmodels.Root(), "models", "gpt2-tiny"), Backend: testmodels.CPU(t), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer gpt2.Close()
	for _, c := range []struct {
		name       string
		eng        *engine.Engine
		o          train.Options
		key, value string // "" when accepted
		msg        string
	}{
		{"size at the limit", eng, opts("adapter_size", fmt.Sprint(limit)), "", "", ""},
		{"size past the limit", eng, opts("adapter_size", fmt.Sprint(limit+1)), "adapter_size", fmt.Sprint(limit + 1), "is out of range"},
		{"size list", eng, search("adapter_size", "8", fmt.Sprint(limit+7)), "adapter_size", fmt.Sprint(limit + 7), "is out of range"},
		{"size list within", eng, search("adapter_size", "8", fmt.Sprint(limit)), "", "", ""},
		{"a list replaces the base value", eng, func() train.Options {
			o := search("adapter_size", "8", "16")
			o.AdapterSize = limit + 1 // never trained: each trial takes a value of the list
			return o
		}(), "", "", ""},
		{"balanced regression", eng, opts("class_weights", "balanced", "task", "regression"), "class_weights", "balanced", "needs a classification task"},
		{"balanced inferred", eng, opts("class_weights", "balanced"), "", "", ""},
		{"balanced classification", eng, opts("class_weights", "balanced", "task", "classification"), "", "", ""},
		{"cls without a pooler", gpt2, opts("pool", "cls"), "pool", "cls", "needs a pooler"},
		{"cls in a list", gpt2, search("pool", "last", "cls"), "pool", "cls", "needs a pooler"},
		{"last on gpt2", gpt2, opts("pool", "last"), "", "", ""},
	} {
		err := c.o.CheckModel(c.eng.Model())
		if c.key == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var oe *train.OptionError
		if !errors.As(err, &oe) || oe.Key != c.key || oe.Value != c.value || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v (%#v), want option %s = %s: %s", c.name, err, oe, c.key, c.value, c.msg)
		}
		// Train refuses it before reading the rows (an empty set would be
		// its own error).
		if _, err := train.Train(context.Background(), c.eng, nil, train.KindUnknown, c.o, nil); !errors.As(err, &oe) {
			t.Errorf("%s: Train: %v, want the option's error first", c.name, err)
		}
	}
}
