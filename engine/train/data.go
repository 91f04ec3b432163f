package train

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/spans"
)

// Example is one training row: a text (or a text pair) and its target, as
// text. Targets are class labels, numbers (regression), label sets
// (multilabel: a JSON array such as ["a","b"], or labels separated by |) or
// spans (sequence labeling: a JSON array of {"start", "end", "label"}, code
// points, end exclusive).
type Example struct {
	Text       string
	Target     string
	TextNull   bool // SQL NULL text
	TargetNull bool // SQL NULL target
	// HasPair makes the row a text pair (Text, Pair), tokenized with the
	// model's pair template: every row of a training set has one or none.
	HasPair  bool
	Pair     string
	PairNull bool // SQL NULL second text
}

// TargetKind hints the target's type where it is known (a SQL column's type);
// it decides the task when none is given.
type TargetKind int

const (
	KindUnknown TargetKind = iota // look at the values (CSV)
	KindInteger                   // integer column
	KindFloat                     // floating-point or decimal column
	KindText                      // character column
	KindJSON                      // JSON column
)

// maxClassesInferred bounds the distinct integer values that still read as
// classes when the task is inferred; more become a regression.
const maxClassesInferred = 20

// InferTask picks the task for examples whose task was not given: targets
// that are JSON arrays of objects (spans) → sequence labeling;
// a JSON column or JSON-array targets → multilabel; a floating-point column, or
// numbers that are not all integers, or integers with more than 20 distinct
// values → regression; anything else → classification. Labels separated by |
// are only read as multilabel when the task says so.
func InferTask(ex []Example, kind TargetKind) adapter.Task {
	for _, e := range ex {
		if !e.TargetNull && isSpanArray(e.Target) {
			return adapter.SequenceLabeling
		}
	}
	switch kind {
	case KindJSON:
		return adapter.Multilabel
	case KindFloat:
		return adapter.Regression
	}
	allNum, allInt, anyArray := true, true, false
	distinct := map[string]bool{}
	for _, e := range ex {
		if e.TargetNull {
			continue
		}
		t := strings.TrimSpace(e.Target)
		if strings.HasPrefix(t, "[") {
			anyArray = true
		}
		distinct[t] = true
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			allNum = false
			continue
		}
		if f != math.Trunc(f) {
			allInt = false
		}
	}
	switch {
	case anyArray && kind != KindInteger:
		return adapter.Multilabel
	case kind == KindText:
		return adapter.Classification
	case allNum && len(distinct) > 0 && (!allInt || len(distinct) > maxClassesInferred):
		return adapter.Regression
	}
	return adapter.Classification
}

// isSpanArray tells whether a target is a JSON array whose first element is
// an object: spans, not a label set.
func isSpanArray(s string) bool {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") {
		return false
	}
	return strings.HasPrefix(strings.TrimSpace(t[1:]), "{")
}

// parseLabelSet reads a multilabel target: a JSON array of strings or
// numbers, or labels separated by |. Empty sets are allowed (no label applies).
func parseLabelSet(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") {
		var raw []any
		if err := json.Unmarshal([]byte(t), &raw); err != nil {
			return nil, fmt.Errorf("target %q is not a JSON array: %v", s, err)
		}
		out := make([]string, 0, len(raw))
		for _, v := range raw {
			switch x := v.(type) {
			case string:
				out = append(out, x)
			case float64:
				out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
			case bool:
				out = append(out, strconv.FormatBool(x))
			default:
				return nil, fmt.Errorf("target %q: labels must be strings or numbers", s)
			}
		}
		return out, nil
	}
	if t == "" {
		return nil, nil
	}
	parts := strings.Split(t, "|")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// dataset is validated, labelled examples ready for training.
type dataset struct {
	spec    adapter.Spec
	texts   []string
	pairs   []string // second texts of a pair task (spec.Inputs == TextPair), else nil
	targets adapter.Targets
	spans   [][]spans.Span // sequence labeling: each row's spans
}

