package train_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// BenchmarkTrain measures training throughput (examples/s: forward, backward
// and AdamW) on a MiniLM-L6-shaped model at batch 16 and sequences of 64
// tokens, for adapters and for the head alone.
func BenchmarkTrain(b *testing.B) {
	dir, ex := benchTrainSet(b)
	eng, err := engine.Open(engine.Config{Model: dir, Backend: testmodels.CPU(b), Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	for _, trainable := range []string{"adapters", "head"} {
		b.Run(trainable, func(b *testing.B) { benchTrain(b, eng, ex, trainable) })
	}
}

// BenchmarkTrainPrecision is BenchmarkTrain's adapters case on cpu:bf16 and
// cpu:int8 (frozen linear maps in that precision; skipped where the CPU
// lacks it).
func BenchmarkTrainPrecision(b *testing.B) {
	dir, ex := benchTrainSet(b)
	for _, precision := range []string{"bf16", "int8"} {
		b.Run(precision, func(b *testing.B) {
			be, err := cpu.New(zerolog.Nop(), cpu.Options{Precision: precision})
			if err != nil {
				b.Skipf("no %s here: %v", precision, err)
			}
			eng, err := engine.Open(engine.Config{Model: dir, Backend: be, Log: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close()
			benchTrain(b, eng, ex, "adapters")
		})
	}
}

// benchTrainSet writes the MiniLM-L6-shaped checkpoint (removed when the
// benchmark ends) and 128 texts of 64 tokens in three classes.
func benchTrainSet(b *testing.B) (string, []train.Example) {
	dir := filepath.Join(b.TempDir(), "minilm")
	if err := demo.WriteCheckpoint(dir, demo.Presets["minilm-l6"], demo.CheckpointOptions{Seed: 1}); err != nil {
		b.Fatal(err)
	}
	// 64-token texts: 62 words plus [CLS] and [SEP].
	var ex []train.Example
	for i := 0; i < 128; i++ {
		words := make([]string, 62)
		for j := range words {
			words[j] = []string{"data", "base", "query", "model", "row", "table"}[(i+j)%6]
		}
		ex = append(ex, train.Example{Text: strings.Join(words, " "), Target: []string{"a", "b", "c"}[i%3]})
	}
	return dir, ex
}

// benchTrain trains one epoch of ex (batch 16, length 64) per iteration and
// reports the median examples/s of the iterations after the first (whose
// steps also make oneDNN's primitives): the PyTorch anchor reports its
// median repetition after warm-up steps.
func benchTrain(b *testing.B, eng *engine.Engine, ex []train.Example, trainable string) {
	o := train.DefaultOptions()
	o.BatchSize, o.MaxLength, o.Epochs, o.ValidationFraction, o.Trainable = 16, 64, 1, 0, trainable
	var rates []float64
	for i := 0; i < b.N; i++ {
		res, err := train.Train(context.Background(), eng, ex, train.KindUnknown, o, nil)
		if err != nil {
			b.Fatal(err)
		}
		rates = append(rates, res.Metrics.ExamplesPerSec)
	}
	if len(rates) > 1 {
		rates = rates[1:]
	}
	slices.Sort(rates)
	b.ReportMetric(rates[len(rates)/2], "examples/s")
}
