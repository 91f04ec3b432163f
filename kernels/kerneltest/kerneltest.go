// Package kerneltest is the conformance suite every kernels.Backend must pass.
//
// Run checks each Backend op against a plain float64 reference (ref.go) on
// random inputs chosen to reach the awkward cases: odd sizes, transposes,
// leading dimensions larger than the row, buffers that are views at offsets,
// segments of different sizes including empty ones and nil weights, padded and
// causal attention masks, fully masked sequences and accumulate flags.
// RunTrainer checks every backward op against central finite differences of
// the float64 reference of its forward op. The suite uses only the kernels
// interfaces, so every backend (cpu, cuda) runs the same checks.
package kerneltest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/adapterdb/adapterdb/kernels"
)

// Run checks every kernels.Backend operation.
func Run(t *testing.T, be kernels.Backend) {
	t.Run("Buffers", func(t *testing.T) { testBuffers(newEnv(t, be, 1)) })
	t.Run("Gemm", func(t *testing.T) { testGemm(newEnv(t, be, 2)) })
	t.Run("Linear", func(t *testing.T) { testLinear(newEnv(t, be, 3)) })
	t.Run("SegLinear", func(t *testing.T) { testSegLinear(newEnv(t, be, 4)) })
	t.Run("Activate", func(t *testing.T) { testActivate(newEnv(t, be, 5)) })
	t.Run("Add", func(t *testing.T) { testAdd(newEnv(t, be, 6)) })
	t.Run("AddNorm", func(t *testing.T) { testAddNorm(newEnv(t, be, 7)) })
	t.Run("Embed", func(t *testing.T) { testEmbed(newEnv(t, be, 8)) })
	t.Run("Attention", func(t *testing.T) { testAttention(newEnv(t, be, 9)) })
	t.Run("Stack", func(t *testing.T) { testStack(newEnv(t, be, 14)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, be) })
	if ra, ok := be.(kernels.RowAttention); ok {
		runRowAttention(t, be, ra)
	}
}

// RunTrainer runs Run and checks every backward operation.
func RunTrainer(t *testing.T, be kernels.Trainer) {
	Run(t, be)
	t.Run("SegLinearBackward", func(t *testing.T) { testSegLinearBackward(newEnv(t, be, 10), be) })
	t.Run("ActivateBackward", func(t *testing.T) { testActivateBackward(newEnv(t, be, 11), be) })
	t.Run("NormBackward", func(t *testing.T) { testNormBackward(newEnv(t, be, 12), be) })
	t.Run("AttentionBackward", func(t *testing.T) { testAttentionBackward(newEnv(t, be, 13), be) })
	if ob, ok := be.(kernels.Optimizer); ok {
		t.Run("AdamW", func(t *testing.T) { RunOptimizer(t, ob) })
	}
}

// env holds one test's backend and random source.
type env struct {
	t   *testing.T
	be  kernels.Backend
	rng *rand.Rand
}

func newEnv(t *testing.T, be kernels.Backend, seed uint64) *env {
	return &env{t: t, be: be, rng: rand.New(rand.NewPCG(seed, 0x6b65726e656c73))}
}

// randn is n standard normal values.
func (e *env) randn(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.NormFloat64())
	}
	return v
}

// uniform is n values in [lo, hi).
func (e *env) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*e.rng.Float64())
	}
	return v
}

// placed is a buffer holding v as a view at an offset into a larger buffer
// whose other values are random guards.
type placed struct {
	view, parent kernels.Buffer
	off, n       int
	guard        []float32 // the parent's initial contents
}

// put uploads v at a random offset (0 sometimes, so whole buffers are
// covered too) inside a parent with guard values around it.
func (e *env) put(v []float32) *placed {
	off := 0
	if e.rng.IntN(3) > 0 {
		off = 1 + e.rng.IntN(17)
	}
	host := e.randn(off + len(v) + 1 + e.rng.IntN(5))
	copy(host[off:], v)
	guard := append([]float32(nil), host...)
	parent := e.be.Upload(host)
	return &placed{view: e.be.View(parent, off, len(v)), parent: parent, off: off, n: len(v), guard: guard}
}

// get downloads the view.
func (e *env) get(p *placed) []float32 {
	out := make([]float32, p.n)
	e.be.Download(out, p.view)
	return out
}

