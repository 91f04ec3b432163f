package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/spans"
)

// Metric is one named figure of an evaluation report.
type Metric struct {
	Name  string
	Value float64 // NaN: undefined for this data (log_loss without a known label)
}

// Cell is one non-empty cell of a confusion matrix.
type Cell struct {
	Actual, Predicted string
	N                 int64
}

// ErrTarget reports a target of the wrong kind for the adapter's task (text
// for a regression, a JSON array for a classification, ...).
var ErrTarget = errors.New("wrong kind of target")

// Target is one parsed target (Scorer.Parse).
type Target struct {
	Label  string       // classification
	Value  float64      // regression
	Labels []string     // multilabel, distinct
	Spans  []spans.Span // sequence labeling
}

// logLossFloor bounds -log p: a probability of exactly 0 (underflow) would
// make the mean infinite. sklearn clips at the same place.
const logLossFloor = 1e-15

// labelCounts are one label's counts: true positives, false positives, false
// negatives, and rows whose target has it.
type labelCounts struct{ tp, fp, fn, support float64 }

// Scorer accumulates an adapter's predictions against targets, chunk by
// chunk, and reports the task's metrics. A target label the adapter never saw
// counts as a wrong prediction (it can never be predicted) and is reported.
type Scorer struct {
	task   adapter.Task
	labels []string
	index  map[string]int

	rows, skipped int64
	// classification and multilabel
	counts  map[string]*labelCounts
	unseen  int64   // rows with a label the adapter never saw
	correct int64   // exact predictions (multilabel: the whole set)
	ll      float64 // sum of -log p(target) over rows with a known label
	llRows  int64
	cells   map[[2]string]int64
	// regression: sums of errors, and the targets' running mean and
	// squared deviations (Welford: no cancellation for large targets)
	se, ae, mean, m2 float64
}

// NewScorer scores predictions of an adapter with this task and these labels
// (the set's Labels, in output order).
func NewScorer(task adapter.Task, labels []string) *Scorer {
	s := &Scorer{task: task, labels: labels, index: map[string]int{}, counts: map[string]*labelCounts{},
		cells: map[[2]string]int64{}}
	for i, l := range labels {
		s.index[l] = i
	}
	return s
}

// Skip counts a row left out (a NULL text or target).
func (s *Scorer) Skip() { s.skipped++ }

// Rows is the number of rows scored; Skipped the number skipped.
func (s *Scorer) Rows() int64    { return s.rows }
func (s *Scorer) Skipped() int64 { return s.skipped }

