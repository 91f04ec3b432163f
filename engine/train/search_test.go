package train_test

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/train"
)

func search(t *testing.T, method string, trials int, lists map[string][]string, order ...string) train.Search {
	t.Helper()
	s := train.Search{Method: method, Trials: trials}
	for _, k := range order {
		if err := s.Add(k, lists[k]); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// A 2×2 grid on a tiny set trains four trials on the same split, keeps the
// one with the lowest validation loss and returns its adapter and options.
func TestSearchGrid(t *testing.T) {
	eng := demoEngine(t)
	ex := fortunes(t, "train")[:40]
	base := opts("epochs", "2", "batch_size", "8", "validation_fraction", "0.25")
	s := search(t, "", 0, map[string][]string{"learning_rate": {"1e-4", "3e-3"}, "adapter_size": {"8", "16"}},
		"learning_rate", "adapter_size")
	var seen [][2]int
	res, err := train.SearchTrain(context.Background(), eng, ex, train.KindText, base, s, func(p train.Progress) {
		if len(seen) == 0 || seen[len(seen)-1][0] != p.Trial {
			seen = append(seen, [2]int{p.Trial, p.Trials})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{1, 4}, {2, 4}, {3, 4}, {4, 4}}; !reflect.DeepEqual(seen, want) {
		t.Errorf("progress trials %v, want %v", seen, want)
	}
	if len(res.Trials) != 4 {
		t.Fatalf("%d trials, want 4", len(res.Trials))
	}
	// Grid order: the last list varies fastest.
	wantOpts := []map[string]string{
		{"learning_rate": "0.0001", "adapter_size": "8"}, {"learning_rate": "0.0001", "adapter_size": "16"},
		{"learning_rate": "0.003", "adapter_size": "8"}, {"learning_rate": "0.003", "adapter_size": "16"},
	}
	best, bestLoss, chosen := -1, math.Inf(1), 0
	for i, tr := range res.Trials {
		if tr.Trial != i+1 || !reflect.DeepEqual(tr.Options, wantOpts[i]) {
			t.Errorf("trial %d: %d %v, want %d %v", i, tr.Trial, tr.Options, i+1, wantOpts[i])
		}
		if tr.Metrics == nil || tr.Metrics.ValLoss == nil || tr.Error != "" {
			t.Fatalf("trial %d: no validation loss (%q)", i+1, tr.Error)
		}
		if tr.Metrics.ValRows != 10 || tr.Metrics.TrainRows != 30 {
			t.Errorf("trial %d: %d train / %d validation rows, want 30 / 10 (one split for all)", i+1, tr.Metrics.TrainRows, tr.Metrics.ValRows)
		}
		if tr.Seconds <= 0 {
			t.Errorf("trial %d: seconds %v", i+1, tr.Seconds)
		}
		if *tr.Metrics.ValLoss < bestLoss {
			best, bestLoss = i, *tr.Metrics.ValLoss
		}
		if tr.Chosen {
			chosen++
		}
	}
	if chosen != 1 || !res.Trials[best].Chosen {
		t.Fatalf("chosen: %d trials, want trial %d alone", chosen, best+1)
	}
	if *res.Metrics.ValLoss != bestLoss {
		t.Errorf("result's validation loss %v, want the best trial's %v", *res.Metrics.ValLoss, bestLoss)
	}
	if got := res.Options.Map(); got["learning_rate"] != wantOpts[best]["learning_rate"] || got["adapter_size"] != wantOpts[best]["adapter_size"] {
		t.Errorf("result options %v, want trial %d's %v", got, best+1, wantOpts[best])
	}
	if res.Set.Size != res.Options.AdapterSize {
		t.Errorf("result adapter size %d, options say %d", res.Set.Size, res.Options.AdapterSize)
	}
	// The kept adapter is the chosen trial's: training it alone gives the
	// same weights (training is deterministic for a seed).
	alone, err := train.Train(context.Background(), eng, ex, train.KindText, res.Options, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range alone.Set.Params() {
		if !reflect.DeepEqual(p.Data, res.Set.Params()[i].Data) {
			t.Fatalf("parameter %d differs from the chosen trial trained alone", i)
		}
	}
}

// Random search draws distinct combinations from the seed: the same seed,
// the same trials; another seed, (here) another draw.
func TestSearchRandomReproducible(t *testing.T) {
	eng := demoEngine(t)
	ex := fortunes(t, "train")[:24]
	lists := map[string][]string{"learning_rate": {"1e-4", "3e-4", "1e-3", "3e-3"}, "adapter_size": {"4", "8", "16"}}
	s := search(t, "random", 3, lists, "learning_rate", "adapter_size")
	run := func(seed string) ([]map[string]string, []float64) {
		base := opts("epochs", "1", "batch_size", "8", "validation_fraction", "0.25", "seed", seed)
		res, err := train.SearchTrain(context.Background(), eng, ex, train.KindText, base, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		var o []map[string]string
		var l []float64
		for _, tr := range res.Trials {
			o, l = append(o, tr.Options), append(l, *tr.Metrics.ValLoss)
		}
		return o, l
	}
	o1, l1 := run("7")
	o2, l2 := run("7")
	if len(o1) != 3 {
		t.Fatalf("%d trials, want 3", len(o1))
	}
	if !reflect.DeepEqual(o1, o2) || !reflect.DeepEqual(l1, l2) {
		t.Errorf("same seed, different trials:\n%v %v\n%v %v", o1, l1, o2, l2)
	}
	distinct := map[string]bool{}
	for _, o := range o1 {
		distinct[o["learning_rate"]+"/"+o["adapter_size"]] = true
	}
	if len(distinct) != 3 {
		t.Errorf("trials repeat a combination: %v", o1)
	}
	for seed := uint64(8); ; seed++ {
		if c := s.Combinations(seed); !reflect.DeepEqual(c, s.Combinations(7)) {
			break
		} else if seed > 20 {
			t.Fatalf("every seed draws %v", c)
		}
	}
}

// The search's rules, each refused with a message that says what to do.
func TestSearchRules(t *testing.T) {
	base := train.DefaultOptions()
	for _, c := range []struct {
		name string
		set  func(s *train.Search) error
		want string
	}{
		{"not listable", func(s *train.Search) error { return s.Add("seed", []string{"1", "2"}) }, "takes one value"},
		{"task list", func(s *train.Search) error { return s.Add("task", []string{"regression"}) }, "takes one value"},
		{"bad value", func(s *train.Search) error { return s.Add("learning_rate", []string{"1e-3", "-1"}) }, "learning_rate"},
		{"same value", func(s *train.Search) error { return s.Add("learning_rate", []string{"1e-3", "0.001"}) }, "same value"},
		{"bad method", func(s *train.Search) error { return s.Set("search", "bayes") }, "grid or random"},
		{"trials 0", func(s *train.Search) error { return s.Set("trials", "0") }, "[1, 64]"},
		{"trials 65", func(s *train.Search) error { return s.Set("trials", "65") }, "[1, 64]"},
		{"no lists", func(s *train.Search) error { s.Method = "grid"; return s.Check(base) }, "at least one option"},
		{"random without trials", func(s *train.Search) error {
			s.Add("learning_rate", []string{"1e-3", "1e-4"})
			s.Method = "random"
			return s.Check(base)
		}, "needs trials"},
		{"grid with trials", func(s *train.Search) error {
			s.Add("learning_rate", []string{"1e-3", "1e-4"})
			s.Trials = 2
			return s.Check(base)
		}, "applies to search = 'random'"},
		{"too many trials", func(s *train.Search) error {
			s.Add("learning_rate", []string{"1e-3", "1e-4"})
			s.Method, s.Trials = "random", 3
			return s.Check(base)
		}, "more than the lists' 2 combinations"},
		{"grid too big", func(s *train.Search) error {
			for _, k := range []string{"learning_rate", "weight_decay", "max_grad_norm"} {
				s.Add(k, []string{"0.1", "0.2", "0.3", "0.4", "0.5"})
			}
			return s.Check(base)
		}, "125 combinations, more than 64"},
		{"no validation", func(s *train.Search) error {
			s.Add("learning_rate", []string{"1e-3", "1e-4"})
			b := base
			b.ValidationFraction = 0
			return s.Check(b)
		}, "validation_fraction must be > 0"},
	} {
		var s train.Search
		err := c.set(&s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	// A large grid is fine for random search, which samples it.
	var s train.Search
	for _, k := range []string{"learning_rate", "weight_decay", "max_grad_norm"} {
		if err := s.Add(k, []string{"0.1", "0.2", "0.3", "0.4", "0.5"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Method, s.Trials = "random", 64
	if err := s.Check(base); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Combinations(1)); n != 64 {
		t.Errorf("%d combinations drawn, want 64", n)
	}
}

// Rows too few to hold any out for validation are refused before training.
func TestSearchNeedsValidationRows(t *testing.T) {
	ex := []train.Example{{Text: "one", Target: "a"}, {Text: "two", Target: "b"}, {Text: "three", Target: "a"}}
	s := search(t, "", 0, map[string][]string{"learning_rate": {"1e-4", "1e-3"}}, "learning_rate")
	_, err := train.SearchTrain(context.Background(), demoEngine(t), ex, train.KindText, train.DefaultOptions(), s, nil)
	if err == nil || !strings.Contains(err.Error(), "hold out none") {
		t.Fatalf("got %v, want the validation rows refused", err)
	}
}
