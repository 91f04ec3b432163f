package train

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/rng"
)

// Progress is reported after every optimiser step ("training"), before each
// validation ("validating") and when an epoch is over ("epoch done": Loss is
// the epoch's mean training loss, ValLoss its validation loss, NaN without a
// validation set).
type Progress struct {
	Phase          string // "training", "validating" or "epoch done"
	Epoch, Epochs  int    // 1-based epoch
	Step, Steps    int    // optimiser steps done, in all
	Loss           float64
	ValLoss        float64 // NaN until the first validation
	ExamplesPerSec float64
	ETA            time.Duration
	Trial, Trials  int  // hyperparameter search (search.go): 1-based trial; 0 outside a search
	Last           bool // "epoch done" of the run's last epoch (the epoch count or early stopping)
}

// Metrics describe a finished training run.
type Metrics struct {
	Task           adapter.Task `json:"task"`
	TrainRows      int          `json:"train_rows"`
	ValRows        int          `json:"validation_rows"`
	Epochs         int          `json:"epochs"`
	BestEpoch      int          `json:"best_epoch"`
	Steps          int          `json:"steps"`
	TrainLoss      float64      `json:"train_loss"`
	ValLoss        *float64     `json:"validation_loss,omitempty"`
	Eval           *Eval        `json:"validation,omitempty"`
	ExamplesPerSec float64      `json:"examples_per_s"`
	Seconds        float64      `json:"seconds"`
	Backend        string       `json:"backend,omitempty"`       // the kernel backend that trained
	SkippedSteps   int          `json:"skipped_steps,omitempty"` // steps skipped for fp16 gradient overflow

}

// Result is a trained adapter and how the training went.
type Result struct {
	Set     *adapter.Set
	Metrics Metrics
}

// run is one training job's state.
type run struct {
	eng      *engine.Engine
	m        *model.Model
	opts     Options
	data     *dataset
	seqs     []engine.Sequence
	set      *adapter.Set
	grad     *adapter.Set
	bound    *model.Adapter
	gradB    *model.Adapter
	opt      optimizer
	progress func(Progress)
	feats    []float32 // head-only: base features of every row [N, H]
	tok      *tokenRun // sequence labeling: seqs are windows (tokens.go)
}

// Train fits a new adapter to examples. kind hints the targets' type (for
// task inference). progress, if not nil, is called after each step. On error or
// cancellation nothing is left behind: the caller stores only a returned set.
// It runs on a thread of its own that ends with it (engine.OnDiscardedThread:
// a server's later passes must not pay for the OpenMP team it leaves).
func Train(ctx context.Context, eng *engine.Engine, ex []Example, kind TargetKind, opts Options, progress func(Progress)) (*Result, error) {
	return engine.OnDiscardedThread(func() (*Result, error) { return train(ctx, eng, ex, kind, opts, progress) })
}

