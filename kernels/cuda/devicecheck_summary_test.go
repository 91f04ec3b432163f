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
// check output and reads its verdicts: the PyTorch, mixed-adapter and wire
// bars, the test verdicts, and the markdown.
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
