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
//   - Linear layers: on CPUs with AVX-512 and where oneDNN 2.x (libdnnl.so.2)
//     loads, Linear runs on oneDNN's matmul with the weights packed once
//     and bias/activation as post-ops, in fp32 or (Options.Precision bf16)
//     bfloat16, training's input gradients of those weights too; or
//     (Options.Precision int8) int8 weights and uint8 activations with
//     adapterdb's own epilogue, the input gradients then in fp32. See
//     onednn.go and onednn_linear.go.
//   - Element-wise, LayerNorm, embedding and attention kernels are C (Go has
//     no SIMD), written once with GCC vector extensions and compiled three
//     times: AVX-512, AVX2+FMA and baseline x86-64. New picks the best
//     variant the CPU runs.
//   - Parallelism: see threads.go. Each op splits its rows over Threads
//     goroutines, one cgo call per chunk; a GEMM runs on OpenBLAS's Threads
//     threads while the caller waits in cgo.
package cpu

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

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
	// oneDNN is used only at avx512.
	ISA string
	// OneDNN is the oneDNN library for the linear layers (onednn.go): ""
	// tries libdnnl.so.2 where the CPU has AVX-512 and falls back to OpenBLAS
	// when it is missing; "off" does not use it (so does the environment
	// variable ADAPTERDB_ONEDNN=off); a path must load.
	OneDNN string
	// Precision of the linear layers' weights: "" or "fp32"; "bf16"
	// (weights stored in bfloat16, products on AVX512_BF16 with float32
	// accumulation; needs oneDNN and a CPU with AVX512_BF16); or "int8"
	// (weights int8 per output column, activations quantised to uint8 per
	// row as they come, int32 sums on AVX512_VNNI; the forward pass only:
	// training's input gradients go through the fp32 weights; needs oneDNN
	// and AVX512_VNNI).
	Precision string
}

// Backend is the cpu kernels.Trainer. It is safe for concurrent use.
type Backend struct {
	log     zerolog.Logger
	name    string
	threads int
	k       kern      // the C kernels for the chosen instruction set
	blas    *openBLAS // nil: gonum
	gonum   gonum.Implementation
	dnn     *dnn    // nil: linear layers on OpenBLAS
	bufs    bufPool // Alloc's large buffers, for reuse
}

var (
	_ kernels.Trainer      = (*Backend)(nil)
	_ kernels.RowAttention = (*Backend)(nil)
)

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
	prec, err := parsePrecision(opts.Precision)
	if err != nil {
		return nil, err
	}
	be := &Backend{log: log, threads: threads, k: kernFor(level)}
	ev := log.Info().Str("isa", be.k.isa()).Int("threads", threads)
	if opts.DisableBLAS {
		if prec != precFP32 {
			return nil, fmt.Errorf("cpu backend: %s needs oneDNN, and BLAS is disabled by option", prec)
		}
		be.name = "cpu/go"
		ev.Str("gemm", be.name).Str("reason", "BLAS disabled by option").Msg("cpu backend")
		return be, nil
	}
	lib, err := loadOpenBLAS(log, opts.Library, threads)
	if err != nil {
		if opts.Library != "" {
			return nil, fmt.Errorf("cpu backend: %w", err)
		}
		if prec != precFP32 {
			return nil, fmt.Errorf("cpu backend: %s runs on oneDNN beside OpenBLAS, and OpenBLAS is not available: %w", prec, err)
		}
		be.name = "cpu/go"
		ev.Str("gemm", be.name).Str("reason", err.Error()).Msg("cpu backend: OpenBLAS not available, GEMM runs on pure Go (slow)")
		return be, nil
	}
	be.blas = lib
	be.name = "cpu/openblas-" + lib.core
	if err := be.openDNN(log, opts, level, prec, loadOneDNN); err != nil {
		return nil, err
	}
	ev = ev.Str("gemm", "cpu/openblas").Str("core", lib.core).Int("blas_threads", lib.threads()).
		Str("library", lib.path).Str("config", lib.config)
	if be.dnn != nil {
		ev = ev.Str("linear", "onednn").Str("onednn", be.dnn.lib.path).Str("onednn_version", be.dnn.lib.version).
			Stringer("precision", prec).Int("omp_threads", be.dnn.threads)
	}
	ev.Msg("cpu backend")
	return be, nil
}

