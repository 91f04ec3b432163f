package cpu

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// oneDNNBackend is a backend with oneDNN at the given precision, or skips
// the test saying why this machine cannot run it.
func oneDNNBackend(t testing.TB, precision string) *Backend {
	t.Helper()
	if !hasOneDNNISA() {
		t.Skip("CPU without AVX-512: linear layers stay on OpenBLAS")
	}
	if precision == "bf16" && !hasBF16() {
		t.Skip("CPU without AVX512_BF16: no bf16")
	}
	if precision == "int8" && !hasInt8() {
		t.Skip("CPU without AVX512_VNNI: no int8")
	}
	if off, why := oneDNNDisabled(""); off {
		t.Skipf("oneDNN turned off by %s", why)
	}
	if _, err := loadOneDNN(zerolog.Nop(), ""); err != nil {
		t.Skipf("oneDNN not installed (Debian libdnnl2): %v", err)
	}
	be := newBackend(t, Options{Precision: precision})
	if be.dnn == nil {
		t.Fatalf("backend %s without oneDNN", be.Name())
	}
	return be
}

func refAct64(act kernels.Act, v float64) float64 {
	switch act {
	case kernels.ActGELU:
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	case kernels.ActGELUTanh:
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	case kernels.ActTanh:
		return math.Tanh(v)
	case kernels.ActReLU:
		return math.Max(v, 0)
	}
	return v
}

// linearRef is act(x·W + bias) in float64 and Σ|x·w| + |bias| per output
// (the scale of rounding errors).
func linearRef(x []float32, m, n, k int, w []float32, layout kernels.Layout, bias []float32,
	act kernels.Act) (want, mag []float64) {
	want, mag = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			if bias != nil {
				s, sa = float64(bias[j]), math.Abs(float64(bias[j]))
			}
			for p := range k {
				wv := w[j*k+p]
				if layout == kernels.InOut {
					wv = w[p*n+j]
				}
				v := float64(x[i*k+p]) * float64(wv)
				s += v
				sa += math.Abs(v)
			}
			want[i*n+j], mag[i*n+j] = refAct64(act, s), sa
		}
	}
	return want, mag
}

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

// checkNear compares y [m, ldy] (first n columns) with want within
// rtol·mag + atol; the columns past n must still hold fill.
func checkNear(t *testing.T, what string, y []float32, ldy int, want, mag []float64, m, n int, rtol, atol float64,
	fill float32) {
	t.Helper()
	bad := 0
	for i := range m {
		for j := range ldy {
			g := y[i*ldy+j]
			if j >= n {
				if g != fill && bad < 3 {
					bad++
					t.Errorf("%s: wrote y[%d,%d] outside its %d columns", what, i, j, n)
				}
				continue
			}
			d, lim := math.Abs(float64(g)-want[i*n+j]), rtol*mag[i*n+j]+atol
			if !(d <= lim) && bad < 3 {
				bad++
				t.Errorf("%s: y[%d,%d] = %v, want %v (|diff| %.3g > %.3g)", what, i, j, g, want[i*n+j], d, lim)
			}
		}
	}
}

