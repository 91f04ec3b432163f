package cpu

import "github.com/adapterdb/adapterdb/kernels"

// table is an embedding table kept in bfloat16 (Table): only Embed reads it.
type table struct {
	v          []uint16 // [rows, cols]
	rows, cols int
}

func (t *table) Len() int { return len(t.v) }

// Table returns the embedding table b [rows, cols] as Embed will read it.
// In cpu:bf16 and cpu:int8, whose linear layers are stored in reduced
// precision, the table is kept in bfloat16 too, half the memory of the
// float32 original, whose pages are released when they belong to the
// memory-mapped checkpoint (BERT-base's word embeddings are 94 MB, the
// largest tensor a pass reads from the file). In fp32 it is b itself. The
// result is only for Embed and Free.
func (be *Backend) Table(b kernels.Buffer, cols int) kernels.Buffer {
	s := data(b)
	if be.dnn == nil || be.dnn.prec == precFP32 || cols <= 0 || len(s)%cols != 0 || len(s) == 0 {
		return b
	}
	t := &table{v: make([]uint16, len(s)), rows: len(s) / cols, cols: cols}
	// A piece at a time, its pages dropped as soon as it is converted, so
	// that the original is never mapped whole beside the copy; then all of
	// it once more, for the folios a piece's reads mapped back across its
	// neighbour's border.
	mapped := fileMapped(s)
	const piece = 1 << 18 // 1 MiB of float32
	for lo := 0; lo < len(s); lo += piece {
		hi := min(lo+piece, len(s))
		toBF16(t.v[lo:hi], s[lo:hi])
		if mapped {
			dropPages(s[lo:hi])
		}
	}
	if mapped {
		dropPages(s)
	}
	return t
}
