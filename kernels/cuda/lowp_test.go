//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// The bf16 and fp16 modes round every stored value to 8 or 11 significant
// bits, which the float64 conformance suite cannot allow for. These tests run
// each op on both the 16-bit backend and the cpu backend, the latter on the
// inputs rounded exactly as the device stores them, and allow a few units of
// the storage type's rounding (u = 2^-8 for bf16, 2^-11 for fp16) relative to
// each output's magnitude: what intermediate roundings (a GEMM output before
// its epilogue, attention weights before their product with V) add on top of
// the output's own.

// lowpTol is the tolerance in units of u.
const lowpTol = 8

func unitRoundoff(p Precision) float64 {
	if p == BF16 {
		return 1.0 / 256
	}
	return 1.0 / 2048
}

// lowpEnv runs one op on the 16-bit backend and the reference.
type lowpEnv struct {
	t    *testing.T
	be   *Backend
	ref  kernels.Backend
	prec Precision
	rng  *rand.Rand
}

// round is v as the device stores it.
func (e *lowpEnv) round(v []float32) []float32 {
	b := make([]byte, len(v)*e.prec.size())
	encode(e.prec, b, v)
	out := make([]float32, len(v))
	decode(e.prec, out, b)
	return out
}

func (e *lowpEnv) randn(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(scale * e.rng.NormFloat64())
	}
	return e.round(v)
}

func (e *lowpEnv) abs(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(math.Abs(float64(x)))
	}
	return out
}

// both uploads v to the backend under test and to the reference.
func (e *lowpEnv) both(v []float32) (kernels.Buffer, kernels.Buffer) {
	return e.be.Upload(v), e.ref.Upload(append([]float32(nil), v...))
}

func (e *lowpEnv) get(be kernels.Backend, b kernels.Buffer) []float32 {
	out := make([]float32, b.Len())
	be.Download(out, b)
	return out
}

// near checks |got − want| ≤ lowpTol·u·mag + atol element-wise (mag nil:
// |want| plus the mean |want|, for ops whose outputs do not cancel).
func (e *lowpEnv) near(what string, got, want, mag []float32, atol float64) {
	e.t.Helper()
	if mag == nil {
		mean := 0.0
		for _, w := range want {
			mean += math.Abs(float64(w))
		}
		mean /= float64(max(1, len(want)))
		mag = make([]float32, len(want))
		for i, w := range want {
			mag[i] = float32(math.Abs(float64(w)) + mean)
		}
	}
	u := unitRoundoff(e.prec)
	bad := 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		lim := lowpTol*u*float64(mag[i]) + atol
		if math.IsNaN(float64(got[i])) || d > lim {
			bad++
			if bad <= 5 {
				e.t.Errorf("%s[%d] = %v, want %v (|diff| %.3g > %.3g)", what, i, got[i], want[i], d, lim)
			}
		}
	}
	if bad > 5 {
		e.t.Errorf("%s: %d of %d values off", what, bad, len(got))
	}
}

