package tokenizer

import "fmt"

// PadOptions controls Pad.
type PadOptions struct {
	// Length pads every row to this many positions (0: the longest row).
	Length int
	// Multiple rounds the padded length up to a multiple of it (0 or 1: no
	// rounding), e.g. 8 for tensor-core friendly shapes.
	Multiple int
	// Left puts the padding before the tokens (for decoders that read the
	// last position) instead of after them.
	Left bool
}

// Batch is a padded batch of encodings, row-major [Rows, Len].
type Batch struct {
	Rows, Len int
	IDs       []int32 // pad positions hold the tokenizer's PadID
	TypeIDs   []int32 // pad positions hold 0
	Mask      []int32 // attention mask: 1 for tokens, 0 for padding
}

// AttentionMask is an all-ones mask for one unpadded encoding.
func (e Encoding) AttentionMask() []int32 {
	m := make([]int32, len(e.IDs))
	for i := range m {
		m[i] = 1
	}
	return m
}

// Pad lays encodings out as one padded batch.
func (t *Tokenizer) Pad(encs []Encoding, opts PadOptions) (Batch, error) {
	longest := 0
	for _, e := range encs {
		if len(e.TypeIDs) != len(e.IDs) && e.TypeIDs != nil {
			return Batch{}, fmt.Errorf("pad: encoding has %d ids but %d type ids", len(e.IDs), len(e.TypeIDs))
		}
		longest = max(longest, len(e.IDs))
	}
	n := longest
	if opts.Length > 0 {
		if opts.Length < longest {
			return Batch{}, fmt.Errorf("pad: length %d is shorter than the longest encoding (%d ids)", opts.Length, longest)
		}
		n = opts.Length
	}
	if opts.Multiple > 1 && n%opts.Multiple != 0 {
		n += opts.Multiple - n%opts.Multiple
	}
	b := Batch{Rows: len(encs), Len: n}
	buf := make([]int32, 3*len(encs)*n)
	b.IDs, b.TypeIDs, b.Mask = buf[:len(encs)*n], buf[len(encs)*n:2*len(encs)*n], buf[2*len(encs)*n:]
	for r, e := range encs {
		off := r * n
		if opts.Left {
			off += n - len(e.IDs)
		}
		for i := range b.IDs[r*n : (r+1)*n] {
			b.IDs[r*n+i] = t.padID
		}
		copy(b.IDs[off:], e.IDs)
		copy(b.TypeIDs[off:], e.TypeIDs)
		for i := range e.IDs {
			b.Mask[off+i] = 1
		}
	}
	return b, nil
}
