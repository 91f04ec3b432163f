package cpu

import (
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

func poolBackend(t *testing.T) *Backend {
	t.Helper()
	be, err := New(zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func first(t *testing.T, b any) *float32 {
	t.Helper()
	s := data(b.(buffer))
	return &s[0]
}

// A freed buffer comes back to the next Alloc of its size class, cleared.
func TestBufPoolRecyclesCleared(t *testing.T) {
	be := poolBackend(t)
	n := minPooled + 5
	a := be.Alloc(n)
	s := data(a)
	for i := range s {
		s[i] = float32(i + 1)
	}
	be.Free(a)
	b := be.Alloc(n - 3) // same class
	if first(t, b) != &s[0] {
		t.Fatal("a freed buffer of the same class was not reused")
	}
	for i, v := range data(b) {
		if v != 0 {
			t.Fatalf("recycled buffer not cleared: [%d] = %v", i, v)
		}
	}
	if got := b.Len(); got != n-3 {
		t.Fatalf("Len %d, want %d", got, n-3)
	}
}

// Scratch takes from the same pool without clearing, and its buffers go
// back to it like Alloc's.
func TestScratchRecyclesUncleared(t *testing.T) {
	be := poolBackend(t)
	n := minPooled + 5
	a := be.Scratch(n)
	s := data(a)
	for i := range s {
		s[i] = 7
	}
	be.Free(a)
	b := be.Scratch(n)
	if first(t, b) != &s[0] || data(b)[n-1] != 7 {
		t.Fatal("Scratch did not reuse the freed buffer as it was")
	}
	be.Free(b)
	if c := be.Alloc(n); first(t, c) != &s[0] || data(c)[n-1] != 0 {
		t.Fatal("Alloc after a Scratch buffer was freed: not the same buffer, cleared")
	}
	if small := be.Scratch(10); small.Len() != 10 {
		t.Fatalf("Scratch(10).Len() = %d", small.Len())
	}
}

// Only a pooled buffer freed whole goes back: not a view of it (even one
// covering all of it), and not a host slice given to Upload.
func TestBufPoolFreeOnlyWhole(t *testing.T) {
	be := poolBackend(t)
	n := minPooled * 2
	a := be.Alloc(n)
	be.Free(be.View(a, 0, n))
	be.Free(be.View(a, 0, n/2))
	if live, idle := be.bufs.stats(); idle != 0 || live == 0 {
		t.Fatalf("a view's Free released the buffer: live %d idle %d", live, idle)
	}
	host := make([]float32, n, 2*n)
	be.Free(be.Upload(host))
	if _, idle := be.bufs.stats(); idle != 0 {
		t.Fatalf("an uploaded host slice went into the pool: idle %d", idle)
	}
	be.Free(a)
	if live, idle := be.bufs.stats(); live != 0 || idle == 0 {
		t.Fatalf("Free of the buffer itself: live %d idle %d", live, idle)
	}
}

// Idle and live bytes together never exceed the most ever live at once:
// when the sizes change, the oldest idle buffers are dropped.
func TestBufPoolBounded(t *testing.T) {
	be := poolBackend(t)
	var peak int64
	for round, size := range []int{minPooled * 4, minPooled * 3, minPooled * 9, minPooled, minPooled * 4} {
		bufs := []any{}
		for range 3 {
			bufs = append(bufs, be.Alloc(size+round))
		}
		live, idle := be.bufs.stats()
		peak = max(peak, live)
		if live+idle > peak {
			t.Fatalf("round %d: live %d + idle %d > peak %d", round, live, idle, peak)
		}
		for _, b := range bufs {
			be.Free(b.(buffer))
		}
		if live, idle := be.bufs.stats(); live != 0 || idle > peak {
			t.Fatalf("round %d after Free: live %d idle %d (peak %d)", round, live, idle, peak)
		}
	}
}

// Buffers idle for longer than idleTTL go back to the garbage collector at
// the next Alloc or Free, younger ones stay.
func TestBufPoolTrimsIdle(t *testing.T) {
	be := poolBackend(t)
	now := time.Unix(1000, 0)
	be.bufs.now = func() time.Time { return now }
	big, small, last := be.Alloc(minPooled*8), be.Alloc(minPooled), be.Alloc(minPooled)
	be.Free(big)
	now = now.Add(idleTTL / 2)
	be.Free(small)
	now = now.Add(idleTTL/2 + time.Second) // big is past idleTTL, small is not
	be.Free(last)
	if _, idle := be.bufs.stats(); idle != 2*int64(classOf(minPooled))*4 {
		t.Errorf("idle %d bytes, want only the two young buffers' %d", idle, 2*classOf(minPooled)*4)
	}
	now = now.Add(idleTTL + time.Second)
	be.Free(be.Alloc(minPooled * 3)) // Alloc trims too: nothing is young now
	if _, idle := be.bufs.stats(); idle != int64(classOf(minPooled*3))*4 {
		t.Errorf("idle %d bytes, want only the last buffer's %d", idle, classOf(minPooled*3)*4)
	}
}

// Freeing a stack frees its parts: buffers from Alloc go back to the pool.
func TestStackFreesParts(t *testing.T) {
	be := poolBackend(t)
	const n, k = 64, 256 // parts large enough to be pooled
	parts := []kernels.Buffer{be.Alloc(n * k), be.Alloc(n * k)}
	st := be.Stack(parts, n, k)
	if live, _ := be.bufs.stats(); live != 2*n*k*4 {
		t.Fatalf("live %d bytes before Free, want %d", live, 2*n*k*4)
	}
	be.Free(st)
	if live, idle := be.bufs.stats(); live != 0 || idle != 2*n*k*4 {
		t.Errorf("after Free of the stack: live %d idle %d bytes, want 0 and %d", live, idle, 2*n*k*4)
	}
}

// Concurrent passes allocate and free from one backend (run with -race).
func TestBufPoolConcurrent(t *testing.T) {
	be := poolBackend(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				b := be.Alloc(minPooled + (g*50+i)%7*1000)
				s := data(b)
				for j := range s {
					if s[j] != 0 {
						t.Errorf("not cleared at %d", j)
						return
					}
					s[j] = float32(g + 1)
				}
				for j := range s {
					if s[j] != float32(g+1) {
						t.Errorf("buffer shared between goroutines")
						return
					}
				}
				be.Free(b)
			}
		}()
	}
	wg.Wait()
}

func TestClassOf(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 9, 100, minPooled, minPooled + 1, 1000003} {
		c := classOf(n)
		if c < n || float64(c) > float64(n)*1.125+1 {
			t.Errorf("classOf(%d) = %d", n, c)
		}
	}
}
