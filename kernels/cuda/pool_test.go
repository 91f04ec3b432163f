package cuda

import (
	"errors"
	"testing"
)

// fakeDevice hands out addresses from a counter and keeps a byte budget.
type fakeDevice struct {
	next, limit, used int64
	live              map[uint64]int64
	freed             int
}

func newFakeDevice(limit int64) *fakeDevice {
	return &fakeDevice{next: 1 << 20, limit: limit, live: map[uint64]int64{}}
}

func (d *fakeDevice) alloc(n int64) (uint64, error) {
	if d.used+n > d.limit {
		return 0, errOutOfMemory
	}
	p := uint64(d.next)
	d.next += n
	d.used += n
	d.live[p] = n
	return p, nil
}

func (d *fakeDevice) free(p uint64) error {
	n, ok := d.live[p]
	if !ok {
		return errors.New("double free")
	}
	delete(d.live, p)
	d.used -= n
	d.freed++
	return nil
}

func TestRoundSize(t *testing.T) {
	for in, want := range map[int64]int64{0: 512, 1: 512, 512: 512, 513: 1024, 1 << 20: 1 << 20, 1<<20 + 1: 2 << 20,
		50_331_648 + 7: 49 << 20} {
		if got := roundSize(in); got != want {
			t.Errorf("roundSize(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestPoolReuse(t *testing.T) {
	d := newFakeDevice(1 << 30)
	p := &pool{raw: d.alloc, release: d.free}
	a, err := p.get(1000)
	if err != nil || a.size != 1024 {
		t.Fatalf("get(1000) = %+v, %v", a, err)
	}
	b, _ := p.get(100 << 20)
	p.put(a)
	p.put(b)
	if p.inUse != 0 || p.cached != 1024+100<<20 {
		t.Fatalf("after put: in use %d, cached %d", p.inUse, p.cached)
	}
	// The same sizes come back from the cache, without device allocations.
	allocs := len(d.live)
	a2, _ := p.get(1000)
	b2, _ := p.get(90 << 20) // 100 MiB is within a quarter of 90 MiB
	if a2 != a || b2 != b || len(d.live) != allocs {
		t.Fatalf("reuse: %+v %+v (device allocations %d → %d)", a2, b2, allocs, len(d.live))
	}
	p.put(b2)
	// A much smaller request does not take the big block.
	c, _ := p.get(10 << 20)
	if c == b {
		t.Fatal("a 10 MiB request took the 100 MiB block")
	}
	// trim releases the cache.
	if err := p.trim(); err != nil || p.cached != 0 || len(p.free) != 0 {
		t.Fatalf("trim: %v, cached %d", err, p.cached)
	}
	if _, ok := d.live[b.ptr]; ok {
		t.Fatal("trim kept the cached block")
	}
}

func TestPoolBestFit(t *testing.T) {
	d := newFakeDevice(1 << 30)
	p := &pool{raw: d.alloc, release: d.free}
	var bs []block
	for _, n := range []int64{4 << 20, 2 << 20, 3 << 20} {
		b, _ := p.get(n)
		bs = append(bs, b)
	}
	for _, b := range bs {
		p.put(b)
	}
	for i := 1; i < len(p.free); i++ {
		if p.free[i-1].size > p.free[i].size {
			t.Fatalf("free list not sorted: %v", p.free)
		}
	}
	got, _ := p.get(3 << 20)
	if got.size != 3<<20 {
		t.Fatalf("best fit for 3 MiB: %d", got.size)
	}
}

func TestPoolOutOfMemory(t *testing.T) {
	d := newFakeDevice(4 << 20)
	p := &pool{raw: d.alloc, release: d.free}
	a, err := p.get(3 << 20)
	if err != nil {
		t.Fatal(err)
	}
	p.put(a)
	if _, err := p.get(2 << 20); !errors.Is(err, errOutOfMemory) { // 3 MiB cached is too big to serve 2 MiB
		t.Fatalf("get with the device full: %v", err)
	}
	if err := p.trim(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.get(2 << 20); err != nil {
		t.Fatalf("after trim: %v", err)
	}
}
