package train_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/train"
	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// timedBackend times the cpu backend's operations by kind (BenchmarkTrainOps).
type timedBackend struct {
	kernels.Optimizer
	rows  kernels.RowAttention
	mu    sync.Mutex
	spent map[string]time.Duration
}

func (b *timedBackend) add(kind string, start time.Time) {
	d := time.Since(start)
	b.mu.Lock()
	b.spent[kind] += d
	b.mu.Unlock()
}

func (b *timedBackend) Gemm(tA, tB bool, m, n, k int, alpha float32, a kernels.Buffer, lda int, bb kernels.Buffer, ldb int, beta float32, c kernels.Buffer, ldc int) {
	defer b.add("products", time.Now())
	b.Optimizer.Gemm(tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
}

func (b *timedBackend) Linear(y kernels.Buffer, ldy int, x kernels.Buffer, m, n, k int, w kernels.Buffer, layout kernels.Layout, bias kernels.Buffer, act kernels.Act) {
	defer b.add("products", time.Now())
	b.Optimizer.Linear(y, ldy, x, m, n, k, w, layout, bias, act)
}

func (b *timedBackend) SegLinear(y, x kernels.Buffer, n, k int, segs []kernels.LinearSeg, act kernels.Act, acc bool) {
	defer b.add("adapters", time.Now())
	b.Optimizer.SegLinear(y, x, n, k, segs, act, acc)
}

func (b *timedBackend) SegLinearBackward(dx, dy, x kernels.Buffer, n, k int, segs []kernels.LinearGrad, acc bool) {
	defer b.add("adapters", time.Now())
	b.Optimizer.SegLinearBackward(dx, dy, x, n, k, segs, acc)
}

func (b *timedBackend) Attention(ctx, qkv kernels.Buffer, a kernels.Attn, probs kernels.Buffer) {
	defer b.add("attention", time.Now())
	b.Optimizer.Attention(ctx, qkv, a, probs)
}

func (b *timedBackend) AttentionBackward(dqkv, dctx, qkv, probs kernels.Buffer, a kernels.Attn) {
	defer b.add("attention", time.Now())
	b.Optimizer.AttentionBackward(dqkv, dctx, qkv, probs, a)
}

func (b *timedBackend) AttentionRows(ctx, qkv kernels.Buffer, a kernels.Attn, rows []int32, probs kernels.Buffer) {
	defer b.add("attention", time.Now())
	b.rows.AttentionRows(ctx, qkv, a, rows, probs)
}

func (b *timedBackend) AttentionRowsBackward(dqkv, dctx, qkv, probs kernels.Buffer, a kernels.Attn, rows []int32) {
	defer b.add("attention", time.Now())
	b.rows.AttentionRowsBackward(dqkv, dctx, qkv, probs, a, rows)
}

func (b *timedBackend) Activate(y, x kernels.Buffer, n int, act kernels.Act) {
	defer b.add("activations", time.Now())
	b.Optimizer.Activate(y, x, n, act)
}

func (b *timedBackend) ActivateBackward(dx, x, dy kernels.Buffer, n int, act kernels.Act) {
	defer b.add("activations", time.Now())
	b.Optimizer.ActivateBackward(dx, x, dy, n, act)
}

func (b *timedBackend) AddNorm(y, sum, a, bb kernels.Buffer, cols int, eps float32, segs []kernels.NormSeg) {
	defer b.add("layernorms", time.Now())
	b.Optimizer.AddNorm(y, sum, a, bb, cols, eps, segs)
}

func (b *timedBackend) NormBackward(dx, dy, x kernels.Buffer, cols int, eps float32, segs []kernels.NormGrad, acc bool) {
	defer b.add("layernorms", time.Now())
	b.Optimizer.NormBackward(dx, dy, x, cols, eps, segs, acc)
}

func (b *timedBackend) Copy(dst, src kernels.Buffer) {
	defer b.add("copies", time.Now())
	b.Optimizer.Copy(dst, src)
}

func (b *timedBackend) Embed(y kernels.Buffer, table kernels.Buffer, ids []int32, cols int, add bool) {
	defer b.add("copies", time.Now())
	b.Optimizer.Embed(y, table, ids, cols, add)
}

// BenchmarkTrainOps is BenchmarkTrain's adapters case with the backend's
// operations timed by kind: ms per step of oneDNN's or OpenBLAS's products
// of the frozen weights (forward and input gradients), the adapters'
// products (SegLinear and its backward), attention, activations, LayerNorms,
// copies and gathers, and the rest of the step (the head, the loss, AdamW,
// the Go between operations). Where a training step's time goes:
//
//	go test ./engine/train -run '^$' -bench TrainOps -benchtime 5x
func BenchmarkTrainOps(b *testing.B) {
	dir, ex := benchTrainSet(b)
	be, err := cpu.New(zerolog.Nop(), cpu.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tb := &timedBackend{Optimizer: be, rows: be, spent: map[string]time.Duration{}}
	eng, err := engine.Open(engine.Config{Model: dir, Backend: tb, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	o := train.DefaultOptions()
	o.BatchSize, o.MaxLength, o.Epochs, o.ValidationFraction, o.Trainable = 16, 64, 1, 0, "adapters"
	steps := 0
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		if i == 1 { // the first epoch also makes oneDNN's primitives
			clear(tb.spent)
			steps, wall = 0, 0
		}
		start := time.Now()
		if _, err := train.Train(context.Background(), eng, ex, train.KindUnknown, o, nil); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		steps += len(ex) / o.BatchSize
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(steps) }
	rest := wall
	for kind, d := range tb.spent {
		b.ReportMetric(ms(d), kind+"-ms/step")
		rest -= d
	}
	b.ReportMetric(ms(rest), "rest-ms/step")
	b.ReportMetric(ms(wall), "step-ms")
}
