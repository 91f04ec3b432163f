//go:build cuda || cudaemu

package cuda

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/kernels"
)

// Benchmarks for the device check (kernels/cuda/device-check.sh): GPU
// memory per model and adapter, and the GEMM and attention kernels at BERT
// shapes. The emulator skips them (it measures nothing about a GPU).

func skipEmulated(b *testing.B) {
	if emulated {
		b.Skip("benchmarks need a GPU")
	}
}

func openBench(b *testing.B, o Options) *Backend {
	be := openTest(b, o)
	if !o.DisableCublas && be.blas == nil {
		b.Skip("no cuBLAS library found")
	}
	return be
}

// BenchmarkDeviceMemory reports the device bytes of a model's uploaded
// weights after its first pass (base_MiB) and of each adapter once a mixed
// pass has used it (adapter_MiB), from the backend's accounting; device_MiB
// is the driver's view of the whole pass (weights, activations, pool,
// cuBLAS workspace).
func BenchmarkDeviceMemory(b *testing.B) {
	skipEmulated(b)
	for _, preset := range []string{"minilm-l6", "bert-base"} {
		for _, prec := range []Precision{FP32, FP16} {
			b.Run(fmt.Sprintf("%s/%s", preset, prec), func(b *testing.B) {
				be := openBench(b, Options{Precision: prec})
				free0, _, _ := be.dev.memInfo()
				cfg := demoPreset(preset)
				m := randomModel(b, be, cfg)
				const k = 16
				ads := randomAdapters(b, m, k, adapter.DefaultSize)
				for range b.N {
					pass := func(ads []*model.Adapter) {
						batch, err := engine.SyntheticBatch(cfg, 32, 128, ads)
						if err != nil {
							b.Fatal(err)
						}
						p, err := m.Forward(context.Background(), batch, false)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := p.Pool(model.PoolCLS); err != nil {
							b.Fatal(err)
						}
						p.Release()
					}
					pass(nil)
					base := be.Stats()
					pass(ads)
					all := be.Stats()
					b.ReportMetric(float64(base.ResidentUploadBytes)/(1<<20), "base_MiB")
					b.ReportMetric(float64(all.ResidentUploadBytes-base.ResidentUploadBytes)/k/(1<<20), "adapter_MiB")
					b.ReportMetric(float64(free0-all.DeviceFree)/(1<<20), "device_MiB")
				}
			})
		}
	}
}

// BenchmarkGemm times Linear at the shapes of BERT-base at B·L = 4096 rows:
// the package's tensor-core kernel, cuBLAS with the cuBLASLt epilogues, and
// cuBLAS with separate bias/activation passes (cublas-nolt).
func BenchmarkGemm(b *testing.B) {
	skipEmulated(b)
	for _, prec := range []Precision{FP16, BF16, FP32} {
		for _, mode := range []string{"kernels", "cublas", "cublas-nolt"} {
			o := Options{Precision: prec, DisableCublas: mode == "kernels", DisableCublasLt: mode == "cublas-nolt"}
			b.Run(configName(o), func(b *testing.B) {
				be := openBench(b, o)
				// BERT-base's projections: bias only, and the first FFN
				// GEMM with its exact GELU (own kernels: fused; cuBLASLt: bias
				// epilogue, then a vectorised GELU pass; cuBLAS: bias and
				// GELU in one pass after the GEMM), and with the tanh GELU
				// (cuBLASLt: all in the epilogue).
				for _, s := range [][4]int{{4096, 768, 768, 0}, {4096, 3072, 768, 1}, {4096, 3072, 768, 2},
					{4096, 768, 3072, 0}} {
					m, n, k := s[0], s[1], s[2]
					act := kernels.Act(s[3]) // ActNone, ActGELU, ActGELUTanh
					b.Run(fmt.Sprintf("%dx%dx%d-%v", m, n, k, act), func(b *testing.B) {
						x, w, bias, y := be.Alloc(m*k), be.Alloc(n*k), be.Alloc(n), be.Alloc(m*n)
						defer func() {
							for _, v := range []kernels.Buffer{x, w, bias, y} {
								be.Free(v)
							}
						}()
						run := func() { be.Linear(y, n, x, m, n, k, w, kernels.OutIn, bias, act) }
						timeOp(b, be, run, 2*float64(m)*float64(n)*float64(k))
					})
				}
			})
		}
	}
}

// BenchmarkAttention times attention of BERT-base heads: the fused kernels
// (fp16: flash attention on mma.sync, kern_flash.h, and the wmma kernel it
// replaces, attn_tc; fp32: SIMT) and, with the weights stored, the cuBLAS
// path (strided batched GEMMs around a softmax), to compare them.
func BenchmarkAttention(b *testing.B) {
	skipEmulated(b)
	for _, c := range []struct {
		prec    Precision
		stored  bool
		noFlash bool
	}{{FP16, false, false}, {FP16, false, true}, {FP16, true, false}, {FP32, false, false}} {
		name := fmt.Sprintf("%s/fused", c.prec)
		switch {
		case c.stored:
			name = fmt.Sprintf("%s/cublas-stored", c.prec)
		case c.noFlash:
			name = fmt.Sprintf("%s/fused-wmma", c.prec)
		}
		b.Run(name, func(b *testing.B) {
			be := openBench(b, Options{Precision: c.prec, DisableCublas: !c.stored})
			be.noFlash = c.noFlash
			for _, bt := range [][2]int{{128, 128}, {32, 128}, {1, 128}} {
				B, T, H, hd := bt[0], bt[1], 12, 64
				b.Run(fmt.Sprintf("B%d-T%d", B, T), func(b *testing.B) {
					qkv, ctx := be.Alloc(B*T*3*H*hd), be.Alloc(B*T*H*hd)
					defer be.Free(qkv)
					defer be.Free(ctx)
					var probs kernels.Buffer
					if c.stored {
						probs = be.Alloc(B * H * T * T)
						defer be.Free(probs)
					}
					mask := make([]uint8, B*T)
					for i := range mask {
						mask[i] = 1
					}
					a := kernels.Attn{Batch: B, Seq: T, Heads: H, HeadDim: hd, KeyMask: mask,
						Scale: float32(1 / math.Sqrt(float64(hd)))}
					timeOp(b, be, func() { be.Attention(ctx, qkv, a, probs) }, 4*float64(B*T*T*H*hd))
				})
			}
		})
	}
}

// timeOp runs op b.N times between device synchronisations and reports
// TFLOP/s for flops per call.
func timeOp(b *testing.B, be *Backend, op func(), flops float64) {
	op() // warm up (uploads, cuBLAS heuristics)
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		op()
	}
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.ReportMetric(flops*float64(b.N)/el.Seconds()/1e12, "TFLOP/s")
}