// openDNN sets up oneDNN for the linear layers where it is wanted and
// available (load opens the library); only an explicit request that cannot
// be met is an error.
func (be *Backend) openDNN(log zerolog.Logger, opts Options, level int, prec precision,
	load func(zerolog.Logger, string) (*oneDNNLib, error)) error {
	if err := checkOneDNNEnv(); err != nil {
		return err
	}
	off, why := oneDNNDisabled(opts.OneDNN)
	switch {
	case prec != precFP32 && off:
		return fmt.Errorf("cpu backend: %s needs oneDNN, which %s turns off", prec, why)
	case prec == precBF16 && !hasBF16():
		return errors.New("cpu backend: bf16 needs a CPU with AVX512_BF16 (Intel Cooper Lake or Sapphire Rapids and later, AMD Zen 4 and later); this one has none: use fp32")
	case prec == precInt8 && !hasInt8():
		return errors.New("cpu backend: int8 needs a CPU with AVX512_VNNI (Intel Cascade Lake and later, AMD Zen 4 and later); this one has none: use fp32")
	case prec != precFP32 && level < 2:
		return fmt.Errorf("cpu backend: %s runs on AVX-512 and the C kernels are capped at %s", prec, be.k.isa())
	case off:
		log.Debug().Str("by", why).Msg("cpu backend: oneDNN turned off")
		return nil
	case level < 2 || !hasOneDNNISA():
		if opts.OneDNN != "" {
			return fmt.Errorf("cpu backend: oneDNN %s: its fast matmul needs AVX-512 and the C kernels are capped at %s", opts.OneDNN, be.k.isa())
		}
		return nil
	}
	lib, err := load(log, opts.OneDNN)
	if err != nil {
		if prec != precFP32 {
			return fmt.Errorf("cpu backend: %s needs oneDNN: %w (install Debian's libdnnl2)", prec, err)
		}
		if opts.OneDNN != "" {
			return fmt.Errorf("cpu backend: %w (install Debian's libdnnl2)", err)
		}
		log.Info().Str("reason", err.Error()).Msg("cpu backend: oneDNN not available, linear layers run on OpenBLAS")
		return nil
	}
	be.dnn = newDNN(lib, log, prec, be.k, be.threads)
	if be.dnn.threads > 1 { // OMP_NUM_THREADS=1: no team to share the pieces with
		be.dnn.team = lib.team()
	}
	switch {
	case prec == precBF16:
		be.dnn.bf16Attn = adviseBF16(log, bf16Rate(), xcpu.X86.HasAMXBF16)
	case prec == precInt8 && hasBF16():
		// int8 rounds the inputs of every product to 8 bits; attention's
		// in bf16 (8 significant bits too) costs no more fidelity and, where
		// bf16 multiplies fast, ~10% of a (32, 128) pass.
		be.dnn.bf16Attn = bf16Rate() >= slowBF16
	}
	be.name = "cpu/onednn-" + lib.version + "+" + strings.TrimPrefix(be.name, "cpu/")
	if prec != precFP32 {
		be.name = "cpu/onednn-" + prec.String() + "-" + lib.version + "+" + strings.TrimPrefix(be.name, "cpu/onednn-"+lib.version+"+")
	}
	return nil
}

// parsePrecision reads Options.Precision.
func parsePrecision(s string) (precision, error) {
	switch s {
	case "", "fp32":
		return precFP32, nil
	case "bf16":
		return precBF16, nil
	case "int8":
		return precInt8, nil
	}
	return 0, fmt.Errorf("cpu backend: unknown precision %q (fp32, bf16 or int8)", s)
}

