package sqlfuncs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
)

// pairRows are text pairs: "same" when the second text repeats the first's
// words, "diff" when it shares none.
var pairRows = []struct{ a, b, label string }{
	{"wonderful delightful film", "a delightful wonderful film", "same"},
	{"terrible boring awful", "boring awful and terrible", "same"},
	{"great fun cast", "the cast was great fun", "same"},
	{"dull mess of a plot", "a plot that is a dull mess", "same"},
	{"wonderful delightful film", "boring awful mess", "diff"},
	{"terrible boring awful", "great fun cast", "diff"},
	{"great fun cast", "dull plot", "diff"},
	{"dull mess of a plot", "wonderful delightful acting", "diff"},
}

// withPairs creates table pairs(id, a, b, label, score) and the text-pair
// adapters dup (classification) and dupscore (regression), beside
// withAdapters' single-text ones.
func (v *env) withPairs() {
	v.t.Helper()
	v.withAdapters()
	v.exec("CREATE TABLE pairs (id INT PRIMARY KEY, a TEXT, b TEXT, label VARCHAR(10), score DOUBLE)")
	var vals []string
	for i, p := range pairRows {
		vals = append(vals, fmt.Sprintf("(%d, '%s', '%s', '%s', %d)", i+1, p.a, p.b, p.label, i%3))
	}
	v.exec("INSERT INTO pairs VALUES " + strings.Join(vals, ", "))
	v.exec("CREATE ADAPTER dup " + quickOptions + " AS SELECT a, b, label FROM pairs")
	v.exec("CREATE ADAPTER dupscore OPTIONS (epochs = 5, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 4, task = 'regression') AS SELECT a, b, score FROM pairs")
}

// expectedPairs predicts pairs one at a time through the engine, the
// reference for SQL's batched results.
func (v *env) expectedPairs(name string, a, b []string) []adapter.Prediction {
	v.t.Helper()
	l, err := v.reg.Get(context.Background(), name)
	if err != nil {
		v.t.Fatal(err)
	}
	out := make([]adapter.Prediction, len(a))
	for i := range a {
		f, err := v.eng.Features(context.Background(), []engine.Input{{Text: a[i], Pair: b[i], HasPair: true,
			Adapter: l.Bound, Pool: l.Set.Pool, MaxLength: l.MaxLength}})
		if err != nil {
			v.t.Fatal(err)
		}
		out[i] = l.Set.Predict(l.Set.Logits(f[0], 1), 1)[0]
	}
	return out
}

