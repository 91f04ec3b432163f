package cpu

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseFilePages drops w's pages from the process's memory when w lies in
// a read-only file mapping (a memory-mapped checkpoint) that its packed copy
// replaces. MADV_DONTNEED on such a mapping loses nothing: the pages stay
// in the page cache and a later read maps them again. Memory that is not a
// read-only file mapping (the Go heap, anonymous or writable mappings, where
// MADV_DONTNEED would discard data) is left alone. It reports whether w lies
// in a read-only file mapping: memory the process cannot change.
func releaseFilePages(w []float32) bool {
	if !fileMapped(w) {
		return false
	}
	dropPages(w)
	return true
}

// fileMapped says whether w lies in one read-only file mapping.
func fileMapped(w []float32) bool {
	if len(w) == 0 {
		return false
	}
	lo := addr(w)
	return readOnlyFileMapping(lo, lo+uintptr(len(w))*4)
}

// dropPages is MADV_DONTNEED over the whole pages inside w, which the caller
// knows to be a read-only file mapping (fileMapped).
func dropPages(w []float32) {
	if len(w) == 0 {
		return
	}
	lo := addr(w)
	hi := lo + uintptr(len(w))*4
	page := uintptr(os.Getpagesize())
	a, b := (lo+page-1)&^(page-1), hi&^(page-1)
	if b > a {
		region := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(w)), a-lo)), b-a)
		_ = unix.Madvise(region, unix.MADV_DONTNEED)
	}
}

// readOnlyFileMapping says whether [lo, hi) lies in one mapping of
// /proc/self/maps that maps a file and is not writable.
func readOnlyFileMapping(lo, hi uintptr) bool {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode [path]
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 6 {
			continue
		}
		start, end, ok := bytes.Cut(fields[0], []byte("-"))
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(string(start), 16, 64)
		e, err2 := strconv.ParseUint(string(end), 16, 64)
		if err1 != nil || err2 != nil || uint64(lo) < s || uint64(lo) >= e {
			continue
		}
		perms, inode := fields[1], string(fields[4])
		return uint64(hi) <= e && len(perms) >= 2 && perms[1] != 'w' && inode != "0" && fields[5][0] == '/'
	}
	return false
}

// tempFloats is n floats of memory mapped for a moment (a stacked weight's
// values while oneDNN packs them), and the call that unmaps it: neither the
// garbage collector nor malloc's arenas hold on to it afterwards.
func tempFloats(n int) ([]float32, func(), error) {
	b, err := unix.Mmap(-1, 0, n*4, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, nil, err
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n), func() { _ = unix.Munmap(b) }, nil
}