func train(ctx context.Context, eng *engine.Engine, ex []Example, kind TargetKind, opts Options, progress func(Progress)) (*Result, error) {
	start := time.Now()
	m, err := eng.TrainingModel()
	if err != nil {
		return nil, err
	}
	data, pool, err := checked(eng, ex, kind, opts)
	if err != nil {
		return nil, err
	}
	data.spec.Size, data.spec.Act, data.spec.Pool = opts.AdapterSize, opts.Activation, pool
	set, err := adapter.New(m, data.spec, opts.Seed)
	if err != nil {
		return nil, err
	}
	r := &run{eng: eng, m: m, opts: opts, data: data, set: set, grad: set.ZeroLike(), progress: progress}
	r.bound, r.gradB = set.Bind(m.Be), r.grad.Bind(m.Be)
	defer adapter.Unbind(m.Be, r.bound)
	defer adapter.Unbind(m.Be, r.gradB)
	if r.opt, err = newOptimizer(m.Be, r, opts); err != nil {
		return nil, err
	}
	defer r.opt.free()

	trainIdx, valIdx := split(len(ex), opts.ValidationFraction, opts.Seed)
	if data.spec.Task == adapter.SequenceLabeling {
		if err := r.tokenizeWindows(); err != nil {
			return nil, err
		}
		trainRows, valRows := len(trainIdx), len(valIdx)
		trainIdx, valIdx = r.tok.windowsOf(trainIdx), r.tok.windowsOf(valIdx)
		met, err := r.loop(ctx, trainIdx, valIdx)
		if err != nil {
			return nil, err
		}
		met.TrainRows, met.ValRows = trainRows, valRows
		met.Seconds, met.Backend = time.Since(start).Seconds(), m.Be.Name()
		return &Result{Set: r.set, Metrics: met}, nil
	}
	if err := r.tokenize(); err != nil {
		return nil, err
	}
	if data.spec.Task == adapter.Classification && opts.ClassWeights == "balanced" {
		data.targets.ClassWeight = balancedWeights(data.targets.Class, trainIdx, len(data.spec.Labels))
	}
	if opts.Trainable == "head" {
		// The head alone is trained on the base model's features: a fresh
		// adapter is the identity, so they are computed once for all epochs.
		if r.feats, err = r.baseFeatures(ctx); err != nil {
			return nil, err
		}
	}
	met, err := r.loop(ctx, trainIdx, valIdx)
	if err != nil {
		return nil, err
	}
	met.Seconds, met.Backend = time.Since(start).Seconds(), m.Be.Name()
	return &Result{Set: r.set, Metrics: met}, nil
}

func (r *run) tokenize() error {
	r.seqs = make([]engine.Sequence, len(r.data.texts))
	for i, t := range r.data.texts {
		var q engine.Sequence
		var err error
		if r.data.pairs != nil {
			q, err = r.eng.EncodePair(t, r.data.pairs[i], r.opts.MaxLength)
		} else {
			q, err = r.eng.Encode(t, r.opts.MaxLength)
		}
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		r.seqs[i] = q
	}
	return nil
}

// split shuffles rows (seeded) and holds out a validation fraction; sets too
// small to hold out a row while keeping two for training get none.
func split(n int, frac float64, seed uint64) (trainIdx, valIdx []int) {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng.Named(seed, "split").Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	nVal := int(math.Round(frac * float64(n)))
	if nVal < 1 || n-nVal < 2 {
		nVal = 0
	}
	valIdx, trainIdx = append([]int(nil), perm[:nVal]...), append([]int(nil), perm[nVal:]...)
	sort.Ints(valIdx)
	return trainIdx, valIdx
}

// balancedWeights weighs class c by n / (k·count_c) over the training rows.
func balancedWeights(class, idx []int, k int) []float64 {
	count := make([]float64, k)
	for _, i := range idx {
		count[class[i]]++
	}
	w := make([]float64, k)
	for c := range w {
		if count[c] > 0 {
			w[c] = float64(len(idx)) / (float64(k) * count[c])
		}
	}
	return w
}

