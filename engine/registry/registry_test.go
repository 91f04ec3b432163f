package registry_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
)

func newRegistry(t *testing.T, modelName string, cat *catalog.Catalog) *registry.Registry {
	t.Helper()
	dir := modelName
	if modelName != "demo" {
		dir = testmodels.Dir(modelName)
	}
	eng, err := engine.Open(engine.Config{Model: dir, Backend: testmodels.CPU(t), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if cat == nil {
		cat, err = catalog.Open(filepath.Join(t.TempDir(), "db.sqlite"), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
	}
	return registry.New(eng, cat, zerolog.Nop(), 0)
}

var sentiment = []train.Example{
	{Text: "a wonderful delightful film", Target: "pos"}, {Text: "terrible boring awful", Target: "neg"},
	{Text: "delightful and wonderful", Target: "pos"}, {Text: "awful, terrible acting", Target: "neg"},
	{Text: "wonderful cast", Target: "pos"}, {Text: "boring plot", Target: "neg"},
	{Text: "great wonderful fun", Target: "pos"}, {Text: "dull awful mess", Target: "neg"},
}

func quick() train.Options {
	o := train.DefaultOptions()
	o.Epochs, o.MaxLength, o.BatchSize, o.ValidationFraction = 30, 16, 4, 0
	o.AdapterSize = 8
	return o
}

func trainSentiment(t *testing.T, r *registry.Registry, name string, mode catalog.PutMode) catalog.Record {
	t.Helper()
	rec, _, err := r.Train(context.Background(), registry.TrainRequest{Name: name, Examples: sentiment, Options: quick(), Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestTrainPredictDrop(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	rec := trainSentiment(t, r, "sentiment", catalog.Create)
	if rec.Task != "classification" || strings.Join(rec.Labels, ",") != "neg,pos" || rec.BaseFingerprint != r.Engine().Fingerprint() {
		t.Fatalf("record %+v", rec)
	}
	l, err := r.Get(ctx, "sentiment")
	if err != nil {
		t.Fatal(err)
	}
	preds, err := r.Run(ctx, []registry.Request{{Adapter: "sentiment", Text: "wonderful delightful"}, {Adapter: "Sentiment", Text: "awful terrible"}})
	if err != nil {
		t.Fatal(err)
	}
	if preds[0].Label != "pos" || preds[1].Label != "neg" {
		t.Errorf("predictions %+v", preds)
	}
	if p := preds[0].Proba["pos"] + preds[0].Proba["neg"]; p < 0.999 || p > 1.001 {
		t.Errorf("probabilities sum to %g", p)
	}
	// Name clash, IF NOT EXISTS, OR REPLACE.
	if _, _, err := r.Train(ctx, registry.TrainRequest{Name: "sentiment", Examples: sentiment, Options: quick()}); !errors.Is(err, catalog.ErrExists) {
		t.Errorf("clash: %v", err)
	}
	if _, created, err := r.Train(ctx, registry.TrainRequest{Name: "sentiment", Examples: sentiment, Options: quick(), Mode: catalog.IfNotExists}); err != nil || created {
		t.Errorf("if not exists: %v %v", created, err)
	}
	rec2 := trainSentiment(t, r, "sentiment", catalog.Replace)
	if rec2.Version <= rec.Version {
		t.Errorf("replace kept version %d", rec2.Version)
	}
	l2, err := r.Get(ctx, "sentiment")
	if err != nil || l2 == l {
		t.Errorf("replaced adapter still served from cache (%v)", err)
	}
	if _, err := r.Drop(ctx, "sentiment", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "sentiment"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("get after drop: %v", err)
	}
	if _, ok := r.Cached("sentiment"); ok {
		t.Error("dropped adapter still cached")
	}
}

func TestExportImportAndWrongBase(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	trainSentiment(t, r, "s", catalog.Create)
	file, _, err := r.Export(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	// Import under another name in another database on the same base model.
	r2 := newRegistry(t, "bert-tiny", nil)
	rec, created, err := r2.Import(ctx, "copy", file, catalog.Create)
	if err != nil || !created || rec.Name != "copy" {
		t.Fatalf("import: %+v %v %v", rec, created, err)
	}
	a, _ := r.Get(ctx, "s")
	b, _ := r2.Get(ctx, "copy")
	pa, _ := r.Run(ctx, []registry.Request{{Adapter: a.Record.Name, Text: "wonderful film"}})
	pb, _ := r2.Run(ctx, []registry.Request{{Adapter: b.Record.Name, Text: "wonderful film"}})
	if fmt.Sprint(pa[0].Prediction) != fmt.Sprint(pb[0].Prediction) {
		t.Errorf("imported adapter predicts %v, original %v", pb, pa)
	}
	// Another base model refuses it, and the catalog is unchanged.
	other := newRegistry(t, "distilbert-tiny", nil)
	if _, _, err := other.Import(ctx, "s", file, catalog.Create); !errors.Is(err, registry.ErrWrongBase) {
		t.Errorf("import on another base: %v", err)
	}
	if list, _ := other.List(ctx); len(list) != 0 {
		t.Errorf("catalog changed: %v", list)
	}
	// A tampered or truncated file is refused.
	bad := append([]byte(nil), file...)
	bad[len(bad)-3] ^= 0x10
	if _, _, err := r2.Import(ctx, "bad", bad, catalog.Create); err == nil {
		t.Error("tampered file imported")
	}
	if _, _, err := r2.Import(ctx, "bad", file[:len(file)/2], catalog.Create); err == nil {
		t.Error("truncated file imported")
	}
	// An adapter in the catalog trained on another base is refused at load.
	shared := newRegistry(t, "distilbert-tiny", r.Catalog())
	if _, err := shared.Get(ctx, "s"); !errors.Is(err, registry.ErrWrongBase) {
		t.Errorf("load on another base: %v", err)
	}
}

func TestUnknownAdapter(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	if _, err := r.Get(context.Background(), "nope"); !errors.Is(err, catalog.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown adapter: %v", err)
	}
}

// TestCacheBoundedInBytes fills a small cache and checks eviction.
func TestCacheBoundedInBytes(t *testing.T) {
	eng, err := engine.Open(engine.Config{Model: testmodels.Dir("bert-tiny"), Backend: testmodels.CPU(t), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cat, err := catalog.Open(filepath.Join(t.TempDir(), "db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	full := registry.New(eng, cat, zerolog.Nop(), 0)
	trainSentiment(t, full, "a", catalog.Create)
	l, _ := full.Get(context.Background(), "a")
	size := l.Set.Bytes()
	file, _, _ := full.Export(context.Background(), "a")
	for _, n := range []string{"b", "c", "d"} {
		if _, _, err := full.Import(context.Background(), n, file, catalog.Create); err != nil {
			t.Fatal(err)
		}
	}
	small := registry.New(eng, cat, zerolog.Nop(), 2*size+size/2)
	for _, n := range []string{"a", "b", "c", "d"} {
		if _, err := small.Get(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	entries, bytes := small.CacheStats()
	if entries != 2 || bytes > 2*size+size/2 {
		t.Errorf("cache holds %d entries, %d bytes", entries, bytes)
	}
	if _, ok := small.Cached("a"); ok {
		t.Error("least recently used entry not evicted")
	}
	if _, ok := small.Cached("d"); !ok {
		t.Error("most recent entry evicted")
	}
}

// TestConcurrentPredict predicts from many goroutines with several adapters
// at once; every answer must equal the one computed alone.
func TestConcurrentPredict(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	trainSentiment(t, r, "s1", catalog.Create)
	o := quick()
	o.Seed = 7
	if _, _, err := r.Train(ctx, registry.TrainRequest{Name: "s2", Examples: sentiment, Options: o}); err != nil {
		t.Fatal(err)
	}
	a1, _ := r.Get(ctx, "s1")
	a2, _ := r.Get(ctx, "s2")
	texts := []string{"wonderful", "awful movie", "boring but great", "a", "delightful terrible wonderful awful"}
	want := map[string]adapter.Prediction{}
	for _, l := range []*registry.Loaded{a1, a2} {
		for _, tx := range texts {
			p, err := r.Run(ctx, []registry.Request{{Adapter: l.Record.Name, Text: tx}})
			if err != nil {
				t.Fatal(err)
			}
			want[l.Record.Name+tx] = p[0].Prediction
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var items []registry.Request
			for i := 0; i < 20; i++ {
				l := a1
				if (g+i)%2 == 1 {
					l = a2
				}
				items = append(items, registry.Request{Adapter: l.Record.Name, Text: texts[(g*3+i)%len(texts)]})
			}
			preds, err := r.Run(ctx, items)
			if err != nil {
				errs <- err
				return
			}
			for i, p := range preds {
				w := want[items[i].Adapter+items[i].Text]
				if p.Label != w.Label || fmt.Sprintf("%.5f", p.Proba[w.Label]) != fmt.Sprintf("%.5f", w.Proba[w.Label]) {
					errs <- fmt.Errorf("goroutine %d item %d: %+v, want %+v", g, i, p, w)
					return
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

// TestVersionNumbersAndCache: versions count a name's writes (1, 2, ...;
// again 1 after DROP), and the cache keys on the write itself, so an adapter
// dropped and re-created behind this registry's back (another process
// sharing the file) is never served stale although its version is 1 again.
func TestVersionNumbersAndCache(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	if rec := trainSentiment(t, r, "s", catalog.Create); rec.Version != 1 {
		t.Errorf("new adapter: version %d, want 1", rec.Version)
	}
	if rec := trainSentiment(t, r, "s", catalog.Replace); rec.Version != 2 {
		t.Errorf("replaced adapter: version %d, want 2", rec.Version)
	}
	if _, err := r.Drop(ctx, "s", false); err != nil {
		t.Fatal(err)
	}
	trainSentiment(t, r, "s", catalog.Create)
	l, err := r.Get(ctx, "s")
	if err != nil || l.Record.Version != 1 {
		t.Fatalf("re-created adapter: %v, version %d, want 1", err, l.Record.Version)
	}
	trainSentiment(t, r, "other", catalog.Create)
	blob, other, err := r.Export(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	cat := r.Catalog()
	if _, err := cat.Drop(ctx, "s", false); err != nil {
		t.Fatal(err)
	}
	other.Name = "s"
	if _, err := cat.Put(ctx, other, blob, catalog.Create); err != nil {
		t.Fatal(err)
	}
	l2, err := r.Get(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if l2 == l || l2.Record.Version != 1 || l2.Record.Stamp == l.Record.Stamp {
		t.Errorf("re-created behind the cache: served %p (version %d, stamp %d), cached %p (stamp %d)",
			l2, l2.Record.Version, l2.Record.Stamp, l, l.Record.Stamp)
	}
}
