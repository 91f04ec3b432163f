package train_test

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/train"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// TestBF16FortunesAgreement trains adapters on the fortunes set (fp32) and
// predicts the test split with the same adapter on fp32 and on cpu:bf16:
// the labels must agree on at least 99% of the rows. It trains for minutes,
// so it runs only when ADAPTERDB_LONG=1 is set; docs/performance.md reports
// its figure.
func TestBF16FortunesAgreement(t *testing.T) { testFortunesAgreement(t, "bf16") }

// TestInt8FortunesAgreement is TestBF16FortunesAgreement on cpu:int8.
func TestInt8FortunesAgreement(t *testing.T) { testFortunesAgreement(t, "int8") }

func testFortunesAgreement(t *testing.T, precision string) {
	if os.Getenv("ADAPTERDB_LONG") == "" {
		t.Skip("set ADAPTERDB_LONG=1: trains on 2,719 rows")
	}
	lowBe, err := cpu.New(zerolog.Nop(), cpu.Options{Precision: precision})
	if err != nil {
		t.Skipf("no %s on this machine: %v", precision, err)
	}
	eng := demoEngine(t)
	low, err := engine.Open(engine.Config{Model: "demo", Backend: lowBe, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer low.Close()
	o := train.DefaultOptions()
	o.Trainable, o.Epochs = "adapters", 1
	res, err := train.Train(context.Background(), eng, fortunes(t, "train"), train.KindUnknown, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	test := fortunes(t, "test")
	want := predictLabels(t, eng, res.Set, test, o.MaxLength)
	got := predictLabels(t, low, res.Set, test, o.MaxLength)
	same, correctFP32, correctLow := 0, 0, 0
	for i := range want {
		if got[i] == want[i] {
			same++
		}
		if res.Set.Labels[want[i]] == test[i].Target {
			correctFP32++
		}
		if res.Set.Labels[got[i]] == test[i].Target {
			correctLow++
		}
	}
	agree := float64(same) / float64(len(want))
	t.Logf("%s vs fp32 labels agree on %d of %d test rows (%.2f%%); accuracy fp32 %.4f, %s %.4f", precision,
		same, len(want), 100*agree, float64(correctFP32)/float64(len(want)), precision, float64(correctLow)/float64(len(want)))
	if agree < 0.99 {
		t.Errorf("agreement %.4f < 0.99", agree)
	}
}

// predictLabels is the arg-max class of each text under set on eng.
func predictLabels(t *testing.T, eng *engine.Engine, set *adapter.Set, ex []train.Example, maxLength int) []int {
	t.Helper()
	m := eng.Model()
	if err := set.Align(m); err != nil {
		t.Fatal(err)
	}
	a := set.Bind(m.Be)
	defer adapter.Unbind(m.Be, a)
	inputs := make([]engine.Input, len(ex))
	for i, e := range ex {
		inputs[i] = engine.Input{Text: e.Text, Adapter: a, Pool: set.Pool, MaxLength: maxLength}
	}
	feats, err := eng.Features(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	var pooled []float32
	for _, f := range feats {
		pooled = append(pooled, f...)
	}
	n := set.Outputs()
	logits := set.Logits(pooled, len(ex))
	pred := make([]int, len(ex))
	for i := range pred {
		row := logits[i*n : (i+1)*n]
		for j := range row {
			if row[j] > row[pred[i]] {
				pred[i] = j
			}
		}
	}
	return pred
}

// TestBF16Training trains the same adapter on cpu:bf16 (frozen linear maps in
// bfloat16, forward and input gradients; adapters, norms and head in fp32)
// and on fp32 with the same seed: the final training losses agree within the
// 5% that docs/cli.md states for 16-bit training.
func TestBF16Training(t *testing.T) { testReducedTraining(t, "bf16") }

// TestInt8Training is TestBF16Training on cpu:int8 (frozen linear maps
// forward in int8, input gradients through their fp32 weights).
func TestInt8Training(t *testing.T) { testReducedTraining(t, "int8") }

func testReducedTraining(t *testing.T, precision string) {
	lowBe, err := cpu.New(zerolog.Nop(), cpu.Options{Precision: precision})
	if err != nil {
		t.Skipf("no %s on this machine: %v", precision, err)
	}
	low, err := engine.Open(engine.Config{Model: "demo", Backend: lowBe, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer low.Close()
	ex := fortunes(t, "train")[:48]
	o := opts("epochs", "2", "max_length", "24", "batch_size", "8", "seed", "3")
	var loss [2]float64
	for i, e := range []*engine.Engine{demoEngine(t), low} {
		res, err := train.Train(context.Background(), e, ex, train.KindUnknown, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		loss[i] = res.Metrics.TrainLoss
	}
	if d := math.Abs(loss[1]-loss[0]) / loss[0]; !(d <= 0.05) {
		t.Errorf("train loss fp32 %.5f, %s %.5f: %.1f%% apart, want ≤ 5%%", loss[0], precision, loss[1], 100*d)
	}
	t.Logf("train loss fp32 %.5f, %s %.5f", loss[0], precision, loss[1])
}
