//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// Options configures New.
type Options struct {
	// Device is the GPU's ordinal.
	Device int
	// MemoryBudget caps the device bytes held by uploaded buffers (base
	// weights and adapters); least recently used adapters are dropped from
	// the device past it and uploaded again when needed. 0: no budget, only
	// a full device evicts.
	MemoryBudget int64
	// Precision is the storage type: fp32 (default), bf16 or fp16.
	Precision Precision
	// DisableCublas runs every GEMM on this package's kernels even when
	// libcublas is found.
	DisableCublas bool
	// CublasLibrary is the cuBLAS shared library to load; "" tries
	// libcublas.so.13, .12, .11 and libcublas.so (CUDA 13 first). A library that
	// cannot be loaded is an error; a failed search falls back to the
	// package's kernels.
	CublasLibrary string
	// DriverLibrary is the CUDA driver library; "" is libcuda.so.1.
	DriverLibrary string
	// DisableCublasLt keeps Linear's bias and activation out of the GEMM
	// epilogue (cuBLASLt, loaded beside cuBLAS): separate passes after
	// cuBLAS GEMMs, as without cuBLASLt.
	DisableCublasLt bool
}

// Backend is the cuda kernels.Backend. It is safe for concurrent use.
type Backend struct {
	log   zerolog.Logger
	prec  Precision
	esize int
	dev   device
	blas  gemmLib
	name  string
	k     kernelSet
	bwd   bwdKernels   // backward.go
	optk  optKernels   // adamw.go
	fk    fusedKernels // kern_fused.h
	lt    epilogueLib  // cuBLASLt epilogues; nil: none
	// noFlash keeps attention off kern_flash.h (tests compare it with attn_tc).
	noFlash bool
	tcOK    map[int]bool // head dims with tensor-core attention

	mu     sync.Mutex // guards everything below and makes each op's queuing atomic
	closed bool
	seq    uint64 // operation counter: an upload used by the current op has lastUse == seq
	pool   pool
	res    *residency[*allocation]
	live   map[*allocation]struct{}
	stg    stager
	bulk   [2]bulkBuf
	stats  Stats
}

var _ kernels.Backend = (*Backend)(nil)

// Stats are the backend's memory figures.
type Stats struct {
	Precision           Precision
	ResidentUploads     int   // uploaded buffers (weights, adapters) on the device
	ResidentUploadBytes int64 // their device bytes
	UploadedBytes       int64 // bytes copied to the device for uploads, re-uploads included
	Evictions           int64 // uploads dropped from the device for the budget or a full device
	ActivationBytes     int64 // device bytes of live Alloc'd buffers
	PoolCachedBytes     int64 // freed device memory kept for reuse
	DeviceFree          int64 // from the driver
	DeviceTotal         int64
}

// allocation is one device allocation: from Alloc (host nil) or Upload
// (host holds the values; ptr is 0 while they are not on the device).
type allocation struct {
	n     int
	bytes int64
	blk   block
	ptr   devptr
	host  []float32
	freed bool
}

// buffer is a kernels.Buffer: [off, off+n) of an allocation.
type buffer struct {
	a      *allocation
	off, n int
	root   bool // returned by Alloc or Upload (Free releases it)
}

func (b *buffer) Len() int { return b.n }

// kernelSet holds the loaded kernels of the backend's storage type.
type kernelSet struct {
	act, add, biasAct, embed, softmax kfunc
	norm                              map[int]kfunc    // by values per lane (normVariant)
	attn                              map[string]kfunc // by planAttention's kernel name
	gemm                              map[string]kfunc // by gemmCfg.kernel
}

