package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// --set key=a,b is a hyperparameter search, as OPTIONS (key = (a, b)).
func TestTrainSearchCLI(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "train.csv")
	writeCSV(t, csvPath, "text,label", "\"a wonderful, delightful film\",pos\nterrible boring awful,neg\n", 6)
	db := filepath.Join(dir, "a.db")
	model := testmodels.Dir("bert-tiny")
	code, out, errs := cli(t, "train", "--db", db, "--model", model, "--name", "s", "--set", "epochs=2", "--set", "adapter_size=4, 8",
		"--set", "learning_rate=1e-4,1e-2", "--set", "search=random", "--set", "trials=3", "--set", "validation_fraction=0.25", csvPath)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "trial=3 trials=3") {
		t.Errorf("the log names no trial: %s", errs)
	}
	var res struct {
		Metrics struct {
			Search string `json:"search"`
			Trials []struct {
				Options map[string]string `json:"options"`
				Chosen  bool              `json:"chosen"`
			} `json:"trials"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Metrics.Search != "random" || len(res.Metrics.Trials) != 3 || res.Metrics.Trials[0].Options["adapter_size"] == "" {
		t.Fatalf("metrics %s", out)
	}
	for _, c := range []struct{ set, want string }{
		{"seed=1,2", "option seed takes one value, not a list"},
		{"bogus=1,2", "unknown option"},
		{"trials=2", "trials applies to search = 'random'"},
		{"learning_rate=1e-3,x", `"x" must be a number`},
		// Limits of the base model's: a usage error too, in a list or alone.
		{"adapter_size=8,5000", "option adapter_size: 5000 is out of range [1, "},
		{"adapter_size=5000", "option adapter_size: 5000 is out of range [1, "},
	} {
		args := []string{"train", "--db", db, "--model", model, "--name", "t", "--set", "learning_rate=1e-4,1e-3", "--set", c.set, csvPath}
		if c.set == "learning_rate=1e-3,x" || c.set == "adapter_size=5000" {
			args = []string{"train", "--db", db, "--model", model, "--name", "t", "--set", c.set, csvPath}
		}
		if code, _, errs := cli(t, args...); code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("--set %s: exit %d %s, want 2 and %q", c.set, code, errs, c.want)
		}
	}
}
