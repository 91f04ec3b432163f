package sqlfuncs_test

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

// metrics runs an EVALUATE and returns its rows in order, and by name.
func (v *env) metrics(q string) ([]string, map[string]any) {
	v.t.Helper()
	rows := v.rows(q)
	var names []string
	byName := map[string]any{}
	for _, r := range rows {
		name := r[0].(string)
		if _, dup := byName[name]; dup {
			v.t.Fatalf("%s: metric %s twice", q, name)
		}
		names = append(names, name)
		byName[name] = r[1]
	}
	return names, byName
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v (%T) is not a DOUBLE", v, v)
	}
	return f
}

func TestEvaluateClassification(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	src := "SELECT txt, label FROM labelled UNION ALL SELECT 'so so', 'meh' UNION ALL SELECT NULL, 'pos' UNION ALL SELECT 'x', NULL"
	names, m := v.metrics("EVALUATE ADAPTER sent AS " + src)
	want := []string{"rows", "skipped", "accuracy", "macro_f1", "weighted_f1", "log_loss", "unseen_labels",
		"precision:neg", "recall:neg", "f1:neg", "support:neg", "precision:pos", "recall:pos", "f1:pos", "support:pos",
		"precision:meh", "recall:meh", "f1:meh", "support:meh"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("metrics\n got %v\nwant %v", names, want)
	}
	if num(t, m["rows"]) != 9 || num(t, m["skipped"]) != 2 || num(t, m["unseen_labels"]) != 1 || num(t, m["support:meh"]) != 1 ||
		num(t, m["support:pos"]) != 4 || num(t, m["recall:meh"]) != 0 {
		t.Errorf("counts: %v", m)
	}
	// Accuracy is PREDICT's, computed in SQL (the unseen label is wrong);
	// log loss is the mean -ln p(label) over rows with a known label.
	acc := v.rows("SELECT AVG(PREDICT('sent', txt) = label) FROM (" + src + ") s WHERE txt IS NOT NULL AND label IS NOT NULL")
	if got, want := num(t, m["accuracy"]), toFloat(t, acc[0][0]); math.Abs(got-want) > 1e-9 {
		t.Errorf("accuracy %g, SQL says %g", got, want)
	}
	ll := v.rows("SELECT AVG(-LN(JSON_EXTRACT(PREDICT_PROBA('sent', txt), CONCAT('$.', label)))) FROM labelled")
	if got, want := num(t, m["log_loss"]), toFloat(t, ll[0][0]); !near(got, want) {
		t.Errorf("log_loss %g, SQL says %g", got, want)
	}
	// Per-class figures from PREDICT's counts.
	c := v.rows("SELECT SUM(p = 'pos' AND label = 'pos'), SUM(p = 'pos'), SUM(label = 'pos') FROM (SELECT PREDICT('sent', txt) p, label FROM (" + src + ") u WHERE txt IS NOT NULL AND label IS NOT NULL) s")
	tp, pp, sup := toFloat(t, c[0][0]), toFloat(t, c[0][1]), toFloat(t, c[0][2])
	if pp > 0 && math.Abs(num(t, m["precision:pos"])-tp/pp) > 1e-9 || math.Abs(num(t, m["recall:pos"])-tp/sup) > 1e-9 {
		t.Errorf("pos: precision %v recall %v; SQL tp %g predicted %g support %g", m["precision:pos"], m["recall:pos"], tp, pp, sup)
	}

	// The confusion matrix: PREDICT's GROUP BY, cell for cell.
	cm := v.rows("EVALUATE ADAPTER sent CONFUSION MATRIX AS " + src)
	grouped := v.rows("SELECT label, PREDICT('sent', txt) p, COUNT(*) FROM (" + src + ") s WHERE txt IS NOT NULL AND label IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2")
	if fmt.Sprint(cm) != fmt.Sprint(grouped) {
		t.Errorf("confusion matrix %v, GROUP BY %v", cm, grouped)
	}
	var total int64
	for _, r := range cm {
		total += r[2].(int64)
	}
	if total != 9 {
		t.Errorf("cells sum to %d, want 9", total)
	}

	// name@N: the active version (1) and the quoted form work; others are
	// refused while the catalog keeps only the active version.
	if _, m1 := v.metrics("EVALUATE ADAPTER sent@1 AS " + src); fmt.Sprint(m1) != fmt.Sprint(m) {
		t.Errorf("sent@1: %v, sent: %v", m1, m)
	}
	v.rows("EVALUATE ADAPTER `sent@1` CONFUSION MATRIX AS SELECT txt, label FROM labelled")
	v.fails("EVALUATE ADAPTER sent@2 AS "+src, 1305, "ADAPTER sent has no version 2 (its active version is 1)")
	v.fails("EVALUATE ADAPTER `sent@x` AS "+src, 1103, "sent@x")
	v.fails("EVALUATE ADAPTER sent@0 AS "+src, 1064, "expected a version number")
	v.fails("EVALUATE ADAPTER nope AS "+src, 1305, "ADAPTER nope does not exist")
	// A retrain keeps version 1: sent@1 scores it, sent the new one.
	v.exec("CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 1, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 4, seed = 3) AS SELECT txt, label FROM labelled")
	if _, m1 := v.metrics("EVALUATE ADAPTER sent@1 AS " + src); fmt.Sprint(m1) != fmt.Sprint(m) {
		t.Errorf("sent@1 after a retrain: %v, before: %v", m1, m)
	}
	_, m2 := v.metrics("EVALUATE ADAPTER sent@2 AS " + src)
	if _, ma := v.metrics("EVALUATE ADAPTER sent AS " + src); fmt.Sprint(m2) != fmt.Sprint(ma) {
		t.Errorf("sent@2 %v, sent %v", m2, ma)
	}
	v.fails("EVALUATE ADAPTER sent@3 AS "+src, 1305, "ADAPTER sent has no version 3 (its active version is 2)")

	// Wrong shapes and kinds of target.
	v.fails("EVALUATE ADAPTER sent AS SELECT txt FROM labelled", 1241)
	v.fails("EVALUATE ADAPTER sent AS SELECT txt, tags FROM labelled", 1210, "row 1", "classification adapter takes one label per row")
	v.fails("EVALUATE ADAPTER sent AS SELECT txt, '[\"pos\"]' FROM labelled", 1210, "not a JSON array")
	v.fails("EVALUATE ADAPTER sent AS SELECT txt, label FROM labelled WHERE id > 100", 1210, "no rows to evaluate (0 skipped")
	v.fails("EVALUATE ADAPTER sent AS SELECT NULL, label FROM labelled", 1210, "no rows to evaluate (8 skipped")
	v.fails("EVALUATE ADAPTER sent AS SELECT txt, label FROM nowhere", 1146)
	v.fails("EVALUATE ADAPTER sent AS SELEC txt", 1064, "in the SELECT after AS")
}