// newBackend sets the backend up on an opened device.
func newBackend(log zerolog.Logger, opts Options, prec Precision, dev device) (*Backend, error) {
	be := &Backend{log: log, prec: prec, esize: prec.size(), dev: dev, tcOK: map[int]bool{},
		res: newResidency[*allocation](opts.MemoryBudget), live: map[*allocation]struct{}{}}
	if opts.MemoryBudget < 0 {
		return nil, fmt.Errorf("negative memory budget %d", opts.MemoryBudget)
	}
	be.pool = pool{raw: dev.alloc, release: dev.free}
	if !opts.DisableCublas {
		be.blas = dev.gemmLib()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev.enter()
	if err := errors.Join(be.loadKernels(), be.loadFused()); err != nil {
		return nil, err
	}
	be.attachEpilogues(opts)
	gemm, epi := "kernels", "own kernels"
	if be.blas != nil {
		gemm, epi = be.blas.name(), "separate passes"
	}
	if be.lt != nil {
		epi = be.lt.name()
	}
	be.name = fmt.Sprintf("cuda/%s/%s", prec, gemm)
	be.stats.Precision = prec
	log.Info().Str("device", dev.describe()).Str("precision", string(prec)).Str("gemm", gemm).
		Str("epilogues", epi).Int64("memory_budget", opts.MemoryBudget).Msg("cuda backend")
	return be, nil
}

func (be *Backend) loadKernels() error {
	sfx := be.prec.suffix()
	get := func(name string) (kfunc, error) {
		f, err := be.dev.kernel(name)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", name, err)
		}
		return f, nil
	}
	var errs []error
	must := func(name string) kfunc {
		f, err := get(name)
		if err != nil {
			errs = append(errs, err)
		}
		return f
	}
	k := kernelSet{norm: map[int]kfunc{}, attn: map[string]kfunc{}, gemm: map[string]kfunc{}}
	k.act = must("k_act_" + sfx)
	k.add = must("k_add_" + sfx)
	k.biasAct = must("k_bias_act_" + sfx)
	k.embed = must("k_embed_" + sfx)
	k.softmax = must("k_softmax_" + sfx)
	for _, v := range []int{0, 4, 8, 16, 32} {
		k.norm[v] = must(fmt.Sprintf("k_norm%d_%s", v, sfx))
	}
	for _, w := range []int{32, 64, 128, 256} {
		k.attn[fmt.Sprintf("simt%d", w)] = must(fmt.Sprintf("k_attn_simt%d_%s", w, sfx))
	}
	if be.prec == FP32 {
		k.gemm["simt"] = must("k_gemm_simt_f32")
	} else {
		k.gemm["tc_big"] = must("k_gemm_tc_big_" + sfx)
		k.gemm["tc_small"] = must("k_gemm_tc_small_" + sfx)
		for _, hd := range []int{32, 64, 128} {
			f := must(fmt.Sprintf("k_attn_tc%d_%s", hd, sfx))
			smem := attnTCSmem(hd)
			if f == nil || smem > be.dev.smemOptin() {
				continue // the SIMT kernel serves this head dimension
			}
			if err := be.dev.setSmem(f, smem); err != nil {
				errs = append(errs, fmt.Errorf("kernel k_attn_tc%d: shared memory %d bytes: %w", hd, smem, err))
				continue
			}
			k.attn[fmt.Sprintf("tc%d", hd)] = f
			be.tcOK[hd] = true
		}
	}
	be.k = k
	be.loadBackward(must)
	return errors.Join(errs...)
}

// Name says which implementation runs: "cuda/<precision>/<gemm>".
func (be *Backend) Name() string { return be.name }

// Precision is the storage type.
func (be *Backend) Precision() Precision { return be.prec }

// Device describes the GPU.
func (be *Backend) Device() string { return be.dev.describe() }

// lock starts an operation: it holds the mutex, pins the goroutine to its
// thread with the context current, and advances the operation counter.
func (be *Backend) lock() {
	be.mu.Lock()
	if be.closed {
		be.mu.Unlock()
		panic("cuda: backend used after Close")
	}
	runtime.LockOSThread()
	be.dev.enter()
	be.seq++
}

func (be *Backend) unlock() {
	runtime.UnlockOSThread()
	be.mu.Unlock()
}

// check panics with context on a device error: the Backend interface has no
// error returns, and a failed launch or copy leaves the context unusable.
func check(err error, format string, a ...any) {
	if err != nil {
		panic(fmt.Sprintf("cuda: "+format+": %v", append(a, err)...))
	}
}

// unwrap returns this backend's buffer.
func unwrap(b kernels.Buffer, what string) *buffer {
	switch v := b.(type) {
	case *buffer:
		return v
	case nil:
		panic(fmt.Sprintf("cuda: %s is nil", what))
	}
	panic(fmt.Sprintf("cuda: %s of type %T is not a cuda buffer", what, b))
}