// TestOneDNNLinear checks oneDNN's Linear against a float64 reference for
// every activation, both layouts, with and without bias, and odd shapes. The
// first call of a weight packs it, the second reuses the packed copy, and a
// third writes a y wider than n (left to the plain products).
func TestOneDNNLinear(t *testing.T) {
	be := oneDNNBackend(t, "fp32")
	r := rand.New(rand.NewPCG(7, 7))
	type size struct{ m, n, k int }
	for _, sz := range []size{{1, 1, 1}, {9, 7, 5}, {37, 24, 33}, {70, 19, 64}, {3, 384, 384}, {130, 96, 200}} {
		for _, layout := range []kernels.Layout{kernels.OutIn, kernels.InOut} {
			for _, act := range []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU} {
				for _, withBias := range []bool{false, true} {
					m, n, k := sz.m, sz.n, sz.k
					x, w := randVec(r, m*k, 1), randVec(r, n*k, 1/math.Sqrt(float64(k)))
					var bias []float32
					if withBias {
						bias = randVec(r, n, 1)
					}
					want, mag := linearRef(x, m, n, k, w, layout, bias, act)
					what := fmt.Sprintf("Linear(%dx%dx%d layout=%d act=%v bias=%v)", m, n, k, layout, act, withBias)
					var bb kernels.Buffer
					if bias != nil {
						bb = be.Upload(bias)
					}
					for call := range 3 {
						ldy := n // packs, then reuses the packed copy
						if call == 2 {
							ldy = n + 3 // not dense: left to the plain products
						}
						y := make([]float32, m*ldy)
						for i := range y {
							y[i] = -7
						}
						be.Linear(be.Upload(y), ldy, be.Upload(x), m, n, k, be.Upload(w), layout, bb, act)
						checkNear(t, fmt.Sprintf("%s call %d", what, call), y, ldy, want, mag, m, n, 4e-6*math.Sqrt(float64(k+1)), 2e-6, -7)
					}
					if pw := be.dnn.weights[plain(w).key(layout == kernels.InOut)]; pw == nil || pw.c == nil {
						t.Fatalf("%s: weights not packed", what)
					}
				}
			}
		}
	}
}

// TestOneDNNWeightsChanged rewrites a packed weight in place, and frees one
// and puts another matrix at its address: both must be detected.
func TestOneDNNWeightsChanged(t *testing.T) {
	be := oneDNNBackend(t, "fp32")
	r := rand.New(rand.NewPCG(8, 8))
	m, n, k := 16, 48, 40
	x, w, bias := randVec(r, m*k, 1), randVec(r, n*k, 0.2), randVec(r, n, 1)
	run := func(what string) {
		t.Helper()
		want, mag := linearRef(x, m, n, k, w, kernels.OutIn, bias, kernels.ActGELU)
		y := make([]float32, m*n)
		be.Linear(be.Upload(y), n, be.Upload(x), m, n, k, be.Upload(w), kernels.OutIn, be.Upload(bias), kernels.ActGELU)
		checkNear(t, what, y, n, want, mag, m, n, 4e-6*math.Sqrt(float64(k+1)), 2e-6, 0)
	}
	run("first call")
	run("packed")
	for i := range w {
		w[i] = -0.5*w[i] + 0.01
	}
	run("after rewriting every weight")
	run("repacked")
	w[(len(w)-1)/2] += 1 // one sampled value: the middle of the matrix
	run("after rewriting a sampled weight")
	be.Free(be.Upload(w))
	if be.dnn.weights[plain(w).key(false)] != nil {
		t.Error("Free kept the packed copy")
	}
	run("after Free")
	run("packed again")
	// Another shape at the same address.
	x2 := randVec(r, m*n, 1)
	run2 := func() {
		want, mag := linearRef(x2, m, k, n, w, kernels.InOut, nil, kernels.ActNone)
		y := make([]float32, m*k)
		be.Linear(be.Upload(y), k, be.Upload(x2), m, k, n, be.Upload(w), kernels.InOut, nil, kernels.ActNone)
		checkNear(t, "same address, other shape and layout", y, k, want, mag, m, k, 4e-6*math.Sqrt(float64(n+1)), 2e-6, 0)
	}
	run2()
	run2()
}

