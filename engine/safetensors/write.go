package safetensors

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Tensor is a tensor to write: Data holds product(Shape) elements of DType,
// little-endian, row-major.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Float32Tensor encodes v as an F32 tensor.
func Float32Tensor(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: data}
}

// Float16Tensor encodes v as an F16 tensor, rounding to nearest even.
func Float16Tensor(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(data[2*i:], Float32ToFloat16(x))
	}
	return Tensor{Name: name, DType: F16, Shape: slices.Clone(shape), Data: data}
}

// BFloat16Tensor encodes v as a BF16 tensor, rounding to nearest even.
func BFloat16Tensor(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(data[2*i:], Float32ToBFloat16(x))
	}
	return Tensor{Name: name, DType: BF16, Shape: slices.Clone(shape), Data: data}
}

// Write writes a safetensors file holding tensors and metadata (nil or
// empty: no __metadata__) to w. The output is deterministic: header keys in
// name order, data laid out by descending element size and then name (so
// every tensor stays aligned to its element size), header padded with
// spaces to a multiple of 8 bytes. Everything is checked before the first
// byte is written.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	if err := writeBody(w, header, order); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

// writeBody writes the header length, the header and the data.
func writeBody(w io.Writer, header []byte, order []*Tensor) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, t := range order {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Encode returns the bytes Write would write.
func Encode(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(&buf, tensors, metadata); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFile writes the file atomically: to a temporary file in the same
// directory, synced, then renamed over path (and the directory synced), so
// readers see the old file or the new one, never a partial one.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	// Validate first, so that bad input leaves no temporary file behind.
	header, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("safetensors: write %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := writeBody(bw, header, order); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable.
	d, err := os.Open(dir)
	if err != nil {
		return nil // the file is in place; only durability of the rename is unknown
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// buildHeader checks the tensors and returns the padded header JSON and the
// tensors in data order.
func buildHeader(tensors []Tensor, metadata map[string]string) ([]byte, []*Tensor, error) {
	errf := func(tensor, format string, args ...any) error {
		if tensor != "" {
			return fmt.Errorf("safetensors: write tensor %q: %s", tensor, fmt.Sprintf(format, args...))
		}
		return fmt.Errorf("safetensors: write: %s", fmt.Sprintf(format, args...))
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, errf("", "%s entry %q is not valid UTF-8", metadataKey, k)
		}
	}
	byName := make([]*Tensor, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		byName[i] = t
		switch {
		case t.Name == "":
			return nil, nil, errf("", "tensor %d has no name", i)
		case t.Name == metadataKey:
			return nil, nil, errf(t.Name, "name is reserved for metadata")
		case !utf8.ValidString(t.Name):
			return nil, nil, errf(t.Name, "name is not valid UTF-8")
		case !t.DType.Valid():
			return nil, nil, errf(t.Name, "unknown dtype %q", string(t.DType))
		}
		count := uint64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, errf(t.Name, "negative dimension in shape %v", t.Shape)
			}
			hi, lo := bits.Mul64(count, uint64(d))
			if hi != 0 {
				return nil, nil, errf(t.Name, "shape %v overflows", t.Shape)
			}
			count = lo
		}
		hi, size := bits.Mul64(count, uint64(t.DType.Size()))
		if hi != 0 || size != uint64(len(t.Data)) {
			return nil, nil, errf(t.Name, "shape %v of %s needs %d elements, but Data holds %d bytes", t.Shape, t.DType, count, len(t.Data))
		}
	}
	slices.SortFunc(byName, func(a, b *Tensor) int { return cmp.Compare(a.Name, b.Name) })
	for i := 1; i < len(byName); i++ {
		if byName[i].Name == byName[i-1].Name {
			return nil, nil, errf(byName[i].Name, "name appears twice")
		}
	}
	order := slices.Clone(byName)
	slices.SortStableFunc(order, func(a, b *Tensor) int { return cmp.Compare(b.DType.Size(), a.DType.Size()) })
	offsets := make(map[*Tensor][2]int, len(order))
	pos := 0
	for _, t := range order {
		offsets[t] = [2]int{pos, pos + len(t.Data)}
		pos += len(t.Data)
	}

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		writeString(&h, metadataKey)
		h.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeString(&h, k)
			h.WriteByte(':')
			writeString(&h, metadata[k])
		}
		h.WriteByte('}')
	}
	for i, t := range byName {
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		writeString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeString(&h, string(t.DType))
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		off := offsets[t]
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off[0], off[1])
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > maxHeaderSize {
		return nil, nil, errf("", "header would be %d bytes, over the limit of %d", h.Len(), maxHeaderSize)
	}
	return h.Bytes(), order, nil
}

// writeString writes s as a JSON string without HTML escaping, as the
// reference implementation's serializer does.
func writeString(h *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a valid UTF-8 string always encodes
	h.Write(bytes.TrimSuffix(b.Bytes(), []byte{'\n'}))
}