// addr resolves b for the current op: its device address after checking that
// it holds at least n values and, for an upload, putting it on the device.
// write marks an upload as changed on the device (never evicted after).
func (be *Backend) addr(b kernels.Buffer, n int, what string, write bool) devptr {
	v := unwrap(b, what)
	if v.n < n {
		panic(fmt.Sprintf("cuda: %s has %d values, needs %d", what, v.n, n))
	}
	a := v.a
	if a.freed {
		panic(fmt.Sprintf("cuda: %s was freed", what))
	}
	if a.host != nil {
		be.resident(a)
		if write {
			be.res.pin(a)
		}
	}
	return a.ptr + devptr(v.off*be.esize)
}

func (be *Backend) in(b kernels.Buffer, n int, what string) devptr  { return be.addr(b, n, what, false) }
func (be *Backend) out(b kernels.Buffer, n int, what string) devptr { return be.addr(b, n, what, true) }

// opt is in for an optional buffer (nil: address 0).
func (be *Backend) opt(b kernels.Buffer, n int, what string) devptr {
	if b == nil {
		return 0
	}
	return be.in(b, n, what)
}

// resident puts an upload on the device if it is not there, evicting least
// recently used uploads past the budget.
func (be *Backend) resident(a *allocation) {
	if a.ptr != 0 || a.bytes == 0 {
		be.res.touch(a, be.seq)
		return
	}
	for _, v := range be.res.victims(a.bytes, be.seq) {
		be.evict(v)
	}
	a.blk = be.getBlock(a.bytes)
	a.ptr = a.blk.ptr
	be.res.insert(a, a.blk.size, be.seq)
	be.toDevice(a.ptr, a.host)
	be.stats.UploadedBytes += a.bytes
}

// evict drops an upload's device copy (its block goes back to the pool).
func (be *Backend) evict(a *allocation) {
	be.pool.put(a.blk)
	a.ptr, a.blk = 0, block{}
	be.res.remove(a)
	be.stats.Evictions++
}

// getBlock allocates device memory; when the device is full it first evicts
// every upload not used by the current op and releases the pool's cache.
func (be *Backend) getBlock(bytes int64) block {
	b, err := be.pool.get(bytes)
	if errors.Is(err, errOutOfMemory) {
		for _, v := range be.res.evictable(be.seq) {
			be.evict(v)
		}
		check(be.dev.sync(), "synchronise before releasing cached memory")
		check(be.pool.trim(), "release cached memory")
		b, err = be.pool.get(bytes)
	}
	if err != nil {
		free, total, _ := be.dev.memInfo()
		panic(fmt.Sprintf("cuda: allocate %d bytes (%d of %d bytes free on the device; lower the batch size or the memory budget): %v",
			bytes, free, total, err))
	}
	return b
}

// Alloc returns a zeroed buffer of n values.
func (be *Backend) Alloc(n int) kernels.Buffer { return be.alloc(n, true) }

// Scratch returns a buffer of n values left as the memory pool had them.
func (be *Backend) Scratch(n int) kernels.Buffer { return be.alloc(n, false) }

// poisoner is a device that fills Scratch memory with NaN (the emulator), so
// that tests see reads of values no kernel wrote even in recycled blocks.
type poisoner interface{ poison(p devptr, bytes int64) }

func (be *Backend) alloc(n int, zero bool) kernels.Buffer {
	if n < 0 {
		panic(fmt.Sprintf("cuda: Alloc(%d)", n))
	}
	a := &allocation{n: n, bytes: int64(n) * int64(be.esize)}
	if n > 0 {
		be.lock()
		defer be.unlock()
		a.blk = be.getBlock(a.bytes)
		a.ptr = a.blk.ptr
		if zero {
			check(be.dev.memset(a.ptr, a.bytes), "clear %d bytes", a.bytes)
		} else if p, ok := be.dev.(poisoner); ok {
			p.poison(a.ptr, a.bytes)
		}
		be.live[a] = struct{}{}
		be.stats.ActivationBytes += a.blk.size
	}
	return &buffer{a: a, n: n, root: true}
}

