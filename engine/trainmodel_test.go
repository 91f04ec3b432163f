package engine

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// forwardOnly is a backend that runs the forward pass only: the cpu kernels
// seen through kernels.Backend, without the Trainer methods.
type forwardOnly struct{ kernels.Backend }

func (f forwardOnly) Name() string { return "forward-only/" + f.Backend.Name() }

// A featurizer whose backend cannot train trains on the cpu kernels: the
// fallback loads the same checkpoint (same fingerprint), once, and its
// features equal the featurizer's.
func TestTrainingModelFallback(t *testing.T) {
	dir := testmodels.Dir("bert-tiny")
	e, err := Open(Config{Model: dir, Log: zerolog.Nop(), Backend: forwardOnly{testmodels.CPU(t)},
		TrainBackend: testmodels.CPU(t).(kernels.Trainer)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, ok := e.Model().Be.(kernels.Trainer); ok {
		t.Fatal("test backend unexpectedly implements kernels.Trainer")
	}
	m, err := e.TrainingModel()
	if err != nil {
		t.Fatal(err)
	}
	if m == e.Model() {
		t.Fatal("training model is the featurizer's, whose backend cannot train")
	}
	if _, ok := m.Be.(kernels.Trainer); !ok {
		t.Fatalf("training backend %s cannot train", m.Be.Name())
	}
	again, err := e.TrainingModel()
	if err != nil || again != m {
		t.Fatalf("second call: %v, same model %v", err, again == m)
	}
	seq, err := e.Encode("a wonderful film", 16)
	if err != nil {
		t.Fatal(err)
	}
	pooled := func(m *model.Model) []float32 {
		p, err := m.Forward(context.Background(), Pack(m.Cfg, []Sequence{seq}, nil), false)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Release()
		pd, err := p.Pool(model.PoolMean)
		if err != nil {
			t.Fatal(err)
		}
		return pd.Values
	}
	got, want := pooled(m), pooled(e.Model())
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("feature %d: fallback %v, featurizer %v", i, got[i], want[i])
		}
	}
}

// A featurizer whose backend trains is its own training model.
func TestTrainingModelOwn(t *testing.T) {
	e := openTest(t, testmodels.Dir("bert-tiny"), Config{})
	m, err := e.TrainingModel()
	if err != nil || m != e.Model() {
		t.Fatalf("TrainingModel: %v, own model %v", err, m == e.Model())
	}
}
