package cpu

/*
#include "onednn_shim.h"
*/
import "C"

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// Linear layers on oneDNN. A weight matrix is packed (reordered into
// oneDNN's blocked layout, converted to bf16 or quantised to int8 in those
// precisions) the first time Linear sees it: Linear's weights are the model's frozen matrices
// (the adapters' weights, which training changes, go through SegLinear as
// products of plain matrices, onednn_gemm.go). Weights are identified by
// address and shape, and a fingerprint of sampled values is checked on every
// call, so a weight rewritten in place is packed again rather than used
// stale; a weight that lies in a read-only file mapping (the checkpoint)
// cannot be rewritten while mapped and is not sampled again (see
// packedWeight.mapped). Free drops a weight's packed copy.
//
// Primitives are cached per shape (rows, leading dimension of y, bias,
// activation; int8's bare products per rows alone), shared by every weight
// of the same size: a primitive holds the JIT-compiled kernels, not the
// weights.
//
// After packing, the pages of the original weights are released when they
// belong to a read-only file mapping (the checkpoint): the process then holds
// one copy of each weight, not two (see releaseFilePages).

// fpSamples is how many values of a weight its fingerprint samples: the
// first and last 16 and the middle one.
const fpSamples = 33

type fingerprint [fpSamples]uint32

// maxPrims bounds the primitive cache (one per distinct M of each shape);
// past it the cache starts over.
const maxPrims = 512

// packHint is the M packed layouts are chosen for: oneDNN's brgemm picks
// the weights' blocking from N and K; M only has to be large enough not to
// select a small-M special case.
const packHint = 128

// precision is what the frozen weights are stored and multiplied in
// (C's DN_PREC_*).
type precision int

const (
	precFP32 precision = C.DN_PREC_F32
	precBF16 precision = C.DN_PREC_BF16
	// precInt8: weights int8 per output column, activations uint8 per row
	// (dn_q8_run), int32 sums.
	precInt8 precision = C.DN_PREC_INT8
)

func (p precision) String() string {
	switch p {
	case precBF16:
		return "bf16"
	case precInt8:
		return "int8"
	}
	return "fp32"
}

// q8Elems bounds the outputs of one int8 product (8 MB of int32 sums):
// its epilogue then reads them back from the caches. Smaller pieces measured
// slower (each is a oneDNN call and two wake-ups of the OpenMP threads):
// MiniLM-L6 (32, 128) at 2¹⁷ outputs ran at 0.8× the speed of 2²¹.
const q8Elems = 1 << 21

// dnn is one backend's oneDNN state.
type dnn struct {
	lib  *oneDNNLib
	log  zerolog.Logger
	prec precision
	ops  kern // the C kernels int8's quantisation and epilogue run
	// bf16Attn: inference attention multiplies in bf16 too (attn_fwd_bf16),
	// set where bf16 multiplies faster than fp32 (bf16Rate); elsewhere its
	// own kernel would only be slower and less exact.
	bf16Attn bool
	threads  int
	// team is OpenMP's team of the calling thread (team.h): zero without
	// GOMP_parallel or with one thread.
	team team

	mu      sync.Mutex
	weights map[wkey]*packedWeight
	prims   map[primKey]*prim
	gemms   map[gemmKey]*prim // plain products (onednn_gemm.go)
	xbf16   []uint16          // x rounded to bf16
	q8      q8Scratch
	errMsg  cbuf // a failed run's message (a local one escaped: 512 bytes of garbage a product)
	warned  bool
}

// wkey identifies a packed weight: its address and the layout it was
// packed from. A weight is packed twice when training: as stored for the
// forward pass and transposed for the input gradient (dx = dy·W).
type wkey struct {
	addr  uintptr
	inOut bool
	parts int // a stack's number of parts (keyed by its first), 0 for a plain matrix
}

// weight is a matrix as the weight cache sees it: one slice, or the parts
// of a stack (stack.go), rows of the parts in order.
type weight struct {
	w     []float32   // a plain matrix, or nil
	parts [][]float32 // a stack's parts
}

func plain(w []float32) weight { return weight{w: w} }

func (w weight) key(inOut bool) wkey {
	if w.parts != nil {
		return wkey{addr(w.parts[0]), inOut, len(w.parts)}
	}
	return wkey{addr(w.w), inOut, 0}
}

