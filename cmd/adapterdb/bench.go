package main

import (
	"context"
	"runtime"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/kernels"
)

func init() {
	register(command{name: "bench", summary: "measure featurizer throughput on synthetic batches (one JSON line)", run: runBench})
}

const benchHelp = `Runs the forward pass on B sequences of exactly L real tokens and prints one
JSON line: seq_per_s, ms_per_batch (median), ms_min, ms_max, gflops, backend, ...

gflops is effective throughput: flops_per_batch / median time, with
  flops_per_batch = layers · (2·B·L·(4·H² + 2·H·I) + 4·B·L²·H)
(the four attention projections and the feed-forward network, plus attention
scores and context; a multiply-add counts 2; element-wise work, embeddings
and the pooler are not counted), H hidden size, I intermediate size.`

func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "bench [--model DIR] --batch B --seq L [--iters N] [--adapters K] [--device cpu|cpu:bf16|cpu:int8|cuda]\n\n"+indent(benchHelp))
	modelDir := fs.String("model", "demo", "Hugging Face checkpoint directory, or demo")
	batch := fs.Int("batch", 32, "sequences per batch (B)")
	seqLen := fs.Int("seq", 128, "real tokens per sequence (L)")
	iters := fs.Int("iters", 10, "timed iterations after one warm-up")
	poolName := fs.String("pool", "", "pooling (cls, first, mean, last; default: the model's)")
	nAdapters := fs.Int("adapters", 0, "run the batch through K random adapters in one mixed pass (0: the plain featurizer)")
	adapterSize := fs.Int("adapter-size", adapter.DefaultSize, "bottleneck size of the --adapters")
	device := fs.String("device", "cpu", deviceHelp)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErr("unexpected arguments %q", rest)
	}
	pool, err := model.ParsePool(*poolName)
	if err != nil {
		return usageErr("%v", err)
	}
	be, err := openBackend(*device, e.log)
	if err != nil {
		return err
	}
	eng, err := openEngine(e, *modelDir, func(c *engine.Config) { c.Backend = be })
	if err != nil {
		return err
	}
	defer eng.Close()
	m := eng.Model()
	var adapters []*model.Adapter
	for i := 0; i < *nAdapters; i++ {
		spec := adapter.Spec{Task: adapter.Classification, Labels: []string{"a", "b"}, Size: *adapterSize,
			Act: kernels.ActGELU, Pool: m.Cfg.DefaultPool(m.W.Pooler != nil)}
		set, err := adapter.Random(m, spec, uint64(i+1))
		if err != nil {
			return usageErr("%v", err)
		}
		adapters = append(adapters, set.Bind(m.Be))
	}
	b, err := engine.SyntheticBatch(m.Cfg, *batch, *seqLen, adapters)
	if err != nil {
		return usageErr("%v", err)
	}
	r, err := engine.Bench(ctx, m, b, *iters, pool)
	if err != nil {
		return err
	}
	return writeJSONLine(e, map[string]any{
		"model":           eng.Name(),
		"backend":         eng.Backend(),
		"batch":           *batch,
		"adapters":        *nAdapters,
		"seq":             *seqLen,
		"iters":           r.Iters,
		"seq_per_s":       round(r.SeqPerSec, 2),
		"ms_per_batch":    round(r.Median.Seconds()*1e3, 3),
		"ms_min":          round(r.Min.Seconds()*1e3, 3),
		"ms_max":          round(r.Max.Seconds()*1e3, 3),
		"gflops":          round(r.GFLOPs, 1),
		"flops_per_batch": r.FLOPsBatch,
		"threads":         runtime.GOMAXPROCS(0),
	})
}

func round(x float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}
