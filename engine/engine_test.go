package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/engine/testmodels"
)

func openTest(t testing.TB, dir string, cfg Config) *Engine {
	t.Helper()
	cfg.Model = dir
	cfg.Log = zerolog.Nop()
	cfg.Backend = testmodels.CPU(t)
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

var sampleTexts = []string{"The quick brown fox.", "", "a", "Hello, world! How are you today?",
	"naïve café", "数据库", "a much longer text with many more words than the others so that batches pad it",
	"emoji 👍🏽 and tabs\tnewlines\n", "x y z", "SQL: SELECT PREDICT('s', review) FROM reviews"}

// Many goroutines featurizing at once get exactly what one caller gets.
func TestConcurrentEmbed(t *testing.T) {
	for _, name := range testmodels.Names {
		e := openTest(t, testmodels.Dir(name), Config{BatchSize: 4})
		want, err := e.Embed(context.Background(), sampleTexts, model.PoolMean)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for g := 0; g < 32; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				// Each goroutine asks for a rotated subset.
				var texts []string
				var idx []int
				for i := 0; i < 1+g%len(sampleTexts); i++ {
					k := (g + i) % len(sampleTexts)
					texts, idx = append(texts, sampleTexts[k]), append(idx, k)
				}
				got, err := e.Embed(context.Background(), texts, model.PoolMean)
				if err != nil {
					errs <- err
					return
				}
				for i, k := range idx {
					for j := range got[i] {
						if math.Abs(float64(got[i][j]-want[k][j])) > 1e-5 {
							errs <- fmt.Errorf("%s goroutine %d text %q differs", name, g, sampleTexts[k])
							return
						}
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

func TestCancel(t *testing.T) {
	e := openTest(t, "demo", Config{BatchSize: 8})
	texts := make([]string, 2000)
	for i := range texts {
		texts[i] = strings.Repeat("word ", 50+i%50)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := e.Embed(ctx, texts, model.PoolMean)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop the request")
	}
	// The engine keeps serving.
	if _, err := e.Embed(context.Background(), []string{"still here"}, model.PoolMean); err != nil {
		t.Fatal(err)
	}
}

// Texts are length-bucketed: batches carry little padding, results come back
// in input order, and passes are full.
func TestBucketing(t *testing.T) {
	e := openTest(t, "demo", Config{BatchSize: 16})
	var texts []string
	for i := 0; i < 128; i++ {
		texts = append(texts, strings.Repeat("tok ", 1+(i*37)%60))
	}
	var mu sync.Mutex
	var real, padded int
	e.sched.observe = func(seqs, tokens, pad int) {
		mu.Lock()
		real, padded = real+tokens, padded+pad
		mu.Unlock()
	}
	before := e.Passes()
	got, err := e.Embed(context.Background(), texts, model.PoolMean)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Passes() - before; n != 8 {
		t.Errorf("%d passes for 128 texts at batch 16, want 8", n)
	}
	waste := 1 - float64(real)/float64(padded)
	t.Logf("padding waste %.1f%%", 100*waste)
	if waste > 0.15 {
		t.Errorf("padding waste %.1f%% with bucketing", 100*waste)
	}
	for _, i := range []int{0, 17, 127} {
		one, _ := e.Embed(context.Background(), []string{texts[i]}, model.PoolMean)
		for j := range one[0] {
			if math.Abs(float64(one[0][j]-got[i][j])) > 1e-5 {
				t.Fatalf("text %d out of order", i)
			}
		}
	}
}

func TestBadText(t *testing.T) {
	e := openTest(t, "demo", Config{MaxTextBytes: 1000})
	for _, text := range []string{"bad \xff utf8", strings.Repeat("x", 1001)} {
		if _, err := e.Embed(context.Background(), []string{"ok", text}, model.PoolMean); !errors.Is(err, ErrText) {
			t.Errorf("%.20q: %v", text, err)
		}
	}
	if _, err := e.Embed(context.Background(), []string{"x"}, model.PoolCLS); err != nil {
		t.Errorf("demo model has a pooler: %v", err)
	}
	d := openTest(t, testmodels.Dir("distilbert-tiny"), Config{})
	if _, err := d.Embed(context.Background(), []string{"x"}, model.PoolCLS); err == nil {
		t.Error("cls pooling on a model without a pooler")
	}
}

// copyModel copies a test checkpoint so that a test can break it.
func copyModel(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	src := testmodels.Dir(name)
	entries, _ := os.ReadDir(src)
	for _, en := range entries {
		data, err := os.ReadFile(filepath.Join(src, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, en.Name()), data, 0o644)
	}
	return dst
}

func TestBadCheckpoints(t *testing.T) {
	edit := func(name string, f func(dir string)) string {
		dir := copyModel(t, name)
		f(dir)
		return dir
	}
	st := func(dir string) string { return filepath.Join(dir, "model.safetensors") }
	rewrite := func(dir string, drop string, reshape string) {
		file, err := safetensors.Open(st(dir))
		if err != nil {
			t.Fatal(err)
		}
		var ts []safetensors.Tensor
		for _, n := range file.Names() {
			if n == drop {
				continue
			}
			v, _ := file.Float32(n)
			info, _ := file.Tensor(n)
			shape := info.Shape
			if n == reshape {
				shape = []int{len(v)}
			}
			ts = append(ts, safetensors.Float32Tensor(n, shape, v))
		}
		file.Close()
		if err := safetensors.WriteFile(st(dir), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		dir  string
		want string
	}{
		{"missing dir", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"no config", edit("bert-tiny", func(d string) { os.Remove(filepath.Join(d, "config.json")) }), "no config.json"},
		{"bad config", edit("bert-tiny", func(d string) { os.WriteFile(filepath.Join(d, "config.json"), []byte("{"), 0o644) }), "config.json"},
		{"unknown type", edit("bert-tiny", func(d string) {
			os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"model_type":"t5"}`), 0o644)
		}), `model_type "t5" is not supported`},
		{"missing weights", edit("bert-tiny", func(d string) { os.Remove(st(d)) }), "safetensors"},
		{"pytorch only", edit("bert-tiny", func(d string) {
			os.Remove(st(d))
			os.WriteFile(filepath.Join(d, "pytorch_model.bin"), []byte("PK"), 0o644)
		}), "convert"},
		{"truncated", edit("bert-tiny", func(d string) {
			data, _ := os.ReadFile(st(d))
			os.WriteFile(st(d), data[:len(data)/2], 0o644)
		}), "model.safetensors"},
		{"corrupt header", edit("bert-tiny", func(d string) {
			data, _ := os.ReadFile(st(d))
			copy(data[8:], "{{{{")
			os.WriteFile(st(d), data, 0o644)
		}), "model.safetensors"},
		{"missing tensor", edit("bert-tiny", func(d string) { rewrite(d, "encoder.layer.1.output.dense.bias", "") }), `missing tensor "encoder.layer.1.output.dense.bias"`},
		{"shape mismatch", edit("gpt2-tiny", func(d string) { rewrite(d, "", "h.0.attn.c_attn.weight") }), "has shape [3072]"},
		{"no tokenizer", edit("roberta-tiny", func(d string) {
			for _, f := range []string{"tokenizer.json", "vocab.json", "merges.txt"} {
				os.Remove(filepath.Join(d, f))
			}
		}), "tokenizer"},
	}
	for _, c := range cases {
		_, err := Open(Config{Model: c.dir, Backend: testmodels.CPU(t), Log: zerolog.Nop()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// Half-precision and sharded checkpoints load and give the f32 model's
// features within the rounding of their weights.
func TestDTypesAndShards(t *testing.T) {
	cfg := demo.Presets["demo"]
	cfg.Layers, cfg.Hidden, cfg.Heads, cfg.FFN = 2, 64, 4, 128
	dirs := map[string]string{}
	for _, v := range []struct {
		name   string
		dtype  safetensors.DType
		shards int
	}{{"f32", safetensors.F32, 1}, {"f16", safetensors.F16, 1}, {"bf16", safetensors.BF16, 1}, {"sharded", safetensors.F32, 3}} {
		dir := filepath.Join(t.TempDir(), v.name)
		if err := demo.WriteCheckpoint(dir, cfg, demo.CheckpointOptions{Seed: 5, DType: v.dtype, Shards: v.shards}); err != nil {
			t.Fatal(err)
		}
		dirs[v.name] = dir
	}
	embed := func(dir string) ([][]float32, string) {
		e := openTest(t, dir, Config{})
		f, err := e.Embed(context.Background(), sampleTexts, model.PoolMean)
		if err != nil {
			t.Fatal(err)
		}
		return f, e.Fingerprint()
	}
	ref, fp := embed(dirs["f32"])
	for name, tol := range map[string]float64{"sharded": 0, "f16": 5e-3, "bf16": 5e-2} {
		got, gfp := embed(dirs[name])
		var d float64
		for i := range ref {
			for j := range ref[i] {
				d = math.Max(d, math.Abs(float64(got[i][j]-ref[i][j])))
			}
		}
		t.Logf("%s: max difference %g", name, d)
		if d > tol {
			t.Errorf("%s: features differ by %g (tolerance %g)", name, d, tol)
		}
		if (name == "sharded") != (gfp == fp) {
			t.Errorf("%s: fingerprint equality %v", name, gfp == fp)
		}
	}
}

// The demo model is deterministic: same weights (fingerprint) every load.
func TestDemoFingerprintStable(t *testing.T) {
	a := openTest(t, "demo", Config{})
	b := openTest(t, "", Config{})
	if a.Fingerprint() != b.Fingerprint() || a.Name() != "demo" {
		t.Fatalf("fingerprints %s %s", a.Fingerprint(), b.Fingerprint())
	}
}

// Loading a BERT-base-sized checkpoint maps its weights: resident memory
// grows by about the file size (the pages the forward pass touches), not by
// a copy on top of it.
func TestLoadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 440 MB checkpoint")
	}
	dir := t.TempDir()
	if err := demo.WriteCheckpoint(dir, demo.Presets["bert-base"], demo.CheckpointOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "model.safetensors"))
	runtime.GC()
	debug.FreeOSMemory()
	before := rss(t)
	e := openTest(t, dir, Config{})
	after := rss(t)
	for range 3 {
		if _, err := e.Embed(context.Background(), []string{"touch every weight"}, model.PoolDefault); err != nil {
			t.Fatal(err)
		}
	}
	passes := rss(t)
	ratio := float64(after-before) / float64(st.Size())
	t.Logf("file %d MB, RSS +%d MB after load (%.2f× the file), +%d MB after three passes", st.Size()>>20,
		(after-before)>>20, ratio, (passes-before)>>20)
	if ratio > 1.2 {
		t.Errorf("loading added %.2f× the file size to RSS", ratio)
	}
	if r := float64(passes-before) / float64(st.Size()); r > 1.2 {
		t.Errorf("loading and three passes added %.2f× the file size to RSS", r)
	}
}

func rss(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}
