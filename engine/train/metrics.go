package train

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
)

// Eval scores predictions against targets.
type Eval struct {
	Rows int     `json:"rows"`
	Loss float64 `json:"loss"`
	// classification
	Accuracy *float64 `json:"accuracy,omitempty"`
	MacroF1  *float64 `json:"macro_f1,omitempty"`
	// regression (in target units)
	RMSE *float64 `json:"rmse,omitempty"`
	MAE  *float64 `json:"mae,omitempty"`
	// multilabel: micro-averaged F1 over labels, and exact-set accuracy
	MicroF1        *float64 `json:"micro_f1,omitempty"`
	SubsetAccuracy *float64 `json:"subset_accuracy,omitempty"`
	// sequence labeling: spans by exact match (start, end and label),
	// micro-averaged over labels, and per label
	SpanPrecision *float64              `json:"span_precision,omitempty"`
	SpanRecall    *float64              `json:"span_recall,omitempty"`
	SpanF1        *float64              `json:"span_f1,omitempty"`
	PerLabel      map[string]LabelScore `json:"per_label,omitempty"`
}

func ptr(x float64) *float64 { return &x }

// score computes the loss and the task's metrics for logits [B, n].
func score(set *adapter.Set, logits []float32, t adapter.Targets, B int) (*Eval, error) {
	loss, _, err := set.Loss(logits, B, t)
	if err != nil {
		return nil, err
	}
	ev := &Eval{Rows: B, Loss: loss}
	n := set.Outputs()
	switch set.Task {
	case adapter.Classification:
		pred := make([]int, B)
		for i := range pred {
			row := logits[i*n : (i+1)*n]
			for j := range row {
				if row[j] > row[pred[i]] {
					pred[i] = j
				}
			}
		}
		acc, f1 := classScores(pred, t.Class, n)
		ev.Accuracy, ev.MacroF1 = ptr(acc), ptr(f1)
	case adapter.Regression:
		// Errors are summed in standardised units and scaled once at the
		// end: squaring them in target units overflows for huge targets.
		var se, ae float64
		for i := 0; i < B; i++ {
			e := float64(logits[i]) - float64(t.Value[i])
			se += e * e
			ae += math.Abs(e)
		}
		ev.RMSE, ev.MAE = ptr(math.Sqrt(se/float64(B))*set.TargetStd), ptr(ae/float64(B)*set.TargetStd)
	case adapter.Multilabel:
		var tp, fp, fn, exact float64
		for i := 0; i < B; i++ {
			same := true
			for j := 0; j < n; j++ {
				p, y := logits[i*n+j] >= 0, t.Multi[i*n+j] == 1
				switch {
				case p && y:
					tp++
				case p && !y:
					fp++
				case !p && y:
					fn++
				}
				same = same && p == y
			}
			if same {
				exact++
			}
		}
		f1 := 0.0
		if tp > 0 {
			f1 = 2 * tp / (2*tp + fp + fn)
		}
		ev.MicroF1, ev.SubsetAccuracy = ptr(f1), ptr(exact/float64(B))
	}
	return ev, nil
}

// classScores is accuracy and macro-averaged F1 (mean over classes that occur
// in the targets or the predictions).
func classScores(pred, truth []int, k int) (acc, macroF1 float64) {
	tp, fp, fn := make([]float64, k+1), make([]float64, k+1), make([]float64, k+1)
	correct := 0
	for i := range pred {
		if pred[i] == truth[i] {
			correct++
			tp[pred[i]]++
		} else {
			fp[pred[i]]++
			fn[truth[i]]++
		}
	}
	var sum float64
	var classes int
	for c := range tp {
		if tp[c]+fp[c]+fn[c] == 0 {
			continue
		}
		classes++
		sum += 2 * tp[c] / (2*tp[c] + fp[c] + fn[c])
	}
	if len(pred) == 0 {
		return 0, 0
	}
	return float64(correct) / float64(len(pred)), sum / float64(max(classes, 1))
}