// guarded checks that nothing outside the view changed.
func (e *env) guarded(what string, p *placed) {
	e.t.Helper()
	all := make([]float32, len(p.guard))
	e.be.Download(all, p.parent)
	for i, v := range all {
		if i >= p.off && i < p.off+p.n {
			continue
		}
		if math.Float32bits(v) != math.Float32bits(p.guard[i]) {
			e.t.Errorf("%s: wrote outside its buffer at %d (view at %d of %d)", what, i, p.off, p.n)
			return
		}
	}
}

// near checks |got − want| ≤ rtol·mag + atol element-wise (mag nil: |want|)
// and that got is finite; it reports the first few misses.
func (e *env) near(what string, got []float32, want, mag []float64, rtol, atol float64) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad, worst, at := 0, 0.0, -1
	for i := range got {
		g := float64(got[i])
		m := math.Abs(want[i])
		if mag != nil {
			m = mag[i]
		}
		d := math.Abs(g - want[i])
		lim := rtol*m + atol
		if math.IsNaN(g) || math.IsInf(g, 0) || d > lim {
			bad++
			if bad <= 5 {
				e.t.Errorf("%s[%d] = %v, want %v (|diff| %.3g > %.3g)", what, i, g, want[i], d, lim)
			}
		}
		if r := d / math.Max(lim, 1e-300); r > worst {
			worst, at = r, i
		}
	}
	if bad > 5 {
		e.t.Errorf("%s: %d of %d values off; worst at %d is %.3g× the tolerance", what, bad, len(got), at, worst)
	}
}

// finite checks that every value is finite.
func (e *env) finite(what string, v []float32) {
	e.t.Helper()
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			e.t.Errorf("%s[%d] = %v, want a finite value", what, i, x)
			return
		}
	}
}

func testBuffers(e *env) {
	be := e.be
	z := be.Alloc(37)
	if z.Len() != 37 {
		e.t.Fatalf("Alloc(37).Len() = %d", z.Len())
	}
	got := make([]float32, 37)
	be.Download(got, z)
	for i, v := range got {
		if v != 0 {
			e.t.Fatalf("Alloc: value %d is %v, want 0", i, v)
		}
	}
	sc := be.Scratch(41) // undefined values: written before read
	if sc.Len() != 41 {
		e.t.Fatalf("Scratch(41).Len() = %d", sc.Len())
	}
	vals := e.randn(41)
	be.Copy(sc, be.Upload(vals))
	got41 := make([]float32, 41)
	be.Download(got41, sc)
	for i := range got41 {
		if got41[i] != vals[i] {
			e.t.Fatalf("Scratch: value %d is %v after Copy, want %v", i, got41[i], vals[i])
		}
	}
	be.Free(sc)
	host := e.randn(50)
	b := be.Upload(append([]float32(nil), host...))
	if b.Len() != 50 {
		e.t.Fatalf("Upload(50 values).Len() = %d", b.Len())
	}
	got = make([]float32, 20) // a shorter download reads the first values
	be.Download(got, b)
	for i := range got {
		if got[i] != host[i] {
			e.t.Fatalf("Download: value %d is %v, want %v", i, got[i], host[i])
		}
	}
	v := be.View(b, 10, 25)
	if v.Len() != 25 {
		e.t.Fatalf("View(10, 25).Len() = %d", v.Len())
	}
	vv := be.View(v, 5, 10) // a view of a view
	src := be.Upload(e.randn(10))
	be.Copy(vv, src)
	want := append([]float32(nil), host...)
	be.Download(want[15:25], src)
	all := make([]float32, 50)
	be.Download(all, b)
	for i := range all {
		if all[i] != want[i] {
			e.t.Fatalf("Copy into a view: value %d is %v, want %v", i, all[i], want[i])
		}
	}
	be.Free(v)
	be.Free(z)
	be.Free(b)
}

func testGemm(e *env) {
	type size struct{ m, n, k int }
	sizes := []size{{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 48, 40}, {5, 130, 19}, {3, 4, 0}, {0, 3, 4}, {16, 1, 300}}
	for _, sz := range sizes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1.25, -0.75}} {
					e.gemmCase(tA, tB, sz.m, sz.n, sz.k, ab[0], ab[1])
				}
			}
		}
	}
}

