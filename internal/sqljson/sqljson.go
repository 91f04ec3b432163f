// Package sqljson writes JSON values the way MySQL prints them, and carries
// that text with the value to the wire. go-mysql-server's own writer
// (types.JsonToMySqlString) does not escape object keys, nor control
// characters other than \b \f \n \r \t, so a key such as a"x — labels are
// user data and become keys in PREDICT_PROBA's results — comes out as
// invalid JSON. The SQL functions build their JSON results here and the
// storage engine writes and reads JSON columns here: one writer.
package sqljson

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

// Value is a JSON document built in Go (a function's result) with its text.
// The document serves the JSON functions, comparisons and the vector
// functions (through the embedded JSONDocument); the text is what the wire
// and the driver send (types.JSONBytes).
type Value struct {
	types.JSONDocument
	text string
}

var (
	_ sql.JSONWrapper      = Value{}
	_ types.JSONBytes      = Value{}
	_ types.SearchableJSON = Value{}
)

// New is v (nil, bool, numbers, string, []any, map[string]any) as a value
// whose text is written by Write.
func New(v any) Value {
	var b bytes.Buffer
	Write(&b, v)
	return Value{JSONDocument: types.JSONDocument{Val: v}, text: b.String()}
}

// GetBytes implements types.JSONBytes.
func (j Value) GetBytes() ([]byte, error) { return []byte(j.text), nil }

// JSONString is the document's text.
func (j Value) JSONString() (string, error) { return j.text, nil }

// String implements fmt.Stringer.
func (j Value) String() string { return j.text }

// Text is JSON text read back from storage, already in MySQL's form (Write
// wrote it), parsed only when a function needs the document: a scan that
// only sends the column never parses it.
type Text struct {
	*types.LazyJSONDocument
}

var (
	_ sql.JSONWrapper = Text{}
	_ types.JSONBytes = Text{}
	_ driver.Valuer   = Text{}
)

// FromText is stored JSON text as a value.
func FromText(s string) Text {
	return Text{types.NewLazyJSONDocument([]byte(s)).(*types.LazyJSONDocument)}
}

// JSONString is the stored text.
func (j Text) JSONString() (string, error) { return string(j.Bytes), nil }

// String implements fmt.Stringer: the stored text (LazyJSONDocument's would
// rewrite it with go-mysql-server's writer).
func (j Text) String() string { return string(j.Bytes) }

// Value implements driver.Valuer: the stored text.
func (j Text) Value() (driver.Value, error) { return string(j.Bytes), nil }

// Marshal is w's text in MySQL's form: the text it carries (a Value, a
// Text, any types.JSONBytes), else its document written by Write.
func Marshal(w sql.JSONWrapper) (string, error) {
	if jb, ok := w.(types.JSONBytes); ok {
		b, err := jb.GetBytes()
		return string(b), err
	}
	v, err := w.ToInterface()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	Write(&b, v)
	return b.String(), nil
}

// Write writes v the way MySQL prints a JSON value: ", " and ": "
// separators, object keys sorted by length then bytes (MySQL's normalised key
// order, which go-mysql-server applies to every JSON value too), numbers as
// go-mysql-server prints them, and every string — keys included — escaped.
func Write(b *bytes.Buffer, v any) {
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
	case float32:
		if x == float32(int32(x)) {
			b.WriteString(strconv.FormatInt(int64(x), 10))
		} else {
			b.WriteString(strconv.FormatFloat(float64(x), 'f', -1, 32))
		}
	case int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int8:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int16:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint8:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint16:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint32:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case decimal.Decimal:
		// A number, unquoted (decimal's MarshalJSON quotes it).
		b.WriteString(x.String())
	case time.Time:
		WriteString(b, x.Format(time.RFC3339))
	case string:
		WriteString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			Write(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		writeObject(b, len(x), func(yield func(string, any)) {
			for k, e := range x {
				yield(k, e)
			}
		})
	case map[string]string:
		writeObject(b, len(x), func(yield func(string, any)) {
			for k, e := range x {
				yield(k, e)
			}
		})
	case sql.JSONWrapper:
		// A document nested in another (JSON_ARRAY of a JSON column).
		d, err := x.ToInterface()
		if err != nil {
			d = nil
		}
		Write(b, d)
	case json.Marshaler:
		out, err := x.MarshalJSON()
		if err != nil {
			out = []byte("null")
		}
		b.Write(out)
	default:
		r := reflect.ValueOf(x)
		switch r.Kind() {
		case reflect.Slice, reflect.Array:
			b.WriteByte('[')
			for i := 0; i < r.Len(); i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				Write(b, r.Index(i).Interface())
			}
			b.WriteByte(']')
		case reflect.Map:
			writeObject(b, r.Len(), func(yield func(string, any)) {
				for it := r.MapRange(); it.Next(); {
					yield(it.Key().String(), it.Value().Interface())
				}
			})
		default:
			// Anything else: encoding/json's form is valid JSON.
			out, err := json.Marshal(x)
			if err != nil {
				out = []byte("null")
			}
			b.Write(out)
		}
	}
}

// writeObject writes the n members each gives, in MySQL's key order.
func writeObject(b *bytes.Buffer, n int, each func(yield func(string, any))) {
	type member struct {
		k string
		v any
	}
	ms := make([]member, 0, n)
	each(func(k string, v any) { ms = append(ms, member{k, v}) })
	sort.Slice(ms, func(i, j int) bool {
		if len(ms[i].k) != len(ms[j].k) {
			return len(ms[i].k) < len(ms[j].k)
		}
		return ms[i].k < ms[j].k
	})
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		WriteString(b, m.k)
		b.WriteString(": ")
		Write(b, m.v)
	}
	b.WriteByte('}')
}

// WriteString writes s as a JSON string: encoding/json's escaping (quotes,
// backslashes, every control character) without its HTML escapes.
func WriteString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}