// batches cuts the epoch's shuffled rows into batches. For full passes it sorts
// rows by length inside windows of 8 batches (less padding) and shuffles the
// batch order, all from the seed, so runs repeat exactly.
func (r *run) batches(idx []int, epoch int) [][]int {
	order := append([]int(nil), idx...)
	g := rng.Named(r.opts.Seed, fmt.Sprintf("epoch.%d", epoch))
	g.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	bs := r.opts.BatchSize
	if r.feats == nil {
		win := 8 * bs
		for lo := 0; lo < len(order); lo += win {
			w := order[lo:min(lo+win, len(order))]
			sort.SliceStable(w, func(a, b int) bool { return len(r.seqs[w[a]].IDs) < len(r.seqs[w[b]].IDs) })
		}
	}
	var out [][]int
	for lo := 0; lo < len(order); lo += bs {
		out = append(out, order[lo:min(lo+bs, len(order))])
	}
	if r.feats == nil {
		g.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

func (r *run) loop(ctx context.Context, trainIdx, valIdx []int) (Metrics, error) {
	opts := r.opts
	met := Metrics{Task: r.set.Task, TrainRows: len(trainIdx), ValRows: len(valIdx)}
	stepsPerEpoch := (len(trainIdx) + opts.BatchSize - 1) / opts.BatchSize
	total := stepsPerEpoch * opts.Epochs
	warmup := int(math.Round(opts.WarmupFraction * float64(total)))
	best, bestLoss, bestEpoch := (*adapter.Set)(nil), math.Inf(1), 0
	valLoss := math.NaN()
	examples, t0 := 0, time.Now()
	for epoch := 1; epoch <= opts.Epochs; epoch++ {
		var sum float64
		var seen int
		for _, bi := range r.batches(trainIdx, epoch) {
			if err := ctx.Err(); err != nil {
				return met, err
			}
			loss, err := r.step(ctx, bi)
			if err != nil {
				return met, err
			}
			stepped, err := r.opt.step(schedule(opts.LearningRate, met.Steps, warmup, total), opts.MaxGradNorm)
			if err != nil {
				return met, err
			}
			if !stepped {
				met.SkippedSteps++
			}
			met.Steps++
			sum += loss * float64(len(bi))
			seen += len(bi)
			examples += len(bi)
			if r.progress != nil {
				el := time.Since(t0)
				rate := float64(examples) / el.Seconds()
				r.progress(Progress{Phase: "training", Epoch: epoch, Epochs: opts.Epochs, Step: met.Steps, Steps: total,
					Loss: sum / float64(seen), ValLoss: valLoss, ExamplesPerSec: rate,
					ETA: time.Duration(float64(el) / float64(met.Steps) * float64(total-met.Steps))})
			}
		}
		met.Epochs, met.TrainLoss = epoch, sum/float64(max(seen, 1))
		stop := false
		if len(valIdx) > 0 {
			if r.progress != nil {
				r.progress(Progress{Phase: "validating", Epoch: epoch, Epochs: opts.Epochs, Step: met.Steps, Steps: total,
					Loss: met.TrainLoss, ValLoss: valLoss})
			}
			ev, err := r.evaluate(ctx, valIdx)
			if err != nil {
				return met, err
			}
			valLoss = ev.Loss
			if ev.Loss < bestLoss {
				r.opt.sync()
				best, bestLoss, bestEpoch = r.set.Clone(), ev.Loss, epoch
				met.Eval = ev
			} else {
				stop = opts.EarlyStopping > 0 && epoch-bestEpoch >= opts.EarlyStopping
			}
		}
		if r.progress != nil {
			r.progress(Progress{Phase: "epoch done", Epoch: epoch, Epochs: opts.Epochs, Step: met.Steps, Steps: total,
				Loss: met.TrainLoss, ValLoss: valLoss, ExamplesPerSec: float64(examples) / time.Since(t0).Seconds(),
				Last: stop || epoch == opts.Epochs})
		}
		if stop {
			break
		}
	}
	met.ExamplesPerSec = float64(examples) / time.Since(t0).Seconds()
	r.opt.sync()
	if best != nil {
		// Keep the weights of the best validation loss.
		for i, p := range best.Params() {
			copy(r.set.Params()[i].Data, p.Data)
		}
		met.BestEpoch = bestEpoch
		met.ValLoss = &bestLoss
	} else {
		met.BestEpoch = met.Epochs
	}
	return met, nil
}

// step runs forward and backward over one batch, accumulating gradients, and
// returns the batch's mean loss.
func (r *run) step(ctx context.Context, idx []int) (float64, error) {
	if r.tok != nil {
		return r.tokenStep(ctx, idx)
	}
	B, H := len(idx), r.m.Cfg.Hidden
	targets := subset(r.data.targets, idx, r.set.Outputs())
	if r.feats != nil {
		pooled := make([]float32, B*H)
		for i, k := range idx {
			copy(pooled[i*H:(i+1)*H], r.feats[k*H:(k+1)*H])
		}
		logits := r.set.Logits(pooled, B)
		loss, dLogits, err := r.set.Loss(logits, B, targets)
		if err != nil {
			return 0, err
		}
		r.set.HeadBackward(r.grad, pooled, dLogits, B)
		return loss, nil
	}
	seqs := make([]engine.Sequence, B)
	for i, k := range idx {
		seqs[i] = r.seqs[k]
	}
	batch := engine.Pack(r.m.Cfg, seqs, []model.Segment{{Seqs: B, Adapter: r.bound}})
	pass, err := r.forward(ctx, batch, true)
	if err != nil {
		return 0, err
	}
	defer pass.Release()
	pd, err := pass.Pool(r.set.Pool)
	if err != nil {
		return 0, err
	}
	logits := r.set.Logits(pd.Values, B)
	loss, dLogits, err := r.set.Loss(logits, B, targets)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("training diverged (loss %v): lower learning_rate", loss)
	}
	dPooled := r.set.HeadBackward(r.grad, pd.Values, dLogits, B)
	if s := r.opt.lossScale(); s != 1 {
		for i := range dPooled {
			dPooled[i] *= float32(s)
		}
	}
	dHidden, err := pd.Backward(pass, dPooled)
	if err != nil {
		return 0, err
	}
	return loss, pass.Backward(ctx, dHidden, r.bound, r.gradB)
}

// forward runs a pass whose last layer computes only the rows the set's
// pooling reads (model.ForwardRows; every row for mean pooling).
func (r *run) forward(ctx context.Context, b *model.Batch, train bool) (*model.Pass, error) {
	keep, err := r.m.PoolRows(b, r.set.Pool)
	if err != nil {
		return nil, err
	}
	return r.m.ForwardRows(ctx, b, train, keep)
}

// forwardRows computes pooled features of rows through adapter a (nil: the
// base model) in length-sorted batches, returning [len(idx), H] in idx order.
func (r *run) forwardRows(ctx context.Context, idx []int, a *model.Adapter) ([]float32, error) {
	H := r.m.Cfg.Hidden
	order := append([]int(nil), idx...)
	pos := map[int]int{}
	for i, k := range idx {
		pos[k] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(r.seqs[order[a]].IDs) < len(r.seqs[order[b]].IDs) })
	out := make([]float32, len(idx)*H)
	bs := max(r.opts.BatchSize, 32)
	for lo := 0; lo < len(order); lo += bs {
		chunk := order[lo:min(lo+bs, len(order))]
		seqs := make([]engine.Sequence, len(chunk))
		for i, k := range chunk {
			seqs[i] = r.seqs[k]
		}
		var segs []model.Segment
		if a != nil {
			segs = []model.Segment{{Seqs: len(chunk), Adapter: a}}
		}
		pass, err := r.forward(ctx, engine.Pack(r.m.Cfg, seqs, segs), false)
		if err != nil {
			return nil, err
		}
		pd, err := pass.Pool(r.set.Pool)
		pass.Release()
		if err != nil {
			return nil, err
		}
		for i, k := range chunk {
			copy(out[pos[k]*H:(pos[k]+1)*H], pd.Values[i*H:(i+1)*H])
		}
	}
	return out, nil
}

func (r *run) baseFeatures(ctx context.Context) ([]float32, error) {
	all := make([]int, len(r.seqs))
	for i := range all {
		all[i] = i
	}
	return r.forwardRows(ctx, all, r.bound)
}

// evaluate scores rows with the current weights.
func (r *run) evaluate(ctx context.Context, idx []int) (*Eval, error) {
	if r.tok != nil {
		return r.tokenEvaluate(ctx, idx)
	}
	H := r.m.Cfg.Hidden
	var pooled []float32
	if r.feats != nil {
		pooled = make([]float32, len(idx)*H)
		for i, k := range idx {
			copy(pooled[i*H:(i+1)*H], r.feats[k*H:(k+1)*H])
		}
	} else {
		var err error
		if pooled, err = r.forwardRows(ctx, idx, r.bound); err != nil {
			return nil, err
		}
	}
	logits := r.set.Logits(pooled, len(idx))
	return score(r.set, logits, subset(r.data.targets, idx, r.set.Outputs()), len(idx))
}
