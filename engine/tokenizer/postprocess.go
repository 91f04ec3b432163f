package tokenizer

// piece is one element of a template: a sequence (seq 0 = A, 1 = B) or
// special token ids (seq -1), with the type id its ids get.
type piece struct {
	seq    int
	ids    []int32
	typeID int32
}

// template lays out one or two sequences with special tokens (HF
// TemplateProcessing; BertProcessing and RobertaProcessing are fixed
// templates of it).
type template struct {
	pieces []piece
	added  int  // special ids the template adds
	ok     bool // false: no such template (pairs unsupported)
}

func newTemplate(pieces []piece) template {
	t := template{pieces: pieces, ok: true}
	for _, p := range pieces {
		if p.seq < 0 {
			t.added += len(p.ids)
		}
	}
	return t
}

// postProcessor holds the single and pair templates.
type postProcessor struct {
	single, pair template
}

func seqPiece(seq int, typeID int32) piece { return piece{seq: seq, typeID: typeID} }

func specialPiece(typeID int32, ids ...int32) piece {
	return piece{seq: -1, ids: ids, typeID: typeID}
}

// plainPost adds no special tokens; pair type ids are 0 then 1 (what HF does
// with the ByteLevel post-processor or none).
func plainPost() *postProcessor {
	return &postProcessor{
		single: newTemplate([]piece{seqPiece(0, 0)}),
		pair:   newTemplate([]piece{seqPiece(0, 0), seqPiece(1, 1)}),
	}
}

// bertPost is [CLS] A [SEP] and [CLS] A [SEP] B [SEP], type ids 0…0 1…1.
func bertPost(cls, sep int32) *postProcessor {
	return &postProcessor{
		single: newTemplate([]piece{specialPiece(0, cls), seqPiece(0, 0), specialPiece(0, sep)}),
		pair: newTemplate([]piece{specialPiece(0, cls), seqPiece(0, 0), specialPiece(0, sep),
			seqPiece(1, 1), specialPiece(1, sep)}),
	}
}

// robertaPost is <s> A </s> and <s> A </s></s> B </s>, every type id 0.
func robertaPost(cls, sep int32) *postProcessor {
	return &postProcessor{
		single: newTemplate([]piece{specialPiece(0, cls), seqPiece(0, 0), specialPiece(0, sep)}),
		pair: newTemplate([]piece{specialPiece(0, cls), seqPiece(0, 0), specialPiece(0, sep),
			specialPiece(0, sep), seqPiece(1, 0), specialPiece(0, sep)}),
	}
}

// apply lays out a and b; without special tokens only the sequences are
// placed (still with the template's type ids, as HF does).
func (t *template) apply(a, b []int32, special bool) (ids, typeIDs []int32) {
	n := len(a) + len(b)
	if special {
		n += t.added
	}
	buf := make([]int32, 2*n)
	ids, typeIDs = buf[:0:n], buf[n:n]
	for _, p := range t.pieces {
		src := p.ids
		switch p.seq {
		case 0:
			src = a
		case 1:
			src = b
		default:
			if !special {
				continue
			}
		}
		ids = append(ids, src...)
		for range src {
			typeIDs = append(typeIDs, p.typeID)
		}
	}
	return ids, typeIDs
}

// truncateLengths is how many ids of a and b survive when at most budget
// may remain (HF tokenizers' LongestFirst strategy): a single sequence is
// cut to budget; for a pair, if cutting the longer one down to what the
// shorter leaves suffices only the longer is cut, else the shorter keeps
// budget/2 and the longer budget/2 + budget%2.
func truncateLengths(na, nb int, pair bool, budget int) (int, int) {
	if !pair {
		return min(na, budget), 0
	}
	n1, n2 := na, nb
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > budget {
		n2 = n1
	} else {
		n2 = max(n1, budget-n1)
	}
	if n1+n2 > budget {
		n1 = budget / 2
		n2 = n1 + budget%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return min(na, n1), min(nb, n2)
}