func (e *env) gemmCase(tA, tB bool, m, n, k int, alpha, beta float32) {
	e.t.Helper()
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	lda, ldb, ldc := max(ac, 1)+e.rng.IntN(3), max(bc, 1)+e.rng.IntN(3), max(n, 1)+e.rng.IntN(3)
	a, b, c := e.randn(ar*lda), e.randn(br*ldb), e.randn(m*ldc)
	if beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // beta = 0 must not read C
		}
	}
	want, mag := refGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	// Values of C between rows (past n) must not change: the reference keeps them.
	pa, pb, pc := e.put(a), e.put(b), e.put(c)
	e.be.Gemm(tA, tB, m, n, k, alpha, pa.view, lda, pb.view, ldb, beta, pc.view, ldc)
	what := fmt.Sprintf("Gemm(tA=%v tB=%v %dx%dx%d alpha=%v beta=%v ld=%d,%d,%d)", tA, tB, m, n, k, alpha, beta, lda, ldb, ldc)
	got := e.get(pc)
	for i := range got { // padding columns keep their NaN; compare only the rest for finiteness
		if i%ldc >= n {
			if math.Float32bits(got[i]) != math.Float32bits(c[i]) {
				e.t.Errorf("%s: changed C[%d] outside the %d columns", what, i, n)
				break
			}
			got[i], want[i], mag[i] = 0, 0, 0
		}
	}
	e.near(what, got, want, mag, 2e-6*math.Sqrt(float64(k+1)), 1e-6)
	e.guarded(what+" C", pc)
}

var acts = []kernels.Act{kernels.ActNone, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActTanh, kernels.ActReLU}

func testLinear(e *env) {
	type size struct{ m, n, k int }
	for _, sz := range []size{{1, 1, 1}, {9, 7, 5}, {37, 24, 33}, {70, 19, 64}} {
		for _, layout := range []kernels.Layout{kernels.OutIn, kernels.InOut} {
			for _, act := range acts {
				for _, withBias := range []bool{false, true} {
					e.linearCase(sz.m, sz.n, sz.k, layout, act, withBias)
				}
			}
		}
	}
}

func (e *env) linearCase(m, n, k int, layout kernels.Layout, act kernels.Act, withBias bool) {
	e.t.Helper()
	// y is one column block of [m, 3n], like q of q|k|v; the others must survive.
	ldy, col := 3*n, e.rng.IntN(3)*n
	yAll := e.randn(m * ldy)
	x, w := e.randn(m*k), e.uniform(n*k, -0.5, 0.5)
	var bias []float32
	var pbias *placed
	if withBias {
		bias = e.randn(n)
		pbias = e.put(bias)
	}
	want, mag := refLinear(yAll[col:], ldy, x, m, n, k, w, layout, bias, act, false)
	py, px, pw := e.put(yAll), e.put(x), e.put(w)
	yv := e.be.View(py.view, col, len(yAll)-col)
	var bv kernels.Buffer
	if pbias != nil {
		bv = pbias.view
	}
	e.be.Linear(yv, ldy, px.view, m, n, k, pw.view, layout, bv, act)
	got := e.get(py)
	what := fmt.Sprintf("Linear(%dx%dx%d layout=%d act=%v bias=%v)", m, n, k, layout, act, withBias)
	e.near(what, got[col:], want, mag, 4e-6*math.Sqrt(float64(k+1)), 2e-6)
	for i := 0; i < col; i++ {
		if got[i] != yAll[i] {
			e.t.Errorf("%s: changed y[%d] before its column block", what, i)
			break
		}
	}
	e.guarded(what, py)
}

// segCase is a segmented layer: rows per segment, weights (nil = skipped).
type segCase struct {
	rows []int
	w    [][]float32
	bias [][]float32
}

func (e *env) segments(n, k int) segCase {
	var sc segCase
	shapes := [][3]int{{3, 1, 1}, {0, 1, 1}, {4, 0, 0}, {5, 1, 0}, {1, 1, 1}, {9, 1, 1}}
	for _, s := range shapes {
		sc.rows = append(sc.rows, s[0])
		var w, b []float32
		if s[1] == 1 {
			w = e.uniform(n*k, -0.5, 0.5)
		}
		if s[2] == 1 {
			b = e.randn(n)
		}
		sc.w = append(sc.w, w)
		sc.bias = append(sc.bias, b)
	}
	return sc
}

func (sc segCase) total() int {
	t := 0
	for _, r := range sc.rows {
		t += r
	}
	return t
}