// TestOneDNNOff checks the knob and the fallback when the library is
// missing: OpenBLAS runs every linear layer, correctly.
func TestOneDNNOff(t *testing.T) {
	if _, err := openOneDNN(zerolog.Nop(), []string{"/nonexistent/libdnnl.so.2"}); err == nil {
		t.Error("missing library: no error")
	}
	if _, err := openOneDNN(zerolog.Nop(), []string{"libm.so.6"}); err == nil || !strings.Contains(err.Error(), "not oneDNN") {
		t.Errorf("libm: err = %v, want 'not oneDNN'", err)
	}
	check := func(be *Backend) {
		t.Helper()
		if be.dnn != nil || strings.Contains(be.Name(), "onednn") {
			t.Fatalf("%s: oneDNN in use", be.Name())
		}
		r := rand.New(rand.NewPCG(9, 9))
		m, n, k := 5, 6, 7
		x, w := randVec(r, m*k, 1), randVec(r, n*k, 1)
		want, mag := linearRef(x, m, n, k, w, kernels.OutIn, nil, kernels.ActReLU)
		for range 2 {
			y := make([]float32, m*n)
			be.Linear(be.Upload(y), n, be.Upload(x), m, n, k, be.Upload(w), kernels.OutIn, nil, kernels.ActReLU)
			checkNear(t, be.Name(), y, n, want, mag, m, n, 1e-5, 1e-6, 0)
		}
	}
	check(newBackend(t, Options{OneDNN: "off"}))
	t.Setenv(oneDNNEnv, "off")
	check(newBackend(t, Options{}))
	if _, err := New(zerolog.Nop(), Options{Precision: "bf16"}); err == nil {
		t.Error("bf16 with oneDNN off: no error")
	}
	// A search that finds no library falls back to OpenBLAS; bf16 refuses.
	be := newBackend(t, Options{OneDNN: "off"})
	missing := func(zerolog.Logger, string) (*oneDNNLib, error) { return nil, errors.New("no libdnnl.so.2") }
	t.Setenv(oneDNNEnv, "")
	if err := be.openDNN(zerolog.Nop(), Options{}, 2, precFP32, missing); err != nil {
		t.Fatalf("missing library: %v, want a fallback", err)
	}
	check(be)
	if hasBF16() {
		if err := be.openDNN(zerolog.Nop(), Options{}, 2, precBF16, missing); err == nil {
			t.Error("bf16 without the library: no error")
		}
	}
	if _, err := New(zerolog.Nop(), Options{Precision: "fp16"}); err == nil {
		t.Error("precision fp16: no error")
	}
}

// TestBF16Refused checks the error on CPUs without AVX512_BF16.
func TestBF16Refused(t *testing.T) {
	if hasBF16() {
		t.Skip("this CPU has AVX512_BF16")
	}
	_, err := New(zerolog.Nop(), Options{Precision: "bf16"})
	if err == nil || !strings.Contains(err.Error(), "AVX512_BF16") {
		t.Errorf("err = %v, want one naming AVX512_BF16", err)
	}
}

// TestOneDNNBF16Linear checks the bf16 path: weights and x rounded to
// bfloat16 (8 significant bits), products summed in float32. Each product
// is off by at most ~2·2⁻⁹ of its size, so the error bound is 2⁻⁷ of
// Σ|x·w|.
func TestOneDNNBF16Linear(t *testing.T) {
	be := oneDNNBackend(t, "bf16")
	if be.Precision() != "bf16" || !strings.Contains(be.Name(), "bf16") {
		t.Fatalf("backend %s, precision %s", be.Name(), be.Precision())
	}
	r := rand.New(rand.NewPCG(10, 10))
	type size struct{ m, n, k int }
	for _, sz := range []size{{1, 1, 1}, {9, 7, 5}, {37, 24, 33}, {3, 384, 384}, {130, 96, 200}} {
		for _, layout := range []kernels.Layout{kernels.OutIn, kernels.InOut} {
			for _, act := range []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU} {
				m, n, k := sz.m, sz.n, sz.k
				x, w, bias := randVec(r, m*k, 1), randVec(r, n*k, 1/math.Sqrt(float64(k))), randVec(r, n, 1)
				want, mag := linearRef(x, m, n, k, w, layout, bias, act)
				what := fmt.Sprintf("bf16 Linear(%dx%dx%d layout=%d act=%v)", m, n, k, layout, act)
				for call := range 2 {
					y := make([]float32, m*n)
					be.Linear(be.Upload(y), n, be.Upload(x), m, n, k, be.Upload(w), layout, be.Upload(bias), act)
					checkNear(t, fmt.Sprintf("%s call %d", what, call), y, n, want, mag, m, n, 1.0/128, 1e-6, 0)
				}
				if pw := be.dnn.weights[plain(w).key(layout == kernels.InOut)]; pw == nil || pw.c == nil || pw.c.prec != 1 {
					t.Fatalf("%s: weights not packed in bf16", what)
				}
			}
		}
	}
}

