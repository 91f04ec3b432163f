package cpu

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "onednn_shim.h"
#include "bf16rate.h"
#include "kern.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/rs/zerolog"
	xcpu "golang.org/x/sys/cpu"
)

// oneDNN (Debian's libdnnl2, the library PyTorch's CPU path is built on)
// runs the linear layers of frozen weights: each weight matrix is reordered
// once into the blocked layout oneDNN's matmul reads fastest, and bias and
// activation run in the GEMM's epilogue (post-ops). OpenBLAS re-packs the
// weights on every call; at the small M of short texts that packing is most
// of the work (docs/performance.md). The library is opened with dlopen, so
// the binary runs without it; oneDNN 2.x with an OpenMP runtime is required.
//
// ADAPTERDB_ONEDNN=off (or Options.OneDNN "off") keeps every GEMM on
// OpenBLAS.

// oneDNNPaths are tried in order when Options.OneDNN is empty.
var oneDNNPaths = []string{
	"libdnnl.so.2",
	"/usr/lib/x86_64-linux-gnu/libdnnl.so.2",
}

// oneDNNEnv is the knob that turns oneDNN off.
const oneDNNEnv = "ADAPTERDB_ONEDNN"

// oneDNNLib is the loaded library: one per process (OpenMP's thread pool
// and oneDNN's primitive cache are process-wide).
type oneDNNLib struct {
	l       *C.dn_lib
	path    string
	version string
}

var (
	dnnMu     sync.Mutex
	dnnLoaded *oneDNNLib
)

// oneDNNDisabled says whether the user turned oneDNN off.
func oneDNNDisabled(opt string) (bool, string) {
	if isOff(opt) {
		return true, "Options.OneDNN"
	}
	if v, ok := os.LookupEnv(oneDNNEnv); ok && isOff(v) {
		return true, oneDNNEnv + "=" + v
	}
	return false, ""
}

// checkOneDNNEnv refuses a value of ADAPTERDB_ONEDNN that is neither off nor
// on, so that a typo (ADAPTERDB_ONEDNN=of) does not silently leave oneDNN on.
func checkOneDNNEnv() error {
	v, ok := os.LookupEnv(oneDNNEnv)
	if !ok || isOff(v) {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "on", "1", "true", "yes":
		return nil
	}
	return fmt.Errorf("cpu backend: %s=%q: want off (0, false, no) or on (1, true, yes)", oneDNNEnv, v)
}

func isOff(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "0", "false", "no":
		return true
	}
	return false
}

// hasOneDNNISA says whether the CPU runs oneDNN's AVX-512 matmul kernels
// (brgemm), the ones measured faster than OpenBLAS. On AVX2-only CPUs
// oneDNN's fp32 matmul falls back to its own GEMM, which does not beat
// OpenBLAS there (docs/performance.md), so OpenBLAS stays.
func hasOneDNNISA() bool {
	x := xcpu.X86
	return x.HasAVX512F && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL
}

// hasBF16 says whether the CPU multiplies bfloat16 natively (vdpbf16ps).
func hasBF16() bool { return hasOneDNNISA() && xcpu.X86.HasAVX512BF16 }

// hasInt8 says whether the CPU multiplies int8 with VNNI (vpdpbusd), on
// which oneDNN's int8 matmul (brgemm) runs.
func hasInt8() bool { return hasOneDNNISA() && xcpu.X86.HasAVX512VNNI }

// bf16Rate measures bf16's multiply-add rate over fp32's on this CPU
// (bf16rate.c); call only where hasBF16. About 2 on Zen 4, about 0.5 on
// Sapphire and Emerald Rapids.
func bf16Rate() float64 { return float64(C.bf16_rate()) }

// slowBF16 is the measured rate below which cpu:bf16 is worth a warning:
// oneDNN's bf16 matmul then runs at ~0.55× its fp32 one (Emerald Rapids,
// docs/performance.md), so bf16 only halves the weights' memory.
const slowBF16 = 1.4

