package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ref "github.com/nlpodyssey/safetensors"
)

func TestWriteRoundTrip(t *testing.T) {
	tensors := sampleTensors()
	meta := map[string]string{"format": "pt", "note": `quotes " and <html> & unicode é 中`}
	raw := mustEncode(t, tensors, meta)
	f, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(f.Metadata(), meta) {
		t.Errorf("metadata %v", f.Metadata())
	}
	if len(f.Names()) != len(tensors) {
		t.Fatalf("names %v", f.Names())
	}
	for _, want := range tensors {
		info, err := f.Tensor(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if info.DType != want.DType || !slices.Equal(info.Shape, want.Shape) {
			t.Errorf("%s: %v %v, want %v %v", want.Name, info.DType, info.Shape, want.DType, want.Shape)
		}
		b, _ := f.Bytes(want.Name)
		if !bytes.Equal(b, want.Data) {
			t.Errorf("%s: data differs", want.Name)
		}
	}

	// Layout: header padded with spaces to a multiple of 8, and every
	// tensor's data aligned to its element size, so F32 reads alias.
	n := binary.LittleEndian.Uint64(raw)
	header := raw[8 : 8+n]
	trimmed := bytes.TrimRight(header, " ")
	if n%8 != 0 || header[0] != '{' || trimmed[len(trimmed)-1] != '}' || len(header)-len(trimmed) >= 8 {
		t.Errorf("header %q is not an object space-padded to a multiple of 8 bytes", header)
	}
	for _, name := range f.Names() {
		e := f.tensors[name]
		if e.begin%e.info.DType.Size() != 0 {
			t.Errorf("%s (%s) at file offset %d is misaligned", name, e.info.DType, e.begin)
		}
	}
	w, _ := f.Float32("w")
	if !aliases(w, raw) {
		t.Error("F32 tensor of a parsed buffer was copied")
	}
}

// TestWriteDeterministic: input order and map order do not change the bytes,
// and the layout is the one documented (header keys by name, data by
// descending element size then name).
func TestWriteDeterministic(t *testing.T) {
	tensors := sampleTensors()
	meta := map[string]string{"b": "2", "a": "1", "c": "3"}
	first := mustEncode(t, tensors, meta)
	for i := 0; i < 20; i++ {
		shuffled := slices.Clone(tensors)
		slices.Reverse(shuffled)
		if i%2 == 0 {
			shuffled[0], shuffled[len(shuffled)-1] = shuffled[len(shuffled)-1], shuffled[0]
		}
		m := map[string]string{}
		for k, v := range meta {
			m[k] = v
		}
		if got := mustEncode(t, shuffled, m); !bytes.Equal(got, first) {
			t.Fatalf("output differs:\n%q\n%q", got, first)
		}
	}
	small := mustEncode(t, []Tensor{
		Float16Tensor("b", []int{1}, []float32{1}),
		Float32Tensor("a", []int{1}, []float32{2}),
	}, map[string]string{"format": "pt"})
	header := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[1],"data_offsets":[4,6]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	want := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	want = append(want, header...)
	want = append(want, 0, 0, 0, 0x40, 0, 0x3c)
	if !bytes.Equal(small, want) {
		t.Errorf("got  %q\nwant %q", small, want)
	}
}

// TestWriteReproducesTestdata re-encodes every test file. They were written
// by other tooling in the reference layout (compact JSON, metadata first,
// all F32 in name order, space padding), so the bytes must come out
// identical, up to the order of metadata keys.
func TestWriteReproducesTestdata(t *testing.T) {
	for _, path := range testdataFiles(t) {
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var tensors []Tensor
		for _, name := range f.Names() {
			info, _ := f.Tensor(name)
			b, _ := f.Bytes(name)
			tensors = append(tensors, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: b})
		}
		out := mustEncode(t, tensors, f.Metadata())
		orig, _ := os.ReadFile(path)
		g, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		// Same tensors in any case.
		for _, name := range f.Names() {
			a, _ := f.Bytes(name)
			b, _ := g.Bytes(name)
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: %s differs after re-encoding", path, name)
			}
		}
		if len(f.Metadata()) < 2 {
			if !bytes.Equal(out, orig) {
				t.Errorf("%s: re-encoded bytes differ from the original", path)
			}
		} else {
			// The originals keep metadata in insertion order, we sort it:
			// same header length, same data section.
			if len(out) != len(orig) || !bytes.Equal(out[:8], orig[:8]) {
				t.Errorf("%s: re-encoded file is %d bytes, original %d", path, len(out), len(orig))
			} else if start := 8 + binary.LittleEndian.Uint64(orig); !bytes.Equal(out[start:], orig[start:]) {
				t.Errorf("%s: re-encoded data section differs", path)
			}
		}
		f.Close()
	}
}

