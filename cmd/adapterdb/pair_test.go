package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// train --pair, predict --pair (arguments and CSV) and evaluate --pair on a
// text-pair adapter; the wrong number of texts names the adapter and the flag.
func TestPairCLI(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "pairs.csv")
	writeCSV(t, csvPath, "text,text2,label", "wonderful film,a wonderful film,same\nterrible boring plot,great fun cast,diff\n", 4)
	db := filepath.Join(dir, "a.db")
	model := testmodels.Dir("bert-tiny")
	code, out, errs := cli(t, "train", "--db", db, "--model", model, "--name", "dup", "--pair", "--set", "epochs=3",
		"--set", "adapter_size=4", "--set", "validation_fraction=0", "--set", "max_length=16", csvPath)
	if code != 0 {
		t.Fatalf("train --pair: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `"task":"classification"`) {
		t.Errorf("train --pair: %s", out)
	}
	code, out, errs = cli(t, "predict", "--db", db, "--name", "dup", "--pair", "--", "wonderful film", "a wonderful film", "terrible boring plot", "great fun cast")
	if code != 0 {
		t.Fatalf("predict --pair: exit %d: %s", code, errs)
	}
	byArgs := jsonLines(t, out)
	if len(byArgs) != 2 {
		t.Fatalf("predict --pair of 2 pairs: %d lines", len(byArgs))
	}
	code, out, errs = cli(t, "predict", "--db", db, "--name", "dup", "--pair", "--csv", csvPath)
	if code != 0 {
		t.Fatalf("predict --pair --csv: exit %d: %s", code, errs)
	}
	byCSV := jsonLines(t, out)
	if len(byCSV) != 8 || string(byCSV[0]) != string(byArgs[0]) || string(byCSV[1]) != string(byArgs[1]) {
		t.Errorf("CSV predictions %s, argument predictions %s", byCSV, byArgs)
	}
	var p struct{ Label string }
	if err := json.Unmarshal(byArgs[0], &p); err != nil || (p.Label != "same" && p.Label != "diff") {
		t.Errorf("prediction %s: %v", byArgs[0], err)
	}
	code, out, errs = cli(t, "evaluate", "--db", db, "--name", "dup", "--pair", csvPath)
	if code != 0 || !strings.Contains(out, `"metric":"accuracy"`) {
		t.Fatalf("evaluate --pair: exit %d: %s %s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"predict", "--db", db, "--name", "dup", "--", "wonderful film"}, 1, "adapter dup is a text-pair adapter, give --pair"},
		{[]string{"predict", "--db", db, "--name", "dup", "--pair", "--", "wonderful film"}, 2, "--pair takes texts in pairs"},
		{[]string{"evaluate", "--db", db, "--name", "dup", csvPath}, 1, "adapter dup is a text-pair adapter, give --pair"},
		{[]string{"train", "--db", db, "--model", model, "--name", "x", "--pair", filepath.Join("..", "..", "testdata", "datasets", "fortunes_test.csv")}, 1, "2 column(s), want text,text2,target"},
	} {
		code, _, errs := cli(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}