// TestOneDNNInputGrad checks training's input gradient dx (+)= dy·W, a Gemm
// whose B is a weight Linear packed: with dy dense it runs on a transposed
// packed copy, overwriting or accumulating; dy as a column block of a wider
// matrix is left to the plain products.
func TestOneDNNInputGrad(t *testing.T) {
	be := oneDNNBackend(t, "fp32")
	r := rand.New(rand.NewPCG(11, 11))
	for _, layout := range []kernels.Layout{kernels.OutIn, kernels.InOut} {
		for _, sz := range []struct{ m, in, out int }{{5, 7, 9}, {64, 96, 160}} {
			for _, beta := range []float32{0, 1} {
				for _, lda := range []int{sz.out, 3 * sz.out} {
					m, in, out := sz.m, sz.in, sz.out
					w := randVec(r, in*out, 0.3)
					x := randVec(r, m*in, 1)
					be.Linear(be.Upload(make([]float32, m*out)), out, be.Upload(x), m, out, in, be.Upload(w), layout, nil, kernels.ActNone)
					dy, dx := randVec(r, m*lda, 1), randVec(r, m*in, 1)
					want, mag := make([]float64, m*in), make([]float64, m*in)
					for i := range m {
						for j := range in {
							s, sa := float64(beta)*float64(dx[i*in+j]), math.Abs(float64(beta)*float64(dx[i*in+j]))
							for p := range out {
								wv := w[p*in+j] // OutIn: W [out, in]
								if layout == kernels.InOut {
									wv = w[j*out+p] // W [in, out]
								}
								v := float64(dy[i*lda+p]) * float64(wv)
								s += v
								sa += math.Abs(v)
							}
							want[i*in+j], mag[i*in+j] = s, sa
						}
					}
					tB, ldb := false, in
					if layout == kernels.InOut {
						tB, ldb = true, out
					}
					be.Gemm(false, tB, m, in, out, 1, be.Upload(dy), lda, be.Upload(w), ldb, beta, be.Upload(dx), in)
					what := fmt.Sprintf("dx = dy·W (layout %d, %dx%dx%d, beta %g, lda %d)", layout, m, in, out, beta, lda)
					checkNear(t, what, dx, in, want, mag, m, in, 4e-6*math.Sqrt(float64(out+1)), 2e-6, 0)
					if lda == out && be.dnn.weights[plain(w).key(layout != kernels.InOut)] == nil {
						t.Errorf("%s: did not run on a packed copy", what)
					}
				}
			}
		}
	}
	// A B that Linear never saw is left to OpenBLAS (it may change between calls).
	w := randVec(r, 6*4, 1)
	be.Gemm(false, false, 3, 4, 6, 1, be.Upload(randVec(r, 18, 1)), 6, be.Upload(w), 4, 0, be.Upload(make([]float32, 12)), 4)
	if be.dnn.weights[plain(w).key(true)] != nil {
		t.Error("packed a matrix Linear never used")
	}
}

// TestOneDNNEnvValues: ADAPTERDB_ONEDNN takes off or on (and their synonyms);
// anything else fails the backend's start rather than leaving oneDNN on.
func TestOneDNNEnvValues(t *testing.T) {
	for _, v := range []string{"off", "OFF", "0", "false", "no", "on", "1", "true", "Yes", ""} {
		t.Setenv(oneDNNEnv, v)
		if err := checkOneDNNEnv(); err != nil {
			t.Errorf("%s=%q: %v", oneDNNEnv, v, err)
		}
	}
	for _, v := range []string{"of", "disable", "onn"} {
		t.Setenv(oneDNNEnv, v)
		_, err := New(zerolog.Nop(), Options{})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s=%q: want off", oneDNNEnv, v)) {
			t.Errorf("%s=%q: New gives %v, want an error naming the value", oneDNNEnv, v, err)
		}
	}
}

