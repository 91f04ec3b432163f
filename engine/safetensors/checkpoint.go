package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The file names of a Hugging Face checkpoint, as transformers writes them.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Checkpoint is a model's tensors across one or more safetensors files.
// Names are unique across the files. Like File, it may be read from several
// goroutines at once, but not concurrently with Close.
type Checkpoint struct {
	dir    string
	files  []*File          // in file-name order
	byName map[string]*File // tensor name → the file that holds it
	names  []string         // sorted
	meta   map[string]string
}

// OpenCheckpoint opens the weights of a Hugging Face checkpoint directory:
// model.safetensors if present, else the shards that
// model.safetensors.index.json lists. Shard names in the index must be
// relative paths inside dir (no "..", no absolute paths); symlinks are
// followed, as the Hugging Face cache needs (its snapshot files link to
// ../../blobs). Every listed tensor must be in its shard and every tensor
// in a shard must be listed. A directory with only pickle weights
// (pytorch_model.bin, *.pt, *.ckpt ...) gets an error matching
// ErrNeedsConversion; pickles are never read.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("checkpoint %s: not a directory", dir)
	}
	switch {
	case exists(dir, SingleFileName):
		f, err := Open(filepath.Join(dir, SingleFileName))
		if err != nil {
			return nil, err
		}
		c := &Checkpoint{dir: dir, files: []*File{f}, byName: make(map[string]*File, len(f.names)),
			names: f.Names(), meta: f.Metadata()}
		for _, n := range f.names {
			c.byName[n] = f
		}
		return c, nil
	case exists(dir, IndexFileName):
		return openSharded(dir)
	}
	return nil, noSafetensors(dir)
}

// exists reports whether dir holds an entry name (a dangling symlink counts:
// opening it then gives the real error).
func exists(dir, name string) bool {
	_, err := os.Lstat(filepath.Join(dir, name))
	return err == nil
}

// indexFile is model.safetensors.index.json. Its "metadata" (typically
// {"total_size": N}) is informational and not checked.
type indexFile struct {
	Metadata  map[string]json.RawMessage `json:"metadata"`
	WeightMap map[string]string          `json:"weight_map"`
}

func openSharded(dir string) (*Checkpoint, error) {
	indexPath := filepath.Join(dir, IndexFileName)
	fh, err := os.Open(indexPath)
	if err != nil {
		return nil, fmt.Errorf("checkpoint index: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(fh, maxHeaderSize+1))
	fh.Close()
	if err != nil {
		return nil, fmt.Errorf("checkpoint index %s: %w", indexPath, err)
	}
	if len(raw) > maxHeaderSize {
		return nil, fmt.Errorf("checkpoint index %s: larger than %d bytes", indexPath, maxHeaderSize)
	}
	wm, err := parseIndex(raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint index %s: %w", indexPath, err)
	}

	// Group the tensors by shard and check the shard names first, so that
	// nothing is opened for an index that points outside dir.
	byShard := map[string][]string{}
	for tensor, shard := range wm {
		if !filepath.IsLocal(shard) {
			return nil, fmt.Errorf("checkpoint index %s: tensor %q: shard %q is not a file inside the checkpoint directory", indexPath, tensor, shard)
		}
		byShard[shard] = append(byShard[shard], tensor)
	}
	c := &Checkpoint{dir: dir, byName: make(map[string]*File, len(wm))}
	fail := func(err error) (*Checkpoint, error) {
		c.Close()
		return nil, err
	}
	for _, shard := range slices.Sorted(maps.Keys(byShard)) {
		if _, err := os.Stat(filepath.Join(dir, shard)); errors.Is(err, fs.ErrNotExist) {
			return fail(fmt.Errorf("checkpoint index %s: shard %q (holding %d tensors) does not exist", indexPath, shard, len(byShard[shard])))
		}
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			return fail(err)
		}
		c.files = append(c.files, f)
		for _, tensor := range slices.Sorted(slices.Values(byShard[shard])) {
			if _, ok := f.tensors[tensor]; !ok {
				return fail(fmt.Errorf("checkpoint index %s: tensor %q: not in its shard %s", indexPath, tensor, f.path))
			}
			c.byName[tensor] = f
		}
		for _, tensor := range f.names {
			if want, ok := wm[tensor]; !ok {
				return fail(fmt.Errorf("checkpoint index %s: shard %s holds tensor %q, which the index does not list", indexPath, f.path, tensor))
			} else if want != shard {
				return fail(fmt.Errorf("checkpoint index %s: shard %s also holds tensor %q, which the index puts in %s", indexPath, f.path, tensor, want))
			}
		}
		// Shards usually carry the same metadata ({"format": "pt"}); where
		// they differ, the first shard in name order wins.
		for k, v := range f.meta {
			if c.meta == nil {
				c.meta = map[string]string{}
			}
			if _, ok := c.meta[k]; !ok {
				c.meta[k] = v
			}
		}
	}
	c.names = slices.Sorted(maps.Keys(c.byName))
	return c, nil
}

// parseIndex decodes the index JSON and returns its weight_map, rejecting
// duplicate tensor names (which encoding/json would silently merge).
func parseIndex(raw []byte) (map[string]string, error) {
	var idx indexFile
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("not valid JSON of the form {\"metadata\": {...}, \"weight_map\": {tensor: file}}: %w", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, errors.New("weight_map is missing or empty")
	}
	if dup, ok := duplicateWeight(raw); ok {
		return nil, fmt.Errorf("tensor %q appears twice in weight_map", dup)
	}
	return idx.WeightMap, nil
}

// duplicateWeight finds a name listed twice in the weight_map object.
// raw is known to be valid JSON.
func duplicateWeight(raw []byte) (string, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return "", false
	}
	wm, ok := top["weight_map"]
	if !ok {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(wm))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := tok.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return "", false
		}
	}
	return "", false
}