// loadOneDNN opens oneDNN once per process. path "" searches oneDNNPaths.
func loadOneDNN(log zerolog.Logger, path string) (*oneDNNLib, error) {
	dnnMu.Lock()
	defer dnnMu.Unlock()
	if dnnLoaded != nil {
		if path != "" && path != dnnLoaded.path {
			return nil, fmt.Errorf("load %s: this process already uses oneDNN from %s", path, dnnLoaded.path)
		}
		return dnnLoaded, nil
	}
	paths := oneDNNPaths
	if path != "" {
		paths = []string{path}
	}
	lib, err := openOneDNN(log, paths)
	if err != nil {
		return nil, err
	}
	dnnLoaded = lib
	return lib, nil
}

// openOneDNN tries paths in order; it sets OpenMP's environment first.
func openOneDNN(log zerolog.Logger, paths []string) (*oneDNNLib, error) {
	tuneOMPEnv(log)
	var errs []error
	for _, p := range paths {
		cpath := C.CString(p)
		var ebuf [512]C.char
		l := C.dn_open(cpath, &ebuf[0], C.int(len(ebuf)))
		C.free(unsafe.Pointer(cpath))
		if l == nil {
			errs = append(errs, errors.New(C.GoString(&ebuf[0])))
			continue
		}
		var vbuf [32]C.char
		C.dn_version(l, &vbuf[0], C.int(len(vbuf)))
		return &oneDNNLib{l: l, path: p, version: C.GoString(&vbuf[0])}, nil
	}
	return nil, errors.Join(errs...)
}

// ompSpinCount is GOMP_SPINCOUNT when the user set neither it nor
// OMP_WAIT_POLICY: how long an idle OpenMP thread busy-waits for the next
// parallel region. libgomp's default (300000 spins, milliseconds of a busy
// core after every GEMM) starves the C kernels that run between GEMMs; 10000 still
// bridges back-to-back matmuls.
const ompSpinCount = 10000

// tuneOMPEnv sets OpenMP variables that libgomp reads when it is loaded,
// unless the user set them (or OMP_WAIT_POLICY, which GOMP_SPINCOUNT would
// override).
func tuneOMPEnv(log zerolog.Logger) {
	for _, n := range []string{"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"} {
		if v, ok := os.LookupEnv(n); ok {
			log.Debug().Str(n, v).Msg("cpu backend: OpenMP setting of the user kept")
			return
		}
	}
	if err := os.Setenv("GOMP_SPINCOUNT", strconv.Itoa(ompSpinCount)); err != nil {
		log.Warn().Err(err).Msg("cpu backend: cannot set GOMP_SPINCOUNT")
	}
}

// ompThreads is the thread count oneDNN runs with: OMP_NUM_THREADS when
// the user set it (its first value, for nested lists), else threads.
func ompThreads(threads int) int {
	v, ok := os.LookupEnv("OMP_NUM_THREADS")
	if !ok {
		return threads
	}
	first, _, _ := strings.Cut(v, ",")
	n, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || n < 1 {
		return threads
	}
	return n
}

// cbuf is a C string buffer for error and implementation names.
type cbuf [512]C.char

func (b *cbuf) p() *C.char     { return &b[0] }
func (b *cbuf) n() C.int       { return C.int(len(b)) }
func (b *cbuf) String() string { return C.GoString(&b[0]) }

// pack reorders w (layout inOut: [k,n], else [n,k]) into the blocked
// layout of a matmul with mHint rows, in precision p.
func (l *oneDNNLib) pack(w []float32, n, k int, inOut bool, p precision, mHint, threads int) (*C.dn_weights, error) {
	var e cbuf
	pw := C.dn_pack(l.l, fp(w), C.int(n), C.int(k), cbool(inOut), C.int(p), C.int(mHint), C.int(threads), e.p(), e.n())
	if pw == nil {
		return nil, fmt.Errorf("oneDNN: pack %d×%d weights: %s", n, k, e.String())
	}
	return pw, nil
}

