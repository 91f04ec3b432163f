//go:build cuda || cudaemu

package cuda

/*
#include "kargs_backward.h"
*/
import "C"

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/adapterdb/adapterdb/kernels"
)

var _ kernels.Optimizer = (*Backend)(nil)

// optKernels are the AdamW kernels of the backend's storage type (kern_optim.h).
type optKernels struct{ sumSq, adamW kfunc }

const optThreads = 256 // kern_optim.h OPT_THREADS

// LossScaling is true for fp16 storage: its smallest values (6e-8) are
// within reach of small gradients, which loss scaling lifts.
func (be *Backend) LossScaling() bool { return be.prec == FP16 }

// adamW is AdamW's device state: one fp32 block holding every tensor's
// master weights, then first and second moments.
type adamW struct {
	be      *Backend
	state   block
	ws, gs  []kernels.Buffer
	off, n  []int // each tensor's offset in the state's thirds, and length
	total   int
	decay   []bool
	partial block // fp32 [tensors]: SumSquares' per-tensor sums
	freed   bool
}

// NewAdamW puts the master weights on the device next to zeroed moments.
func (be *Backend) NewAdamW(ts []kernels.AdamWTensor) (kernels.AdamW, error) {
	o := &adamW{be: be}
	for i, t := range ts {
		n := len(t.Master)
		if t.W == nil || t.Grad == nil || t.W.Len() != n || t.Grad.Len() != n {
			return nil, fmt.Errorf("cuda: AdamW tensor %d: weights, gradient and master weights must have the same length", i)
		}
		unwrap(t.W, "AdamW weights")
		unwrap(t.Grad, "AdamW gradient")
		o.ws, o.gs = append(o.ws, t.W), append(o.gs, t.Grad)
		o.off, o.n, o.decay = append(o.off, o.total), append(o.n, n), append(o.decay, t.Decay)
		o.total += n
	}
	if len(ts) == 0 {
		return o, nil
	}
	be.lock()
	defer be.unlock()
	o.state = be.scratch(3 * o.total)
	o.partial = be.scratch(len(ts))
	check(be.dev.memset(o.state.ptr, int64(3*o.total*4)), "clear AdamW moments")
	for i, t := range ts {
		be.toDeviceAs(FP32, o.state.ptr+devptr(4*o.off[i]), t.Master)
	}
	return o, nil
}

// table resolves the tensors' device addresses for one launch (held lock;
// weights and gradients are written, so uploads among them stay resident).
func (o *adamW) table() devptr {
	be := o.be
	tab := make([]C.kAdamWTensor, len(o.ws))
	third := devptr(4 * o.total)
	for i := range o.ws {
		base := o.state.ptr + devptr(4*o.off[i])
		tab[i] = C.kAdamWTensor{w: C.dptr_t(be.out(o.ws[i], o.n[i], "AdamW weights")),
			g: C.dptr_t(be.out(o.gs[i], o.n[i], "AdamW gradient")), master: C.dptr_t(base), m: C.dptr_t(base + third),
			v: C.dptr_t(base + 2*third), n: C.int64_t(o.n[i])}
		if o.decay[i] {
			tab[i].decay = 1
		}
	}
	return be.stage(bytesOf(tab))
}

func (o *adamW) live() {
	if o.freed {
		panic("cuda: AdamW state used after Free")
	}
}

// SumSquares is Σ g² over every gradient.
func (o *adamW) SumSquares() float64 {
	o.live()
	if len(o.ws) == 0 {
		return 0
	}
	be := o.be
	be.lock()
	defer be.unlock()
	a := C.kSumSq{tensors: C.dptr_t(o.table()), out: C.dptr_t(o.partial.ptr), count: C.int32_t(len(o.ws))}
	be.launch(be.optk.sumSq, "gradient sum of squares", [3]int{len(o.ws), 1, 1}, [3]int{optThreads, 1, 1}, 0,
		unsafe.Pointer(&a), unsafe.Sizeof(a))
	part := make([]float32, len(o.ws))
	be.fromDeviceAs(FP32, part, o.partial.ptr)
	var s float64
	for _, v := range part {
		s += float64(v)
	}
	return s
}

// Step applies one AdamW step and zeroes the gradients.
func (o *adamW) Step(lr, weightDecay float64, gradScale float32, t int) {
	o.live()
	if t < 1 {
		panic(fmt.Sprintf("cuda: AdamW step %d (steps count from 1)", t))
	}
	if len(o.ws) == 0 {
		return
	}
	be := o.be
	be.lock()
	defer be.unlock()
	maxN := 0
	for _, n := range o.n {
		maxN = max(maxN, n)
	}
	a := C.kAdamW{tensors: C.dptr_t(o.table()), count: C.int32_t(len(o.ws)), lr: C.float(lr), wd: C.float(weightDecay),
		gscale: C.float(gradScale), c1: C.double(1 - math.Pow(0.9, float64(t))), c2: C.double(1 - math.Pow(0.999, float64(t)))}
	gx := max(1, min(ceilDiv(maxN, optThreads), max(1, 4*be.sms()/max(1, len(o.ws)))))
	be.launch(be.optk.adamW, "AdamW", [3]int{gx, len(o.ws), 1}, [3]int{optThreads, 1, 1}, 0, unsafe.Pointer(&a),
		unsafe.Sizeof(a))
}

// ZeroGrads zeroes the gradients.
func (o *adamW) ZeroGrads() {
	o.live()
	for i, g := range o.gs {
		o.be.zero(g, o.n[i], "AdamW gradient")
	}
}

// Master copies the fp32 master weights to dst.
func (o *adamW) Master(dst [][]float32) {
	o.live()
	if len(dst) != len(o.ws) {
		panic(fmt.Sprintf("cuda: AdamW master weights of %d tensors into %d", len(o.ws), len(dst)))
	}
	be := o.be
	be.lock()
	defer be.unlock()
	for i, d := range dst {
		if len(d) != o.n[i] {
			panic(fmt.Sprintf("cuda: AdamW tensor %d has %d values, destination %d", i, o.n[i], len(d)))
		}
		be.fromDeviceAs(FP32, d, o.state.ptr+devptr(4*o.off[i]))
	}
}

// Free releases the device state (the weights and gradients stay with
// their owner).
func (o *adamW) Free() {
	if o.freed {
		return
	}
	o.freed = true
	if len(o.ws) == 0 {
		return
	}
	be := o.be
	be.lock()
	defer be.unlock()
	be.pool.put(o.state)
	be.pool.put(o.partial)
}
