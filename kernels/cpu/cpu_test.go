package cpu

import (
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/kerneltest"
)

func newBackend(t testing.TB, opts Options) *Backend {
	t.Helper()
	be, err := New(zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// TestConformanceBLAS runs the suite on the default setup: OpenBLAS where it
// is installed and the best kernels the CPU runs.
func TestConformanceBLAS(t *testing.T) {
	be := newBackend(t, Options{})
	if be.blas == nil {
		t.Logf("OpenBLAS not found: testing %s", be.Name())
	}
	kerneltest.RunTrainer(t, be)
}

// TestConformanceGo runs the suite with GEMM on gonum's pure-Go BLAS.
func TestConformanceGo(t *testing.T) {
	kerneltest.RunTrainer(t, newBackend(t, Options{DisableBLAS: true}))
}

// TestConformanceISA runs the suite on each narrower instruction set this
// CPU can run, so that every compiled variant of the C kernels is checked.
func TestConformanceISA(t *testing.T) {
	best := newBackend(t, Options{}).ISA()
	for _, isa := range []string{"avx2", "generic"} {
		if isa == best {
			continue
		}
		be, err := New(zerolog.Nop(), Options{ISA: isa})
		if err != nil {
			t.Logf("%s: %v", isa, err)
			continue
		}
		t.Run(isa, func(t *testing.T) { kerneltest.RunTrainer(t, be) })
	}
}

// TestSingleThread runs the suite with one thread (no work splitting).
func TestSingleThread(t *testing.T) {
	kerneltest.RunTrainer(t, newBackend(t, Options{Threads: 1, DisableBLAS: true}))
}

// TestGELUAccuracy sweeps the erf form densely: the result must match
// x·Φ(x) to 1e-6 relative wherever it is a normal float32, including the
// negative tail where 1 + erf(x/√2) would cancel.
func TestGELUAccuracy(t *testing.T) {
	for _, isa := range []string{"", "avx2", "generic"} {
		be, err := New(zerolog.Nop(), Options{DisableBLAS: true, ISA: isa})
		if err != nil {
			t.Logf("%s: %v", isa, err)
			continue
		}
		geluAccuracy(t, be)
	}
}

func geluAccuracy(t *testing.T, be *Backend) {
	const n = 1 << 20
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-13 + 26*float64(i)/n)
	}
	for _, act := range []kernels.Act{kernels.ActGELU, kernels.ActGELUTanh} {
		y := make([]float32, n)
		be.Activate(be.Upload(y), be.Upload(x), n, act)
		worst, at := 0.0, 0.0
		for i, xv := range x {
			xd := float64(xv)
			var want float64
			if act == kernels.ActGELU {
				want = xd * 0.5 * math.Erfc(-xd/math.Sqrt2)
			} else {
				want = xd / (1 + math.Exp(-2*math.Sqrt(2/math.Pi)*(xd+0.044715*xd*xd*xd)))
			}
			if math.Abs(want) < 1e-30 {
				continue
			}
			if r := math.Abs(float64(y[i])-want) / math.Abs(want); r > worst {
				worst, at = r, xd
			}
		}
		t.Logf("%v (%s): max relative error %.3g at x = %.4f", act, be.ISA(), worst, at)
		limit := 1e-6
		if act == kernels.ActGELUTanh {
			// The tanh form is defined on float32 u = √(2/π)(x + 0.044715x³):
			// rounding u alone costs |2u|·6e-8 of e^{−2u} in the tail (x ≈ −9).
			limit = 2e-5
		}
		if worst > limit {
			t.Errorf("%v (%s): max relative error %.3g at x = %.4f, want ≤ %g", act, be.ISA(), worst, at, limit)
		}
	}
}

