package cpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// The few OpenBLAS symbols used, declared here so that building needs no
// OpenBLAS headers (blasint is 32-bit in the LP64 libopenblas.so.0).
typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
	const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef int (*get_int_fn)(void);
typedef char *(*get_str_fn)(void);

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

static void ob_sgemm(void *fn, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
	const float *b, int ldb, float beta, float *c, int ldc) {
	((cblas_sgemm_fn)fn)(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
		beta, c, ldc);
}
static void ob_set_threads(void *fn, int n) { ((set_threads_fn)fn)(n); }
static int ob_get_int(void *fn) { return ((get_int_fn)fn)(); }
static const char *ob_get_str(void *fn) { return ((get_str_fn)fn)(); }
static void *ob_open(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static const char *ob_error(void) { const char *e = dlerror(); return e ? e : "unknown dlopen error"; }
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/rs/zerolog"
	xcpu "golang.org/x/sys/cpu"
)

// openBLAS is a loaded OpenBLAS library. A process loads it once: the
// library's thread pool and core type are process-wide.
type openBLAS struct {
	path, core, config              string
	sgemm, getThreads, setThreadsFn unsafe.Pointer
}

// libraryPaths are tried in order when Options.Library is empty:
// the dynamic linker's search (Debian's alternatives link), then Debian's
// pthread, OpenMP and serial builds directly.
var libraryPaths = []string{
	"libopenblas.so.0",
	"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
	"/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
	"/usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0",
	"/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
	"libopenblas.so",
}

var (
	blasMu     sync.Mutex
	blasLoaded *openBLAS // the library this process has loaded, if any
)

// loadOpenBLAS opens OpenBLAS (once per process) and sets its thread count.
func loadOpenBLAS(log zerolog.Logger, path string, threads int) (*openBLAS, error) {
	blasMu.Lock()
	defer blasMu.Unlock()
	if blasLoaded != nil {
		if path != "" && path != blasLoaded.path {
			return nil, fmt.Errorf("load %s: this process already uses OpenBLAS from %s", path, blasLoaded.path)
		}
		if n := blasLoaded.threads(); n != threads {
			log.Info().Int("blas_threads", n).Int("threads", threads).
				Msg("cpu backend: OpenBLAS is already loaded; its thread count is process-wide and stays as set first")
		}
		return blasLoaded, nil
	}
	tuneEnv(log)
	paths := libraryPaths
	if path != "" {
		paths = []string{path}
	}
	var errs []error
	for _, p := range paths {
		lib, err := openLibrary(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lib.setThreads(threads)
		blasLoaded = lib
		return lib, nil
	}
	return nil, errors.Join(errs...)
}

func openLibrary(path string) (*openBLAS, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	h := C.ob_open(cpath)
	if h == nil {
		return nil, fmt.Errorf("load %s: %s", path, C.GoString(C.ob_error()))
	}
	sym := func(name string) unsafe.Pointer {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		return C.dlsym(h, cname)
	}
	lib := &openBLAS{path: path, sgemm: sym("cblas_sgemm"), getThreads: sym("openblas_get_num_threads")}
	setThreads, coreName, config := sym("openblas_set_num_threads"), sym("openblas_get_corename"), sym("openblas_get_config")
	if lib.sgemm == nil || lib.getThreads == nil || setThreads == nil || coreName == nil {
		// Not OpenBLAS (another BLAS, or a stripped build): its threading
		// cannot be controlled, so it is not used.
		C.dlclose(h)
		return nil, fmt.Errorf("load %s: not an OpenBLAS library (cblas_sgemm, openblas_get_corename or openblas_set_num_threads missing)", path)
	}
	lib.core = strings.TrimSpace(C.GoString(C.ob_get_str(coreName)))
	if config != nil {
		lib.config = strings.TrimSpace(C.GoString(C.ob_get_str(config)))
	}
	lib.setThreadsFn = setThreads
	return lib, nil
}

func (l *openBLAS) setThreads(n int) { C.ob_set_threads(l.setThreadsFn, C.int(n)) }

func (l *openBLAS) threads() int { return int(C.ob_get_int(l.getThreads)) }

// gemm is cblas_sgemm, row-major. Arguments are checked by the caller.
func (l *openBLAS) gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) {
	C.ob_sgemm(l.sgemm, cbool(tA), cbool(tB), C.int(m), C.int(n), C.int(k), C.float(alpha), fp(a), C.int(lda),
		fp(b), C.int(ldb), C.float(beta), fp(c), C.int(ldc))
}

