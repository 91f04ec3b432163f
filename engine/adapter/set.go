// Package adapter is one task's small weights on top of the frozen base model:
// bottleneck blocks in every layer, a copy of every LayerNorm, and a task head.
// It holds them on the host (for training and storage), binds them to a
// backend for forward passes, and implements the heads and their losses.
package adapter

import (
	"fmt"
	"math"
	"strconv"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/rng"
	"github.com/adapterdb/adapterdb/kernels"
)

// Task is what the head predicts.
type Task string

const (
	Classification Task = "classification" // softmax over labels seen in training
	Regression     Task = "regression"     // one standardised value
	Multilabel     Task = "multilabel"     // a sigmoid per label
	// SequenceLabeling labels spans of the text: the head runs on every
	// token's final hidden state and predicts its BIO tag (engine/spans).
	SequenceLabeling Task = "sequence_labeling"
)

// ParseTask reads a task name.
func ParseTask(s string) (Task, error) {
	switch t := Task(s); t {
	case Classification, Regression, Multilabel, SequenceLabeling:
		return t, nil
	}
	return "", fmt.Errorf("unknown task %q (classification, regression, multilabel, sequence_labeling)", s)
}

// Inputs is what one example of an adapter is: a single text, or a pair of
// texts (question and passage, two sentences) tokenized with the model's pair
// template. Files written before the kind was recorded hold single texts.
type Inputs string

const (
	SingleText Inputs = "single" // PREDICT('a', text)
	TextPair   Inputs = "pair"   // PREDICT('a', text, text2)
)

// ParseInputs reads an input kind; "" (files without the entry) is
// SingleText.
func ParseInputs(s string) (Inputs, error) {
	switch in := Inputs(s); in {
	case "", SingleText:
		return SingleText, nil
	case TextPair:
		return in, nil
	}
	return "", fmt.Errorf("unknown input kind %q (single, pair)", s)
}

// Texts is how many texts one example has: 1 or 2.
func (in Inputs) Texts() int {
	if in == TextPair {
		return 2
	}
	return 1
}

// DefaultSize is the bottleneck size of the adapter literature (Houlsby et al.).
const DefaultSize = 64

// MaxSize is the largest bottleneck for a model of the given hidden size: 4H,
// the width of the model's own feed-forward layer. Beyond the hidden size an
// adapter is no longer a bottleneck; beyond 4H it only costs memory.
func MaxSize(hidden int) int { return 4 * hidden }

// Spec is an adapter set's shape and task.
type Spec struct {
	Task   Task
	Inputs Inputs // SingleText or TextPair ("" reads as SingleText)
	// Labels are the head's outputs in order (classification, multilabel),
	// or the span labels whose BIO tags are (sequence labeling: O, then B-
	// and I- of each label).
	Labels []string
	Size   int // bottleneck m
	Act    kernels.Act
	Pool   model.Pool // resolved pooling (never PoolDefault)
	// Regression targets are standardised for training; predictions are mapped
	// back with value = output·TargetStd + TargetMean.
	TargetMean, TargetStd float64
}

// Outputs is the head's width n.
func (s Spec) Outputs() int {
	switch s.Task {
	case Regression:
		return 1
	case SequenceLabeling:
		return 1 + 2*len(s.Labels)
	}
	return len(s.Labels)
}

// Block is one bottleneck: down [m,H] + [m], up [H,m] + [H].
type Block struct {
	Down, DownB, Up, UpB []float32
}

// Layer holds a transformer layer's two blocks.
type Layer struct {
	Attn, FFN Block
}

// NormCopy is the set's copy of one base LayerNorm.
type NormCopy struct {
	Name        string
	Gamma, Beta []float32
}

// Set is an adapter's trainable tensors on the host.
type Set struct {
	Spec
	Hidden int
	Layers []Layer
	Norms  []NormCopy
	HeadW  []float32 // [n, H]
	HeadB  []float32 // [n]
}

// Param is one named tensor of a set, in the canonical order of Params.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	// Decay says whether weight decay applies: matrices yes; biases and
	// LayerNorm parameters no (the usual AdamW practice).
	Decay bool
	// Head marks the task head (trained alone with trainable=head).
	Head bool
}

// Params lists every tensor: per layer the attention then feed-forward block
// (down.weight, down.bias, up.weight, up.bias), the LayerNorm copies under the
// base model's names, then head.weight and head.bias.
func (s *Set) Params() []Param {
	H, m, n := s.Hidden, s.Size, s.Outputs()
	var ps []Param
	for i := range s.Layers {
		for _, blk := range []struct {
			name string
			b    *Block
		}{{"attn_adapter", &s.Layers[i].Attn}, {"ffn_adapter", &s.Layers[i].FFN}} {
			p := "layers." + strconv.Itoa(i) + "." + blk.name + "."
			ps = append(ps,
				Param{Name: p + "down.weight", Shape: []int{m, H}, Data: blk.b.Down, Decay: true},
				Param{Name: p + "down.bias", Shape: []int{m}, Data: blk.b.DownB},
				Param{Name: p + "up.weight", Shape: []int{H, m}, Data: blk.b.Up, Decay: true},
				Param{Name: p + "up.bias", Shape: []int{H}, Data: blk.b.UpB})
		}
	}
	for _, nc := range s.Norms {
		ps = append(ps,
			Param{Name: nc.Name + ".weight", Shape: []int{H}, Data: nc.Gamma},
			Param{Name: nc.Name + ".bias", Shape: []int{H}, Data: nc.Beta})
	}
	ps = append(ps,
		Param{Name: "head.weight", Shape: []int{n, H}, Data: s.HeadW, Decay: true, Head: true},
		Param{Name: "head.bias", Shape: []int{n}, Data: s.HeadB, Head: true})
	return ps
}

