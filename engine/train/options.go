// Package train fits an adapter to labelled texts: backpropagation through
// the frozen base model into the adapter blocks, LayerNorm copies and head
// (or the head alone, the linear-probe baseline), with AdamW, linear warm-up
// and decay, validation, early stopping and class weighting.
package train

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/kernels"
)

// Options are the training settings. Their keys (Set, Map) are the same on
// the command line (--set key=value) and in SQL (OPTIONS (key = value)).
//
// Defaults follow the adapter literature (Houlsby et al. 2019, "Parameter-
// Efficient Transfer Learning for NLP"): bottleneck 64, Adam with a linear
// warm-up over the first 10% of steps then linear decay to zero, batch 32, and
// a learning rate inside their swept range 3e-5…3e-3 (1e-3: small bottleneck
// weights learn fast, and the datasets users train on in a database are small).
// AdamW's decoupled weight decay 0.01 and gradient clipping at norm 1 are the
// usual transformer fine-tuning settings.
type Options struct {
	Task               adapter.Task // "" infers it from the targets
	AdapterSize        int
	Activation         kernels.Act
	Epochs             int
	LearningRate       float64
	BatchSize          int
	MaxLength          int // tokens per text, special tokens included
	WeightDecay        float64
	WarmupFraction     float64
	ValidationFraction float64
	EarlyStopping      int    // patience in epochs without a better validation loss; 0 disables
	ClassWeights       string // none | balanced
	Seed               uint64
	Trainable          string     // adapters | head
	Pool               model.Pool // PoolDefault: the model's default
	MaxGradNorm        float64
	// Search lists values for some options (search.go): registry.Train then
	// trains each combination and keeps the best. nil trains once.
	Search *Search
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		AdapterSize:        adapter.DefaultSize,
		Activation:         kernels.ActGELU,
		Epochs:             10,
		LearningRate:       1e-3,
		BatchSize:          32,
		MaxLength:          128,
		WeightDecay:        0.01,
		WarmupFraction:     0.1,
		ValidationFraction: 0.1,
		EarlyStopping:      3,
		ClassWeights:       "none",
		Seed:               42,
		Trainable:          "adapters",
		MaxGradNorm:        1,
	}
}

// Keys lists the option keys Set accepts, sorted.
func Keys() []string {
	keys := make([]string, 0, len(setters))
	for k := range setters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The options OPTIONS (...) and --set take besides Options' own and the
// search's (IsSearchKey): they say how the adapter is stored or run, not how
// it is trained, so the statement or command applies them.
const (
	KeyKeepVersions = "keep_versions"
	KeyBackground   = "background"
)

// AllKeys lists every option key OPTIONS (...) accepts, sorted: Keys, the
// search's and the statement's own. Unknown-option messages name these.
func AllKeys() []string {
	keys := append(Keys(), "search", "trials", KeyKeepVersions, KeyBackground)
	sort.Strings(keys)
	return keys
}

var setters = map[string]func(o *Options, v string) error{
	"task": func(o *Options, v string) (err error) {
		if v == "" || v == "auto" {
			o.Task = ""
			return nil
		}
		o.Task, err = adapter.ParseTask(v)
		return err
	},
	// The upper limit depends on the base model (4 × its hidden size, see
	// adapter.MaxSize): adapter.New checks it once the model is known.
	"adapter_size": intOpt(func(o *Options) *int { return &o.AdapterSize }, 1, 0),
	"activation": func(o *Options, v string) error {
		switch v {
		case "gelu":
			o.Activation = kernels.ActGELU
		case "gelu_tanh", "gelu_new":
			o.Activation = kernels.ActGELUTanh
		case "relu":
			o.Activation = kernels.ActReLU
		case "tanh":
			o.Activation = kernels.ActTanh
		default:
			return fmt.Errorf("unknown activation %q (gelu, gelu_tanh, relu, tanh)", v)
		}
		return nil
	},
	"epochs":        intOpt(func(o *Options) *int { return &o.Epochs }, 1, 10000),
	"learning_rate": floatOpt(func(o *Options) *float64 { return &o.LearningRate }, 0, 10, false),
	"batch_size":    intOpt(func(o *Options) *int { return &o.BatchSize }, 1, 4096),
	"max_length":    intOpt(func(o *Options) *int { return &o.MaxLength }, 2, 1<<16),
	"weight_decay":  floatOpt(func(o *Options) *float64 { return &o.WeightDecay }, 0, 1, true),
	"warmup_fraction": floatOpt(func(o *Options) *float64 {
		return &o.WarmupFraction
	}, 0, 1, true),
	"validation_fraction": func(o *Options, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f >= 1 || math.IsNaN(f) {
			return fmt.Errorf("validation_fraction %q must be a number in [0, 1)", v)
		}
		o.ValidationFraction = f
		return nil
	},
	"early_stopping": func(o *Options, v string) error {
		switch strings.ToLower(v) {
		case "true", "on", "yes":
			o.EarlyStopping = 3
			return nil
		case "false", "off", "no":
			o.EarlyStopping = 0
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("early_stopping %q must be true, false or a patience in epochs", v)
		}
		o.EarlyStopping = n
		return nil
	},
	"class_weights": func(o *Options, v string) error {
		if v != "none" && v != "balanced" {
			return fmt.Errorf("class_weights %q must be none or balanced", v)
		}
		o.ClassWeights = v
		return nil
	},
	"seed": func(o *Options, v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("seed %q must be a non-negative integer", v)
		}
		o.Seed = n
		return nil
	},
	"trainable": func(o *Options, v string) error {
		if v != "adapters" && v != "head" {
			return fmt.Errorf("trainable %q must be adapters or head", v)
		}
		o.Trainable = v
		return nil
	},
	"pool": func(o *Options, v string) (err error) {
		o.Pool, err = model.ParsePool(v)
		return err
	},
	"max_grad_norm": floatOpt(func(o *Options) *float64 { return &o.MaxGradNorm }, 0, 1e6, true),
}

