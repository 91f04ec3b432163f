package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/adapterdb/adapterdb/kernels"
)

// Benchmarks at MiniLM-L6 shapes: batch 32 × 128 tokens (M = 4096 rows),
// hidden 384, 12 heads of 32, feed-forward 1536. Each reports its rate and
// "ms/layer": the time the op takes in one transformer layer.
//
//	go test -run '^$' -bench . -count 5 ./kernels/cpu/

const (
	bB, bT, bH, bHeads, bFFN = 32, 128, 384, 12, 1536
	bM                       = bB * bT
)

func randBuf(be *Backend, n int, seed uint64) kernels.Buffer {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return be.Upload(v)
}

func reportRate(b *testing.B, flops, bytes float64, perLayer int) {
	sec := b.Elapsed().Seconds() / float64(b.N)
	if flops > 0 {
		b.ReportMetric(flops/sec/1e9, "GFLOP/s")
	}
	if bytes > 0 {
		b.ReportMetric(bytes/sec/1e9, "GB/s")
	}
	if perLayer > 0 {
		b.ReportMetric(sec*1e3*float64(perLayer), "ms/layer")
	}
}

func benchGemm(b *testing.B, be *Backend, tB bool, m, n, k int) {
	x, w, y := randBuf(be, m*k, 1), randBuf(be, n*k, 2), be.Alloc(m*n)
	ldb := n
	if tB {
		ldb = k
	}
	be.Gemm(false, tB, m, n, k, 1, x, k, w, ldb, 0, y, n) // warm up threads and caches
	b.ResetTimer()
	for b.Loop() {
		be.Gemm(false, tB, m, n, k, 1, x, k, w, ldb, 0, y, n)
	}
	reportRate(b, 2*float64(m)*float64(n)*float64(k), 0, 0)
}

// BenchmarkGemm is the feed-forward GEMM, 4096×1536×384, on OpenBLAS:
// NN and with B transposed (nn.Linear's [out, in] weights, the usual case).
func BenchmarkGemm(b *testing.B) {
	be := newBackend(b, Options{})
	if be.blas == nil {
		b.Skip("OpenBLAS not installed")
	}
	b.Run("NN", func(b *testing.B) { benchGemm(b, be, false, bM, bFFN, bH) })
	b.Run("NT", func(b *testing.B) { benchGemm(b, be, true, bM, bFFN, bH) })
}

// BenchmarkGemmGo is the pure-Go fallback on a quarter of the rows.
func BenchmarkGemmGo(b *testing.B) {
	be := newBackend(b, Options{DisableBLAS: true})
	b.Run("NT", func(b *testing.B) { benchGemm(b, be, true, bM/4, bFFN, bH) })
}

// BenchmarkLinearGELU is the first feed-forward layer: GEMM, bias and GELU.
func BenchmarkLinearGELU(b *testing.B) {
	be := newBackend(b, Options{})
	x, w, bias, y := randBuf(be, bM*bH, 1), randBuf(be, bFFN*bH, 2), randBuf(be, bFFN, 3), be.Alloc(bM*bFFN)
	b.ResetTimer()
	for b.Loop() {
		be.Linear(y, bFFN, x, bM, bFFN, bH, w, kernels.OutIn, bias, kernels.ActGELU)
	}
	reportRate(b, 2*float64(bM)*bFFN*bH, 0, 1)
}

// BenchmarkGELU is the feed-forward activation alone, in place.
func BenchmarkGELU(b *testing.B) {
	for _, act := range []kernels.Act{kernels.ActGELU, kernels.ActGELUTanh} {
		b.Run(act.String(), func(b *testing.B) {
			be := newBackend(b, Options{})
			n := bM * bFFN
			x := randBuf(be, n, 1)
			b.ResetTimer()
			for b.Loop() {
				be.Activate(x, x, n, act)
			}
			reportRate(b, 0, 8*float64(n), 1)
		})
	}
}

// BenchmarkBiasGELU is the pass Linear adds after the GEMM: bias + GELU.
func BenchmarkBiasGELU(b *testing.B) {
	be := newBackend(b, Options{})
	y, bias := randBuf(be, bM*bFFN, 1), randBuf(be, bFFN, 2)
	ys, bs := data(y), data(bias)
	b.ResetTimer()
	for b.Loop() {
		be.parallel(bM, rowGrain(bFFN), 1, func(lo, hi int) {
			be.k.biasAct(ys[lo*bFFN:], bFFN, hi-lo, bFFN, bs, int(kernels.ActGELU))
		})
	}
	reportRate(b, 0, 8*float64(bM*bFFN), 1)
}