func TestLowPrecisionOps(t *testing.T) {
	ref, err := cpu.New(zerolog.Nop(), cpu.Options{DisableBLAS: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, prec := range []Precision{BF16, FP16} {
		// kernels: the package's GEMMs; cublas: cuBLAS with the epilogues on
		// cuBLASLt; cublas-nolt: cuBLAS with separate bias/activation passes.
		for _, mode := range []string{"kernels", "cublas", "cublas-nolt"} {
			useBLAS := mode != "kernels"
			name := fmt.Sprintf("%s/%s", prec, mode)
			t.Run(name, func(t *testing.T) {
				be := openTest(t, Options{Precision: prec, DisableCublas: !useBLAS, DisableCublasLt: mode == "cublas-nolt"})
				if useBLAS && be.blas == nil {
					t.Skip("no cuBLAS library found")
				}
				if mode == "cublas" && be.lt == nil {
					t.Skip("no cuBLASLt library found")
				}
				e := &lowpEnv{t: t, be: be, ref: ref, prec: prec, rng: rand.New(rand.NewPCG(7, uint64(len(name))))}
				t.Run("Linear", func(t *testing.T) { e.t = t; e.linear() })
				t.Run("Gemm", func(t *testing.T) { e.t = t; e.gemm() })
				t.Run("SegLinear", func(t *testing.T) { e.t = t; e.segLinear() })
				t.Run("AddNorm", func(t *testing.T) { e.t = t; e.addNorm() })
				t.Run("Attention", func(t *testing.T) { e.t = t; e.attention() })
				t.Run("Elementwise", func(t *testing.T) { e.t = t; e.elementwise() })
			})
		}
	}
}

func (e *lowpEnv) linear() {
	shapes := [][3]int{{7, 5, 3}, {70, 48, 40}, {300, 200, 96}} // the last takes the big tensor-core tiles
	if !emulated {
		shapes = append(shapes, [3]int{1024, 768, 768}, [3]int{512, 3072, 768})
	}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, layout := range []kernels.Layout{kernels.OutIn, kernels.InOut} {
			acts := []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU}
			if m*n*k > 1<<20 {
				acts = acts[:2] // the big shapes: bias only and BERT's GELU (the emulator's reference GEMM is slow)
			}
			for _, act := range acts {
				x, w, bias := e.randn(m*k, 1), e.randn(n*k, 0.3), e.randn(n, 1)
				gx, rx := e.both(x)
				gw, rw := e.both(w)
				gb, rb := e.both(bias)
				ldy := n + 3 // rows not aligned to four values: the scalar passes
				if layout == kernels.InOut {
					ldy = n + 4 // the vectorised passes where n is a multiple of four
				}
				gy, ry := e.be.Alloc(m*ldy), e.ref.Alloc(m*ldy)
				e.be.Linear(gy, ldy, gx, m, n, k, gw, layout, gb, act)
				e.ref.Linear(ry, ldy, rx, m, n, k, rw, layout, rb, act)
				// magnitude: |x|·|W| + |b|
				mag := e.ref.Alloc(m * ldy)
				e.ref.Linear(mag, ldy, e.ref.Upload(e.abs(x)), m, n, k, e.ref.Upload(e.abs(w)), layout,
					e.ref.Upload(e.abs(bias)), kernels.ActNone)
				e.near(fmt.Sprintf("Linear(%dx%dx%d layout=%d act=%v)", m, n, k, layout, act),
					e.get(e.be, gy), e.get(e.ref, ry), e.get(e.ref, mag), 1e-6)
			}
		}
	}
}

func (e *lowpEnv) gemm() {
	for _, s := range [][3]int{{33, 17, 65}, {16, 1, 300}, {130, 70, 20}} {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				a, b, c := e.randn(m*k, 1), e.randn(k*n, 1), e.randn(m*n, 1)
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				ga, ra := e.both(a)
				gb, rb := e.both(b)
				gc, rc := e.both(c)
				e.be.Gemm(tA, tB, m, n, k, 0.5, ga, lda, gb, ldb, -0.75, gc, n)
				e.ref.Gemm(tA, tB, m, n, k, 0.5, ra, lda, rb, ldb, -0.75, rc, n)
				mag := e.ref.Upload(e.abs(c))
				e.ref.Gemm(tA, tB, m, n, k, 0.5, e.ref.Upload(e.abs(a)), lda, e.ref.Upload(e.abs(b)), ldb, 0.75, mag, n)
				e.near(fmt.Sprintf("Gemm(tA=%v tB=%v %dx%dx%d)", tA, tB, m, n, k), e.get(e.be, gc), e.get(e.ref, rc),
					e.get(e.ref, mag), 1e-6)
			}
		}
	}
}

