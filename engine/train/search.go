package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/rng"
)

// Hyperparameter search: some options take a list of values, every
// combination (grid) or a seeded sample of them (random) is trained on the
// same rows, split the same way, and the trial with the lowest validation
// loss is kept.

// MaxTrials bounds a search: a grid's combinations, random search's trials
// and the values of one list.
const MaxTrials = 64

// Search methods.
const (
	SearchGrid   = "grid"
	SearchRandom = "random"
)

// listable are the options that may take a list. The others would make the
// validation losses of two trials incomparable (task, validation_fraction,
// seed: another loss, another validation set; class_weights: another
// weighting of the loss) or are not training settings.
var listable = map[string]bool{
	"adapter_size": true, "activation": true, "epochs": true, "learning_rate": true, "batch_size": true,
	"max_length": true, "weight_decay": true, "warmup_fraction": true, "early_stopping": true,
	"trainable": true, "pool": true, "max_grad_norm": true,
}

// Listable reports whether an option may take a list of values.
func Listable(key string) bool { return listable[strings.ToLower(strings.TrimSpace(key))] }

// ListableKeys are the options that may take a list, sorted.
func ListableKeys() []string {
	var out []string
	for _, k := range Keys() {
		if listable[k] {
			out = append(out, k)
		}
	}
	return out
}

// IsSearchKey reports whether key is one of the search's own options
// (search, trials), which Search.Set takes and Options.Set does not.
func IsSearchKey(key string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	return k == "search" || k == "trials"
}

// Param is one option given as a list of values.
type Param struct {
	Key    string
	Values []string
}

// Search is a hyperparameter search: the listed options and how to combine
// them. The zero value is a grid over no lists (not Active).
type Search struct {
	Method string // SearchGrid ("" means grid) or SearchRandom
	Trials int    // random search: combinations to sample; 0 for a grid
	Params []Param
}

// values is the list given for key, nil when key is not listed (or s is
// nil).
func (s *Search) values(key string) []string {
	if s == nil {
		return nil
	}
	for _, p := range s.Params {
		if p.Key == key {
			return p.Values
		}
	}
	return nil
}

// Active reports whether anything asks for a search.
func (s *Search) Active() bool {
	return s != nil && (len(s.Params) > 0 || s.Method != "" || s.Trials > 0)
}

// Set applies search = 'grid' | 'random' or trials = N.
func (s *Search) Set(key, value string) error {
	v := strings.TrimSpace(value)
	switch k := strings.ToLower(strings.TrimSpace(key)); k {
	case "search":
		switch strings.ToLower(v) {
		case SearchGrid, SearchRandom:
			s.Method = strings.ToLower(v)
			return nil
		}
		return fmt.Errorf("option search: %q must be grid or random", value)
	case "trials":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxTrials {
			return fmt.Errorf("option trials: %q must be an integer in [1, %d]", value, MaxTrials)
		}
		s.Trials = n
		return nil
	default:
		return fmt.Errorf("unknown search option %q (search, trials)", key)
	}
}

// Add records an option given as a list. Each value is checked as
// Options.Set checks it; a value given twice is refused (it would train the
// same trial twice).
func (s *Search) Add(key string, values []string) error {
	k := strings.ToLower(strings.TrimSpace(key))
	if !listable[k] {
		return fmt.Errorf("option %s takes one value, not a list (lists are accepted for %s)", key,
			strings.Join(ListableKeys(), ", "))
	}
	for _, p := range s.Params {
		if p.Key == k {
			return fmt.Errorf("option %s is listed twice", key)
		}
	}
	if len(values) == 0 {
		return fmt.Errorf("option %s: the list is empty", key)
	}
	if len(values) > MaxTrials {
		return fmt.Errorf("option %s: %d values, at most %d", key, len(values), MaxTrials)
	}
	seen := map[string]string{}
	norm := make([]string, len(values))
	for i, v := range values {
		o := DefaultOptions()
		if err := o.Set(k, v); err != nil {
			return err
		}
		// Compare values as the option reads them: 1e-3 and 0.001 are one.
		n := o.Map()[k]
		if first, ok := seen[n]; ok {
			return fmt.Errorf("option %s: %s and %s are the same value", key, first, v)
		}
		seen[n], norm[i] = v, n
	}
	s.Params = append(s.Params, Param{Key: k, Values: norm})
	return nil
}

// combinations is the grid's size, saturating at math.MaxInt.
func (s *Search) combinations() int {
	n := 1
	for _, p := range s.Params {
		if n > math.MaxInt/len(p.Values) {
			return math.MaxInt
		}
		n *= len(p.Values)
	}
	return n
}

// Check validates the search against the other options: the method's
// requirements, the bounds and a validation set to choose by.
func (s *Search) Check(base Options) error {
	if len(s.Params) == 0 {
		return errors.New("a search needs at least one option given as a list of values, e.g. learning_rate = (1e-4, 1e-3)")
	}
	n := s.combinations()
	switch s.Method {
	case "", SearchGrid:
		if s.Trials > 0 {
			return errors.New("option trials applies to search = 'random': a grid trains every combination")
		}
		if n > MaxTrials {
			return fmt.Errorf("the grid has %s, more than %d: shorten the lists, or use search = 'random' with trials = N", combos(n), MaxTrials)
		}
	case SearchRandom:
		if s.Trials == 0 {
			return fmt.Errorf("search = 'random' needs trials = N (1 to %d)", MaxTrials)
		}
		if s.Trials > n {
			return fmt.Errorf("trials = %d is more than the lists' %s", s.Trials, combos(n))
		}
	}
	if base.ValidationFraction == 0 {
		return errors.New("a search keeps the trial with the best validation loss, so validation_fraction must be > 0")
	}
	return nil
}

