package sqlfuncs_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// passes runs q and returns its rows and how many forward passes it took.
func (v *env) passes(q string) ([][]any, int64) {
	v.t.Helper()
	p0 := v.eng.Passes()
	rows := v.rows(q)
	return rows, v.eng.Passes() - p0
}

func TestPassCount(t *testing.T) {
	v := newEnv(t, envOpts{batch: 64})
	v.withAdapters()
	texts := v.texts(1000)
	want := v.expected("sent", texts)
	stars := v.expected("stars", texts)

	rows, n := v.passes("SELECT id, PREDICT('sent', txt) FROM docs")
	if n != 16 {
		t.Errorf("1,000 rows at batch 64: %d passes, want 16", n)
	}
	if len(rows) != 1000 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		id := int(r[0].(int32))
		if r[1] != want[id-1].Label {
			t.Fatalf("row %d: %v, want %s (rows out of order?)", id, r[1], want[id-1].Label)
		}
	}
	rows, n = v.passes("SELECT id, PREDICT('sent', txt), PREDICT('stars', txt) FROM docs")
	if n != 16 {
		t.Errorf("two PREDICTs on different adapters: %d passes, want 16", n)
	}
	for _, r := range rows {
		id := int(r[0].(int32))
		if r[1] != want[id-1].Label || !near(r[2].(float64), stars[id-1].Value) {
			t.Fatalf("row %d: %v, want %s %v", id, r, want[id-1].Label, stars[id-1].Value)
		}
	}
	for _, c := range []struct {
		q    string
		want int64
	}{
		{"SELECT PREDICT('sent', txt), PREDICT_PROBA('sent', txt), EMBED(txt) FROM docs", 16},
		{"SELECT id FROM docs WHERE PREDICT('sent', txt) = 'pos'", 16},
		{"SELECT id FROM docs ORDER BY PREDICT('stars', txt) DESC, id LIMIT 10", 16},
		// go-mysql-server's GroupBy passes a text of each group up and the
		// Project above it computes the grouping expression again: one more
		// batch, of two rows here (two labels).
		{"SELECT PREDICT('sent', txt), COUNT(*) FROM docs GROUP BY 1", 17},
	} {
		if _, n := v.passes(c.q); n != c.want {
			t.Errorf("%s: %d passes, want %d", c.q, n, c.want)
		}
	}
	// LIMIT: the first window is one batch; the next one, started in the
	// background, is cancelled when the consumer stops.
	if _, n := v.passes("SELECT id, PREDICT('sent', txt) FROM docs LIMIT 5"); n < 1 || n > 3 {
		t.Errorf("LIMIT 5 over 1,000 rows: %d passes, want 1 to 3", n)
	}
	// UPDATE ... SET is not rewritten by the analyzer (go-mysql-server gives
	// simple UPDATEs a reduced rule set): per-row evaluation, one pass a row.
	v.exec("ALTER TABLE docs ADD COLUMN p TEXT")
	p0 := v.eng.Passes()
	v.exec("UPDATE docs SET p = PREDICT('sent', txt) WHERE id <= 100")
	if n := v.eng.Passes() - p0; n != 100 {
		t.Errorf("UPDATE of 100 rows: %d passes, want 100 (per row)", n)
	}
}

func TestExplain(t *testing.T) {
	v := newEnv(t, envOpts{batch: 32})
	v.withAdapters()
	for _, prefix := range []string{"EXPLAIN", "EXPLAIN PLAN", "EXPLAIN FORMAT=TREE", "explain format = tree"} {
		var lines []string
		for _, r := range v.rows(prefix + " SELECT id, PREDICT('sent', txt) AS p FROM labelled WHERE PREDICT('stars', txt) > 2") {
			lines = append(lines, r[0].(string))
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "BatchInfer(batch=32)") || !strings.Contains(plan, "predict('stars', labelled.txt)") ||
			!strings.Contains(plan, "predict('sent', labelled.txt)") {
			t.Errorf("%s:\n%s", prefix, plan)
		}
	}
	var lines []string
	for _, r := range v.rows("EXPLAIN CREATE ADAPTER x AS SELECT txt, PREDICT('sent', txt) FROM labelled") {
		lines = append(lines, r[0].(string))
	}
	if plan := strings.Join(lines, "\n"); !strings.Contains(plan, "CreateAdapter(x)") || !strings.Contains(plan, "BatchInfer") {
		t.Errorf("EXPLAIN CREATE ADAPTER:\n%s", plan)
	}
}

