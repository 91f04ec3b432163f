//go:build cuda || cudaemu

package cuda

import (
	"fmt"

	"github.com/adapterdb/adapterdb/kernels"
)

// Stack copies parts ([n, k] each) into one [len(parts)·n, k] weight and
// frees them. Parts that are clean uploads (the checkpoint's weights) are
// stacked on the host, so the result is an upload the residency budget can
// evict and bring back like any weight; otherwise they are copied on the
// device.
func (be *Backend) Stack(parts []kernels.Buffer, n, k int) kernels.Buffer {
	if len(parts) == 0 || n <= 0 || k <= 0 {
		panic(fmt.Sprintf("cuda: stack of %d parts of [%d, %d]", len(parts), n, k))
	}
	for _, p := range parts {
		if p.Len() != n*k {
			panic(fmt.Sprintf("cuda: stack part of %d values, want [%d, %d]", p.Len(), n, k))
		}
	}
	var out kernels.Buffer
	if host, ok := be.stackHost(parts, n*k); ok {
		out = be.Upload(host)
	} else {
		out = be.Alloc(len(parts) * n * k)
		for j, p := range parts {
			be.Copy(be.View(out, j*n*k, n*k), p)
		}
	}
	for _, p := range parts {
		be.Free(p)
	}
	return out
}

// stackHost stacks the parts' host values when every part is a whole upload
// whose host copy is current (not written on the device).
func (be *Backend) stackHost(parts []kernels.Buffer, nk int) ([]float32, bool) {
	be.lock()
	defer be.unlock()
	for _, p := range parts {
		v := unwrap(p, "stack part")
		a := v.a
		if !v.root || a.freed || a.host == nil || v.off != 0 || len(a.host) != nk {
			return nil, false
		}
		if it, ok := be.res.items[a]; ok && it.pinned {
			return nil, false
		}
	}
	host := make([]float32, 0, len(parts)*nk)
	for _, p := range parts {
		host = append(host, unwrap(p, "stack part").a.host...)
	}
	return host, true
}
