package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// weightSource is the interface the model loader reads weights through
// (engine/model.Source); a Checkpoint must satisfy it.
type weightSource interface {
	Names() []string
	Float32(name string) (data []float32, shape []int, err error)
}

var _ weightSource = (*Checkpoint)(nil)

func TestCheckpointSingleFile(t *testing.T) {
	dir := filepath.Join(testdata, "models/gpt2-tiny")
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := Open(filepath.Join(dir, SingleFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !slices.Equal(c.Names(), f.Names()) {
		t.Fatalf("names %v, file %v", c.Names(), f.Names())
	}
	if !mapsEqual(c.Metadata(), f.Metadata()) || len(c.Paths()) != 1 || c.Dir() != dir {
		t.Errorf("metadata %v, paths %v, dir %s", c.Metadata(), c.Paths(), c.Dir())
	}
	data, shape, err := c.Float32("wte.weight")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int{50257, 32}) || len(data) != 50257*32 {
		t.Fatalf("wte.weight: shape %v, %d values", shape, len(data))
	}
	if !aliases(data, c.files[0].data) {
		t.Error("checkpoint F32 data was copied")
	}
	want, _ := f.Float32("wte.weight")
	if !slices.Equal(data, want) {
		t.Error("wte.weight differs between Checkpoint and File")
	}
	if _, _, err := c.Float32("h.9.ln_1.weight"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tensor: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Float32("wte.weight"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// shardDir writes bert-tiny's tensors as n shards plus an index, returning
// the directory, the index (for tests to corrupt) and the tensors.
func shardDir(t *testing.T, n int) (string, map[string]any, map[string][]float32) {
	t.Helper()
	src, err := Open(filepath.Join(testdata, "models/bert-tiny/model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	values := map[string][]float32{}
	shards := make([][]Tensor, n)
	weightMap := map[string]any{}
	for i, name := range src.Names() {
		info, _ := src.Tensor(name)
		v, _ := src.Float32(name)
		values[name] = slices.Clone(v)
		shards[i%n] = append(shards[i%n], Float32Tensor(name, info.Shape, v))
		weightMap[name] = fmt.Sprintf("model-%05d-of-%05d.safetensors", i%n+1, n)
	}
	for i, ts := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
		if err := WriteFile(filepath.Join(dir, name), ts, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	index := map[string]any{"metadata": map[string]any{"total_size": 4000000}, "weight_map": weightMap}
	writeIndex(t, dir, index)
	return dir, index, values
}

func writeIndex(t *testing.T, dir string, index any) {
	t.Helper()
	raw, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointSharded(t *testing.T) {
	dir, _, values := shardDir(t, 3)
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Paths()) != 3 {
		t.Errorf("paths %v", c.Paths())
	}
	if !mapsEqual(c.Metadata(), map[string]string{"format": "pt"}) {
		t.Errorf("metadata %v", c.Metadata())
	}
	if len(c.Names()) != len(values) {
		t.Fatalf("%d names, want %d", len(c.Names()), len(values))
	}
	for _, name := range c.Names() {
		v, shape, err := c.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v, values[name]) {
			t.Errorf("%s differs after sharding", name)
		}
		info, err := c.Tensor(name)
		if err != nil || !slices.Equal(info.Shape, shape) {
			t.Errorf("%s: Tensor %v %v, Float32 shape %v", name, info, err, shape)
		}
		b, err := c.Bytes(name)
		if err != nil || len(b) != 4*len(v) {
			t.Errorf("%s: Bytes %d, %v", name, len(b), err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointHFCacheLayout opens a checkpoint laid out as the Hugging
// Face hub cache does: snapshot files are symlinks to ../../blobs/<hash>.
func TestCheckpointHFCacheLayout(t *testing.T) {
	src, _, values := shardDir(t, 2)
	repo := t.TempDir()
	blobs := filepath.Join(repo, "blobs")
	snap := filepath.Join(repo, "snapshots", "0123abcd")
	for _, d := range []string{blobs, snap} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(src)
	for i, e := range entries {
		blob := fmt.Sprintf("blob%d", i)
		raw, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(blobs, blob), raw, 0o644)
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snap, e.Name())); err != nil {
			t.Skip(err)
		}
	}
	c, err := OpenCheckpoint(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Names()) != len(values) {
		t.Errorf("%d tensors, want %d", len(c.Names()), len(values))
	}
}

func TestCheckpointIndexErrors(t *testing.T) {
	const shard1 = "model-00001-of-00002.safetensors"
	outside := writeTemp(t, "outside.safetensors", mustEncode(t, []Tensor{Float32Tensor("x", []int{1}, []float32{1})}, nil))
	cases := []struct {
		name   string
		mutate func(t *testing.T, dir string, index map[string]any)
		want   []string
	}{
		{"missing shard", func(t *testing.T, dir string, _ map[string]any) {
			os.Remove(filepath.Join(dir, shard1))
		}, []string{shard1, "does not exist"}},
		{"parent path", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"].(map[string]any)["pooler.dense.bias"] = "../" + shard1
		}, []string{`"pooler.dense.bias"`, "not a file inside the checkpoint directory"}},
		{"absolute path", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"].(map[string]any)["pooler.dense.bias"] = outside
		}, []string{"not a file inside the checkpoint directory"}},
		{"tensor not in its shard", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"].(map[string]any)["extra.weight"] = shard1
		}, []string{`"extra.weight"`, "not in its shard"}},
		{"tensor in the wrong shard", func(t *testing.T, dir string, index map[string]any) {
			wm := index["weight_map"].(map[string]any)
			for k, v := range wm {
				if v == shard1 {
					wm[k] = "model-00002-of-00002.safetensors"
					break
				}
			}
		}, []string{"which the index puts in model-00002-of-00002.safetensors"}},
		{"unlisted tensor", func(t *testing.T, dir string, index map[string]any) {
			wm := index["weight_map"].(map[string]any)
			for k, v := range wm {
				if v == shard1 {
					delete(wm, k)
					break
				}
			}
		}, []string{"which the index does not list"}},
		{"empty weight map", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"] = map[string]any{}
		}, []string{"weight_map is missing or empty"}},
		{"weight map not strings", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"].(map[string]any)["pooler.dense.bias"] = 3
		}, []string{"not valid JSON of the form"}},
		{"corrupt shard", func(t *testing.T, dir string, _ map[string]any) {
			os.WriteFile(filepath.Join(dir, shard1), []byte("not a safetensors file"), 0o644)
		}, []string{shard1, "not a safetensors file: it starts with the text"}},
		{"shard of binary junk", func(t *testing.T, dir string, _ map[string]any) {
			os.WriteFile(filepath.Join(dir, shard1), []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0x80, 1, 2}, 0o644)
		}, []string{shard1, "header length"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, index, _ := shardDir(t, 2)
			c.mutate(t, dir, index)
			writeIndex(t, dir, index)
			ck, err := OpenCheckpoint(dir)
			if err == nil {
				ck.Close()
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}

	t.Run("duplicate weight_map entry", func(t *testing.T) {
		dir, _, _ := shardDir(t, 1)
		raw := `{"metadata": {}, "weight_map": {"pooler.dense.bias": "model-00001-of-00001.safetensors", "pooler.dense.bias": "model-00001-of-00001.safetensors"}}`
		os.WriteFile(filepath.Join(dir, IndexFileName), []byte(raw), 0o644)
		if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), `"pooler.dense.bias" appears twice`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("invalid index JSON", func(t *testing.T) {
		dir, _, _ := shardDir(t, 1)
		os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map": `), 0o644)
		if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), IndexFileName) {
			t.Errorf("got %v", err)
		}
	})
}

func TestCheckpointNoSafetensors(t *testing.T) {
	for _, files := range [][]string{
		{"pytorch_model.bin", "config.json"},
		{"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"},
		{"model.ckpt"},
		{"weights.pt"},
		{"tf_model.h5"},
	} {
		dir := t.TempDir()
		for _, f := range files {
			// Content that a pickle reader would choke on: the error must
			// come from the file names alone.
			os.WriteFile(filepath.Join(dir, f), []byte("\x80\x02 not really a pickle"), 0o644)
		}
		_, err := OpenCheckpoint(dir)
		if !errors.Is(err, ErrNeedsConversion) {
			t.Fatalf("%v: %v", files, err)
		}
		for _, w := range []string{files[0], "safe_serialization=True", "save_pretrained", dir} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", files, err, w)
			}
		}
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "model-00001-of-00002.safetensors"), nil, 0o644)
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "needs its index file") {
		t.Errorf("stray shard: %v", err)
	}
	if _, err := OpenCheckpoint(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := OpenCheckpoint(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
	file := writeTemp(t, "f.safetensors", mustEncode(t, sampleTensors(), nil))
	if _, err := OpenCheckpoint(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
	// A broken model.safetensors is reported as such, with its path.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, SingleFileName), []byte("{}"), 0o644)
	if _, err := OpenCheckpoint(dir); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), filepath.Join(dir, SingleFileName)) {
		t.Errorf("broken model.safetensors: %v", err)
	}
}
