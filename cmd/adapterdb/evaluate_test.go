package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// The evaluate contract: SQL's metrics as JSON lines or a table; accuracy is
// predict's; the confusion matrix's cells sum to the rows.
func TestEvaluateContract(t *testing.T) {
	dir := t.TempDir()
	trainCSV, testCSV := filepath.Join(dir, "train.csv"), filepath.Join(dir, "test.csv")
	writeCSV(t, trainCSV, "text,label", "\"a wonderful, delightful film\",pos\nterrible boring awful,neg\n", 6)
	texts := []string{"wonderful film", "boring awful", "delightful", "awful film", "so so"}
	labels := []string{"pos", "neg", "neg", "neg", "meh"}
	var b strings.Builder
	b.WriteString("text,label\n")
	for i := range texts {
		b.WriteString(texts[i] + "," + labels[i] + "\n")
	}
	os.WriteFile(testCSV, []byte(b.String()), 0o644)
	db := filepath.Join(dir, "a.db")
	if code, _, errs := cli(t, "train", "--db", db, "--model", testmodels.Dir("bert-tiny"), "--name", "s", "--set", "epochs=20",
		"--set", "adapter_size=8", "--set", "validation_fraction=0", trainCSV); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}

	code, out, errs := cli(t, "evaluate", "--db", db, "--name", "s", testCSV)
	if code != 0 {
		t.Fatalf("evaluate: exit %d: %s", code, errs)
	}
	var names []string
	m := map[string]float64{}
	for _, l := range jsonLines(t, out) {
		var x struct {
			Metric string  `json:"metric"`
			Value  float64 `json:"value"`
		}
		if err := json.Unmarshal(l, &x); err != nil {
			t.Fatal(err)
		}
		names = append(names, x.Metric)
		m[x.Metric] = x.Value
	}
	want := "rows skipped accuracy macro_f1 weighted_f1 log_loss unseen_labels precision:neg recall:neg f1:neg support:neg " +
		"precision:pos recall:pos f1:pos support:pos precision:meh recall:meh f1:meh support:meh"
	if strings.Join(names, " ") != want {
		t.Fatalf("metrics %v", names)
	}
	args := append([]string{"predict", "--db", db, "--name", "s", "--"}, texts...)
	code, out, errs = cli(t, args...)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errs)
	}
	correct := 0
	for i, l := range jsonLines(t, out) {
		var p struct{ Label string }
		json.Unmarshal(l, &p)
		if p.Label == labels[i] {
			correct++
		}
	}
	if m["rows"] != 5 || m["unseen_labels"] != 1 || m["support:neg"] != 3 || math.Abs(m["accuracy"]-float64(correct)/5) > 1e-12 {
		t.Errorf("metrics %v; predict got %d of 5 right", m, correct)
	}

	code, out, errs = cli(t, "evaluate", "--db", db, "--name", "s@1", "--confusion", testCSV)
	if code != 0 {
		t.Fatalf("evaluate --confusion: exit %d: %s", code, errs)
	}
	var total int64
	for _, l := range jsonLines(t, out) {
		var c struct {
			Actual, Predicted string
			N                 int64
		}
		json.Unmarshal(l, &c)
		total += c.N
	}
	if total != 5 {
		t.Errorf("confusion cells sum to %d: %s", total, out)
	}
	code, out, _ = cli(t, "evaluate", "--db", db, "--name", "s", "--format", "table", testCSV)
	if code != 0 || !strings.HasPrefix(out, "metric") || !strings.Contains(out, "\nsupport:meh  ") {
		t.Errorf("table: exit %d: %q", code, out)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--db", db, "--name", "s"}, 2, "one CSV file"},
		{[]string{"--db", db, "--name", "s@x", testCSV}, 2, "invalid adapter version"},
		{[]string{"--db", db, "--name", "s", "--format", "xml", testCSV}, 2, "want json or table"},
		{[]string{"--db", db, "--name", "s@2", testCSV}, 1, "adapter s has no version 2 (its active version is 1)"},
		{[]string{"--db", db, "--name", "nope", testCSV}, 1, "nope"},
	} {
		code, _, errs := cli(t, append([]string{"evaluate"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("evaluate %v: exit %d %q, want %d %q", c.args, code, errs, c.code, c.want)
		}
	}
}
