package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// TestEmbedCPUPrecisions runs embed on cpu:bf16 and cpu:int8: where this CPU
// has them that backend runs and the vectors point where fp32's do (cosine
// ≥ 0.99); where it has
// not, the command fails with an error naming what is missing. An unknown
// precision is a usage error that lists the known ones.
func TestEmbedCPUPrecisions(t *testing.T) {
	model := testmodels.Dir("bert-tiny")
	texts := []string{"the quick brown fox", "a wonderful, delightful film about databases"}
	embed := func(device string) (int, [][]float64, string) {
		code, out, errs := cli(t, append([]string{"embed", "--model", model, "--pool", "mean", "--device", device, "--"}, texts...)...)
		var vecs [][]float64
		for _, l := range jsonLines(t, out) {
			var v []float64
			if err := json.Unmarshal(l, &v); err != nil {
				t.Fatalf("%s: %v", device, err)
			}
			vecs = append(vecs, v)
		}
		return code, vecs, errs
	}
	code, want, errs := embed("cpu")
	if code != 0 || len(want) != len(texts) {
		t.Fatalf("cpu: exit %d, %d vectors: %s", code, len(want), errs)
	}
	for _, precision := range []string{"bf16", "int8"} {
		_, available := cpu.New(zerolog.Nop(), cpu.Options{Precision: precision})
		code, got, errs := embed("cpu:" + precision)
		if available != nil {
			if code == 0 || !strings.Contains(errs, precision) {
				t.Errorf("cpu:%s on a CPU without it: exit %d, stderr %q", precision, code, errs)
			}
			continue
		}
		if code != 0 || len(got) != len(texts) {
			t.Fatalf("cpu:%s: exit %d, %d vectors: %s", precision, code, len(got), errs)
		}
		// The vectors alone would pass with the flag ignored: the log names
		// the backend that ran.
		if !strings.Contains(errs, "backend=cpu/onednn-"+precision+"-") {
			t.Errorf("cpu:%s: the log names no %s backend: %q", precision, precision, errs)
		}
		for i := range got {
			var ab, aa, bb float64
			for j := range got[i] {
				ab += got[i][j] * want[i][j]
				aa += got[i][j] * got[i][j]
				bb += want[i][j] * want[i][j]
			}
			if c := ab / math.Sqrt(aa*bb); !(c >= 0.99) {
				t.Errorf("cpu:%s text %d: cosine %.4f with fp32's vector", precision, i, c)
			}
		}
	}
	code, _, errs = embed("cpu:fp16")
	if code != 2 || !strings.Contains(errs, "cpu:int8") {
		t.Errorf("cpu:fp16: exit %d, stderr %q; want a usage error listing cpu:int8", code, errs)
	}
}
