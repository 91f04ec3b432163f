//go:build cuda || cudaemu

package cuda

import "unsafe"

// devptr is a device address.
type devptr = uint64

// device is what the backend needs of a GPU: the CUDA driver (driver.go,
// tag cuda) or the CPU emulator (emu.go, tag cudaemu). Asynchronous calls
// queue on the device's one stream. Methods are called with the backend's
// mutex held and, for the driver, the calling goroutine locked to its thread
// after enter.
type device interface {
	describe() string // e.g. "NVIDIA H200, sm_90, 132 SMs, driver 12.4"
	sms() int         // multiprocessors, for grid sizing
	smemOptin() int   // most dynamic shared memory a block may opt into
	enter()           // make the context current on this thread
	alloc(bytes int64) (devptr, error)
	free(p devptr) error
	hostAlloc(bytes int) ([]byte, error) // pinned host memory
	hostFree(b []byte) error
	memset(dst devptr, bytes int64) error // zero, async
	htod(dst devptr, src []byte) error    // src pinned, async
	dtoh(dst []byte, src devptr) error    // dst pinned, async
	dtod(dst, src devptr, bytes int64) error
	sync() error
	newEvent() (event, error)
	record(e event) error
	wait(e event) error
	destroyEvent(e event) error
	kernel(name string) (kfunc, error)
	setSmem(f kfunc, bytes int) error
	// launch runs f with one by-value argument block args of size bytes.
	launch(f kfunc, grid, block [3]int, smem int, args unsafe.Pointer, size int) error
	memInfo() (free, total int64, err error)
	gemmLib() gemmLib // nil: no cuBLAS
	close() error
}

type (
	event any // a device event
	kfunc any // a loaded kernel
)

// gemmLib is cuBLAS (or the emulator's reference of it): column-major GEMMs
// on device matrices of the backend's storage type with fp32 accumulation.
// The backend maps its row-major calls onto it by swapping operands.
type gemmLib interface {
	name() string
	gemm(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, b devptr, ldb int, beta float32,
		c devptr, ldc int) error
	gemmStrided(tA, tB bool, m, n, k int, alpha float32, a devptr, lda int, sa int64, b devptr, ldb int, sb int64,
		beta float32, c devptr, ldc int, sc int64, batch int) error
}
