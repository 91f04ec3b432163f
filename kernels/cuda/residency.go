package cuda

import "sort"

// residency decides which uploaded buffers (base weights and adapters) stay
// on the device. Uploads keep their host values, so a clean one can be
// dropped from the device and uploaded again when a later pass needs it.
// When the bytes on the device would pass the budget, the least recently
// used clean uploads go first; buffers used by the operation being queued
// (lastUse = now) and uploads written on the device (pinned: their host copy
// is stale) are never evicted.
//
// It is not safe for concurrent use (the backend's mutex guards it).
type residency[K comparable] struct {
	budget int64 // bytes; 0: no budget (evict only when the device is full)
	used   int64 // bytes of the uploads on the device
	items  map[K]*resInfo
}

type resInfo struct {
	bytes   int64
	lastUse uint64
	pinned  bool
}

func newResidency[K comparable](budget int64) *residency[K] {
	return &residency[K]{budget: budget, items: map[K]*resInfo{}}
}

// insert records k as on the device, used now.
func (r *residency[K]) insert(k K, bytes int64, now uint64) {
	r.items[k] = &resInfo{bytes: bytes, lastUse: now}
	r.used += bytes
}

// touch marks k used now.
func (r *residency[K]) touch(k K, now uint64) {
	if it, ok := r.items[k]; ok {
		it.lastUse = now
	}
}

// pin keeps k on the device for good (its device values changed).
func (r *residency[K]) pin(k K) {
	if it, ok := r.items[k]; ok {
		it.pinned = true
	}
}

// remove forgets k (evicted or freed).
func (r *residency[K]) remove(k K) {
	if it, ok := r.items[k]; ok {
		r.used -= it.bytes
		delete(r.items, k)
	}
}

// evictable lists the clean uploads not used by the current operation, least
// recently used first.
func (r *residency[K]) evictable(now uint64) []K {
	type cand struct {
		k    K
		last uint64
	}
	var c []cand
	for k, it := range r.items {
		if !it.pinned && it.lastUse < now {
			c = append(c, cand{k, it.lastUse})
		}
	}
	sort.Slice(c, func(i, j int) bool { return c[i].last < c[j].last })
	out := make([]K, len(c))
	for i := range c {
		out[i] = c[i].k
	}
	return out
}

// victims lists what to evict, in order, so that need more bytes fit under
// the budget. It may fall short (everything left is in use or pinned); the
// caller then goes over budget.
func (r *residency[K]) victims(need int64, now uint64) []K {
	if r.budget <= 0 || r.used+need <= r.budget {
		return nil
	}
	var out []K
	free := r.budget - r.used
	for _, k := range r.evictable(now) {
		if free >= need {
			break
		}
		out = append(out, k)
		free += r.items[k].bytes
	}
	return out
}
