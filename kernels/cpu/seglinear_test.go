package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
)

// TestSegLinearFewRows: SegLinear's segments of one row, of a few rows (on
// OpenBLAS, below gemmMinRows) and of more (on oneDNN) agree with float64,
// segments without weights left alone.
func TestSegLinearFewRows(t *testing.T) {
	be, err := New(zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	const n, k = 48, 40
	rows := []int{1, 16, 0, 3, gemmMinRows - 1, gemmMinRows}
	segs := make([]kernels.LinearSeg, len(rows))
	ws := make([][]float32, len(rows))
	M := 0
	for i, n0 := range rows {
		segs[i].Rows = n0
		M += n0
		if i != 3 {
			ws[i] = randVec(r, n*k, 0.5)
			segs[i].W, segs[i].Bias = be.Upload(ws[i]), be.Upload(randVec(r, n, 1))
		}
	}
	x := randVec(r, M*k, 1)
	y0 := randVec(r, M*n, 1)
	y := be.Upload(append([]float32(nil), y0...))
	be.SegLinear(y, be.Upload(x), n, k, segs, kernels.ActNone, true)
	got := data(y)
	off := 0
	for i, rs := range rows {
		if ws[i] != nil {
			want, mag := linearRef(x[off*k:(off+rs)*k], rs, n, k, ws[i], kernels.OutIn, data(segs[i].Bias), kernels.ActNone)
			for p := range want {
				if d := math.Abs(float64(got[off*n+p]) - float64(y0[off*n+p]) - want[p]); d > 1e-5*(mag[p]+1) {
					t.Fatalf("segment %d (%d rows): value %d off by %g", i, rs, p, d)
				}
			}
		} else {
			for p := off * n; p < (off+rs)*n; p++ {
				if got[p] != y0[p] {
					t.Fatalf("segment %d without weights: value %d changed", i, p)
				}
			}
		}
		off += rs
	}
}

// BenchmarkAdapterBlock is one adapter block of MiniLM-L6 (384 → 64 → 384,
// bias, ReLU, added to its input) at the row counts of short single-row
// PREDICTs and kept rows, on OpenBLAS and on oneDNN, all on one locked
// thread as the scheduler runs passes (sub-benchmarks run on goroutines of
// their own: on other threads libgomp would start more thread teams and
// stop spinning). gemmMinRows is where oneDNN takes over.
//
//	go test ./kernels/cpu -run '^$' -bench AdapterBlock -benchtime 3000x
func BenchmarkAdapterBlock(b *testing.B) {
	dnnBe, err := New(zerolog.Nop(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if dnnBe.dnn == nil {
		b.Skip("no oneDNN here")
	}
	blasBe, err := New(zerolog.Nop(), Options{OneDNN: "off"})
	if err != nil {
		b.Fatal(err)
	}
	work, done := make(chan func()), make(chan struct{})
	defer close(work)
	go func() {
		runtime.LockOSThread()
		for f := range work {
			f()
			done <- struct{}{}
		}
	}()
	onThread := func(f func()) { work <- f; <-done }
	const H, m = 384, 64
	for _, M := range []int{1, 2, 4, 6, 8, 16} {
		for _, path := range []string{"openblas", "onednn"} {
			b.Run(fmt.Sprintf("rows=%d/%s", M, path), func(b *testing.B) {
				be := blasBe
				if path == "onednn" {
					be = dnnBe
				}
				z, d := data(randBuf(be, M*H, 1)), data(be.Alloc(M*m))
				wd, bd, wu, bu := data(randBuf(be, m*H, 2)), data(randBuf(be, m, 3)), data(randBuf(be, m*H, 4)), data(randBuf(be, H, 5))
				down := gemmKey{m: M, n: m, k: H, tB: true, lda: H, ldb: H, ldc: m, bias: true, act: kernels.ActReLU}
				up := gemmKey{m: M, n: H, k: m, tB: true, lda: m, ldb: m, ldc: H, bias: true, acc: true}
				block := func() {
					if path == "openblas" {
						be.linear(d, m, z, M, m, H, wd, true, H, bd, kernels.ActReLU, false)
						be.linear(z, H, d, M, H, m, wu, true, m, bu, kernels.ActNone, true)
						return
					}
					if !be.dnn.runGemm(down, z, wd, bd, d) || !be.dnn.runGemm(up, d, wu, bu, z) {
						b.Fatal("not run on oneDNN")
					}
				}
				onThread(block) // warm-up: primitives, threads
				b.ResetTimer()
				onThread(func() {
					for range b.N {
						block()
					}
				})
				reportRate(b, 4*float64(M*H*m), 0, 0)
			})
		}
	}
}
