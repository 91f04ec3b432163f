package engine

import (
	"context"
	"runtime"
	"testing"
)

// TestOneRowPassGarbage: a one-row pass of a short text takes its buffers
// from the backend's pool (kernels/cpu's minPooled), so that a server
// answering single-row PREDICTs leaves little to the garbage collector: at
// most two [L, hidden] activations' bytes a pass, for the Go-side slices
// (the pooled vector, the ops' segment lists, helper goroutines' closures).
// The demo model's 16-token pass left 102 KB before, 11-13 KB now.
func TestOneRowPassGarbage(t *testing.T) {
	e := openTest(t, "demo", Config{})
	m := e.Model()
	const L = 16
	b, err := SyntheticBatch(m.Cfg, 1, L, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := m.Cfg.DefaultPool(m.W.Pooler != nil)
	pass := func() {
		p, err := m.ForwardRows(context.Background(), b, false, []int32{0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Pool(pool); err != nil {
			t.Fatal(err)
		}
		p.Release()
	}
	for range 3 { // the pool's first buffers
		pass()
	}
	const n = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		pass()
	}
	runtime.ReadMemStats(&after)
	per, limit := (after.TotalAlloc-before.TotalAlloc)/n, uint64(2*L*m.Cfg.Hidden*4)
	t.Logf("%d bytes allocated a pass (hidden %d)", per, m.Cfg.Hidden)
	if per > limit {
		t.Errorf("a one-row pass of %d tokens allocated %d bytes, want at most %d", L, per, limit)
	}
}
