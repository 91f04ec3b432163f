package sqlfuncs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
)

// expected computes predictions one text at a time with the engine and the
// adapter's head directly, the reference the SQL results (batched through
// registry.Run) must equal.
func (v *env) expected(name string, texts []string) []adapter.Prediction {
	v.t.Helper()
	l, err := v.reg.Get(context.Background(), name)
	if err != nil {
		v.t.Fatal(err)
	}
	out := make([]adapter.Prediction, len(texts))
	for i, t := range texts {
		f, err := v.eng.Features(context.Background(), []engine.Input{{Text: t, Adapter: l.Bound, Pool: l.Set.Pool, MaxLength: l.MaxLength}})
		if err != nil {
			v.t.Fatal(err)
		}
		out[i] = l.Set.Predict(l.Set.Logits(f[0], 1), 1)[0]
	}
	return out
}

func TestPredictValues(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	var texts []string
	for _, s := range sentiment {
		texts = append(texts, s.text)
	}
	sent, stars, tags := v.expected("sent", texts), v.expected("stars", texts), v.expected("tags", texts)
	rows := v.rows("SELECT id, PREDICT('sent', txt), PREDICT('stars', txt), PREDICT('tags', txt), PREDICT_PROBA('sent', txt) FROM labelled ORDER BY id")
	if len(rows) != len(texts) {
		t.Fatalf("%d rows", len(rows))
	}
	correct := 0
	for i, r := range rows {
		if r[1] != sent[i].Label {
			t.Errorf("row %d: PREDICT sent = %v, Go API %q", i+1, r[1], sent[i].Label)
		}
		if r[1] == sentiment[i].label {
			correct++
		}
		if f, ok := r[2].(float64); !ok || !near(f, stars[i].Value) {
			t.Errorf("row %d: PREDICT stars = %v (%T), Go API %v", i+1, r[2], r[2], stars[i].Value)
		}
		want, _ := json.Marshal(tags[i].Labels)
		if tags[i].Labels == nil {
			want = []byte("[]")
		}
		if r[3] != string(want) {
			t.Errorf("row %d: PREDICT tags = %v, Go API %s", i+1, r[3], want)
		}
		var proba map[string]float64
		if err := json.Unmarshal([]byte(r[4].(string)), &proba); err != nil {
			t.Fatalf("row %d: PREDICT_PROBA %v: %v", i+1, r[4], err)
		}
		for l, p := range sent[i].Proba {
			if !near(proba[l], p) {
				t.Errorf("row %d: proba[%s] = %v, Go API %v", i+1, l, proba[l], p)
			}
		}
	}
	if correct < 6 {
		t.Errorf("the trained adapter gets %d/8 of its training rows right", correct)
	}
}

func TestNullsAndUnicode(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	v.exec("CREATE TABLE u (id INT PRIMARY KEY, a VARCHAR(20), txt TEXT)")
	v.exec("INSERT INTO u VALUES (1, 'sent', NULL), (2, NULL, 'wonderful'), (3, 'sent', 'très bien 👍 素晴らしい'), (4, 'sent', '')")
	rows := v.rows("SELECT id, PREDICT(a, txt), PREDICT('sent', txt), PREDICT_PROBA(a, txt), EMBED(txt) FROM u ORDER BY id")
	if rows[0][1] != nil || rows[0][2] != nil || rows[0][3] != nil || rows[0][4] != nil {
		t.Errorf("NULL text: %v, want NULLs", rows[0])
	}
	if rows[1][1] != nil || rows[1][3] != nil || rows[1][2] == nil {
		t.Errorf("NULL adapter: %v, want NULL for the column adapter only", rows[1])
	}
	want := v.expected("sent", []string{"très bien 👍 素晴らしい", ""})
	if rows[2][1] != want[0].Label || rows[2][2] != want[0].Label || rows[3][2] != want[1].Label {
		t.Errorf("unicode/empty text: %v %v, want %q %q", rows[2], rows[3], want[0].Label, want[1].Label)
	}
	if rows := v.rows("SELECT PREDICT('sent', NULL), EMBED(NULL), EMBED('x', NULL), PREDICT(NULL, 'x')"); rows[0][0] != nil ||
		rows[0][1] != nil || rows[0][2] != nil || rows[0][3] != nil {
		t.Errorf("NULL literals: %v", rows[0])
	}
}

