package adapter_test

import (
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// The input kind (single text or text pair) is recorded in the file: a pair
// adapter reads back as one, a file without the entry (written before it
// existed) reads as single-text, and the entry is under the checksum.
func TestInputsMetadata(t *testing.T) {
	be := testmodels.Backends(t)[0]
	m := testmodels.Load(t, "bert-tiny", be)
	meta := adapter.Meta{Name: "dup", BaseFingerprint: "fp"}

	single := newSet(t, m, adapter.Classification, 1)
	if single.Inputs != adapter.SingleText {
		t.Fatalf("new set without an input kind: %q, want single", single.Inputs)
	}
	pair := newSet(t, m, adapter.Classification, 1)
	pair.Inputs = adapter.TextPair
	for _, c := range []struct {
		set  *adapter.Set
		want adapter.Inputs
	}{{single, adapter.SingleText}, {pair, adapter.TextPair}} {
		data, err := adapter.Encode(c.set, meta)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data[:4096]), `"inputs":"`+string(c.want)+`"`) {
			t.Errorf("%s: the file does not record its input kind", c.want)
		}
		got, _, err := adapter.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.Inputs != c.want || got.Inputs.Texts() != map[adapter.Inputs]int{adapter.SingleText: 1, adapter.TextPair: 2}[c.want] {
			t.Errorf("decoded inputs %q, want %q", got.Inputs, c.want)
		}
	}

	data, err := adapter.Encode(pair, meta)
	if err != nil {
		t.Fatal(err)
	}
	// A format 1 file of an older build: no inputs entry, no file checksum.
	s, _, err := adapter.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	old := editMeta(t, data, func(md map[string]string) {
		delete(md, "inputs")
		delete(md, "checksum_sha256")
		md["format_version"] = "1"
		md["weights_sha256"] = formatOneSum(s)
	})
	got, _, err := adapter.Decode(old)
	if err != nil {
		t.Fatalf("file without inputs: %v", err)
	}
	if got.Inputs != adapter.SingleText {
		t.Errorf("file without inputs decoded as %q, want single", got.Inputs)
	}
	if _, _, err := adapter.Decode(editMeta(t, data, func(md map[string]string) { md["inputs"] = "single" })); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("edited inputs entry: %v, want a checksum error", err)
	}
	if _, _, err := adapter.Decode(editMeta(t, old, func(md map[string]string) { md["inputs"] = "triple" })); err == nil || !strings.Contains(err.Error(), "input kind") {
		t.Errorf("unknown inputs entry: %v, want an input kind error", err)
	}
}
