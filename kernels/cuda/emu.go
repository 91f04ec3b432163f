//go:build cudaemu && !cuda

package cuda

/*
#cgo CXXFLAGS: -std=c++17 -O2 -fno-strict-aliasing -Wno-unknown-pragmas
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "emu_api.h"

// ptr turns an emulated device address (host memory) into a pointer.
static void *ptr(unsigned long long a) { return (void *)(uintptr_t)a; }
*/
import "C"

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/rs/zerolog"
)

// NewEmulated returns a backend whose kernels (kern_entry.h, compiled for
// the CPU) run on an emulator of CUDA's execution model, with host memory as
// device memory and a plain column-major reference standing in for cuBLAS.
// It exists for tests on machines without a GPU: it checks the kernels'
// logic and the backend's host side, never speed.
func NewEmulated(log zerolog.Logger, opts Options) (*Backend, error) {
	prec, err := ParsePrecision(string(opts.Precision))
	if err != nil {
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	dev := &emuDevice{prec: prec, live: map[devptr]int64{}}
	be, err := newBackend(log, opts, prec, dev)
	if err != nil {
		return nil, fmt.Errorf("cuda backend (emulated): %w", err)
	}
	be.name = "emulated-" + be.name
	return be, nil
}

// emuDevice is host memory and the emulator. Every call completes before it
// returns, so events are always done.
type emuDevice struct {
	prec Precision
	live map[devptr]int64 // allocations, to catch frees of unknown addresses
}

func (d *emuDevice) describe() string { return "CPU emulator" }
func (d *emuDevice) sms() int         { return 4 }
func (d *emuDevice) smemOptin() int   { return 227 << 10 }
func (d *emuDevice) enter()           {}

func (d *emuDevice) alloc(bytes int64) (devptr, error) {
	p := C.aligned_alloc(256, C.size_t(roundUp(int(bytes), 256)))
	if p == nil {
		return 0, errOutOfMemory
	}
	// Fresh device memory is not zero: fill it with NaNs so that reads of
	// unwritten values show.
	C.memset(p, 0xff, C.size_t(bytes))
	a := devptr(uintptr(p))
	d.live[a] = bytes
	return a, nil
}

// poison fills Scratch memory with NaN: a recycled block would otherwise
// hold the finite values of its last use and hide reads of unwritten values.
func (d *emuDevice) poison(p devptr, bytes int64) {
	C.memset(C.ptr(C.ulonglong(p)), 0xff, C.size_t(bytes))
}

func (d *emuDevice) free(p devptr) error {
	if _, ok := d.live[p]; !ok {
		return fmt.Errorf("free of unknown device address %#x", p)
	}
	delete(d.live, p)
	C.free(C.ptr(C.ulonglong(p)))
	return nil
}

func (d *emuDevice) hostAlloc(bytes int) ([]byte, error) {
	p := C.malloc(C.size_t(bytes))
	if p == nil {
		return nil, fmt.Errorf("out of host memory")
	}
	return unsafe.Slice((*byte)(p), bytes), nil
}

func (d *emuDevice) hostFree(b []byte) error {
	C.free(unsafe.Pointer(unsafe.SliceData(b)))
	return nil
}

func (d *emuDevice) mem(p devptr, bytes int64) []byte {
	return unsafe.Slice((*byte)(C.ptr(C.ulonglong(p))), bytes)
}

func (d *emuDevice) memset(dst devptr, bytes int64) error {
	clear(d.mem(dst, bytes))
	return nil
}

func (d *emuDevice) htod(dst devptr, src []byte) error {
	copy(d.mem(dst, int64(len(src))), src)
	return nil
}

func (d *emuDevice) dtoh(dst []byte, src devptr) error {
	copy(dst, d.mem(src, int64(len(dst))))
	return nil
}

func (d *emuDevice) dtod(dst, src devptr, bytes int64) error {
	copy(d.mem(dst, bytes), d.mem(src, bytes))
	return nil
}

func (d *emuDevice) sync() error                    { return nil }
func (d *emuDevice) newEvent() (event, error)       { return struct{}{}, nil }
func (d *emuDevice) record(event) error             { return nil }
func (d *emuDevice) wait(event) error               { return nil }
func (d *emuDevice) destroyEvent(event) error       { return nil }
func (d *emuDevice) setSmem(kfunc, int) error       { return nil }
func (d *emuDevice) memInfo() (int64, int64, error) { return 0, 0, nil }
func (d *emuDevice) close() error                   { return nil }

func (d *emuDevice) kernel(name string) (kfunc, error) {
	cname := C.CString(name)
	if C.emu_has(cname) == 0 {
		C.free(unsafe.Pointer(cname))
		return nil, fmt.Errorf("not in the emulator's kernels")
	}
	return cname, nil // kept for the backend's lifetime
}

func (d *emuDevice) launch(f kfunc, grid, block [3]int, smem int, args unsafe.Pointer, size int) error {
	var msg [256]C.char
	if C.emu_launch(f.(*C.char), C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]),
		C.uint(block[2]), C.uint(smem), args, C.size_t(size), &msg[0], C.size_t(len(msg))) != 0 {
		return fmt.Errorf("%s", C.GoString(&msg[0]))
	}
	return nil
}

