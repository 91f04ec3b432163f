package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/spans"
)

// Task is what an adapter's head predicts; Prediction is one head's output.
// They are re-exported so callers (the SQL layer, the CLI) need not import the
// adapter package.
type (
	Task       = adapter.Task
	Prediction = adapter.Prediction
)

// The tasks.
const (
	Classification   = adapter.Classification
	Regression       = adapter.Regression
	Multilabel       = adapter.Multilabel
	SequenceLabeling = adapter.SequenceLabeling
)

// Request is one text for Run: through a named adapter (a prediction), or
// through the plain featurizer (Adapter == "": an embedding).
type Request struct {
	Adapter string // adapter name; "" embeds the text with the base model
	Text    string
	// Pair is the second text of a text pair, used when HasPair is set: a
	// pair adapter needs one, a single-text adapter and embeddings refuse it
	// (ErrInputs).
	Pair    string
	HasPair bool
	// Proba says the caller wants probabilities, which regression adapters
	// do not have: such a request is refused with ErrNoProba.
	Proba bool
	// Pool is an embedding's pooling: cls, first, mean or last ("" the
	// model's default). Predictions use the pooling their adapter was
	// trained with.
	Pool string
}

// Result is one request's answer.
type Result struct {
	Adapter    *Loaded // nil for an embedding
	Prediction         // the adapter's head output (label, value, labels, probabilities)
	Embedding  []float32
}

// ErrNoProba refuses probabilities of a regression adapter.
var ErrNoProba = errors.New("regression adapters have no probabilities")

// ErrInputs refuses a request whose number of texts is not its adapter's:
// two for a pair adapter, one for a single-text adapter or an embedding.
var ErrInputs = errors.New("wrong number of texts")

// InputsError is an ErrInputs naming the adapter and what it takes.
type InputsError struct {
	Adapter string // "" for an embedding
	Want    int    // texts the adapter takes
	Got     int    // texts the request has
}

func (e *InputsError) Error() string {
	if e.Adapter == "" {
		return fmt.Sprintf("%v: an embedding takes 1 text, got %d", ErrInputs, e.Got)
	}
	return fmt.Sprintf("%v: adapter %s takes %d, got %d", ErrInputs, e.Adapter, e.Want, e.Got)
}

func (e *InputsError) Unwrap() error { return ErrInputs }

// texts is how many texts a request has.
func (q Request) texts() int {
	if q.HasPair {
		return 2
	}
	return 1
}

// RequestError is a request Run refuses: Index is its position, so callers
// can name the row (and the call) it came from.
type RequestError struct {
	Index int
	Err   error
}

func (e *RequestError) Error() string { return fmt.Sprintf("request %d: %v", e.Index+1, e.Err) }

func (e *RequestError) Unwrap() error { return e.Err }

