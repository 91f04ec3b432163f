// Package testmodels gives tests the checkpoints in testdata/models on every
// cpu backend variant.
package testmodels

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// Names are the golden checkpoints, one per supported model type.
var Names = []string{"bert-tiny", "distilbert-tiny", "roberta-tiny", "gpt2-tiny"}

// Root is the repository's testdata directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// Dir is a checkpoint directory of testdata/models.
func Dir(name string) string { return filepath.Join(Root(), "models", name) }

var (
	once     sync.Once
	plain    *cpu.Backend // the default variant, unwrapped
	backends []kernels.Backend
	err      error
)

// Backends is the BLAS-backed cpu backend (oneDNN and OpenBLAS when
// installed) and the pure-Go fallback: both must give the same answers.
// Both come wrapped in Poisoned, whose Scratch buffers are filled with NaN,
// so that a pass reading a value no operation wrote fails its goldens.
func Backends(t testing.TB) []kernels.Backend {
	t.Helper()
	once.Do(func() {
		for _, opts := range []cpu.Options{{}, {DisableBLAS: true}} {
			be, e := cpu.New(zerolog.Nop(), opts)
			if e != nil {
				err = e
				return
			}
			if plain == nil {
				plain = be
			}
			backends = append(backends, Poisoned{be})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return backends
}

// CPU is the default cpu backend (OpenBLAS when installed), not poisoned
// (benchmarks use it), shared by the tests of a process: engine.Open takes
// the backend its caller chooses.
func CPU(t testing.TB) kernels.Backend {
	t.Helper()
	Backends(t)
	return plain
}

// CPUBackend is CPU for code without a testing.TB (benchmark set-up shared
// through sync.Once): a new default cpu backend.
func CPUBackend() (kernels.Backend, error) { return cpu.New(zerolog.Nop(), cpu.Options{}) }

// ForEachBackend runs f as a subtest on every backend.
func ForEachBackend(t *testing.T, f func(t *testing.T, be kernels.Backend)) {
	for _, b := range Backends(t) {
		t.Run(b.Name(), func(t *testing.T) { f(t, b) })
	}
}

// Load loads a checkpoint of testdata/models onto a backend.
func Load(t testing.TB, name string, be kernels.Backend) *model.Model {
	t.Helper()
	dir := Dir(name)
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	w, err := model.LoadWeights(ck, be, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Before the checkpoint is unmapped (cleanups run last first): the
	// backend may hold packed copies keyed by the mapping's addresses, which
	// a later mapping can reuse (model.Weights.Release).
	t.Cleanup(func() { w.Release(be) })
	return model.New(cfg, w, be)
}

// Poisoned is a cpu backend whose Scratch buffers hold NaN, the worst of
// what kernels.Backend.Scratch may return.
type Poisoned struct{ *cpu.Backend }

// Scratch fills the buffer with NaN.
func (p Poisoned) Scratch(n int) kernels.Buffer {
	b := p.Backend.Scratch(n)
	nan := make([]float32, n)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	p.Backend.Copy(b, p.Backend.Upload(nan))
	return b
}
