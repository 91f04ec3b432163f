package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/spans"
)

// service is what the functions, the batch node and the statements share: the
// featurizer and adapter registry, and the SQL layer's settings.
type service struct {
	reg      *registry.Registry
	log      zerolog.Logger
	batch    int    // rows a BatchInfer node pulls per forward pass
	filesDir string // "" refuses statements that name files
	exec     sql.NodeExecBuilder
	cat      *analyzer.Catalog // its mysql database checks the FILE privilege
	privs    privCache         // adapter privileges checked per statement (grants.go)
	jobs     *jobRunner        // background training (jobs.go); nil: none
}

// resolve loads an adapter by name for a query, with the MySQL error for an
// unknown name.
func (s *service) resolve(ctx context.Context, name string) (*registry.Loaded, error) {
	l, err := s.reg.Get(ctx, name)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, errUnknownAdapter(name)
		}
		return nil, toSQLError(ctx, "adapter "+name, err)
	}
	return l, nil
}

// poolArg reads EMBED's pooling argument and checks the model has it.
func (s *service) poolArg(v any) (string, error) {
	var name string
	switch x := v.(type) {
	case string:
		name = x
	case []byte:
		name = string(x)
	default:
		return "", fmt.Errorf("the pooling must be a string ('mean', 'cls', 'first' or 'last'), got %T", v)
	}
	if err := s.reg.CheckPool(name); err != nil {
		return "", err
	}
	return name, nil
}

// evalCalls computes calls over a window of rows with one registry request:
// args[k][j] are call k's argument values for row j, rowNum(k, j) is that
// row's 1-based number in its node's input (for error messages). The engine sorts
// the request's sequences and cuts them into forward passes; nothing here
// reorders or validates texts.
func (s *service) evalCalls(ctx *sql.Context, calls []*Call, args [][][]any, rowNum func(k, j int) int) ([][]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, ErrInterrupted()
	}
	type origin struct{ k, j int }
	var reqs []registry.Request
	var from []origin
	out := make([][]any, len(calls))
	for k, c := range calls {
		fn := fnNames[c.kind]
		out[k] = make([]any, len(args[k]))
		for j, a := range args[k] {
			q, null, err := s.request(ctx, c, fn, a, rowNum(k, j))
			if err != nil {
				return nil, err
			}
			if null {
				continue // out[k][j] stays NULL
			}
			reqs = append(reqs, q)
			from = append(from, origin{k, j})
		}
	}
	if err := s.checkCalls(ctx, reqs); err != nil {
		return nil, err
	}
	res, err := s.reg.Run(ctx, reqs)
	if err != nil {
		var re *registry.RequestError
		if !errors.As(err, &re) {
			return nil, toSQLError(ctx, "featurizer", err)
		}
		o := from[re.Index]
		c, q := calls[o.k], reqs[re.Index]
		fn := fnNames[c.kind]
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			return nil, errUnknownAdapter(q.Adapter)
		case errors.Is(err, registry.ErrNoProba):
			return nil, errNoProba(q.Adapter)
		case errors.Is(err, registry.ErrInputs):
			var ie *registry.InputsError
			errors.As(err, &ie)
			return nil, errTextCount(fn, ie.Adapter, ie.Want)
		case errors.Is(err, engine.ErrText):
			return nil, errText(fn, rowNum(o.k, o.j), requestText(q), re.Err)
		case q.Adapter == "":
			return nil, errArguments(fn, "row %d: %v", rowNum(o.k, o.j), re.Err)
		}
		return nil, toSQLError(ctx, "adapter "+q.Adapter, re.Err)
	}
	for i, r := range res {
		o := from[i]
		if calls[o.k].kind == fnEmbed {
			out[o.k][o.j] = embedJSON(r.Embedding)
			continue
		}
		out[o.k][o.j] = predictionValue(calls[o.k], r)
	}
	return out, nil
}