// Run is the one way texts become predictions and embeddings, for SQL, the
// driver and the CLI alike. Each distinct adapter name is resolved once;
// requests for the same text through the same adapter (PREDICT and
// PREDICT_PROBA of one row, repeated texts) share one sequence; the engine
// validates, sorts and cuts all of them into forward passes, where rows of
// different adapters share the base weights; each adapter's head then runs on
// its rows. Hand it every request you have at once: batching is the engine's.
func (r *Registry) Run(ctx context.Context, reqs []Request) ([]Result, error) {
	type inputKey struct {
		adapter *model.Adapter
		pool    model.Pool
		maxLen  int
		text    string
		pair    string
		hasPair bool
	}
	byName := map[string]*Loaded{}
	pools := map[string]model.Pool{}
	index := map[inputKey]int{}
	var inputs []engine.Input
	first := []int{}              // first[k]: the first request of input k
	src := make([]int, len(reqs)) // src[i]: request i's input
	loaded := make([]*Loaded, len(reqs))
	// Sequence labeling: each distinct (adapter, text) is one labeling whose
	// windows are inputs of their own, in the same passes as the rest.
	type labeling struct {
		l      *Loaded
		lab    *engine.Labeling
		inputs int // index of its first window's input
	}
	var labs []labeling
	labIndex := map[inputKey]int{}
	labOf := make([]int, len(reqs)) // labOf[i]: request i's labeling, -1 none
	for i, q := range reqs {
		labOf[i] = -1
		var in engine.Input
		if q.Adapter == "" {
			if q.HasPair {
				return nil, &RequestError{Index: i, Err: &InputsError{Want: 1, Got: 2}}
			}
			p, ok := pools[q.Pool]
			if !ok {
				var err error
				if p, err = model.ParsePool(strings.ToLower(strings.TrimSpace(q.Pool))); err != nil {
					return nil, &RequestError{Index: i, Err: err}
				}
				pools[q.Pool] = p
			}
			in = engine.Input{Text: q.Text, Pool: p}
		} else {
			l := byName[key(q.Adapter)]
			if l == nil {
				var err error
				if l, err = r.Get(ctx, q.Adapter); err != nil {
					return nil, &RequestError{Index: i, Err: err}
				}
				byName[key(q.Adapter)] = l
			}
			if want := l.Set.Inputs.Texts(); want != q.texts() {
				return nil, &RequestError{Index: i, Err: &InputsError{Adapter: q.Adapter, Want: want, Got: q.texts()}}
			}
			if q.Proba && l.Set.Task == adapter.Regression {
				return nil, &RequestError{Index: i, Err: fmt.Errorf("%w: %s", ErrNoProba, l.Record.Name)}
			}
			loaded[i] = l
			if l.Set.Task == adapter.SequenceLabeling {
				k := inputKey{adapter: l.Bound, maxLen: l.MaxLength, text: q.Text}
				j, ok := labIndex[k]
				if !ok {
					lab, err := r.eng.Label(q.Text, l.MaxLength)
					if err != nil {
						return nil, &RequestError{Index: i, Err: err}
					}
					j = len(labs)
					labIndex[k] = j
					labs = append(labs, labeling{l: l, lab: lab, inputs: len(inputs)})
					for w := range lab.Seqs {
						inputs = append(inputs, engine.Input{Seq: &lab.Seqs[w], Adapter: l.Bound, Tokens: true})
						first = append(first, i)
					}
				}
				labOf[i] = j
				continue
			}
			in = engine.Input{Text: q.Text, Pair: q.Pair, HasPair: q.HasPair, Adapter: l.Bound, Pool: l.Set.Pool, MaxLength: l.MaxLength}
		}
		k := inputKey{adapter: in.Adapter, pool: in.Pool, maxLen: in.MaxLength, text: in.Text, pair: in.Pair, hasPair: in.HasPair}
		idx, ok := index[k]
		if !ok {
			idx = len(inputs)
			index[k] = idx
			inputs = append(inputs, in)
			first = append(first, i)
		}
		src[i] = idx
	}
	feats, err := r.eng.Features(ctx, inputs)
	if err != nil {
		if ie := (*engine.InputError)(nil); errors.As(err, &ie) {
			return nil, &RequestError{Index: first[ie.Index], Err: ie.Err}
		}
		return nil, err
	}
	entities := make([][]spans.Entity, len(labs))
	for j, lb := range labs {
		entities[j] = lb.lab.Entities(lb.l.Set, feats[lb.inputs:lb.inputs+len(lb.lab.Seqs)])
	}
	preds := map[int]Prediction{}
	out := make([]Result, len(reqs))
	for i, l := range loaded {
		if labOf[i] >= 0 {
			out[i] = Result{Adapter: l, Prediction: Prediction{Entities: entities[labOf[i]]}}
			continue
		}
		f := feats[src[i]]
		if l == nil {
			out[i] = Result{Embedding: f}
			continue
		}
		p, ok := preds[src[i]]
		if !ok {
			p = l.Set.Predict(l.Set.Logits(f, 1), 1)[0]
			preds[src[i]] = p
		}
		out[i] = Result{Adapter: l, Prediction: p}
	}
	return out, nil
}

// CheckPool validates a pooling name against the model (cls needs a pooler),
// for callers that learn it before they have texts (a query being planned).
func (r *Registry) CheckPool(name string) error {
	p, err := model.ParsePool(strings.ToLower(strings.TrimSpace(name)))
	if err != nil {
		return err
	}
	_, err = r.eng.Model().Resolve(p)
	return err
}
