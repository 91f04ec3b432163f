package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// train takes a spans column with --set task=sequence_labeling; predict
// prints each text's entities; evaluate the span-level metrics.
func TestSequenceLabelingCLI(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(testmodels.Root(), "datasets", "ner_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(src), "\n")
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "ner.csv")
	os.WriteFile(csvPath, []byte(strings.Join(lines[:41], "")), 0o644) // header + 40 rows
	db := filepath.Join(dir, "a.db")
	code, out, errs := cli(t, "train", "--db", db, "--model", testmodels.Dir("bert-tiny"), "--name", "ner",
		"--set", "task=sequence_labeling", "--set", "epochs=3", "--set", "adapter_size=8", "--set", "max_length=16", csvPath)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}
	var rec struct {
		Task   string   `json:"task"`
		Labels []string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Task != "sequence_labeling" || strings.Join(rec.Labels, ",") != "LOC,ORG,PER" {
		t.Fatalf("train printed %s (%v)", out, err)
	}
	code, out, errs = cli(t, "predict", "--db", db, "--name", "ner", "--", "Anna Schmidt moved to Oslo.")
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errs)
	}
	var pred struct {
		Entities []struct {
			Start, End  int
			Label, Text string
			Score       float64
		} `json:"entities"`
	}
	if err := json.Unmarshal([]byte(out), &pred); err != nil || pred.Entities == nil {
		t.Fatalf("predict printed %s (%v)", out, err)
	}
	code, out, errs = cli(t, "evaluate", "--db", db, "--name", "ner", csvPath)
	if code != 0 || !strings.Contains(out, `"metric":"span_f1"`) || !strings.Contains(out, `"metric":"support:PER"`) {
		t.Fatalf("evaluate: exit %d: %s %s", code, out, errs)
	}
	os.WriteFile(csvPath, []byte("text,spans\nOslo,\"[{\"\"start\"\":0,\"\"end\"\":9,\"\"label\"\":\"\"LOC\"\"}]\"\n"), 0o644)
	code, _, errs = cli(t, "train", "--db", db, "--model", testmodels.Dir("bert-tiny"), "--name", "bad",
		"--set", "task=sequence_labeling", csvPath)
	if code == 0 || !strings.Contains(errs, "row 1: span 1 [0, 9) is outside the text (4 characters)") {
		t.Fatalf("bad spans: exit %d: %s", code, errs)
	}
}
