//go:build cudaemu && !cuda

package train_test

import (
	"context"
	"math"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cuda"
)

// TestSequenceLabelingCUDAEmulated trains a sequence labeling adapter on the
// CUDA backend's CPU emulator (fp32: token hidden states downloaded from the
// device, every token's gradient sent back through the backward kernels) and
// on the cpu backend with the same seed: the losses and every trained weight
// agree within float32 noise.
func TestSequenceLabelingCUDAEmulated(t *testing.T) {
	emu := cuda.OpenEmulatedTest(t, cuda.Options{})
	ex := nerRows(t, "train")[:24]
	run := func(be kernels.Backend, epochs string) *train.Result {
		eng, err := engine.Open(engine.Config{Model: testmodels.Dir("bert-tiny"), Backend: be, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		res, err := train.Train(context.Background(), eng, ex, train.KindText,
			opts("task", "sequence_labeling", "epochs", epochs, "max_length", "16", "batch_size", "8", "adapter_size", "8",
				"validation_fraction", "0", "learning_rate", "0.01"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	r0 := emu.Stats().ResidentUploads
	cpuRes, emuRes := run(testmodels.CPU(t), "3"), run(emu, "3")
	// What a training step uploads goes away: a run of one epoch (its own
	// engine) leaves as many uploads on the device as the run of three did.
	r1 := emu.Stats().ResidentUploads
	run(emu, "1")
	if three, one := r1-r0, emu.Stats().ResidentUploads-r1; three != one {
		t.Errorf("uploads left on the device: %d by a run of 3 epochs, %d by a run of 1", three, one)
	}
	if emuRes.Metrics.Backend == cpuRes.Metrics.Backend {
		t.Fatalf("both trained on %s", emuRes.Metrics.Backend)
	}
	a, b := cpuRes.Metrics.TrainLoss, emuRes.Metrics.TrainLoss
	t.Logf("train loss cpu %.6f, %s %.6f", a, emuRes.Metrics.Backend, b)
	if math.Abs(a-b) > 1e-3*math.Max(1, a) {
		t.Errorf("train loss cpu %v, emulated cuda %v", a, b)
	}
	want, got := cpuRes.Set.Params(), emuRes.Set.Params()
	for i := range want {
		if d := testmodels.MaxAbsDiff(want[i].Data, got[i].Data); d > 1e-3 {
			t.Errorf("%s differs by %g after training", want[i].Name, d)
		}
	}
}
