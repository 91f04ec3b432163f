package adapter_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// header splits a safetensors file into its header JSON and its data.
func header(t *testing.T, data []byte) (map[string]json.RawMessage, []byte) {
	t.Helper()
	n := binary.LittleEndian.Uint64(data)
	var h map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	return h, data[8+n:]
}

// withHeader is a file with header bytes hdr (any length) and data.
func withHeader(hdr, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	return append(append(out, hdr...), data...)
}

// editMeta rewrites a file's metadata as a tool would (the header
// re-serialised, its length changed).
func editMeta(t *testing.T, data []byte, f func(md map[string]string)) []byte {
	t.Helper()
	h, rest := header(t, data)
	var md map[string]string
	if err := json.Unmarshal(h["__metadata__"], &md); err != nil {
		t.Fatal(err)
	}
	f(md)
	b, err := json.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	h["__metadata__"] = b
	hdr, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return withHeader(hdr, rest)
}

// editBytes replaces old with new in a file's header bytes, fixing the
// header's length when they differ in length.
func editBytes(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(data)
	hdr := data[8 : 8+n]
	if !bytes.Contains(hdr, []byte(old)) {
		t.Fatalf("header lacks %s", old)
	}
	return withHeader(bytes.Replace(hdr, []byte(old), []byte(new), 1), data[8+n:])
}

// Everything in an adapter file that changes its predictions is covered by
// the file's checksum: an edited label list (same length or not), head,
// pooling, activation, options, regression scaling — and any other metadata
// entry — is refused on decode. Files of format 1 (whose checksum covers the
// tensors only) still decode.
func TestChecksumCoversMetadata(t *testing.T) {
	be := testmodels.Backends(t)[0]
	m := testmodels.Load(t, "bert-tiny", be)
	meta := adapter.Meta{Name: "x", BaseFingerprint: "fp", Options: map[string]string{"max_length": "16"}}
	cls, err := adapter.Encode(newSet(t, m, adapter.Classification, 1), meta)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := adapter.Encode(newSet(t, m, adapter.Regression, 2), meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, good := range [][]byte{cls, reg} {
		if _, _, err := adapter.Decode(good); err != nil {
			t.Fatalf("untouched file: %v", err)
		}
	}
	set := func(k, v string) func(map[string]string) { return func(md map[string]string) { md[k] = v } }
	edited := map[string][]byte{
		"labels swapped (same length)":   editBytes(t, cls, `[\"neg\",\"pos\"`, `[\"pos\",\"neg\"`),
		"label renamed (another length)": editBytes(t, cls, `\"neutral\"`, `\"mixed\"`),
		"labels rewritten by a tool":     editMeta(t, cls, set("labels", `["bad","good","meh"]`)),
		"head":                           editMeta(t, cls, set("head", "multilabel")),
		"pool":                           editMeta(t, cls, set("pool", "mean")),
		"activation":                     editMeta(t, cls, set("adapter_activation", "relu")),
		"options":                        editMeta(t, cls, set("options", `{"max_length":"128"}`)),
		"an added entry":                 editMeta(t, cls, set("note", "hello")),
		"target_mean":                    editMeta(t, reg, set("target_mean", "30")),
		"target_std":                     editMeta(t, reg, set("target_std", "0.5")),
		"checksum removed":               editMeta(t, cls, func(md map[string]string) { delete(md, "checksum_sha256") }),
	}
	for name, data := range edited {
		if _, _, err := adapter.Decode(data); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("%s: decoded (%v), want a checksum error", name, err)
		}
	}

	// A file as the previous version wrote it: format 1, weights_sha256
	// over the tensors only. It decodes; damaged weights are still caught.
	h, rest := header(t, cls)
	var md map[string]string
	if err := json.Unmarshal(h["__metadata__"], &md); err != nil {
		t.Fatal(err)
	}
	s, _, err := adapter.Decode(cls)
	if err != nil {
		t.Fatal(err)
	}
	v1 := editMeta(t, cls, func(md map[string]string) {
		delete(md, "checksum_sha256")
		md["format_version"] = "1"
		md["weights_sha256"] = formatOneSum(s)
	})
	got, _, err := adapter.Decode(v1)
	if err != nil {
		t.Fatalf("format 1 file: %v", err)
	}
	if strings.Join(got.Labels, ",") != "neg,pos,neutral" {
		t.Errorf("format 1 labels: %v", got.Labels)
	}
	bad := append([]byte(nil), v1...)
	bad[len(bad)-len(rest)+17] ^= 0x40
	if _, _, err := adapter.Decode(bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("format 1 file with a damaged weight: %v", err)
	}
}

// formatOneSum is format 1's weights_sha256: every tensor's name, shape and
// little-endian float32 bytes, LayerNorm copies in name order (a decoded,
// unaligned set's Params order).
func formatOneSum(s *adapter.Set) string {
	h := sha256.New()
	for _, p := range s.Params() {
		fmt.Fprintf(h, "%s%v\n", p.Name, p.Shape)
		for _, x := range p.Data {
			h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(x)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
