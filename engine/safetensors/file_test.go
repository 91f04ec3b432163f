package safetensors

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ref "github.com/nlpodyssey/safetensors"
)

const testdata = "../../testdata"

// testdataFiles lists every safetensors file the engine reads in its tests.
func testdataFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"models/*/model.safetensors", "golden/*/golden.safetensors", "adapters/*/*.safetensors"} {
		m, err := filepath.Glob(filepath.Join(testdata, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4+4+4*10 {
		t.Fatalf("found only %d safetensors files under %s", len(files), testdata)
	}
	return files
}

// TestOpenTestdata reads every test file and checks it against the
// independent reference parser: same names, dtypes, shapes and bytes, and
// F32 data served from the mapping without a copy.
func TestOpenTestdata(t *testing.T) {
	for _, path := range testdataFiles(t) {
		t.Run(strings.TrimPrefix(path, testdata+"/"), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.Deserialize(raw)
			if err != nil {
				t.Fatalf("reference parser: %v", err)
			}
			wantNames := want.Names()
			slices.Sort(wantNames)
			if !slices.Equal(f.Names(), wantNames) {
				t.Fatalf("names %v, reference %v", f.Names(), wantNames)
			}
			for _, name := range f.Names() {
				info, err := f.Tensor(name)
				if err != nil {
					t.Fatal(err)
				}
				view, _ := want.Tensor(name)
				if string(info.DType) != view.DType().String() {
					t.Errorf("%s: dtype %s, reference %s", name, info.DType, view.DType())
				}
				if len(info.Shape) != len(view.Shape()) {
					t.Fatalf("%s: shape %v, reference %v", name, info.Shape, view.Shape())
				}
				for i, d := range view.Shape() {
					if uint64(info.Shape[i]) != d {
						t.Fatalf("%s: shape %v, reference %v", name, info.Shape, view.Shape())
					}
				}
				b, err := f.Bytes(name)
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != string(view.Data()) {
					t.Errorf("%s: bytes differ from the reference", name)
				}
				v, err := f.Float32(name)
				if err != nil {
					t.Fatal(err)
				}
				if len(v) != info.NumElements() || 4*len(v) != len(b) {
					t.Fatalf("%s: %d values for shape %v and %d bytes", name, len(v), info.Shape, len(b))
				}
				if info.DType != F32 {
					t.Fatalf("%s: test files hold only F32, got %s", name, info.DType)
				}
				if len(v) > 0 && !aliases(v, f.data) {
					t.Errorf("%s: F32 data was copied, want a slice of the mapping", name)
				}
				for i, x := range v {
					if math.Float32bits(x) != uint32(b[4*i])|uint32(b[4*i+1])<<8|uint32(b[4*i+2])<<16|uint32(b[4*i+3])<<24 {
						t.Fatalf("%s[%d] = %v does not match its bytes", name, i, x)
					}
				}
			}
			_, refHeader, err := ref.ReadMetadata(raw)
			if err != nil {
				t.Fatal(err)
			}
			refMeta := refHeader.Metadata()
			if len(refMeta) == 0 {
				refMeta = nil
			}
			if got := f.Metadata(); !mapsEqual(got, refMeta) {
				t.Errorf("metadata %v, reference %v", got, refMeta)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestTestdataContents checks values the files' generator documents: model
// shapes and metadata, adapter tensor lists, and the stored losses against
// the float64 values in golden.json.
func TestTestdataContents(t *testing.T) {
	f, err := Open(filepath.Join(testdata, "models/bert-tiny/model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata(); !mapsEqual(got, map[string]string{"format": "pt"}) {
		t.Errorf("bert-tiny metadata %v", got)
	}
	for name, shape := range map[string][]int{
		"embeddings.word_embeddings.weight":               {30522, 32},
		"embeddings.position_embeddings.weight":           {128, 32},
		"encoder.layer.1.intermediate.dense.weight":       {64, 32},
		"encoder.layer.0.attention.output.LayerNorm.bias": {32},
	} {
		info, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(info.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", name, info.Shape, shape)
		}
	}

	dirs, _ := filepath.Glob(filepath.Join(testdata, "adapters/*"))
	checked := 0
	for _, dir := range dirs {
		raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
		if err != nil {
			continue
		}
		var g struct {
			AdapterTensors  map[string][]int `json:"adapter_tensors"`
			LayerNormCopies map[string][]int `json:"layernorm_copies"`
			Tests           []struct {
				Name        string  `json:"name"`
				AdapterFile string  `json:"adapter_file"`
				GoldenFile  string  `json:"golden_file"`
				Loss        float64 `json:"loss"`
			} `json:"tests"`
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		for _, tc := range g.Tests {
			if tc.AdapterFile != "" {
				a, err := Open(filepath.Join(dir, tc.AdapterFile))
				if err != nil {
					t.Fatal(err)
				}
				want := map[string][]int{}
				for n, s := range g.AdapterTensors {
					want[n] = s
				}
				for n, s := range g.LayerNormCopies {
					want[n] = s
				}
				names := a.Names()
				if len(names) != len(want)+2 {
					t.Errorf("%s: %d tensors, want %d + head", a.Path(), len(names), len(want))
				}
				for n, s := range want {
					info, err := a.Tensor(n)
					if err != nil {
						t.Error(err)
						continue
					}
					if !slices.Equal(info.Shape, s) {
						t.Errorf("%s: %s shape %v, want %v", a.Path(), n, info.Shape, s)
					}
				}
				if a.Metadata()["format"] != "adapter" {
					t.Errorf("%s: metadata %v", a.Path(), a.Metadata())
				}
				a.Close()
			}
			if tc.Loss != 0 {
				gf, err := Open(filepath.Join(dir, tc.GoldenFile))
				if err != nil {
					t.Fatal(err)
				}
				loss, err := gf.Float32("loss")
				if err != nil {
					t.Fatal(err)
				}
				if len(loss) != 1 || math.Abs(float64(loss[0])-tc.Loss) > 1e-6 {
					t.Errorf("%s: loss %v, golden.json says %v", gf.Path(), loss, tc.Loss)
				}
				gf.Close()
				checked++
			}
		}
	}
	if checked < 16 {
		t.Errorf("checked only %d losses", checked)
	}
}

func TestFloatDTypes(t *testing.T) {
	f, err := Parse(mustEncode(t, sampleTensors(), nil))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]float32{
		"w":      {1, -2, 3.5, 0, 1e-30, -7},
		"half":   {1, 0.5, -65504},
		"brain":  {1, -2, 3.140625},
		"f64":    {1, -2},
		"scalar": {42},
		"empty":  {},
	}
	for name, want := range cases {
		got, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"ids", "flag"} {
		if _, err := f.Float32(name); err == nil || !strings.Contains(err.Error(), "cannot be read as float32") || !strings.Contains(err.Error(), name) {
			t.Errorf("Float32(%s): %v", name, err)
		}
	}
	if _, err := f.Float32("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	if _, err := f.Tensor("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tensor: %v", err)
	}
	info, err := f.Tensor("scalar")
	if err != nil || len(info.Shape) != 0 || info.NumElements() != 1 || info.DType != F32 {
		t.Errorf("scalar: %+v %v", info, err)
	}
	// Tensor returns a copy of the shape.
	info, _ = f.Tensor("w")
	info.Shape[0] = 99
	if again, _ := f.Tensor("w"); again.Shape[0] != 2 {
		t.Error("Tensor's shape aliases the File")
	}
}

// TestF16Conversion reads an F16 tensor holding every float16 bit pattern.
func TestF16AllValues(t *testing.T) {
	data := make([]byte, 2<<16)
	for i := 0; i < 1<<16; i++ {
		data[2*i], data[2*i+1] = byte(i), byte(i>>8)
	}
	f, err := Parse(mustEncode(t, []Tensor{{Name: "all", DType: F16, Shape: []int{1 << 16}, Data: data}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Float32("all")
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range v {
		want := f16Value(uint16(i))
		if math.IsNaN(want) != math.IsNaN(float64(x)) || (!math.IsNaN(want) && float64(x) != want) {
			t.Fatalf("element %#04x = %v, want %v", i, x, want)
		}
	}
}

// TestUnalignedF32 checks that F32 data at an odd offset is copied, not
// aliased through a misaligned pointer.
func TestUnalignedF32(t *testing.T) {
	hdr := `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}}`
	data := []byte{7, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0} // 1, -2
	file := rawFile(hdr, data)
	for _, open := range []func() (*File, error){
		func() (*File, error) { return Parse(file) },
		func() (*File, error) { return Open(writeTemp(t, "u.safetensors", file)) },
	} {
		f, err := open()
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Float32("b")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v, []float32{1, -2}) {
			t.Errorf("b = %v", v)
		}
		if aliases(v, f.data) {
			t.Error("misaligned F32 data was aliased")
		}
		f.Close()
	}
}

func TestClose(t *testing.T) {
	path := writeTemp(t, "x.safetensors", mustEncode(t, sampleTensors(), map[string]string{"k": "v"}))
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path() != path {
		t.Errorf("Path %q", f.Path())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Float32("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Float32 after Close: %v", err)
	}
	if _, err := f.Bytes("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Bytes after Close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing.safetensors")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

// TestBadFiles feeds malformed files to Open and Parse. Each must fail with
// an ErrFormat error that names the file, the tensor at fault (if any) and
// the problem.
func TestBadFiles(t *testing.T) {
	f32x2 := make([]byte, 8)
	hugeLen := make([]byte, 16)
	hugeLen[5] = 1 // 2^40
	cases := []struct {
		name   string
		file   []byte
		tensor string // "" when no tensor is at fault
		want   string
	}{
		{"empty", nil, "", "file is empty"},
		{"short", []byte{1, 2, 3, 4, 5}, "", "too short for the 8-byte header length"},
		{"zero header length", make([]byte, 8), "", "header length is 0"},
		{"header length beyond the file", append([]byte{100, 0, 0, 0, 0, 0, 0, 0}, "{}      "...), "", "header length 100 is larger than the 8 bytes"},
		{"header length over the limit", hugeLen, "", "exceeds the limit"},
		{"a CSV file", []byte("text,label\nhello,a\n"), "", `not a safetensors file: it starts with the text "text,lab"`},
		{"a CSV file with a byte-order mark", []byte("\ufefftext,label\nhello,a\n"), "", "not a safetensors file: it starts with the text"},
		{"a JSON file", []byte("{\"a\": 1}\n"), "", `not a safetensors file: it starts with the text "{\"a\": 1}"`},
		{"not UTF-8", rawFile("{\"a\xff\":1}", nil), "", "not valid UTF-8"},
		{"not an object", rawFile(`[1, 2]`, nil), "", "does not start with '{'"},
		{"leading space", rawFile(` {}`, nil), "", "does not start with '{'"},
		{"invalid JSON", rawFile(`{"a": }`, nil), "a", "not valid JSON"},
		{"invalid JSON between entries", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]} "b"}`, nil), "", "not valid JSON"},
		{"unterminated JSON", rawFile(`{"a": {"dtype": "F32"`, nil), "a", "ends inside"},
		{"trailing garbage", rawFile(`{} x`, nil), "", "after its JSON object"},
		{"two objects", rawFile(`{}{}`, nil), "", "after its JSON object"},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, f32x2), "a", `unknown dtype "F33"`},
		{"sub-byte dtype", rawFile(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, []byte{0}), "a", `unknown dtype "F4"`},
		{"dtype not a string", rawFile(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, f32x2), "a", "dtype must be a string"},
		{"shape lies", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32x2), "a", "shape [3] of F32 is 12 bytes but data_offsets [0, 8] span 8"},
		{"dtype lies", rawFile(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, f32x2), "a", "of F64 is 16 bytes"},
		{"offsets past the data", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, f32x2), "a", "run past the end of the 8-byte data section"},
		{"offsets backwards", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, f32x2), "a", "end before they begin"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "b", `overlaps tensor "a"`},
		{"same offsets", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32x2), "b", `overlaps tensor "a"`},
		{"empty tensor inside another", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, f32x2), "b", `overlaps tensor "a"`},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "b", "4-byte gap"},
		{"gap at the start", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), "a", "4-byte gap"},
		{"bytes after the last tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32x2), "", "4 bytes in the data section after the last tensor"},
		{"data but no tensors", rawFile(`{}`, f32x2), "", "8 bytes in the data section after"},
		{"duplicate name", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), "a", "appears twice"},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "", "__metadata__ appears twice"},
		{"metadata number", rawFile(`{"__metadata__":{"k":1}}`, nil), "", `__metadata__ value of "k" must be a string, got the number 1`},
		{"metadata object", rawFile(`{"__metadata__":{"k":{"x":"y"}}}`, nil), "", `value of "k" must be a string, got an object`},
		{"metadata not an object", rawFile(`{"__metadata__":"pt"}`, nil), "", "__metadata__ must be an object of strings"},
		{"metadata duplicate key", rawFile(`{"__metadata__":{"k":"a","k":"b"}}`, nil), "", `__metadata__ key "k" appears twice`},
		{"entry not an object", rawFile(`{"a":[0,4]}`, nil), "a", "entry must be an object"},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, f32x2[:4]), "a", "missing dtype"},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32x2[:4]), "a", "missing shape"},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, f32x2[:4]), "a", "missing data_offsets"},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`, f32x2[:4]), "a", `unknown field "extra"`},
		{"field case", rawFile(`{"a":{"DTYPE":"F32","shape":[1],"data_offsets":[0,4]}}`, f32x2[:4]), "a", `unknown field "DTYPE"`},
		{"duplicate field", rawFile(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32x2[:4]), "a", "dtype appears twice"},
		{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32x2[:4]), "a", "got -1"},
		{"fractional dimension", rawFile(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, f32x2[:4]), "a", "got 1.0"},
		{"string dimension", rawFile(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, f32x2[:4]), "a", "shape must hold non-negative integers"},
		{"shape not an array", rawFile(`{"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}`, f32x2[:4]), "a", "shape must be an array"},
		{"null shape", rawFile(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, f32x2[:4]), "a", "shape must be an array"},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, f32x2[:4]), "a", "data_offsets must be [begin, end]"},
		{"offset beyond 2^64", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}`, f32x2[:4]), "a", "below 2^64"},
		{"huge offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,18446744073709551615]}}`, f32x2[:4]), "a", "run past the end"},
		{"element count overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}`, f32x2[:4]), "a", "overflows"},
		{"byte size overflow", rawFile(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}}`, f32x2[:4]), "a", "overflows"},
		{"dimension too large", rawFile(`{"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}`, nil), "a", "too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check := func(err error, file string) {
				t.Helper()
				if err == nil {
					t.Fatalf("accepted %q", c.file)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("error %v does not match ErrFormat", err)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.want) {
					t.Errorf("error %q does not say %q", msg, c.want)
				}
				if file != "" && !strings.Contains(msg, file) {
					t.Errorf("error %q does not name the file %s", msg, file)
				}
				if c.tensor != "" && !strings.Contains(msg, `tensor "`+c.tensor+`"`) {
					t.Errorf("error %q does not name tensor %q", msg, c.tensor)
				}
				var fe *FormatError
				if errors.As(err, &fe) && fe.Tensor != c.tensor {
					t.Errorf("FormatError.Tensor = %q, want %q", fe.Tensor, c.tensor)
				}
			}
			_, err := Parse(c.file)
			check(err, "")
			path := writeTemp(t, "bad.safetensors", c.file)
			_, err = Open(path)
			check(err, path)
		})
	}
}

// TestTruncated cuts valid files short at many offsets: every cut must be a
// clear format error, never a panic or a success.
func TestTruncated(t *testing.T) {
	small := mustEncode(t, sampleTensors(), map[string]string{"format": "pt"})
	for cut := 0; cut < len(small); cut++ {
		if _, err := Parse(small[:cut]); !errors.Is(err, ErrFormat) {
			t.Fatalf("cut at %d of %d: %v", cut, len(small), err)
		}
	}
	adapter, err := os.ReadFile(filepath.Join(testdata, "adapters/bert-tiny/adapter.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cut.safetensors")
	for cut := 0; cut < len(adapter); cut += 1 + cut/8 {
		if err := os.WriteFile(path, adapter[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), path) {
			t.Fatalf("cut at %d of %d: %v", cut, len(adapter), err)
		}
	}
	// One byte short: the last tensor runs past the end of the data.
	_, err = Parse(adapter[:len(adapter)-1])
	if err == nil || !strings.Contains(err.Error(), "run past the end") {
		t.Errorf("one byte short: %v", err)
	}
	// One byte long: data after the last tensor.
	_, err = Parse(append(slices.Clone(adapter), 0))
	if err == nil || !strings.Contains(err.Error(), "after the last tensor") {
		t.Errorf("one byte long: %v", err)
	}
}