// fingerprint samples the matrix of nk values: a stack mixes its parts'.
func (w weight) fingerprint(nk int) fingerprint {
	if w.parts == nil {
		return fingerprintOf(w.w, nk)
	}
	var f fingerprint
	for _, p := range w.parts {
		g := fingerprintOf(p, len(p))
		for i := range f {
			f[i] = f[i]*31 + g[i]
		}
	}
	return f
}

// flat is the matrix's nk values in one slice, and what to call when packing
// is done with it: a stack's parts are copied into memory given back at once
// (left to the garbage collector, these copies, 7 MB a layer of BERT-base,
// raised the peak memory of loading it by 30 MB).
func (w weight) flat(nk int) ([]float32, func(), error) {
	if w.parts == nil {
		return w.w[:nk], func() {}, nil
	}
	out, done, err := tempFloats(nk)
	if err != nil {
		return nil, nil, fmt.Errorf("stacked weight of %d values: %w", nk, err)
	}
	off := 0
	for _, part := range w.parts {
		off += copy(out[off:], part)
	}
	return out, done, nil
}

// release drops the matrix's file pages once it is packed and reports
// whether all of it lies in read-only file mappings.
func (w weight) release(nk int) bool {
	if w.parts == nil {
		return releaseFilePages(w.w[:nk])
	}
	mapped := true
	for _, p := range w.parts {
		mapped = releaseFilePages(p) && mapped
	}
	return mapped
}

type packedWeight struct {
	n, k  int
	inOut bool
	fp    fingerprint
	// mapped: the source lies in a read-only file mapping, whose pages
	// release dropped. The process cannot rewrite it, and its owner frees
	// the packed copy before unmapping it (model.Weights.Release), so it is
	// not fingerprinted again: reading one value of a dropped page maps
	// back the page cache's whole folio around it, up to 2 MiB where the
	// file system caches in large folios (ext4 and XFS on Linux 6.18), and
	// the three places a fingerprint samples brought back 114 MB of
	// BERT-base's 340 MB of packed weights.
	mapped bool
	c      *C.dn_weights
}

type primKey struct {
	n, k, m, ldy int
	bias, acc    bool
	act          kernels.Act
}

type prim struct {
	mm   *C.dn_mm // nil: oneDNN has no fast kernel for this shape
	impl string
}

func newDNN(lib *oneDNNLib, log zerolog.Logger, prec precision, ops kern, threads int) *dnn {
	return &dnn{lib: lib, log: log, prec: prec, ops: ops, threads: ompThreads(threads),
		weights: map[wkey]*packedWeight{}, prims: map[primKey]*prim{}, gemms: map[gemmKey]*prim{}}
}

func addr(s []float32) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(s))) }

// fingerprintOf samples w[:n] (see fpSamples).
func fingerprintOf(w []float32, n int) fingerprint {
	var f fingerprint
	for i := range 16 {
		f[i] = math.Float32bits(w[min(i, n-1)])
		f[16+i] = math.Float32bits(w[max(n-16+i, 0)])
	}
	f[32] = math.Float32bits(w[(n-1)/2])
	return f
}

// linear runs y = act(x·W + bias) on oneDNN and reports whether it did;
// false leaves the work to OpenBLAS.
func (d *dnn) linear(y []float32, ldy int, x []float32, m, n, k int, w weight, inOut bool, bias []float32,
	act kernels.Act) bool {
	return d.matmul(y, ldy, x, m, n, k, w, inOut, bias, act, false, false)
}

// inputGrad runs dx (+)= dy·W for a weight Linear has packed (inOut as
// Linear saw it), with W [k, n] seen as the product's right factor, and
// reports whether it did. Weights Linear has not seen are not packed here:
// they may change between calls (an adapter's, a gradient). In int8 the
// gradients are not quantised: they go through W in fp32 (on OpenBLAS),
// the straight-through rule of quantisation-aware training.
func (d *dnn) inputGrad(dx []float32, m, n, k int, dy []float32, w weight, inOut, accumulate bool) bool {
	if d.prec == precInt8 {
		return false
	}
	return d.matmul(dx, n, dy, m, n, k, w, !inOut, nil, kernels.ActNone, accumulate, true)
}

