package sqlfuncs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
)

// wireRows runs q and returns its values in the form the server and the
// driver send them (each column type's SQL form), NULL as nil.
func (v *env) wireRows(q string) [][]any {
	v.t.Helper()
	rows, err := v.c.Query(context.Background(), q, nil)
	if err != nil {
		v.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]any
	for {
		r, err := rows.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			v.t.Fatalf("%s: %v", q, err)
		}
		row := make([]any, len(r))
		for i, x := range r {
			if x == nil {
				continue
			}
			sv, err := rows.Schema[i].Type.SQL(sql.NewEmptyContext(), nil, x)
			if err != nil {
				v.t.Fatalf("%s: column %d: %v", q, i, err)
			}
			row[i] = sv.ToString()
		}
		out = append(out, row)
	}
}

// TestJSONLabelsEscaped: labels are user data; PREDICT_PROBA's keys and
// multilabel PREDICT's elements must be escaped in every form of the result
// (go-mysql-server's JSON writer leaves object keys as they are, so a label
// a"x gave {"a"x": 0.4} while JSON_VALID said 1).
func TestJSONLabelsEscaped(t *testing.T) {
	v := newEnv(t, envOpts{})
	labels := []string{`a"x`, `b\y`, "t\tn\nl", "é☃ \u0001"}
	v.exec("CREATE TABLE lab (id INT PRIMARY KEY, txt TEXT, label VARCHAR(20))")
	id := 0
	for i, l := range labels {
		for _, w := range []string{"wonderful", "awful", "boring", "great"}[i:][:1] {
			for k := 0; k < 3; k++ {
				id++
				v.exec(fmt.Sprintf("INSERT INTO lab VALUES (%d, '%s %d', CONCAT(%s))", id, w, k, sqlString(l)))
			}
		}
	}
	if got := v.rows("SELECT COUNT(DISTINCT label) FROM lab"); fmt.Sprint(got) != "[[4]]" {
		t.Fatalf("labels stored: %v", got)
	}
	v.exec("CREATE ADAPTER odd " + quickOptions + " AS SELECT txt, label FROM lab")
	v.exec("CREATE ADAPTER oddml " + quickOptions + " AS SELECT txt, JSON_ARRAY(label, 'z') FROM lab")
	want := append([]string(nil), labels...)
	sort.Strings(want)
	q := "SELECT PREDICT_PROBA('odd', txt), CAST(PREDICT_PROBA('odd', txt) AS CHAR), LEFT(PREDICT_PROBA('odd', txt), 100000), " +
		"CONCAT(PREDICT_PROBA('odd', txt), ''), JSON_VALID(PREDICT_PROBA('odd', txt)), PREDICT('oddml', txt), PREDICT_PROBA('oddml', txt) FROM lab"
	for _, form := range []string{"per row", "batched"} {
		query := q
		if form == "per row" {
			query = strings.Replace(q, "txt", "'wonderful 1'", -1)
			query = strings.TrimSuffix(query, " FROM lab")
		}
		for _, r := range v.wireRows(query) {
			text := r[0].(string)
			var proba map[string]float64
			if err := json.Unmarshal([]byte(text), &proba); err != nil {
				t.Fatalf("%s: PREDICT_PROBA %q is not JSON: %v", form, text, err)
			}
			var keys []string
			for k := range proba {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if fmt.Sprintf("%q", keys) != fmt.Sprintf("%q", want) {
				t.Errorf("%s: PREDICT_PROBA keys %q, want %q", form, keys, want)
			}
			for i, name := range []string{"CAST AS CHAR", "LEFT", "CONCAT"} {
				if r[1+i] != text {
					t.Errorf("%s: %s: %q, want %q", form, name, r[1+i], text)
				}
			}
			if r[4] != "1" {
				t.Errorf("%s: JSON_VALID %v", form, r[4])
			}
			var tags []string
			if err := json.Unmarshal([]byte(r[5].(string)), &tags); err != nil {
				t.Errorf("%s: multilabel PREDICT %q is not JSON: %v", form, r[5], err)
			}
			if err := json.Unmarshal([]byte(r[6].(string)), &proba); err != nil || len(proba) != 5 {
				t.Errorf("%s: multilabel PREDICT_PROBA %q: %v", form, r[6], err)
			}
		}
	}
	// The catalog's JSON columns hold the labels too.
	for _, q := range []string{"SHOW ADAPTERS", "SELECT labels, options, metrics FROM adapterdb.adapters"} {
		rows, err := v.c.Query(context.Background(), q, nil)
		if err != nil {
			t.Fatal(err)
		}
		var jsonCols []int
		for i, c := range rows.Schema {
			if c.Type.String() == "json" {
				jsonCols = append(jsonCols, i)
			}
		}
		rows.Close()
		if len(jsonCols) == 0 {
			t.Fatalf("%s: no JSON column", q)
		}
		for _, r := range v.wireRows(q) {
			for _, i := range jsonCols {
				if s, _ := r[i].(string); r[i] != nil && !json.Valid([]byte(s)) {
					t.Errorf("%s: column %d is not JSON: %q", q, i, s)
				}
			}
		}
	}
	// The JSON functions see the labels as they are.
	var keys []string
	r := v.rows("SELECT JSON_KEYS(PREDICT_PROBA('odd', 'great 1'))")
	if err := json.Unmarshal([]byte(r[0][0].(string)), &keys); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if fmt.Sprintf("%q", keys) != fmt.Sprintf("%q", want) {
		t.Errorf("JSON_KEYS: %q, want %q", keys, want)
	}
}

// sqlString is s as a SQL expression (control characters through CHAR()).
func sqlString(s string) string {
	var parts []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			parts = append(parts, "'"+strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(b.String())+"'")
			b.Reset()
		}
	}
	for _, r := range s {
		if r < 0x20 {
			flush()
			parts = append(parts, fmt.Sprintf("CHAR(%d)", r))
			continue
		}
		b.WriteRune(r)
	}
	flush()
	return strings.Join(parts, ", ")
}

