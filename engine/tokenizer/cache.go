package tokenizer

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// wordCache maps a pre-token to its BPE ids. It is a fixed-size, 4-way
// set-associative hash table of immutable entries behind atomic pointers:
// bounded by construction, and readers take no lock (a mutex, even a
// read lock, is a shared cache line every encoder would write). A new word
// takes a free way of its set or replaces one, so the cache forgets under
// pressure and never grows.
type wordCache struct {
	seed  maphash.Seed
	mask  uint64 // slots - 1; a set is 4 adjacent slots (one cache line)
	slots []atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	word string
	ids  []int32
}

// newWordCache holds at most capacity words (rounded up to a power of two,
// at least one set).
func newWordCache(capacity int) *wordCache {
	n := 1 << bits.Len(uint(max(capacity, cacheWays)-1))
	return &wordCache{seed: maphash.MakeSeed(), mask: uint64(n - 1), slots: make([]atomic.Pointer[cacheEntry], n)}
}

const cacheWays = 4

func (c *wordCache) get(word []byte) ([]int32, bool) {
	set := c.slots[maphash.Bytes(c.seed, word)&c.mask&^(cacheWays-1):][:cacheWays]
	for i := range set {
		if e := set[i].Load(); e != nil && e.word == string(word) {
			return e.ids, true
		}
	}
	return nil, false
}

// put stores copies of word and ids.
func (c *wordCache) put(word []byte, ids []int32) {
	h := maphash.Bytes(c.seed, word)
	set := c.slots[h&c.mask&^(cacheWays-1):][:cacheWays]
	e := &cacheEntry{word: string(word), ids: append([]int32(nil), ids...)}
	for i := range set {
		if set[i].Load() == nil {
			set[i].Store(e)
			return
		}
	}
	// Every way is taken: replace one, chosen by hash bits the set index
	// does not use (concurrent puts may overwrite each other; either
	// entry is correct).
	set[h>>62].Store(e)
}

// len is the number of cached words (for tests).
func (c *wordCache) len() int {
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	return n
}
