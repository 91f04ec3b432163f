package catalog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

// safetensors is a minimal safetensors file: the header (no tensors, the
// given metadata) and 8 bytes of data.
func safetensors(t *testing.T, meta map[string]string) []byte {
	t.Helper()
	header, err := json.Marshal(map[string]any{"__metadata__": meta})
	if err != nil {
		t.Fatal(err)
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), 1, 2, 3, 4, 5, 6, 7, 8)
}

// Put stores the record's input kind, or the weights' when it names none;
// every read returns it.
func TestInputs(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	pairFile := safetensors(t, map[string]string{"inputs": "pair", "task": "classification"})
	oldFile := safetensors(t, map[string]string{"task": "classification"}) // before pair adapters
	for _, tc := range []struct {
		name, inputs string
		blob         []byte
		want         string
	}{
		{"p", InputsPair, []byte("any weights"), "pair"},
		{"s", InputsSingle, []byte("any weights"), "single"},
		{"from_file_pair", "", pairFile, "pair"},
		{"from_file_old", "", oldFile, "single"},
		{"not_a_file", "", []byte("xy"), ""},
	} {
		r := record(tc.name, tc.blob)
		r.Inputs = tc.inputs
		if _, err := c.Put(ctx, r, tc.blob, Create); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := c.Info(ctx, tc.name)
		if err != nil || got.Inputs != tc.want {
			t.Errorf("Info(%s).Inputs = %q, %v; want %q", tc.name, got.Inputs, err, tc.want)
		}
		if got, _, err := c.Get(ctx, tc.name); err != nil || got.Inputs != tc.want {
			t.Errorf("Get(%s).Inputs = %q, %v; want %q", tc.name, got.Inputs, err, tc.want)
		}
	}
	recs, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.Name] = r.Inputs
	}
	if got["p"] != "pair" || got["s"] != "single" || got["from_file_pair"] != "pair" || len(got) != 5 {
		t.Errorf("List inputs: %v", got)
	}
	r := record("bad", []byte("w"))
	r.Inputs = "triple"
	if _, err := c.Put(ctx, r, []byte("w"), Create); err == nil {
		t.Error("input kind triple accepted")
	}
	// The row checksum covers inputs.
	if _, err := c.db.Exec(`UPDATE adapterdb_adapters SET inputs = 'single' WHERE name = 'p'`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctx, "p"); !errors.Is(err, ErrDamaged) {
		t.Errorf("edited inputs: %v, want ErrDamaged", err)
	}
}

// A file from before the inputs column gets it on open, filled from each
// row's weights: a checksummed row stays checksummed (now over inputs too),
// an unchecked one stays unchecked, a damaged one stays damaged.
func TestInputsFilledOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.Exec(`ALTER TABLE adapterdb_adapters DROP COLUMN inputs`); err != nil {
		t.Fatal(err)
	}
	pairFile := safetensors(t, map[string]string{"inputs": "pair"})
	oldFile := safetensors(t, map[string]string{"task": "classification"})
	for _, old := range []struct {
		name string
		blob []byte
		sum  string // "ok", "none", "bad"
	}{{"oldpair", pairFile, "ok"}, {"oldsingle", oldFile, "none"}, {"olddamaged", pairFile, "bad"}} {
		r := record(old.name, old.blob)
		row := []any{r.Name, r.Task, `["a","b"]`, r.BaseModel, r.BaseFingerprint, r.ModelType, int64(r.HiddenSize),
			int64(r.NumLayers), int64(r.AdapterSize), r.Activation, r.Pool, `{"epochs":"1"}`, `{"x":1}`, r.Params,
			int64(len(old.blob)), r.SHA256, "2026-02-03T04:05:06Z", int64(1), int64(1770091506000000000)}
		var sum any = int64(rowSum(row...))
		switch old.sum {
		case "none":
			sum = nil
		case "bad":
			sum = int64(rowSum(append(row[:1:1], "regression")...))
		}
		if _, err := c.db.Exec(`INSERT INTO adapterdb_adapters (`+allColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			append(row, sum, old.blob, int64(crc32Sum(old.blob)))...); err != nil {
			t.Fatal(err)
		}
		if _, err := c.db.Exec(`INSERT INTO adapterdb_adapter_heads VALUES (?, 1, 1, 5)`, old.name); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if c, err = Open(path, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if r, err := c.Info(ctx, "oldpair"); err != nil || r.Inputs != "pair" {
		t.Errorf("oldpair: %q, %v", r.Inputs, err)
	}
	if r, err := c.Info(ctx, "oldsingle"); err != nil || r.Inputs != "single" {
		t.Errorf("oldsingle: %q, %v", r.Inputs, err)
	}
	if _, err := c.Info(ctx, "olddamaged"); !errors.Is(err, ErrDamaged) {
		t.Errorf("olddamaged: %v, want ErrDamaged", err)
	}
	var sums, unchecked int
	if err := c.db.QueryRow(`SELECT COUNT(record_crc32c), COUNT(*) - COUNT(record_crc32c) FROM adapterdb_adapters`).Scan(&sums, &unchecked); err != nil || sums != 2 || unchecked != 1 {
		t.Errorf("checksums after the fill: %d set, %d NULL, %v", sums, unchecked, err)
	}
	if _, err := c.db.Exec(`UPDATE adapterdb_adapters SET inputs = 'single' WHERE name = 'oldpair'`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctx, "oldpair"); !errors.Is(err, ErrDamaged) {
		t.Errorf("oldpair with edited inputs: %v, want ErrDamaged (the checksum covers inputs)", err)
	}
}
