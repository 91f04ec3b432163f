package safetensors

import (
	"fmt"
	"io"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// Open maps the file at path read-only and validates it. Slices that
// Float32 and Bytes return may alias the mapping; they are valid until
// Close. (If another process truncates the file while it is mapped, reading
// the lost pages faults: replace model files by rename, as WriteFile does.)
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	return mapFile(path, fh)
}

// mapFile maps an open file; path is for error messages.
func mapFile(path string, fh *os.File) (*File, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors file %s: not a regular file (%s)", path, st.Mode().Type())
	}
	size := st.Size()
	if size < 8 {
		// Too short to map usefully (and mmap refuses length 0): let parse
		// report what is wrong.
		buf, err := io.ReadAll(io.LimitReader(fh, 8))
		if err != nil {
			return nil, fmt.Errorf("safetensors file %s: %w", path, err)
		}
		return parse(path, buf)
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("safetensors file %s: %d bytes is too large to map", path, size)
	}
	data, err := unix.Mmap(int(fh.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("safetensors file %s: mmap: %w", path, err)
	}
	f, err := parse(path, data)
	if err != nil {
		unix.Munmap(data)
		return nil, err
	}
	f.mapped = true
	return f, nil
}

// Close unmaps the file. Slices from Float32 and Bytes that alias it must
// not be used afterwards. Close is idempotent.
func (f *File) Close() error {
	data := f.data
	if data == nil {
		return nil
	}
	f.data = nil
	if f.mapped {
		if err := unix.Munmap(data); err != nil {
			return fmt.Errorf("%s: munmap: %w", f.where(), err)
		}
	}
	return nil
}
