package main

import (
	"context"
	"sort"
	"strings"

	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/safetensors"
)

func init() {
	register(command{name: "make-checkpoint", summary: "write a BERT checkpoint with random weights (benchmark shapes)", run: runMakeCheckpoint})
}

func runMakeCheckpoint(ctx context.Context, e *env, args []string) error {
	var presets []string
	for p := range demo.Presets {
		presets = append(presets, p)
	}
	sort.Strings(presets)
	fs := newFlags(e, "make-checkpoint", "make-checkpoint --out DIR [--preset "+strings.Join(presets, "|")+"] [--layers N --hidden H --heads A --ffn I] [--dtype F32|F16|BF16] [--shards N]\n\n"+
		indent("Writes a Hugging Face BERT checkpoint directory (config.json, model.safetensors,\nvocab.txt) with deterministic random weights and the bert-base-uncased vocabulary:\nthe shapes of real models for benchmarks, not a trained model."))
	out := fs.String("out", "", "directory to write")
	preset := fs.String("preset", "minilm-l6", "shape: "+strings.Join(presets, ", "))
	layers := fs.Int("layers", 0, "override: transformer layers")
	hidden := fs.Int("hidden", 0, "override: hidden size")
	heads := fs.Int("heads", 0, "override: attention heads")
	ffn := fs.Int("ffn", 0, "override: intermediate size")
	dtype := fs.String("dtype", "F32", "tensor dtype: F32, F16 or BF16")
	shards := fs.Int("shards", 1, "number of safetensors shards (>1 writes an index)")
	seed := fs.Uint64("seed", 1, "random seed")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(rest) > 0 {
		return usageErr("need --out DIR and no other arguments")
	}
	cfg, ok := demo.Presets[*preset]
	if !ok {
		return usageErr("unknown preset %q", *preset)
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{*layers, &cfg.Layers}, {*hidden, &cfg.Hidden}, {*heads, &cfg.Heads}, {*ffn, &cfg.FFN}} {
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	dt := safetensors.DType(strings.ToUpper(*dtype))
	if err := demo.WriteCheckpoint(*out, cfg, demo.CheckpointOptions{Seed: *seed, DType: dt, Shards: *shards}); err != nil {
		return err
	}
	e.log.Info().Str("dir", *out).Int("layers", cfg.Layers).Int("hidden", cfg.Hidden).Int("heads", cfg.Heads).
		Int("ffn", cfg.FFN).Str("dtype", string(dt)).Msg("checkpoint written")
	return nil
}
