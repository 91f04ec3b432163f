package registry_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

var (
	shapesOnce sync.Once
	shapesDir  string
	shapesErr  error
)

// shapeCheckpoints writes MiniLM-L6 and BERT-base shaped checkpoints (random
// weights) once per test binary.
func shapeCheckpoints(tb testing.TB) string {
	tb.Helper()
	shapesOnce.Do(func() {
		shapesDir, shapesErr = os.MkdirTemp("", "adapterdb-shapes-")
		if shapesErr != nil {
			return
		}
		for _, p := range []string{"minilm-l6", "bert-base"} {
			if shapesErr = demo.WriteCheckpoint(filepath.Join(shapesDir, p), demo.Presets[p], demo.CheckpointOptions{Seed: 1}); shapesErr != nil {
				return
			}
		}
	})
	if shapesErr != nil {
		tb.Fatal(shapesErr)
	}
	return shapesDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shapesDir != "" {
		os.RemoveAll(shapesDir)
	}
	os.Exit(code)
}

// storeRandom opens a registry on a checkpoint and stores a random size-64
// adapter in it.
func storeRandom(tb testing.TB, dir, name string) (*registry.Registry, int64) {
	tb.Helper()
	eng, err := engine.Open(engine.Config{Model: dir, Backend: testmodels.CPU(tb), Log: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { eng.Close() })
	cat, err := catalog.Open(filepath.Join(tb.TempDir(), "db"), zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cat.Close() })
	m := eng.Model()
	spec := adapter.Spec{Task: adapter.Classification, Labels: []string{"a", "b", "c"}, Size: adapter.DefaultSize,
		Act: kernels.ActGELU, Pool: m.Cfg.DefaultPool(m.W.Pooler != nil)}
	set, err := adapter.Random(m, spec, 1)
	if err != nil {
		tb.Fatal(err)
	}
	blob, err := adapter.Encode(set, adapter.Meta{BaseModel: eng.Name(), BaseFingerprint: eng.Fingerprint(), ModelType: "bert"})
	if err != nil {
		tb.Fatal(err)
	}
	r := registry.New(eng, cat, zerolog.Nop(), 0)
	if _, _, err := r.Import(context.Background(), name, blob, catalog.Create); err != nil {
		tb.Fatal(err)
	}
	return r, int64(len(blob))
}

// TestAdapterSizeRatio: an adapter at bottleneck 64 costs a few percent of
// its base checkpoint (bar: ≤ 3%).
func TestAdapterSizeRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("writes BERT-base-sized checkpoints")
	}
	dir := shapeCheckpoints(t)
	for _, p := range []string{"minilm-l6", "bert-base"} {
		_, size := storeRandom(t, filepath.Join(dir, p), "a")
		st, err := os.Stat(filepath.Join(dir, p, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		ratio := float64(size) / float64(st.Size())
		t.Logf("%s: adapter file %.2f MB, base checkpoint %.1f MB: %.2f%% (%.0f× smaller)",
			p, float64(size)/1e6, float64(st.Size())/1e6, 100*ratio, 1/ratio)
		if ratio > 0.03 {
			t.Errorf("%s: adapter is %.2f%% of the base", p, 100*ratio)
		}
	}
}

// BenchmarkColdLoad reads a BERT-base-shaped adapter from the catalog:
// SQLite read, checksum, decode, bind (bar: ≤ 20 ms).
func BenchmarkColdLoad(b *testing.B) {
	dir := shapeCheckpoints(b)
	for _, p := range []string{"minilm-l6", "bert-base"} {
		b.Run(p, func(b *testing.B) {
			r, _ := storeRandom(b, filepath.Join(dir, p), "a")
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fresh := registry.New(r.Engine(), r.Catalog(), zerolog.Nop(), 0) // empty cache
				if _, err := fresh.Get(ctx, "a"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSwitch alternates between two cached adapters: what changing the
// adapter of a batch costs (bar: ≤ 10 µs). Cached is the in-memory swap;
// Get also checks the catalog still holds that version.
func BenchmarkSwitch(b *testing.B) {
	r, _ := storeRandom(b, filepath.Join(shapeCheckpoints(b), "bert-base"), "a")
	file, _, err := r.Export(context.Background(), "a")
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := r.Import(context.Background(), "b", file, catalog.Create); err != nil {
		b.Fatal(err)
	}
	names := []string{"a", "b"}
	ctx := context.Background()
	for _, n := range names {
		if _, err := r.Get(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Cached", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := r.Cached(names[i%2]); !ok {
				b.Fatal("not cached")
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := r.Get(ctx, names[i%2]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSingleRow: one text through an adapter with Run (the path every
// one-row PREDICT takes: the scheduler's goroutine runs the pass) against the
// featurizer's own (1, L) pass on the calling goroutine (what `adapterdb
// bench --batch 1` times), MiniLM-L6 shape. The ratio is the engine's share
// of single-row latency overhead; the wire's is in testdata/latency.sh and
// server's BenchmarkSQLLatency.
//
//	go test ./engine/registry -run '^$' -bench SingleRow -benchtime 100x
func BenchmarkSingleRow(b *testing.B) {
	r, _ := storeRandom(b, filepath.Join(shapeCheckpoints(b), "minilm-l6"), "a")
	eng := r.Engine()
	ctx := context.Background()
	words := "the quick brown fox jumps over the lazy dog near the river bank today "
	for _, L := range []int{16, 128} {
		text := strings.Repeat(words, 20)
		ids, err := eng.Tokenize(text, true)
		if err != nil {
			b.Fatal(err)
		}
		// Cut the text to L tokens with [CLS] and [SEP]: drop words until it fits.
		for f := strings.Fields(text); len(ids) > L; {
			f = f[:len(f)-1]
			text = strings.Join(f, " ")
			if ids, err = eng.Tokenize(text, true); err != nil {
				b.Fatal(err)
			}
		}
		batch, err := engine.SyntheticBatch(eng.Model().Cfg, 1, len(ids), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("featurizer/L%d", len(ids)), func(b *testing.B) {
			res, err := engine.Bench(ctx, eng.Model(), batch, max(b.N, 20), eng.Model().Cfg.DefaultPool(true))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.Median.Microseconds())/1000, "median-ms")
		})
		// Back to back, and after 5 ms idle (a client's think time: the
		// scheduler's goroutine waits, then resumes on some OS thread).
		for _, gap := range []time.Duration{0, 5 * time.Millisecond} {
			name := fmt.Sprintf("run/L%d", len(ids))
			if gap > 0 {
				name = fmt.Sprintf("run-after-%v/L%d", gap, len(ids))
			}
			b.Run(name, func(b *testing.B) {
				var lat []time.Duration
				for i := 0; i < max(b.N, 20); i++ {
					time.Sleep(gap)
					t0 := time.Now()
					if _, err := r.Run(ctx, []registry.Request{{Adapter: "a", Text: text}}); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
			})
		}
	}
}