func (e *lowpEnv) segLinear() {
	for _, nk := range [][2]int{{16, 32}, {64, 96}, {96, 16}} {
		n, k := nk[0], nk[1]
		rows := []int{37, 0, 130, 5, 64, 1}
		hasW := []bool{true, true, false, true, true, true}
		total := 0
		for _, r := range rows {
			total += r
		}
		for _, acc := range []bool{false, true} {
			act := kernels.ActGELU
			if acc {
				act = kernels.ActNone
			}
			x, y := e.randn(total*k, 1), e.randn(total*n, 1)
			gx, rx := e.both(x)
			gy, ry := e.both(y)
			mag := e.ref.Upload(e.abs(y))
			var gs, rs, ms []kernels.LinearSeg
			for i, r := range rows {
				g, rr, mm := kernels.LinearSeg{Rows: r}, kernels.LinearSeg{Rows: r}, kernels.LinearSeg{Rows: r}
				if hasW[i] {
					w, b := e.randn(n*k, 0.3), e.randn(n, 1)
					g.W, rr.W = e.both(w)
					g.Bias, rr.Bias = e.both(b)
					mm.W, mm.Bias = e.ref.Upload(e.abs(w)), e.ref.Upload(e.abs(b))
				}
				gs, rs, ms = append(gs, g), append(rs, rr), append(ms, mm)
			}
			e.be.SegLinear(gy, gx, n, k, gs, act, acc)
			e.ref.SegLinear(ry, rx, n, k, rs, act, acc)
			if !acc {
				mag = e.ref.Upload(e.abs(y)) // rows without W keep y
			}
			e.ref.SegLinear(mag, e.ref.Upload(e.abs(x)), n, k, ms, kernels.ActNone, true)
			e.near(fmt.Sprintf("SegLinear(n=%d k=%d accumulate=%v)", n, k, acc), e.get(e.be, gy), e.get(e.ref, ry),
				e.get(e.ref, mag), 1e-6)
		}
	}
}

func (e *lowpEnv) addNorm() {
	// 32, 384 and 768 take the vectorised kernel (kern_fused.h), 98 and 1500
	// the scalar ones (98 not a multiple of four, 1500 wider than 1024).
	for _, cols := range []int{32, 98, 384, 768, 1500} {
		rows := []int{5, 0, 17, 9}
		total := 0
		var gs, rs []kernels.NormSeg
		for _, r := range rows {
			total += r
			g, b := e.randn(cols, 0.3), e.randn(cols, 0.5)
			for i := range g {
				g[i] += 1
			}
			g = e.round(g)
			gg, rg := e.both(g)
			gb, rb := e.both(b)
			gs = append(gs, kernels.NormSeg{Rows: r, Gamma: gg, Beta: gb})
			rs = append(rs, kernels.NormSeg{Rows: r, Gamma: rg, Beta: rb})
		}
		a, b := e.randn(total*cols, 1), e.randn(total*cols, 1)
		ga, ra := e.both(a)
		gb, rb := e.both(b)
		gy, ry := e.be.Alloc(total*cols), e.ref.Alloc(total*cols)
		gsum, rsum := e.be.Alloc(total*cols), e.ref.Alloc(total*cols)
		e.be.AddNorm(gy, gsum, ga, gb, cols, 1e-5, gs)
		e.ref.AddNorm(ry, rsum, ra, rb, cols, 1e-5, rs)
		e.near(fmt.Sprintf("AddNorm(cols=%d) y", cols), e.get(e.be, gy), e.get(e.ref, ry), nil, 1e-3)
		e.near(fmt.Sprintf("AddNorm(cols=%d) sum", cols), e.get(e.be, gsum), e.get(e.ref, rsum), nil, 0)
	}
}