// refSeg is SegLinear in float64: segments with nil W keep y.
func refSeg(y, x []float32, n, k int, sc segCase, act kernels.Act, accumulate bool) (want, mag []float64) {
	want, mag = to64(y), make([]float64, len(y))
	for i := range mag {
		mag[i] = math.Abs(want[i])
	}
	off := 0
	for s, r := range sc.rows {
		if sc.w[s] != nil && r > 0 {
			w, m := refLinear(y[off*n:(off+r)*n], n, x[off*k:(off+r)*k], r, n, k, sc.w[s], kernels.OutIn, sc.bias[s], act, accumulate)
			copy(want[off*n:], w)
			copy(mag[off*n:], m)
		}
		off += r
	}
	return want, mag
}

func (e *env) segBuffers(sc segCase) []kernels.LinearSeg {
	segs := make([]kernels.LinearSeg, len(sc.rows))
	for i, r := range sc.rows {
		segs[i].Rows = r
		if sc.w[i] != nil {
			segs[i].W = e.put(sc.w[i]).view
		}
		if sc.bias[i] != nil {
			segs[i].Bias = e.put(sc.bias[i]).view
		}
	}
	return segs
}

func testSegLinear(e *env) {
	for _, nk := range [][2]int{{5, 7}, {24, 17}, {33, 64}} {
		n, k := nk[0], nk[1]
		sc := e.segments(n, k)
		rows := sc.total()
		for _, act := range acts {
			for _, acc := range []bool{false, true} {
				if acc && act != kernels.ActNone {
					continue
				}
				y, x := e.randn(rows*n), e.randn(rows*k)
				want, mag := refSeg(y, x, n, k, sc, act, acc)
				py, px := e.put(y), e.put(x)
				e.be.SegLinear(py.view, px.view, n, k, e.segBuffers(sc), act, acc)
				what := fmt.Sprintf("SegLinear(n=%d k=%d act=%v accumulate=%v)", n, k, act, acc)
				e.near(what, e.get(py), want, mag, 4e-6*math.Sqrt(float64(k+1)), 2e-6)
				e.guarded(what, py)
			}
		}
	}
}

// actInputs covers the ranges where approximations break: tails, zero,
// tiny values, large ones, plus random normals.
func (e *env) actInputs(n int) []float32 {
	x := e.randn(n)
	for i := range x {
		x[i] *= 3
	}
	special := []float32{0, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5, 0.62, -0.63, 1, -1, 2.5, -2.5, 4, -4, 5.5, -5.5,
		7, -7, 9, -9, 12, -12, 15, -15, 30, -30, 100, -100}
	copy(x, special)
	for i := len(special); i < n && i < 400; i++ {
		x[i] = float32(-20 + 40*float64(i-len(special))/400)
	}
	return x
}

func testActivate(e *env) {
	for _, n := range []int{1, 15, 16, 17, 1000, 4099, 70001} {
		for _, act := range acts {
			x := e.actInputs(n)
			want := make([]float64, n)
			for i := range x {
				want[i] = refAct(act, float64(x[i]))
			}
			what := fmt.Sprintf("Activate(n=%d act=%v)", n, act)
			px, py := e.put(x), e.put(e.randn(n))
			e.be.Activate(py.view, px.view, n, act)
			e.near(what, e.get(py), want, nil, 4e-6, 4e-7)
			e.guarded(what, py)
			e.be.Activate(px.view, px.view, n, act) // in place
			e.near(what+" in place", e.get(px), want, nil, 4e-6, 4e-7)
		}
	}
}

func testAdd(e *env) {
	for _, n := range []int{1, 17, 1000, 100003} {
		a, b := e.randn(n), e.randn(n)
		want := make([]float64, n)
		for i := range want {
			want[i] = float64(a[i]) + float64(b[i])
		}
		pa, pb, py := e.put(a), e.put(b), e.put(e.randn(n))
		e.be.Add(py.view, pa.view, pb.view, n)
		e.near(fmt.Sprintf("Add(n=%d)", n), e.get(py), want, nil, 1e-7, 0)
		e.guarded("Add", py)
		e.be.Add(pa.view, pa.view, pb.view, n)
		e.near("Add into a", e.get(pa), want, nil, 1e-7, 0)
		pa = e.put(a)
		e.be.Add(pb.view, pa.view, pb.view, n)
		e.near("Add into b", e.get(pb), want, nil, 1e-7, 0)
	}
}

// normSegs makes segments (one empty) and per-row gains for LayerNorm.
func (e *env) normSegs(rows []int, cols int) (segs []kernels.NormSeg, gamma, beta [][]float32) {
	for _, r := range rows {
		g, b := e.uniform(cols, 0.5, 1.5), e.uniform(cols, -0.5, 0.5)
		segs = append(segs, kernels.NormSeg{Rows: r, Gamma: e.put(g).view, Beta: e.put(b).view})
		for range r {
			gamma = append(gamma, g)
			beta = append(beta, b)
		}
	}
	return segs, gamma, beta
}

