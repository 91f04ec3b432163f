package cuda

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestTorchbenchCPU runs the device check's PyTorch baseline, inference and
// adapter training, on the CPU at a tiny shape where a python3 with torch is
// installed, so that the script meets the GPU machine already run once: the
// GPU run is the only other place it executes.
func TestTorchbenchCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts PyTorch")
	}
	var py string
	for _, cand := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(cand); err == nil && exec.Command(p, "-c", "import torch").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("no python3 with torch")
	}
	for _, mode := range [][]string{nil, {"--train"}} {
		args := append([]string{"torchbench.py", "--device", "cpu", "--preset", "minilm-l6", "--shape", "2,16",
			"--dtype", "bf16", "--iters", "1"}, mode...)
		out, err := exec.Command(py, args...).Output()
		if err != nil {
			t.Fatalf("torchbench.py %s: %v\n%s", strings.Join(mode, " "), err, out)
		}
		var r map[string]any
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("torchbench.py %s: output %q: %v", strings.Join(mode, " "), out, err)
		}
		key := "seq_per_s"
		if mode != nil {
			key = "examples_per_s"
		}
		if v, ok := r[key].(float64); !ok || v <= 0 {
			t.Errorf("torchbench.py %s: %s = %v in %s", strings.Join(mode, " "), key, r[key], out)
		}
	}
}