func toFloat(t *testing.T, v any) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(fmt.Sprint(v), &f); err != nil {
		t.Fatalf("%v (%T): %v", v, v, err)
	}
	return f
}

func TestEvaluateRegressionMultilabel(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	names, m := v.metrics("EVALUATE ADAPTER stars AS SELECT txt, score FROM labelled")
	if strings.Join(names, " ") != "rows skipped rmse mae r2" {
		t.Fatalf("regression metrics %v", names)
	}
	var se, ae, sum, sum2 float64
	rows := v.rows("SELECT PREDICT('stars', txt), score FROM labelled")
	for _, r := range rows {
		p, y := toFloat(t, r[0]), toFloat(t, r[1])
		se += (p - y) * (p - y)
		ae += math.Abs(p - y)
		sum, sum2 = sum+y, sum2+y*y
	}
	n := float64(len(rows))
	sst := sum2 - sum*sum/n
	for k, want := range map[string]float64{"rows": 8, "rmse": math.Sqrt(se / n), "mae": ae / n, "r2": 1 - se/sst} {
		if got := num(t, m[k]); !near(got, want) {
			t.Errorf("%s = %g, want %g", k, got, want)
		}
	}
	// A numeric text column is numbers; labels are not.
	v.rows("EVALUATE ADAPTER stars AS SELECT txt, CAST(score AS CHAR) FROM labelled")
	v.fails("EVALUATE ADAPTER stars AS SELECT txt, label FROM labelled", 1210, "row 1", "regression adapter takes numbers; \"pos\" is not one")
	v.fails("EVALUATE ADAPTER stars AS SELECT txt, tags FROM labelled", 1210, "not a JSON value")
	v.fails("EVALUATE ADAPTER stars CONFUSION MATRIX AS SELECT txt, score FROM labelled", 1210, "CONFUSION MATRIX is for classification adapters; stars is a regression adapter")

	names, m = v.metrics("EVALUATE ADAPTER tags AS SELECT txt, tags FROM labelled UNION ALL SELECT 'new', '[\"fun\", \"brand-new\"]'")
	for _, want := range []string{"rows", "skipped", "micro_f1", "macro_f1", "subset_accuracy", "unseen_labels", "f1:fun", "support:brand-new"} {
		if _, ok := m[want]; !ok {
			t.Errorf("multilabel metrics lack %s: %v", want, names)
		}
	}
	if num(t, m["rows"]) != 9 || num(t, m["unseen_labels"]) != 1 || num(t, m["support:brand-new"]) != 1 || num(t, m["support:fun"]) != 4 {
		t.Errorf("multilabel counts: %v", m)
	}
	// subset accuracy: rows whose predicted set is the target set (the row
	// with an unseen label never is).
	exact := 0
	for _, r := range v.rows("SELECT PREDICT('tags', txt), tags FROM labelled") {
		if sameSet(r[0].(string), r[1].(string)) {
			exact++
		}
	}
	if got := num(t, m["subset_accuracy"]); math.Abs(got-float64(exact)/9) > 1e-9 {
		t.Errorf("subset_accuracy %g, want %d/9", got, exact)
	}
	v.fails("EVALUATE ADAPTER tags AS SELECT txt, score FROM labelled", 1210, "multilabel adapter takes a JSON array")
	v.fails("EVALUATE ADAPTER tags CONFUSION MATRIX AS SELECT txt, tags FROM labelled", 1210, "tags is a multilabel adapter")
}

