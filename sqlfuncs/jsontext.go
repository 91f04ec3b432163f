package sqlfuncs

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"

	"github.com/adapterdb/adapterdb/internal/sqljson"
)

// jsonValue is a JSON result of PREDICT_PROBA, EMBED and multilabel PREDICT:
// the document and its text, written by sqljson (go-mysql-server's own
// writer does not escape object keys, and labels are user data, so a label
// such as a"x would make it print invalid JSON).
type jsonValue = sqljson.Value

func newJSONValue(v any) jsonValue { return sqljson.New(v) }

// jsonText gives a JSON result to a string function as its text. Several of
// go-mysql-server's string functions (LEFT, SUBSTRING, TRIM, LPAD, ...)
// accept only Go strings and fail on a JSON value with 1105 "invalid type";
// the others print it with go-mysql-server's writer, which leaves object keys
// unescaped. MySQL gives string functions the JSON text; so does this.
type jsonText struct {
	expr sql.Expression
}

var _ sql.Expression = (*jsonText)(nil)

// Resolved implements sql.Expression.
func (j *jsonText) Resolved() bool { return j.expr.Resolved() }

// String implements sql.Expression: the wrapped expression's, so column
// names and EXPLAIN read as written.
func (j *jsonText) String() string { return j.expr.String() }

// Type implements sql.Expression.
func (j *jsonText) Type() sql.Type { return types.LongText }

// IsNullable implements sql.Expression.
func (j *jsonText) IsNullable() bool { return j.expr.IsNullable() }

// Children implements sql.Expression.
func (j *jsonText) Children() []sql.Expression { return []sql.Expression{j.expr} }

// WithChildren implements sql.Expression.
func (j *jsonText) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(j, len(children), 1)
	}
	return &jsonText{expr: children[0]}, nil
}

// Eval implements sql.Expression.
func (j *jsonText) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := j.expr.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case sql.JSONWrapper:
		return sqljson.Marshal(x)
	}
	s, _, err := types.LongText.Convert(ctx, v)
	return s, err
}

// stringFuncs are go-mysql-server's functions that read their arguments as
// strings.
var stringFuncs = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`ascii bit_length char_length character_length compress concat concat_ws crc32
		elt field find_in_set from_base64 hex insert instr lcase left length locate lower lpad ltrim md5 mid
		octet_length ord quote regexp_instr regexp_like regexp_replace regexp_substr repeat replace reverse right
		rpad rtrim sha sha1 sha2 soundex strcmp substr substring substring_index to_base64 trim ucase upper
		group_concat`) {
		stringFuncs[f] = true
	}
}

// readsText reports whether e reads its arguments as strings: a string
// function, LIKE, or a CAST / CONVERT to a string type.
func readsText(e sql.Expression) bool {
	switch x := e.(type) {
	case *expression.Like:
		return true
	case *expression.Convert:
		return types.IsText(x.Type())
	case sql.FunctionExpression:
		return stringFuncs[strings.ToLower(x.FunctionName())]
	}
	return false
}

// isJSONCall reports a call whose results are JSON values.
func isJSONCall(e sql.Expression) bool {
	c, ok := e.(*Call)
	return ok && types.IsJSON(c.Type())
}

// wrapTextArgs wraps e's JSON-valued call arguments in jsonText when e reads
// them as strings (a transform.NodeExprs callback).
func wrapTextArgs(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
	if !readsText(e) {
		return e, transform.SameTree, nil
	}
	ch := e.Children()
	var out []sql.Expression
	for i, c := range ch {
		if isJSONCall(c) {
			if out == nil {
				out = append([]sql.Expression(nil), ch...)
			}
			out[i] = &jsonText{expr: c}
		}
	}
	if out == nil {
		return e, transform.SameTree, nil
	}
	n, err := e.WithChildren(out...)
	if err != nil {
		return nil, transform.SameTree, err
	}
	return n, transform.NewTree, nil
}
