package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// cli runs the command line in-process and returns its exit code, stdout and
// stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeCSV writes a header line and rows repeated n times to path (the
// small training sets of these tests) and returns path.
func writeCSV(t *testing.T, path, header, rows string, n int) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(header+"\n"+strings.Repeat(rows, n)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func jsonLines(t *testing.T, s string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l == "" {
			continue
		}
		if !json.Valid([]byte(l)) {
			t.Fatalf("not a JSON line: %q", l)
		}
		out = append(out, json.RawMessage(l))
	}
	return out
}

type tokCase struct {
	Text           string  `json:"text"`
	IDs            []int32 `json:"ids"`
	IDsWithSpecial []int32 `json:"ids_with_special"`
}

// The tokenize contract: one JSON array of ids per text, one per line,
// equal to the external tokenizer goldens.
func TestTokenizeContract(t *testing.T) {
	for model, golden := range map[string]string{"bert-tiny": "bert-base-uncased", "gpt2-tiny": "gpt2", "roberta-tiny": "roberta-base"} {
		raw, err := os.ReadFile(filepath.Join(testmodels.Root(), "tokenizers", golden+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var g struct{ Cases []tokCase }
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		cases := g.Cases[:40]
		texts := []string{"--model", testmodels.Dir(model), "--"}
		for _, c := range cases {
			texts = append(texts, c.Text)
		}
		for _, special := range []bool{true, false} {
			args := append([]string{"tokenize"}, texts...)
			if !special {
				args = append([]string{"tokenize", "--no-special"}, texts...)
			}
			code, out, errs := cli(t, args...)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", model, code, errs)
			}
			lines := jsonLines(t, out)
			if len(lines) != len(cases) {
				t.Fatalf("%s: %d lines for %d texts", model, len(lines), len(cases))
			}
			for i, c := range cases {
				want := c.IDsWithSpecial
				if !special {
					want = c.IDs
				}
				wantJSON, _ := json.Marshal(want)
				if want == nil {
					wantJSON = []byte("[]")
				}
				if string(lines[i]) != string(wantJSON) {
					t.Errorf("%s %q (special %v): %s, want %s", model, c.Text, special, lines[i], wantJSON)
				}
			}
		}
	}
}

// Texts after -- are never flags, even when they look like one.
func TestDashDash(t *testing.T) {
	code, out, errs := cli(t, "tokenize", "--model", testmodels.Dir("bert-tiny"), "--no-special", "--", "--pool", "-x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if lines := jsonLines(t, out); len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), out)
	}
	// Flags may also follow texts.
	code, out, _ = cli(t, "tokenize", "hello", "--model", testmodels.Dir("bert-tiny"), "--no-special")
	if code != 0 || strings.TrimSpace(out) != "[7592]" {
		t.Fatalf("interspersed flags: %d %q", code, out)
	}
}

// The embed contract: one JSON array of floats per text, the golden pooled
// features.
func TestEmbedContract(t *testing.T) {
	dir := filepath.Join(testmodels.Root(), "golden", "bert-tiny")
	raw, _ := os.ReadFile(filepath.Join(dir, "golden.json"))
	var g struct {
		Cases []struct {
			Name, Text string
			TextPair   *string `json:"text_pair"`
		}
	}
	json.Unmarshal(raw, &g)
	st, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, pool := range []string{"mean", "first", "cls", ""} {
		key := map[string]string{"mean": "mean_pooled", "first": "first_token", "cls": "pooler_output", "": "pooler_output"}[pool]
		var texts []string
		var names []string
		for _, c := range g.Cases[:8] {
			if c.TextPair == nil {
				texts, names = append(texts, c.Text), append(names, c.Name)
			}
		}
		args := []string{"embed", "--model", testmodels.Dir("bert-tiny")}
		if pool != "" {
			args = append(args, "--pool", pool)
		}
		code, out, errs := cli(t, append(append(args, "--"), texts...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		lines := jsonLines(t, out)
		for i, l := range lines {
			var v []float64
			if err := json.Unmarshal(l, &v); err != nil {
				t.Fatal(err)
			}
			want, _ := st.Float32("case." + names[i] + "." + key)
			for j := range want {
				if math.Abs(v[j]-float64(want[j])) > 1e-4 {
					t.Fatalf("pool %q %s: dim %d %g, want %g", pool, names[i], j, v[j], want[j])
				}
			}
		}
	}
}

func TestBenchContract(t *testing.T) {
	code, out, errs := cli(t, "bench", "--model", testmodels.Dir("gpt2-tiny"), "--batch", "3", "--seq", "16", "--iters", "2", "--adapters", "2", "--adapter-size", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := jsonLines(t, out)
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	var m map[string]any
	json.Unmarshal(lines[0], &m)
	for _, k := range []string{"seq_per_s", "ms_per_batch", "gflops", "backend"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %s in %s", k, lines[0])
		}
	}
}

// TestTrainEpochLines: on a non-terminal stderr every epoch gets its log
// line, the last one too, with its validation loss when there is a
// validation set.
func TestTrainEpochLines(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "train.csv")
	writeCSV(t, csvPath, "text,label", "\"a wonderful, delightful film\",pos\nterrible boring awful,neg\n", 8)
	code, _, errs := cli(t, "train", "--db", filepath.Join(dir, "a.db"), "--model", testmodels.Dir("bert-tiny"), "--name", "s",
		"--set", "epochs=3", "--set", "adapter_size=8", "--set", "validation_fraction=0.25", "--set", "early_stopping=0", csvPath)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}
	var epochs []string
	for _, l := range strings.Split(errs, "\n") {
		if strings.Contains(l, "epoch done") {
			epochs = append(epochs, l)
		}
	}
	if len(epochs) != 3 {
		t.Fatalf("%d epoch lines, want 3: %q", len(epochs), errs)
	}
	for i, l := range epochs {
		if !strings.Contains(l, "val_loss") || !strings.Contains(l, "train_loss") {
			t.Errorf("epoch %d line without its losses: %q", i+1, l)
		}
	}
}

func TestTrainPredictContract(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "train.csv")
	writeCSV(t, csvPath, "text,label", "\"a wonderful, delightful film\",pos\nterrible boring awful,neg\n", 6)
	db := filepath.Join(dir, "a.db")
	model := testmodels.Dir("bert-tiny")
	code, out, errs := cli(t, "train", "--db", db, "--model", model, "--name", "s", "--set", "epochs=20", "--set", "adapter_size=8", "--set", "validation_fraction=0", csvPath)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "\r") || !strings.Contains(errs, "epoch done") {
		t.Errorf("train on a non-terminal stderr: want log lines and no progress bar, got %q", errs)
	}
	if lines := jsonLines(t, out); len(lines) != 1 || !strings.Contains(out, `"task":"classification"`) {
		t.Fatalf("train output %q", out)
	}
	// The base model is taken from the catalog when --model is omitted.
	code, out, errs = cli(t, "predict", "--db", db, "--name", "s", "--", "wonderful film", "boring awful")
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errs)
	}
	lines := jsonLines(t, out)
	var p []struct {
		Label string             `json:"label"`
		Proba map[string]float64 `json:"proba"`
	}
	for _, l := range lines {
		var x struct {
			Label string             `json:"label"`
			Proba map[string]float64 `json:"proba"`
		}
		json.Unmarshal(l, &x)
		p = append(p, x)
	}
	if len(p) != 2 || p[0].Label != "pos" || p[1].Label != "neg" || len(p[0].Proba) != 2 {
		t.Fatalf("predictions %s", out)
	}
	// Errors: a name clash, an unknown adapter, an unknown option, a bad CSV.
	if code, _, errs := cli(t, "train", "--db", db, "--model", model, "--name", "s", csvPath); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("clash: %d %s", code, errs)
	}
	if code, _, errs := cli(t, "predict", "--db", db, "--name", "nope", "x"); code == 0 || !strings.Contains(errs, "nope") {
		t.Errorf("unknown adapter: %d %s", code, errs)
	}
	if code, _, errs := cli(t, "train", "--db", db, "--name", "t", "--set", "bogus=1", csvPath); code != 2 || !strings.Contains(errs, "unknown option") {
		t.Errorf("bad option: %d %s", code, errs)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("text,label\n\"unterminated,x\n"), 0o644)
	if code, _, errs := cli(t, "train", "--db", db, "--model", model, "--name", "t", bad); code == 0 || !strings.Contains(errs, "bad.csv") {
		t.Errorf("bad csv: %d %s", code, errs)
	}
}

