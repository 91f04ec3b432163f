package kerneltest

import (
	"fmt"
	"math"

	"github.com/adapterdb/adapterdb/kernels"
)

// Gradient checks: for a forward op y = f(θ) and a random upstream gradient
// dy, the loss L(θ) = Σ dy ⊙ f(θ) is evaluated in float64 by the reference,
// and ∂L/∂θ is taken by central differences; the backend's backward op must
// match it. float64 differences are accurate to ~1e-9, so the tolerance is
// set by the backend's float32 arithmetic alone.

// numGrad is ∂L/∂θ by central differences; loss may read and modify theta
// only through the value it is given.
func numGrad(theta []float64, loss func() float64) []float64 {
	g := make([]float64, len(theta))
	for i := range theta {
		old := theta[i]
		h := 1e-6 * math.Max(1, math.Abs(old))
		theta[i] = old + h
		lp := loss()
		theta[i] = old - h
		lm := loss()
		theta[i] = old
		g[i] = (lp - lm) / (2 * h)
	}
	return g
}

func dot64(a []float64, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * float64(b[i])
	}
	return s
}

// gradNear compares a backend gradient to the numerical one, with the
// tolerance relative to each value and to the largest one.
func (e *env) gradNear(what string, got []float32, want []float64) {
	e.t.Helper()
	big := 0.0
	for _, w := range want {
		big = math.Max(big, math.Abs(w))
	}
	mag := make([]float64, len(want))
	for i, w := range want {
		mag[i] = math.Abs(w) + 0.1*big
	}
	e.near(what, got, want, mag, 1e-3, 1e-6)
}

func plus(before []float32, g []float64) []float64 {
	out := to64(before)
	for i := range out {
		out[i] += g[i]
	}
	return out
}

// segLinear64 is SegLinear (OutIn, no activation) in float64; rows of
// segments without W are 0 (their y does not depend on x, W or b).
func segLinear64(x []float64, rows []int, w, b [][]float64, n, k int) []float64 {
	total := 0
	for _, r := range rows {
		total += r
	}
	y := make([]float64, total*n)
	off := 0
	for s, r := range rows {
		if w[s] != nil {
			for i := off; i < off+r; i++ {
				for j := range n {
					v := 0.0
					if b[s] != nil {
						v = b[s][j]
					}
					for p := range k {
						v += x[i*k+p] * w[s][j*k+p]
					}
					y[i*n+j] = v
				}
			}
		}
		off += r
	}
	return y
}

