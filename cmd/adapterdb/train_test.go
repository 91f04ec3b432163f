package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// --set keep_versions=N sets the retention, as OPTIONS (keep_versions = N);
// --set background is refused: the command line trains in the foreground.
func TestTrainKeepVersionsCLI(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "train.csv")
	writeCSV(t, csvPath, "text,label", "a wonderful film,pos\nterrible boring awful,neg\n", 4)
	db := filepath.Join(dir, "a.db")
	model := testmodels.Dir("bert-tiny")
	args := []string{"train", "--db", db, "--model", model, "--name", "s", "--set", "epochs=1", "--set", "adapter_size=4",
		"--set", "validation_fraction=0", "--set", "keep_versions=2"}
	for i := 0; i < 3; i++ {
		a := args
		if i > 0 {
			a = append(append([]string{}, args...), "--replace")
		}
		if code, _, errs := cli(t, append(a, csvPath)...); code != 0 {
			t.Fatalf("train %d: exit %d: %s", i, code, errs)
		}
	}
	cat, err := catalog.Open(db, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	vs, err := cat.Versions(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[1].Version != 3 || vs[1].KeepVersions != 2 {
		t.Fatalf("versions after 3 trainings with keep_versions=2: %+v", vs)
	}
	for _, c := range []struct{ set, want string }{
		{"keep_versions=0", "keep_versions=0: want an integer from 1 to"},
		{"keep_versions=x", "keep_versions=x: want an integer"},
		{"background=true", "background jobs are SQL's"},
		{"BACKGROUND=false", "always trains in the foreground"},
	} {
		code, _, errs := cli(t, "train", "--db", db, "--model", model, "--name", "t", "--set", c.set, csvPath)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("--set %s: exit %d %q, want 2 and %q", c.set, code, errs, c.want)
		}
	}
}

// A spreadsheet's byte-order mark before a quoted header does not break the
// command line's CSV readers (the CSV reader refuses a bare quote after it).
func TestCSVByteOrderMark(t *testing.T) {
	path := writeCSV(t, filepath.Join(t.TempDir(), "bom.csv"), "\ufeff\"text\",\"label\"", "\"good film\",pos\nbad,neg\n", 2)
	ex, err := readTrainingCSV(path, false)
	if err != nil || len(ex) != 4 || ex[0].Text != "good film" || ex[1].Target != "neg" {
		t.Fatalf("training CSV: %v %+v", err, ex)
	}
	texts, err := readTextCSV(path, false)
	if err != nil || len(texts) != 4 || texts[0] != "good film" {
		t.Fatalf("text CSV: %v %q", err, texts)
	}
}
