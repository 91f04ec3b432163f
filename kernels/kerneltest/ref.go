package kerneltest

import (
	"math"

	"github.com/adapterdb/adapterdb/kernels"
)

// The reference: each op written plainly in float64 over float32 inputs.
// Every function also returns a magnitude per output (the sum of absolute
// values of the terms that formed it) that scales the float32 tolerance.

// refGemm is C = alpha·op(A)·op(B) + beta·C for C stored [m, ldc].
func refGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	beta float32, c []float32, ldc int) (want, mag []float64) {
	want, mag = make([]float64, len(c)), make([]float64, len(c))
	for i := range c {
		want[i] = float64(c[i])
		mag[i] = math.Abs(float64(c[i]))
	}
	at := func(i, p int) float64 {
		if tA {
			return float64(a[p*lda+i])
		}
		return float64(a[i*lda+p])
	}
	bt := func(p, j int) float64 {
		if tB {
			return float64(b[j*ldb+p])
		}
		return float64(b[p*ldb+j])
	}
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				v := at(i, p) * bt(p, j)
				s += v
				sa += math.Abs(v)
			}
			idx := i*ldc + j
			old := 0.0
			if beta != 0 { // BLAS: beta = 0 ignores C, NaN included
				old = float64(beta) * float64(c[idx])
			}
			want[idx] = float64(alpha)*s + old
			mag[idx] = math.Abs(float64(alpha))*sa + math.Abs(old)
		}
	}
	return want, mag
}

// refAct is act(x) in float64.
func refAct(act kernels.Act, x float64) float64 {
	switch act {
	case kernels.ActGELU:
		// x·Φ(x) with Φ(x) = ½·erfc(−x/√2): exact in float64 for every x,
		// where 1 + erf(x/√2) would cancel for x ≪ 0.
		return x * 0.5 * math.Erfc(-x/math.Sqrt2)
	case kernels.ActGELUTanh:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	case kernels.ActTanh:
		return math.Tanh(x)
	case kernels.ActReLU:
		return math.Max(x, 0)
	}
	return x
}

// refLinear is y = act(x·W + bias) for y stored with stride ldy (other
// values of y kept).
func refLinear(y []float32, ldy int, x []float32, m, n, k int, w []float32, layout kernels.Layout, bias []float32,
	act kernels.Act, accumulate bool) (want, mag []float64) {
	want, mag = make([]float64, len(y)), make([]float64, len(y))
	for i := range y {
		want[i] = float64(y[i])
		mag[i] = math.Abs(float64(y[i]))
	}
	for i := range m {
		for j := range n {
			var s, sa float64
			if bias != nil {
				s, sa = float64(bias[j]), math.Abs(float64(bias[j]))
			}
			for p := range k {
				wv := w[j*k+p]
				if layout == kernels.InOut {
					wv = w[p*n+j]
				}
				v := float64(x[i*k+p]) * float64(wv)
				s += v
				sa += math.Abs(v)
			}
			idx := i*ldy + j
			if accumulate {
				s += float64(y[idx])
				sa += math.Abs(float64(y[idx]))
			}
			want[idx] = refAct(act, s)
			mag[idx] = sa
		}
	}
	return want, mag
}

// refNorm is sum = a + b and y = LayerNorm(sum)·gamma + beta per row.
func refNorm(a, b []float32, rows, cols int, eps float32, gamma, beta [][]float32) (y, sum, mag []float64) {
	y, sum, mag = make([]float64, rows*cols), make([]float64, rows*cols), make([]float64, rows*cols)
	for r := range rows {
		s := make([]float64, cols)
		mean := 0.0
		for j := range cols {
			s[j] = float64(a[r*cols+j])
			if b != nil {
				s[j] += float64(b[r*cols+j])
			}
			mean += s[j]
		}
		mean /= float64(cols)
		v := 0.0
		for j := range cols {
			v += (s[j] - mean) * (s[j] - mean)
		}
		rstd := 1 / math.Sqrt(v/float64(cols)+float64(eps))
		for j := range cols {
			xh := (s[j] - mean) * rstd
			y[r*cols+j] = xh*float64(gamma[r][j]) + float64(beta[r][j])
			sum[r*cols+j] = s[j]
			// a float32 LayerNorm loses about |x̂|·|γ| + |β| times a few ulp
			mag[r*cols+j] = (math.Abs(xh)+1)*math.Abs(float64(gamma[r][j])) + math.Abs(float64(beta[r][j]))
		}
	}
	return y, sum, mag
}

// refAttention is multi-head attention in float64. Rows of padding queries
// are left zero (backends may write anything finite there).
func refAttention(qkv []float64, a kernels.Attn) (ctx, probs []float64) {
	B, T, H, hd := a.Batch, a.Seq, a.Heads, a.HeadDim
	D := H * hd
	ctx = make([]float64, B*T*D)
	probs = make([]float64, B*H*T*T)
	s := make([]float64, T)
	for b := range B {
		for h := range H {
			for i := range T {
				if a.KeyMask[b*T+i] == 0 {
					continue
				}
				q := qkv[(b*T+i)*3*D+h*hd:]
				mx := math.Inf(-1)
				for j := range T {
					s[j] = math.Inf(-1)
					if a.KeyMask[b*T+j] == 0 || (a.Causal && j > i) {
						continue
					}
					k := qkv[(b*T+j)*3*D+D+h*hd:]
					dot := 0.0
					for d := range hd {
						dot += q[d] * k[d]
					}
					s[j] = dot * float64(a.Scale)
					mx = math.Max(mx, s[j])
				}
				if math.IsInf(mx, -1) {
					continue
				}
				tot := 0.0
				for j := range T {
					s[j] = math.Exp(s[j] - mx)
					tot += s[j]
				}
				p := probs[((b*H+h)*T+i)*T:]
				o := ctx[(b*T+i)*D+h*hd:]
				for j := range T {
					p[j] = s[j] / tot
					if p[j] == 0 {
						continue
					}
					v := qkv[(b*T+j)*3*D+2*D+h*hd:]
					for d := range hd {
						o[d] += p[j] * v[d]
					}
				}
			}
		}
	}
	return ctx, probs
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
