package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// bpeModel is byte-level BPE (GPT-2, RoBERTa) with its pre-tokenizer.
type bpeModel struct {
	byteID [256]int32 // id of the one-byte symbol of each byte
	// merges maps a pair of ids (left<<32 | right) to its rank (merge order,
	// lower first) and the merged id: rank<<32 | id.
	merges map[uint64]uint64
	vocab  map[string]int32 // byte-level token strings, for ignoreMerges

	addPrefixSpace bool // prepend a space to text that does not start with one
	useRegex       bool // split with the GPT-2 pattern (else the piece is one word)
	ignoreMerges   bool // a word that is a whole token is not merged (HF ignore_merges)

	cache *wordCache
}

// newBPE builds the model. merges are pairs of token strings in rank order;
// every token must be in vocab, and so must every merge's result.
func newBPE(vocab map[string]int32, merges [][2]string) (*bpeModel, error) {
	m := &bpeModel{vocab: vocab, merges: make(map[uint64]uint64, len(merges)), useRegex: true, cache: newWordCache(wordCacheSize)}
	for b := 0; b < 256; b++ {
		sym := string(byteToRune[b])
		id, ok := vocab[sym]
		if !ok {
			return nil, fmt.Errorf("bpe: vocabulary lacks the byte symbol %q (byte 0x%02x); not a byte-level BPE vocabulary", sym, b)
		}
		m.byteID[b] = id
	}
	for rank, mg := range merges {
		a, ok := vocab[mg[0]]
		if !ok {
			return nil, fmt.Errorf("bpe: merge %d (%q %q): %q is not in the vocabulary", rank+1, mg[0], mg[1], mg[0])
		}
		b, ok := vocab[mg[1]]
		if !ok {
			return nil, fmt.Errorf("bpe: merge %d (%q %q): %q is not in the vocabulary", rank+1, mg[0], mg[1], mg[1])
		}
		ab, ok := vocab[mg[0]+mg[1]]
		if !ok {
			return nil, fmt.Errorf("bpe: merge %d (%q %q): the merged token %q is not in the vocabulary", rank+1, mg[0], mg[1], mg[0]+mg[1])
		}
		// A repeated pair keeps its last rank, as in HF.
		m.merges[pairKey(a, b)] = uint64(rank)<<32 | uint64(uint32(ab))
	}
	return m, nil
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// encodeByteLevel pre-tokenizes a piece of text and appends the BPE ids of
// every word.
func (m *bpeModel) encodeByteLevel(s []byte, sc *scratch, dst []int32) []int32 {
	if m.addPrefixSpace && (len(s) == 0 || s[0] != ' ') {
		sc.pre = append(append(sc.pre[:0], ' '), s...)
		s = sc.pre
	}
	if !m.useRegex {
		return m.tokenize(s, &sc.bpe, dst)
	}
	for i := 0; i < len(s); {
		j := gpt2Next(s, i)
		dst = m.tokenize(s[i:j], &sc.bpe, dst)
		i = j
	}
	return dst
}

// maxCachedWord is the longest word (bytes) kept in the cache (HF: 256).
const maxCachedWord = 256

// wordCacheSize bounds the cache: HF keeps 10,000 words, but English text
// has more distinct words than that (the 410 KB fortunes set has 13,600),
// and a thrashing cache costs a third of the speed; 64Ki words is ~5 MB.
const wordCacheSize = 1 << 16

// tokenize appends the ids of one pre-token (raw bytes, before the byte map).
func (m *bpeModel) tokenize(word []byte, sc *bpeScratch, dst []int32) []int32 {
	switch len(word) {
	case 0:
		return dst
	case 1:
		return append(dst, m.byteID[word[0]])
	}
	if m.ignoreMerges {
		sc.mapped = sc.mapped[:0]
		for _, b := range word {
			sc.mapped = utf8.AppendRune(sc.mapped, byteToRune[b])
		}
		if id, ok := m.vocab[string(sc.mapped)]; ok {
			return append(dst, id)
		}
	}
	cacheable := len(word) < maxCachedWord
	if cacheable {
		if ids, ok := m.cache.get(word); ok {
			return append(dst, ids...)
		}
	}
	mark := len(dst)
	dst = m.merge(word, sc, dst)
	if cacheable {
		m.cache.put(word, dst[mark:])
	}
	return dst
}

// bpeScratch is reusable memory for merging one word.
type bpeScratch struct {
	syms   []bpeSymbol
	heap   []bpeMerge
	mapped []byte
}

// bpeSymbol is a symbol of the word being merged, in a linked list over the
// initial byte positions; a merged-away symbol has dead set.
type bpeSymbol struct {
	id         int32
	prev, next int32 // -1: none
	dead       bool
}

// bpeMerge is a candidate merge of the symbol at pos with its next one.
type bpeMerge struct {
	rank uint32
	pos  int32
	id   int32 // merged id, to recognize stale candidates
}

// less orders candidates as HF does: lowest rank first, then leftmost.
func (a bpeMerge) less(b bpeMerge) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

// merge runs HF's Word::merge_all: repeatedly apply the lowest-ranked merge
// among adjacent symbols (leftmost on ties), using a priority queue of
// candidates that are checked for staleness when popped.
func (m *bpeModel) merge(word []byte, sc *bpeScratch, dst []int32) []int32 {
	syms := sc.syms[:0]
	for i, b := range word {
		syms = append(syms, bpeSymbol{id: m.byteID[b], prev: int32(i) - 1, next: int32(i) + 1})
	}
	syms[len(syms)-1].next = -1
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = heapPush(h, bpeMerge{rank: uint32(v >> 32), pos: int32(i), id: int32(uint32(v))})
		}
	}
	for len(h) > 0 {
		var top bpeMerge
		top, h = heapPop(h)
		cur := &syms[top.pos]
		if cur.dead || cur.next < 0 {
			continue
		}
		right := &syms[cur.next]
		v, ok := m.merges[pairKey(cur.id, right.id)]
		if !ok || int32(uint32(v)) != top.id {
			continue // stale: one side was merged since this was queued
		}
		cur.id = top.id
		right.dead = true
		cur.next = right.next
		if cur.next >= 0 {
			syms[cur.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if v, ok := m.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
				h = heapPush(h, bpeMerge{rank: uint32(v >> 32), pos: cur.prev, id: int32(uint32(v))})
			}
		}
		if cur.next >= 0 {
			if v, ok := m.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
				h = heapPush(h, bpeMerge{rank: uint32(v >> 32), pos: top.pos, id: int32(uint32(v))})
			}
		}
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		dst = append(dst, syms[i].id)
	}
	sc.syms, sc.heap = syms, h
	return dst
}

// heapPush and heapPop are a binary min-heap on bpeMerge.less (no interface
// boxing, unlike container/heap).
func heapPush(h []bpeMerge, x bpeMerge) []bpeMerge {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []bpeMerge) (bpeMerge, []bpeMerge) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, r, s := 2*i+1, 2*i+2, i
		if l < n && h[l].less(h[s]) {
			s = l
		}
		if r < n && h[r].less(h[s]) {
			s = r
		}
		if s == i {
			break
		}
		h[i], h[s] = h[s], h[i]
		i = s
	}
	return top, h
}
