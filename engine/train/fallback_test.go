package train_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
	"github.com/adapterdb/adapterdb/kernels"
)

// forwardOnly hides the cpu backend's Trainer methods: a featurizer backend
// that cannot train, like a GPU backend without backward kernels.
type forwardOnly struct{ kernels.Backend }

func (f forwardOnly) Name() string { return "forward-only/" + f.Backend.Name() }

// Training on an engine whose backend cannot train runs on the cpu fallback
// and gives exactly the adapter the cpu engine trains; the metrics name the
// backend that trained.
func TestTrainFallback(t *testing.T) {
	eng, err := engine.Open(engine.Config{Model: "demo", Backend: forwardOnly{testmodels.CPU(t)}, TrainBackend: testmodels.CPU(t).(kernels.Trainer), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ex := fortunes(t, "train")[:32]
	o := opts("epochs", "1", "max_length", "24", "batch_size", "8")
	var files [][]byte
	for _, e := range []*engine.Engine{demoEngine(t), eng} {
		res, b := trainEncoded(t, e, ex, o)
		if !strings.HasPrefix(res.Metrics.Backend, "cpu/") {
			t.Errorf("metrics say backend %q trained, want cpu/...", res.Metrics.Backend)
		}
		files = append(files, b)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("the fallback trained another adapter than the cpu engine")
	}
}

// Without a training backend, an engine whose backend cannot train says so
// rather than training on kernels nobody chose.
func TestTrainWithoutTrainBackend(t *testing.T) {
	eng, err := engine.Open(engine.Config{Model: "demo", Backend: forwardOnly{testmodels.CPU(t)}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ex := fortunes(t, "train")[:8]
	_, err = train.Train(context.Background(), eng, ex, train.KindUnknown, opts("epochs", "1", "max_length", "24"), nil)
	if err == nil || !strings.Contains(err.Error(), "cannot train") {
		t.Fatalf("got %v, want a cannot-train error", err)
	}
}

// hostAdamW hides the cpu backend's AdamW (kernels.Optimizer), and only it:
// training on it runs engine/train's host AdamW, and the same row attention
// (kernels.RowAttention) in the last layer.
type hostAdamW struct {
	kernels.Trainer
	kernels.RowAttention
}

// The cpu backend's AdamW (vectorised, on its threads) trains exactly the
// adapter the host AdamW trains, byte for byte.
func TestBackendAdamWMatchesHost(t *testing.T) {
	if _, ok := testmodels.CPU(t).(kernels.Optimizer); !ok {
		t.Fatal("the cpu backend no longer runs AdamW itself: this test compares nothing")
	}
	cpu := testmodels.CPU(t)
	host, err := engine.Open(engine.Config{Model: "demo", Backend: hostAdamW{cpu.(kernels.Trainer), cpu.(kernels.RowAttention)}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ex := fortunes(t, "train")[:48]
	o := opts("epochs", "2", "max_length", "24", "batch_size", "8")
	_, backend := trainEncoded(t, demoEngine(t), ex, o)
	if _, hosted := trainEncoded(t, host, ex, o); !bytes.Equal(backend, hosted) {
		t.Error("the backend's AdamW trained another adapter than the host AdamW")
	}
}