// fitsBLASInt says whether every size fits OpenBLAS's 32-bit integers.
func fitsBLASInt(v ...int) bool {
	for _, x := range v {
		if x > math.MaxInt32 {
			return false
		}
	}
	return true
}

// tuneEnv sets, before OpenBLAS is loaded (it reads them then) and unless the
// user set them, two OpenBLAS variables:
//
//   - OPENBLAS_CORETYPE: the best core type OpenBLAS 0.3.21 has kernels for
//     on this CPU. 0.3.21 does not recognise Sapphire/Emerald Rapids and
//     picks "Prescott" (SSE3 kernels, ~8x slower sgemm).
//   - OPENBLAS_THREAD_TIMEOUT: how long OpenBLAS's idle threads busy-wait
//     for the next call, 2^n cycles. The default 2^28 (~0.1 s) keeps a core
//     spinning after every GEMM, which starves the C kernels that run
//     between GEMMs (and any other goroutine); 2^18 (~0.1 ms) still bridges
//     back-to-back GEMMs. A sleeping thread wakes in microseconds.
//
// os.Setenv also sets the C environment (setenv) in a cgo binary, which is
// what OpenBLAS reads.
func tuneEnv(log zerolog.Logger) {
	set := func(name, value, why string) {
		if v, ok := os.LookupEnv(name); ok {
			log.Debug().Str(name, v).Msg("cpu backend: set by the user")
			return
		}
		if value == "" {
			return
		}
		if err := os.Setenv(name, value); err != nil {
			log.Warn().Err(err).Str("name", name).Msg("cpu backend: cannot set OpenBLAS environment")
			return
		}
		log.Debug().Str(name, value).Msg("cpu backend: " + why)
	}
	set("OPENBLAS_CORETYPE", coreTypeFor(hostFeatures()), "OpenBLAS core type chosen from CPU features")
	set("OPENBLAS_THREAD_TIMEOUT", strconv.Itoa(threadTimeout), "OpenBLAS idle threads sleep after a short spin")
}

// threadTimeout is OPENBLAS_THREAD_TIMEOUT's exponent (see tuneEnv).
const threadTimeout = 18

// x86Features are the CPU features the core type depends on.
type x86Features struct {
	AVX512 bool // AVX-512 F, CD, BW, DQ and VL: what OpenBLAS's SkylakeX kernels use
	AVX2   bool // AVX2 with FMA: Haswell kernels
	AVX    bool // Sandy Bridge kernels
}

func hostFeatures() x86Features {
	x := xcpu.X86
	return x86Features{
		AVX512: x.HasAVX512F && x.HasAVX512CD && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL,
		AVX2:   x.HasAVX2 && x.HasFMA,
		AVX:    x.HasAVX,
	}
}

// coreTypeFor maps CPU features to an OpenBLAS core type; "" leaves the
// choice to OpenBLAS. SkylakeX serves every AVX-512 CPU: OpenBLAS 0.3.21's
// Cooperlake target shares SkylakeX's sgemm kernels and adds only bfloat16
// ones (measured here: the same sgemm speed, see BenchmarkGemm).
func coreTypeFor(f x86Features) string {
	switch {
	case f.AVX512:
		return "SkylakeX"
	case f.AVX2:
		return "Haswell"
	case f.AVX:
		return "Sandybridge"
	}
	return ""
}