// TestPlanShapes checks batched results in every place the rule rewrites
// against a reference column computed row by row (UPDATE ... SET).
func TestPlanShapes(t *testing.T) {
	v := newEnv(t, envOpts{batch: 16})
	v.withAdapters()
	v.texts(200)
	v.exec("ALTER TABLE docs ADD COLUMN p TEXT")
	v.exec("ALTER TABLE docs ADD COLUMN s DOUBLE")
	v.exec("ALTER TABLE docs ADD COLUMN pp TEXT")
	v.exec("UPDATE docs SET p = PREDICT('sent', txt), s = PREDICT('stars', txt)")
	v.exec("UPDATE docs SET pp = PREDICT('sent', p)")
	v.exec("UPDATE docs SET txt = NULL WHERE id % 37 = 0")
	v.exec("UPDATE docs SET p = NULL, s = NULL, pp = NULL WHERE txt IS NULL")
	v.exec("CREATE TABLE other (id INT PRIMARY KEY, doc INT, note TEXT)")
	v.exec("INSERT INTO other VALUES (1, 3, 'pos'), (2, 4, 'neg'), (3, 6, 'pos'), (4, 50, 'neg'), (5, 51, 'pos')")
	v.exec("ALTER TABLE other ADD COLUMN np TEXT")
	v.exec("UPDATE other SET np = PREDICT('sent', note)")
	v.exec("CREATE VIEW pv AS SELECT id, PREDICT('sent', txt) AS p FROM docs")
	v.exec("CREATE VIEW rv AS SELECT id, p FROM docs")
	for _, c := range []struct{ batched, reference string }{
		{"SELECT id, PREDICT('sent', txt) FROM docs ORDER BY id", "SELECT id, p FROM docs ORDER BY id"},
		{"SELECT COUNT(*) FROM docs WHERE PREDICT('sent', txt) = 'pos'", "SELECT COUNT(*) FROM docs WHERE p = 'pos'"},
		{"SELECT id FROM docs ORDER BY PREDICT('stars', txt) DESC, id LIMIT 7", "SELECT id FROM docs ORDER BY s DESC, id LIMIT 7"},
		{"SELECT id, PREDICT('stars', txt) FROM docs ORDER BY 2, id", "SELECT id, s FROM docs ORDER BY 2, id"},
		{"SELECT PREDICT('sent', txt) AS q, COUNT(*) FROM docs GROUP BY q ORDER BY q", "SELECT p, COUNT(*) FROM docs GROUP BY p ORDER BY p"},
		{"SELECT PREDICT('sent', txt) AS q, COUNT(*) c FROM docs GROUP BY 1 HAVING q = 'pos' OR COUNT(*) < 5 ORDER BY 1",
			"SELECT p, COUNT(*) c FROM docs GROUP BY 1 HAVING p = 'pos' OR COUNT(*) < 5 ORDER BY 1"},
		{"SELECT id, ROW_NUMBER() OVER (ORDER BY PREDICT('stars', txt), id) FROM docs WHERE id < 30 ORDER BY id",
			"SELECT id, ROW_NUMBER() OVER (ORDER BY s, id) FROM docs WHERE id < 30 ORDER BY id"},
		{"SELECT d.id, PREDICT('sent', o.note), PREDICT('sent', d.txt) FROM docs d JOIN other o ON o.doc = d.id ORDER BY d.id",
			"SELECT d.id, o.np, d.p FROM docs d JOIN other o ON o.doc = d.id ORDER BY d.id"},
		{"SELECT id, (SELECT COUNT(*) FROM other o WHERE o.doc = d.id AND o.note = PREDICT('sent', d.txt)) FROM docs d WHERE id < 60 ORDER BY id",
			"SELECT id, (SELECT COUNT(*) FROM other o WHERE o.doc = d.id AND o.note = d.p) FROM docs d WHERE id < 60 ORDER BY id"},
		{"SELECT id, PREDICT('sent', txt), (SELECT MAX(o.id) FROM other o WHERE o.doc = d.id) FROM docs d WHERE id < 60 ORDER BY id",
			"SELECT id, p, (SELECT MAX(o.id) FROM other o WHERE o.doc = d.id) FROM docs d WHERE id < 60 ORDER BY id"},
		{"SELECT * FROM (SELECT id, PREDICT('sent', txt) AS q FROM docs) t WHERE q = 'neg' ORDER BY id",
			"SELECT id, p FROM docs WHERE p = 'neg' ORDER BY id"},
		{"WITH c AS (SELECT id, PREDICT('sent', txt) AS q FROM docs) SELECT c.id, c.q, o.note FROM c JOIN other o ON c.id = o.doc ORDER BY c.id",
			"SELECT d.id, d.p, o.note FROM docs d JOIN other o ON d.id = o.doc ORDER BY d.id"},
		{"SELECT id FROM docs d WHERE EXISTS (SELECT 1 FROM other o WHERE o.doc = d.id AND PREDICT('sent', d.txt) = 'pos') ORDER BY id",
			"SELECT id FROM docs d WHERE EXISTS (SELECT 1 FROM other o WHERE o.doc = d.id AND d.p = 'pos') ORDER BY id"},
		{"SELECT id, p FROM pv WHERE p = 'pos' ORDER BY id", "SELECT id, p FROM rv WHERE p = 'pos' ORDER BY id"},
		{"SELECT id, PREDICT('sent', PREDICT('sent', txt)) FROM docs ORDER BY id", "SELECT id, pp FROM docs ORDER BY id"},
		{"SELECT PREDICT('sent', txt) FROM docs WHERE id < 20 UNION ALL SELECT PREDICT('sent', note) FROM other",
			"SELECT p FROM docs WHERE id < 20 UNION ALL SELECT np FROM other"},
		{"SELECT id, UPPER(PREDICT('sent', txt)) FROM docs WHERE id BETWEEN 5 AND 9 ORDER BY id", "SELECT id, UPPER(p) FROM docs WHERE id BETWEEN 5 AND 9 ORDER BY id"},
		{"SELECT s.id, s.q FROM other o, LATERAL (SELECT d.id, PREDICT('sent', d.txt) q FROM docs d WHERE d.id = o.doc) s ORDER BY s.id",
			"SELECT d.id, d.p FROM other o JOIN docs d ON d.id = o.doc ORDER BY d.id"},
		{"SELECT id, PREDICT('sent', txt) FROM docs ORDER BY id LIMIT 1", "SELECT id, p FROM docs ORDER BY id LIMIT 1"},
	} {
		got, err := v.tryRows(c.batched)
		if err != nil {
			t.Errorf("%s: %v", c.batched, err)
			continue
		}
		want := v.rows(c.reference)
		if !sameRows(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", c.batched, clip(got), clip(want))
		}
	}
	// INSERT ... SELECT batches its source.
	v.exec("CREATE TABLE dst (id INT PRIMARY KEY, q TEXT)")
	p0 := v.eng.Passes()
	v.exec("INSERT INTO dst SELECT id, PREDICT('sent', txt) FROM docs")
	if n := v.eng.Passes() - p0; n > 13 {
		t.Errorf("INSERT ... SELECT of 200 rows at batch 16: %d passes", n)
	}
	if got, want := v.rows("SELECT q, COUNT(*) FROM dst GROUP BY q ORDER BY q"), v.rows("SELECT p, COUNT(*) FROM docs GROUP BY p ORDER BY p"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("INSERT ... SELECT: %v, want %v", got, want)
	}
}

// sameRows compares result rows, floats to 1e-5 relative: a text's features
// differ in the last bits with the batch it is computed in (padding, GEMM
// blocking), so a value computed alone and in a batch may differ there.
func sameRows(a, b [][]any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			x, xok := a[i][j].(float64)
			y, yok := b[i][j].(float64)
			if xok && yok {
				if math.Abs(x-y) > 1e-5*math.Max(1, math.Abs(y)) {
					return false
				}
				continue
			}
			if fmt.Sprint(a[i][j]) != fmt.Sprint(b[i][j]) {
				return false
			}
		}
	}
	return true
}

func clip(rows [][]any) string {
	s := fmt.Sprint(rows)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}