// BenchmarkAddNorm is the residual add and LayerNorm (twice per layer).
func BenchmarkAddNorm(b *testing.B) {
	be := newBackend(b, Options{})
	a, r, y := randBuf(be, bM*bH, 1), randBuf(be, bM*bH, 2), be.Alloc(bM*bH)
	g, bt := randBuf(be, bH, 3), randBuf(be, bH, 4)
	segs := []kernels.NormSeg{{Rows: bM, Gamma: g, Beta: bt}}
	b.ResetTimer()
	for b.Loop() {
		be.AddNorm(y, a, a, r, bH, 1e-12, segs) // sum aliases a, as in inference
	}
	reportRate(b, 0, 16*float64(bM*bH), 2)
}

func attnArgs(padded bool) kernels.Attn {
	mask := make([]uint8, bB*bT)
	for s := range bB {
		n := bT
		if padded { // lengths spread over 16..128, as a real batch
			n = 16 + s*(bT-16)/(bB-1)
		}
		for i := range n {
			mask[s*bT+i] = 1
		}
	}
	return kernels.Attn{Batch: bB, Seq: bT, Heads: bHeads, HeadDim: bH / bHeads, KeyMask: mask,
		Scale: float32(1 / math.Sqrt(bH/bHeads))}
}

// attnFlops counts q·kᵀ and p·v over the real tokens only.
func attnFlops(a kernels.Attn) float64 {
	f := 0.0
	for s := range a.Batch {
		n := 0
		for i := range a.Seq {
			n += int(a.KeyMask[s*a.Seq+i])
		}
		f += 4 * float64(n) * float64(n) * float64(a.HeadDim) * float64(a.Heads)
	}
	return f
}

// BenchmarkAttention is self-attention over full-length sequences and over a
// batch of mixed lengths (right padding skipped).
func BenchmarkAttention(b *testing.B) {
	for _, padded := range []bool{false, true} {
		name := "full"
		if padded {
			name = "padded"
		}
		b.Run(name, func(b *testing.B) {
			be := newBackend(b, Options{})
			a := attnArgs(padded)
			qkv, ctx := randBuf(be, bM*3*bH, 1), be.Alloc(bM*bH)
			b.ResetTimer()
			for b.Loop() {
				be.Attention(ctx, qkv, a, nil)
			}
			reportRate(b, attnFlops(a), 0, 1)
		})
	}
}

// BenchmarkAttentionBackward is the training backward of full-length attention.
func BenchmarkAttentionBackward(b *testing.B) {
	be := newBackend(b, Options{})
	a := attnArgs(false)
	qkv, ctx, probs := randBuf(be, bM*3*bH, 1), be.Alloc(bM*bH), be.Alloc(bB*bHeads*bT*bT)
	dctx, dqkv := randBuf(be, bM*bH, 2), be.Alloc(bM*3*bH)
	be.Attention(ctx, qkv, a, probs)
	b.ResetTimer()
	for b.Loop() {
		be.AttentionBackward(dqkv, dctx, qkv, probs, a)
	}
	reportRate(b, 2*attnFlops(a), 0, 1)
}