func combos(n int) string {
	if n == math.MaxInt {
		return "too many combinations"
	}
	if n == 1 {
		return "1 combination"
	}
	return fmt.Sprintf("%d combinations", n)
}

// Combinations returns the trials' values of the listed options, in trial
// order. A grid varies the last list fastest (nested loops in the order
// the options were given); random search draws distinct combinations from
// a stream seeded by seed, so the same seed gives the same trials.
func (s *Search) Combinations(seed uint64) [][]string {
	n := s.combinations()
	pick := func(idx []int) []string {
		out := make([]string, len(idx))
		for i, j := range idx {
			out[i] = s.Params[i].Values[j]
		}
		return out
	}
	var out [][]string
	if s.Method != SearchRandom {
		for c := 0; c < n; c++ {
			idx, r := make([]int, len(s.Params)), c
			for i := len(s.Params) - 1; i >= 0; i-- {
				idx[i], r = r%len(s.Params[i].Values), r/len(s.Params[i].Values)
			}
			out = append(out, pick(idx))
		}
		return out
	}
	g := rng.Named(seed, "search")
	seen := map[string]bool{}
	for len(out) < min(s.Trials, n) {
		idx := make([]int, len(s.Params))
		for i, p := range s.Params {
			idx[i] = g.Intn(len(p.Values))
		}
		k := fmt.Sprint(idx)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, pick(idx))
	}
	return out
}

// Trial is one trained combination.
type Trial struct {
	Trial   int               `json:"trial"`   // 1-based, in training order
	Options map[string]string `json:"options"` // the listed options' values
	Metrics *Metrics          `json:"metrics,omitempty"`
	Error   string            `json:"error,omitempty"` // the trial failed (diverged, say)
	Seconds float64           `json:"seconds"`
	Chosen  bool              `json:"chosen"`
}

// SearchResult is the chosen trial's adapter, with every trial.
type SearchResult struct {
	Result          // the chosen trial's adapter and metrics
	Options Options // the chosen trial's options
	Trials  []Trial
	Method  string // SearchGrid or SearchRandom
}

// SearchTrain trains every combination of s on ex and returns the one with
// the lowest validation loss (the first of equals). All trials share base's
// seed, so they train and validate on the same rows. A trial that fails
// (training diverged, say) is recorded and the search goes on; cancellation
// stops it. progress, if not nil, is called as Train calls it, with Trial
// and Trials set.
func SearchTrain(ctx context.Context, eng *engine.Engine, ex []Example, kind TargetKind, base Options, s Search,
	progress func(Progress)) (*SearchResult, error) {
	if err := s.Check(base); err != nil {
		return nil, err
	}
	// A list value the model refuses fails the search, not just its trials.
	withLists := base
	withLists.Search = &s
	if err := withLists.CheckModel(eng.Model()); err != nil {
		return nil, err
	}
	base.Search = nil // each trial trains once
	// Bad rows fail every trial: report them once, before any training.
	if _, err := prepare(ex, base.Task, kind); err != nil {
		return nil, err
	}
	if err := checkRows(len(ex), base); err != nil {
		return nil, err
	}
	combos := s.Combinations(base.Seed)
	out := &SearchResult{Method: s.Method, Trials: make([]Trial, 0, len(combos))}
	if out.Method == "" {
		out.Method = SearchGrid
	}
	best, bestLoss := -1, math.Inf(1)
	var firstErr error
	for i, vals := range combos {
		tr := Trial{Trial: i + 1, Options: map[string]string{}}
		opts := base
		for j, p := range s.Params {
			if err := opts.Set(p.Key, vals[j]); err != nil {
				return nil, err // Add checked every value
			}
			tr.Options[p.Key] = vals[j]
		}
		var prog func(Progress)
		if progress != nil {
			prog = func(p Progress) {
				p.Trial, p.Trials = i+1, len(combos)
				progress(p)
			}
		}
		start := time.Now()
		res, err := Train(ctx, eng, ex, kind, opts, prog)
		tr.Seconds = time.Since(start).Seconds()
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("trial %d (%s): %w", i+1, describe(s.Params, vals), err)
			}
			tr.Error = err.Error()
			out.Trials = append(out.Trials, tr)
			continue
		}
		met := res.Metrics
		tr.Metrics = &met
		if met.ValLoss != nil && *met.ValLoss < bestLoss {
			best, bestLoss = i, *met.ValLoss
			out.Result, out.Options = *res, opts
		}
		out.Trials = append(out.Trials, tr)
	}
	if best < 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("every trial failed; %w", firstErr)
		}
		return nil, errors.New("no trial has a validation loss")
	}
	out.Trials[best].Chosen = true
	return out, nil
}

// checkRows refuses a search on rows too few to hold any out for validation
// (split's rule): it would have nothing to choose by.
func checkRows(n int, base Options) error {
	if _, val := split(n, base.ValidationFraction, base.Seed); len(val) == 0 {
		return fmt.Errorf("a search chooses by validation loss, but %d rows at validation_fraction %g hold out none: add rows or raise validation_fraction",
			n, base.ValidationFraction)
	}
	return nil
}

// describe is "learning_rate=0.001, adapter_size=16".
func describe(params []Param, vals []string) string {
	kv := make([]string, len(params))
	for i, p := range params {
		kv[i] = p.Key + "=" + vals[i]
	}
	return strings.Join(kv, ", ")
}