// sameSet compares two JSON arrays of strings as sets.
func sameSet(a, b string) bool {
	norm := func(s string) string {
		s = strings.Trim(strings.TrimSpace(s), "[]")
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		m := map[string]bool{}
		for _, p := range parts {
			m[p] = true
		}
		var out []string
		for p := range m {
			out = append(out, p)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	return norm(a) == norm(b)
}

// Many rows cross several registry requests (a window of 32 passes of 2
// here); the report is the same as PREDICT's row by row.
func TestEvaluateChunks(t *testing.T) {
	v := newEnv(t, envOpts{batch: 2})
	v.withAdapters()
	v.texts(150)
	src := "SELECT txt, IF(id % 3 = 0, 'neg', 'pos') FROM docs"
	_, m := v.metrics("EVALUATE ADAPTER sent AS " + src)
	acc := v.rows("SELECT AVG(PREDICT('sent', txt) = IF(id % 3 = 0, 'neg', 'pos')) FROM docs")
	if num(t, m["rows"]) != 150 || math.Abs(num(t, m["accuracy"])-toFloat(t, acc[0][0])) > 1e-9 {
		t.Errorf("rows %v accuracy %v, SQL says %v", m["rows"], m["accuracy"], acc[0][0])
	}
	if num(t, m["support:neg"]) != 50 {
		t.Errorf("support:neg %v", m["support:neg"])
	}
	// A wrong target far into the rows names its row.
	v.fails("EVALUATE ADAPTER stars AS SELECT txt, IF(id = 140, 'oops', '1') FROM docs ORDER BY id", 1210, "row 140")
}

// INTO in the SELECT of EVALUATE or CREATE ADAPTER is refused (1221) before
// any row is read: the statement consumes the rows, so the INTO would be
// ignored.
func TestSelectIntoRefused(t *testing.T) {
	dir := t.TempDir()
	v := newEnv(t, envOpts{filesDir: dir})
	v.withAdapters()
	for _, q := range []string{
		"EVALUATE ADAPTER sent AS SELECT txt, label FROM labelled INTO OUTFILE 'ev.txt'",
		"EVALUATE ADAPTER sent AS SELECT txt, label FROM labelled INTO @a, @b",
		"EVALUATE ADAPTER sent AS SELECT txt, label FROM labelled LIMIT 1 INTO DUMPFILE 'ev.bin'",
		"EVALUATE ADAPTER sent AS SELECT txt, label FROM labelled UNION SELECT txt, label FROM labelled INTO OUTFILE 'ev.txt'",
	} {
		v.fails(q, 1221, "Incorrect usage of EVALUATE ADAPTER and INTO")
	}
	for _, q := range []string{
		"CREATE ADAPTER x " + quickOptions + " AS SELECT txt, label FROM labelled INTO OUTFILE 'cr.txt'",
		"CREATE ADAPTER x OPTIONS (background = true) AS SELECT txt, label FROM labelled INTO @a, @b",
		"CREATE OR REPLACE ADAPTER sent AS SELECT txt, label FROM labelled INTO OUTFILE 'cr.txt'",
	} {
		v.fails(q, 1221, "Incorrect usage of CREATE ADAPTER and INTO")
	}
	if r := v.rows("SELECT @a IS NULL, @b IS NULL, (SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'x'), " +
		"(SELECT COUNT(*) FROM adapterdb.jobs)"); fmt.Sprint(r) != "[[true true 0 0]]" && fmt.Sprint(r) != "[[1 1 0 0]]" {
		t.Fatalf("after refused INTO: %v", r)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("files written: %v %v", entries, err)
	}
	// INTO in a plain SELECT still works.
	v.exec("SELECT txt FROM labelled LIMIT 1 INTO @a")
}
