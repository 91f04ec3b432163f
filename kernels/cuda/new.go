//go:build cuda

package cuda

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// kernelsPTX is kernels.cu compiled for compute_80 (`make ptx`), gzipped;
// the driver JIT-compiles it for the GPU it runs on (sm_80 and newer) and
// caches the result (CUDA_CACHE_PATH, ~/.nv/ComputeCache by default).
//
//go:embed ptx/kernels.ptx.gz
var kernelsPTX []byte

// New opens GPU opts.Device. It fails with a clear error where there is no
// driver, no GPU, or a GPU older than compute capability 8.0.
func New(log zerolog.Logger, opts Options) (*Backend, error) {
	prec, err := ParsePrecision(string(opts.Precision))
	if err != nil {
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	ptx, err := unzip(kernelsPTX)
	if err != nil {
		return nil, fmt.Errorf("cuda backend: embedded PTX: %w", err)
	}
	start := time.Now()
	dev, err := openDevice(log, opts, prec, ptx)
	if err != nil {
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	log.Debug().Dur("took_ms", time.Since(start)).Msg("cuda backend: device opened, kernels loaded")
	be, err := newBackend(log, opts, prec, dev)
	if err != nil {
		dev.close()
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	return be, nil
}

func unzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
