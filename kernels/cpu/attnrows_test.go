package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/adapterdb/adapterdb/kernels"
)

// TestAttentionRows compares AttentionRows and its backward with Attention
// over every row: the kept rows' contexts and weights, and the input
// gradients when only the kept rows' contexts have gradients. Sequences are
// full, right-padded and with holes; the kept row is the first, the last
// real one or one in the middle (a padding row in one sequence: zeros).
func TestAttentionRows(t *testing.T) {
	be := newBackend(t, Options{})
	for _, hd := range []int{32, 20} {
		for _, causal := range []bool{false, true} {
			t.Run(fmt.Sprintf("hd=%d/causal=%v", hd, causal), func(t *testing.T) {
				const B, T, H = 48, 23, 3 // enough to split over sequences, on helpers and on the team
				D := H * hd
				if s := (attnShape{B: B, T: T, H: H, hd: hd}); be.rowsStep(s) >= B {
					t.Fatal("the rows' attention is not split: make the test larger")
				}
				mask := make([]uint8, B*T)
				rows := make([]int32, B)
				for s := range B {
					n := T - 3*(s%7)
					for i := range T {
						mask[s*T+i] = b2u(i < n && (s%3 != 2 || i%5 != 2))
					}
					switch s % 3 {
					case 0:
						rows[s] = 0
					case 1:
						rows[s] = int32(n - 1)
					default:
						rows[s] = int32(n / 2)
					}
				}
				rows[B-1] = 2 // the last sequence keeps a padding row
				mask[(B-1)*T+2] = 0
				a := kernels.Attn{Batch: B, Seq: T, Heads: H, HeadDim: hd, KeyMask: mask, Causal: causal, Scale: 0.3}
				qkv, dctxRows := randBuf(be, B*T*3*D, 1), randBuf(be, B*D, 2)

				ctx, probs := be.Alloc(B*T*D), be.Alloc(B*H*T*T)
				be.Attention(ctx, qkv, a, probs)
				rctx, rprobs, rctx2 := be.Alloc(B*D), be.Alloc(B*H*T), be.Alloc(B*D)
				be.AttentionRows(rctx, qkv, a, rows, rprobs)
				be.AttentionRows(rctx2, qkv, a, rows, nil) // inference: no weights kept
				for i, v := range data(rctx2) {
					if v != data(rctx)[i] {
						t.Fatalf("ctx without probs differs at %d: %v, %v", i, v, data(rctx)[i])
					}
				}
				dctx := be.Alloc(B * T * D) // the kept rows' gradients, zero elsewhere
				dqkv, rdqkv := be.Alloc(B*T*3*D), be.Alloc(B*T*3*D)
				for s, r := range rows {
					copy(data(dctx)[(s*T+int(r))*D:(s*T+int(r)+1)*D], data(dctxRows)[s*D:(s+1)*D])
				}
				be.AttentionBackward(dqkv, dctx, qkv, probs, a)
				be.AttentionRowsBackward(rdqkv, dctxRows, qkv, rprobs, a, rows)

				for s, r := range rows {
					padding := mask[s*T+int(r)] == 0
					for c := range D {
						want := data(ctx)[(s*T+int(r))*D+c]
						if padding {
							want = 0
						}
						near(t, "ctx", data(rctx)[s*D+c], want, s, c)
					}
					for h := range H {
						for j := range T {
							want := data(probs)[((s*H+h)*T+int(r))*T+j]
							if padding {
								want = 0
							}
							near(t, "probs", data(rprobs)[(s*H+h)*T+j], want, s, j)
						}
					}
				}
				for i, w := range data(dqkv) {
					near(t, "dqkv", data(rdqkv)[i], w, i/(3*D), i%(3*D))
				}
			})
		}
	}
}

func near(t *testing.T, what string, got, want float32, i, j int) {
	t.Helper()
	if d := math.Abs(float64(got - want)); d > 2e-5*(1+math.Abs(float64(want))) || math.IsNaN(float64(got)) {
		t.Fatalf("%s [%d, %d]: rows %v, full %v", what, i, j, got, want)
	}
}
