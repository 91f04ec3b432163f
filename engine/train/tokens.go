package train

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/spans"
)

// Sequence labeling trains on windows, not rows: every row is tokenized with
// offsets, cut into windows that fit max_length (engine.Label), and each
// window is one training sequence whose tokens carry BIO tags (special tokens
// and padding are ignored by the loss). The run's seqs are then the windows,
// and the loop (train.go) batches and steps over window indices.

// tokenRun is the sequence labeling state of a run.
type tokenRun struct {
	labs   []*engine.Labeling // per row
	tags   [][]int            // per window: a tag per token of its sequence
	rowOf  []int              // per window: its row
	winsOf [][]int            // per row: its windows
}

// tokenizeWindows prepares every row's windows and their tags.
func (r *run) tokenizeWindows() error {
	index := map[string]int{}
	for i, l := range r.set.Labels {
		index[l] = i
	}
	tr := &tokenRun{labs: make([]*engine.Labeling, len(r.data.texts)), winsOf: make([][]int, len(r.data.texts))}
	r.seqs = r.seqs[:0]
	for i, text := range r.data.texts {
		lab, err := r.eng.Label(text, r.opts.MaxLength)
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		tr.labs[i] = lab
		for w, tags := range lab.Tags(spans.Tag(r.data.spans[i], lab.Offsets, index)) {
			tr.winsOf[i] = append(tr.winsOf[i], len(r.seqs))
			r.seqs = append(r.seqs, lab.Seqs[w])
			tr.tags = append(tr.tags, tags)
			tr.rowOf = append(tr.rowOf, i)
		}
	}
	r.tok = tr
	return nil
}

// windowsOf lists the windows of rows.
func (tr *tokenRun) windowsOf(rows []int) []int {
	var out []int
	for _, i := range rows {
		out = append(out, tr.winsOf[i]...)
	}
	return out
}

// tokenForward runs windows through the model and returns, with the pass,
// every token's hidden state [B·T, H] and tags [B·T] (Ignore for padding).
func (r *run) tokenForward(ctx context.Context, idx []int, train bool) (hidden []float32, tags []int, T int, release func(), backward func([]float32) error, err error) {
	seqs := make([]engine.Sequence, len(idx))
	for i, k := range idx {
		seqs[i] = r.seqs[k]
	}
	batch := engine.Pack(r.m.Cfg, seqs, []model.Segment{{Seqs: len(idx), Adapter: r.bound}})
	pass, err := r.m.Forward(ctx, batch, train)
	if err != nil {
		return nil, nil, 0, nil, nil, err
	}
	T = batch.Len
	hidden = make([]float32, len(idx)*T*r.m.Cfg.Hidden)
	r.m.Be.Download(hidden, pass.Hidden)
	tags = make([]int, len(idx)*T)
	for i, k := range idx {
		row := tags[i*T : (i+1)*T]
		for t := range row {
			row[t] = spans.Ignore
		}
		copy(row, r.tok.tags[k])
	}
	backward = func(dHidden []float32) error { return pass.Backward(ctx, pass.Upload(dHidden), r.bound, r.gradB) }
	return hidden, tags, T, pass.Release, backward, nil
}

// tokenStep runs forward and backward over a batch of windows and returns its
// mean token loss.
func (r *run) tokenStep(ctx context.Context, idx []int) (float64, error) {
	hidden, tags, T, release, backward, err := r.tokenForward(ctx, idx, true)
	if err != nil {
		return 0, err
	}
	defer release()
	rows := len(idx) * T
	logits := r.set.Logits(hidden, rows)
	loss, dLogits, err := r.set.Loss(logits, rows, adapter.Targets{Tags: tags})
	if err != nil {
		return 0, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("training diverged (loss %v): lower learning_rate", loss)
	}
	dHidden := r.set.HeadBackward(r.grad, hidden, dLogits, rows)
	if r.opts.Trainable == "head" {
		return loss, nil // the adapter blocks are not trained: no need to go further back
	}
	return loss, backward(dHidden)
}

