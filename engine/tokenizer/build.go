package tokenizer

import "fmt"

// maxVocab bounds ids read from files so a corrupt id cannot make us
// allocate gigabytes.
const maxVocab = 1 << 24

// spec is a tokenizer description from any source (tokenizer.json, classic
// files, in-memory options), turned into a Tokenizer by build.
type spec struct {
	kind  Kind
	vocab map[string]int32 // the model's vocabulary
	norm  []normOp

	// WordPiece
	unkToken   string
	wpPrefix   string
	wpMaxChars int

	// byte-level BPE
	merges         [][2]string
	addPrefixSpace bool
	useRegex       bool
	ignoreMerges   bool

	added []addedToken
	post  *postProcessor // nil: plainPost

	// Pad id: padID if set, else the id of padToken, else of eosToken, else
	// the first of the usual pad tokens found, else 0.
	padID    *int32
	padToken string
	eosToken string
}

func (s *spec) build() (*Tokenizer, error) {
	if len(s.vocab) == 0 {
		return nil, fmt.Errorf("empty vocabulary")
	}
	t := &Tokenizer{kind: s.kind, ids: s.vocab}
	size := 0
	for tok, id := range s.vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("token %q has id %d, outside [0, %d)", tok, id, maxVocab)
		}
		size = max(size, int(id)+1)
	}
	// Added tokens take their id from the model vocabulary when it has them
	// (as HF does), else the id the file gives.
	added := make([]addedToken, 0, len(s.added))
	for _, a := range s.added {
		if a.Content == "" {
			continue
		}
		if id, ok := s.vocab[a.Content]; ok {
			a.ID = id
		} else if a.ID < 0 {
			return nil, fmt.Errorf("added token %q is not in the vocabulary and has no id", a.Content)
		} else if a.ID >= maxVocab {
			return nil, fmt.Errorf("added token %q has id %d, outside [0, %d)", a.Content, a.ID, maxVocab)
		}
		size = max(size, int(a.ID)+1)
		added = append(added, a)
	}
	t.tokens = make([]string, size)
	filled := make([]bool, size)
	for tok, id := range s.vocab {
		if filled[id] {
			a, b := min(t.tokens[id], tok), max(t.tokens[id], tok) // stable message
			return nil, fmt.Errorf("id %d is used by both %q and %q", id, a, b)
		}
		t.tokens[id], filled[id] = tok, true
	}
	copied := false // t.ids is still s.vocab, which the model shares
	for _, a := range added {
		if _, inVocab := s.vocab[a.Content]; inVocab {
			continue
		}
		if filled[a.ID] && t.tokens[a.ID] != a.Content {
			return nil, fmt.Errorf("added token %q has id %d, already used by %q", a.Content, a.ID, t.tokens[a.ID])
		}
		t.tokens[a.ID], filled[a.ID] = a.Content, true
		if !copied {
			t.ids, copied = copyVocab(s.vocab), true
		}
		t.ids[a.Content] = a.ID
	}

	t.norm = newNormalizer(s.norm)
	switch s.kind {
	case KindWordPiece:
		wp, err := newWordPiece(s.vocab, s.unkToken, s.wpPrefix, s.wpMaxChars)
		if err != nil {
			return nil, err
		}
		t.wp = wp
	case KindBPE:
		m, err := newBPE(s.vocab, s.merges)
		if err != nil {
			return nil, err
		}
		m.addPrefixSpace, m.useRegex, m.ignoreMerges = s.addPrefixSpace, s.useRegex, s.ignoreMerges
		t.bpe = m
	default:
		return nil, fmt.Errorf("unknown tokenizer kind %d", s.kind)
	}

	// Non-normalized tokens are cut from the raw text first, then normalized
	// ones from the normalized rest, matched by their normalized form.
	var raw, normd []addedToken
	for _, a := range added {
		if !a.Normalized {
			raw = append(raw, a)
			continue
		}
		if t.norm != nil {
			res, _ := t.norm.apply([]byte(a.Content), nil, nil)
			a.Content = string(res)
		}
		normd = append(normd, a)
	}
	t.rawAdded, t.normAdded = newMatcher(raw), newMatcher(normd)

	t.post = s.post
	if t.post == nil {
		t.post = plainPost()
	}
	for _, tmpl := range []*template{&t.post.single, &t.post.pair} {
		for _, p := range tmpl.pieces {
			for _, id := range p.ids {
				if id < 0 || int(id) >= len(t.tokens) {
					return nil, fmt.Errorf("post-processor: special token id %d is outside the vocabulary of %d tokens", id, len(t.tokens))
				}
			}
		}
	}
	t.padID = s.resolvePad(t.ids)
	return t, nil
}

func (s *spec) resolvePad(ids map[string]int32) int32 {
	if s.padID != nil {
		return *s.padID
	}
	for _, tok := range []string{s.padToken, s.eosToken, "[PAD]", "<pad>", "<|endoftext|>"} {
		if tok == "" {
			continue
		}
		if id, ok := ids[tok]; ok {
			return id
		}
	}
	return 0
}

func copyVocab(m map[string]int32) map[string]int32 {
	c := make(map[string]int32, len(m)+8)
	for k, v := range m {
		c[k] = v
	}
	return c
}
