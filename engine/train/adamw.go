package train

import (
	"math"

	"github.com/adapterdb/adapterdb/engine/adapter"
)

// adamW is Adam with decoupled weight decay (Loshchilov & Hutter), β = (0.9,
// 0.999), ε = 1e-8, over the trainable tensors of a set.
type adamW struct {
	params, grads, m, v []adapter.Param
	decay               float64
	step                int
}

func newAdamW(set, grad *adapter.Set, decay float64, headOnly bool) *adamW {
	o := &adamW{decay: decay}
	mom, vel := set.ZeroLike(), set.ZeroLike()
	ps, gs, ms, vs := set.Params(), grad.Params(), mom.Params(), vel.Params()
	for i := range ps {
		if headOnly && !ps[i].Head {
			continue
		}
		o.params = append(o.params, ps[i])
		o.grads = append(o.grads, gs[i])
		o.m = append(o.m, ms[i])
		o.v = append(o.v, vs[i])
	}
	return o
}

// clip scales the gradients so their global L2 norm is at most maxNorm and
// returns the norm before clipping.
func (o *adamW) clip(maxNorm float64) float64 {
	norm := math.Sqrt(o.sumSquares())
	o.scale(clipFactor(norm, maxNorm))
	return norm
}

// clipFactor is what gradients of global norm norm are scaled by.
func clipFactor(norm, maxNorm float64) float64 {
	if maxNorm > 0 && norm > maxNorm {
		return maxNorm / (norm + 1e-6)
	}
	return 1
}

// sumSquares is Σ g² over the gradients.
func (o *adamW) sumSquares() float64 {
	var ss float64
	for _, g := range o.grads {
		for _, x := range g.Data {
			ss += float64(x) * float64(x)
		}
	}
	return ss
}

// scale multiplies the gradients by f.
func (o *adamW) scale(f float64) {
	if f == 1 {
		return
	}
	s := float32(f)
	for _, g := range o.grads {
		for i := range g.Data {
			g.Data[i] *= s
		}
	}
}

// zeroGrads clears the gradients (a skipped step).
func (o *adamW) zeroGrads() {
	for _, g := range o.grads {
		clear(g.Data)
	}
}

// update applies one step at learning rate lr and zeroes the gradients.
func (o *adamW) update(lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	o.step++
	c1 := 1 - math.Pow(b1, float64(o.step))
	c2 := 1 - math.Pow(b2, float64(o.step))
	for i, p := range o.params {
		g, m, v := o.grads[i].Data, o.m[i].Data, o.v[i].Data
		wd := 0.0
		if p.Decay {
			wd = o.decay
		}
		for j := range p.Data {
			gj := float64(g[j])
			mj := b1*float64(m[j]) + (1-b1)*gj
			vj := b2*float64(v[j]) + (1-b2)*gj*gj
			m[j], v[j] = float32(mj), float32(vj)
			w := float64(p.Data[j])
			w -= lr * (mj/c1/(math.Sqrt(vj/c2)+eps) + wd*w)
			p.Data[j] = float32(w)
			g[j] = 0
		}
	}
}

// schedule is the learning rate at step (0-based): linear warm-up to peak over
// warmup steps, then linear decay to zero at total.
func schedule(peak float64, step, warmup, total int) float64 {
	if warmup > 0 && step < warmup {
		return peak * float64(step+1) / float64(warmup)
	}
	if total <= warmup {
		return peak
	}
	return peak * math.Max(0, float64(total-step)/float64(total-warmup))
}
