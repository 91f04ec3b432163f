package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/registry"
)

// service is what the functions, the batch node and the statements share: the
// featurizer and adapter registry, and the SQL layer's settings.
type service struct {
	reg      *registry.Registry
	eng      *engine.Engine
	log      zerolog.Logger
	batch    int    // rows a BatchInfer node pulls per forward pass
	filesDir string // "" refuses statements that name files
	exec     sql.NodeExecBuilder
	cat      *analyzer.Catalog // its mysql database checks the FILE privilege
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

// parsePool reads EMBED's pooling argument and checks the model has it.
func (s *service) parsePool(v any) (model.Pool, error) {
	var name string
	switch x := v.(type) {
	case string:
		name = x
	case []byte:
		name = string(x)
	default:
		return 0, fmt.Errorf("the pooling must be a string ('mean', 'cls', 'first' or 'last'), got %T", v)
	}
	p, err := model.ParsePool(strings.ToLower(strings.TrimSpace(name)))
	if err != nil {
		return 0, err
	}
	if _, err := s.eng.Model().Resolve(p); err != nil {
		return 0, err
	}
	return p, nil
}

// inputKey identifies one sequence of a pass: calls and rows asking for the
// same text through the same adapter (PREDICT and PREDICT_PROBA of one
// adapter, repeated texts) share it.
type inputKey struct {
	adapter *model.Adapter
	pool    model.Pool
	maxLen  int
	text    string
}

// slot is where one call's value for one row comes from.
type slot struct {
	null  bool             // the value is NULL (a NULL argument)
	input int              // index into the pass's inputs
	l     *registry.Loaded // PREDICT, PREDICT_PROBA: the adapter
	pool  model.Pool       // EMBED: the pooling
}

// evalCalls computes calls over a batch of rows with one featurizer request:
// args[k][j] are call k's argument values for row j, rowNum(j) is row j's
// 1-based number in its node's input (for error messages). The request's
// sequences are cut into passes of up to the engine's batch size, so a batch of
// rows·calls ≤ that size is exactly one forward pass.
func (s *service) evalCalls(ctx *sql.Context, calls []*Call, args [][][]any, rowNum func(j int) int) ([][]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, ErrInterrupted()
	}
	var inputs []engine.Input
	index := map[inputKey]int{}
	byName := map[string]*registry.Loaded{}
	slots := make([][]slot, len(calls))
	for k, c := range calls {
		fn := fnNames[c.kind]
		slots[k] = make([]slot, len(args[k]))
		for j, a := range args[k] {
			sl, err := s.prepare(ctx, c, fn, a, byName)
			if err != nil {
				return nil, err
			}
			if sl.null {
				slots[k][j] = sl
				continue
			}
			textIdx := 1
			if c.kind == fnEmbed {
				textIdx = 0
			}
			text, err := textArg(ctx, a[textIdx])
			if err != nil {
				return nil, errArguments(fn, "row %d: %v", rowNum(j), err)
			}
			if err := s.eng.CheckText(text); err != nil {
				return nil, errText(fn, rowNum(j), text, err)
			}
			// The same input registry.Predict builds for an adapter.
			in := engine.Input{Text: text, Pool: sl.pool}
			if sl.l != nil {
				in = engine.Input{Text: text, Adapter: sl.l.Bound, Pool: sl.l.Set.Pool, MaxLength: sl.l.MaxLength}
			}
			key := inputKey{adapter: in.Adapter, pool: in.Pool, maxLen: in.MaxLength, text: text}
			idx, ok := index[key]
			if !ok {
				idx = len(inputs)
				index[key] = idx
				inputs = append(inputs, in)
			}
			sl.input = idx
			slots[k][j] = sl
		}
	}
	feats, err := s.eng.Features(ctx, inputs)
	if err != nil {
		return nil, toSQLError(ctx, "featurizer", err)
	}
	preds := map[int]adapter.Prediction{}
	out := make([][]any, len(calls))
	for k, c := range calls {
		out[k] = make([]any, len(slots[k]))
		for j, sl := range slots[k] {
			if sl.null {
				continue
			}
			f := feats[sl.input]
			if c.kind == fnEmbed {
				out[k][j] = embedJSON(f)
				continue
			}
			p, ok := preds[sl.input]
			if !ok {
				p = sl.l.Set.Predict(sl.l.Set.Logits(f, 1), 1)[0]
				preds[sl.input] = p
			}
			out[k][j] = predictionValue(c, sl.l.Set.Task, p)
		}
	}
	return out, nil
}

// prepare resolves one call's arguments for one row: the adapter (PREDICT,
// PREDICT_PROBA) or the pooling (EMBED), or NULL for a NULL argument.
func (s *service) prepare(ctx *sql.Context, c *Call, fn string, a []any, byName map[string]*registry.Loaded) (slot, error) {
	if c.kind == fnEmbed {
		if a[0] == nil || len(a) == 2 && a[1] == nil {
			return slot{null: true}, nil
		}
		if c.poolSet {
			return slot{pool: c.pool}, nil
		}
		p, err := s.parsePool(a[1])
		if err != nil {
			return slot{}, errArguments(fn, "%v", err)
		}
		return slot{pool: p}, nil
	}
	if a[0] == nil || a[1] == nil {
		return slot{null: true}, nil
	}
	if c.adapter != nil {
		return slot{l: c.adapter}, nil
	}
	name, err := nameArg(fn, a[0])
	if err != nil {
		return slot{}, err
	}
	key := strings.ToLower(name)
	l := byName[key]
	if l == nil {
		if l, err = s.resolve(ctx, name); err != nil {
			return slot{}, err
		}
		byName[key] = l
	}
	if c.kind == fnProba && l.Set.Task == adapter.Regression {
		return slot{}, errNoProba(l.Record.Name)
	}
	return slot{l: l}, nil
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
		return x.text, nil
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
func predictionValue(c *Call, task adapter.Task, p adapter.Prediction) any {
	if c.kind == fnProba {
		m := make(map[string]any, len(p.Proba))
		for l, v := range p.Proba {
			m[l] = v
		}
		return newJSONValue(m)
	}
	var v any
	switch task {
	case adapter.Regression:
		v = p.Value
	case adapter.Multilabel:
		labels := make([]any, len(p.Labels))
		for i, l := range p.Labels {
			labels[i] = l
		}
		v = newJSONValue(labels)
	default:
		v = p.Label
	}
	if c.adapter != nil {
		return v
	}
	// The adapter is only known per row: the column is LONGTEXT.
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