func (e *lowpEnv) attention() {
	type tc struct {
		B, T, H, hd int
		causal      bool
		probs       bool
		lens        []int
	}
	cases := []tc{
		{2, 37, 2, 32, false, false, []int{37, 20}},  // tensor cores, hd 32, padding
		{2, 70, 2, 64, false, false, []int{70, 65}},  // tensor cores, two key tiles
		{2, 70, 1, 64, true, false, []int{70, 33}},   // tensor cores, causal
		{1, 20, 2, 128, false, false, []int{20}},     // tensor cores, hd 128
		{3, 19, 2, 8, false, false, []int{19, 7, 0}}, // SIMT: hd 8 (the tiny models), an empty sequence
		{2, 33, 2, 64, false, true, []int{33, 30}},   // stored weights: SIMT, or cuBLAS when present
		{2, 17, 3, 16, true, true, []int{17, 9}},     // stored weights, causal
	}
	if !emulated {
		cases = append(cases, tc{8, 128, 12, 64, false, false, []int{128, 100, 128, 1, 128, 64, 128, 127}})
	}
	for _, c := range cases {
		D := c.H * c.hd
		mask := make([]uint8, c.B*c.T)
		for b, l := range c.lens {
			for i := range l {
				mask[b*c.T+i] = 1
			}
		}
		a := kernels.Attn{Batch: c.B, Seq: c.T, Heads: c.H, HeadDim: c.hd, KeyMask: mask, Causal: c.causal,
			Scale: float32(1 / math.Sqrt(float64(c.hd)))}
		qkv := e.randn(c.B*c.T*3*D, 1)
		gq, rq := e.both(qkv)
		gc, rc := e.be.Alloc(c.B*c.T*D), e.ref.Alloc(c.B*c.T*D)
		var gp, rp kernels.Buffer
		if c.probs {
			gp, rp = e.be.Alloc(c.B*c.H*c.T*c.T), e.ref.Alloc(c.B*c.H*c.T*c.T)
		}
		e.be.Attention(gc, gq, a, gp)
		e.ref.Attention(rc, rq, a, rp)
		got, want := e.get(e.be, gc), e.get(e.ref, rc)
		for r := range c.B * c.T { // padding queries may hold anything finite
			if mask[r] == 0 {
				for d := range D {
					if v := float64(got[r*D+d]); math.IsNaN(v) || math.IsInf(v, 0) {
						e.t.Errorf("attention %+v: padding row %d not finite", c, r)
					}
					got[r*D+d], want[r*D+d] = 0, 0
				}
			}
		}
		// |ctx| ≤ max|v|: the tolerance scales with the values' size.
		mag := make([]float32, len(want))
		for i := range mag {
			mag[i] = 3
		}
		what := fmt.Sprintf("Attention(B=%d T=%d H=%d hd=%d causal=%v probs=%v)", c.B, c.T, c.H, c.hd, c.causal, c.probs)
		e.near(what, got, want, mag, 1e-3)
		if c.probs {
			gpv, rpv := e.get(e.be, gp), e.get(e.ref, rp)
			for b := range c.B {
				for h := range c.H {
					for i := range c.T {
						if mask[b*c.T+i] == 0 {
							row := ((b*c.H+h)*c.T + i) * c.T
							for j := range c.T {
								gpv[row+j], rpv[row+j] = 0, 0
							}
						}
					}
				}
			}
			e.near(what+" probs", gpv, rpv, nil, 1e-3)
		}
	}
}

func (e *lowpEnv) elementwise() {
	n := 5000
	x, y := e.randn(n, 3), e.randn(n, 1)
	for _, act := range []kernels.Act{kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU} {
		gx, rx := e.both(x)
		gy, ry := e.be.Alloc(n), e.ref.Alloc(n)
		e.be.Activate(gy, gx, n, act)
		e.ref.Activate(ry, rx, n, act)
		e.near(fmt.Sprintf("Activate(%v)", act), e.get(e.be, gy), e.get(e.ref, ry), nil, 1e-6)
	}
	gx, rx := e.both(x)
	gy, ry := e.both(y)
	gs, rs := e.be.Alloc(n), e.ref.Alloc(n)
	e.be.Add(gs, gx, gy, n)
	e.ref.Add(rs, rx, ry, n)
	e.near("Add", e.get(e.be, gs), e.get(e.ref, rs), nil, 0)
	const rows, cols = 50, 48
	table := e.randn(rows*cols, 1)
	ids := make([]int32, 300)
	for i := range ids {
		ids[i] = int32(e.rng.IntN(rows))
	}
	gt, rt := e.both(table)
	ge, re := e.be.Alloc(len(ids)*cols), e.ref.Alloc(len(ids)*cols)
	e.be.Embed(ge, gt, ids, cols, false)
	e.ref.Embed(re, rt, ids, cols, false)
	e.be.Embed(ge, gt, ids[:len(ids)/2], cols, true)
	e.ref.Embed(re, rt, ids[:len(ids)/2], cols, true)
	e.near("Embed", e.get(e.be, ge), e.get(e.ref, re), nil, 0)
}
