//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"testing"
	"time"

	"github.com/adapterdb/adapterdb/kernels"
)

// BenchmarkAddNorm times the residual add + LayerNorm of a BERT-family pass
// at (B, L) = (128, 128) (16384 rows) for MiniLM's 384 and BERT-base's 768
// columns, reporting the bytes moved per second (a, b, sum, y: four passes
// over the rows): the vectorised kernel (kern_fused.h) against the memory
// bandwidth.
func BenchmarkAddNorm(b *testing.B) {
	skipEmulated(b)
	for _, prec := range []Precision{FP16, BF16} {
		be := openBench(b, Options{Precision: prec})
		for _, cols := range []int{384, 768} {
			b.Run(fmt.Sprintf("%s/cols%d", prec, cols), func(b *testing.B) {
				const rows = 16384
				n := rows * cols
				x, r, sum, y := be.Alloc(n), be.Alloc(n), be.Alloc(n), be.Alloc(n)
				g, beta := be.Alloc(cols), be.Alloc(cols)
				defer func() {
					for _, v := range []kernels.Buffer{x, r, sum, y, g, beta} {
						be.Free(v)
					}
				}()
				segs := []kernels.NormSeg{{Rows: rows, Gamma: g, Beta: beta}}
				op := func() { be.AddNorm(y, sum, x, r, cols, 1e-12, segs) }
				op()
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
				bytes := 4 * float64(n) * float64(prec.size())
				b.ReportMetric(bytes*float64(b.N)/time.Since(start).Seconds()/1e9, "GB/s")
			})
		}
	}
}