// intOpt accepts integers in [lo, hi]; hi ≤ 0 means no upper limit here.
func intOpt(field func(*Options) *int, lo, hi int) func(*Options, string) error {
	return func(o *Options, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if hi <= 0 && (err != nil || n < lo) {
			return fmt.Errorf("%q must be an integer ≥ %d", v, lo)
		}
		if err != nil || n < lo || (hi > 0 && n > hi) {
			return fmt.Errorf("%q must be an integer in [%d, %d]", v, lo, hi)
		}
		*field(o) = n
		return nil
	}
}

// floatOpt accepts numbers in [lo, hi], or in (0, hi] when lo is 0 and zero
// is not allowed (a learning rate of 0 would train nothing).
func floatOpt(field func(*Options) *float64, lo, hi float64, zeroOK bool) func(*Options, string) error {
	return func(o *Options, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < lo || f > hi || (!zeroOK && f == 0) {
			open := "["
			if !zeroOK && lo == 0 {
				open = "("
			}
			return fmt.Errorf("%q must be a number in %s%g, %g]", v, open, lo, hi)
		}
		*field(o) = f
		return nil
	}
}

// Set applies one key=value option.
func (o *Options) Set(key, value string) error {
	k := strings.ToLower(strings.TrimSpace(key))
	f, ok := setters[k]
	if !ok {
		return fmt.Errorf("unknown option %q (known: %s)", key, strings.Join(AllKeys(), ", "))
	}
	v := strings.TrimSpace(value)
	switch k {
	case "task", "activation", "trainable", "pool":
		// Keywords, case-insensitive like SQL's; other values (class
		// weights name labels) keep their case.
		v = strings.ToLower(v)
	}
	if err := f(o, v); err != nil {
		return fmt.Errorf("option %s: %w", key, err)
	}
	return nil
}

// OptionError is an option value refused by CheckModel: Key and Value as the
// user gave them (a value of a search's list, for a list).
type OptionError struct {
	Key, Value string
	Err        error
}

func (e *OptionError) Error() string { return fmt.Sprintf("option %s: %v", e.Key, e.Err) }

func (e *OptionError) Unwrap() error { return e.Err }

// CheckModel makes the checks Set cannot, before any row is read: the limits
// that depend on the base model (adapter_size at most adapter.MaxSize of its
// hidden size, a pooling it has), on each value of a search's list where
// the option is one, and class_weights against a task given explicitly (an
// inferred task is checked once the targets are read). Its errors are
// *OptionError.
func (o Options) CheckModel(m *model.Model) error {
	for _, key := range []string{"adapter_size", "pool"} {
		trials := []Options{o}
		if vals := o.Search.values(key); vals != nil { // a list: each trial sets it
			trials = trials[:0]
			for _, v := range vals {
				t := o
				if err := t.Set(key, v); err != nil {
					return &OptionError{key, v, err}
				}
				trials = append(trials, t)
			}
		}
		for _, t := range trials {
			if err := t.checkModel(m, key); err != nil {
				return err
			}
		}
	}
	if o.ClassWeights == "balanced" && o.Task != "" && o.Task != adapter.Classification {
		return &OptionError{"class_weights", o.ClassWeights, fmt.Errorf(
			"balanced weighs classes, so it needs a classification task; task is %s", o.Task)}
	}
	return nil
}

// checkModel checks one option's value against the base model.
func (o Options) checkModel(m *model.Model, key string) error {
	switch key {
	case "adapter_size":
		if max := adapter.MaxSize(m.Cfg.Hidden); o.AdapterSize > max {
			return &OptionError{key, strconv.Itoa(o.AdapterSize), fmt.Errorf(
				"%d is out of range [1, %d] (at most 4 × the base model's hidden size %d)", o.AdapterSize, max, m.Cfg.Hidden)}
		}
	case "pool":
		if _, err := m.Resolve(o.Pool); err != nil {
			return &OptionError{key, o.Map()["pool"], err}
		}
	}
	return nil
}

// Map renders the options as key → value strings (stored with the adapter).
func (o Options) Map() map[string]string {
	task := string(o.Task)
	if task == "" {
		task = "auto"
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return map[string]string{
		"task": task, "adapter_size": strconv.Itoa(o.AdapterSize), "activation": o.Activation.String(),
		"epochs": strconv.Itoa(o.Epochs), "learning_rate": f(o.LearningRate),
		"batch_size": strconv.Itoa(o.BatchSize), "max_length": strconv.Itoa(o.MaxLength),
		"weight_decay": f(o.WeightDecay), "warmup_fraction": f(o.WarmupFraction),
		"validation_fraction": f(o.ValidationFraction), "early_stopping": strconv.Itoa(o.EarlyStopping),
		"class_weights": o.ClassWeights, "seed": strconv.FormatUint(o.Seed, 10),
		"trainable": o.Trainable, "pool": o.Pool.String(), "max_grad_norm": f(o.MaxGradNorm),
	}
}