// matmul is y (+)= act(x·W + bias) on the packed copy of w (packed as
// inOut says; onlyKnown: only if w was packed for Linear).
func (d *dnn) matmul(y []float32, ldy int, x []float32, m, n, k int, w weight, inOut bool, bias []float32,
	act kernels.Act, accumulate, onlyKnown bool) bool {
	if m == 0 || n == 0 || k == 0 || !fitsBLASInt(m*ldy, m*k, n*k) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if onlyKnown && d.weights[w.key(!inOut)] == nil {
		return false
	}
	pw := d.packed(w, n, k, inOut)
	if pw == nil {
		return false
	}
	if d.prec == precInt8 {
		// Never asked to accumulate: int8 weights get no input gradients
		// (inputGrad).
		return !accumulate && d.matmulQ8(y, ldy, x, m, n, k, pw, bias, act)
	}
	p := d.prim(primKey{n: n, k: k, m: m, ldy: ldy, bias: bias != nil, acc: accumulate, act: act}, pw)
	if p.mm == nil {
		return false
	}
	xp := unsafe.Pointer(&x[0])
	if d.prec == precBF16 {
		if len(d.xbf16) < m*k {
			d.xbf16 = make([]uint16, m*k)
		}
		d.toBF16(d.xbf16, x[:m*k])
		xp = unsafe.Pointer(&d.xbf16[0])
	}
	if err := d.lib.run(p.mm, xp, pw.c.data, bias, y, d.threads, &d.errMsg); err != nil {
		d.warn(err, "matmul failed; running it on OpenBLAS")
		return false
	}
	return true
}

// matmulQ8 is y = act(x·W + bias) on int8 weights: in pieces of rows whose
// int32 sums stay in the caches (q8Elems), each quantised, multiplied and
// finished by dn_q8_run. Every row is quantised on its own and summed
// exactly in int32, so a row's result does not depend on the other rows of
// its batch. It overwrites y, so a piece that cannot run leaves the whole
// product to OpenBLAS, whatever pieces ran before it.
func (d *dnn) matmulQ8(y []float32, ldy int, x []float32, m, n, k int, pw *packedWeight, bias []float32,
	act kernels.Act) bool {
	rows := min(m, max(16, q8Elems/n))
	for r := 0; r < m; r += rows {
		mr := min(rows, m-r)
		p := d.prim(primKey{n: n, k: k, m: mr, ldy: n}, pw)
		if !q8Kernel(p) {
			return false
		}
		if err := d.lib.runQ8(p.mm, pw.c, x[r*k:(r+mr)*k], mr, bias, int(act), y[r*ldy:], ldy, &d.q8, d.ops.o,
			d.threads); err != nil {
			d.warn(err, "int8 matmul failed; running it on OpenBLAS")
			return false
		}
	}
	return true
}

// q8Kernel says whether p is an int8 product adapterdb can use: one on
// VNNI or AMX. Without them oneDNN's int8 kernels add pairs of u8·s8
// products in 16 bits with saturation (vpmaddubsw: 2·255·127 > 32767), which
// would be silently wrong for uint8 activations over their full range.
func q8Kernel(p *prim) bool {
	return p.mm != nil && (strings.Contains(p.impl, "vnni") || strings.Contains(p.impl, "amx"))
}

// toBF16 rounds src into dst, split over OpenMP's team when it is large:
// one core converting a (32, 128) batch's activations was 9% of a MiniLM-L6
// bf16 pass. Split over helper goroutines, as before the team (team.h), the
// pass ran 4–5% slower (`bench --batch 32 --seq 128 --device cpu:bf16`,
// 109–115 against 116–121 seq/s, three alternating rounds, Zen 4).
func (d *dnn) toBF16(dst []uint16, src []float32) {
	const grain = 1 << 16 // values worth a piece: a 128-token row of MiniLM-L6 (49K) stays whole
	n := len(src)
	if n < 2*grain || d.threads < 2 {
		toBF16(dst, src)
		return
	}
	pieces := min(d.threads*piecesPerWorker, n/grain)
	step := (n + pieces - 1) / pieces
	if d.team.fn == nil { // no team (an OpenMP runtime without GOMP_parallel): helper goroutines
		var wg sync.WaitGroup
		for lo := 0; lo < n; lo += step {
			hi := min(lo+step, n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				toBF16(dst[lo:hi], src[lo:hi])
			}()
		}
		wg.Wait()
		return
	}
	C.dn_to_bf16_team(d.lib.l, (*C.uint16_t)(unsafe.Pointer(&dst[0])), fp(src), C.long(n), C.long((step+15)/16*16), C.int(d.threads))
}