func TestEmbed(t *testing.T) {
	v := newEnv(t, envOpts{})
	texts := []string{"hello world", "a second text"}
	for _, pool := range []string{"", "mean", "cls", "first", "last"} {
		q := "SELECT EMBED('hello world'), EMBED('a second text')"
		p := model.PoolDefault
		if pool != "" {
			q = fmt.Sprintf("SELECT EMBED('hello world', '%s'), EMBED('a second text', '%s')", pool, pool)
			var err error
			if p, err = model.ParsePool(pool); err != nil {
				t.Fatal(err)
			}
		}
		want, err := v.eng.Embed(context.Background(), texts, p)
		if err != nil {
			t.Fatal(err)
		}
		row := v.rows(q)[0]
		for i := range texts {
			var got []float64
			if err := json.Unmarshal([]byte(row[i].(string)), &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want[i]) {
				t.Fatalf("pool %q: %d values, want %d", pool, len(got), len(want[i]))
			}
			for k := range got {
				if got[k] != float64(want[i][k]) {
					t.Fatalf("pool %q text %d [%d]: %v, want %v", pool, i, k, got[k], want[i][k])
				}
			}
		}
	}
	// The vector functions take EMBED's JSON arrays.
	d := v.rows("SELECT VEC_DISTANCE(EMBED('hello world'), EMBED('hello world')), VEC_DISTANCE(EMBED('hello world'), EMBED('a second text'))")[0]
	if d[0].(float64) != 0 || d[1].(float64) <= 0 {
		t.Errorf("VEC_DISTANCE: %v", d)
	}
}

func TestColumnAdapters(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	rows := v.rows("SELECT a.name, l.id, PREDICT(a.name, l.txt) FROM adapterdb.adapters a JOIN labelled l WHERE a.name IN ('sent', 'stars') ORDER BY a.name, l.id")
	if len(rows) != 16 {
		t.Fatalf("%d rows", len(rows))
	}
	var texts []string
	for _, s := range sentiment {
		texts = append(texts, s.text)
	}
	sent, stars := v.expected("sent", texts), v.expected("stars", texts)
	for i, r := range rows[:8] {
		if r[0] != "sent" || r[2] != sent[i].Label {
			t.Errorf("%v: want %s", r, sent[i].Label)
		}
	}
	for i, r := range rows[8:] {
		// A per-row adapter's PREDICT is LONGTEXT: regression values as text.
		f, err := strconv.ParseFloat(fmt.Sprint(r[2]), 64)
		if r[0] != "stars" || err != nil || !near(f, stars[i].Value) {
			t.Errorf("%v: want %v", r, stars[i].Value)
		}
	}
	v.fails("SELECT PREDICT(CONCAT('no', 'pe'), txt) FROM labelled", 1305, "ADAPTER nope does not exist")
	v.fails("SELECT PREDICT_PROBA(CONCAT('st', 'ars'), txt) FROM labelled", 1210, "regression")
}

func TestPlanTimeErrors(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	// Unknown adapters, wrong arguments and arity fail while the query is
	// planned: AnalyzeQuery plans without running anything.
	ctx := sql.NewContext(context.Background(), sql.WithSession(v.c.Session()))
	for _, c := range []struct {
		q    string
		code int
		want string
	}{
		{"SELECT PREDICT('nope', txt) FROM labelled", 1305, "ADAPTER nope does not exist"},
		{"SELECT PREDICT_PROBA('nope', txt) FROM labelled", 1305, "nope"},
		{"SELECT PREDICT('sent') FROM labelled", 1582, "PREDICT"},
		{"SELECT PREDICT('sent', txt, txt) FROM labelled", 1582, "PREDICT"},
		{"SELECT EMBED() FROM labelled", 1582, "EMBED"},
		{"SELECT EMBED(txt, 'mean', 1) FROM labelled", 1582, "EMBED"},
		{"SELECT EMBED(txt, 'median') FROM labelled", 1210, "unknown pooling"},
		{"SELECT PREDICT(42, txt) FROM labelled", 1210, "must be a string"},
		{"SELECT PREDICT_PROBA('stars', txt) FROM labelled", 1210, "stars is a regression adapter"},
	} {
		_, err := v.e.SQL.AnalyzeQuery(ctx, c.q)
		var se *mysql.SQLError
		if !errors.As(err, &se) || se.Num != c.code || !strings.Contains(se.Message, c.want) {
			t.Errorf("planning %s: %v, want %d %q", c.q, err, c.code, c.want)
		}
		v.fails(c.q, c.code, c.want)
	}
}

func TestOversizedText(t *testing.T) {
	v := newEnv(t, envOpts{maxText: 100})
	v.withAdapters()
	v.exec(fmt.Sprintf("INSERT INTO labelled VALUES (100, '%s', 'pos', 1, '[]')", strings.Repeat("long ", 30)))
	v.fails("SELECT id, PREDICT('sent', txt) FROM labelled ORDER BY id", 1406, "Data too long for PREDICT text at row 9", "150 bytes exceeds the limit of 100")
	v.fails("SELECT EMBED(txt) FROM labelled WHERE id = 100", 1406, "EMBED")
	v.fails("SELECT PREDICT('sent', UNHEX('C328'))", 1366, "not valid UTF-8")
	// The engine keeps serving.
	if n := len(v.rows("SELECT PREDICT('sent', txt) FROM labelled WHERE id < 100")); n != 8 {
		t.Fatalf("%d rows", n)
	}
}