// TestStringFunctionsOnJSON: string functions read a JSON result as its
// text, as MySQL's do; several of go-mysql-server's (LEFT, SUBSTRING, TRIM,
// LPAD, ...) failed with 1105 "invalid type: types.JSONDocument".
func TestStringFunctionsOnJSON(t *testing.T) {
	v := newEnv(t, envOpts{batch: 4})
	v.withAdapters()
	for _, form := range []struct{ name, from, arg string }{
		{"per row", "", "'wonderful cast'"},
		{"batched", " FROM labelled WHERE id <= 6", "txt"},
	} {
		for _, call := range []string{"PREDICT_PROBA('sent', %s)", "EMBED(%s)", "PREDICT('tags', %s)"} {
			x := fmt.Sprintf(call, form.arg)
			exprs := []string{x, "LEFT(%s, 10)", "SUBSTRING(%s, 3, 7)", "CONCAT(%s, '!')", "LENGTH(%s)",
				"%s LIKE '%%, %%'", "CAST(%s AS CHAR)", "UPPER(%s)", "TRIM(%s)", "RIGHT(%s, 4)", "LPAD(%s, 3, '-')",
				"REPLACE(%s, ', ', ',')", "JSON_LENGTH(%s)", "JSON_TYPE(%s)"}
			cols := make([]string, len(exprs))
			for i, e := range exprs {
				cols[i] = strings.ReplaceAll(e, "%s", x)
				if i > 0 {
					cols[i] = fmt.Sprintf(e, x)
				}
			}
			q := "SELECT " + strings.Join(cols, ", ") + form.from
			rows, err := v.tryRows(q)
			if err != nil {
				t.Errorf("%s: %s: %v", form.name, q, err)
				continue
			}
			for _, r := range rows {
				text := r[0].(string)
				runes := []rune(text)
				var doc any
				if err := json.Unmarshal([]byte(text), &doc); err != nil {
					t.Fatalf("%s: %q: %v", x, text, err)
				}
				n := 1
				kind := "ARRAY"
				switch d := doc.(type) {
				case []any:
					n = len(d)
				case map[string]any:
					n, kind = len(d), "OBJECT"
				}
				like := int8(0)
				if strings.Contains(text, ", ") {
					like = 1
				}
				want := []any{text, string(runes[:min(10, len(runes))]), string(runes[2:min(9, len(runes))]), text + "!",
					int64(len(text)), like, text, strings.ToUpper(text), text, string(runes[max(0, len(runes)-4):]),
					strings.Repeat("-", max(0, 3-len(runes))) + string(runes[:min(3, len(runes))]), strings.ReplaceAll(text, ", ", ","), int64(n), kind}
				if n == 0 {
					// go-mysql-server's JSON_LENGTH of [] is NULL (MySQL: 0).
					want[12] = nil
				}
				for i := range want {
					if fmt.Sprint(r[i]) != fmt.Sprint(want[i]) && !(fmt.Sprint(want[i]) == fmt.Sprint(like) && fmt.Sprint(r[i]) == fmt.Sprint(like == 1)) {
						t.Errorf("%s: %s = %v (%T), want %v", form.name, cols[i], r[i], r[i], want[i])
					}
				}
				if !utf8.ValidString(text) {
					t.Errorf("%s: invalid UTF-8", x)
				}
			}
		}
	}
}

// TestStringFunctionsOnJSONPerRow: statements planned without the batching
// rule (simple UPDATE ... SET, INSERT ... VALUES, triggers) evaluate calls
// row by row; their string functions read JSON results as text too.
func TestStringFunctionsOnJSONPerRow(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	text := v.rows("SELECT PREDICT_PROBA('sent', 'wonderful')")[0][0].(string)
	v.exec("CREATE TABLE t2 (id INT PRIMARY KEY, s TEXT, e TEXT)")
	v.exec("CREATE TABLE log (id INT, s TEXT)")
	v.exec("CREATE TRIGGER t2_ins AFTER INSERT ON t2 FOR EACH ROW INSERT INTO log VALUES (NEW.id, SUBSTRING(PREDICT_PROBA('sent', 'wonderful'), 2, 5))")
	v.exec("INSERT INTO t2 VALUES (1, LEFT(PREDICT_PROBA('sent', 'wonderful'), 8), RIGHT(EMBED('wonderful'), 3))")
	v.exec("INSERT INTO t2 VALUES (2, NULL, NULL) ON DUPLICATE KEY UPDATE s = LEFT(PREDICT_PROBA('sent', 'wonderful'), 2)")
	v.exec("INSERT INTO t2 VALUES (2, NULL, NULL) ON DUPLICATE KEY UPDATE s = LEFT(PREDICT_PROBA('sent', 'wonderful'), 3)")
	v.exec("UPDATE t2 SET e = TRIM(LEFT(PREDICT_PROBA('sent', 'wonderful'), 100000)) WHERE id = 2")
	got := v.rows("SELECT id, s, e FROM t2 ORDER BY id")
	want := [][]any{{int32(1), text[:8], "]"}, {int32(2), text[:3], text}}
	if fmt.Sprint(got[0][:2]) != fmt.Sprint(want[0][:2]) || !strings.HasSuffix(got[0][2].(string), "]") || fmt.Sprint(got[1]) != fmt.Sprint(want[1]) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := v.rows("SELECT s FROM log ORDER BY id"); len(got) < 2 || got[0][0] != text[1:6] {
		t.Errorf("trigger: %q, want %q", got, text[1:6])
	}
}
