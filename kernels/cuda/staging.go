//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"fmt"
	"unsafe"
)

// Host↔device transfers go through pinned host memory, the only memory the
// driver copies asynchronously. Two kinds:
//
//   - stager: small per-call tables (attention masks, token ids, segment
//     tables) packed one after another into a ring of pinned blocks, each
//     with a device twin. A block's host side is reused only after the
//     event recorded behind its last copy has passed; its device side is
//     reused in stream order, after the kernels that read it.
//   - bulkBuf: two large pinned buffers for uploads and downloads, used in
//     turn so that converting one chunk overlaps the copy of the other.

const (
	stageBlockBytes = 1 << 20
	stageBlocks     = 4
	stageAlign      = 256
	bulkBytes       = 4 << 20
)

type stageBlock struct {
	host    []byte
	dev     devptr
	used    int
	ev      event
	pending bool // ev was recorded after this block's copies
}

type stager struct {
	blocks []*stageBlock
	cur    int
}

func newStageBlock(dev device, size int) (*stageBlock, error) {
	h, err := dev.hostAlloc(size)
	if err != nil {
		return nil, fmt.Errorf("pinned staging memory: %w", err)
	}
	d, err := dev.alloc(int64(size))
	if err != nil {
		dev.hostFree(h)
		return nil, fmt.Errorf("device staging memory: %w", err)
	}
	ev, err := dev.newEvent()
	if err != nil {
		dev.hostFree(h)
		dev.free(d)
		return nil, err
	}
	return &stageBlock{host: h, dev: d, ev: ev}, nil
}

// stage copies data to the device and returns its address there, valid for
// the work queued after it.
func (be *Backend) stage(data []byte) devptr {
	s := &be.stg
	if len(s.blocks) == 0 {
		for range stageBlocks {
			b, err := newStageBlock(be.dev, stageBlockBytes)
			check(err, "staging")
			s.blocks = append(s.blocks, b)
		}
	}
	b := s.blocks[s.cur]
	if b.used+len(data) > len(b.host) {
		// Move on to the next block once its earlier copies have run.
		check(be.dev.record(b.ev), "record staging event")
		b.pending = true
		s.cur = (s.cur + 1) % len(s.blocks)
		b = s.blocks[s.cur]
		if b.pending {
			check(be.dev.wait(b.ev), "wait for staging block")
			b.pending = false
		}
		b.used = 0
		if len(data) > len(b.host) {
			nb, err := newStageBlock(be.dev, roundUp(len(data), stageBlockBytes))
			check(err, "staging %d bytes", len(data))
			// The old block's copies may still be queued: keep it until close.
			s.blocks = append(s.blocks, b)
			s.blocks[s.cur] = nb
			b = nb
		}
	}
	off := b.used
	copy(b.host[off:], data)
	check(be.dev.htod(b.dev+devptr(off), b.host[off:off+len(data)]), "copy %d staged bytes", len(data))
	b.used = roundUp(off+len(data), stageAlign)
	return b.dev + devptr(off)
}

func (s *stager) release(dev device) error {
	var errs []error
	for _, b := range s.blocks {
		errs = append(errs, dev.hostFree(b.host), dev.free(b.dev), dev.destroyEvent(b.ev))
	}
	s.blocks = nil
	return errors.Join(errs...)
}

type bulkBuf struct {
	host    []byte
	ev      event
	pending bool
}

// get returns the buffer once its previous copy is done.
func (b *bulkBuf) get(dev device) []byte {
	if b.host == nil {
		h, err := dev.hostAlloc(bulkBytes)
		check(err, "pinned transfer buffer")
		ev, err := dev.newEvent()
		check(err, "transfer event")
		b.host, b.ev = h, ev
	}
	if b.pending {
		check(dev.wait(b.ev), "wait for a transfer")
		b.pending = false
	}
	return b.host
}

func (b *bulkBuf) recorded(dev device) {
	check(dev.record(b.ev), "record transfer event")
	b.pending = true
}

func (b *bulkBuf) release(dev device) error {
	if b.host == nil {
		return nil
	}
	err := errors.Join(dev.hostFree(b.host), dev.destroyEvent(b.ev))
	b.host = nil
	return err
}

// toDevice converts host values to the storage type and copies them to dst.
func (be *Backend) toDevice(dst devptr, host []float32) { be.toDeviceAs(be.prec, dst, host) }

// toDeviceAs is toDevice into memory of type p (fp32 optimizer state).
func (be *Backend) toDeviceAs(p Precision, dst devptr, host []float32) {
	es := p.size()
	per := bulkBytes / es
	for i, c := range chunks(len(host), per) {
		b := &be.bulk[i%2]
		buf := b.get(be.dev)
		n := c[1] - c[0]
		encode(p, buf, host[c[0]:c[1]])
		check(be.dev.htod(dst+devptr(c[0]*es), buf[:n*es]), "upload %d values", n)
		b.recorded(be.dev)
	}
}

// fromDevice copies values at src to dst, converting to fp32; it returns
// when they are on the host.
func (be *Backend) fromDevice(dst []float32, src devptr) { be.fromDeviceAs(be.prec, dst, src) }

// fromDeviceAs is fromDevice from memory of type p (fp32 optimizer state).
func (be *Backend) fromDeviceAs(p Precision, dst []float32, src devptr) {
	es := p.size()
	per := bulkBytes / es
	cs := chunks(len(dst), per)
	finish := func(i int) {
		b := &be.bulk[i%2]
		buf := b.get(be.dev) // waits for the copy
		decode(p, dst[cs[i][0]:cs[i][1]], buf)
	}
	for i, c := range cs {
		b := &be.bulk[i%2]
		buf := b.get(be.dev)
		n := c[1] - c[0]
		check(be.dev.dtoh(buf[:n*es], src+devptr(c[0]*es)), "download %d values", n)
		b.recorded(be.dev)
		if i > 0 {
			finish(i - 1)
		}
	}
	if len(cs) > 0 {
		finish(len(cs) - 1)
	}
}

// bytesOf views a slice of plain values (kargs.h structs, int32 ids) as bytes.
func bytesOf[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(z)))
}

func roundUp(n, g int) int { return (n + g - 1) / g * g }
