package model_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// recorded is a Source that keeps the slices it handed out.
type recorded struct {
	model.Source
	got map[string][]float32
}

func (r *recorded) Float32(name string) ([]float32, []int, error) {
	d, shape, err := r.Source.Float32(name)
	r.got[name] = d
	return d, shape, err
}

// TestLoadOwnsVectors: on the cpu backend, whose buffers alias the
// checkpoint's memory, the tensors every pass reads whole (biases,
// LayerNorms, position and token-type embeddings) get copies of their own,
// so the checkpoint's pages can be dropped; in fp32 the linear layers'
// weights and the word embeddings stay where they are (a copy would double
// the memory), in cpu:bf16 the word embeddings are a bfloat16 copy. Checked
// by poisoning what the source handed out after loading.
func TestLoadOwnsVectors(t *testing.T) {
	c := model.Config{Type: model.BERT, Layers: 2, Hidden: 16, Heads: 2, FFN: 24, MaxPos: 40, Vocab: 97,
		TypeVocab: 2, Eps: 1e-12, Act: kernels.ActGELU}
	backends := testmodels.Backends(t)
	if bf, err := cpu.New(zerolog.Nop(), cpu.Options{Precision: "bf16"}); err == nil {
		backends = append(backends, bf)
	} else {
		t.Logf("no cpu:bf16 case: %v", err)
	}
	for _, be := range backends {
		t.Run(be.Name(), func(t *testing.T) {
			src := &recorded{Source: demo.RandomBERT(c, 3), got: map[string][]float32{}}
			w, err := model.LoadWeights(src, be, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Release(be)
			for _, d := range src.got {
				for i := range d {
					d[i] = float32(math.NaN())
				}
			}
			hasNaN := func(b kernels.Buffer, n int) bool {
				h := make([]float32, n)
				be.Download(h, b)
				for _, v := range h {
					if v != v {
						return true
					}
				}
				return false
			}
			H := c.Hidden
			vectors := map[string]kernels.Buffer{"position embeddings": w.Pos, "token-type embeddings": w.TokType}
			sizes := map[string]int{"position embeddings": c.MaxPos * H, "token-type embeddings": c.TypeVocab * H}
			for _, n := range w.Norms {
				vectors[n.Name+" gamma"], vectors[n.Name+" beta"] = n.Gamma, n.Beta
				sizes[n.Name+" gamma"], sizes[n.Name+" beta"] = H, H
			}
			for i, ly := range w.Layers {
				for j, l := range []model.Linear{ly.QKV, ly.O, ly.FC1, ly.FC2} {
					name := fmt.Sprintf("layer %d linear %d bias", i, j)
					vectors[name], sizes[name] = l.B, l.Out
				}
			}
			for name, b := range vectors {
				if hasNaN(b, sizes[name]) {
					t.Errorf("%s aliases the checkpoint's memory", name)
				}
			}
			if !strings.HasPrefix(be.Name(), "cpu") {
				return // other backends copy every weight to their device
			}
			if p, ok := be.(interface{ Precision() string }); ok && p.Precision() != "fp32" {
				ids := make([]int32, c.Vocab)
				for i := range ids {
					ids[i] = int32(i)
				}
				y := be.Alloc(c.Vocab * H)
				be.Embed(y, w.Word, ids, H, false)
				if hasNaN(y, c.Vocab*H) {
					t.Errorf("%s: the word embeddings alias the checkpoint's memory", p.Precision())
				}
				return
			}
			if !hasNaN(w.Word, c.Vocab*H) {
				t.Error("the word embeddings were copied")
			}
			for i, ly := range w.Layers {
				for _, l := range []model.Linear{ly.O, ly.FC1, ly.FC2} {
					if !hasNaN(l.W, l.In*l.Out) {
						t.Errorf("layer %d: a %d×%d weight was copied", i, l.Out, l.In)
					}
				}
			}
		})
	}
}