// NumParams counts the set's values.
func (s *Set) NumParams() int {
	n := 0
	for _, p := range s.Params() {
		n += len(p.Data)
	}
	return n
}

// Bytes is the size of the set's values in float32.
func (s *Set) Bytes() int64 { return 4 * int64(s.NumParams()) }

// Alloc makes a zero set of the given spec for a model (also the shape of a
// gradient).
func Alloc(m *model.Model, spec Spec) *Set {
	H, L, sz, n := m.Cfg.Hidden, m.Cfg.Layers, spec.Size, spec.Outputs()
	s := &Set{Spec: spec, Hidden: H, Layers: make([]Layer, L)}
	if s.Inputs == "" {
		s.Inputs = SingleText
	}
	block := func() Block {
		return Block{Down: make([]float32, sz*H), DownB: make([]float32, sz),
			Up: make([]float32, H*sz), UpB: make([]float32, H)}
	}
	for i := range s.Layers {
		s.Layers[i] = Layer{Attn: block(), FFN: block()}
	}
	for _, bn := range m.W.Norms {
		s.Norms = append(s.Norms, NormCopy{Name: bn.Name, Gamma: make([]float32, H), Beta: make([]float32, H)})
	}
	s.HeadW = make([]float32, n*H)
	s.HeadB = make([]float32, n)
	return s
}

// ZeroLike is an all-zero set with s's shapes (gradients, optimiser moments).
func (s *Set) ZeroLike() *Set {
	z := &Set{Spec: s.Spec, Hidden: s.Hidden}
	cp := func(v []float32) []float32 { return make([]float32, len(v)) }
	for _, l := range s.Layers {
		z.Layers = append(z.Layers, Layer{
			Attn: Block{cp(l.Attn.Down), cp(l.Attn.DownB), cp(l.Attn.Up), cp(l.Attn.UpB)},
			FFN:  Block{cp(l.FFN.Down), cp(l.FFN.DownB), cp(l.FFN.Up), cp(l.FFN.UpB)}})
	}
	for _, n := range s.Norms {
		z.Norms = append(z.Norms, NormCopy{Name: n.Name, Gamma: cp(n.Gamma), Beta: cp(n.Beta)})
	}
	z.HeadW, z.HeadB = cp(s.HeadW), cp(s.HeadB)
	return z
}

// Clone deep-copies a set (keeping the best weights during training).
func (s *Set) Clone() *Set {
	c := s.ZeroLike()
	c.Spec.Labels = append([]string(nil), s.Labels...)
	src, dst := s.Params(), c.Params()
	for i := range src {
		copy(dst[i].Data, src[i].Data)
	}
	return c
}

// New initialises a set so that it changes nothing: every up projection is
// zero (each block is the identity), the LayerNorm copies equal the base
// model's, down projections are random (Xavier-style, N(0, 1/H)) so gradients
// reach them once up moves, and the head is small and random (N(0, 0.02²)).
func New(m *model.Model, spec Spec, seed uint64) (*Set, error) {
	if err := checkSpec(m, spec); err != nil {
		return nil, err
	}
	s := Alloc(m, spec)
	H := m.Cfg.Hidden
	for i := range s.Layers {
		for j, b := range []*Block{&s.Layers[i].Attn, &s.Layers[i].FFN} {
			r := rng.Named(seed, "layers."+strconv.Itoa(i)+"."+strconv.Itoa(j)+".down")
			std := 1 / math.Sqrt(float64(H))
			for k := range b.Down {
				b.Down[k] = float32(std * r.Normal())
			}
		}
	}
	for i, bn := range m.W.Norms {
		m.Be.Download(s.Norms[i].Gamma, bn.Gamma)
		m.Be.Download(s.Norms[i].Beta, bn.Beta)
	}
	r := rng.Named(seed, "head")
	for k := range s.HeadW {
		s.HeadW[k] = float32(0.02 * r.Normal())
	}
	return s, nil
}