// packed returns w's packed copy, packing it when it is new or changed;
// nil means it cannot be packed.
func (d *dnn) packed(w weight, n, k int, inOut bool) *packedWeight {
	key := w.key(inOut)
	if pw := d.weights[key]; pw != nil {
		if pw.n == n && pw.k == k && pw.inOut == inOut && (pw.mapped || pw.fp == w.fingerprint(n*k)) {
			return pw
		}
		// Another matrix at this address, or this one rewritten.
		d.drop(key)
	}
	f := w.fingerprint(n * k)
	src, done, err := w.flat(n * k)
	if err != nil {
		d.warn(err, "cannot pack weights; running them on OpenBLAS")
		return nil
	}
	c, err := d.lib.pack(src, n, k, inOut, d.prec, packHint, d.threads)
	done()
	if err != nil {
		d.warn(err, "cannot pack weights; running them on OpenBLAS")
		return nil
	}
	pw := &packedWeight{n: n, k: k, inOut: inOut, fp: f, c: c}
	d.weights[key] = pw
	pw.mapped = w.release(n * k)
	return pw
}

// prim returns the cached primitive for key, creating it.
func (d *dnn) prim(key primKey, pw *packedWeight) *prim {
	return cachedPrim(d, d.prims, key, key.m, key.n, key.k, func() (*C.dn_mm, string, error) {
		return d.lib.matmul(pw.c, key.m, key.ldy, key.bias, int(key.act), key.acc, d.threads)
	})
}

// cachedPrim returns cache[key], making it with create on a miss: a
// primitive oneDNN cannot make, or makes only from its reference code (far
// slower than OpenBLAS), is cached as none, so the shape stays on OpenBLAS.
// Past maxPrims entries the cache starts over. Called with d.mu held.
func cachedPrim[K comparable](d *dnn, cache map[K]*prim, key K, m, n, k int, create func() (*C.dn_mm, string, error)) *prim {
	if p, ok := cache[key]; ok {
		return p
	}
	if len(cache) >= maxPrims {
		for k, p := range cache {
			if p.mm != nil {
				C.dn_mm_free(d.lib.l, p.mm)
				p.mm = nil // a caller holding p sees it gone
			}
			delete(cache, k)
		}
	}
	p := &prim{}
	mm, impl, err := create()
	switch {
	case err != nil:
		d.warn(err, "no matmul for this shape; running it on OpenBLAS")
	case len(impl) >= 3 && impl[:3] == "ref":
		d.log.Debug().Str("impl", impl).Int("m", m).Int("n", n).Int("k", k).
			Msg("cpu backend: oneDNN has only its reference matmul for this shape; using OpenBLAS")
		C.dn_mm_free(d.lib.l, mm)
	default:
		p.mm, p.impl = mm, impl
	}
	cache[key] = p
	return p
}

// drop frees the packed copy of the weight at key.
func (d *dnn) drop(key wkey) {
	if pw := d.weights[key]; pw != nil {
		C.dn_weights_free(pw.c)
		delete(d.weights, key)
	}
}

// free drops w's packed copies, if any.
func (d *dnn) free(w weight) {
	if w.parts == nil && len(w.w) == 0 {
		return
	}
	d.mu.Lock()
	d.drop(w.key(false))
	d.drop(w.key(true))
	d.mu.Unlock()
}

// packedBytes is the memory held by packed weights.
func (d *dnn) packedBytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n int64
	for _, pw := range d.weights {
		n += int64(pw.c.bytes)
	}
	return n
}

func (d *dnn) warn(err error, msg string) {
	if d.warned {
		d.log.Debug().Err(err).Msg("cpu backend: " + msg)
		return
	}
	d.warned = true
	d.log.Warn().Err(err).Msg("cpu backend: " + msg)
}
