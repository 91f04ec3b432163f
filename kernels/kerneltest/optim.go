package kerneltest

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/kernels"
)

// refAdamW is engine/train's host AdamW on one tensor (float64 arithmetic,
// fp32 state), the reference of a backend's.
func refAdamW(w, m, v, g []float32, lr, wd float64, t int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1, c2 := 1-math.Pow(b1, float64(t)), 1-math.Pow(b2, float64(t))
	for j := range w {
		gj := float64(g[j])
		mj := b1*float64(m[j]) + (1-b1)*gj
		vj := b2*float64(v[j]) + (1-b2)*gj*gj
		m[j], v[j] = float32(mj), float32(vj)
		x := float64(w[j])
		x -= lr * (mj/c1/(math.Sqrt(vj/c2)+eps) + wd*x)
		w[j] = float32(x)
	}
}

// RunOptimizer checks a backend's AdamW against the host one step by step:
// master weights to fp32 rounding, the weights the passes read as the
// backend stores the master (what an Upload and Download of it give);
// gradients are zeroed by each step and by ZeroGrads; SumSquares is the
// gradients' Σ g², and not finite when a gradient is not. The tensors are
// of odd sizes, one smaller than a vector and one large enough to be split
// across threads; tensors of mismatched lengths are refused.
func RunOptimizer(t *testing.T, be kernels.Optimizer) {
	stored := func(v []float32) []float32 {
		out := make([]float32, len(v))
		be.Download(out, be.Upload(append([]float32(nil), v...)))
		return out
	}
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{5, 1000, 300, 70001}
	var ts []kernels.AdamWTensor
	ref := make([][]float32, len(sizes))
	mom, vel := make([][]float32, len(sizes)), make([][]float32, len(sizes))
	for i, n := range sizes {
		w := make([]float32, n)
		for j := range w {
			w[j] = float32(rng.NormFloat64())
		}
		ref[i], mom[i], vel[i] = append([]float32(nil), w...), make([]float32, n), make([]float32, n)
		ts = append(ts, kernels.AdamWTensor{W: be.Upload(append([]float32(nil), w...)), Grad: be.Alloc(n), Master: w,
			Decay: i != 1})
	}
	o, err := be.NewAdamW(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Free()
	const wd = 0.01
	for step := 1; step <= 4; step++ {
		var ss float64
		grads := make([][]float32, len(sizes))
		for i, n := range sizes {
			g := make([]float32, n)
			for j := range g {
				g[j] = float32(0.1 * rng.NormFloat64())
			}
			g = stored(g)
			for _, v := range g {
				ss += float64(v) * float64(v)
			}
			be.Copy(ts[i].Grad, be.Upload(g))
			grads[i] = g
		}
		if got := o.SumSquares(); !(math.Abs(got-ss) <= 1e-5*ss) {
			t.Fatalf("step %d: SumSquares %v, want %v", step, got, ss)
		}
		if step == 3 { // a skipped step
			o.ZeroGrads()
			if got := o.SumSquares(); got != 0 {
				t.Fatalf("SumSquares after ZeroGrads = %v", got)
			}
			continue
		}
		const scale = 0.5
		for i := range sizes {
			for j := range grads[i] {
				grads[i][j] *= scale
			}
			d := 0.0
			if ts[i].Decay {
				d = wd
			}
			refAdamW(ref[i], mom[i], vel[i], grads[i], 1e-2, d, min(step, 3))
		}
		o.Step(1e-2, wd, scale, min(step, 3))
		if got := o.SumSquares(); got != 0 {
			t.Fatalf("step %d: gradients not zeroed (Σ g² = %v)", step, got)
		}
	}
	master := make([][]float32, len(sizes))
	for i, n := range sizes {
		master[i] = make([]float32, n)
	}
	o.Master(master)
	for i := range sizes {
		w := make([]float32, sizes[i])
		be.Download(w, ts[i].W)
		want := stored(master[i])
		for j := range w {
			if d := math.Abs(float64(master[i][j] - ref[i][j])); !(d <= 1e-6*(1+math.Abs(float64(ref[i][j])))) {
				t.Fatalf("tensor %d[%d]: master %v, host AdamW %v", i, j, master[i][j], ref[i][j])
			}
			if w[j] != want[j] {
				t.Fatalf("tensor %d[%d]: weights %v, want the master %v as stored (%v)", i, j, w[j], master[i][j], want[j])
			}
		}
	}

	// A gradient that is not finite makes the norm not finite: training
	// skips (fp16 overflow) or stops (divergence) on it.
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		last := len(sizes) - 1
		g := make([]float32, sizes[last])
		g[len(g)-1] = bad
		be.Copy(ts[last].Grad, be.Upload(g))
		if ss := o.SumSquares(); !math.IsNaN(ss) && !math.IsInf(ss, 0) {
			t.Fatalf("SumSquares with a gradient of %v = %v, want NaN or Inf", bad, ss)
		}
		o.ZeroGrads()
	}

	_, err = be.NewAdamW([]kernels.AdamWTensor{{W: be.Alloc(3), Grad: be.Alloc(2), Master: make([]float32, 3)}})
	if err == nil || !strings.Contains(err.Error(), "same length") {
		t.Fatalf("mismatched lengths: err %v", err)
	}
}