// TestOMPEnv checks that the user's OpenMP settings win over ours.
func TestOMPEnv(t *testing.T) {
	t.Setenv("OMP_NUM_THREADS", "3,1")
	if n := ompThreads(2); n != 3 {
		t.Errorf("OMP_NUM_THREADS=3,1: %d threads, want 3", n)
	}
	t.Setenv("OMP_NUM_THREADS", "lots")
	if n := ompThreads(2); n != 2 {
		t.Errorf("OMP_NUM_THREADS=lots: %d threads, want the option's 2", n)
	}
	t.Setenv("GOMP_SPINCOUNT", "7")
	tuneOMPEnv(zerolog.Nop())
	if v := os.Getenv("GOMP_SPINCOUNT"); v != "7" {
		t.Errorf("GOMP_SPINCOUNT = %q, want the user's 7", v)
	}
	os.Unsetenv("GOMP_SPINCOUNT")
	t.Setenv("OMP_WAIT_POLICY", "passive")
	tuneOMPEnv(zerolog.Nop())
	if v, ok := os.LookupEnv("GOMP_SPINCOUNT"); ok {
		t.Errorf("GOMP_SPINCOUNT = %q set beside the user's OMP_WAIT_POLICY", v)
	}
	os.Unsetenv("OMP_WAIT_POLICY")
	tuneOMPEnv(zerolog.Nop())
	if v := os.Getenv("GOMP_SPINCOUNT"); v != strconv.Itoa(ompSpinCount) {
		t.Errorf("GOMP_SPINCOUNT = %q, want %d", v, ompSpinCount)
	}
	os.Unsetenv("GOMP_SPINCOUNT")
}