func checkSpec(m *model.Model, spec Spec) error {
	if _, err := ParseTask(string(spec.Task)); err != nil {
		return err
	}
	if _, err := ParseInputs(string(spec.Inputs)); err != nil {
		return err
	}
	if spec.Size <= 0 || spec.Size > MaxSize(m.Cfg.Hidden) {
		return fmt.Errorf("adapter_size %d out of range [1, %d] (at most 4 × the base model's hidden size %d)", spec.Size, MaxSize(m.Cfg.Hidden), m.Cfg.Hidden)
	}
	switch spec.Act {
	case kernels.ActGELU, kernels.ActGELUTanh, kernels.ActReLU, kernels.ActTanh:
	default:
		return fmt.Errorf("adapter activation %v is not supported", spec.Act)
	}
	if spec.Task != Regression && len(spec.Labels) < 1 {
		return fmt.Errorf("%s adapter needs labels", spec.Task)
	}
	if spec.Task == SequenceLabeling && spec.Inputs == TextPair {
		return fmt.Errorf("sequence labeling takes single texts, not pairs")
	}
	if spec.Task == Classification && len(spec.Labels) < 2 {
		return fmt.Errorf("classification needs at least two classes, the training data has %d", len(spec.Labels))
	}
	if spec.Pool == model.PoolDefault {
		return fmt.Errorf("adapter pooling must be resolved")
	}
	return nil
}

// Bind uploads the set to the model's backend for forward passes. The cpu
// backend aliases the host slices: changes to the set show through.
func (s *Set) Bind(be kernels.Backend) *model.Adapter {
	a := &model.Adapter{Size: s.Size, Act: s.Act, Layers: make([]model.AdapterLayer, len(s.Layers))}
	up := func(b Block) model.Bottleneck {
		return model.Bottleneck{Down: be.Upload(b.Down), DownB: be.Upload(b.DownB), Up: be.Upload(b.Up), UpB: be.Upload(b.UpB)}
	}
	for i, l := range s.Layers {
		a.Layers[i] = model.AdapterLayer{Attn: up(l.Attn), FFN: up(l.FFN)}
	}
	for _, n := range s.Norms {
		a.Norms = append(a.Norms, model.Norm{Name: n.Name, Gamma: be.Upload(n.Gamma), Beta: be.Upload(n.Beta)})
	}
	return a
}

// BoundParams lists a bound adapter's buffers in the order of Params (whose
// head tensors, computed on the host, are not bound and come last there).
func BoundParams(a *model.Adapter) []kernels.Buffer {
	var out []kernels.Buffer
	for _, l := range a.Layers {
		for _, b := range []model.Bottleneck{l.Attn, l.FFN} {
			out = append(out, b.Down, b.DownB, b.Up, b.UpB)
		}
	}
	for _, n := range a.Norms {
		out = append(out, n.Gamma, n.Beta)
	}
	return out
}

// Unbind frees a bound adapter's backend memory (a no-op on the cpu backend).
func Unbind(be kernels.Backend, a *model.Adapter) {
	for _, l := range a.Layers {
		for _, b := range []model.Bottleneck{l.Attn, l.FFN} {
			be.Free(b.Down)
			be.Free(b.DownB)
			be.Free(b.Up)
			be.Free(b.UpB)
		}
	}
	for _, n := range a.Norms {
		be.Free(n.Gamma)
		be.Free(n.Beta)
	}
}

// Align fits a set to a model: it checks the shapes, puts the LayerNorm
// copies in the model's order (files keep them by name), and resolves a
// default pooling to the model's.
func (s *Set) Align(m *model.Model) error {
	if s.Hidden != m.Cfg.Hidden || len(s.Layers) != m.Cfg.Layers || len(s.Norms) != len(m.W.Norms) {
		return fmt.Errorf("adapter shape (hidden %d, %d layers, %d LayerNorms) does not fit the model (hidden %d, %d layers, %d LayerNorms)",
			s.Hidden, len(s.Layers), len(s.Norms), m.Cfg.Hidden, m.Cfg.Layers, len(m.W.Norms))
	}
	byName := map[string]NormCopy{}
	for _, n := range s.Norms {
		byName[n.Name] = n
	}
	norms := make([]NormCopy, len(m.W.Norms))
	for i, bn := range m.W.Norms {
		n, ok := byName[bn.Name]
		if !ok {
			return fmt.Errorf("adapter has no copy of LayerNorm %q of the model", bn.Name)
		}
		norms[i] = n
	}
	pool, err := m.Resolve(s.Pool)
	if err != nil {
		return err
	}
	if err := checkSpec(m, Spec{Task: s.Task, Inputs: s.Inputs, Labels: s.Labels, Size: s.Size, Act: s.Act, Pool: pool}); err != nil {
		return err
	}
	s.Norms, s.Pool = norms, pool
	return nil
}

// Random is a set with every tensor random (up projections included), for
// benchmarks and tests that need adapters doing real work: a fresh set's zero
// up projections would make every block the identity.
func Random(m *model.Model, spec Spec, seed uint64) (*Set, error) {
	s, err := New(m, spec, seed)
	if err != nil {
		return nil, err
	}
	r := rng.Named(seed, "random")
	for _, p := range s.Params() {
		for i := range p.Data {
			p.Data[i] += float32(0.05 * r.Normal())
		}
	}
	return s, nil
}
