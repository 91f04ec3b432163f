//go:build cuda

package cuda

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "cudrv_api.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/rs/zerolog"
)

// The CUDA driver (libcuda.so.1, installed with the NVIDIA driver) and
// cuBLAS are opened with dlopen; see cudrv.c. A process opens each library
// once (dlopen would share it anyway) and keeps it.

const (
	cudaErrorNoDevice       = 100
	cudaErrorNotInitialized = 3
	cudaErrorOutOfMemory    = 2
)

var (
	libMu    sync.Mutex
	drivers  = map[string]*C.adb_cuda{}
	cublases = map[string]*C.adb_cublas{}
)

// errNoDriver marks a failure to load the driver library.
var errNoDriver = errors.New("no CUDA driver")

func openDriverLib(path string) (*C.adb_cuda, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if t, ok := drivers[path]; ok {
		return t, nil
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var msg [512]C.char
	t := C.adb_cuda_open(cpath, &msg[0], C.size_t(len(msg)))
	if t == nil {
		return nil, fmt.Errorf("%w: cannot load %s (%s); install the NVIDIA driver or use the cpu backend",
			errNoDriver, path, C.GoString(&msg[0]))
	}
	drivers[path] = t
	return t, nil
}

func openCublasLib(path string) (*C.adb_cublas, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if t, ok := cublases[path]; ok {
		return t, nil
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var msg [512]C.char
	t := C.adb_cublas_open(cpath, &msg[0], C.size_t(len(msg)))
	if t == nil {
		return nil, fmt.Errorf("load %s: %s", path, C.GoString(&msg[0]))
	}
	cublases[path] = t
	return t, nil
}

// cuError is a CUDA driver error with its name and description.
type cuError struct {
	code int
	text string
}

func (e *cuError) Error() string { return e.text }

func (d *driverDev) err(code C.int) error {
	if code == 0 {
		return nil
	}
	var buf [256]C.char
	C.adb_error(d.lib, code, &buf[0], C.size_t(len(buf)))
	e := &cuError{code: int(code), text: C.GoString(&buf[0])}
	if code == cudaErrorOutOfMemory {
		return fmt.Errorf("%w: %s", errOutOfMemory, e.text)
	}
	return e
}

// driverDev is a GPU through the CUDA driver: its primary context (shared
// with cuBLAS, which uses the runtime API), one stream and the PTX module.
type driverDev struct {
	lib     *C.adb_cuda
	ordinal int
	dev     C.int
	ctx     unsafe.Pointer
	stream  unsafe.Pointer
	module  unsafe.Pointer
	desc    string
	nsm     int
	optin   int
	blas    *cublas
}

// openDevice loads the driver, checks the GPU and sets up the context,
// stream and kernels. Its errors say plainly what is missing.
func openDevice(log zerolog.Logger, opts Options, prec Precision, ptx []byte) (*driverDev, error) {
	path := opts.DriverLibrary
	if path == "" {
		path = "libcuda.so.1"
	}
	lib, err := openDriverLib(path)
	if err != nil {
		return nil, err
	}
	d := &driverDev{lib: lib, ordinal: opts.Device}
	if code := C.adb_init(lib); code != 0 {
		e := d.err(code)
		if code == cudaErrorNoDevice {
			return nil, fmt.Errorf("no CUDA GPU: the driver (%s) finds no device: %v", path, e)
		}
		return nil, fmt.Errorf("no usable CUDA GPU: cuInit: %v", e)
	}
	var n C.int
	if err := d.err(C.adb_device_count(lib, &n)); err != nil {
		return nil, fmt.Errorf("count GPUs: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("no CUDA GPU: the driver finds no device")
	}
	if opts.Device < 0 || opts.Device >= int(n) {
		return nil, fmt.Errorf("GPU %d requested, %d found", opts.Device, n)
	}
	if err := d.err(C.adb_device(lib, C.int(opts.Device), &d.dev)); err != nil {
		return nil, err
	}
	var name [256]C.char
	C.adb_device_name(lib, d.dev, &name[0], C.int(len(name)))
	attr := func(a int) int {
		var v C.int
		if err := d.err(C.adb_device_attr(lib, d.dev, C.int(a), &v)); err != nil {
			return 0
		}
		return int(v)
	}
	major, minor := attr(75), attr(76)  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR/MINOR
	d.nsm, d.optin = attr(16), attr(97) // MULTIPROCESSOR_COUNT, MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
	var ver C.int
	C.adb_driver_version(lib, &ver)
	d.desc = fmt.Sprintf("%s, sm_%d%d, %d SMs, driver %d.%d", C.GoString(&name[0]), major, minor, d.nsm,
		int(ver)/1000, int(ver)%1000/10)
	if major < 8 {
		return nil, fmt.Errorf("GPU %d (%s) has compute capability %d.%d; this backend needs 8.0 or newer (its kernels use bf16 tensor cores)",
			opts.Device, C.GoString(&name[0]), major, minor)
	}
	if err := d.err(C.adb_ctx_retain(lib, d.dev, &d.ctx)); err != nil {
		return nil, fmt.Errorf("retain the primary context: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	d.enter()
	if err := d.err(C.adb_stream_create(lib, &d.stream)); err != nil {
		return nil, fmt.Errorf("create a stream: %w", err)
	}
	image := C.CBytes(append(ptx, 0))
	defer C.free(image)
	var jitLog [4096]C.char
	if code := C.adb_module_load(lib, image, &d.module, &jitLog[0], C.size_t(len(jitLog))); code != 0 {
		return nil, fmt.Errorf("load the kernels (PTX JIT for sm_%d%d): %v: %s", major, minor, d.err(code),
			C.GoString(&jitLog[0]))
	}
	if !opts.DisableCublas {
		b, err := openCublas(d, opts.CublasLibrary, prec)
		switch {
		case err != nil && opts.CublasLibrary != "":
			return nil, err
		case err != nil:
			log.Info().Err(err).Msg("cuda backend: cuBLAS not available, GEMMs run on the package's kernels")
		default:
			d.blas = b
			log.Info().Str("library", b.path).Str("version", b.name()).Msg("cuda backend: cuBLAS loaded")
			b.attachLt(log)
		}
	}
	ok = true
	return d, nil
}

func (d *driverDev) describe() string { return d.desc }
func (d *driverDev) sms() int         { return d.nsm }
func (d *driverDev) smemOptin() int   { return d.optin }

func (d *driverDev) enter() {
	if err := d.err(C.adb_ctx_set(d.lib, d.ctx)); err != nil {
		panic(fmt.Sprintf("cuda: make the context current: %v", err))
	}
}

func (d *driverDev) alloc(bytes int64) (devptr, error) {
	var p C.ulonglong
	err := d.err(C.adb_mem_alloc(d.lib, &p, C.size_t(bytes)))
	return devptr(p), err
}

func (d *driverDev) free(p devptr) error { return d.err(C.adb_mem_free(d.lib, C.ulonglong(p))) }

func (d *driverDev) hostAlloc(bytes int) ([]byte, error) {
	var p unsafe.Pointer
	if err := d.err(C.adb_host_alloc(d.lib, &p, C.size_t(bytes))); err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), bytes), nil
}

func (d *driverDev) hostFree(b []byte) error {
	return d.err(C.adb_host_free(d.lib, unsafe.Pointer(unsafe.SliceData(b))))
}

func (d *driverDev) memset(dst devptr, bytes int64) error {
	return d.err(C.adb_memset(d.lib, C.ulonglong(dst), C.size_t(bytes), d.stream))
}

func (d *driverDev) htod(dst devptr, src []byte) error {
	return d.err(C.adb_htod(d.lib, C.ulonglong(dst), unsafe.Pointer(unsafe.SliceData(src)), C.size_t(len(src)), d.stream))
}

func (d *driverDev) dtoh(dst []byte, src devptr) error {
	return d.err(C.adb_dtoh(d.lib, unsafe.Pointer(unsafe.SliceData(dst)), C.ulonglong(src), C.size_t(len(dst)), d.stream))
}

func (d *driverDev) dtod(dst, src devptr, bytes int64) error {
	return d.err(C.adb_dtod(d.lib, C.ulonglong(dst), C.ulonglong(src), C.size_t(bytes), d.stream))
}

func (d *driverDev) sync() error { return d.err(C.adb_stream_sync(d.lib, d.stream)) }

func (d *driverDev) newEvent() (event, error) {
	var e unsafe.Pointer
	err := d.err(C.adb_event_create(d.lib, &e))
	return e, err
}

func (d *driverDev) record(e event) error {
	return d.err(C.adb_event_record(d.lib, e.(unsafe.Pointer), d.stream))
}

func (d *driverDev) wait(e event) error { return d.err(C.adb_event_sync(d.lib, e.(unsafe.Pointer))) }

func (d *driverDev) destroyEvent(e event) error {
	return d.err(C.adb_event_destroy(d.lib, e.(unsafe.Pointer)))
}

func (d *driverDev) kernel(name string) (kfunc, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var f unsafe.Pointer
	if err := d.err(C.adb_function(d.lib, d.module, cname, &f)); err != nil {
		return nil, err
	}
	return f, nil
}

func (d *driverDev) setSmem(f kfunc, bytes int) error {
	return d.err(C.adb_func_max_smem(d.lib, f.(unsafe.Pointer), C.int(bytes)))
}

func (d *driverDev) launch(f kfunc, grid, block [3]int, smem int, args unsafe.Pointer, size int) error {
	_ = size // the driver knows each kernel's parameter size from the module
	return d.err(C.adb_launch(d.lib, f.(unsafe.Pointer), C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
		C.uint(block[0]), C.uint(block[1]), C.uint(block[2]), C.uint(smem), d.stream, args))
}

func (d *driverDev) memInfo() (int64, int64, error) {
	var free, total C.size_t
	err := d.err(C.adb_mem_info(d.lib, &free, &total))
	return int64(free), int64(total), err
}

func (d *driverDev) gemmLib() gemmLib {
	if d.blas == nil {
		return nil
	}
	return d.blas
}

func (d *driverDev) close() error {
	var errs []error
	if d.blas != nil {
		errs = append(errs, d.blas.close())
		d.blas = nil
	}
	if d.module != nil {
		errs = append(errs, d.err(C.adb_module_unload(d.lib, d.module)))
		d.module = nil
	}
	if d.stream != nil {
		errs = append(errs, d.err(C.adb_stream_destroy(d.lib, d.stream)))
		d.stream = nil
	}
	if d.ctx != nil {
		errs = append(errs, d.err(C.adb_ctx_release(d.lib, d.dev)))
		d.ctx = nil
	}
	return errors.Join(errs...)
}

// cublas is a cuBLAS handle bound to the device's stream.
type cublas struct {
	lib     *C.adb_cublas
	d       *driverDev
	handle  unsafe.Pointer
	dtype   C.int // CUDA_R_32F, CUDA_R_16F or CUDA_R_16BF
	fp32    bool
	version int
	path    string
	lt      *cublasLt // nil: no cuBLASLt (cublaslt.go)
}

// openCublas loads cuBLAS (path, or the usual names) and creates a handle.
func openCublas(d *driverDev, path string, prec Precision) (*cublas, error) {
	paths := cublasPaths
	if path != "" {
		paths = []string{path}
	}
	var errs []error
	for _, p := range paths {
		lib, err := openCublasLib(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b := &cublas{lib: lib, d: d, path: p, fp32: prec == FP32}
		switch prec {
		case BF16:
			b.dtype = 14 // CUDA_R_16BF
		case FP16:
			b.dtype = 2 // CUDA_R_16F
		}
		if st := C.adb_cublas_create(lib, &b.handle); st != 0 {
			errs = append(errs, fmt.Errorf("%s: cublasCreate: status %d", p, st))
			continue
		}
		var v C.int
		C.adb_cublas_version(lib, b.handle, &v)
		b.version = int(v)
		if st := C.adb_cublas_set_stream(lib, b.handle, d.stream); st != 0 {
			b.close()
			return nil, fmt.Errorf("%s: cublasSetStream: status %d", p, st)
		}
		// Default math: no TF32 for fp32 GEMMs (the golden path stays fp32).
		if st := C.adb_cublas_default_math(lib, b.handle); st != 0 {
			b.close()
			return nil, fmt.Errorf("%s: cublasSetMathMode: status %d", p, st)
		}
		return b, nil
	}
	return nil, errors.Join(errs...)
}

func (b *cublas) name() string {
	return fmt.Sprintf("cublas-%d.%d.%d", b.version/10000, b.version/100%100, b.version%100)
}

func (b *cublas) status(st C.int, what string) error {
	if st == 0 {
		return nil
	}
	return fmt.Errorf("%s: cuBLAS status %d", what, int(st))
}

func (b *cublas) gemm(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, bb devptr, ldb int, beta float32,
	c devptr, ldc int) error {
	if b.fp32 {
		return b.status(C.adb_cublas_sgemm(b.lib, b.handle, cflag(tA), cflag(tB), C.int(m), C.int(n), C.int(k),
			C.float(alpha), C.ulonglong(a), C.int(lda), C.ulonglong(bb), C.int(ldb), C.float(beta), C.ulonglong(c),
			C.int(ldc)), "cublasSgemm")
	}
	return b.status(C.adb_cublas_gemm_ex(b.lib, b.handle, cflag(tA), cflag(tB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), C.ulonglong(a), C.int(lda), C.ulonglong(bb), C.int(ldb), C.float(beta), C.ulonglong(c),
		C.int(ldc), b.dtype), "cublasGemmEx")
}

func (b *cublas) gemmStrided(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, sa int64, bb devptr, ldb int,
	sb int64, beta float32, c devptr, ldc int, sc int64, batch int) error {
	return b.status(C.adb_cublas_gemm_sb(b.lib, b.handle, cflag(tA), cflag(tB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), C.ulonglong(a), C.int(lda), C.longlong(sa), C.ulonglong(bb), C.int(ldb), C.longlong(sb),
		C.float(beta), C.ulonglong(c), C.int(ldc), C.longlong(sc), C.int(batch), b.dtype), "cublasGemmStridedBatchedEx")
}

func (b *cublas) close() error {
	if b.handle == nil {
		return nil
	}
	var ltErr error
	if b.lt != nil {
		ltErr = b.lt.close()
		b.lt = nil
	}
	st := C.adb_cublas_destroy(b.lib, b.handle)
	b.handle = nil
	return errors.Join(ltErr, b.status(st, "cublasDestroy"))
}

func cflag(v bool) C.int {
	if v {
		return 1
	}
	return 0
}
