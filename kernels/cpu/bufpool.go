package cpu

import (
	"math/bits"
	"sync"
	"time"
)

// bufPool recycles the large buffers Alloc hands out. A forward pass
// allocates tens of megabytes of activations and frees them at its end; left
// to the garbage collector, the next pass got freshly mapped pages, and
// faulting them in and clearing them was about a tenth of a MiniLM-L6
// (32, 128) bf16 pass on a 2-vCPU VM (perf: page faults under
// mallocgcLarge and the first writes into new buffers).
//
// Only buffers from Alloc are recycled, and only when freed whole: a pooled
// buffer's capacity exceeds its length, while View caps its slices at their
// length, so Free of a view (even one covering all of a buffer) and Free of
// a host slice given to Upload are never taken for the buffer itself.
// A buffer is freed once: a second Free after the memory was handed out
// again would give back the new owner's buffer (buffers are known by their
// first element), as kernels.Backend.Free says.
//
// Idle buffers are bounded: idle + live bytes stay at or below the most
// bytes ever live at once, so a steady workload reuses all of its buffers
// and memory never exceeds what its largest moment needed. When the shapes
// change, the oldest idle buffers are dropped to the garbage collector, and
// so are buffers idle for longer than idleTTL (one large batch does not keep
// its memory for the life of a server that then sees small ones).
type bufPool struct {
	mu   sync.Mutex
	live map[*float32]int    // first element of each pooled buffer handed out → its class
	idle map[int][][]float32 // free buffers by class, newest last
	lru  []idleRef           // free buffers, oldest first
	cur  int64               // bytes live
	held int64               // bytes idle
	peak int64               // most bytes live at once
	now  func() time.Time    // the clock (tests replace it)
}

type idleRef struct {
	class int
	p     *float32
	since time.Time // when it was freed
}

// idleTTL is how long a buffer may stay idle: far longer than the gap
// between passes of a busy engine, short against a server's life.
const idleTTL = 10 * time.Second

// minPooled is the smallest buffer pooled (4 KiB). Above Go's large-object
// size (32 KiB) every allocation is fresh pages: a one-row 128-token
// MiniLM-L6 pass has [128, 384] activations of 192 KiB, and a threshold of
// 256 KiB left them, and the pass, on fresh pages. Below it the garbage
// collector's size classes reuse memory, but each pass still allocated what
// it did not pool: a one-row 16-token pass's [16, 384] buffers came to 150
// KB of garbage a pass at a 32 KiB threshold, 26 KB at this one, and a
// server answering such PREDICTs ran 1 collection per 1,000 queries where
// it ran 3 (GODEBUG=gctrace=1).
const minPooled = 1 << 10

// classOf rounds n up to one of 8 sizes per power of two, so that batches of
// nearby shapes share buffers (at most 1/8 wasted).
func classOf(n int) int {
	step := 1 << max(0, bits.Len(uint(n))-4) // n in [2^k, 2^(k+1)): steps of 2^(k-3)
	return (n + step - 1) / step * step
}

// get returns a buffer of n values (not cleared) and whether it was
// recycled, or nil when n is too small to pool.
func (p *bufPool) get(n int) ([]float32, bool) {
	if n < minPooled {
		return nil, false
	}
	c := classOf(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live == nil {
		p.live, p.idle = map[*float32]int{}, map[int][][]float32{}
	}
	p.trim()
	bytes := int64(c) * 4
	var s []float32
	recycled := false
	if list := p.idle[c]; len(list) > 0 {
		s, p.idle[c] = list[len(list)-1], list[:len(list)-1]
		p.forget(&s[0])
		p.held -= bytes
		recycled = true
	} else {
		// A fresh buffer: room is made first by dropping the oldest idle ones.
		for len(p.lru) > 0 && p.held+p.cur+bytes > p.peak {
			p.dropOldest()
		}
		s = make([]float32, c+1) // cap > len marks it as pooled (see above)
	}
	p.cur += bytes
	p.peak = max(p.peak, p.cur)
	p.live[&s[0]] = c
	return s[:n], recycled
}

// put takes s back if it is a pooled buffer freed whole.
func (p *bufPool) put(s []float32) {
	if len(s) == 0 || cap(s) <= len(s) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.live[&s[0]]
	if !ok || cap(s) != c+1 {
		return
	}
	delete(p.live, &s[0])
	bytes := int64(c) * 4
	p.cur -= bytes
	p.idle[c] = append(p.idle[c], s[:c:c+1])
	p.lru = append(p.lru, idleRef{c, &s[0], p.clock()})
	p.held += bytes // idle + live is unchanged: still at most peak
	p.trim()
}

func (p *bufPool) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// trim drops the buffers idle for longer than idleTTL.
func (p *bufPool) trim() {
	if len(p.lru) == 0 {
		return
	}
	old := p.clock().Add(-idleTTL)
	for len(p.lru) > 0 && p.lru[0].since.Before(old) {
		p.dropOldest()
	}
}

// dropOldest lets the garbage collector have the oldest idle buffer.
func (p *bufPool) dropOldest() {
	r := p.lru[0]
	p.lru = p.lru[1:]
	list := p.idle[r.class]
	for i, s := range list {
		if &s[0] == r.p {
			p.idle[r.class] = append(list[:i], list[i+1:]...)
			p.held -= int64(r.class) * 4
			return
		}
	}
}

// forget removes an idle buffer from the age order.
func (p *bufPool) forget(ptr *float32) {
	for i, r := range p.lru {
		if r.p == ptr {
			p.lru = append(p.lru[:i], p.lru[i+1:]...)
			return
		}
	}
}

// stats reports the bytes live and idle.
func (p *bufPool) stats() (live, idle int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur, p.held
}