// TestOneDNNGemm checks that products of plain matrices (the adapters'
// bottlenecks, the weight gradients) run on oneDNN primitives rather than
// falling back (fewer than gemmMinRows rows stay on OpenBLAS by design), at the
// shapes a MiniLM pass and odd ones give, and that the untransposed ones
// (the forward pass's) match a float64 reference with C wider than n,
// overwritten and accumulated into. Every transpose, stride,
// alpha and beta is also checked numerically on this backend by the
// conformance suite (TestConformanceBLAS runs kerneltest on it).
func TestOneDNNGemm(t *testing.T) {
	be := oneDNNBackend(t, "fp32")
	r := rand.New(rand.NewPCG(12, 12))
	for _, sz := range []struct{ m, n, k int }{{gemmMinRows, 1, 1}, {9, 5, 9}, {128, 64, 384}, {128, 384, 64}, {33, 70, 130}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, beta := range []float32{0, 1} {
					m, n, k := sz.m, sz.n, sz.k
					lda, ldb, ldc := k, n, n+3 // dense A and B (linearRef's layouts), C wider than n
					if tA {
						lda = m
					}
					if tB {
						ldb = k
					}
					a, b := randVec(r, m*k, 1), randVec(r, n*k, 1/math.Sqrt(float64(k)))
					c := randVec(r, m*ldc, 1)
					const fill = float32(-7)
					for i := range m {
						for j := n; j < ldc; j++ {
							c[i*ldc+j] = fill
						}
					}
					c0 := slices.Clone(c)
					be.Gemm(tA, tB, m, n, k, 1, be.Upload(a), lda, be.Upload(b), ldb, beta, be.Upload(c), ldc)
					what := fmt.Sprintf("gemm(tA=%v tB=%v %dx%dx%d beta %g)", tA, tB, m, n, k, beta)
					key := gemmKey{m: m, n: n, k: k, tA: tA, tB: tB, lda: lda, ldb: ldb, ldc: ldc, acc: beta == 1}
					if p := be.dnn.gemms[key]; p == nil || p.mm == nil {
						t.Errorf("%s: not run on oneDNN", what)
					}
					if tA {
						continue
					}
					layout := kernels.InOut // B [k, n]
					if tB {
						layout = kernels.OutIn // B [n, k]
					}
					want, mag := linearRef(a, m, n, k, b, layout, nil, kernels.ActNone)
					for i := range m {
						for j := range n {
							want[i*n+j] += float64(beta) * float64(c0[i*ldc+j])
							mag[i*n+j] += math.Abs(float64(beta) * float64(c0[i*ldc+j]))
						}
					}
					checkNear(t, what, c, ldc, want, mag, m, n, 4e-6*math.Sqrt(float64(k+1)), 2e-6, fill)
				}
			}
		}
	}

	// Fewer rows than gemmMinRows stay on OpenBLAS.
	for _, m := range []int{1, gemmMinRows - 1} {
		be.Gemm(false, false, m, 384, 32, 1, be.Upload(randVec(r, m*32, 1)), 32, be.Upload(randVec(r, 32*384, 1)), 384, 0,
			be.Upload(make([]float32, m*384)), 384)
		if _, ok := be.dnn.gemms[gemmKey{m: m, n: 384, k: 32, lda: 32, ldb: 384, ldc: 384}]; ok {
			t.Errorf("a product of %d rows went to oneDNN", m)
		}
	}

	// SegLinear: two segments with their own weights, bias and activation,
	// then accumulated without activation; at least gemmMinRows rows each
	// (fewer: TestSegLinearFewRows).
	n, k := 64, 96
	rows := []int{gemmMinRows, gemmMinRows + 4}
	M := rows[0] + rows[1]
	x := randVec(r, M*k, 1)
	var segs []kernels.LinearSeg
	var ws, bs [][]float32
	for _, rr := range rows {
		w, bias := randVec(r, n*k, 1/math.Sqrt(float64(k))), randVec(r, n, 1)
		ws, bs = append(ws, w), append(bs, bias)
		segs = append(segs, kernels.LinearSeg{Rows: rr, W: be.Upload(w), Bias: be.Upload(bias)})
	}
	for _, act := range []kernels.Act{kernels.ActGELU, kernels.ActReLU, kernels.ActNone} {
		y := randVec(r, M*n, 1)
		y0 := slices.Clone(y)
		acc := act == kernels.ActNone
		be.SegLinear(be.Upload(y), be.Upload(x), n, k, segs, act, acc)
		off := 0
		for s, rr := range rows {
			want, mag := linearRef(x[off*k:(off+rr)*k], rr, n, k, ws[s], kernels.OutIn, bs[s], act)
			if acc {
				for i := range want {
					want[i] += float64(y0[off*n+i])
					mag[i] += math.Abs(float64(y0[off*n+i]))
				}
			}
			what := fmt.Sprintf("SegLinear segment %d act %v accumulate %v", s, act, acc)
			checkNear(t, what, y[off*n:(off+rr)*n], n, want, mag, rr, n, 4e-6*math.Sqrt(float64(k+1)), 2e-6, 0)
			key := gemmKey{m: rr, n: n, k: k, tB: true, lda: k, ldb: k, ldc: n, bias: true, acc: acc, act: act}
			if p := be.dnn.gemms[key]; p == nil || p.mm == nil {
				t.Errorf("%s: not run on oneDNN with its bias and activation fused", what)
			}
			off += rr
		}
	}
}

