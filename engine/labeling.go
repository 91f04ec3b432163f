package engine

import (
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/spans"
	"github.com/adapterdb/adapterdb/engine/tokenizer"
)

// Labeling is a text prepared for sequence labeling: its tokens with their
// character offsets, cut into overlapping windows that each fit the model (a
// long text is labelled window by window, never truncated), and the model
// input of every window.
type Labeling struct {
	Text    []rune
	IDs     []int32            // content tokens (no special tokens)
	Offsets []tokenizer.Offset // code points of each content token
	Windows []spans.Window     // runs of content tokens, one pass row each
	Seqs    []Sequence         // each window with the model's special tokens
	// Lead is how many special tokens precede a window's content tokens in
	// its sequence.
	Lead int
}

// Label tokenizes text with offsets and cuts it into windows of at most
// maxLen tokens each, special tokens included (0: the engine's max length).
// A text without tokens has no windows.
func (e *Engine) Label(text string, maxLen int) (*Labeling, error) {
	if err := e.CheckText(text); err != nil {
		return nil, err
	}
	if maxLen <= 0 {
		maxLen = e.cfg.MaxLength
	}
	maxLen = min(maxLen, e.model.Cfg.MaxTokens())
	ids, offs, err := e.tok.EncodeOffsets(text)
	if err != nil {
		return nil, err
	}
	l := &Labeling{Text: []rune(text), IDs: ids, Offsets: offs}
	if len(ids) == 0 {
		return l, nil
	}
	size := max(maxLen-e.tok.NumSpecialTokens(false), 1)
	l.Windows = spans.Windows(len(ids), size)
	for _, w := range l.Windows {
		full, types, lead := e.tok.WithSpecial(ids[w.Start:w.End])
		l.Lead = lead
		l.Seqs = append(l.Seqs, e.sequence(tokenizer.Encoding{IDs: full, TypeIDs: types}))
	}
	return l, nil
}

// Merge picks every content token's row from the window where the token is
// most central: rows[w] is window w's matrix [T_w, width] over its whole
// sequence (special tokens included); the result is [len(IDs), width].
func (l *Labeling) Merge(rows [][]float32, width int) []float32 {
	win, pos := spans.Owners(l.Windows, len(l.IDs))
	out := make([]float32, len(l.IDs)*width)
	for t := range l.IDs {
		r := (l.Lead + pos[t]) * width
		copy(out[t*width:(t+1)*width], rows[win[t]][r:r+width])
	}
	return out
}

// Tags are the BIO tags of every window's sequence (special tokens
// spans.Ignore), for training: tags holds one per content token.
func (l *Labeling) Tags(tags []int) [][]int {
	out := make([][]int, len(l.Windows))
	for i, w := range l.Windows {
		row := make([]int, len(l.Seqs[i].IDs))
		for k := range row {
			row[k] = spans.Ignore
		}
		copy(row[l.Lead:], tags[w.Start:w.End])
		out[i] = row
	}
	return out
}

// Entities decodes the spans of a sequence labeling adapter: its head on
// every token of every window (hidden[w] is window w's final hidden states
// [T_w·H]), tag probabilities merged from the window where each token is most
// central, decoded to spans sorted by start (never nil).
func (l *Labeling) Entities(set *adapter.Set, hidden [][]float32) []spans.Entity {
	n := set.Outputs()
	probs := make([][]float32, len(hidden))
	for w, h := range hidden {
		T := len(h) / set.Hidden
		probs[w] = adapter.TagProbs(set.Logits(h, T), T, n)
	}
	if len(l.IDs) == 0 {
		return []spans.Entity{}
	}
	out := spans.Decode(l.Text, l.Offsets, l.Merge(probs, n), set.Labels)
	if out == nil {
		out = []spans.Entity{}
	}
	return out
}