// Upload returns a buffer of host's values. They go to the device when an
// operation first uses the buffer (and again after an eviction), so host
// must not change afterwards.
func (be *Backend) Upload(host []float32) kernels.Buffer {
	a := &allocation{n: len(host), bytes: int64(len(host)) * int64(be.esize), host: host}
	if len(host) == 0 {
		a.host = nil
	}
	return &buffer{a: a, n: len(host), root: true}
}

// Download copies src into dst (len(dst) ≤ src.Len()), waiting for the work
// queued before it.
func (be *Backend) Download(dst []float32, src kernels.Buffer) {
	be.lock()
	defer be.unlock()
	p := be.in(src, len(dst), "download source")
	if len(dst) == 0 {
		return
	}
	be.fromDevice(dst, p)
}

// View is [off, off+n) of b.
func (be *Backend) View(b kernels.Buffer, off, n int) kernels.Buffer {
	v := unwrap(b, "view parent")
	if off < 0 || n < 0 || off+n > v.n {
		panic(fmt.Sprintf("cuda: view [%d, %d+%d) of a buffer of %d values", off, off, n, v.n))
	}
	return &buffer{a: v.a, off: v.off + off, n: n}
}

// Copy copies src into dst (same length).
func (be *Backend) Copy(dst, src kernels.Buffer) {
	d, s := unwrap(dst, "copy destination"), unwrap(src, "copy source")
	if d.n != s.n {
		panic(fmt.Sprintf("cuda: copy of %d values into %d", s.n, d.n))
	}
	if d.n == 0 {
		return
	}
	be.lock()
	defer be.unlock()
	sp := be.in(src, s.n, "copy source")
	dp := be.out(dst, d.n, "copy destination")
	check(be.dev.dtod(dp, sp, int64(d.n*be.esize)), "copy %d values", d.n)
}

// Free releases a buffer from Alloc or Upload; views are left alone. Its
// device memory returns to the pool (queued work that uses it still runs
// first: one stream).
func (be *Backend) Free(b kernels.Buffer) {
	v := unwrap(b, "freed buffer")
	if !v.root || v.a.freed {
		return
	}
	be.lock()
	defer be.unlock()
	a := v.a
	a.freed = true
	if a.host != nil {
		if a.ptr != 0 {
			be.res.remove(a)
			be.pool.put(a.blk)
		}
		a.host = nil
	} else if a.ptr != 0 {
		be.pool.put(a.blk)
		be.stats.ActivationBytes -= a.blk.size
		delete(be.live, a)
	}
	a.ptr, a.blk = 0, block{}
}

// Stats reports memory use.
func (be *Backend) Stats() Stats {
	be.lock()
	defer be.unlock()
	s := be.stats
	s.ResidentUploads = len(be.res.items)
	s.ResidentUploadBytes = be.res.used
	s.PoolCachedBytes = be.pool.cached
	s.DeviceFree, s.DeviceTotal, _ = be.dev.memInfo()
	return s
}

// Sync waits for all queued work (benchmarks; Download already waits).
func (be *Backend) Sync() error {
	be.lock()
	defer be.unlock()
	return be.dev.sync()
}

// Close waits for queued work and releases the device. Buffers of the
// backend must not be used afterwards.
func (be *Backend) Close() error {
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.closed {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	be.dev.enter()
	errs := []error{be.dev.sync()}
	for a := range be.live {
		be.pool.put(a.blk)
		a.ptr, a.freed = 0, true
	}
	for a := range be.res.items {
		be.pool.put(a.blk)
		a.ptr = 0
	}
	be.live = nil
	errs = append(errs, be.pool.trim(), be.stg.release(be.dev))
	for i := range be.bulk {
		errs = append(errs, be.bulk[i].release(be.dev))
	}
	errs = append(errs, be.dev.close())
	be.closed = true
	return errors.Join(errs...)
}

// launch runs kernel f; args is a pointer to its kargs.h block.
func (be *Backend) launch(f kfunc, what string, grid, block [3]int, smem int, args unsafe.Pointer, size uintptr) {
	check(be.dev.launch(f, grid, block, smem, args, int(size)), "launch %s (grid %v, block %v)", what, grid, block)
}
