//go:build cudaemu && !cuda

package engine

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// TestCloseFreesCUDAEmulated: an engine that ran a pass leaves nothing of
// its checkpoint on a GPU backend it shares once it is closed (embeddings and
// LayerNorms stayed resident before).
func TestCloseFreesCUDAEmulated(t *testing.T) {
	be := cuda.OpenEmulatedTest(t, cuda.Options{})
	before := be.Stats().ResidentUploads
	for _, name := range testmodels.Names {
		eng, err := Open(Config{Model: testmodels.Dir(name), Backend: be, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Embed(context.Background(), []string{"a short text"}, model.PoolMean); err != nil {
			t.Fatal(err)
		}
		if err := eng.Close(); err != nil {
			t.Fatal(err)
		}
		if now := be.Stats().ResidentUploads; now != before {
			t.Errorf("%s: %d uploads left on the device after Close", name, now-before)
		}
	}
}
