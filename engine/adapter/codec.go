package adapter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/kernels"
)

// An adapter file is a standard safetensors file: the tensors of Params under
// their names (F32, nn.Linear layout [out, in]) and everything else in the
// string map __metadata__, so any safetensors tool can read it.

// Meta is what an adapter file records besides its tensors.
type Meta struct {
	Name            string
	BaseModel       string // checkpoint path or "demo"
	BaseFingerprint string
	ModelType       string
	Options         map[string]string
	Metrics         json.RawMessage
	Created         time.Time
}

// Format 2 files carry checksum_sha256, over every metadata entry and every
// tensor: an edited label list, head, pooling or option is refused like a
// damaged weight. Format 1 files (weights_sha256, over the tensors only) are
// still read.
const (
	formatVersion = "2"
	checksumKey   = "checksum_sha256"
)

// Encode writes a set and its metadata as one safetensors file. The bytes are
// deterministic: the same set and metadata give the same file.
func Encode(s *Set, meta Meta) ([]byte, error) {
	params := s.Params()
	tensors := make([]safetensors.Tensor, len(params))
	for i, p := range params {
		tensors[i] = safetensors.Float32Tensor(p.Name, p.Shape, p.Data)
	}
	labels, err := json.Marshal(nonNil(s.Labels))
	if err != nil {
		return nil, err
	}
	inputs, err := ParseInputs(string(s.Inputs))
	if err != nil {
		return nil, err
	}
	md := map[string]string{
		"format":             "adapter",
		"format_version":     formatVersion,
		"producer":           "adapterdb",
		"model_type":         meta.ModelType,
		"base_model":         meta.BaseModel,
		"base_fingerprint":   meta.BaseFingerprint,
		"num_layers":         strconv.Itoa(len(s.Layers)),
		"hidden_size":        strconv.Itoa(s.Hidden),
		"bottleneck":         strconv.Itoa(s.Size),
		"head":               string(s.Task),
		"inputs":             string(inputs),
		"num_labels":         strconv.Itoa(s.Outputs()),
		"labels":             string(labels),
		"adapter_activation": s.Act.String(),
		"pool":               s.Pool.String(),
		"layout":             "nn.Linear: weight [out, in], y = x W^T + b",
	}
	if s.Task == Regression {
		md["target_mean"] = strconv.FormatFloat(s.TargetMean, 'g', -1, 64)
		md["target_std"] = strconv.FormatFloat(s.TargetStd, 'g', -1, 64)
	}
	if meta.Name != "" {
		md["name"] = meta.Name
	}
	if len(meta.Options) > 0 {
		b, err := json.Marshal(meta.Options)
		if err != nil {
			return nil, err
		}
		md["options"] = string(b)
	}
	if len(meta.Metrics) > 0 {
		md["metrics"] = string(meta.Metrics)
	}
	if !meta.Created.IsZero() {
		md["created"] = meta.Created.UTC().Format(time.RFC3339Nano)
	}
	md[checksumKey] = fileSum(md, s.canonicalParams())
	return safetensors.Encode(tensors, md)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// weightsSum is format 1's checksum: every tensor's name, shape and float32
// bytes in canonical order.
func weightsSum(params []Param) string {
	h := sha256.New()
	hashParams(h, params)
	return hex.EncodeToString(h.Sum(nil))
}

// fileSum is format 2's checksum: every metadata entry but the checksum
// itself, in key order and length-prefixed, then the tensors as weightsSum
// hashes them. It covers whatever can change a prediction (labels, head,
// pooling, activation, options such as max_length, regression scaling) and
// the rest too, so no list of "what matters" can fall behind the code.
// Like any checksum kept in the file, it catches damage and hand edits, not
// forgery: whoever can edit the file can recompute it.
func fileSum(md map[string]string, params []Param) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		if k != checksumKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s%d:%s\n", len(k), k, len(md[k]), md[k])
	}
	hashParams(h, params)
	return hex.EncodeToString(h.Sum(nil))
}

func hashParams(h hash.Hash, params []Param) {
	for _, p := range params {
		fmt.Fprintf(h, "%s%v\n", p.Name, p.Shape)
		if len(p.Data) > 0 {
			h.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p.Data))), 4*len(p.Data)))
		}
	}
}

// Decode reads an adapter file. The set's LayerNorm copies come back in name
// order; Align puts them in a model's order. Every tensor is checked: present,
// the right shape, finite, no unknown extras, and the checksum when the file
// has one.
func Decode(data []byte) (*Set, Meta, error) { return decode(data, true) }

// DecodeTrusted is Decode for bytes whose integrity the caller has checked
// otherwise (the catalog's CRC-32C of what it stored) and which it hands
// over: no SHA-256 over the weights, and the set's float32 weights may alias
// data, which the caller must not change afterwards. Together these are most
// of a cold load's time.
func DecodeTrusted(data []byte) (*Set, Meta, error) { return decode(data, false) }

