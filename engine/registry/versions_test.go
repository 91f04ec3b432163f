package registry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

// Versions of one adapter are cached apart: requests pinning version 1,
// version 2 and the plain name (the active version) run side by side, in one
// Run call and from many goroutines, each answered by its own weights;
// SetActive moves the plain name, DropVersion removes one version from the
// catalog and the cache.
func TestPinnedVersionsConcurrently(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	trainSentiment(t, r, "s", catalog.Create)
	flipped := make([]train.Example, len(sentiment))
	for i, e := range sentiment {
		flipped[i] = e
		flipped[i].Target = map[string]string{"pos": "neg", "neg": "pos"}[e.Target]
	}
	if _, _, err := r.Train(ctx, registry.TrainRequest{Name: "s", Examples: flipped, Options: quick(), Mode: catalog.Replace}); err != nil {
		t.Fatal(err)
	}
	const text = "a wonderful delightful film"
	want := map[string]string{"s@1": "pos", "s@2": "neg", "s": "neg", "S@1": "pos"}
	check := func(want map[string]string) error {
		var reqs []registry.Request
		var refs []string
		for ref := range want {
			reqs = append(reqs, registry.Request{Adapter: ref, Text: text})
			refs = append(refs, ref)
		}
		res, err := r.Run(ctx, reqs)
		if err != nil {
			return err
		}
		for i, ref := range refs {
			if res[i].Label != want[ref] {
				return fmt.Errorf("%s: %q, want %q", ref, res[i].Label, want[ref])
			}
			if _, v, _ := catalog.SplitVersion(ref); v != 0 && res[i].Adapter.Record.Version != v {
				return fmt.Errorf("%s answered by version %d", ref, res[i].Adapter.Record.Version)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if err := check(want); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, ref := range []string{"s@1", "s@2", "s"} {
		if _, ok := r.Cached(ref); !ok {
			t.Errorf("%s not cached", ref)
		}
	}
	if n, _ := r.CacheStats(); n != 2 {
		t.Errorf("%d cache entries, want 2 (one per version)", n)
	}
	// Roll back: the plain name is version 1 again.
	if err := r.SetActive(ctx, "s", 1); err != nil {
		t.Fatal(err)
	}
	if err := check(map[string]string{"s": "pos", "s@2": "neg"}); err != nil {
		t.Fatal(err)
	}
	if err := r.DropVersion(ctx, "s", 1); !errors.Is(err, catalog.ErrActiveVersion) {
		t.Fatalf("dropping the active version: %v", err)
	}
	if err := r.DropVersion(ctx, "s", 2); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Cached("s@2"); ok {
		t.Error("dropped version still cached")
	}
	if _, err := r.Get(ctx, "s@2"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("dropped version: %v", err)
	}
	if _, err := r.Run(ctx, []registry.Request{{Adapter: "s@2", Text: text}}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Run with a dropped version: %v", err)
	}
	// EXPORT of a pinned version is that version's file.
	blob, rec, err := r.Export(ctx, "s@1")
	if err != nil || rec.Version != 1 || len(blob) == 0 {
		t.Fatalf("export s@1: %d bytes, version %d, %v", len(blob), rec.Version, err)
	}
	// Retention through the context, as the SQL option sets it.
	for i := 0; i < 3; i++ {
		if _, _, err := r.Train(catalog.WithKeepVersions(ctx, 2), registry.TrainRequest{Name: "s", Examples: sentiment, Options: quick(), Mode: catalog.Replace}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := r.Versions(ctx, "s")
	if err != nil || len(vs) != 2 || vs[0].Version != 4 || vs[1].Version != 5 || !vs[1].Active || vs[1].KeepVersions != 2 {
		t.Fatalf("versions after keep 2: %+v %v", vs, err)
	}
}