// TestOneDNNStack: a stacked weight is packed once as one matrix (its parts
// never on their own), the input gradient through it runs on a packed copy
// too, its parts' values are checked (rewriting one packs it again), and
// Free drops both copies. The conformance suite checks the values of every
// path; this checks that the fast one is taken.
func TestOneDNNStack(t *testing.T) {
	be := oneDNNBackend(t, "fp32")
	r := rand.New(rand.NewPCG(13, 13))
	const m, n, k, parts = 24, 48, 40, 3
	ws := make([][]float32, parts)
	bufs := make([]kernels.Buffer, parts)
	for j := range ws {
		ws[j] = randVec(r, n*k, 0.3)
		bufs[j] = be.Upload(ws[j])
	}
	st := be.Stack(bufs, n, k).(*stack)
	x := randVec(r, m*k, 1)
	flat := slices.Concat(ws...)
	linear := func(what string) {
		t.Helper()
		y := make([]float32, m*parts*n)
		be.Linear(be.Upload(y), parts*n, be.Upload(x), m, parts*n, k, st, kernels.OutIn, nil, kernels.ActNone)
		want, mag := linearRef(x, m, parts*n, k, flat, kernels.OutIn, nil, kernels.ActNone)
		checkNear(t, what, y, parts*n, want, mag, m, parts*n, 4e-6*math.Sqrt(float64(k+1)), 2e-6, 0)
	}
	linear("stacked Linear")
	if be.dnn.weights[st.weight().key(false)] == nil {
		t.Fatal("Linear did not pack the stack")
	}
	for j, w := range ws {
		if be.dnn.weights[plain(w).key(false)] != nil || be.dnn.weights[plain(w).key(true)] != nil {
			t.Errorf("part %d packed on its own", j)
		}
	}
	dy, dx := randVec(r, m*parts*n, 1), make([]float32, m*k)
	be.Gemm(false, false, m, k, parts*n, 1, be.Upload(dy), parts*n, st, k, 0, be.Upload(dx), k)
	if be.dnn.weights[st.weight().key(true)] == nil {
		t.Error("the input gradient through the stack did not run on a packed copy")
	}
	ws[1][0] += 1 // a sampled value of a part
	flat = slices.Concat(ws...)
	linear("stacked Linear after rewriting a part")
	be.Free(st)
	if be.dnn.weights[st.weight().key(false)] != nil || be.dnn.weights[st.weight().key(true)] != nil {
		t.Error("Free kept a packed copy of the stack")
	}
	defer func() {
		if recover() == nil {
			t.Error("Download of a stack did not panic")
		}
	}()
	be.Download(make([]float32, 4), st)
}

