package cpu

import (
	"fmt"
	"math"

	"github.com/adapterdb/adapterdb/kernels"
)

// AdamW on the backend (kernels.Optimizer). The cpu backend's buffers are
// host fp32 memory, so the weights the passes read are the master weights
// themselves: the state adds only the two moments. A step is one C kernel
// per piece of about adamPiece values (small tensors share a piece), the
// pieces spread over the backend's threads: the host loop it replaces spent
// ~7 ms of a MiniLM-L6 training step in scalar float64 division and sqrt.

// adamPiece is the size of the pieces a step and a norm are cut into. It is
// fixed, not a function of the thread count, so that the norm (a sum of the
// pieces' sums in order) is the same on every machine.
const adamPiece = 1 << 15

// adamSeg is [lo, hi) of tensor t.
type adamSeg struct{ t, lo, hi int }

type adamTensor struct {
	w, g, m, v []float32
	decay      bool
}

type adamW struct {
	be     *Backend
	ts     []adamTensor
	pieces [][]adamSeg
}

var _ kernels.Optimizer = (*Backend)(nil)

// LossScaling is false: gradients are fp32.
func (be *Backend) LossScaling() bool { return false }

// NewAdamW copies each tensor's master weights into W (the same memory when
// W was uploaded from them) and allocates the moments.
func (be *Backend) NewAdamW(tensors []kernels.AdamWTensor) (kernels.AdamW, error) {
	o := &adamW{be: be}
	var cur []adamSeg
	fill := 0
	for i, t := range tensors {
		w, g := data(t.W), data(t.Grad)
		if len(w) != len(g) || len(w) != len(t.Master) {
			return nil, fmt.Errorf("cpu: AdamW tensor %d: weights (%d values), gradient (%d) and master weights (%d) must have the same length",
				i, len(w), len(g), len(t.Master))
		}
		copy(w, t.Master)
		n := len(w)
		o.ts = append(o.ts, adamTensor{w: w, g: g, m: make([]float32, n), v: make([]float32, n), decay: t.Decay})
		for lo := 0; lo < n; {
			hi := min(n, lo+adamPiece-fill)
			cur = append(cur, adamSeg{i, lo, hi})
			fill += hi - lo
			lo = hi
			if fill == adamPiece {
				o.pieces, cur, fill = append(o.pieces, cur), nil, 0
			}
		}
	}
	if len(cur) > 0 {
		o.pieces = append(o.pieces, cur)
	}
	return o, nil
}

// each runs fn on every segment of pieces, the pieces on the backend's threads.
func (o *adamW) each(fn func(piece int, s adamSeg)) {
	o.be.parallelDynamic(len(o.pieces), 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			for _, s := range o.pieces[p] {
				fn(p, s)
			}
		}
	})
}

// SumSquares is Σ g², the pieces' sums added in order (the same every run).
func (o *adamW) SumSquares() float64 {
	part := make([]float64, len(o.pieces))
	o.each(func(p int, s adamSeg) { part[p] += o.be.k.sumSq(o.ts[s.t].g[s.lo:s.hi]) })
	var ss float64
	for _, x := range part {
		ss += x
	}
	return ss
}

// Step applies one AdamW step (step t, 1-based) and zeroes the gradients.
func (o *adamW) Step(lr, weightDecay float64, gradScale float32, t int) {
	const b1, b2 = 0.9, 0.999
	c1 := 1 - math.Pow(b1, float64(t))
	c2 := 1 - math.Pow(b2, float64(t))
	o.each(func(_ int, s adamSeg) {
		x := &o.ts[s.t]
		wd := 0.0
		if x.decay {
			wd = weightDecay
		}
		o.be.k.adamW(x.w[s.lo:s.hi], x.g[s.lo:s.hi], x.m[s.lo:s.hi], x.v[s.lo:s.hi], lr, wd, c1, c2, gradScale)
	})
}

// ZeroGrads zeroes the gradients.
func (o *adamW) ZeroGrads() {
	o.each(func(_ int, s adamSeg) { clear(o.ts[s.t].g[s.lo:s.hi]) })
}

// Master copies the weights, which are the master weights, to dst.
func (o *adamW) Master(dst [][]float32) {
	for i, x := range o.ts {
		copy(dst[i], x.w)
	}
}

// Free drops the moments; W and Grad go back to their owner.
func (o *adamW) Free() { o.ts, o.pieces = nil, nil }
