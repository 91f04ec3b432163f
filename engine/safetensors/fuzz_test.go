package safetensors

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ref "github.com/nlpodyssey/safetensors"
)

// fuzzSeeds are small valid files and near misses.
func fuzzSeeds(f *testing.F) {
	valid := mustEncode(f, sampleTensors(), map[string]string{"format": "pt"})
	f.Add(valid)
	f.Add(mustEncode(f, nil, nil))
	f.Add(mustEncode(f, []Tensor{Float32Tensor("a", []int{2}, []float32{1, 2})}, nil))
	f.Add(valid[:len(valid)-3])
	f.Add(valid[:20])
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}}`, make([]byte, 9)))
	f.Add(rawFile(`{"__metadata__":{"k":1}}`, nil))
	f.Add([]byte{})
}

// readAll exercises every accessor of a parsed file.
func readAll(t *testing.T, st *File) {
	st.Metadata()
	for _, name := range st.Names() {
		info, err := st.Tensor(name)
		if err != nil {
			t.Fatalf("listed tensor %q: %v", name, err)
		}
		b, err := st.Bytes(name)
		if err != nil || len(b) != info.NumElements()*info.DType.Size() {
			t.Fatalf("tensor %q: %d bytes for %v %s: %v", name, len(b), info.Shape, info.DType, err)
		}
		v, err := st.Float32(name)
		if info.DType.IsFloat() {
			if err != nil || len(v) != info.NumElements() {
				t.Fatalf("tensor %q: %d values for %v: %v", name, len(v), info.Shape, err)
			}
		} else if err == nil {
			t.Fatalf("tensor %q of %s read as float32", name, info.DType)
		}
	}
}

// FuzzOpen writes arbitrary bytes to a file and opens it: Open must return
// a File whose every tensor can be read, or an ErrFormat error; never panic.
func FuzzOpen(f *testing.F) {
	fuzzSeeds(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := Open(path)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not match ErrFormat: %v", err)
			}
			return
		}
		defer st.Close()
		readAll(t, st)
	})
}

// referenceDTypes are the types the reference parser knows.
var referenceDTypes = []DType{BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64}

// FuzzParse checks Parse on bytes, and that what it accepts (1) the reference
// parser accepts too, with the same tensors, and (2) survives a round trip
// through Write unchanged.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not match ErrFormat: %v", err)
			}
			return
		}
		readAll(t, st)

		known := true
		var tensors []Tensor
		for _, name := range st.Names() {
			info, _ := st.Tensor(name)
			b, _ := st.Bytes(name)
			tensors = append(tensors, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: b})
			known = known && slices.Contains(referenceDTypes, info.DType)
		}
		if known {
			r, err := ref.Deserialize(data)
			if err != nil {
				t.Fatalf("accepted a file the reference parser rejects: %v", err)
			}
			if r.Len() != len(tensors) {
				t.Fatalf("%d tensors, reference %d", len(tensors), r.Len())
			}
			for _, want := range tensors {
				v, ok := r.Tensor(want.Name)
				if !ok || !bytes.Equal(v.Data(), want.Data) || v.DType().String() != string(want.DType) {
					t.Fatalf("tensor %q differs from the reference", want.Name)
				}
			}
		}

		for _, tt := range tensors {
			if tt.Name == "" {
				return // the writer refuses nameless tensors
			}
		}
		out, err := Encode(tensors, st.Metadata())
		if err != nil {
			t.Fatalf("cannot re-encode a parsed file: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if !slices.Equal(again.Names(), st.Names()) || !mapsEqual(again.Metadata(), st.Metadata()) {
			t.Fatalf("round trip changed names or metadata")
		}
		for _, want := range tensors {
			info, _ := again.Tensor(want.Name)
			b, _ := again.Bytes(want.Name)
			if info.DType != want.DType || !slices.Equal(info.Shape, want.Shape) || !bytes.Equal(b, want.Data) {
				t.Fatalf("round trip changed tensor %q", want.Name)
			}
		}
		if out2, _ := Encode(tensors, again.Metadata()); !bytes.Equal(out, out2) {
			t.Fatal("encoding is not deterministic")
		}
	})
}