func testAddNorm(e *env) {
	for _, cols := range []int{1, 7, 16, 37, 384, 1000} {
		rows := []int{3, 0, 5, 1, 40}
		segs, gamma, beta := e.normSegs(rows, cols)
		R := 0
		for _, r := range rows {
			R += r
		}
		n := R * cols
		const eps = 1e-5
		for _, mode := range []string{"plain", "no b", "no sum", "sum aliases a", "y aliases a"} {
			a, b := e.randn(n), e.randn(n)
			for i := range a { // an offset mean, as residual streams have
				a[i] += 3
			}
			if mode == "no b" {
				b = nil
			}
			wantY, wantSum, mag := refNorm(a, b, R, cols, eps, gamma, beta)
			pa := e.put(a)
			var bv kernels.Buffer
			if b != nil {
				bv = e.put(b).view
			}
			py, psum := e.put(e.randn(n)), e.put(e.randn(n))
			yv, sumv := py.view, psum.view
			switch mode {
			case "no sum":
				sumv = nil
			case "sum aliases a":
				sumv = pa.view
			case "y aliases a":
				yv = pa.view
			}
			e.be.AddNorm(yv, sumv, pa.view, bv, cols, eps, segs)
			what := fmt.Sprintf("AddNorm(cols=%d %s)", cols, mode)
			switch mode {
			case "y aliases a":
				e.near(what+" y", e.get(pa), wantY, mag, 2e-6, 2e-6)
				e.near(what+" sum", e.get(psum), wantSum, nil, 1e-7, 0)
			case "sum aliases a":
				e.near(what+" y", e.get(py), wantY, mag, 2e-6, 2e-6)
				e.near(what+" sum", e.get(pa), wantSum, nil, 1e-7, 0)
			case "no sum":
				e.near(what+" y", e.get(py), wantY, mag, 2e-6, 2e-6)
				e.guarded(what+" sum untouched", &placed{view: psum.view, parent: psum.parent, off: 0, n: 0, guard: psum.guard})
			default:
				e.near(what+" y", e.get(py), wantY, mag, 2e-6, 2e-6)
				e.near(what+" sum", e.get(psum), wantSum, nil, 1e-7, 0)
			}
			e.guarded(what, py)
		}
	}
}

func testEmbed(e *env) {
	for _, cols := range []int{1, 13, 64, 385} {
		const rows = 50
		table := e.randn(rows * cols)
		ids := make([]int32, 77)
		for i := range ids {
			ids[i] = int32(e.rng.IntN(rows))
		}
		ids[0], ids[1] = 0, rows-1
		for _, add := range []bool{false, true} {
			y := e.randn(len(ids) * cols)
			want := make([]float64, len(y))
			for i, id := range ids {
				for j := range cols {
					v := float64(table[int(id)*cols+j])
					if add {
						v += float64(y[i*cols+j])
					}
					want[i*cols+j] = v
				}
			}
			pt, py := e.put(table), e.put(y)
			e.be.Embed(py.view, pt.view, ids, cols, add)
			what := fmt.Sprintf("Embed(cols=%d add=%v)", cols, add)
			e.near(what, e.get(py), want, nil, 1e-7, 0)
			e.guarded(what, py)
		}
	}
}

// attnCase is one attention shape and mask pattern.
type attnCase struct {
	B, T, H, hd int
	causal      bool
	lens        []int    // real tokens per sequence (right padding)
	holes       [][2]int // (sequence, position) made padding inside the real part
}

func attnCases() []attnCase {
	return []attnCase{
		{B: 1, T: 1, H: 1, hd: 1, lens: []int{1}},
		{B: 2, T: 5, H: 3, hd: 4, lens: []int{5, 3}},
		{B: 3, T: 19, H: 2, hd: 16, lens: []int{19, 7, 0}}, // a fully padded sequence: all keys masked
		{B: 2, T: 37, H: 2, hd: 33, lens: []int{30, 37}, holes: [][2]int{{0, 4}, {1, 36}}},
		{B: 2, T: 17, H: 2, hd: 8, causal: true, lens: []int{17, 9}},
		{B: 2, T: 40, H: 1, hd: 64, causal: true, lens: []int{33, 40}, holes: [][2]int{{1, 0}}},
		{B: 2, T: 64, H: 3, hd: 32, lens: []int{64, 50}},
		{B: 1, T: 130, H: 2, hd: 7, lens: []int{129}},
	}
}