func TestCoreType(t *testing.T) {
	cases := []struct {
		f    x86Features
		want string
	}{
		{x86Features{AVX512: true, AVX2: true, AVX: true}, "SkylakeX"},
		{x86Features{AVX2: true, AVX: true}, "Haswell"},
		{x86Features{AVX: true}, "Sandybridge"},
		{x86Features{}, ""},
	}
	for _, c := range cases {
		if got := coreTypeFor(c.f); got != c.want {
			t.Errorf("coreTypeFor(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

// userCoreType is OPENBLAS_CORETYPE as the test process started with it,
// read before any backend sets it (tuneEnv leaves a user's value alone).
var userCoreType, userSetCoreType = os.LookupEnv("OPENBLAS_CORETYPE")

// TestOpenBLASCore checks, where OpenBLAS is installed, that it loaded with
// the fast kernels for this CPU rather than a misdetected old core, or with
// the core the user asked for in OPENBLAS_CORETYPE.
func TestOpenBLASCore(t *testing.T) {
	be := newBackend(t, Options{})
	if be.blas == nil {
		t.Skip("OpenBLAS not installed")
	}
	t.Logf("%s: %s, %d threads, %s", be.Name(), be.blas.config, be.blas.threads(), be.blas.path)
	if userSetCoreType {
		// The user's choice wins and must be left as it was; OpenBLAS itself
		// may refuse a core it does not know or this CPU cannot run.
		if v := os.Getenv("OPENBLAS_CORETYPE"); v != userCoreType {
			t.Errorf("OPENBLAS_CORETYPE=%q set by the user was changed to %q", userCoreType, v)
		}
		if !strings.EqualFold(be.blas.core, userCoreType) {
			t.Skipf("OPENBLAS_CORETYPE=%s set by the user; OpenBLAS chose core %q", userCoreType, be.blas.core)
		}
		return
	}
	if want := coreTypeFor(hostFeatures()); want != "" && !strings.EqualFold(be.blas.core, want) {
		t.Errorf("OpenBLAS core %q, want %q", be.blas.core, want)
	}
}

func TestOptionsErrors(t *testing.T) {
	if _, err := New(zerolog.Nop(), Options{ISA: "sse9"}); err == nil {
		t.Error("unknown ISA: no error")
	}
	if _, err := New(zerolog.Nop(), Options{Threads: -1}); err == nil {
		t.Error("negative threads: no error")
	}
	if _, err := New(zerolog.Nop(), Options{Library: "/nonexistent/libopenblas.so.0"}); err == nil {
		t.Error("missing explicit library: no error")
	}
}

// TestOpenBLASIdle checks that OpenBLAS's threads go to sleep soon after a
// GEMM (OPENBLAS_THREAD_TIMEOUT): by default they would busy-wait ~0.1 s
// after each call, a whole core taken from the kernels that run between
// GEMMs and from every other goroutine.
func TestOpenBLASIdle(t *testing.T) {
	if v, ok := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); ok && v != strconv.Itoa(threadTimeout) {
		t.Skipf("OPENBLAS_THREAD_TIMEOUT=%s set by the user", v)
	}
	be := newBackend(t, Options{})
	if be.blas == nil || be.blas.threads() < 2 {
		t.Skip("needs OpenBLAS with 2 or more threads")
	}
	const m, n, k = 512, 512, 256
	x, w, y := be.Alloc(m*k), be.Alloc(n*k), be.Alloc(m*n)
	be.Gemm(false, true, m, n, k, 1, x, k, w, k, 0, y, n)
	c0 := processCPU()
	time.Sleep(200 * time.Millisecond)
	if used := processCPU() - c0; used > 50*time.Millisecond {
		t.Errorf("the process used %v of CPU while idle for 200ms after a GEMM: OpenBLAS threads are spinning", used)
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestOpenLibraryErrors(t *testing.T) {
	if _, err := openLibrary("/nonexistent/libopenblas.so.0"); err == nil {
		t.Error("missing library: no error")
	}
	// A real shared library that is not OpenBLAS must be refused, not used.
	if _, err := openLibrary("libm.so.6"); err == nil || !strings.Contains(err.Error(), "not an OpenBLAS") {
		t.Errorf("libm: err = %v, want 'not an OpenBLAS library'", err)
	}
}

// TestAttentionSplit checks that attention split across workers (a call
// above attnGrainFlops) gives, bit for bit, what one worker gives: forward
// and backward, with padded sequences so that the pieces differ in work;
// and the same for the kept rows' attention (AttentionRows), split over
// sequences. The conformance suite's shapes are all below the grains and
// run whole.
func TestAttentionSplit(t *testing.T) {
	const B, T, H, hd = 4, 128, 4, 32
	a := kernels.Attn{Batch: B, Seq: T, Heads: H, HeadDim: hd, KeyMask: make([]uint8, B*T), Scale: 1 / float32(math.Sqrt(hd))}
	for b := range B {
		for i := range T - 17*b { // lengths 128, 111, 94, 77
			a.KeyMask[b*T+i] = 1
		}
	}
	s, _ := attnCheck(a)
	if step := attnStep(s, 2, attnGrainFlops); step >= B*H {
		t.Fatalf("attnStep = %d of %d units: the shape no longer splits; make it larger", step, B*H)
	}
	one, two := newBackend(t, Options{Threads: 1}), newBackend(t, Options{Threads: 2})
	rows := []int32{0, 110, 50, 76} // first, last real, middle, last real
	if step := two.rowsStep(s); step >= B {
		t.Fatalf("rowsStep = %d of %d sequences: the shape no longer splits; make it larger", step, B)
	}
	type out struct{ ctx, probs, dqkv, rctx, rprobs, rdqkv []float32 }
	run := func(be *Backend) out {
		qkv, dctx := randBuf(be, B*T*3*H*hd, 1), randBuf(be, B*T*H*hd, 2)
		ctx, probs, dqkv := be.Alloc(B*T*H*hd), be.Alloc(B*H*T*T), be.Alloc(B*T*3*H*hd)
		be.Attention(ctx, qkv, a, probs)
		be.AttentionBackward(dqkv, dctx, qkv, probs, a)
		rctx, rprobs, rdqkv := be.Alloc(B*H*hd), be.Alloc(B*H*T), be.Alloc(B*T*3*H*hd)
		be.AttentionRows(rctx, qkv, a, rows, rprobs)
		be.AttentionRowsBackward(rdqkv, be.View(dctx, 0, B*H*hd), qkv, rprobs, a, rows)
		return out{data(ctx), data(probs), data(dqkv), data(rctx), data(rprobs), data(rdqkv)}
	}
	want, got := run(one), run(two)
	for name, pair := range map[string][2][]float32{"ctx": {got.ctx, want.ctx}, "probs": {got.probs, want.probs}, "dqkv": {got.dqkv, want.dqkv},
		"rows ctx": {got.rctx, want.rctx}, "rows probs": {got.rprobs, want.rprobs}, "rows dqkv": {got.rdqkv, want.rdqkv}} {
		for i := range pair[1] {
			if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
				t.Fatalf("%s[%d] = %v on two workers, %v on one", name, i, pair[0][i], pair[1][i])
			}
		}
	}
}