// TestAttentionBF16 checks cpu:bf16's inference attention (bf16 products,
// float32 sums) against the fp32 kernel: head sizes 32 and 64, lengths that
// are not multiples of 16 or 32, right padding, padding holes inside a
// sequence, one sequence wholly padded, and a split across workers. The
// difference is bf16 rounding of q, k, v and the weights: within 1% of the
// output's scale. Causal masks and training (probs) keep the fp32 kernel,
// bit for bit.
func TestAttentionBF16(t *testing.T) {
	if !hasBF16() {
		t.Skip("CPU without AVX512_BF16: no bf16")
	}
	if off, why := oneDNNDisabled(""); off {
		t.Skipf("oneDNN turned off by %s", why)
	}
	bf, err := New(zerolog.Nop(), Options{Precision: "bf16"})
	if err != nil {
		t.Skipf("no bf16 backend: %v", err)
	}
	// The kernel runs by default only where bf16 multiplies faster than
	// fp32 (bf16Rate); tested on every CPU that has it.
	bf.dnn.bf16Attn = true
	f32 := newBackend(t, Options{OneDNN: "off"})
	for _, c := range []struct{ B, T, H, hd int }{{3, 37, 4, 32}, {2, 64, 2, 64}, {4, 128, 4, 32}, {1, 5, 2, 64}, {1, 1, 2, 32}} {
		mask := make([]uint8, c.B*c.T)
		for b := range c.B {
			n := c.T - 7*b
			if b == c.B-1 && c.B > 2 {
				n = 0 // wholly padded
			}
			for i := range max(n, 0) {
				mask[b*c.T+i] = 1
			}
			if b == 1 && n > 3 {
				mask[b*c.T+2] = 0 // a hole
			}
		}
		for _, causal := range []bool{false, true} {
			a := kernels.Attn{Batch: c.B, Seq: c.T, Heads: c.H, HeadDim: c.hd, KeyMask: mask, Causal: causal,
				Scale: 1 / float32(math.Sqrt(float64(c.hd)))}
			D := c.H * c.hd
			qkv := randBuf(f32, c.B*c.T*3*D, 7)
			want, got := f32.Alloc(c.B*c.T*D), bf.Alloc(c.B*c.T*D)
			for i := range data(got) { // as recycled Scratch may hold: every value must be written
				data(got)[i] = float32(math.NaN())
			}
			f32.Attention(want, qkv, a, nil)
			bf.Attention(got, bf.Upload(data(qkv)), a, nil)
			w, g := data(want), data(got)
			var scale, maxd float64
			same := true
			for i := range w {
				scale = max(scale, math.Abs(float64(w[i])))
				maxd = max(maxd, math.Abs(float64(g[i]-w[i])))
				same = same && math.Float32bits(g[i]) == math.Float32bits(w[i])
			}
			name := fmt.Sprintf("B%d T%d H%d hd%d causal %v", c.B, c.T, c.H, c.hd, causal)
			t.Logf("%s: max |bf16 − fp32| %.3g of %.3g", name, maxd, scale)
			switch {
			case causal && !same:
				t.Errorf("%s: causal attention differs from fp32 (max %.3g): it must keep the fp32 kernel", name, maxd)
			case !causal && same:
				t.Errorf("%s: bit for bit the fp32 result: the bf16 kernel did not run", name)
			case !(maxd <= 0.01*scale):
				t.Errorf("%s: max |bf16 − fp32| %.3g, scale %.3g", name, maxd, scale)
			}
			for b := range c.B {
				for i := range c.T {
					if mask[b*c.T+i] == 0 && i >= c.T-7*b {
						for j := range D {
							if v := g[(b*c.T+i)*D+j]; v != 0 {
								t.Fatalf("%s: padded row %d of sequence %d holds %v", name, i, b, v)
							}
						}
					}
				}
			}
		}
	}
}

// TestBF16Rate: the probe behind cpu:bf16's warning and its choice of
// attention kernel measures a plausible ratio (0.5 on Emerald Rapids,
// about 2 on Zen 4); 0 or a wild value means its loops are broken.
func TestBF16Rate(t *testing.T) {
	if !hasBF16() {
		t.Skip("CPU without AVX512_BF16")
	}
	r := bf16Rate()
	t.Logf("bf16 multiply-adds per second over fp32's: %.2f", r)
	if !(r > 0.1 && r < 8) {
		t.Fatalf("bf16Rate() = %v", r)
	}
}

// TestAdviseBF16: what cpu:bf16 logs and whether attention multiplies in
// bf16, for the rates measured on real CPUs (Zen 4 ~2, Emerald Rapids ~0.5),
// with and without AMX, and for a failed measurement.
func TestAdviseBF16(t *testing.T) {
	for _, c := range []struct {
		rate     float64
		amx      bool
		attn     bool
		level    string
		contains string
	}{
		{2.0, false, true, "debug", "bf16 multiply-add rate"},
		{1.4, false, true, "debug", "bf16 multiply-add rate"},
		{1.2, false, false, "warn", "gains little speed"},
		{0.5, false, false, "warn", "slower than fp32 where bf16_rate < 1"},
		{0.5, true, false, "info", "has AMX"},
		{0, false, false, "warn", "could not measure"},
	} {
		var buf bytes.Buffer
		attn := adviseBF16(zerolog.New(&buf), c.rate, c.amx)
		out := buf.String()
		if attn != c.attn || !strings.Contains(out, `"level":"`+c.level+`"`) || !strings.Contains(out, c.contains) {
			t.Errorf("rate %v amx %v: attention in bf16 %v, log %s; want %v, level %s, %q",
				c.rate, c.amx, attn, out, c.attn, c.level, c.contains)
		}
	}
}
