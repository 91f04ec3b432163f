package cpu

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/adapterdb/adapterdb/kernels"
)

// mappedFloats writes n random floats to a file and maps it read-only, as
// a checkpoint is mapped.
func mappedFloats(t *testing.T, n int, seed uint64) []float32 {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	raw := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(r.NormFloat64())))
	}
	path := filepath.Join(t.TempDir(), "weights")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, len(raw), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(data) })
	return unsafe.Slice((*float32)(unsafe.Pointer(&data[0])), n)
}

// mappedPages counts the pages of w that are mapped into the process
// (/proc/self/pagemap's present bit, readable without privileges).
func mappedPages(t *testing.T, w []float32) int {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no pagemap: %v", err)
	}
	defer f.Close()
	page := uintptr(os.Getpagesize())
	lo := uintptr(unsafe.Pointer(&w[0])) / page
	hi := (uintptr(unsafe.Pointer(&w[0])) + uintptr(4*len(w)) + page - 1) / page
	buf := make([]byte, 8*(hi-lo))
	if _, err := f.ReadAt(buf, int64(8*lo)); err != nil {
		t.Skipf("pagemap: %v", err)
	}
	n := 0
	for i := 0; i < len(buf); i += 8 {
		if binary.LittleEndian.Uint64(buf[i:])>>63 == 1 {
			n++
		}
	}
	return n
}

// TestPackedWeightsStayReleased: a weight in a read-only file mapping (the
// checkpoint) is read once, to pack it, and its pages are dropped; later
// products do not read it again. Reading one value of it would map back the
// page cache's whole folio around it (up to 2 MiB where the file system
// caches in large folios), and fingerprinting it on every product kept a
// quarter of BERT-base's checkpoint resident beside its packed copy.
func TestPackedWeightsStayReleased(t *testing.T) {
	be := oneDNNBackend(t, "fp32")
	const m, n, k = 16, 1536, 384
	w := mappedFloats(t, n*k, 1)
	parts := make([]kernels.Buffer, 3) // a stacked q, k, v
	for i := range parts {
		parts[i] = be.Upload(mappedFloats(t, k*k, uint64(2+i)))
	}
	st := be.Stack(parts, k, k)
	x := randBuf(be, m*k, 5)
	y, ys := be.Alloc(m*n), be.Alloc(m*3*k)
	for range 3 {
		be.Linear(y, n, x, m, n, k, be.Upload(w), kernels.OutIn, nil, kernels.ActNone)
		be.Linear(ys, 3*k, x, m, 3*k, k, st, kernels.OutIn, nil, kernels.ActNone)
	}
	if p := mappedPages(t, w); p != 0 {
		t.Errorf("%d of the weight's %d pages are mapped after three products", p, 4*n*k/os.Getpagesize())
	}
	for i, b := range parts {
		if p := mappedPages(t, data(b)); p != 0 {
			t.Errorf("stack part %d: %d pages mapped after three products", i, p)
		}
	}
	// The products are the weights' all the same.
	want := be.Alloc(m * n)
	be.linear(data(want), n, data(x), m, n, k, append([]float32(nil), w...), true, k, nil, kernels.ActNone, false)
	got, exp := make([]float32, m*n), make([]float32, m*n)
	be.Download(got, y)
	be.Download(exp, want)
	for i := range got {
		if d := math.Abs(float64(got[i] - exp[i])); d > 1e-3*(1+math.Abs(float64(exp[i]))) {
			t.Fatalf("y[%d] = %g, want %g", i, got[i], exp[i])
		}
	}
}

// TestTableReleasesPages: a bfloat16 embedding table made from a read-only
// file mapping leaves none of the file's pages in the process, and Embed
// does not bring them back.
func TestTableReleasesPages(t *testing.T) {
	be := oneDNNBackend(t, "bf16")
	const rows, cols = 1000, 384
	src := mappedFloats(t, rows*cols, 7)
	tab := be.Table(be.Upload(src), cols)
	be.Embed(be.Alloc(3*cols), tab, []int32{0, 500, 999}, cols, false)
	if p := mappedPages(t, src); p != 0 {
		t.Errorf("%d of the table's %d pages are mapped", p, 4*rows*cols/os.Getpagesize())
	}
}
