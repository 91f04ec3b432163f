//go:build cuda

package cuda

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "cublaslt_api.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/rs/zerolog"
)

// cuBLASLt runs Linear's GEMMs with the bias and activation in the epilogue
// (ops_fused.go). It is loaded beside cuBLAS (cublasLtPaths), shares its
// stream, and keeps one plan (descriptors and the heuristic's algorithm) per
// shape, alignment and epilogue.

const (
	ltWorkspace = 32 << 20 // bytes: cuBLAS's own default on Hopper
	ltMaxPlans  = 4096     // plans kept before the cache starts over
)

var ltLibs = map[string]*C.adb_lt{} // guarded by libMu

func openLtLib(path string) (*C.adb_lt, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if t, ok := ltLibs[path]; ok {
		return t, nil
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var msg [512]C.char
	t := C.adb_lt_open(cpath, &msg[0], C.size_t(len(msg)))
	if t == nil {
		return nil, fmt.Errorf("load %s: %s", path, C.GoString(&msg[0]))
	}
	ltLibs[path] = t
	return t, nil
}

// ltKey identifies a plan.
type ltKey struct {
	tA, tB              bool
	m, n, k             int
	lda, ldb, ldc       int
	epi                 epilogue
	alA, alB, alC, alBi int // address alignments in bytes (up to 256)
}

// cublasLt is a cuBLASLt handle on the device's stream with its workspace.
type cublasLt struct {
	lib     *C.adb_lt
	d       *driverDev
	handle  unsafe.Pointer
	dtype   C.int
	ws      devptr
	path    string
	version int
	plans   map[ltKey]*C.adb_lt_plan // nil value: no algorithm for the case
}

// attachLt loads cuBLASLt for b; without it Linear keeps separate passes.
func (b *cublas) attachLt(log zerolog.Logger) {
	lt, err := openCublasLt(b.d, b.path, b.dtype)
	if err != nil {
		log.Info().Err(err).Msg("cuda backend: cuBLASLt not available: bias and activation run as passes after cuBLAS GEMMs")
		return
	}
	b.lt = lt
	log.Info().Str("library", lt.path).Str("version", lt.name()).Msg("cuda backend: cuBLASLt loaded (GEMM epilogues)")
}

func (b *cublas) epilogues() epilogueLib {
	if b.lt == nil {
		return nil
	}
	return b.lt
}

func openCublasLt(d *driverDev, cublasPath string, dtype C.int) (*cublasLt, error) {
	var errs []error
	for _, p := range cublasLtPaths(cublasPath) {
		lib, err := openLtLib(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l := &cublasLt{lib: lib, d: d, dtype: dtype, path: p, version: int(C.adb_lt_version(lib)),
			plans: map[ltKey]*C.adb_lt_plan{}}
		if st := C.adb_lt_create(lib, &l.handle); st != 0 {
			return nil, fmt.Errorf("%s: cublasLtCreate: status %d", p, st)
		}
		ws, err := d.alloc(ltWorkspace)
		if err != nil {
			C.adb_lt_destroy(lib, l.handle)
			return nil, fmt.Errorf("%s: workspace of %d bytes: %w", p, ltWorkspace, err)
		}
		l.ws = ws
		return l, nil
	}
	return nil, errors.Join(errs...)
}

func (l *cublasLt) name() string {
	return fmt.Sprintf("cublaslt-%d.%d.%d", l.version/10000, l.version/100%100, l.version%100)
}

// alignOf is the largest power of two (up to 256) dividing addr.
func alignOf(addr devptr) int {
	if addr == 0 {
		return 256
	}
	return 1 << min(8, bits.TrailingZeros64(addr))
}

func (l *cublasLt) gemmEpilogue(tA, tB bool, m, n, k int, a devptr, lda int, b devptr, ldb int, c devptr, ldc int,
	bias devptr, epi epilogue) (bool, error) {
	key := ltKey{tA: tA, tB: tB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, epi: epi, alA: alignOf(a),
		alB: alignOf(b), alC: alignOf(c), alBi: alignOf(bias)}
	p, ok := l.plans[key]
	if !ok {
		if len(l.plans) >= ltMaxPlans {
			l.dropPlans()
		}
		var plan *C.adb_lt_plan
		if st := C.adb_lt_plan_create(l.lib, l.handle, cflag(tA), cflag(tB), C.int(m), C.int(n), C.int(k), C.int(lda),
			C.int(ldb), C.int(ldc), l.dtype, C.int(epi), ltWorkspace, C.int(key.alA), C.int(key.alB),
			C.int(min(key.alC, key.alBi)), &plan); st != 0 {
			return false, fmt.Errorf("cuBLASLt plan %dx%dx%d epilogue %v: status %d", m, n, k, epi, int(st))
		}
		l.plans[key], p = plan, plan
	}
	if p == nil {
		return false, nil
	}
	if st := C.adb_lt_matmul(l.lib, l.handle, p, C.ulonglong(a), C.ulonglong(b), C.ulonglong(c), C.ulonglong(bias),
		C.ulonglong(l.ws), ltWorkspace, l.d.stream); st != 0 {
		return false, fmt.Errorf("cublasLtMatmul: status %d", int(st))
	}
	return true, nil
}

func (l *cublasLt) dropPlans() {
	for k, p := range l.plans {
		C.adb_lt_plan_destroy(l.lib, p)
		delete(l.plans, k)
	}
}

func (l *cublasLt) close() error {
	l.dropPlans()
	var errs []error
	if st := C.adb_lt_destroy(l.lib, l.handle); st != 0 {
		errs = append(errs, fmt.Errorf("cublasLtDestroy: status %d", int(st)))
	}
	if l.ws != 0 {
		errs = append(errs, l.d.free(l.ws))
		l.ws = 0
	}
	return errors.Join(errs...)
}