// TestWriteReference checks that the independent reference parser reads
// what Write produces.
func TestWriteReference(t *testing.T) {
	for _, meta := range []map[string]string{nil, {"format": "pt", "x": "<&>"}} {
		raw := mustEncode(t, sampleTensors(), meta)
		st, err := ref.Deserialize(raw)
		if err != nil {
			t.Fatalf("reference parser rejects our output: %v", err)
		}
		_, h, _ := ref.ReadMetadata(raw)
		if len(meta) > 0 && !mapsEqual(h.Metadata(), meta) {
			t.Errorf("reference metadata %v", h.Metadata())
		}
		for _, want := range sampleTensors() {
			v, ok := st.Tensor(want.Name)
			if !ok {
				t.Fatalf("reference parser has no %s", want.Name)
			}
			if v.DType().String() != string(want.DType) || !bytes.Equal(v.Data(), want.Data) || len(v.Shape()) != len(want.Shape) {
				t.Errorf("%s: reference reads %s %v", want.Name, v.DType(), v.Shape())
			}
			for i, d := range v.Shape() {
				if int(d) != want.Shape[i] {
					t.Errorf("%s: reference shape %v, want %v", want.Name, v.Shape(), want.Shape)
				}
			}
		}
	}
}

func TestWriteErrors(t *testing.T) {
	ok := Float32Tensor("a", []int{2}, []float32{1, 2})
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"duplicate", []Tensor{ok, ok}, nil, `tensor "a": name appears twice`},
		{"no name", []Tensor{{DType: F32, Shape: []int{0}}}, nil, "tensor 0 has no name"},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: F32, Shape: []int{0}}}, nil, "reserved"},
		{"unknown dtype", []Tensor{{Name: "x", DType: "F128", Shape: []int{0}}}, nil, `unknown dtype "F128"`},
		{"short data", []Tensor{Float32Tensor("x", []int{3}, []float32{1, 2})}, nil, "needs 3 elements, but Data holds 8 bytes"},
		{"negative dim", []Tensor{{Name: "x", DType: F32, Shape: []int{-1}}}, nil, "negative dimension"},
		{"overflow", []Tensor{{Name: "x", DType: F32, Shape: []int{math.MaxInt, math.MaxInt}}}, nil, "overflows"},
		{"bad UTF-8 name", []Tensor{{Name: "x\xff", DType: F32, Shape: []int{0}}}, nil, "not valid UTF-8"},
		{"bad UTF-8 metadata", []Tensor{ok}, map[string]string{"k": "\xff"}, "not valid UTF-8"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := Write(&buf, c.tensors, c.meta)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes before failing", c.name, buf.Len())
		}
	}
	// An empty file is valid.
	f, err := Parse(mustEncode(t, nil, nil))
	if err != nil || len(f.Names()) != 0 {
		t.Errorf("empty file: %v", err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "adapter.safetensors")
	v1 := []Tensor{Float32Tensor("a", []int{2}, []float32{1, 2})}
	v2 := []Tensor{Float32Tensor("a", []int{3}, []float32{3, 4, 5})}
	if err := WriteFile(path, v1, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, v2, map[string]string{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, mustEncode(t, v2, map[string]string{"v": "2"})) {
		t.Error("file does not hold the second version")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	// Bad input fails before touching anything.
	if err := WriteFile(path, []Tensor{{Name: "", DType: F32}}, nil); err == nil {
		t.Error("accepted a nameless tensor")
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, got) {
		t.Error("failed write changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.safetensors"), v1, nil); err == nil {
		t.Error("wrote into a missing directory")
	}
	// Write reports the writer's errors.
	if err := Write(&failWriter{n: 20}, v1, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failing writer: %v", err)
	}
}
