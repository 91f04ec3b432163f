package sqlfuncs

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// jsonValue is a JSON result of PREDICT_PROBA, EMBED and multilabel PREDICT:
// the document (for the JSON functions, comparisons and the vector functions,
// through the embedded JSONDocument) and its text, written here. The text
// is what the wire and the driver send (types.JSONBytes): go-mysql-server's
// own writer does not escape object keys, and labels are user data, so a
// label such as a"x would make it print invalid JSON.
type jsonValue struct {
	types.JSONDocument
	text string
}

var (
	_ sql.JSONWrapper      = jsonValue{}
	_ types.JSONBytes      = jsonValue{}
	_ types.SearchableJSON = jsonValue{}
)

func newJSONValue(v any) jsonValue {
	var b bytes.Buffer
	writeJSON(&b, v)
	return jsonValue{JSONDocument: types.JSONDocument{Val: v}, text: b.String()}
}

// GetBytes implements types.JSONBytes.
func (j jsonValue) GetBytes() ([]byte, error) { return []byte(j.text), nil }

// JSONString is the document's text.
func (j jsonValue) JSONString() (string, error) { return j.text, nil }

// String implements fmt.Stringer.
func (j jsonValue) String() string { return j.text }

// writeJSON writes v (nil, bool, float64, string, []any, map[string]any) the
// way MySQL prints a JSON value: ", " and ": " separators, object keys sorted
// by length then bytes (MySQL's normalised key order, which go-mysql-server
// applies to every JSON value too), numbers as go-mysql-server prints them,
// and every string — keys included — escaped.
func writeJSON(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		if x == float64(int64(x)) {
			b.WriteString(strconv.FormatInt(int64(x), 10))
		} else {
			b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
		}
	case string:
		writeJSONString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) < len(keys[j])
			}
			return keys[i] < keys[j]
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, k)
			b.WriteString(": ")
			writeJSON(b, x[k])
		}
		b.WriteByte('}')
	default:
		// Not built in this package; encoding/json's form is valid JSON.
		out, err := json.Marshal(x)
		if err != nil {
			out = []byte("null")
		}
		b.Write(out)
	}
}

// writeJSONString writes s as a JSON string: encoding/json's escaping
// (quotes, backslashes, every control character) without its HTML escapes.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

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
	case jsonValue:
		return x.text, nil
	case string:
		return x, nil
	case sql.JSONWrapper:
		return types.JsonToMySqlString(x)
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
