//go:build cuda || cudaemu

package cuda

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
	"github.com/adapterdb/adapterdb/kernels"
)

// trainTol is the documented agreement of training on this backend with
// training on the cpu backend from the same seed (docs/cuda.md#training):
// relative difference of the final training loss and of the validation loss.
func trainTol(p Precision) float64 {
	if p == FP32 {
		return 1e-3
	}
	return 0.05
}

// Training on the cuda backend (backward kernels, device AdamW, fp16 loss
// scaling) gives what cpu training gives from the same seed, within
// trainTol: for a bidirectional model with a tanh pooler (bert-tiny, CLS
// pooling) and a causal one (gpt2-tiny, last-token pooling, Conv1D weights).
// (The e2e script testdata/e2e/cudaemu/train.sh trains every precision
// through SQL.)
func TestTrainMatchesCPU(t *testing.T) {
	ex := fortuneRows(t, 24)
	o := train.DefaultOptions()
	for k, v := range map[string]string{"epochs": "2", "batch_size": "8", "max_length": "16", "adapter_size": "8",
		"validation_fraction": "0.25", "learning_rate": "3e-3", "seed": "5"} {
		if err := o.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	run := func(t *testing.T, model string, be kernels.Backend) train.Metrics {
		eng, err := engine.Open(engine.Config{Model: testmodels.Dir(model), Backend: be, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		res, err := train.Train(context.Background(), eng, ex, train.KindUnknown, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Metrics.Backend != be.Name() {
			t.Fatalf("trained on %s, want %s", res.Metrics.Backend, be.Name())
		}
		return res.Metrics
	}
	want := map[string]train.Metrics{}
	for _, c := range []struct {
		model string
		prec  Precision
	}{{"bert-tiny", FP32}, {"bert-tiny", FP16}, {"gpt2-tiny", BF16}} {
		t.Run(c.model+"/"+string(c.prec), func(t *testing.T) {
			w, ok := want[c.model]
			if !ok {
				w = run(t, c.model, testmodels.CPU(t))
				want[c.model] = w
			}
			got := run(t, c.model, openTest(t, Options{Precision: c.prec}))
			tol := trainTol(c.prec)
			rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-12) }
			t.Logf("train loss %.6g (cpu %.6g), validation loss %.6g (cpu %.6g), skipped steps %d",
				got.TrainLoss, w.TrainLoss, *got.ValLoss, *w.ValLoss, got.SkippedSteps)
			if r := rel(got.TrainLoss, w.TrainLoss); !(r <= tol) { // NaN fails too
				t.Errorf("train loss %v, cpu %v: relative difference %.3g > %g", got.TrainLoss, w.TrainLoss, r, tol)
			}
			if r := rel(*got.ValLoss, *w.ValLoss); !(r <= tol) {
				t.Errorf("validation loss %v, cpu %v: relative difference %.3g > %g", *got.ValLoss, *w.ValLoss, r, tol)
			}
			if got.BestEpoch != w.BestEpoch || got.Steps != w.Steps || got.SkippedSteps != 0 {
				t.Errorf("best epoch %d of %d steps (%d skipped), cpu %d of %d", got.BestEpoch, got.Steps, got.SkippedSteps,
					w.BestEpoch, w.Steps)
			}
		})
	}
}

// fortuneRows is the first n rows of the fortunes training set.
func fortuneRows(t *testing.T, n int) []train.Example {
	t.Helper()
	f, err := os.Open(filepath.Join(testmodels.Root(), "datasets", "fortunes_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []train.Example
	// The file is sorted by label: take rows from across it.
	step := max(1, (len(rows)-1)/n)
	for i := 1; i < len(rows) && len(out) < n; i += step {
		out = append(out, train.Example{Text: rows[i][0], Target: rows[i][1]})
	}
	return out
}
