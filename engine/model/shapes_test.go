package model_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// TestOtherShapes builds BERT models of shapes unlike the test checkpoints
// (layers, heads, hidden, FFN, odd sizes) through the same loading and forward
// code, and checks them against a naive float64 reference written here
// independently of the kernels.
func TestOtherShapes(t *testing.T) {
	shapes := []model.Config{
		{Layers: 1, Hidden: 8, Heads: 1, FFN: 24},
		{Layers: 3, Hidden: 48, Heads: 6, FFN: 80},
		{Layers: 2, Hidden: 60, Heads: 5, FFN: 7},
		{Layers: 5, Hidden: 16, Heads: 8, FFN: 64},
	}
	for _, be := range testmodels.Backends(t) {
		for i, c := range shapes {
			c.Type, c.MaxPos, c.Vocab, c.TypeVocab, c.Eps, c.Act = model.BERT, 40, 97, 2, 1e-12, kernels.ActGELU
			if i%2 == 1 {
				c.Act, c.Eps = kernels.ActGELUTanh, 1e-5
			}
			name := fmt.Sprintf("%s/L%d-H%d-A%d-I%d", be.Name(), c.Layers, c.Hidden, c.Heads, c.FFN)
			t.Run(name, func(t *testing.T) {
				src := demo.RandomBERT(c, uint64(7+i))
				w, err := model.LoadWeights(src, be, c, nil)
				if err != nil {
					t.Fatal(err)
				}
				m := model.New(c, w, be)
				// Two sequences of different lengths, right-padded.
				lens := []int{9, 4}
				T := 9
				b := &model.Batch{Seqs: 2, Len: T}
				for s, n := range lens {
					for p := 0; p < T; p++ {
						id, mask := int32((s*31+p*17+3)%c.Vocab), uint8(1)
						if p >= n {
							id, mask = 0, 0
						}
						b.IDs = append(b.IDs, id)
						b.Mask = append(b.Mask, mask)
						b.PosIDs = append(b.PosIDs, int32(p))
						b.TypeIDs = append(b.TypeIDs, int32(p%2))
					}
				}
				pass, err := m.Forward(context.Background(), b, false)
				if err != nil {
					t.Fatal(err)
				}
				defer pass.Release()
				got := make([]float32, 2*T*c.Hidden)
				be.Download(got, pass.Hidden)
				for s, n := range lens {
					off := s * T
					want := naiveBERT(t, src, c, b.IDs[off:off+n], b.TypeIDs[off:off+n])
					for p := 0; p < n; p++ {
						for j := 0; j < c.Hidden; j++ {
							g := float64(got[(off+p)*c.Hidden+j])
							if d := math.Abs(g - want[p][j]); d > 2e-4 {
								t.Fatalf("seq %d pos %d dim %d: %g, want %g", s, p, j, g, want[p][j])
							}
						}
					}
				}
			})
		}
	}
}

// naiveBERT is a float64 BERT encoder forward pass over one unpadded sequence,
// straight from the definitions (post-LN blocks, softmax attention).
func naiveBERT(t *testing.T, src model.Source, c model.Config, ids, types []int32) [][]float64 {
	get := func(name string) []float64 {
		v, _, err := src.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	H, n := c.Hidden, len(ids)
	word, pos, typ := get("embeddings.word_embeddings.weight"), get("embeddings.position_embeddings.weight"), get("embeddings.token_type_embeddings.weight")
	x := make([][]float64, n)
	for p := range x {
		x[p] = make([]float64, H)
		for j := 0; j < H; j++ {
			x[p][j] = word[int(ids[p])*H+j] + pos[p*H+j] + typ[int(types[p])*H+j]
		}
	}
	norm := func(v [][]float64, name string) [][]float64 {
		g, b := get(name+".weight"), get(name+".bias")
		out := make([][]float64, len(v))
		for p, row := range v {
			var mean, vr float64
			for _, a := range row {
				mean += a
			}
			mean /= float64(H)
			for _, a := range row {
				vr += (a - mean) * (a - mean)
			}
			vr /= float64(H)
			out[p] = make([]float64, H)
			for j, a := range row {
				out[p][j] = (a-mean)/math.Sqrt(vr+float64(c.Eps))*g[j] + b[j]
			}
		}
		return out
	}
	linear := func(v [][]float64, name string, in, outN int) [][]float64 {
		w, b := get(name+".weight"), get(name+".bias")
		out := make([][]float64, len(v))
		for p, row := range v {
			out[p] = make([]float64, outN)
			for o := 0; o < outN; o++ {
				acc := b[o]
				for k := 0; k < in; k++ {
					acc += row[k] * w[o*in+k]
				}
				out[p][o] = acc
			}
		}
		return out
	}
	add := func(a, b [][]float64) [][]float64 {
		out := make([][]float64, len(a))
		for p := range a {
			out[p] = make([]float64, len(a[p]))
			for j := range a[p] {
				out[p][j] = a[p][j] + b[p][j]
			}
		}
		return out
	}
	act := func(v float64) float64 {
		if c.Act == kernels.ActGELUTanh {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	}
	x = norm(x, "embeddings.LayerNorm")
	d := H / c.Heads
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		q := linear(x, p+"attention.self.query", H, H)
		k := linear(x, p+"attention.self.key", H, H)
		v := linear(x, p+"attention.self.value", H, H)
		ctx := make([][]float64, n)
		for i := range ctx {
			ctx[i] = make([]float64, H)
		}
		for h := 0; h < c.Heads; h++ {
			for i := 0; i < n; i++ {
				s := make([]float64, n)
				mx := math.Inf(-1)
				for j := 0; j < n; j++ {
					for e := 0; e < d; e++ {
						s[j] += q[i][h*d+e] * k[j][h*d+e]
					}
					s[j] /= math.Sqrt(float64(d))
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					for e := 0; e < d; e++ {
						ctx[i][h*d+e] += s[j] / sum * v[j][h*d+e]
					}
				}
			}
		}
		a := linear(ctx, p+"attention.output.dense", H, H)
		h1 := norm(add(x, a), p+"attention.output.LayerNorm")
		f := linear(h1, p+"intermediate.dense", H, c.FFN)
		for _, row := range f {
			for j := range row {
				row[j] = act(row[j])
			}
		}
		f2 := linear(f, p+"output.dense", c.FFN, H)
		x = norm(add(h1, f2), p+"output.LayerNorm")
	}
	return x
}
