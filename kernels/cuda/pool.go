package cuda

import (
	"errors"
	"fmt"
	"sort"
)

// pool caches device memory blocks so that the allocations of every forward
// pass (the same sizes, pass after pass) cost no cuMemAlloc, which is slow,
// and no cuMemFree, which synchronises the device. All work runs on one
// stream, so a block handed back while kernels that use it are still queued
// may be handed out again at once: the next user's work queues behind them.
//
// It is not safe for concurrent use (the backend's mutex guards it).
type pool struct {
	raw     func(bytes int64) (uint64, error) // cuMemAlloc
	release func(ptr uint64) error            // cuMemFree
	free    []block                           // cached, sorted by size
	inUse   int64                             // bytes handed out
	cached  int64                             // bytes in free
}

// block is a device allocation of size bytes.
type block struct {
	ptr  uint64
	size int64
}

// errOutOfMemory is what raw returns when the device is full.
var errOutOfMemory = errors.New("out of device memory")

const (
	poolSmall = 1 << 20 // below: 512-byte granules; above: 1 MiB granules
)

// roundSize is the size class of a request: 512-byte granules below 1 MiB,
// whole MiB above (at most 1/16 waste once past 16 MiB).
func roundSize(bytes int64) int64 {
	g := int64(512)
	if bytes > poolSmall {
		g = poolSmall
	}
	return max(g, (bytes+g-1)/g*g)
}

// fits says whether a cached block of size s may serve a request of r bytes
// (r already rounded): at most a quarter larger, so a big block is not spent
// on a small request.
func fits(s, r int64) bool { return s >= r && s <= r+r/4 }

// get returns a block of at least bytes: the smallest cached block that fits,
// or a new allocation.
func (p *pool) get(bytes int64) (block, error) {
	r := roundSize(bytes)
	i := sort.Search(len(p.free), func(i int) bool { return p.free[i].size >= r })
	if i < len(p.free) && fits(p.free[i].size, r) {
		b := p.free[i]
		p.free = append(p.free[:i], p.free[i+1:]...)
		p.cached -= b.size
		p.inUse += b.size
		return b, nil
	}
	ptr, err := p.raw(r)
	if err != nil {
		return block{}, err
	}
	p.inUse += r
	return block{ptr, r}, nil
}

// put returns a block to the cache.
func (p *pool) put(b block) {
	i := sort.Search(len(p.free), func(i int) bool { return p.free[i].size >= b.size })
	p.free = append(p.free, block{})
	copy(p.free[i+1:], p.free[i:])
	p.free[i] = b
	p.inUse -= b.size
	p.cached += b.size
}

// trim releases every cached block to the device. The caller synchronises
// first: cached blocks may still be in use by queued work.
func (p *pool) trim() error {
	var errs []error
	for _, b := range p.free {
		if err := p.release(b.ptr); err != nil {
			errs = append(errs, fmt.Errorf("free %d bytes: %w", b.size, err))
		}
		p.cached -= b.size
	}
	p.free = p.free[:0]
	return errors.Join(errs...)
}