// prepare validates examples and turns targets into head targets. Every
// problem is an error naming the row (1-based).
func prepare(ex []Example, task adapter.Task, kind TargetKind) (*dataset, error) {
	if len(ex) == 0 {
		return nil, fmt.Errorf("no training rows")
	}
	inferred := task == ""
	if inferred {
		task = InferTask(ex, kind)
	}
	d := &dataset{spec: adapter.Spec{Task: task, Inputs: adapter.SingleText}, texts: make([]string, len(ex))}
	if ex[0].HasPair {
		if task == adapter.SequenceLabeling {
			return nil, fmt.Errorf("sequence labeling takes single texts, not text pairs")
		}
		d.spec.Inputs, d.pairs = adapter.TextPair, make([]string, len(ex))
	}
	for i, e := range ex {
		if e.HasPair != ex[0].HasPair {
			return nil, fmt.Errorf("row %d: a text pair among single texts (or the other way round): every row has one kind", i+1)
		}
		if e.TextNull {
			return nil, fmt.Errorf("row %d: text is NULL", i+1)
		}
		if strings.TrimSpace(e.Text) == "" {
			return nil, fmt.Errorf("row %d: text is empty", i+1)
		}
		if e.HasPair {
			if e.PairNull {
				return nil, fmt.Errorf("row %d: second text is NULL", i+1)
			}
			if strings.TrimSpace(e.Pair) == "" {
				return nil, fmt.Errorf("row %d: second text is empty", i+1)
			}
			d.pairs[i] = e.Pair
		}
		if e.TargetNull {
			return nil, fmt.Errorf("row %d: target is NULL", i+1)
		}
		d.texts[i] = e.Text
	}
	switch task {
	case adapter.Classification:
		seen := map[string]bool{}
		for _, e := range ex {
			seen[e.Target] = true
		}
		d.spec.Labels = adapter.SortedLabels(seen)
		if len(d.spec.Labels) < 2 {
			return nil, fmt.Errorf("classification needs at least two classes; every row has label %q", ex[0].Target)
		}
		index := map[string]int{}
		for i, l := range d.spec.Labels {
			index[l] = i
		}
		d.targets.Class = make([]int, len(ex))
		for i, e := range ex {
			d.targets.Class[i] = index[e.Target]
		}
	case adapter.Regression:
		vals := make([]float64, len(ex))
		for i, e := range ex {
			v, err := strconv.ParseFloat(strings.TrimSpace(e.Target), 64)
			if err != nil {
				return nil, fmt.Errorf("row %d: regression target %q is not a number", i+1, e.Target)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("row %d: regression target %q is not finite", i+1, e.Target)
			}
			vals[i] = v
		}
		mean, std := meanStd(vals)
		if std == 0 {
			lo, hi := slices.Min(vals), slices.Max(vals)
			if lo == hi {
				return nil, fmt.Errorf("regression needs targets that vary; all %d are %g", len(vals), lo)
			}
			return nil, fmt.Errorf("regression targets from %g to %g vary too little to standardise", lo, hi)
		}
		d.spec.TargetMean, d.spec.TargetStd = mean, std
		d.targets.Value = make([]float32, len(vals))
		for i, v := range vals {
			d.targets.Value[i] = float32(standardize(v, mean, std))
		}
	case adapter.Multilabel:
		sets := make([][]string, len(ex))
		seen := map[string]bool{}
		for i, e := range ex {
			s, err := parseLabelSet(e.Target)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", i+1, err)
			}
			sets[i] = s
			for _, l := range s {
				seen[l] = true
			}
		}
		d.spec.Labels = adapter.SortedLabels(seen)
		if len(d.spec.Labels) == 0 {
			return nil, fmt.Errorf("multilabel needs at least one label; no row has any")
		}
		index := map[string]int{}
		for i, l := range d.spec.Labels {
			index[l] = i
		}
		n := len(d.spec.Labels)
		d.targets.Multi = make([]float32, len(ex)*n)
		for i, s := range sets {
			for _, l := range s {
				d.targets.Multi[i*n+index[l]] = 1
			}
		}
	case adapter.SequenceLabeling:
		d.spans = make([][]spans.Span, len(ex))
		for i, e := range ex {
			sp, err := spans.Parse(e.Target, e.Text)
			if err != nil && inferred {
				return nil, fmt.Errorf("row %d: %w (the task was inferred as sequence_labeling because some target is a JSON array of objects; give the task option for another)", i+1, err)
			}
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", i+1, err)
			}
			d.spans[i] = sp
		}
		d.spec.Labels = spans.Labels(d.spans)
		if len(d.spec.Labels) == 0 {
			return nil, fmt.Errorf("sequence labeling needs at least one span; no row has any")
		}
	default:
		return nil, fmt.Errorf("unknown task %q", task)
	}
	return d, nil
}

// subset selects rows of targets.
func subset(t adapter.Targets, idx []int, n int) adapter.Targets {
	var s adapter.Targets
	s.ClassWeight = t.ClassWeight
	for _, i := range idx {
		switch {
		case t.Class != nil:
			s.Class = append(s.Class, t.Class[i])
		case t.Value != nil:
			s.Value = append(s.Value, t.Value[i])
		case t.Multi != nil:
			s.Multi = append(s.Multi, t.Multi[i*n:(i+1)*n]...)
		}
	}
	return s
}

// meanStd is the mean and population standard deviation of vals, computed on
// vals divided by their largest magnitude: squaring targets as large as 1e155
// directly overflows float64. Both are finite for finite vals (|mean| and std
// are at most the largest magnitude).
func meanStd(vals []float64) (mean, std float64) {
	var scale float64
	for _, v := range vals {
		scale = max(scale, math.Abs(v))
	}
	if scale == 0 || len(vals) == 0 {
		return 0, 0
	}
	n := float64(len(vals))
	var m float64
	for _, v := range vals {
		m += v / scale
	}
	m /= n
	var ss float64
	for _, v := range vals {
		d := v/scale - m
		ss += d * d
	}
	return m * scale, math.Sqrt(ss/n) * scale
}

// standardize is (v − mean) / std without overflow when v and mean are
// huge and of opposite signs.
func standardize(v, mean, std float64) float64 {
	if d := v - mean; !math.IsInf(d, 0) {
		return d / std
	}
	return v/std - mean/std
}