// Evaluate scores a trained set on labelled examples (a test set). A class
// label the set never saw counts as a wrong prediction.
func Evaluate(ctx context.Context, eng *engine.Engine, set *adapter.Set, ex []Example, maxLength int) (*Eval, error) {
	if len(ex) == 0 {
		return nil, fmt.Errorf("no rows to evaluate")
	}
	if set.Task == adapter.SequenceLabeling {
		return evaluateSpans(ctx, eng, set, ex, maxLength)
	}
	m := eng.Model()
	if err := set.Align(m); err != nil {
		return nil, err
	}
	a := set.Bind(m.Be)
	defer adapter.Unbind(m.Be, a)
	inputs := make([]engine.Input, len(ex))
	for i, e := range ex {
		if e.HasPair != (set.Inputs == adapter.TextPair) {
			return nil, fmt.Errorf("row %d: the adapter takes %d text(s) a row, the row has %d", i+1, set.Inputs.Texts(), map[bool]int{false: 1, true: 2}[e.HasPair])
		}
		inputs[i] = engine.Input{Text: e.Text, Pair: e.Pair, HasPair: e.HasPair, Adapter: a, Pool: set.Pool, MaxLength: maxLength}
	}
	feats, err := eng.Features(ctx, inputs)
	if err != nil {
		return nil, err
	}
	H, B := m.Cfg.Hidden, len(ex)
	pooled := make([]float32, 0, B*H)
	for _, f := range feats {
		pooled = append(pooled, f...)
	}
	logits := set.Logits(pooled, B)
	var t adapter.Targets
	n := set.Outputs()
	index := map[string]int{}
	for i, l := range set.Labels {
		index[l] = i
	}
	switch set.Task {
	case adapter.Classification:
		t.Class = make([]int, B)
		extra := n // unseen labels map to an extra class no prediction matches
		for i, e := range ex {
			c, ok := index[e.Target]
			if !ok {
				c = extra
			}
			t.Class[i] = c
		}
		pred := make([]int, B)
		for i := range pred {
			row := logits[i*n : (i+1)*n]
			for j := range row {
				if row[j] > row[pred[i]] {
					pred[i] = j
				}
			}
		}
		acc, f1 := classScores(pred, t.Class, n)
		// Loss over rows with known labels only.
		var known []int
		for i, c := range t.Class {
			if c < n {
				known = append(known, i)
			}
		}
		ev := &Eval{Rows: B, Accuracy: ptr(acc), MacroF1: ptr(f1)}
		if len(known) > 0 {
			sub := make([]float32, 0, len(known)*n)
			for _, i := range known {
				sub = append(sub, logits[i*n:(i+1)*n]...)
			}
			loss, _, err := set.Loss(sub, len(known), subset(t, known, n))
			if err != nil {
				return nil, err
			}
			ev.Loss = loss
		}
		return ev, nil
	case adapter.Regression:
		t.Value = make([]float32, B)
		for i, e := range ex {
			v, err := strconv.ParseFloat(strings.TrimSpace(e.Target), 64)
			if err != nil {
				return nil, fmt.Errorf("row %d: target %q is not a number", i+1, e.Target)
			}
			t.Value[i] = float32(standardize(v, set.TargetMean, set.TargetStd))
		}
	case adapter.Multilabel:
		t.Multi = make([]float32, B*n)
		for i, e := range ex {
			labels, err := parseLabelSet(e.Target)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", i+1, err)
			}
			for _, l := range labels {
				if j, ok := index[l]; ok {
					t.Multi[i*n+j] = 1
				}
			}
		}
	}
	return score(set, logits, t, B)
}

// Majority is the accuracy and macro-F1 of always predicting the most
// frequent training label (the baseline a classifier must beat).
func Majority(trainLabels, testLabels []string) (acc, macroF1 float64) {
	count := map[string]int{}
	for _, l := range trainLabels {
		count[l]++
	}
	best := ""
	for l, c := range count {
		if c > count[best] || (c == count[best] && l < best) {
			best = l
		}
	}
	index := map[string]int{best: 0}
	truth := make([]int, len(testLabels))
	for i, l := range testLabels {
		if _, ok := index[l]; !ok {
			index[l] = len(index)
		}
		truth[i] = index[l]
	}
	return classScores(make([]int, len(testLabels)), truth, len(index))
}
