package sqlfuncs

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"github.com/adapterdb/adapterdb/engine/registry"
)

// fnKind is one of the inference functions.
type fnKind uint8

const (
	fnPredict fnKind = iota // PREDICT(adapter, text [, text2])
	fnProba                 // PREDICT_PROBA(adapter, text [, text2])
	fnEmbed                 // EMBED(text [, pool])
)

var fnNames = [...]string{fnPredict: "PREDICT", fnProba: "PREDICT_PROBA", fnEmbed: "EMBED"}

// resolveTimeout bounds the catalog lookup that resolves a literal adapter
// name while a query is planned (function constructors get no context).
const resolveTimeout = 30 * time.Second

// Call is a PREDICT, PREDICT_PROBA or EMBED call. Eval computes one row (a
// batch of one); the batching rule moves calls into a BatchInfer node, which
// computes a batch of rows of many calls in one forward pass.
type Call struct {
	svc  *service
	kind fnKind
	args []sql.Expression
	// adapter is resolved while the query is planned when the adapter
	// argument is a literal; nil means "per row, by name".
	adapter *registry.Loaded
	// pool is EMBED's pooling when its argument is a literal (or absent:
	// "", the model's default).
	pool    string
	poolSet bool
}

var _ sql.FunctionExpression = (*Call)(nil)

// functions returns the sql.Function values to register. FunctionN is the
// only kind whose constructor can fail, which is where arity is checked and a
// literal adapter name resolved (before any row is read).
func functions(svc *service) []sql.Function {
	mk := func(kind fnKind) sql.Function {
		return sql.FunctionN{Name: strings.ToLower(fnNames[kind]), Fn: func(args ...sql.Expression) (sql.Expression, error) {
			return newCall(svc, kind, args)
		}}
	}
	return []sql.Function{mk(fnPredict), mk(fnProba), mk(fnEmbed)}
}

func newCall(svc *service, kind fnKind, args []sql.Expression) (*Call, error) {
	name := fnNames[kind]
	switch {
	case kind == fnEmbed && (len(args) < 1 || len(args) > 2):
		return nil, errArgCount(name)
	case kind != fnEmbed && (len(args) < 2 || len(args) > 3):
		return nil, errArgCount(name)
	}
	c := &Call{svc: svc, kind: kind, args: args}
	if kind == fnEmbed {
		c.poolSet = len(args) == 1
		if len(args) == 2 {
			if lit, ok := args[1].(*expression.Literal); ok && lit.Value() != nil {
				p, err := svc.poolArg(lit.Value())
				if err != nil {
					return nil, errArguments(name, "%v", err)
				}
				c.pool, c.poolSet = p, true
			}
		}
		return c, nil
	}
	// A bind variable is not a literal yet while a statement is prepared;
	// each execution re-binds it to a literal and comes through here again.
	lit, ok := args[0].(*expression.Literal)
	if !ok || lit.Value() == nil {
		return c, nil
	}
	adapterName, err := nameArg(name, lit.Value())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	l, err := svc.resolve(ctx, adapterName)
	if err != nil {
		return nil, err
	}
	if want := l.Set.Inputs.Texts(); want != c.texts() {
		return nil, errTextCount(name, adapterName, want) // as called: 'dup@1' names the version
	}
	if kind == fnProba && l.Set.Task == registry.Regression {
		return nil, errNoProba(l.Record.Name)
	}
	c.adapter = l
	return c, nil
}

// texts is how many texts a PREDICT or PREDICT_PROBA call passes: 1, or 2
// for a text pair.
func (c *Call) texts() int { return len(c.args) - 1 }

func errNoProba(adapterName string) error {
	return errArguments("PREDICT_PROBA", "adapter %s is a regression adapter and has no probabilities (use PREDICT)", adapterName)
}

// nameArg reads an adapter name argument.
func nameArg(fn string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", errArguments(fn, "the adapter name must be a string, got %T", v)
}

// FunctionName implements sql.FunctionExpression.
func (c *Call) FunctionName() string { return strings.ToLower(fnNames[c.kind]) }

// Description implements sql.FunctionExpression.
func (c *Call) Description() string {
	switch c.kind {
	case fnPredict:
		return "predicts with an adapter: the label, the value, a JSON array of labels or of labelled spans"
	case fnProba:
		return "an adapter's class probabilities as a JSON object label → probability"
	}
	return "the base model's pooled feature of a text as a JSON array"
}

// Resolved implements sql.Expression.
func (c *Call) Resolved() bool { return expression.ExpressionsResolved(c.args...) }

// IsNullable implements sql.Expression.
func (c *Call) IsNullable() bool { return true }

// Children implements sql.Expression.
func (c *Call) Children() []sql.Expression { return c.args }

// WithChildren implements sql.Expression.
func (c *Call) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != len(c.args) {
		return nil, sql.ErrInvalidChildrenNumber.New(c, len(children), len(c.args))
	}
	n := *c
	n.args = children
	return &n, nil
}

// String implements sql.Expression.
func (c *Call) String() string {
	parts := make([]string, len(c.args))
	for i, a := range c.args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s(%s)", c.FunctionName(), strings.Join(parts, ", "))
}

// Type implements sql.Expression: PREDICT is VARCHAR (classification),
// DOUBLE (regression) or JSON (multilabel) when its adapter is known at plan
// time, else LONGTEXT; PREDICT_PROBA and EMBED are JSON.
func (c *Call) Type() sql.Type {
	if c.kind != fnPredict {
		return types.JSON
	}
	if c.adapter == nil {
		return types.LongText
	}
	switch c.adapter.Set.Task {
	case registry.Regression:
		return types.Float64
	case registry.Multilabel, registry.SequenceLabeling:
		return types.JSON
	}
	n := 1
	for _, l := range c.adapter.Set.Labels {
		n = max(n, utf8.RuneCountInString(l))
	}
	if n > 16383 {
		return types.LongText
	}
	return types.MustCreateStringWithDefaults(sqltypes.VarChar, int64(n))
}

// Eval implements sql.Expression: a batch of one row. Plans the batching rule
// and the execution-time rewrites (etl.go) leave alone (ON DUPLICATE KEY
// UPDATE, triggers, join conditions on the right input) come here per row.
func (c *Call) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		v, err := a.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	out, err := c.svc.evalCalls(ctx, []*Call{c}, [][][]any{{args}}, func(int, int) int { return 1 })
	if err != nil {
		return nil, err
	}
	return out[0][0], nil
}
