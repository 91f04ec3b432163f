// Package demo is the base model the binary carries: a small BERT-architecture
// encoder (4 layers, hidden 256, 4 heads, FFN 1024) with the real uncased
// WordPiece vocabulary of bert-base-uncased and deterministic random weights
// generated from a fixed seed when it is loaded.
//
// It is untrained: its features are a fixed random projection of the text,
// useful for trying the product and for training adapters on top of, not as a
// language model. Point --model at a Hugging Face checkpoint for real features.
package demo

import (
	_ "embed"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/rng"
	"github.com/adapterdb/adapterdb/kernels"
)

// Name is how users select this model (--model demo, or no --model at all).
const Name = "demo"

// seed fixes the weights. Changing it (or the generator) changes the model's
// fingerprint and orphans every adapter trained on it.
const seed = 0x5eed_adab_7e2d_b001

//go:embed vocab.txt
var vocab []byte

// Vocab is bert-base-uncased's vocab.txt (Apache-2.0, Google BERT).
func Vocab() []byte { return vocab }

// Config is the demo model's architecture.
func Config() model.Config {
	return model.Config{
		Type: model.BERT, Layers: 4, Hidden: 256, Heads: 4, FFN: 1024,
		MaxPos: 512, Vocab: 30522, TypeVocab: 2, Eps: 1e-12, Act: kernels.ActGELU,
	}
}

// Source generates random BERT weights under Hugging Face BertModel tensor
// names: the demo model, and checkpoints of other shapes for benchmarks.
type Source struct {
	seed   uint64
	shapes map[string][]int
}

// NewSource is the demo model's weights; values are generated on demand.
func NewSource() *Source { return RandomBERT(Config(), seed) }

// RandomBERT generates the weights of a BERT-architecture model of any shape
// (cfg.Type is taken to be bert) from a seed.
func RandomBERT(c model.Config, seed uint64) *Source {
	H, I := c.Hidden, c.FFN
	s := &Source{seed: seed, shapes: map[string][]int{
		"embeddings.word_embeddings.weight":       {c.Vocab, H},
		"embeddings.position_embeddings.weight":   {c.MaxPos, H},
		"embeddings.token_type_embeddings.weight": {c.TypeVocab, H},
		"embeddings.LayerNorm.weight":             {H},
		"embeddings.LayerNorm.bias":               {H},
		"pooler.dense.weight":                     {H, H},
		"pooler.dense.bias":                       {H},
	}}
	for i := 0; i < c.Layers; i++ {
		p := "encoder.layer." + strconv.Itoa(i) + "."
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			s.shapes[p+n+".weight"] = []int{H, H}
			s.shapes[p+n+".bias"] = []int{H}
		}
		s.shapes[p+"intermediate.dense.weight"] = []int{I, H}
		s.shapes[p+"intermediate.dense.bias"] = []int{I}
		s.shapes[p+"output.dense.weight"] = []int{H, I}
		s.shapes[p+"output.dense.bias"] = []int{H}
		for _, n := range []string{"attention.output.LayerNorm", "output.LayerNorm"} {
			s.shapes[p+n+".weight"] = []int{H}
			s.shapes[p+n+".bias"] = []int{H}
		}
	}
	return s
}

// Names lists the tensors in sorted order.
func (s *Source) Names() []string {
	names := make([]string, 0, len(s.shapes))
	for n := range s.shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Float32 generates one tensor. Each tensor has its own random stream (seeded
// from its name), so values do not depend on the order tensors are asked for.
//
// Scales: embeddings and weight matrices are uniform with the variance of
// N(0, 1/fan_in) (Xavier-style, so each layer roughly preserves the scale of its
// input and a random network keeps tokens distinguishable); biases are small;
// LayerNorm gains are 1 and biases 0, as in a freshly initialised BERT.
func (s *Source) Float32(name string) ([]float32, []int, error) {
	shape, ok := s.shapes[name]
	if !ok {
		return nil, nil, fmt.Errorf("demo model has no tensor %q", name)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	out := make([]float32, n)
	var std float64
	switch {
	case strings.HasSuffix(name, "LayerNorm.weight"):
		for i := range out {
			out[i] = 1
		}
		return out, shape, nil
	case strings.HasSuffix(name, "LayerNorm.bias"):
		return out, shape, nil
	case len(shape) == 1:
		std = 0.02
	case strings.HasPrefix(name, "embeddings."):
		std = 1
	default:
		std = 1 / math.Sqrt(float64(shape[1]))
	}
	r := rng.Named(s.seed, name)
	a := std * math.Sqrt(3) // U(-a, a) has standard deviation std
	for i := range out {
		out[i] = float32(r.Uniform(a))
	}
	return out, shape, nil
}