func (c attnCase) attn() kernels.Attn {
	mask := make([]uint8, c.B*c.T)
	for b, l := range c.lens {
		for i := range l {
			mask[b*c.T+i] = 1
		}
	}
	for _, h := range c.holes {
		mask[h[0]*c.T+h[1]] = 0
	}
	return kernels.Attn{Batch: c.B, Seq: c.T, Heads: c.H, HeadDim: c.hd, KeyMask: mask, Causal: c.causal,
		Scale: float32(1 / math.Sqrt(float64(c.hd)))}
}

func testAttention(e *env) {
	for _, c := range attnCases() {
		a := c.attn()
		D := c.H * c.hd
		qkv := e.uniform(c.B*c.T*3*D, -2, 2)
		wantCtx, wantProbs := refAttention(to64(qkv), a)
		for _, withProbs := range []bool{false, true} {
			pq, pc := e.put(qkv), e.put(e.randn(c.B*c.T*D))
			var pp *placed
			var probs kernels.Buffer
			if withProbs {
				pp = e.put(e.randn(c.B * c.H * c.T * c.T))
				probs = pp.view
			}
			e.be.Attention(pc.view, pq.view, a, probs)
			what := fmt.Sprintf("Attention(B=%d T=%d H=%d hd=%d causal=%v lens=%v holes=%v probs=%v)",
				c.B, c.T, c.H, c.hd, c.causal, c.lens, c.holes, withProbs)
			got := e.get(pc)
			e.finite(what+" ctx", got)
			// rows of padding queries may hold any finite value
			w := append([]float64(nil), wantCtx...)
			for r := range c.B * c.T {
				if a.KeyMask[r] == 0 {
					for d := range D {
						got[r*D+d], w[r*D+d] = 0, 0
					}
				}
			}
			e.near(what+" ctx", got, w, nil, 2e-5, 2e-5)
			e.guarded(what+" ctx", pc)
			if pp == nil {
				continue
			}
			gp := e.get(pp)
			e.finite(what+" probs", gp)
			wp := append([]float64(nil), wantProbs...)
			for b := range c.B {
				for h := range c.H {
					for i := range c.T {
						if a.KeyMask[b*c.T+i] == 0 {
							row := ((b*c.H+h)*c.T + i) * c.T
							for j := range c.T {
								gp[row+j], wp[row+j] = 0, 0
							}
						}
					}
				}
			}
			e.near(what+" probs", gp, wp, nil, 2e-5, 1e-6)
			e.guarded(what+" probs", pp)
		}
	}
}

// testConcurrent runs ops from several goroutines at once on shared inputs
// (each with its own output) and checks each result against a serial run.
func testConcurrent(t *testing.T, be kernels.Backend) {
	e := newEnv(t, be, 99)
	const m, n, k = 96, 80, 72
	x, w, bias := be.Upload(e.randn(m*k)), be.Upload(e.uniform(n*k, -0.3, 0.3)), be.Upload(e.randn(n))
	g, bt := be.Upload(e.uniform(n, 0.5, 1.5)), be.Upload(e.randn(n))
	c := attnCase{B: 3, T: 24, H: 2, hd: 16, lens: []int{24, 10, 17}}
	a := c.attn()
	qkv := be.Upload(e.randn(c.B * c.T * 3 * c.H * c.hd))
	run := func() []float32 {
		y := be.Alloc(m * n)
		be.Linear(y, n, x, m, n, k, w, kernels.OutIn, bias, kernels.ActGELU)
		be.AddNorm(y, nil, y, nil, n, 1e-5, []kernels.NormSeg{{Rows: m, Gamma: g, Beta: bt}})
		be.Activate(y, y, m*n, kernels.ActTanh)
		ctx := be.Alloc(c.B * c.T * c.H * c.hd)
		be.Attention(ctx, qkv, a, nil)
		out := make([]float32, m*n+ctx.Len())
		be.Download(out[:m*n], y)
		be.Download(out[m*n:], ctx)
		be.Free(y)
		be.Free(ctx)
		return out
	}
	want := to64(run())
	var wg sync.WaitGroup
	results := make([][]float32, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				results[i] = run()
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		e.near(fmt.Sprintf("concurrent run %d", i), r, want, nil, 1e-5, 1e-6)
	}
}
