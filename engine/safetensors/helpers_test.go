package safetensors

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// rawFile assembles a file from a header (padded with spaces to a multiple
// of 8) and a data section, without any checking: for malformed inputs.
func rawFile(header string, data []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// writeTemp writes data to a new file in a test temp dir.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// aliases reports whether v's memory lies inside buf's.
func aliases(v []float32, buf []byte) bool {
	if len(v) == 0 || len(buf) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p+4*uintptr(len(v)) <= lo+uintptr(len(buf))
}

// sampleTensors is a small set covering every float dtype, an integer type,
// a scalar, an empty tensor and odd sizes that would misalign later data if
// the writer laid it out naively.
func sampleTensors() []Tensor {
	return []Tensor{
		Float32Tensor("w", []int{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, -7}),
		Float16Tensor("half", []int{3}, []float32{1, 0.5, -65504}),
		BFloat16Tensor("brain", []int{1, 3}, []float32{1, -2, 3.140625}),
		{Name: "f64", DType: F64, Shape: []int{2}, Data: binary.LittleEndian.AppendUint64(
			binary.LittleEndian.AppendUint64(nil, 0x3ff0000000000000), 0xc000000000000000)}, // 1, -2
		{Name: "ids", DType: I64, Shape: []int{2}, Data: make([]byte, 16)},
		{Name: "flag", DType: BOOL, Shape: []int{3}, Data: []byte{1, 0, 1}},
		Float32Tensor("scalar", []int{}, []float32{42}),
		Float32Tensor("empty", []int{0, 4}, nil),
	}
}

func mustEncode(t testing.TB, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	b, err := Encode(tensors, meta)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