func TestUsage(t *testing.T) {
	if code, _, _ := cli(t); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code, _, errs := cli(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %s", code, errs)
	}
	if code, _, _ := cli(t, "tokenize"); code != 2 {
		t.Errorf("tokenize without texts: exit %d", code)
	}
	if code, _, _ := cli(t, "embed", "--help"); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
}

// Help asked for is the output: stdout, exit 0. A usage error's help goes to
// stderr after the error, exit 2.
func TestHelpOnStdout(t *testing.T) {
	cases := [][]string{{"--help"}, {"-h"}, {"help"}}
	for _, c := range commands {
		cases = append(cases, []string{c.name, "--help"}, []string{c.name, "-h"})
	}
	for _, args := range cases {
		code, out, errs := cli(t, args...)
		if code != 0 || !strings.Contains(out, "Usage: adapterdb") || errs != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0, the help on stdout", args, code, out, errs)
		}
	}
	if _, out, _ := cli(t, "train", "--help"); !strings.Contains(out, "-replace") || !strings.Contains(out, "new version") {
		t.Errorf("train --help says nothing of versions: %s", out)
	}
	for _, args := range [][]string{{}, {"train", "--bogus"}, {"evaluate", "--db"}} {
		code, out, errs := cli(t, args...)
		if code != 2 || out != "" || !strings.Contains(errs, "Usage: adapterdb") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, the usage on stderr", args, code, out, errs)
		}
	}
	// The top-level summaries line up, however long a command's name.
	_, out, _ := cli(t, "--help")
	col := -1
	for _, l := range strings.Split(out, "\n") {
		for _, c := range commands {
			if rest, ok := strings.CutPrefix(l, "  "+c.name+" "); ok {
				at := len(l) - len(strings.TrimLeft(rest, " "))
				if col == -1 {
					col = at
				} else if at != col {
					t.Errorf("%q: summary at column %d, others at %d", l, at, col)
				}
			}
		}
	}
}