// matmul makes the primitive for m rows against packed weights.
func (l *oneDNNLib) matmul(w *C.dn_weights, m, ldy int, bias bool, act int, accumulate bool, threads int) (*C.dn_mm, string, error) {
	var e, impl cbuf
	mm := C.dn_mm_create(l.l, w, C.int(m), C.int(ldy), cbool(bias), C.int(act), cbool(accumulate), C.int(threads),
		impl.p(), impl.n(), e.p(), e.n())
	if mm == nil {
		return nil, "", fmt.Errorf("oneDNN: matmul %d×%d×%d: %s", m, w.n, w.k, e.String())
	}
	return mm, impl.String(), nil
}

// run executes mm; x is float32 or bfloat16 (uint16) rows, w the weights'
// data (a packed copy's, or a plain B for gemm's primitives).
func (l *oneDNNLib) run(mm *C.dn_mm, x, w unsafe.Pointer, bias, y []float32, threads int, e *cbuf) error {
	if C.dn_mm_run(l.l, mm, x, w, fp(bias), fp(y), C.int(threads), e.p(), e.n()) != 0 {
		return fmt.Errorf("oneDNN: %s", e.String())
	}
	return nil
}

// q8Scratch is what one dn_q8_run works in: the quantised rows, their
// scales and zero points, and the int32 product.
type q8Scratch struct {
	xq  []uint8
	sx  []float32
	zp  []int32
	acc []int32
}

// grow makes room for m rows of k inputs and n outputs.
func (s *q8Scratch) grow(m, n, k int) {
	if len(s.xq) < m*k {
		s.xq = make([]uint8, m*k)
	}
	if len(s.sx) < m {
		s.sx, s.zp = make([]float32, m), make([]int32, m)
	}
	if len(s.acc) < m*n {
		s.acc = make([]int32, m*n)
	}
}

// runQ8 is y[m,n] = act(x·W + bias) on int8 weights w (dn_q8_run).
func (l *oneDNNLib) runQ8(mm *C.dn_mm, w *C.dn_weights, x []float32, m int, bias []float32, act int,
	y []float32, ldy int, s *q8Scratch, ops *C.kern_ops, threads int) error {
	s.grow(m, int(w.n), int(w.k))
	var e cbuf
	if C.dn_q8_run(l.l, mm, w, fp(x), C.int(m), fp(bias), C.int(act), fp(y), C.int(ldy),
		(*C.uint8_t)(unsafe.Pointer(&s.xq[0])), fp(s.sx), (*C.int32_t)(unsafe.Pointer(&s.zp[0])),
		(*C.int32_t)(unsafe.Pointer(&s.acc[0])), unsafe.Pointer(ops), C.int(threads), e.p(), e.n()) != 0 {
		return fmt.Errorf("oneDNN: %s", e.String())
	}
	return nil
}

// gemm makes the primitive for a product of plain matrices (dn_gemm_create).
func (l *oneDNNLib) gemm(k gemmKey, threads int) (*C.dn_mm, string, error) {
	var e, impl cbuf
	mm := C.dn_gemm_create(l.l, C.int(k.m), C.int(k.n), C.int(k.k), cbool(k.tA), cbool(k.tB), C.int(k.lda), C.int(k.ldb),
		C.int(k.ldc), cbool(k.bias), C.int(k.act), cbool(k.acc), C.int(threads), impl.p(), impl.n(), e.p(), e.n())
	if mm == nil {
		return nil, "", fmt.Errorf("oneDNN: gemm %d×%d×%d: %s", k.m, k.n, k.k, e.String())
	}
	return mm, impl.String(), nil
}

// toBF16 rounds src to bfloat16 into dst (len(dst) ≥ len(src)).
func toBF16(dst []uint16, src []float32) {
	if len(src) == 0 {
		return
	}
	C.dn_to_bf16((*C.uint16_t)(unsafe.Pointer(&dst[0])), fp(src), C.long(len(src)))
}

// team is OpenMP's team as oneDNN's library brought libgomp in (team.h).
func (l *oneDNNLib) team() team { return team{C.dn_gomp_parallel(l.l)} }
