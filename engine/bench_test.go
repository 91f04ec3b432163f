package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// benchModel builds a randomly initialised model of a benchmark shape in
// memory (the same weights adapterdb make-checkpoint writes).
func benchModel(b *testing.B, preset string) *model.Model {
	b.Helper()
	be, err := cpu.New(zerolog.Nop(), cpu.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := demo.Presets[preset]
	w, err := model.LoadWeights(demo.RandomBERT(cfg, 1), be, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	return model.New(cfg, w, be)
}

func randomAdapters(b *testing.B, m *model.Model, k int) []*model.Adapter {
	var out []*model.Adapter
	for i := 0; i < k; i++ {
		spec := adapter.Spec{Task: adapter.Classification, Labels: []string{"a", "b"}, Size: adapter.DefaultSize,
			Act: kernels.ActGELU, Pool: model.PoolCLS}
		s, err := adapter.Random(m, spec, uint64(i+1))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, s.Bind(m.Be))
	}
	return out
}

// BenchmarkForward measures the featurizer pass (and pooling) on synthetic
// batches of B sequences of exactly L tokens: the plain featurizer, one
// adapter, and k adapters sharing one mixed pass. Compare ns/op between
// sub-benchmarks of one run (the machine is shared and noisy).
func BenchmarkForward(b *testing.B) {
	for _, preset := range []string{"minilm-l6", "bert-base"} {
		m := benchModel(b, preset)
		for _, shape := range [][2]int{{32, 128}, {32, 32}, {1, 128}, {8, 64}} {
			for _, k := range []int{0, 1, 4} {
				if preset == "bert-base" && shape != [2]int{32, 128} && shape != [2]int{1, 128} {
					continue
				}
				if k > shape[0] {
					continue
				}
				name := fmt.Sprintf("%s/B%d-L%d/adapters=%d", preset, shape[0], shape[1], k)
				b.Run(name, func(b *testing.B) {
					batch, err := engine.SyntheticBatch(m.Cfg, shape[0], shape[1], randomAdapters(b, m, k))
					if err != nil {
						b.Fatal(err)
					}
					ctx := context.Background()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						p, err := m.Forward(ctx, batch, false)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := p.Pool(model.PoolDefault); err != nil {
							b.Fatal(err)
						}
						p.Release()
					}
					sec := b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(float64(shape[0])/sec, "seq/s")
					b.ReportMetric(engine.FLOPs(m.Cfg, shape[0], shape[1])/sec/1e9, "GFLOP/s")
				})
			}
		}
	}
}
