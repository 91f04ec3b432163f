//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/kernels"
	"github.com/adapterdb/adapterdb/kernels/cpu"
)

// TestFlashAttention checks kern_flash.h's attention against the cpu
// backend on the same rounded inputs (the tolerance of TestLowPrecisionOps),
// and against attn_tc, the kernel it replaces: padding masks, a fully masked
// sequence, causal masks, lengths around the 64-key tile, every head dim it
// serves. A qkv view one value off 16-byte alignment must take attn_tc.
func TestFlashAttention(t *testing.T) {
	ref, err := cpu.New(zerolog.Nop(), cpu.Options{DisableBLAS: true})
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		B, T, H, hd int
		causal      bool
		lens        []int
	}
	cases := []tc{
		{3, 1, 2, 64, false, []int{1, 0, 1}},
		{2, 63, 1, 32, false, []int{63, 17}},
		{2, 65, 1, 64, true, []int{65, 64}},
		{3, 70, 2, 64, false, []int{70, 0, 5}},
		{1, 130, 1, 128, true, []int{129}},
		{2, 40, 2, 128, false, []int{40, 39}},
	}
	if !emulated {
		cases = append(cases, tc{16, 128, 12, 64, false, []int{128, 100, 1, 64, 127, 128, 0, 77, 128, 2, 3, 128, 50, 128, 65, 64}})
	}
	for _, prec := range []Precision{BF16, FP16} {
		t.Run(string(prec), func(t *testing.T) {
			be := openTest(t, Options{Precision: prec, DisableCublas: true})
			e := &lowpEnv{t: t, be: be, ref: ref, prec: prec, rng: rand.New(rand.NewPCG(11, uint64(len(prec))))}
			for _, c := range cases {
				D := c.H * c.hd
				mask := make([]uint8, c.B*c.T)
				for b, l := range c.lens {
					for i := range l {
						mask[b*c.T+i] = 1
					}
				}
				a := kernels.Attn{Batch: c.B, Seq: c.T, Heads: c.H, HeadDim: c.hd, KeyMask: mask, Causal: c.causal,
					Scale: float32(1 / math.Sqrt(float64(c.hd)))}
				n := c.B * c.T * 3 * D
				qkv := e.randn(n+1, 1)
				gq, rq := e.both(qkv[:n])
				rc := ref.Alloc(c.B * c.T * D)
				ref.Attention(rc, rq, a, nil)
				want := e.get(ref, rc)
				plan, err := planAttention(prec, c.hd, false, false, be.tcOK[c.hd])
				if err != nil {
					t.Fatal(err)
				}
				fa := be.flashKernel(plan, c.hd, be.in(gq, n, "qkv"), 256, D)
				if fa == nil {
					t.Fatalf("%+v: the flash kernel does not serve an aligned call", c)
				}
				run := func(name string, qkv kernels.Buffer, noFlash bool) []float32 {
					be.noFlash = noFlash
					defer func() { be.noFlash = false }()
					gc := be.Alloc(c.B * c.T * D)
					be.Attention(gc, qkv, a, nil)
					got := e.get(be, gc)
					for r := range c.B * c.T {
						if mask[r] == 0 { // padding queries: anything finite
							for d := range D {
								if v := float64(got[r*D+d]); math.IsNaN(v) || math.IsInf(v, 0) {
									t.Errorf("%s %+v: padding row %d not finite", name, c, r)
								}
								got[r*D+d] = want[r*D+d]
							}
						}
					}
					mag := make([]float32, len(want))
					for i := range mag {
						mag[i] = 3
					}
					e.near(fmt.Sprintf("%s(B=%d T=%d H=%d hd=%d causal=%v)", name, c.B, c.T, c.H, c.hd, c.causal), got,
						want, mag, 1e-3)
					return got
				}
				flash := run("flash", gq, false)
				tcOut := run("attn_tc", gq, true)
				// Off alignment: a view one value into a longer upload.
				off := be.View(be.Upload(qkv), 1, n)
				if be.flashKernel(plan, c.hd, be.in(off, n, "qkv"), 256, D) != nil {
					t.Errorf("%+v: the flash kernel accepted a qkv off 16-byte alignment", c)
				}
				e.near(fmt.Sprintf("flash vs attn_tc (B=%d T=%d hd=%d)", c.B, c.T, c.hd), flash, tcOut, nil, 1e-3)
			}
		})
	}
}
