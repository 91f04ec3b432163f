// Package kernels defines the numeric backend the transformer runs on.
//
// One interface serves every backend (kernels/cpu by default, kernels/cuda behind
// the cuda build tag), in the spirit of ggml: the engine writes the model once as
// a sequence of coarse operations over whole batches, and each backend decides how
// to run them. Matrices are row-major float32 with an explicit leading dimension.
//
// Shapes are given in the comments as [rows, cols]. M is the number of token rows
// in a batch (batch × padded length), H the hidden size, K/N GEMM inner/outer sizes.
package kernels

// Buffer holds float32 values in a backend's memory (host RAM for cpu, device
// memory for cuda). Buffers of one backend must not be passed to another.
type Buffer interface {
	// Len is the number of float32 elements.
	Len() int
}

// Act is an element-wise activation.
type Act uint8

const (
	ActNone     Act = iota // identity
	ActGELU                // 0.5·x·(1 + erf(x/√2)), Hugging Face "gelu"
	ActGELUTanh            // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), "gelu_new"
	ActTanh                // tanh(x), the BERT pooler
	ActReLU                // max(x, 0)
)

func (a Act) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActGELU:
		return "gelu"
	case ActGELUTanh:
		return "gelu_tanh"
	case ActTanh:
		return "tanh"
	case ActReLU:
		return "relu"
	}
	return "unknown"
}

// Layout says how a linear layer's weight matrix is stored.
type Layout uint8

const (
	// OutIn is torch.nn.Linear: W is [out, in] and y = x·Wᵀ + b.
	OutIn Layout = iota
	// InOut is Hugging Face GPT-2's Conv1D: W is [in, out] and y = x·W + b.
	InOut
)

// LinearSeg is one group of consecutive rows that share a weight matrix and bias
// in a segmented linear map (rows of different adapters in one mixed batch).
type LinearSeg struct {
	Rows int    // number of consecutive rows of x and y in this segment
	W    Buffer // [n, k] for OutIn; nil skips the segment (y rows left untouched)
	Bias Buffer // [n] or nil
}

// NormSeg is one group of consecutive rows normalised with the same gain and bias.
type NormSeg struct {
	Rows  int
	Gamma Buffer // [cols]
	Beta  Buffer // [cols]
}

// Attn describes a batch for multi-head self-attention.
//
// QKV is [Batch·Seq, 3·Heads·HeadDim]: for row r, columns [0,D) hold q, [D,2D) k and
// [2D,3D) v, where D = Heads·HeadDim and head h owns columns [h·HeadDim, (h+1)·HeadDim)
// of each part. Ctx is [Batch·Seq, D].
type Attn struct {
	Batch, Seq, Heads, HeadDim int
	// KeyMask is [Batch·Seq] on the host: 1 where the token is real, 0 for padding.
	// Padded keys get no attention weight. Query rows that are padding may hold any
	// finite values afterwards; callers ignore them.
	KeyMask []uint8
	// Causal additionally masks keys at positions after the query (GPT-2).
	Causal bool
	// Scale multiplies q·k before the softmax, normally 1/√HeadDim.
	Scale float32
}