// decode reads an adapter file; without verify it skips the checksum and
// aliases data (DecodeTrusted).
func decode(data []byte, verify bool) (*Set, Meta, error) {
	f, err := safetensors.Parse(data)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("adapter file: %w", err)
	}
	md := f.Metadata()
	if md["format"] != "adapter" {
		return nil, Meta{}, fmt.Errorf("not an adapter file (metadata format %q, want \"adapter\")", md["format"])
	}
	version := md["format_version"]
	if version != "" && version != "1" && version != formatVersion {
		return nil, Meta{}, fmt.Errorf("adapter file format version %s is not supported (this build reads 1 and %s)", version, formatVersion)
	}
	if version == formatVersion && verify && md[checksumKey] == "" {
		return nil, Meta{}, fmt.Errorf("adapter file: format %s without its %s (damaged or edited file)", formatVersion, checksumKey)
	}
	num := func(key string) (int, error) {
		n, err := strconv.Atoi(md[key])
		if err != nil || n <= 0 || n > 1<<20 {
			return 0, fmt.Errorf("adapter file: metadata %s=%q is not a positive integer", key, md[key])
		}
		return n, nil
	}
	layers, err := num("num_layers")
	if err != nil {
		return nil, Meta{}, err
	}
	hidden, err := num("hidden_size")
	if err != nil {
		return nil, Meta{}, err
	}
	size, err := num("bottleneck")
	if err != nil {
		return nil, Meta{}, err
	}
	nOut, err := num("num_labels")
	if err != nil {
		return nil, Meta{}, err
	}
	task, err := ParseTask(md["head"])
	if err != nil {
		return nil, Meta{}, fmt.Errorf("adapter file: %w", err)
	}
	inputs, err := ParseInputs(md["inputs"]) // absent in older files: single texts
	if err != nil {
		return nil, Meta{}, fmt.Errorf("adapter file: %w", err)
	}
	spec := Spec{Task: task, Inputs: inputs, Size: size}
	if spec.Act, err = parseAct(md["adapter_activation"]); err != nil {
		return nil, Meta{}, err
	}
	if spec.Pool, err = model.ParsePool(md["pool"]); err != nil {
		return nil, Meta{}, fmt.Errorf("adapter file: %w", err)
	}
	if task == Regression {
		if nOut != 1 {
			return nil, Meta{}, fmt.Errorf("adapter file: regression head with %d outputs", nOut)
		}
		spec.TargetMean, spec.TargetStd = 0, 1
		if v, ok := md["target_mean"]; ok {
			if spec.TargetMean, err = strconv.ParseFloat(v, 64); err != nil || math.IsInf(spec.TargetMean, 0) || math.IsNaN(spec.TargetMean) {
				return nil, Meta{}, fmt.Errorf("adapter file: target_mean %q", v)
			}
		}
		if v, ok := md["target_std"]; ok {
			if spec.TargetStd, err = strconv.ParseFloat(v, 64); err != nil || !(spec.TargetStd > 0) || math.IsInf(spec.TargetStd, 0) {
				return nil, Meta{}, fmt.Errorf("adapter file: target_std %q", v)
			}
		}
	} else if raw, ok := md["labels"]; ok {
		if err := json.Unmarshal([]byte(raw), &spec.Labels); err != nil {
			return nil, Meta{}, fmt.Errorf("adapter file: labels: %v", err)
		}
		if spec.Outputs() != nOut {
			return nil, Meta{}, fmt.Errorf("adapter file: %d labels for %d head outputs", len(spec.Labels), nOut)
		}
	} else if task == SequenceLabeling {
		return nil, Meta{}, fmt.Errorf("adapter file: sequence labeling head without labels")
	} else {
		for i := 0; i < nOut; i++ { // files from other tools: labels by index
			spec.Labels = append(spec.Labels, strconv.Itoa(i))
		}
	}

	s := &Set{Spec: spec, Hidden: hidden, Layers: make([]Layer, layers)}
	read := func(name string, shape ...int) ([]float32, error) {
		info, err := f.Tensor(name)
		if err != nil {
			return nil, fmt.Errorf("adapter file: missing tensor %q", name)
		}
		if info.DType != safetensors.F32 && info.DType != safetensors.F16 && info.DType != safetensors.BF16 {
			return nil, fmt.Errorf("adapter file: tensor %q has dtype %s", name, info.DType)
		}
		if fmt.Sprint(info.Shape) != fmt.Sprint(shape) {
			return nil, fmt.Errorf("adapter file: tensor %q has shape %v, want %v", name, info.Shape, shape)
		}
		v, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("adapter file: %w", err)
		}
		out := v
		if verify {
			out = append([]float32(nil), v...) // own the values: the caller keeps data
		}
		for _, x := range out {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("adapter file: tensor %q holds non-finite values (damaged file?)", name)
			}
		}
		return out, nil
	}
	used := map[string]bool{}
	H, m := hidden, size
	for i := range s.Layers {
		for _, blk := range []struct {
			name string
			b    *Block
		}{{"attn_adapter", &s.Layers[i].Attn}, {"ffn_adapter", &s.Layers[i].FFN}} {
			p := "layers." + strconv.Itoa(i) + "." + blk.name + "."
			fields := []struct {
				suffix string
				dst    *[]float32
				shape  []int
			}{{"down.weight", &blk.b.Down, []int{m, H}}, {"down.bias", &blk.b.DownB, []int{m}},
				{"up.weight", &blk.b.Up, []int{H, m}}, {"up.bias", &blk.b.UpB, []int{H}}}
			for _, fd := range fields {
				if *fd.dst, err = read(p+fd.suffix, fd.shape...); err != nil {
					return nil, Meta{}, err
				}
				used[p+fd.suffix] = true
			}
		}
	}
	if s.HeadW, err = read("head.weight", nOut, H); err != nil {
		return nil, Meta{}, err
	}
	if s.HeadB, err = read("head.bias", nOut); err != nil {
		return nil, Meta{}, err
	}
	used["head.weight"], used["head.bias"] = true, true
	// Everything else must be LayerNorm copies: pairs name.weight / name.bias.
	var norms []string
	for _, n := range f.Names() {
		if used[n] {
			continue
		}
		base, ok := strings.CutSuffix(n, ".weight")
		if !ok {
			if _, isBias := strings.CutSuffix(n, ".bias"); isBias {
				continue // checked with its .weight
			}
			return nil, Meta{}, fmt.Errorf("adapter file: unexpected tensor %q", n)
		}
		norms = append(norms, base)
	}
	sort.Strings(norms)
	for _, base := range norms {
		nc := NormCopy{Name: base}
		if nc.Gamma, err = read(base+".weight", H); err != nil {
			return nil, Meta{}, err
		}
		if nc.Beta, err = read(base+".bias", H); err != nil {
			return nil, Meta{}, err
		}
		used[base+".weight"], used[base+".bias"] = true, true
		s.Norms = append(s.Norms, nc)
	}
	for _, n := range f.Names() {
		if !used[n] {
			return nil, Meta{}, fmt.Errorf("adapter file: unexpected tensor %q", n)
		}
	}
	switch {
	case !verify:
	case version == formatVersion:
		if fileSum(md, s.canonicalParams()) != md[checksumKey] {
			return nil, Meta{}, fmt.Errorf("adapter file: contents do not match the file's checksum (damaged or edited file: the checksum covers the weights, labels and every other metadata entry)")
		}
	case md["weights_sha256"] != "": // format 1: the tensors only
		if weightsSum(s.canonicalParams()) != md["weights_sha256"] {
			return nil, Meta{}, fmt.Errorf("adapter file: weights do not match their checksum (damaged or edited file)")
		}
	}
	meta := Meta{Name: md["name"], BaseModel: md["base_model"], BaseFingerprint: md["base_fingerprint"], ModelType: md["model_type"]}
	if raw := md["options"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &meta.Options); err != nil {
			return nil, Meta{}, fmt.Errorf("adapter file: options: %v", err)
		}
	}
	if raw := md["metrics"]; raw != "" {
		if !json.Valid([]byte(raw)) {
			return nil, Meta{}, fmt.Errorf("adapter file: metrics are not JSON")
		}
		meta.Metrics = json.RawMessage(raw)
	}
	if raw := md["created"]; raw != "" {
		if meta.Created, err = time.Parse(time.RFC3339Nano, raw); err != nil {
			return nil, Meta{}, fmt.Errorf("adapter file: created %q: %v", raw, err)
		}
	}
	return s, meta, nil
}

// canonicalParams is Params with LayerNorm copies in name order: the order
// the checksum was computed in does not depend on a model.
func (s *Set) canonicalParams() []Param {
	c := *s
	c.Norms = append([]NormCopy(nil), s.Norms...)
	sort.Slice(c.Norms, func(i, j int) bool { return c.Norms[i].Name < c.Norms[j].Name })
	return c.Params()
}

func parseAct(s string) (kernels.Act, error) {
	switch s {
	case "", "gelu", "gelu (erf)":
		return kernels.ActGELU, nil
	case "gelu_tanh", "gelu_new":
		return kernels.ActGELUTanh, nil
	case "relu":
		return kernels.ActReLU, nil
	case "tanh":
		return kernels.ActTanh, nil
	}
	return 0, fmt.Errorf("adapter file: unknown adapter_activation %q", s)
}