// tokenEvaluate scores validation windows: the token loss, and span-level
// precision, recall and F1 of the rows they come from.
func (r *run) tokenEvaluate(ctx context.Context, idx []int) (*Eval, error) {
	order := append([]int(nil), idx...)
	sort.SliceStable(order, func(a, b int) bool { return len(r.seqs[order[a]].IDs) < len(r.seqs[order[b]].IDs) })
	H := r.m.Cfg.Hidden
	perWindow := map[int][]float32{}
	var lossSum float64
	var tagged int
	bs := max(r.opts.BatchSize, 32)
	for lo := 0; lo < len(order); lo += bs {
		chunk := order[lo:min(lo+bs, len(order))]
		hidden, tags, T, release, _, err := r.tokenForward(ctx, chunk, false)
		if err != nil {
			return nil, err
		}
		release()
		rows := len(chunk) * T
		loss, _, err := r.set.Loss(r.set.Logits(hidden, rows), rows, adapter.Targets{Tags: tags})
		if err != nil {
			return nil, err
		}
		k := 0
		for _, y := range tags {
			if y >= 0 {
				k++
			}
		}
		lossSum += loss * float64(k)
		tagged += k
		for i, w := range chunk {
			n := len(r.seqs[w].IDs)
			perWindow[w] = hidden[i*T*H : (i*T+n)*H]
		}
	}
	rowsSeen := map[int]bool{}
	score := spans.NewScore()
	for _, w := range idx {
		row := r.tok.rowOf[w]
		if rowsSeen[row] {
			continue
		}
		rowsSeen[row] = true
		var hs [][]float32
		for _, w2 := range r.tok.winsOf[row] {
			hs = append(hs, perWindow[w2])
		}
		score.Add(r.data.spans[row], spans.AsSpans(r.tok.labs[row].Entities(r.set, hs)))
	}
	ev := &Eval{Rows: len(rowsSeen), Loss: lossSum / float64(max(tagged, 1))}
	ev.setSpans(score)
	return ev, nil
}

// LabelScore is one label's span-level scores.
type LabelScore struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"` // gold spans of the label
}

// setSpans records span-level scores.
func (ev *Eval) setSpans(s *spans.Score) {
	ev.SpanPrecision, ev.SpanRecall, ev.SpanF1 = ptr(s.Overall.Precision()), ptr(s.Overall.Recall()), ptr(s.Overall.F1())
	ev.PerLabel = map[string]LabelScore{}
	for _, l := range s.LabelNames() {
		c := s.PerLabel[l]
		ev.PerLabel[l] = LabelScore{Precision: c.Precision(), Recall: c.Recall(), F1: c.F1(), Support: c.TP + c.FN}
	}
}

// PredictSpans labels texts with a sequence labeling set: each text's spans,
// sorted by start. Windows of all texts share the engine's passes.
func PredictSpans(ctx context.Context, eng *engine.Engine, set *adapter.Set, texts []string, maxLength int) ([][]spans.Entity, error) {
	if set.Task != adapter.SequenceLabeling {
		return nil, fmt.Errorf("adapter task is %s, not sequence_labeling", set.Task)
	}
	m := eng.Model()
	if err := set.Align(m); err != nil {
		return nil, err
	}
	a := set.Bind(m.Be)
	defer adapter.Unbind(m.Be, a)
	labs := make([]*engine.Labeling, len(texts))
	var inputs []engine.Input
	for i, t := range texts {
		lab, err := eng.Label(t, maxLength)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
		labs[i] = lab
		for w := range lab.Seqs {
			inputs = append(inputs, engine.Input{Seq: &lab.Seqs[w], Adapter: a, Tokens: true})
		}
	}
	feats, err := eng.Features(ctx, inputs)
	if err != nil {
		return nil, err
	}
	out := make([][]spans.Entity, len(texts))
	k := 0
	for i, lab := range labs {
		out[i] = lab.Entities(set, feats[k:k+len(lab.Seqs)])
		k += len(lab.Seqs)
	}
	return out, nil
}

// evaluateSpans scores a sequence labeling set on labelled examples (targets
// are spans): exact-match span precision, recall and F1, overall and per
// label.
func evaluateSpans(ctx context.Context, eng *engine.Engine, set *adapter.Set, ex []Example, maxLength int) (*Eval, error) {
	gold := make([][]spans.Span, len(ex))
	texts := make([]string, len(ex))
	for i, e := range ex {
		sp, err := spans.Parse(e.Target, e.Text)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
		gold[i], texts[i] = sp, e.Text
	}
	pred, err := PredictSpans(ctx, eng, set, texts, maxLength)
	if err != nil {
		return nil, err
	}
	score := spans.NewScore()
	for i := range ex {
		score.Add(gold[i], spans.AsSpans(pred[i]))
	}
	ev := &Eval{Rows: len(ex)}
	ev.setSpans(score)
	return ev, nil
}
