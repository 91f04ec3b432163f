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

// TestLowPrecisionBackward runs each backward op on the bf16 and fp16
// backends and on the cpu backend with the inputs rounded as the device stores
// them, allowing lowpTol units of the storage type's rounding of each
// output's magnitude (as TestLowPrecisionOps does for the forward ops).
func TestLowPrecisionBackward(t *testing.T) {
	ref, err := cpu.New(zerolog.Nop(), cpu.Options{DisableBLAS: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, prec := range []Precision{BF16, FP16} {
		for _, useBLAS := range []bool{false, true} {
			name := fmt.Sprintf("%s/kernels", prec)
			if useBLAS {
				name = fmt.Sprintf("%s/cublas", prec)
			}
			t.Run(name, func(t *testing.T) {
				be := openTest(t, Options{Precision: prec, DisableCublas: !useBLAS})
				if useBLAS && be.blas == nil {
					t.Skip("no cuBLAS library found")
				}
				e := &lowpEnv{t: t, be: be, ref: ref, prec: prec, rng: rand.New(rand.NewPCG(11, uint64(len(name))))}
				t.Run("SegLinearBackward", func(t *testing.T) { e.t = t; e.segLinearBackward() })
				t.Run("ActivateBackward", func(t *testing.T) { e.t = t; e.activateBackward() })
				t.Run("NormBackward", func(t *testing.T) { e.t = t; e.normBackward() })
				t.Run("AttentionBackward", func(t *testing.T) { e.t = t; e.attentionBackward() })
			})
		}
	}
}

func (e *lowpEnv) segLinearBackward() {
	ref := e.ref.(kernels.Trainer)
	n, k := 48, 24
	rows := []int{37, 0, 70, 5}
	hasW := []bool{true, true, false, true}
	total := 0
	for _, r := range rows {
		total += r
	}
	for _, acc := range []bool{false, true} {
		x, dy, dx0 := e.randn(total*k, 1), e.randn(total*n, 1), e.randn(total*k, 1)
		gx, rx := e.both(x)
		gdy, rdy := e.both(dy)
		gdx, rdx := e.both(dx0)
		var gs, rs, ms []kernels.LinearGrad
		var dws [][2]kernels.Buffer
		for i, r := range rows {
			g, rr, mm := kernels.LinearGrad{Rows: r}, kernels.LinearGrad{Rows: r}, kernels.LinearGrad{Rows: r}
			if hasW[i] {
				w := e.randn(n*k, 0.3)
				g.W, rr.W = e.both(w)
				mm.W = e.ref.Upload(e.abs(w))
				dw, db := e.randn(n*k, 0.1), e.randn(n, 0.1)
				g.DW, rr.DW = e.both(dw)
				g.DBias, rr.DBias = e.both(db)
				mm.DW, mm.DBias = e.ref.Upload(e.abs(dw)), e.ref.Upload(e.abs(db))
				dws = append(dws, [2]kernels.Buffer{g.DW, rr.DW}, [2]kernels.Buffer{g.DBias, rr.DBias}, [2]kernels.Buffer{nil, mm.DW},
					[2]kernels.Buffer{nil, mm.DBias})
			}
			gs, rs, ms = append(gs, g), append(rs, rr), append(ms, mm)
		}
		e.be.SegLinearBackward(gdx, gdy, gx, n, k, gs, acc)
		ref.SegLinearBackward(rdx, rdy, rx, n, k, rs, acc)
		mdx := e.ref.Upload(e.abs(dx0))
		ref.SegLinearBackward(mdx, e.ref.Upload(e.abs(dy)), e.ref.Upload(e.abs(x)), n, k, ms, true)
		what := fmt.Sprintf("SegLinearBackward(accumulate=%v)", acc)
		e.near(what+" dx", e.get(e.be, gdx), e.get(e.ref, rdx), e.get(e.ref, mdx), 1e-6)
		for i := 0; i < len(dws); i += 4 {
			e.near(what+" DW", e.get(e.be, dws[i][0]), e.get(e.ref, dws[i][1]), e.get(e.ref, dws[i+2][1]), 1e-6)
			e.near(what+" DBias", e.get(e.be, dws[i+1][0]), e.get(e.ref, dws[i+1][1]), e.get(e.ref, dws[i+3][1]), 1e-6)
		}
	}
}

func (e *lowpEnv) activateBackward() {
	ref := e.ref.(kernels.Trainer)
	n := 3000
	x, dy := e.randn(n, 3), e.randn(n, 1)
	for _, act := range []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU} {
		gx, rx := e.both(x)
		gdy, rdy := e.both(dy)
		e.be.ActivateBackward(gdy, gx, gdy, n, act) // in place, as the engine calls it
		ref.ActivateBackward(rdy, rx, rdy, n, act)
		e.near(fmt.Sprintf("ActivateBackward(%v)", act), e.get(e.be, gdy), e.get(e.ref, rdy), e.abs(dy), 1e-6)
	}
}

func (e *lowpEnv) normBackward() {
	ref := e.ref.(kernels.Trainer)
	for _, cols := range []int{32, 384} {
		rows := []int{5, 0, 150, 9} // 150 rows: the gain gradients' sum in 4 chunks (colChunks)
		total := 0
		var gs, rs []kernels.NormGrad
		var grads [][2]kernels.Buffer
		for i, r := range rows {
			total += r
			g := e.randn(cols, 0.3)
			for j := range g {
				g[j] += 1
			}
			g = e.round(g)
			gg, rg := e.both(g)
			s, rr := kernels.NormGrad{Rows: r, Gamma: gg}, kernels.NormGrad{Rows: r, Gamma: rg}
			if i != 3 { // the last segment is frozen
				s.DGamma, rr.DGamma = e.both(make([]float32, cols))
				s.DBeta, rr.DBeta = e.both(make([]float32, cols))
				grads = append(grads, [2]kernels.Buffer{s.DGamma, rr.DGamma}, [2]kernels.Buffer{s.DBeta, rr.DBeta})
			}
			gs, rs = append(gs, s), append(rs, rr)
		}
		for _, acc := range []bool{false, true} {
			x, dy, dx0 := e.randn(total*cols, 2), e.randn(total*cols, 1), e.randn(total*cols, 1)
			gx, rx := e.both(x)
			gdy, rdy := e.both(dy)
			gdx, rdx := e.both(dx0)
			e.be.NormBackward(gdx, gdy, gx, cols, 1e-5, gs, acc)
			ref.NormBackward(rdx, rdy, rx, cols, 1e-5, rs, acc)
			what := fmt.Sprintf("NormBackward(cols=%d accumulate=%v)", cols, acc)
			// dx ≈ rstd·(dy·γ − means): its size is that of |dy|·γ·rstd (plus dx0).
			mag := make([]float32, len(dy))
			for i := range mag {
				mag[i] = 2 * float32(math.Abs(float64(dy[i]))+1)
				if acc {
					mag[i] += float32(math.Abs(float64(dx0[i])))
				}
			}
			e.near(what+" dx", e.get(e.be, gdx), e.get(e.ref, rdx), mag, 1e-5)
		}
		for i := 0; i < len(grads); i += 2 {
			// Σ over ≤ 150 rows of dy·x̂ (twice: both calls accumulate).
			e.near(fmt.Sprintf("NormBackward(cols=%d) DGamma", cols), e.get(e.be, grads[i][0]), e.get(e.ref, grads[i][1]), nil, 0.05)
			e.near(fmt.Sprintf("NormBackward(cols=%d) DBeta", cols), e.get(e.be, grads[i+1][0]), e.get(e.ref, grads[i+1][1]), nil, 0.05)
		}
	}
}

func (e *lowpEnv) attentionBackward() {
	ref := e.ref.(kernels.Trainer)
	type tc struct {
		B, T, H, hd int
		causal      bool
		lens        []int
	}
	for _, c := range []tc{{2, 19, 2, 16, false, []int{19, 7}}, {2, 17, 3, 8, true, []int{17, 0}}} {
		D := c.H * c.hd
		mask := make([]uint8, c.B*c.T)
		for b, l := range c.lens {
			for i := range l {
				mask[b*c.T+i] = 1
			}
		}
		a := kernels.Attn{Batch: c.B, Seq: c.T, Heads: c.H, HeadDim: c.hd, KeyMask: mask, Causal: c.causal,
			Scale: float32(1 / math.Sqrt(float64(c.hd)))}
		qkv, dctx := e.randn(c.B*c.T*3*D, 1), e.randn(c.B*c.T*D, 1)
		gq, rq := e.both(qkv)
		gd, rd := e.both(dctx)
		gc, rc := e.be.Alloc(c.B*c.T*D), e.ref.Alloc(c.B*c.T*D)
		gp, rp := e.be.Alloc(c.B*c.H*c.T*c.T), e.ref.Alloc(c.B*c.H*c.T*c.T)
		e.be.Attention(gc, gq, a, gp)
		ref.Attention(rc, rq, a, rp)
		gdq, rdq := e.be.Alloc(c.B*c.T*3*D), e.ref.Alloc(c.B*c.T*3*D)
		e.be.AttentionBackward(gdq, gd, gq, gp, a)
		ref.AttentionBackward(rdq, rd, rq, rp, a)
		// Gradients are sums over up to T keys of products of unit-sized
		// values: the tolerance scales with their size, not each value's.
		mag := make([]float32, c.B*c.T*3*D)
		for i := range mag {
			mag[i] = 4
		}
		e.near(fmt.Sprintf("AttentionBackward(B=%d T=%d H=%d hd=%d causal=%v)", c.B, c.T, c.H, c.hd, c.causal),
			e.get(e.be, gdq), e.get(e.ref, rdq), mag, 1e-3)
	}
}
