package train

import (
	"fmt"
	"math"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/kernels"
)

// optimizer applies one AdamW step per batch to the trainable tensors.
type optimizer interface {
	// step clips the batch's gradients to a global L2 norm of maxNorm,
	// applies AdamW at learning rate lr and zeroes them. It reports false
	// when it skipped the step: gradients overflowed under loss scaling.
	// A gradient that is not finite otherwise is an error (errDiverged),
	// and the weights are left as they were.
	step(lr, maxNorm float64) (bool, error)
	// lossScale is what the loss gradient entering the backend's backward
	// pass is multiplied by (1 without loss scaling).
	lossScale() float64
	// sync brings the current weights into the host set.
	sync()
	free()
}

// newOptimizer picks where AdamW runs: on the device when the backend
// implements kernels.Optimizer and adapters train, else on the host.
func newOptimizer(be kernels.Backend, r *run, opts Options) (optimizer, error) {
	headOnly := opts.Trainable == "head"
	if ob, ok := be.(kernels.Optimizer); ok && !headOnly {
		return newDeviceOpt(ob, r.set, r.grad, r.bound, r.gradB, opts.WeightDecay)
	}
	return hostOpt{newAdamW(r.set, r.grad, opts.WeightDecay, headOnly)}, nil
}

// hostOpt is AdamW on the host values, for head-only training, whose
// gradients are all on the host, and for backends without kernels.Optimizer.
type hostOpt struct{ *adamW }

func (o hostOpt) step(lr, maxNorm float64) (bool, error) {
	if norm := o.clip(maxNorm); !finite(norm) {
		o.zeroGrads()
		return false, errDiverged(norm)
	}
	o.update(lr)
	return true, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// errDiverged is the error of a gradient that is not finite: without loss
// scaling (fp32 gradients) it means training diverged, as a loss that is
// not finite does (train.go).
func errDiverged(norm float64) error {
	return fmt.Errorf("training diverged (gradient norm %v): lower learning_rate", norm)
}
func (hostOpt) lossScale() float64 { return 1 }
func (hostOpt) sync()              {}
func (hostOpt) free()              {}

// deviceOpt runs AdamW for the bound adapter tensors on the backend
// (kernels.Optimizer: weights, gradients, master weights and moments stay
// where the backend keeps them) and for the head, formed on the host, on
// the host. Clipping uses the norm over both.
type deviceOpt struct {
	dev    kernels.AdamW
	head   *adamW
	master [][]float32 // the host set's adapter tensors, which sync fills
	decay  float64
	t      int
	scaler *lossScaler // nil without loss scaling
}

func newDeviceOpt(be kernels.Optimizer, set, grad *adapter.Set, bound, gradB *model.Adapter, decay float64) (*deviceOpt, error) {
	ws, gs := adapter.BoundParams(bound), adapter.BoundParams(gradB)
	ps := set.Params()
	o := &deviceOpt{head: newAdamW(set, grad, decay, true), decay: decay}
	var ts []kernels.AdamWTensor
	for i, p := range ps {
		if p.Head {
			continue
		}
		if i >= len(ws) {
			return nil, fmt.Errorf("train: bound adapter has %d tensors, the set more", len(ws))
		}
		ts = append(ts, kernels.AdamWTensor{W: ws[i], Grad: gs[i], Master: p.Data, Decay: p.Decay})
		o.master = append(o.master, p.Data)
	}
	dev, err := be.NewAdamW(ts)
	if err != nil {
		return nil, fmt.Errorf("train: AdamW on %s: %w", be.Name(), err)
	}
	o.dev = dev
	if be.LossScaling() {
		o.scaler = newLossScaler()
	}
	return o, nil
}

func (o *deviceOpt) lossScale() float64 {
	if o.scaler == nil {
		return 1
	}
	return o.scaler.scale
}

func (o *deviceOpt) step(lr, maxNorm float64) (bool, error) {
	s := o.lossScale()
	ss, hs := o.dev.SumSquares(), o.head.sumSquares()
	if !finite(ss) || !finite(hs) {
		o.dev.ZeroGrads()
		o.head.zeroGrads()
		// Under loss scaling an overflow of the device's 16-bit gradients
		// skips the step; the head's are fp32 on the host, and without
		// scaling nothing overflows: the training diverged.
		if o.scaler == nil || !finite(hs) {
			return false, errDiverged(math.Sqrt(ss/(s*s) + hs))
		}
		o.scaler.overflow()
		return false, nil
	}
	f := clipFactor(math.Sqrt(ss/(s*s)+hs), maxNorm)
	o.head.scale(f)
	o.head.update(lr)
	o.t++
	o.dev.Step(lr, o.decay, float32(f/s), o.t)
	if o.scaler != nil {
		o.scaler.good()
	}
	return true, nil
}

func (o *deviceOpt) sync() { o.dev.Master(o.master) }
func (o *deviceOpt) free() { o.dev.Free() }

// lossScaler is dynamic loss scaling for fp16 gradients: the loss gradient
// is multiplied by scale before the backward pass (and the gradients divided
// by it before the update), so that small gradients do not flush to zero;
// a step whose gradients overflow is skipped and the scale halved, and after
// lossScaleGrowth good steps in a row it doubles.
type lossScaler struct {
	scale float64
	run   int
}

const (
	lossScaleInit   = 1 << 10
	lossScaleGrowth = 200
	lossScaleMin    = 1.0 / (1 << 10)
)

func newLossScaler() *lossScaler { return &lossScaler{scale: lossScaleInit} }

func (l *lossScaler) overflow() {
	l.scale, l.run = max(l.scale/2, lossScaleMin), 0
}

func (l *lossScaler) good() {
	if l.run++; l.run >= lossScaleGrowth {
		l.scale, l.run = l.scale*2, 0
	}
}
