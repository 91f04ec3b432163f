package safetensors

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"
	"unsafe"
)

// TensorInfo describes one tensor.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // [] for a scalar
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// entry is a validated tensor: its info and where its bytes lie in File.data.
type entry struct {
	info       TensorInfo
	n          int // elements
	begin, end int // absolute offsets into File.data
}

// File is a parsed safetensors file. Its methods may be called from several
// goroutines at once, but not concurrently with Close.
type File struct {
	path    string // for error messages; "" for Parse
	data    []byte // the whole file: a read-only mapping (Open) or the caller's bytes (Parse); nil after Close
	mapped  bool
	names   []string // sorted
	tensors map[string]*entry
	meta    map[string]string
}

// hostLittleEndian says whether float32 data can be used in place.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Parse validates a whole safetensors file held in data and returns a File
// that aliases data (data must not change while the File is in use). Close
// is optional for a parsed File. Parse never panics on bad input.
func Parse(data []byte) (*File, error) {
	return parse("", data)
}

func parse(path string, data []byte) (*File, error) {
	errf := func(tensor, format string, args ...any) error {
		return &FormatError{File: path, Tensor: tensor, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case len(data) == 0:
		return nil, errf("", "file is empty")
	case len(data) < 8:
		return nil, errf("", "file is %d bytes, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if (n > maxHeaderSize || n > uint64(len(data)-8)) && printable(data[:8]) {
		// A CSV, JSON or other text file given for a checkpoint or an
		// adapter: say so rather than quote a length read from its text.
		return nil, errf("", "not a safetensors file: it starts with the text %q, where a safetensors file starts with the length of its header", data[:8])
	}
	switch {
	case n == 0:
		return nil, errf("", "header length is 0")
	case n > maxHeaderSize:
		return nil, errf("", "header length %d exceeds the limit of %d bytes", n, maxHeaderSize)
	case n > uint64(len(data)-8):
		return nil, errf("", "header length %d is larger than the %d bytes that follow it (truncated or not a safetensors file)", n, len(data)-8)
	}
	dataStart := 8 + int(n)
	header := data[8:dataStart]
	dataLen := uint64(len(data) - dataStart)
	if !utf8.Valid(header) {
		return nil, errf("", "header is not valid UTF-8")
	}
	if header[0] != '{' {
		return nil, errf("", "header does not start with '{' (not a safetensors file?)")
	}
	meta, hts, err := parseHeader(path, header)
	if err != nil {
		return nil, err
	}

	f := &File{path: path, data: data, meta: meta, tensors: make(map[string]*entry, len(hts))}
	for _, t := range hts {
		count := uint64(1)
		shape := make([]int, len(t.shape))
		for i, d := range t.shape {
			if d > math.MaxInt {
				return nil, errf(t.name, "shape %v: dimension %d is too large", t.shape, d)
			}
			shape[i] = int(d)
			hi, lo := bits.Mul64(count, d)
			if hi != 0 {
				return nil, errf(t.name, "shape %v: element count overflows 64 bits", t.shape)
			}
			count = lo
		}
		hi, size := bits.Mul64(count, uint64(t.dtype.Size()))
		if hi != 0 {
			return nil, errf(t.name, "shape %v of %s: byte size overflows 64 bits", t.shape, t.dtype)
		}
		b, e := t.offsets[0], t.offsets[1]
		switch {
		case e < b:
			return nil, errf(t.name, "data_offsets [%d, %d] end before they begin", b, e)
		case e > dataLen:
			return nil, errf(t.name, "data_offsets [%d, %d] run past the end of the %d-byte data section (truncated file?)", b, e, dataLen)
		case e-b != size:
			return nil, errf(t.name, "shape %v of %s is %d bytes but data_offsets [%d, %d] span %d", t.shape, t.dtype, size, b, e, e-b)
		}
		f.tensors[t.name] = &entry{
			info:  TensorInfo{Name: t.name, DType: t.dtype, Shape: shape},
			n:     int(count),
			begin: dataStart + int(b),
			end:   dataStart + int(e),
		}
		f.names = append(f.names, t.name)
	}

	// The tensors must tile the data section: sorted by offsets, each one
	// begins where the previous one ended, and the last one ends at EOF.
	order := slices.Collect(maps.Values(f.tensors))
	slices.SortFunc(order, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.info.Name, b.info.Name))
	})
	pos := dataStart
	var prev *entry
	for _, e := range order {
		if e.begin < pos {
			return nil, errf(e.info.Name, "data [%d, %d) overlaps tensor %q [%d, %d)",
				e.begin-dataStart, e.end-dataStart, prev.info.Name, prev.begin-dataStart, prev.end-dataStart)
		}
		if e.begin > pos {
			return nil, errf(e.info.Name, "%d-byte gap in the data section before this tensor's data at offset %d (tensors must tile the data section)",
				e.begin-pos, e.begin-dataStart)
		}
		pos, prev = e.end, e
	}
	if pos != len(data) {
		return nil, errf("", "%d bytes in the data section after the last tensor's data (tensors must tile the data section)", len(data)-pos)
	}
	slices.Sort(f.names)
	return f, nil
}