func testSegLinearBackward(e *env, tr kernels.Trainer) {
	type seg struct {
		rows                 int
		hasW, hasDW, hasBias bool
	}
	shape := []seg{{3, true, true, true}, {0, true, true, true}, {4, false, false, false}, {5, true, true, false},
		{2, true, false, false}, {6, true, true, true}}
	for _, nk := range [][2]int{{5, 7}, {24, 17}} {
		n, k := nk[0], nk[1]
		rows := make([]int, len(shape))
		w, b := make([][]float64, len(shape)), make([][]float64, len(shape))
		total := 0
		for i, s := range shape {
			rows[i] = s.rows
			total += s.rows
			if s.hasW {
				w[i] = to64(e.uniform(n*k, -0.5, 0.5))
				if s.hasBias {
					b[i] = to64(e.randn(n))
				}
			}
		}
		x := to64(e.randn(total * k))
		dy := e.randn(total * n)
		loss := func() float64 { return dot64(segLinear64(x, rows, w, b, n, k), dy) }
		wantDx := numGrad(x, loss)
		wantDW, wantDB := make([][]float64, len(shape)), make([][]float64, len(shape))
		for i, s := range shape {
			if s.hasDW {
				wantDW[i] = numGrad(w[i], loss)
			}
			if b[i] != nil {
				wantDB[i] = numGrad(b[i], loss)
			}
		}
		for _, mode := range []string{"overwrite", "accumulate", "no dx"} {
			what := fmt.Sprintf("SegLinearBackward(n=%d k=%d %s)", n, k, mode)
			segs := make([]kernels.LinearGrad, len(shape))
			dwBefore, dbBefore := make([][]float32, len(shape)), make([][]float32, len(shape))
			dws, dbs := make([]*placed, len(shape)), make([]*placed, len(shape))
			for i, s := range shape {
				segs[i].Rows = s.rows
				if w[i] != nil {
					segs[i].W = e.put(f32(w[i])).view
				}
				if s.hasDW {
					dwBefore[i] = e.randn(n * k)
					dws[i] = e.put(dwBefore[i])
					segs[i].DW = dws[i].view
				}
				if b[i] != nil && s.hasDW {
					dbBefore[i] = e.randn(n)
					dbs[i] = e.put(dbBefore[i])
					segs[i].DBias = dbs[i].view
				}
			}
			dxBefore := e.randn(total * k)
			pdx := e.put(dxBefore)
			var dxv kernels.Buffer
			if mode != "no dx" {
				dxv = pdx.view
			}
			tr.SegLinearBackward(dxv, e.put(dy).view, e.put(f32(x)).view, n, k, segs, mode == "accumulate")
			switch mode {
			case "overwrite":
				e.gradNear(what+" dx", e.get(pdx), wantDx)
			case "accumulate":
				e.gradNear(what+" dx", e.get(pdx), plus(dxBefore, wantDx))
			case "no dx":
				e.near(what+" dx untouched", e.get(pdx), to64(dxBefore), nil, 0, 0)
			}
			e.guarded(what+" dx", pdx)
			for i := range shape {
				if dws[i] != nil {
					e.gradNear(fmt.Sprintf("%s DW[%d]", what, i), e.get(dws[i]), plus(dwBefore[i], wantDW[i]))
					e.guarded(what+" DW", dws[i])
				}
				if dbs[i] != nil {
					e.gradNear(fmt.Sprintf("%s DBias[%d]", what, i), e.get(dbs[i]), plus(dbBefore[i], wantDB[i]))
				}
			}
		}
	}
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func testActivateBackward(e *env, tr kernels.Trainer) {
	for _, n := range []int{1, 17, 1000, 70001} {
		for _, act := range acts {
			x := e.actInputs(n)
			if act == kernels.ActReLU { // no derivative at 0
				for i := range x {
					if math.Abs(float64(x[i])) < 1e-3 {
						x[i] = 0.25
					}
				}
			}
			dy := e.randn(n)
			want := make([]float64, n)
			for i := range x {
				xv := float64(x[i])
				h := 1e-6 * math.Max(1, math.Abs(xv))
				want[i] = float64(dy[i]) * (refAct(act, xv+h) - refAct(act, xv-h)) / (2 * h)
			}
			mag := make([]float64, n)
			for i := range mag {
				mag[i] = math.Abs(want[i]) + 1e-2*math.Abs(float64(dy[i]))
			}
			what := fmt.Sprintf("ActivateBackward(n=%d act=%v)", n, act)
			px, pdy, pdx := e.put(x), e.put(dy), e.put(e.randn(n))
			tr.ActivateBackward(pdx.view, px.view, pdy.view, n, act)
			e.near(what, e.get(pdx), want, mag, 1e-5, 1e-7)
			e.guarded(what, pdx)
			tr.ActivateBackward(pdy.view, px.view, pdy.view, n, act) // dx aliases dy
			e.near(what+" in place", e.get(pdy), want, mag, 1e-5, 1e-7)
		}
	}
}

// norm64 is y = LayerNorm(x)·gamma + beta per segment in float64.
func norm64(x []float64, rows []int, gamma, beta [][]float64, cols int, eps float64) []float64 {
	y := make([]float64, len(x))
	r := 0
	for s, nr := range rows {
		for ; nr > 0; nr-- {
			row := x[r*cols : (r+1)*cols]
			mean := 0.0
			for _, v := range row {
				mean += v
			}
			mean /= float64(cols)
			vr := 0.0
			for _, v := range row {
				vr += (v - mean) * (v - mean)
			}
			rstd := 1 / math.Sqrt(vr/float64(cols)+eps)
			for j, v := range row {
				y[r*cols+j] = (v-mean)*rstd*gamma[s][j] + beta[s][j]
			}
			r++
		}
	}
	return y
}

func testNormBackward(e *env, tr kernels.Trainer) {
	const eps = 1e-5
	rows := []int{3, 0, 5, 4, 2}
	trained := []bool{true, true, false, true, false}
	total := 0
	for _, r := range rows {
		total += r
	}
	for _, cols := range []int{7, 37, 128} {
		gamma, beta := make([][]float64, len(rows)), make([][]float64, len(rows))
		for s := range rows {
			gamma[s] = to64(e.uniform(cols, 0.5, 1.5))
			beta[s] = to64(e.uniform(cols, -0.5, 0.5))
		}
		x := to64(e.randn(total * cols))
		for i := range x {
			x[i] = 2 + 3*x[i]
		}
		dy := e.randn(total * cols)
		loss := func() float64 { return dot64(norm64(x, rows, gamma, beta, cols, eps), dy) }
		wantDx := numGrad(x, loss)
		wantDG, wantDB := make([][]float64, len(rows)), make([][]float64, len(rows))
		for s := range rows {
			if trained[s] {
				wantDG[s], wantDB[s] = numGrad(gamma[s], loss), numGrad(beta[s], loss)
			}
		}
		for _, acc := range []bool{false, true} {
			what := fmt.Sprintf("NormBackward(cols=%d accumulate=%v)", cols, acc)
			segs := make([]kernels.NormGrad, len(rows))
			dg, db := make([]*placed, len(rows)), make([]*placed, len(rows))
			dgBefore, dbBefore := make([][]float32, len(rows)), make([][]float32, len(rows))
			for s, r := range rows {
				segs[s] = kernels.NormGrad{Rows: r, Gamma: e.put(f32(gamma[s])).view}
				if trained[s] {
					dgBefore[s], dbBefore[s] = e.randn(cols), e.randn(cols)
					dg[s], db[s] = e.put(dgBefore[s]), e.put(dbBefore[s])
					segs[s].DGamma, segs[s].DBeta = dg[s].view, db[s].view
				}
			}
			dxBefore := e.randn(total * cols)
			pdx := e.put(dxBefore)
			tr.NormBackward(pdx.view, e.put(dy).view, e.put(f32(x)).view, cols, eps, segs, acc)
			if acc {
				e.gradNear(what+" dx", e.get(pdx), plus(dxBefore, wantDx))
			} else {
				e.gradNear(what+" dx", e.get(pdx), wantDx)
			}
			e.guarded(what+" dx", pdx)
			for s := range rows {
				if trained[s] {
					e.gradNear(fmt.Sprintf("%s DGamma[%d]", what, s), e.get(dg[s]), plus(dgBefore[s], wantDG[s]))
					e.gradNear(fmt.Sprintf("%s DBeta[%d]", what, s), e.get(db[s]), plus(dbBefore[s], wantDB[s]))
					e.guarded(what+" DGamma", dg[s])
				}
			}
		}
	}
}

// attnGradCases are attention shapes small enough for finite differences.
func attnGradCases() []attnCase {
	return []attnCase{
		{B: 1, T: 1, H: 1, hd: 1, lens: []int{1}},
		{B: 2, T: 5, H: 3, hd: 4, lens: []int{5, 3}},
		{B: 3, T: 9, H: 2, hd: 5, lens: []int{9, 4, 0}},
		{B: 2, T: 11, H: 2, hd: 3, causal: true, lens: []int{11, 6}},
		{B: 2, T: 8, H: 1, hd: 17, lens: []int{8, 7}, holes: [][2]int{{0, 2}, {1, 0}}},
		{B: 1, T: 20, H: 1, hd: 16, causal: true, lens: []int{17}},
	}
}

func testAttentionBackward(e *env, tr kernels.Trainer) {
	for _, c := range attnGradCases() {
		a := c.attn()
		D := c.H * c.hd
		qkv := to64(e.uniform(c.B*c.T*3*D, -1.5, 1.5))
		dctx := e.randn(c.B * c.T * D)
		for r := range c.B * c.T { // outputs of padding queries are ignored by callers
			if a.KeyMask[r] == 0 {
				clear(dctx[r*D : (r+1)*D])
			}
		}
		want := numGrad(qkv, func() float64 {
			ctx, _ := refAttention(qkv, a)
			return dot64(ctx, dctx)
		})
		pq := e.put(f32(qkv))
		ctx, probs := tr.Alloc(c.B*c.T*D), tr.Alloc(c.B*c.H*c.T*c.T)
		tr.Attention(ctx, pq.view, a, probs)
		pd := e.put(e.randn(c.B * c.T * 3 * D)) // garbage: must be overwritten
		tr.AttentionBackward(pd.view, e.put(dctx).view, pq.view, probs, a)
		what := fmt.Sprintf("AttentionBackward(B=%d T=%d H=%d hd=%d causal=%v lens=%v holes=%v)",
			c.B, c.T, c.H, c.hd, c.causal, c.lens, c.holes)
		e.gradNear(what, e.get(pd), want)
		e.guarded(what, pd)
		tr.Free(ctx)
		tr.Free(probs)
	}
}
