package cpu

import "sync"

// scratchPool hands out float32 scratch buffers that are reused across
// calls (a [m, n] GEMM output is megabytes: allocating it per call would
// keep the garbage collector busy).
type scratchPool struct{ p sync.Pool }

// Get returns a buffer of n values (contents undefined).
func (s *scratchPool) Get(n int) []float32 {
	if v, ok := s.p.Get().(*[]float32); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]float32, n)
}

// Put returns b to the pool.
func (s *scratchPool) Put(b []float32) { s.p.Put(&b) }