// adviseBF16 logs what cpu:bf16 gains on this CPU, given rate (bf16Rate:
// bf16 multiply-adds per second over fp32's, 0 if unmeasured) and whether
// the CPU reports AMX-BF16, and says whether inference attention should
// multiply in bf16 (its kernel uses vdpbf16ps, so only where that is the
// faster). With AMX, oneDNN's matmul runs on it whatever vdpbf16ps's rate.
func adviseBF16(log zerolog.Logger, rate float64, amx bool) (bf16Attn bool) {
	switch {
	case rate == 0:
		log.Warn().Msg("cpu backend: could not measure this CPU's bf16 rate; attention stays fp32")
	case rate >= slowBF16:
		log.Debug().Float64("bf16_rate", rate).Msg("cpu backend: bf16 multiply-add rate over fp32's")
	case amx:
		log.Info().Float64("bf16_rate", rate).Msg("cpu backend: vdpbf16ps is slow on this CPU but it has AMX, " +
			"which oneDNN's matmul uses; attention stays fp32")
	default:
		log.Warn().Float64("bf16_rate", rate).Msg("cpu backend: this CPU multiplies bf16 at less than 1.4× " +
			"fp32's rate (bf16_rate: measured bf16 multiply-adds per second over fp32's); cpu:bf16 halves the " +
			"weights' memory but gains little speed, and runs batches slower than fp32 where bf16_rate < 1; " +
			"attention stays fp32 (docs/performance.md)")
	}
	return rate >= slowBF16
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

// Name says which implementation runs: "cpu/openblas-<core>", "cpu/go", or
// with oneDNN for the linear layers "cpu/onednn-<version>+openblas-<core>"
// ("cpu/onednn-bf16-..." in bf16, "cpu/onednn-int8-..." in int8).
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
	case *stack:
		panic("cpu: a stacked weight (Stack) is only usable by Linear, as Gemm's B, and by Free")
	case *table:
		panic("cpu: a bfloat16 embedding table (Table) is only usable by Embed and Free")
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

// Alloc returns a zeroed buffer of n values; large ones are recycled from
// earlier Frees (bufpool.go) and cleared on the backend's threads.
func (be *Backend) Alloc(n int) kernels.Buffer {
	s, recycled := be.bufs.get(n)
	switch {
	case s == nil:
		return make(buffer, n)
	case recycled:
		be.parallel(n, elemGrain, 16, func(lo, hi int) { clear(s[lo:hi]) })
	}
	return buffer(s)
}

// Scratch is Alloc without the clearing of a recycled buffer: a pass
// overwrites its activations, and clearing tens of megabytes a pass costs
// memory bandwidth (4–5% of a training step).
func (be *Backend) Scratch(n int) kernels.Buffer {
	if s, _ := be.bufs.get(n); s != nil {
		return buffer(s)
	}
	return make(buffer, n)
}

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

// Free takes back a buffer from Alloc for reuse, or drops the packed copy of
// a weight matrix, if oneDNN made one; other host memory is left to the
// garbage collector. A buffer must not be used after Free.
func (be *Backend) Free(b kernels.Buffer) {
	if st, ok := b.(*stack); ok {
		st.free(be)
		return
	}
	if _, ok := b.(*table); ok {
		return // Go memory: the garbage collector's
	}
	s := data(b)
	if be.dnn != nil {
		be.dnn.free(plain(s))
	}
	be.bufs.put(s)
}

// ReleasePages drops b's pages from the process's memory when b aliases a
// read-only file mapping (a checkpoint loaded with Upload): they stay in
// the page cache and map again when read. Other memory is left alone.
func (be *Backend) ReleasePages(b kernels.Buffer) { releaseFilePages(data(b)) }

// Precision is the linear layers' weight precision: "fp32", "bf16" or "int8".
func (be *Backend) Precision() string {
	if be.dnn != nil && be.dnn.prec != precFP32 {
		return be.dnn.prec.String()
	}
	return "fp32"
}