// request reads one call's arguments for one row: the adapter name (PREDICT,
// PREDICT_PROBA) or the pooling (EMBED), and the text; null for a NULL
// argument. row is the row's number, for messages.
func (s *service) request(ctx *sql.Context, c *Call, fn string, a []any, row int) (registry.Request, bool, error) {
	var q registry.Request
	textIdx := 1
	if c.kind == fnEmbed {
		textIdx = 0
		if a[0] == nil || len(a) == 2 && a[1] == nil {
			return q, true, nil
		}
		q.Pool = c.pool
		if !c.poolSet {
			p, err := s.poolArg(a[1])
			if err != nil {
				return q, false, errArguments(fn, "%v", err)
			}
			q.Pool = p
		}
	} else {
		for _, v := range a {
			if v == nil {
				return q, true, nil
			}
		}
		// The name as written, literal or not: 'name@N' pins a version.
		name, err := nameArg(fn, a[0])
		if err != nil {
			return q, false, err
		}
		q.Adapter = name
		q.Proba = c.kind == fnProba
	}
	text, err := textArg(ctx, a[textIdx])
	if err != nil {
		return q, false, errArguments(fn, "row %d: %v", row, err)
	}
	q.Text = text
	if c.kind != fnEmbed && len(a) == 3 {
		pair, err := textArg(ctx, a[2])
		if err != nil {
			return q, false, errArguments(fn, "row %d: second text: %v", row, err)
		}
		q.Pair, q.HasPair = pair, true
	}
	return q, false, nil
}

// requestText is the text of a request the featurizer refused: the second
// of a pair when that one is not valid UTF-8 (the message says which).
func requestText(q registry.Request) string {
	if q.HasPair && !utf8.ValidString(q.Pair) {
		return q.Pair
	}
	return q.Text
}

// textArg converts a text argument to a Go string (MySQL coerces numbers and
// other values to their text form).
func textArg(ctx *sql.Context, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case jsonValue:
		// A JSON result of another call (PREDICT('a', EMBED(t))): its text.
		return x.String(), nil
	}
	s, _, err := types.LongText.Convert(ctx, v)
	if err != nil {
		return "", fmt.Errorf("cannot use %T as text: %w", v, err)
	}
	str, ok := s.(string)
	if !ok {
		return "", fmt.Errorf("cannot use %T as text", v)
	}
	return str, nil
}

// embedJSON is a feature vector as a JSON array of float64, the form
// VEC_DISTANCE and the other vector functions take.
func embedJSON(f []float32) jsonValue {
	v := make([]any, len(f))
	for i, x := range f {
		v[i] = float64(x)
	}
	return newJSONValue(v)
}

// predictionValue is a call's SQL value for one prediction.
func predictionValue(c *Call, r registry.Result) any {
	task, p := r.Adapter.Set.Task, r.Prediction
	if task == registry.SequenceLabeling {
		return fitColumn(c, entitiesJSON(r.Entities, c.kind == fnProba))
	}
	if c.kind == fnProba {
		m := make(map[string]any, len(p.Proba))
		for l, v := range p.Proba {
			m[l] = v
		}
		return newJSONValue(m)
	}
	var v any
	switch task {
	case registry.Regression:
		v = p.Value
	case registry.Multilabel:
		labels := make([]any, len(p.Labels))
		for i, l := range p.Labels {
			labels[i] = l
		}
		v = newJSONValue(labels)
	default:
		v = p.Label
	}
	return fitColumn(c, v)
}

// fitColumn gives v the form of the call's column: its own when the adapter
// is known at plan time; text when it is only known per row (LONGTEXT).
func fitColumn(c *Call, v any) any {
	if c.adapter != nil || c.kind == fnProba {
		return v
	}
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case jsonValue:
		// The compact form this LONGTEXT column has always had.
		b, err := types.MarshallJsonValue(x.Val)
		if err != nil {
			return nil
		}
		return string(b)
	}
	return v
}

// entitiesJSON is a sequence labeling prediction: a JSON array of spans
// sorted by start, each {"start", "end", "label", "text", "score"} (code
// points, end exclusive); with proba, each span's label probabilities
// {"start", "end", "text", "proba": {label: p, ..., "O": p}} instead of its
// label and score.
func entitiesJSON(es []spans.Entity, proba bool) jsonValue {
	out := make([]any, len(es))
	for i, e := range es {
		m := map[string]any{"start": int64(e.Start), "end": int64(e.End), "text": e.Text}
		if proba {
			p := make(map[string]any, len(e.Proba))
			for l, v := range e.Proba {
				p[l] = v
			}
			m["proba"] = p
		} else {
			m["label"], m["score"] = e.Label, e.Score
		}
		out[i] = m
	}
	return newJSONValue(out)
}