// Path is the file's path ("" for a File from Parse).
func (f *File) Path() string { return f.path }

// Names lists the tensor names, sorted.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Metadata is a copy of the header's __metadata__ (nil when there is none).
func (f *File) Metadata() map[string]string { return maps.Clone(f.meta) }

// Tensor describes the named tensor.
func (f *File) Tensor(name string) (TensorInfo, error) {
	e, err := f.lookup(name)
	if err != nil {
		return TensorInfo{}, err
	}
	info := e.info
	info.Shape = slices.Clone(info.Shape)
	return info, nil
}

// Bytes returns the named tensor's raw little-endian data. The slice aliases
// the file: do not modify it (for a mapped file that faults), and do not use
// it after Close.
func (f *File) Bytes(name string) ([]byte, error) {
	e, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.data[e.begin:e.end:e.end], nil
}

// Float32 returns the named tensor's values as float32, in row-major order.
//
// F32 data that is 4-byte aligned is returned without copying on a
// little-endian host: the slice aliases the file, is read-only (for a mapped
// file, writing to it faults) and is valid only until Close. Otherwise, and
// for F16, BF16 and F64 (converted; F64 rounds to nearest), the result is a
// new slice the caller owns. Other dtypes are an error.
func (f *File) Float32(name string) ([]float32, error) {
	e, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	out, err := float32s(f.data[e.begin:e.end], e.info.DType, e.n)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, err)
	}
	return out, nil
}

// float32s decodes n little-endian elements of dtype dt from raw.
func float32s(raw []byte, dt DType, n int) ([]float32, error) {
	if n == 0 {
		return []float32{}, nil
	}
	switch dt {
	case F32:
		p := unsafe.Pointer(unsafe.SliceData(raw))
		if hostLittleEndian && uintptr(p)%4 == 0 {
			return unsafe.Slice((*float32)(p), n)[:n:n], nil
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	case F16:
		out := make([]float32, n)
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out, nil
	case BF16:
		out := make([]float32, n)
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out, nil
	case F64:
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s cannot be read as float32 (F32, F16, BF16 and F64 can)", dt)
}

func (f *File) where() string {
	if f.path == "" {
		return "safetensors"
	}
	return "safetensors file " + f.path
}

func (f *File) lookup(name string) (*entry, error) {
	if f.data == nil {
		return nil, fmt.Errorf("%s: %w", f.where(), ErrClosed)
	}
	e, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, ErrNotFound)
	}
	return e, nil
}

// printable reports whether b holds no control character but tab and line
// breaks: text, in ASCII or UTF-8 (a byte-order mark included). A valid
// header length never reads so: its high bytes are 0.
func printable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return true
}
