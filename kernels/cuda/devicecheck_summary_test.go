package cuda

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeviceCheckSummary runs devicecheck_summary.py on a made-up device
// check output and reads its verdicts: the PyTorch, mixed-adapter, wire and
// training bars, the test verdicts, and the markdown.
func TestDeviceCheckSummary(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	dir := t.TempDir()
	files := map[string]string{
		"tests.log": "--- PASS: TestConformance (1.0s)\n--- PASS: TestMixedEqualsPerAdapter (2.0s)\n",
		"bench.jsonl": `{"preset":"minilm-l6","device":"cuda:bf16","batch":128,"seq":128,"adapters":0,"seq_per_s":80000}
{"preset":"minilm-l6","device":"cuda:fp16","batch":128,"seq":128,"adapters":1,"seq_per_s":50000}
{"preset":"minilm-l6","device":"cuda:fp16","batch":128,"seq":128,"adapters":16,"seq_per_s":48000}
`,
		"torch.jsonl": `{"preset":"minilm-l6","batch":128,"seq":128,"dtype":"bf16","seq_per_s":70000}` + "\n",
		"wire.jsonl": `{"device":"cuda:bf16","batch":64,"mean_tokens":41.2,"bench_seq":41,"bench_seq_per_s":50000,"wire_rows_per_s":42000,"ratio":0.84,"sessions":8,"wire_sessions_rows_per_s":45000,"ratio_sessions":0.9,"client":"mini"}
`,
		"train.jsonl": `{"kind":"speed","preset":"minilm-l6","device":"cuda:bf16","batch":32,"seq":128,"name":"t","metrics":{"examples_per_s":3000,"backend":"cuda/bf16/cublas-13.1.0"}}
{"kind":"agree","preset":"minilm-l6","device":"cpu","batch":16,"seq":32,"metrics":{"train_loss":2.0,"validation_loss":2.2,"backend":"cpu/openblas-Haswell"}}
{"kind":"agree","preset":"minilm-l6","device":"cuda:fp32","batch":16,"seq":32,"metrics":{"train_loss":2.0001,"validation_loss":2.2,"backend":"cuda/fp32/cublas-13.1.0"}}
{"kind":"agree","preset":"minilm-l6","device":"cuda:fp16","batch":16,"seq":32,"metrics":{"train_loss":2.05,"validation_loss":2.25,"backend":"cuda/fp16/cublas-13.1.0","skipped_steps":2}}
`,
		"torch_train.jsonl": `{"framework":"torch","mode":"train","preset":"minilm-l6","batch":32,"seq":128,"dtype":"bf16","examples_per_s":2500}` + "\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type summary struct {
		TestsOK bool `json:"tests_ok"`
		BarsOK  bool `json:"bars_ok"`
		Wire    []struct {
			Batch int     `json:"batch"`
			Ratio float64 `json:"ratio"`
			OK    bool    `json:"ok"`
		} `json:"wire"`
		VsTorch []struct {
			Ratio float64 `json:"ratio"`
			OK    bool    `json:"ok"`
		} `json:"vs_torch"`
		TrainVsTorch []struct {
			Ratio float64 `json:"ratio"`
			OK    bool    `json:"ok"`
		} `json:"train_vs_torch"`
		TrainAgreement []struct {
			Device string  `json:"device"`
			Rel    float64 `json:"train_rel"`
			OK     bool    `json:"ok"`
		} `json:"train_agreement"`
	}
	run := func() (summary, string) {
		t.Helper()
		out, err := exec.Command(py, "devicecheck_summary.py", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("devicecheck_summary.py: %v\n%s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s summary
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
		if err != nil {
			t.Fatal(err)
		}
		return s, string(md)
	}
	s, md := run()
	if !s.TestsOK || len(s.VsTorch) != 1 || !s.VsTorch[0].OK || len(s.Wire) != 1 || !s.Wire[0].OK || s.Wire[0].Batch != 64 || !s.BarsOK {
		t.Errorf("all bars met: %+v", s)
	}
	if !strings.Contains(md, "| cuda:bf16 | 64 | 41.2 (41) | 50000 | 42000 | 0.84 ok | 8 | 45000 | 0.9 |") {
		t.Errorf("summary.md lacks the wire row:\n%s", md)
	}
	if len(s.TrainVsTorch) != 1 || s.TrainVsTorch[0].Ratio != 1.2 || !s.TrainVsTorch[0].OK {
		t.Errorf("training 3000 vs torch 2500 examples/s: %+v", s.TrainVsTorch)
	}
	if len(s.TrainAgreement) != 2 || !s.TrainAgreement[0].OK || !s.TrainAgreement[1].OK || s.TrainAgreement[1].Rel != 0.025 {
		t.Errorf("training agreement (fp32 5e-5, fp16 2.5%% and 2.3%% relative): %+v", s.TrainAgreement)
	}
	if !strings.Contains(md, "| minilm-l6 | cuda:bf16 | 32 | 128 | 3000 | 2500 | 1.2 ok |") {
		t.Errorf("summary.md lacks the training row:\n%s", md)
	}
	// fp32 training off by 1e-2 (tolerance 1e-3) and slower than PyTorch:
	// both training bars fail, and the run's.
	off := strings.Replace(strings.Replace(files["train.jsonl"], `"train_loss":2.0001`, `"train_loss":2.02`, 1),
		`"examples_per_s":3000`, `"examples_per_s":2000`, 1)
	if err := os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(off), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, md = run(); s.BarsOK || s.TrainVsTorch[0].OK || s.TrainAgreement[0].OK || !s.TrainAgreement[1].OK ||
		!strings.Contains(md, "0.8 BELOW") || !strings.Contains(md, "0.001 OUTSIDE") {
		t.Errorf("training below its bars: %+v\n%s", s, md)
	}
	if err := os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(files["train.jsonl"]), 0o644); err != nil {
		t.Fatal(err)
	}
	// A wire ratio under 0.8 fails its bar and the run's.
	below := strings.Replace(files["wire.jsonl"], `"ratio":0.84`, `"ratio":0.5`, 1)
	if err := os.WriteFile(filepath.Join(dir, "wire.jsonl"), []byte(below), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, md = run(); len(s.Wire) != 1 || s.Wire[0].OK || s.BarsOK || !strings.Contains(md, "0.5 BELOW") {
		t.Errorf("wire ratio 0.5: %+v\n%s", s, md)
	}
	// No wire step (skipped for time): the run's bars are not met.
	if err := os.Remove(filepath.Join(dir, "wire.jsonl")); err != nil {
		t.Fatal(err)
	}
	if s, _ = run(); len(s.Wire) != 0 || s.BarsOK {
		t.Errorf("no wire.jsonl: %+v", s)
	}
}
