package registry_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

// Run answers predictions of several adapters and embeddings in one call,
// in request order, equal to asking for each one alone.
func TestRunMixedRequests(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	trainSentiment(t, r, "sent", catalog.Create)
	trainStars(t, r)
	reqs := []registry.Request{
		{Adapter: "sent", Text: "wonderful delightful"},
		{Adapter: "stars", Text: "wonderful delightful"},
		{Text: "wonderful delightful", Pool: "mean"},
		{Adapter: "SENT", Text: "wonderful delightful", Proba: true}, // shares the first request's sequence
		{Adapter: "sent", Text: "awful terrible"},
		{Text: "awful terrible"},
	}
	got, err := r.Run(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range reqs {
		one, err := r.Run(ctx, []registry.Request{q})
		if err != nil {
			t.Fatal(err)
		}
		// Alone, a pooled request's pass keeps its one row in the last layer
		// (model.ForwardRows); batched with the mean-pooled request, it runs
		// every row: the same products over other row counts, equal up to
		// float32 rounding.
		w, g := one[0], got[i]
		if (w.Adapter == nil) != (g.Adapter == nil) || w.Label != g.Label || !near(w.Value, g.Value) ||
			len(w.Embedding) != len(g.Embedding) || len(w.Proba) != len(g.Proba) {
			t.Errorf("request %d: batched %+v, alone %+v", i, g, w)
		}
		for j := range w.Embedding {
			if !near(float64(w.Embedding[j]), float64(g.Embedding[j])) {
				t.Errorf("request %d: embedding[%d] batched %g, alone %g", i, j, g.Embedding[j], w.Embedding[j])
				break
			}
		}
		for k, p := range w.Proba {
			if !near(p, g.Proba[k]) {
				t.Errorf("request %d: P(%s) batched %g, alone %g", i, k, g.Proba[k], p)
			}
		}
	}
	if got[0].Adapter.Set.Task != registry.Classification || got[1].Adapter.Set.Task != registry.Regression || got[2].Adapter != nil {
		t.Errorf("results carry the wrong adapters: %+v", got[:3])
	}
	if len(got[2].Embedding) != r.Engine().Model().Cfg.Hidden || got[0].Embedding != nil {
		t.Errorf("embedding of %d values, prediction with an embedding %v", len(got[2].Embedding), got[0].Embedding)
	}
	if p := got[3].Proba["pos"] + got[3].Proba["neg"]; p < 0.999 || p > 1.001 {
		t.Errorf("probabilities sum to %g", p)
	}
	if out, err := r.Run(ctx, nil); err != nil || len(out) != 0 {
		t.Errorf("empty request: %v %v", out, err)
	}
}

// A refused request names its position, and the error says why.
func TestRunRefusals(t *testing.T) {
	r := newRegistry(t, "bert-tiny", nil)
	ctx := context.Background()
	trainSentiment(t, r, "sent", catalog.Create)
	trainStars(t, r)
	ok := registry.Request{Adapter: "sent", Text: "fine"}
	for _, c := range []struct {
		bad  registry.Request
		want error
	}{
		{registry.Request{Adapter: "nope", Text: "x"}, catalog.ErrNotFound},
		{registry.Request{Adapter: "sent", Text: "bad \xff utf-8"}, engine.ErrText},
		{registry.Request{Text: "x", Pool: "median"}, nil},
		{registry.Request{Text: "x", Pool: "cls"}, nil}, // bert-tiny has a pooler: accepted
		{registry.Request{Adapter: "stars", Text: "x", Proba: true}, registry.ErrNoProba},
	} {
		_, err := r.Run(ctx, []registry.Request{ok, ok, c.bad})
		if c.bad.Pool == "cls" {
			if err != nil {
				t.Errorf("%+v: %v", c.bad, err)
			}
			continue
		}
		var re *registry.RequestError
		if !errors.As(err, &re) || re.Index != 2 {
			t.Errorf("%+v: error %v, want one for request index 2", c.bad, err)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.bad, err, c.want)
		}
	}
	if err := r.CheckPool("median"); err == nil {
		t.Error("CheckPool accepted median")
	}
	if err := r.CheckPool(" Mean "); err != nil {
		t.Errorf("CheckPool(Mean): %v", err)
	}
}

// trainStars stores a regression adapter "stars".
func trainStars(t *testing.T, r *registry.Registry) {
	t.Helper()
	stars := []train.Example{{Text: "wonderful", Target: "5"}, {Text: "awful", Target: "1"}, {Text: "fine", Target: "3"}, {Text: "great fun", Target: "4.5"}}
	if _, _, err := r.Train(context.Background(), registry.TrainRequest{Name: "stars", Examples: stars, Kind: train.KindFloat, Options: quick()}); err != nil {
		t.Fatal(err)
	}
}

// near says two results agree up to float32 rounding (relative 1e-5).
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-5*max(1, math.Abs(a), math.Abs(b)) }