// Parse checks a target (as text; kind is its SQL type where known) against
// the task and parses it. Errors wrap ErrTarget.
func (s *Scorer) Parse(target string, kind TargetKind) (Target, error) {
	switch s.task {
	case adapter.Classification:
		if kind == KindJSON {
			return Target{}, fmt.Errorf("%w: a classification adapter takes one label per row, not a JSON value (%s)", ErrTarget, short(target))
		}
		if _, known := s.index[target]; !known && looksLikeArray(target) {
			return Target{}, fmt.Errorf("%w: a classification adapter takes one label per row, not a JSON array (%s)", ErrTarget, short(target))
		}
		return Target{Label: target}, nil
	case adapter.Regression:
		if kind == KindJSON {
			return Target{}, fmt.Errorf("%w: a regression adapter takes numbers, not a JSON value (%s)", ErrTarget, short(target))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(target), 64)
		if err != nil {
			return Target{}, fmt.Errorf("%w: a regression adapter takes numbers; %s is not one", ErrTarget, short(target))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Target{}, fmt.Errorf("%w: regression target %s is not finite", ErrTarget, short(target))
		}
		return Target{Value: v}, nil
	case adapter.Multilabel:
		if kind == KindInteger || kind == KindFloat {
			return Target{}, fmt.Errorf("%w: a multilabel adapter takes a JSON array of labels (or labels separated by |), not a number (%s)", ErrTarget, short(target))
		}
		ls, err := parseLabelSet(target)
		if err != nil {
			return Target{}, fmt.Errorf("%w: a multilabel adapter takes a JSON array of labels (or labels separated by |): %v", ErrTarget, err)
		}
		seen := map[string]bool{}
		out := ls[:0]
		for _, l := range ls {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
		return Target{Labels: out}, nil
	case adapter.SequenceLabeling:
		return Target{}, fmt.Errorf("%w: a sequence labeling target needs its text (ParseText)", ErrTarget)
	}
	return Target{}, fmt.Errorf("unknown task %q", s.task)
}

// ParseText is Parse for a row whose text is known: sequence labeling
// targets (spans) are checked against the text.
func (s *Scorer) ParseText(target, text string, kind TargetKind) (Target, error) {
	if s.task != adapter.SequenceLabeling {
		return s.Parse(target, kind)
	}
	if kind == KindInteger || kind == KindFloat {
		return Target{}, fmt.Errorf("%w: a sequence labeling adapter takes a JSON array of spans, not a number (%s)", ErrTarget, short(target))
	}
	sp, err := spans.Parse(target, text)
	if err != nil {
		return Target{}, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	return Target{Spans: sp}, nil
}

// addSpans scores one text's predicted spans against its parsed target:
// exact matches of start, end and label.
func (s *Scorer) addSpans(t Target, pred []spans.Entity) {
	type key struct {
		start, end int
		label      string
	}
	gold := map[key]bool{}
	for _, g := range t.Spans {
		gold[key{g.Start, g.End, g.Label}] = true
		s.label(g.Label).support++
		if _, known := s.index[g.Label]; !known {
			s.unseen++
		}
	}
	for _, p := range pred {
		k := key{p.Start, p.End, p.Label}
		if gold[k] {
			s.label(p.Label).tp++
			delete(gold, k)
		} else {
			s.label(p.Label).fp++
		}
	}
	for k := range gold {
		s.label(k.label).fn++
	}
}

func looksLikeArray(s string) bool {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") {
		return false
	}
	var raw []any
	return json.Unmarshal([]byte(t), &raw) == nil
}

// short quotes a target for an error message, cut to 40 bytes.
func short(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}

func (s *Scorer) label(l string) *labelCounts {
	c := s.counts[l]
	if c == nil {
		c = &labelCounts{}
		s.counts[l] = c
	}
	return c
}

// Add scores one prediction against its parsed target.
func (s *Scorer) Add(t Target, p adapter.Prediction) {
	s.rows++
	switch s.task {
	case adapter.SequenceLabeling:
		s.addSpans(t, p.Entities)
	case adapter.Classification:
		s.cells[[2]string{t.Label, p.Label}]++
		s.label(t.Label).support++
		if t.Label == p.Label {
			s.correct++
			s.label(t.Label).tp++
		} else {
			s.label(p.Label).fp++
			s.label(t.Label).fn++
		}
		if _, known := s.index[t.Label]; known {
			s.ll -= math.Log(max(p.Proba[t.Label], logLossFloor))
			s.llRows++
		} else {
			s.unseen++
		}
	case adapter.Regression:
		e := p.Value - t.Value
		s.se += e * e
		s.ae += math.Abs(e)
		d := t.Value - s.mean
		s.mean += d / float64(s.rows)
		s.m2 += d * (t.Value - s.mean)
	case adapter.Multilabel:
		want := map[string]bool{}
		unseen := false
		for _, l := range t.Labels {
			want[l] = true
			s.label(l).support++
			if _, known := s.index[l]; !known {
				unseen = true
			}
		}
		if unseen {
			s.unseen++
		}
		got := map[string]bool{}
		for _, l := range p.Labels {
			got[l] = true
			if want[l] {
				s.label(l).tp++
			} else {
				s.label(l).fp++
			}
		}
		for _, l := range t.Labels {
			if !got[l] {
				s.label(l).fn++
			}
		}
		same := len(got) == len(want)
		for l := range want {
			same = same && got[l]
		}
		if same {
			s.correct++
		}
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// perLabel is the labels the report has rows for: the adapter's, then the
// unseen ones found in the targets, sorted.
func (s *Scorer) perLabel() []string {
	out := append([]string(nil), s.labels...)
	var extra []string
	for l := range s.counts {
		if _, known := s.index[l]; !known {
			extra = append(extra, l)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// f1s are the macro F1 (mean over labels that occur in the targets or the
// predictions, as classScores) and the per-label rows.
func (s *Scorer) f1s() (macro, weighted float64, rows []Metric) {
	var sum, n, wsum float64
	for _, l := range s.perLabel() {
		c := s.counts[l]
		if c == nil {
			c = &labelCounts{}
		}
		f1 := ratio(2*c.tp, 2*c.tp+c.fp+c.fn)
		if c.tp+c.fp+c.fn > 0 {
			sum += f1
			n++
		}
		wsum += f1 * c.support
		rows = append(rows, Metric{"precision:" + l, ratio(c.tp, c.tp+c.fp)}, Metric{"recall:" + l, ratio(c.tp, c.tp+c.fn)},
			Metric{"f1:" + l, f1}, Metric{"support:" + l, c.support})
	}
	return ratio(sum, n), ratio(wsum, float64(s.rows)), rows
}

// Metrics is the report, in a fixed order: rows, skipped, the task's
// summary figures, unseen_labels (classification, multilabel), then
// precision, recall, f1 and support per label. It needs at least one row.
func (s *Scorer) Metrics() ([]Metric, error) {
	if s.rows == 0 {
		return nil, fmt.Errorf("no rows to evaluate (%d skipped: NULL text or target)", s.skipped)
	}
	rows := float64(s.rows)
	out := []Metric{{"rows", rows}, {"skipped", float64(s.skipped)}}
	switch s.task {
	case adapter.Classification:
		macro, weighted, per := s.f1s()
		ll := math.NaN()
		if s.llRows > 0 {
			ll = s.ll / float64(s.llRows)
		}
		out = append(out, Metric{"accuracy", float64(s.correct) / rows}, Metric{"macro_f1", macro},
			Metric{"weighted_f1", weighted}, Metric{"log_loss", ll}, Metric{"unseen_labels", float64(s.unseen)})
		out = append(out, per...)
	case adapter.Regression:
		r2 := 1 - s.se/s.m2
		if s.m2 == 0 { // constant targets: R² is undefined; sklearn's convention
			r2 = 0
			if s.se == 0 {
				r2 = 1
			}
		}
		out = append(out, Metric{"rmse", math.Sqrt(s.se / rows)}, Metric{"mae", s.ae / rows}, Metric{"r2", r2})
	case adapter.Multilabel:
		var tp, fp, fn float64
		for _, c := range s.counts {
			tp, fp, fn = tp+c.tp, fp+c.fp, fn+c.fn
		}
		macro, _, per := s.f1s()
		out = append(out, Metric{"micro_f1", ratio(2*tp, 2*tp+fp+fn)}, Metric{"macro_f1", macro},
			Metric{"subset_accuracy", float64(s.correct) / rows}, Metric{"unseen_labels", float64(s.unseen)})
		out = append(out, per...)
	case adapter.SequenceLabeling:
		var tp, fp, fn float64
		for _, c := range s.counts {
			tp, fp, fn = tp+c.tp, fp+c.fp, fn+c.fn
		}
		macro, _, per := s.f1s()
		out = append(out, Metric{"span_precision", ratio(tp, tp+fp)}, Metric{"span_recall", ratio(tp, tp+fn)},
			Metric{"span_f1", ratio(2*tp, 2*tp+fp+fn)}, Metric{"macro_f1", macro}, Metric{"gold_spans", tp + fn},
			Metric{"predicted_spans", tp + fp}, Metric{"unseen_labels", float64(s.unseen)})
		out = append(out, per...)
	}
	return out, nil
}

// Confusion is the classification confusion matrix's non-empty cells, by
// actual then predicted label.
func (s *Scorer) Confusion() []Cell {
	out := make([]Cell, 0, len(s.cells))
	for k, n := range s.cells {
		out = append(out, Cell{Actual: k[0], Predicted: k[1], N: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Actual != out[j].Actual {
			return out[i].Actual < out[j].Actual
		}
		return out[i].Predicted < out[j].Predicted
	})
	return out
}