// Weight files a checkpoint directory may hold instead of safetensors.
var otherWeightSuffixes = []string{".bin", ".pt", ".pth", ".ckpt", ".pkl", ".h5", ".msgpack", ".gguf"}

// noSafetensors explains why dir has no safetensors weights.
func noSafetensors(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	var others, stray []string
	for _, e := range entries {
		name := e.Name()
		if e.Type()&fs.ModeType&^fs.ModeSymlink != 0 {
			continue // directories, devices ...
		}
		switch {
		case strings.HasSuffix(name, ".safetensors"):
			stray = append(stray, name)
		case name == "pytorch_model.bin.index.json":
			others = append(others, name)
		default:
			for _, s := range otherWeightSuffixes {
				if strings.HasSuffix(name, s) {
					others = append(others, name)
					break
				}
			}
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("checkpoint %s holds %s but no %s: %w (adapterdb never reads pickled or other weight formats). "+
			"Convert it in Python with transformers: AutoModel.from_pretrained(dir).save_pretrained(out_dir, safe_serialization=True)",
			dir, strings.Join(others, ", "), SingleFileName, ErrNeedsConversion)
	}
	if len(stray) > 0 {
		return fmt.Errorf("checkpoint %s: no %s or %s (found %s; a sharded checkpoint needs its index file)",
			dir, SingleFileName, IndexFileName, strings.Join(stray, ", "))
	}
	return fmt.Errorf("checkpoint %s: no %s or %s", dir, SingleFileName, IndexFileName)
}

// Dir is the checkpoint directory.
func (c *Checkpoint) Dir() string { return c.dir }

// Paths lists the safetensors files the checkpoint reads, in name order.
func (c *Checkpoint) Paths() []string {
	out := make([]string, len(c.files))
	for i, f := range c.files {
		out[i] = f.path
	}
	return out
}

// Names lists every tensor name, sorted.
func (c *Checkpoint) Names() []string { return slices.Clone(c.names) }

// Metadata is the __metadata__ of the file (for shards: merged, the first
// shard in name order winning where they differ). The index's own
// "metadata" is not included.
func (c *Checkpoint) Metadata() map[string]string { return maps.Clone(c.meta) }

func (c *Checkpoint) file(name string) (*File, error) {
	f, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint %s: tensor %q: %w", c.dir, name, ErrNotFound)
	}
	return f, nil
}

// Tensor describes the named tensor.
func (c *Checkpoint) Tensor(name string) (TensorInfo, error) {
	f, err := c.file(name)
	if err != nil {
		return TensorInfo{}, err
	}
	return f.Tensor(name)
}

// Bytes returns the named tensor's raw data, as File.Bytes.
func (c *Checkpoint) Bytes(name string) ([]byte, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, err
	}
	return f.Bytes(name)
}

// Float32 returns the named tensor's values and shape, as File.Float32
// (F32 data aliases the mapping and is valid until Close). It returns the
// shape too, unlike File.Float32, so that a Checkpoint is a model weight
// source.
func (c *Checkpoint) Float32(name string) ([]float32, []int, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Tensor(name)
	if err != nil {
		return nil, nil, err
	}
	data, err := f.Float32(name)
	if err != nil {
		return nil, nil, err
	}
	return data, info.Shape, nil
}

// Close unmaps every file. Slices that alias them must not be used
// afterwards.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