// BenchmarkLayer is one whole MiniLM encoder layer forward (post-LN BERT),
// op for op as the engine runs it; GFLOP/s counts the GEMMs' work, so it is
// the effective rate the featurizer reaches.
func BenchmarkLayer(b *testing.B) {
	be := newBackend(b, Options{})
	a := attnArgs(false)
	x := randBuf(be, bM*bH, 1)
	wqkv, bqkv := randBuf(be, 3*bH*bH, 2), randBuf(be, 3*bH, 3)
	wo, bo := randBuf(be, bH*bH, 4), randBuf(be, bH, 5)
	w1, b1 := randBuf(be, bFFN*bH, 6), randBuf(be, bFFN, 7)
	w2, b2 := randBuf(be, bH*bFFN, 8), randBuf(be, bH, 9)
	g, bt := randBuf(be, bH, 10), randBuf(be, bH, 11)
	segs := []kernels.NormSeg{{Rows: bM, Gamma: g, Beta: bt}}
	qkv, ctx, attn, h1 := be.Alloc(bM*3*bH), be.Alloc(bM*bH), be.Alloc(bM*bH), be.Alloc(bM*bH)
	f1, f2 := be.Alloc(bM*bFFN), be.Alloc(bM*bH)
	// Time per kind of op, to show where a layer's time goes.
	var tLinear, tAttn, tNorm time.Duration
	timed := func(d *time.Duration, f func()) {
		t0 := time.Now()
		f()
		*d += time.Since(t0)
	}
	b.ResetTimer()
	for b.Loop() {
		timed(&tLinear, func() { be.Linear(qkv, 3*bH, x, bM, 3*bH, bH, wqkv, kernels.OutIn, bqkv, kernels.ActNone) })
		timed(&tAttn, func() { be.Attention(ctx, qkv, a, nil) })
		timed(&tLinear, func() { be.Linear(attn, bH, ctx, bM, bH, bH, wo, kernels.OutIn, bo, kernels.ActNone) })
		timed(&tNorm, func() { be.AddNorm(h1, x, x, attn, bH, 1e-12, segs) })
		timed(&tLinear, func() { be.Linear(f1, bFFN, h1, bM, bFFN, bH, w1, kernels.OutIn, b1, kernels.ActGELU) })
		timed(&tLinear, func() { be.Linear(f2, bH, f1, bM, bH, bFFN, w2, kernels.OutIn, b2, kernels.ActNone) })
		timed(&tNorm, func() { be.AddNorm(x, nil, h1, f2, bH, 1e-12, segs) })
	}
	gemm := 2 * float64(bM) * bH * (3*bH + bH + 2*bFFN)
	reportRate(b, gemm, 0, 1)
	n := float64(b.N)
	b.ReportMetric(tLinear.Seconds()*1e3/n, "linear-ms")
	b.ReportMetric(tAttn.Seconds()*1e3/n, "attn-ms")
	b.ReportMetric(tNorm.Seconds()*1e3/n, "norm-ms")
}

// BenchmarkLinear is each linear map of a MiniLM layer with its bias.
func BenchmarkLinear(b *testing.B) {
	for _, sh := range []struct {
		name string
		n, k int
	}{{"qkv", 3 * bH, bH}, {"out", bH, bH}, {"ffn1", bFFN, bH}, {"ffn2", bH, bFFN}} {
		b.Run(sh.name, func(b *testing.B) {
			be := newBackend(b, Options{})
			x, w, bias, y := randBuf(be, bM*sh.k, 1), randBuf(be, sh.n*sh.k, 2), randBuf(be, sh.n, 3), be.Alloc(bM*sh.n)
			b.ResetTimer()
			for b.Loop() {
				be.Linear(y, sh.n, x, bM, sh.n, sh.k, w, kernels.OutIn, bias, kernels.ActNone)
			}
			reportRate(b, 2*float64(bM)*float64(sh.n)*float64(sh.k), 0, 1)
		})
	}
}

// BenchmarkLinearPaths is the feed-forward map (1536×384, bias and GELU) at
// several M on each path of Linear: OpenBLAS (+ the C bias/GELU pass),
// oneDNN fp32 and oneDNN bf16 on packed weights (where the CPU and library
// allow). M = 4096 is a (32, 128) batch, 128 one 128-token text, 32 a short
// one.
//
//	go test ./kernels/cpu -run '^$' -bench LinearPaths -count 5
func BenchmarkLinearPaths(b *testing.B) {
	for _, path := range []string{"openblas", "onednn", "onednn-bf16"} {
		for _, m := range []int{4096, 128, 32} {
			b.Run(fmt.Sprintf("%s/M=%d", path, m), func(b *testing.B) {
				var be *Backend
				switch path {
				case "openblas":
					be = newBackend(b, Options{OneDNN: "off"})
				case "onednn":
					be = oneDNNBackend(b, "fp32")
				default:
					be = oneDNNBackend(b, "bf16")
				}
				x, w, bias, y := randBuf(be, m*bH, 1), randBuf(be, bFFN*bH, 2), randBuf(be, bFFN, 3), be.Alloc(m*bFFN)
				be.Linear(y, bFFN, x, m, bFFN, bH, w, kernels.OutIn, bias, kernels.ActGELU) // packs the weights
				b.ResetTimer()
				for b.Loop() {
					be.Linear(y, bFFN, x, m, bFFN, bH, w, kernels.OutIn, bias, kernels.ActGELU)
				}
				reportRate(b, 2*float64(m)*bFFN*bH, 0, 0)
			})
		}
	}
}