func (d *emuDevice) gemmLib() gemmLib { return &emuBLAS{d: d} }

// emuBLAS is the reference GEMM in cuBLAS's column-major convention, with
// fp32 accumulation and results rounded to the storage type: what the
// backend's row-major mapping (blasGemm) is checked against on the CPU.
type emuBLAS struct{ d *emuDevice }

func (b *emuBLAS) name() string { return "emulated-cublas" }

func (b *emuBLAS) load(p devptr, i int) float32 {
	var v [1]float32
	es := b.d.prec.size()
	decode(b.d.prec, v[:], b.d.mem(p+devptr(i*es), int64(es)))
	return v[0]
}

func (b *emuBLAS) store(p devptr, i int, v float32) {
	es := b.d.prec.size()
	encode(b.d.prec, b.d.mem(p+devptr(i*es), int64(es)), []float32{v})
}

func (b *emuBLAS) gemm(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, bb devptr, ldb int, beta float32,
	c devptr, ldc int) error {
	return b.gemmStrided(tA, tB, m, n, k, alpha, a, lda, 0, bb, ldb, 0, beta, c, ldc, 0, 1)
}

func (b *emuBLAS) gemmStrided(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, sa int64, bb devptr, ldb int,
	sb int64, beta float32, c devptr, ldc int, sc int64, batch int) error {
	if m < 0 || n < 0 || k < 0 || batch < 0 || lda < 1 || ldb < 1 || ldc < max(1, m) {
		return fmt.Errorf("invalid gemm arguments m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", m, n, k, lda, ldb, ldc)
	}
	es := devptr(b.d.prec.size())
	for t := range batch {
		A, B, Cm := a+devptr(int64(t)*sa)*es, bb+devptr(int64(t)*sb)*es, c+devptr(int64(t)*sc)*es
		for j := range n {
			for i := range m {
				var s float32
				for p := range k {
					// column-major: X(r, c) is X[r + c·ld]
					ai, bi := i+p*lda, p+j*ldb
					if tA {
						ai = p + i*lda
					}
					if tB {
						bi = j + p*ldb
					}
					av, bv := b.load(A, ai), b.load(B, bi)
					s = float32(math.FMA(float64(av), float64(bv), float64(s)))
				}
				r := alpha * s
				if beta != 0 {
					r += beta * b.load(Cm, i+j*ldc)
				}
				b.store(Cm, i+j*ldc, r)
			}
		}
	}
	return nil
}

// emuAttnTCSmem is the tensor-core attention kernel's own shared memory
// layout size, compiled from kern_attention.h (tests compare attnTCSmem).
func emuAttnTCSmem(hd int) int { return int(C.emu_attn_tc_smem(C.int(hd))) }