// Backend is the set of operations the transformer forward pass needs.
// Implementations are safe for concurrent use by multiple goroutines.
type Backend interface {
	// Name says which implementation runs, e.g. "cpu/openblas-SkylakeX" or "cpu/go".
	Name() string

	// Alloc returns a zeroed buffer of n float32 values.
	Alloc(n int) Buffer
	// Scratch returns a buffer of n values, like Alloc, whose contents are
	// undefined (recycled memory is not cleared): for outputs an operation
	// overwrites entirely before anything reads them. Free it as Alloc's.
	Scratch(n int) Buffer
	// Upload returns a buffer holding host's values. The cpu backend may alias host
	// (no copy): callers must not modify host afterwards.
	Upload(host []float32) Buffer
	// Download copies src into dst (len(dst) ≤ src.Len()).
	Download(dst []float32, src Buffer)
	// View is the sub-buffer [off, off+n) of b, sharing its memory.
	View(b Buffer, off, n int) Buffer
	// Copy copies src into dst (same length).
	Copy(dst, src Buffer)
	// Free releases memory of a buffer from Alloc/Upload/Stack; it is a no-op for
	// views. The buffer (and every view of it) must not be used, or freed
	// again, afterwards: the cpu backend recycles freed buffers.
	Free(b Buffer)

	// Stack returns weight matrices of one shape, parts [n, k] each, as one
	// [len(parts)·n, k] matrix, rows of the parts in order, for Linear (OutIn)
	// and Gemm, so that maps of one input run as one product: the BERT family's
	// query, key and value are one [3H, H] weight, as GPT-2's are in the
	// checkpoint. Stack takes the parts over: the caller frees the result, not
	// them. The cpu backend keeps the parts rather than copy them (its packed
	// copy is the only whole one); other uses of the result than Linear, Gemm's
	// B and Free are not supported there.
	Stack(parts []Buffer, n, k int) Buffer

	// Gemm computes C = alpha·op(A)·op(B) + beta·C where op(A) is [m,k], op(B) is
	// [k,n] and C is [m,n]; tA/tB select the transpose. Leading dimensions are the
	// row strides of A, B, C as stored.
	Gemm(tA, tB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int, beta float32, c Buffer, ldc int)

	// Linear computes y[m,n] = act(x[m,k]·W + bias) with W stored as layout says,
	// bias [n] or nil. y has leading dimension ldy (≥ n), so that a map can
	// write a column block of a wider matrix; dense rows (ldy = n) are the fast
	// case (maps of one input are better stacked into one weight, see Stack).
	Linear(y Buffer, ldy int, x Buffer, m, n, k int, w Buffer, layout Layout, bias Buffer, act Act)

	// SegLinear is Linear per segment with OutIn weights: for consecutive row
	// groups it computes act(x_s·W_sᵀ + b_s). When accumulate is true the result
	// is added to y instead of overwriting it (act must then be ActNone).
	// x is [Σrows, k], y is [Σrows, n].
	SegLinear(y, x Buffer, n, k int, segs []LinearSeg, act Act, accumulate bool)

	// Activate computes y = act(x) over n values (y may alias x).
	Activate(y, x Buffer, n int, act Act)

	// AddNorm computes sum = a + b (b may be nil: sum = a) and y = LayerNorm(sum)
	// row by row over cols columns, with each segment's gain and bias. sum may be
	// nil (not stored) or alias a; y may alias a (in place). Rows = Σ seg.Rows.
	AddNorm(y, sum, a, b Buffer, cols int, eps float32, segs []NormSeg)

	// Add computes y = a + b over n values (y may alias a or b).
	Add(y, a, b Buffer, n int)

	// Embed writes y[i,:] = table[ids[i],:] (add: y[i,:] += table[ids[i],:]) for
	// i < len(ids); table is [rows, cols]. ids are on the host and in range.
	Embed(y Buffer, table Buffer, ids []int32, cols int, add bool)

	// Attention computes multi-head scaled dot-product attention (see Attn).
	// probs, when not nil, receives the softmax weights [Batch, Heads, Seq, Seq]
	// (kept for the backward pass).
	Attention(ctx, qkv Buffer, a Attn, probs Buffer)
}

// LinearGrad is one segment of a segmented linear map for the backward pass.
type LinearGrad struct {
	Rows  int
	W     Buffer // [n, k] OutIn weights of the forward pass
	DW    Buffer // [n, k] accumulated: DW += dyᵀ·x; nil when frozen
	DBias Buffer // [n] accumulated: DBias += Σ_rows dy; nil when frozen or no bias
}

// NormGrad is one segment of a LayerNorm for the backward pass.
type NormGrad struct {
	Rows   int
	Gamma  Buffer // [cols]
	DGamma Buffer // [cols] accumulated; nil when frozen
	DBeta  Buffer // [cols] accumulated; nil when frozen
}

// RowAttention is a Backend that can run attention for one query row per
// sequence: the last layer of a pass whose pooling reads one row
// (model.ForwardRows) needs only that row's context. Backends without it
// run Attention over every row and gather the kept ones.
type RowAttention interface {
	// AttentionRows writes ctx [Batch, D] row b: the context of the query at
	// row rows[b] (0 ≤ rows[b] < Seq) of sequence b, the function Attention
	// computes (in fp32, where Attention may multiply in bf16); probs, when
	// not nil, gets its weights [Batch, Heads, Seq].
	AttentionRows(ctx, qkv Buffer, a Attn, rows []int32, probs Buffer)
	// AttentionRowsBackward is the backward of AttentionRows: given dctx
	// [Batch, D] and the forward's qkv and probs it writes all of dqkv
	// [Batch·Seq, 3D] (dq is zero outside the rows).
	AttentionRowsBackward(dqkv, dctx, qkv, probs Buffer, a Attn, rows []int32)
}

// Trainer is a Backend that also runs the backward operations training needs.
// Every backward op is the exact derivative of its forward op; the engine checks
// each against finite differences. The cpu and cuda backends implement it.
type Trainer interface {
	Backend

	// SegLinearBackward, for y_s = x_s·W_sᵀ + b_s per segment: dx (+)= dy·W
	// (accumulate selects +=), DW += dyᵀ·x, DBias += column sums of dy.
	// dx may be nil when the input gradient is not needed.
	SegLinearBackward(dx, dy, x Buffer, n, k int, segs []LinearGrad, accumulate bool)

	// ActivateBackward computes dx = dy ⊙ act'(x) over n values, where x is the
	// activation's input (dx may alias dy).
	ActivateBackward(dx, x, dy Buffer, n int, act Act)

	// NormBackward is the backward of y = LayerNorm(x) with gain per segment:
	// dx (+)= ∂L/∂x given dy, and DGamma/DBeta accumulated. x is the LayerNorm
	// input as it was in the forward pass.
	NormBackward(dx, dy, x Buffer, cols int, eps float32, segs []NormGrad, accumulate bool)

	// AttentionBackward is the backward of Attention: given dctx [Batch·Seq, D]
	// and the forward's qkv and probs, it writes dqkv [Batch·Seq, 3D] (overwriting).
	AttentionBackward(dqkv, dctx, qkv, probs Buffer, a Attn)
}
