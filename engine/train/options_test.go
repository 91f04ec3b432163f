package train_test

import (
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/train"
)

func TestOptionsSet(t *testing.T) {
	o := train.DefaultOptions()
	for _, kv := range [][2]string{{"TASK", "Regression"}, {" pool ", "MEAN"}, {"Trainable", "HEAD"}, {"activation", "ReLU"}, {"epochs", " 3 "}} {
		if err := o.Set(kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%q, %q): %v", kv[0], kv[1], err)
		}
	}
	m := o.Map()
	if m["task"] != "regression" || m["pool"] != "mean" || m["trainable"] != "head" || m["activation"] != "relu" || m["epochs"] != "3" {
		t.Errorf("options after Set: %v", m)
	}
	for _, kv := range [][2]string{{"colour", "1"}, {"epochs", "0"}, {"task", "poetry"}, {"learning_rate", "NaN"}, {"pool", "median"}} {
		if err := o.Set(kv[0], kv[1]); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("Set(%q, %q): error %v, want one naming the option", kv[0], kv[1], err)
		}
	}
}