// TestPairAdapter trains text-pair adapters with a three-column SELECT and
// checks PREDICT and PREDICT_PROBA with two texts against the engine, in one
// pass shared with single-text adapters' rows.
func TestPairAdapter(t *testing.T) {
	v := newEnv(t, envOpts{batch: 64})
	v.withPairs()
	for _, name := range []string{"dup", "dupscore"} {
		l, err := v.reg.Get(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if l.Set.Inputs != adapter.TextPair {
			t.Errorf("%s: inputs %q, want pair", name, l.Set.Inputs)
		}
	}
	if r := v.rows("SELECT task FROM adapterdb.adapters WHERE name = 'dupscore'"); r[0][0] != "regression" {
		t.Errorf("dupscore task: %v", r)
	}
	var a, b []string
	for _, p := range pairRows {
		a, b = append(a, p.a), append(b, p.b)
	}
	dup, score := v.expectedPairs("dup", a, b), v.expectedPairs("dupscore", a, b)
	sent, stars := v.expected("sent", a), v.expected("stars", b)
	// Pair rows of two adapters and single rows of two others: 32
	// sequences (PREDICT and PREDICT_PROBA of dup share theirs), one pass.
	rows, n := v.passes("SELECT id, PREDICT('dup', a, b), PREDICT_PROBA('dup', a, b), PREDICT('dupscore', a, b), PREDICT('sent', a), PREDICT('stars', b) FROM pairs ORDER BY id")
	if n != 1 {
		t.Errorf("mixed pair and single rows: %d passes, want 1", n)
	}
	for i, r := range rows {
		if r[1] != dup[i].Label || !near(r[3].(float64), score[i].Value) || r[4] != sent[i].Label || !near(r[5].(float64), stars[i].Value) {
			t.Errorf("row %d: %v, want %s %v %s %v", i+1, r, dup[i].Label, score[i].Value, sent[i].Label, stars[i].Value)
		}
		proba := fmt.Sprint(r[2])
		for label, p := range dup[i].Proba {
			if !strings.Contains(proba, `"`+label+`"`) || p < 0 || p > 1 {
				t.Errorf("row %d: PREDICT_PROBA %s lacks %s", i+1, proba, label)
			}
		}
	}
	// The adapter named per row (not known while planning) takes the same path.
	v.exec("CREATE TABLE names (n VARCHAR(20))")
	v.exec("INSERT INTO names VALUES ('dup')")
	if r := v.rows("SELECT PREDICT(n, 'great fun cast', 'dull plot') FROM names"); r[0][0] != dup[6].Label {
		t.Errorf("adapter named per row: %v, want %s", r, dup[6].Label)
	}
	// A NULL second text gives NULL, like a NULL first text.
	if r := v.rows("SELECT PREDICT('dup', a, NULL), PREDICT('dup', NULL, b) FROM pairs WHERE id = 1"); r[0][0] != nil || r[0][1] != nil {
		t.Errorf("NULL texts: %v", r)
	}
	// EVALUATE ADAPTER reads (text, text2, target).
	var correct int
	for i := range pairRows {
		if dup[i].Label == pairRows[i].label {
			correct++
		}
	}
	acc := math.NaN()
	for _, r := range v.rows("EVALUATE ADAPTER dup AS SELECT a, b, label FROM pairs") {
		if r[0] == "accuracy" {
			acc = r[1].(float64)
		}
	}
	if !near(acc, float64(correct)/float64(len(pairRows))) {
		t.Errorf("EVALUATE: accuracy %v, want %d/%d", acc, correct, len(pairRows))
	}
}

// TestPairErrors: a pair adapter called with one text or a single-text
// adapter with two is 1582 naming the adapter, whether the name is known
// while planning or only per row; training and evaluating SELECTs must fit.
func TestPairErrors(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withPairs()
	v.exec("CREATE TABLE names (n VARCHAR(20))")
	v.exec("INSERT INTO names VALUES ('dup'), ('sent'), ('dup@1')")
	for _, c := range []struct {
		q    string
		code int
		want string
	}{
		{"SELECT PREDICT('dup', a) FROM pairs", 1582, "adapter dup is a text-pair adapter (PREDICT('dup', text, text2))"},
		{"SELECT PREDICT_PROBA('dup', a) FROM pairs", 1582, "adapter dup is a text-pair adapter"},
		{"SELECT PREDICT('sent', a, b) FROM pairs", 1582, "adapter sent is a single-text adapter (PREDICT('sent', text))"},
		{"SELECT PREDICT(n, 'x') FROM names WHERE n = 'dup'", 1582, "adapter dup is a text-pair adapter"},
		{"SELECT PREDICT(n, 'x', 'y') FROM names WHERE n = 'sent'", 1582, "adapter sent is a single-text adapter"},
		{"SELECT PREDICT('dup@1', a) FROM pairs", 1582, "adapter dup@1 is a text-pair adapter (PREDICT('dup@1', text, text2))"},
		{"SELECT PREDICT(n, 'x') FROM names WHERE n = 'dup@1'", 1582, "adapter dup@1 is a text-pair adapter (PREDICT('dup@1', text, text2))"},
		{"SELECT PREDICT('dup', a, b, b) FROM pairs", 1582, "'PREDICT'"},
		{"SELECT EMBED(a, 'mean', b) FROM pairs", 1582, "'EMBED'"},
		{"SELECT PREDICT_PROBA('dupscore', a, b) FROM pairs", 1210, "regression"},
		{"CREATE ADAPTER x AS SELECT a, NULL, label FROM pairs", 1105, "row 1: second text is NULL"},
		{"CREATE ADAPTER x AS SELECT a, '  ', label FROM pairs", 1105, "row 1: second text is empty"},
		{"EVALUATE ADAPTER dup AS SELECT a, label FROM pairs", 1241, "(text, text2, target) for adapter dup"},
		{"EVALUATE ADAPTER sent AS SELECT a, b, label FROM pairs", 1241, "(text, target) for adapter sent"},
	} {
		v.fails(c.q, c.code, c.want)
	}
}

// TestInputsColumn: adapterdb.adapters and SHOW ADAPTERS tell text-pair
// adapters from single-text ones, so a query over every adapter can keep
// the ones PREDICT(a.name, text) fits (without the filter it is 1582).
func TestInputsColumn(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withPairs()
	got := fmt.Sprint(v.rows("SELECT name, inputs FROM adapterdb.adapters ORDER BY name"))
	if want := "[[dup pair] [dupscore pair] [sent single] [stars single] [tags single]]"; got != want {
		t.Errorf("adapterdb.adapters inputs: %s, want %s", got, want)
	}
	shown := map[string]any{}
	for _, r := range v.rows("SHOW ADAPTERS") {
		shown[r[0].(string)] = r[2]
	}
	if fmt.Sprint(shown) != "map[dup:pair dupscore:pair sent:single stars:single tags:single]" {
		t.Errorf("SHOW ADAPTERS inputs (third column): %v", shown)
	}
	const join = "SELECT a.name, COUNT(PREDICT(a.name, r.a)) FROM adapterdb.adapters a JOIN pairs r"
	got = fmt.Sprint(v.rows(join + " WHERE a.inputs = 'single' GROUP BY a.name ORDER BY a.name"))
	if want := "[[sent 8] [stars 8] [tags 8]]"; got != want {
		t.Errorf("single-text adapters over pairs.a: %s, want %s", got, want)
	}
	v.fails(join+" GROUP BY a.name", 1582, "is a text-pair adapter")
}

// TestPairTruncation: a pair longer than the adapter's max_length is cut
// longest-first (docs/sql.md): the long first text loses its end, the short
// second text stays whole, so the prediction is the cut pair's.
func TestPairTruncation(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withPairs()
	// dup was trained with max_length 16: [CLS] a [SEP] b [SEP] keeps 13
	// word pieces; b has 2, so a keeps 11 of its 30.
	words := strings.Fields(strings.Repeat("wonderful delightful film great fun cast dull mess plot boring ", 3))
	long, kept, b := strings.Join(words, " "), strings.Join(words[:11], " "), "boring plot"
	q, err := v.eng.EncodePair(long, b, 16)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := v.eng.EncodePair(kept, b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(q) != fmt.Sprint(cut) || len(q.IDs) != 16 {
		t.Fatalf("longest-first: %v, want %v", q, cut)
	}
	r := v.rows(fmt.Sprintf("SELECT PREDICT_PROBA('dup', '%s', '%s'), PREDICT_PROBA('dup', '%s', '%s'), PREDICT_PROBA('dup', '%s', '%s')", long, b, kept, b, b, long))
	p := make([]map[string]float64, 3)
	for i := range p {
		if err := json.Unmarshal([]byte(fmt.Sprint(r[0][i])), &p[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !near(p[0]["same"], p[1]["same"]) {
		t.Errorf("long pair %v, cut pair %v: want equal", r[0][0], r[0][1])
	}
	if near(p[0]["same"], p[2]["same"]) {
		t.Errorf("swapped pair predicts the same %v: the texts' order is lost", r[0][2])
	}
}
