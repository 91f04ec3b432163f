// Package cpu is the default kernels.Backend: host memory, GEMM through
// OpenBLAS loaded at run time (gonum's pure-Go BLAS when it is missing), and
// C kernels for everything else.
//
// Design:
//   - GEMM: OpenBLAS is opened with dlopen, never linked, so the binary runs
//     where no BLAS is installed (GEMM then runs on gonum, ~10x slower).
//     Before loading it the backend sets OPENBLAS_CORETYPE from the CPU's
//     features (OpenBLAS 0.3.21 does not know recent Xeons and would use its
//     slow Prescott kernels) and OPENBLAS_THREAD_TIMEOUT (so that its idle
//     threads stop spinning soon after a GEMM); a value the user set wins.
//     OpenBLAS's thread count is set to Options.Threads.
//   - Element-wise, LayerNorm, embedding and attention kernels are C (Go has
//     no SIMD), written once with GCC vector extensions and compiled three
//     times: AVX-512, AVX2+FMA and baseline x86-64. New picks the best
//     variant the CPU runs.
//   - Parallelism: see threads.go. Each op splits its rows over Threads
//     goroutines, one cgo call per chunk; a GEMM runs on OpenBLAS's Threads
//     threads while the caller waits in cgo.
package cpu

import (
	"fmt"
	"runtime"

	"github.com/rs/zerolog"
	xcpu "golang.org/x/sys/cpu"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/adapterdb/adapterdb/kernels"
)

// Options configures New. The zero value is the normal setup.
type Options struct {
	// Threads is how many cores one operation uses: the goroutines an op
	// splits into and OpenBLAS's thread count. 0 means GOMAXPROCS.
	Threads int
	// DisableBLAS runs GEMM on gonum's pure-Go BLAS instead of OpenBLAS.
	DisableBLAS bool
	// Library is the OpenBLAS shared library to load; "" tries
	// libopenblas.so.0 and Debian's usual paths. A Library that cannot be
	// loaded is an error; a failed search falls back to pure Go.
	Library string
	// ISA caps the instruction set of the C kernels: "" (the best the CPU
	// has), "avx512", "avx2" or "generic". Tests use it to cover each variant.
	ISA string
}

// Backend is the cpu kernels.Trainer. It is safe for concurrent use.
type Backend struct {
	log     zerolog.Logger
	name    string
	threads int
	k       kern      // the C kernels for the chosen instruction set
	blas    *openBLAS // nil: gonum
	gonum   gonum.Implementation
}

var _ kernels.Trainer = (*Backend)(nil)

// New returns a cpu backend and logs which GEMM implementation it runs.
func New(log zerolog.Logger, opts Options) (*Backend, error) {
	threads := opts.Threads
	if threads < 0 {
		return nil, fmt.Errorf("cpu backend: %d threads", threads)
	}
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	level, err := isaLevel(opts.ISA)
	if err != nil {
		return nil, err
	}
	be := &Backend{log: log, threads: threads, k: kernFor(level)}
	ev := log.Info().Str("isa", be.k.isa()).Int("threads", threads)
	if opts.DisableBLAS {
		be.name = "cpu/go"
		ev.Str("gemm", be.name).Str("reason", "BLAS disabled by option").Msg("cpu backend")
		return be, nil
	}
	lib, err := loadOpenBLAS(log, opts.Library, threads)
	if err != nil {
		if opts.Library != "" {
			return nil, fmt.Errorf("cpu backend: %w", err)
		}
		be.name = "cpu/go"
		ev.Str("gemm", be.name).Str("reason", err.Error()).Msg("cpu backend: OpenBLAS not available, GEMM runs on pure Go (slow)")
		return be, nil
	}
	be.blas = lib
	be.name = "cpu/openblas-" + lib.core
	ev.Str("gemm", "cpu/openblas").Str("core", lib.core).Int("blas_threads", lib.threads()).
		Str("library", lib.path).Str("config", lib.config).Msg("cpu backend")
	return be, nil
}

// isaLevel maps Options.ISA to a kernel table level, capped by the CPU.
func isaLevel(isa string) (int, error) {
	best := 0
	switch {
	case xcpu.X86.HasAVX512F && xcpu.X86.HasAVX512BW && xcpu.X86.HasAVX512DQ && xcpu.X86.HasAVX512VL &&
		xcpu.X86.HasFMA:
		best = 2
	case xcpu.X86.HasAVX2 && xcpu.X86.HasFMA:
		best = 1
	}
	want := best
	switch isa {
	case "":
	case "avx512":
		want = 2
	case "avx2":
		want = 1
	case "generic":
		want = 0
	default:
		return 0, fmt.Errorf("cpu backend: unknown ISA %q (want avx512, avx2 or generic)", isa)
	}
	if want > best {
		return 0, fmt.Errorf("cpu backend: this CPU does not support %s", isa)
	}
	return want, nil
}

// Name says which implementation runs: "cpu/openblas-<core>" or "cpu/go".
func (be *Backend) Name() string { return be.name }

// ISA is the instruction set the C kernels were compiled for.
func (be *Backend) ISA() string { return be.k.isa() }

// Threads is how many cores one operation uses.
func (be *Backend) Threads() int { return be.threads }

// buffer is host memory. Views share it.
type buffer []float32

func (b buffer) Len() int { return len(b) }

// data unwraps a Buffer of this backend.
func data(b kernels.Buffer) []float32 {
	switch v := b.(type) {
	case buffer:
		return v
	case nil:
		return nil
	}
	panic(fmt.Sprintf("cpu: buffer of type %T is not a cpu buffer", b))
}

// need unwraps b and checks that it holds at least n values.
func need(b kernels.Buffer, n int, what string) []float32 {
	s := data(b)
	if b == nil && n > 0 {
		panic(fmt.Sprintf("cpu: %s is nil, needs %d values", what, n))
	}
	if len(s) < n {
		panic(fmt.Sprintf("cpu: %s has %d values, needs %d", what, len(s), n))
	}
	return s
}

// Alloc returns a zeroed buffer of n values.
func (be *Backend) Alloc(n int) kernels.Buffer { return make(buffer, n) }

// Upload aliases host: the caller must not modify it afterwards.
func (be *Backend) Upload(host []float32) kernels.Buffer { return buffer(host) }

// Download copies src into dst.
func (be *Backend) Download(dst []float32, src kernels.Buffer) {
	copy(dst, need(src, len(dst), "download source"))
}

// View is [off, off+n) of b.
func (be *Backend) View(b kernels.Buffer, off, n int) kernels.Buffer {
	s := data(b)
	if off < 0 || n < 0 || off+n > len(s) {
		panic(fmt.Sprintf("cpu: view [%d, %d+%d) of a buffer of %d values", off, off, n, len(s)))
	}
	return buffer(s[off : off+n : off+n])
}

// Copy copies src into dst (same length).
func (be *Backend) Copy(dst, src kernels.Buffer) {
	d, s := data(dst), data(src)
	if len(d) != len(s) {
		panic(fmt.Sprintf("cpu: copy of %d values into %d", len(s), len(d)))
	}
	copy(d, s)
}

// Free is a no-op: host memory is garbage-collected.
func (be *Backend) Free(kernels.Buffer) {}
