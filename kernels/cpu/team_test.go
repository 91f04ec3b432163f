package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// TestTeamMatchesHelpers runs every op that can go to OpenMP's team (team.h)
// on a backend with the team and on one without it (Go helper goroutines),
// at sizes split over the threads, and wants the same bits: the pieces run
// the same kernels (with denormals flushed), element by element or row by
// row, and partial sums are cut into the same chunks and added in the same
// order.
func TestTeamMatchesHelpers(t *testing.T) {
	for _, threads := range []int{2, 4} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) { testTeamMatchesHelpers(t, threads) })
	}
}

func testTeamMatchesHelpers(t *testing.T, threads int) {
	withTeam := func(precision string) *Backend {
		be, err := New(zerolog.Nop(), Options{Threads: threads, Precision: precision})
		if err != nil {
			t.Skipf("no %s backend here: %v", precision, err)
		}
		if be.omp().fn == nil {
			t.Skip("no OpenMP team here (oneDNN not loaded: no AVX-512 or no libdnnl2)")
		}
		return be
	}
	tb := withTeam("")
	hb, err := New(zerolog.Nop(), Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	hb.dnn.team = team{}
	// run calls f on both backends with the same inputs (seeded) and
	// compares what it returns.
	run := func(t *testing.T, tb, hb *Backend, f func(be *Backend) []kernels.Buffer) {
		t.Helper()
		got, want := f(tb), f(hb)
		for i := range got {
			g, w := data(got[i]), data(want[i])
			for j := range g {
				if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
					t.Fatalf("output %d differs at %d: team %v, helpers %v", i, j, g[j], w[j])
				}
			}
		}
	}
	split := func(t *testing.T, n, step int) {
		t.Helper()
		if tb.teamSize(n, step) < 2 {
			t.Fatalf("%d items in pieces of %d do not reach the team", n, step)
		}
	}

	n := 3*elemGrain + 21
	for _, act := range []kernels.Act{kernels.ActGELU, kernels.ActGELUTanh, kernels.ActReLU, kernels.ActTanh} {
		t.Run("activate/"+act.String(), func(t *testing.T) {
			split(t, n, tb.step(n, elemGrain, 16))
			run(t, tb, hb, func(be *Backend) []kernels.Buffer {
				x, dy := randBuf(be, n, 1), randBuf(be, n, 2)
				for i := 0; i < n; i += 997 { // denormal inputs: flushed on every thread
					data(x)[i] = 3e-39
				}
				y, dx := be.Alloc(n), be.Alloc(n)
				be.Activate(y, x, n, act)
				be.ActivateBackward(dx, x, dy, n, act)
				be.ActivateBackward(dy, x, dy, n, act) // in place, as the engine runs it
				return []kernels.Buffer{y, dx, dy}
			})
		})
	}

	const rows, cols = 1500, 384
	t.Run("addnorm", func(t *testing.T) {
		split(t, rows, tb.step(rows, rowGrain(cols), 1))
		run(t, tb, hb, func(be *Backend) []kernels.Buffer {
			a, b, g, bt := randBuf(be, rows*cols, 1), randBuf(be, rows*cols, 2), randBuf(be, cols, 3), randBuf(be, cols, 4)
			y, sum, y2 := be.Alloc(rows*cols), be.Alloc(rows*cols), be.Alloc(rows*cols)
			seg := []kernels.NormSeg{{Rows: rows, Gamma: g, Beta: bt}}
			be.AddNorm(y, sum, a, b, cols, 1e-12, seg)
			be.AddNorm(y2, nil, a, nil, cols, 1e-5, seg)
			return []kernels.Buffer{y, sum, y2}
		})
	})
	for _, acc := range []bool{false, true} {
		name := "normbackward"
		if acc {
			name += "/accumulate"
		}
		t.Run(name, func(t *testing.T) {
			split(t, rows, tb.step(rows, rowGrain(cols), 1))
			run(t, tb, hb, func(be *Backend) []kernels.Buffer {
				x, dy, g := randBuf(be, rows*cols, 1), randBuf(be, rows*cols, 2), randBuf(be, cols, 3)
				dx, dx2 := randBuf(be, rows*cols, 4), randBuf(be, rows*cols, 5)
				dg, db := randBuf(be, cols, 6), randBuf(be, cols, 7)
				be.NormBackward(dx, dy, x, cols, 1e-12, []kernels.NormGrad{{Rows: rows, Gamma: g}}, acc)
				be.NormBackward(dx2, dy, x, cols, 1e-12, []kernels.NormGrad{{Rows: rows, Gamma: g, DGamma: dg, DBeta: db}}, acc)
				be.NormBackward(nil, dy, x, cols, 1e-12, []kernels.NormGrad{{Rows: rows, Gamma: g, DGamma: dg}}, acc)
				return []kernels.Buffer{dx, dx2, dg, db}
			})
		})
	}

	t.Run("colsum", func(t *testing.T) {
		const M, n, k = 1024, 384, 64
		if min(tb.threads, max(1, M*n/elemGrain)) < 2 {
			t.Fatal("the column sums are not split")
		}
		run(t, tb, hb, func(be *Backend) []kernels.Buffer {
			dy, x, w := randBuf(be, M*n, 1), randBuf(be, M*k, 2), randBuf(be, n*k, 3)
			dw, db := be.Alloc(n*k), randBuf(be, n, 4)
			be.SegLinearBackward(nil, dy, x, n, k, []kernels.LinearGrad{{Rows: M, W: w, DW: dw, DBias: db}}, false)
			return []kernels.Buffer{db}
		})
	})

	// Attention: three sequences of each kind, full, right-padded and with
	// holes; causal and not; with and without probabilities; backward.
	const B, T, H, hd = 9, 96, 4, 32
	D := H * hd
	mask := make([]uint8, B*T)
	for s := range B {
		for i := range T {
			switch s % 3 {
			case 0:
				mask[s*T+i] = 1
			case 1:
				mask[s*T+i] = b2u(i < 20+5*s)
			default:
				mask[s*T+i] = b2u(i%7 != 3 && i < T-s)
			}
		}
	}
	for _, causal := range []bool{false, true} {
		a := kernels.Attn{Batch: B, Seq: T, Heads: H, HeadDim: hd, KeyMask: mask, Causal: causal, Scale: 0.17}
		s, _ := attnCheck(a)
		name := "attention"
		if causal {
			name += "/causal"
		}
		t.Run(name, func(t *testing.T) {
			split(t, B*H, attnStep(s, tb.threads, tb.grain(attnGrainFlops)))
			run(t, tb, hb, func(be *Backend) []kernels.Buffer {
				qkv, dctx := randBuf(be, B*T*3*D, 1), randBuf(be, B*T*D, 2)
				ctx, ctx2, probs, dqkv := be.Alloc(B*T*D), be.Alloc(B*T*D), be.Alloc(B*H*T*T), be.Alloc(B*T*3*D)
				be.Attention(ctx, qkv, a, probs)
				be.Attention(ctx2, qkv, a, nil)
				be.AttentionBackward(dqkv, dctx, qkv, probs, a)
				return []kernels.Buffer{ctx, ctx2, probs, dqkv}
			})
		})
	}
	t.Run("attention/bf16", func(t *testing.T) {
		if !hasBF16() {
			t.Skip("CPU without AVX512_BF16")
		}
		tb16, hb16 := withTeam("bf16"), withTeam("bf16")
		hb16.dnn.team = team{}
		tb16.dnn.bf16Attn, hb16.dnn.bf16Attn = true, true // whatever bf16Rate measured
		a := kernels.Attn{Batch: B, Seq: T, Heads: H, HeadDim: hd, KeyMask: mask, Scale: 0.17}
		if s, _ := attnCheck(a); !tb16.attnBF16(s) {
			t.Skip("no bf16 attention kernel here")
		}
		run(t, tb16, hb16, func(be *Backend) []kernels.Buffer {
			qkv, ctx := randBuf(be, B*T*3*D, 1), be.Alloc(B*T*D)
			be.Attention(ctx, qkv, a, nil)
			return []kernels.Buffer{ctx}
		})
	})
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
