package tokenizer

import (
	"hash/maphash"
	"sync"
)

// wordCache maps a pre-token to its BPE ids. It is bounded (a full shard
// evicts an arbitrary entry: Go map iteration starts at a random place) and
// sharded so concurrent encoders rarely contend on a lock. Values are shared
// and never modified.
type wordCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
	_  [40]byte // keep shards on separate cache lines
}

func newWordCache(capacity int) *wordCache {
	c := &wordCache{seed: maphash.MakeSeed(), perShard: max(1, capacity/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
	return c
}

func (c *wordCache) shard(word []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, word)%cacheShards]
}

func (c *wordCache) get(word []byte) ([]int32, bool) {
	s := c.shard(word)
	s.mu.RLock()
	ids, ok := s.m[string(word)]
	s.mu.RUnlock()
	return ids, ok
}

// put stores a copy of ids under a copy of word.
func (c *wordCache) put(word []byte, ids []int32) {
	s := c.shard(word)
	v := append([]int32(nil), ids...)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[string(word)] = v
	s.mu.Unlock()
}

// len is the number of cached words (for tests).
func (c *wordCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
