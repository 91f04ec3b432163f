package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/information_schema"
)

// The pushdown must give exactly what the engine computes itself: run the
// same queries through an engine without the rule and compare.
func TestAggregatePushdownMatchesEngine(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec(`CREATE TABLE m (id INT PRIMARY KEY, g VARCHAR(10) COLLATE utf8mb4_0900_ai_ci, i BIGINT, u INT UNSIGNED,
		f DOUBLE, d DECIMAL(8,2), day DATE, e ENUM('x','y'), KEY (g), KEY (day))`)
	db.mustExec("CREATE TABLE nothing (id INT PRIMARY KEY, v INT)")
	var vals []string
	for k := 1; k <= 200; k++ {
		g := []string{"'a'", "'A'", "'b'", "NULL", "'c'"}[k%5]
		i := fmt.Sprint(k*7 - 500)
		if k%11 == 0 {
			i = "NULL"
		}
		vals = append(vals, fmt.Sprintf("(%d, %s, %s, %d, %d.25, %d.5, '2024-01-%02d', '%s')", k, g, i, k*3, k%13, k%17, k%28+1, []string{"x", "y"}[k%2]))
	}
	db.mustExec("INSERT INTO m VALUES " + strings.Join(vals, ", "))

	plain := sqle.New(func() *analyzer.Analyzer {
		a := analyzer.NewDefault(db.pro)
		a.Catalog.MySQLDb.AddRootAccount()
		a.Catalog.InfoSchema = information_schema.NewInformationSchemaDatabase()
		return a
	}(), &sqle.Config{})
	run := func(e *sqle.Engine, q string) []string {
		ctx := sql.NewContext(context.Background(), sql.WithSession(db.sess)).WithQuery(q)
		_, iter, _, err := e.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rows, err := sql.RowIterToRows(ctx, iter)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out := normRows(rows)
		sort.Strings(out)
		return out
	}
	pushed := 0
	for _, q := range []string{
		"SELECT COUNT(*), SUM(i), AVG(i), MIN(i), MAX(i), COUNT(i) FROM m",
		"SELECT SUM(f), AVG(f), MIN(f), MAX(f) FROM m",
		"SELECT SUM(u), MIN(u), MAX(u) FROM m WHERE u > 100",
		"SELECT g, COUNT(*), SUM(i) FROM m GROUP BY g",
		"SELECT COUNT(*) FROM m WHERE g = 'A'",
		"SELECT COUNT(*) FROM m WHERE g > 'a' AND i < 0",
		"SELECT COUNT(*), MAX(day) FROM m WHERE day >= '2024-01-10'",
		"SELECT COUNT(*) FROM m WHERE day >= '2024-01-10 12:00:00'",
		"SELECT MIN(d), MAX(d), COUNT(d) FROM m WHERE d < 10.5",
		"SELECT COUNT(*) FROM m WHERE i IS NULL",
		"SELECT COUNT(*) FROM m WHERE i IS NOT NULL AND i <> 3",
		"SELECT COUNT(*) FROM m WHERE id BETWEEN 10 AND 20",
		"SELECT COUNT(*), SUM(i) FROM m WHERE id > 150 OR id < 5",
		"SELECT COUNT(*) FROM m WHERE 100 < id",
		"SELECT COUNT(*) FROM m WHERE i < 2.5",
		"SELECT COUNT(*) FROM m WHERE f = 3.25",
		"SELECT MIN(e), MAX(e), COUNT(*) FROM m GROUP BY e",
		"SELECT g, day, COUNT(*) FROM m GROUP BY g, day",
		"SELECT COUNT(*), SUM(v), MIN(v), AVG(v) FROM nothing",
		"SELECT v, COUNT(*) FROM nothing GROUP BY v",
		"SELECT 1 FROM m GROUP BY g",
		"SELECT x.g, COUNT(*) FROM m AS x WHERE x.i > 0 GROUP BY x.g HAVING COUNT(*) > 5",
		"SELECT (SELECT COUNT(*) FROM m WHERE m.i > o.id) FROM nothing o",
		"SELECT SUM(d) FROM m",
		"SELECT COUNT(DISTINCT g) FROM m",
		"SELECT SUM(i + 1) FROM m",
		"SELECT id FROM m WHERE i > 10 AND length(g) = 1",
		"SELECT id, g FROM m WHERE g = 'a' OR i > 1000",
		"SELECT id FROM m AS x WHERE x.g = 'A' AND x.day < '2024-01-05'",
		"SELECT id, d FROM m WHERE d < 10.5 AND f > 2 AND e = 'x'",
		"SELECT id FROM m WHERE u >= 300 AND u <= 330 ORDER BY id DESC LIMIT 3",
		"SELECT id FROM m WHERE i IS NULL AND id > 100",
		"SELECT a.id FROM m a JOIN m b ON a.id = b.id + 1 WHERE a.i > 0 AND b.g = 'b'",
		"SELECT id FROM m WHERE id IN (SELECT id FROM m WHERE i < -400)",
	} {
		got, want := run(db.eng, q), run(plain, q)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n pushed %v\n engine %v", q, got, want)
		}
		plan := run(db.eng, "EXPLAIN PLAN "+q)
		if strings.Contains(strings.Join(plan, ""), "SQLiteAggregate") {
			pushed++
		}
	}
	if pushed < 15 {
		t.Fatalf("only %d queries were pushed down", pushed)
	}
	// Writes through a pushed-down WHERE.
	db.mustExec("UPDATE m SET i = 0 WHERE g = 'b' AND u > 300")
	db.mustExec("DELETE FROM m WHERE day = '2024-01-03' AND i < 0")
	for _, q := range []string{"SELECT COUNT(*), SUM(i) FROM m", "SELECT id FROM m WHERE i = 0"} {
		if got, want := run(db.eng, q), run(plain, q); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after writes, %s:\n pushed %v\n engine %v", q, got, want)
		}
	}
	if got := run(plain, "SELECT COUNT(*) FROM m WHERE day = '2024-01-03' AND i < 0"); got[0] != "[0]" {
		t.Errorf("DELETE through a pushed filter left %v", got)
	}
}

// PREDICT-like expressions (any function) never move into SQLite.
func TestPushdownLeavesFunctions(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE r (id INT PRIMARY KEY, txt TEXT)")
	db.mustExec("INSERT INTO r VALUES (1, 'a'), (2, 'bb')")
	for _, q := range []string{
		"SELECT COUNT(*) FROM r WHERE length(txt) > 1",
		"SELECT SUM(length(txt)) FROM r",
		"SELECT MAX(upper(txt)) FROM r",
	} {
		plan := fmt.Sprint(db.mustExec("EXPLAIN PLAN " + q))
		if strings.Contains(plan, "SQLiteAggregate") {
			t.Errorf("%s was pushed down:\n%s", q, plan)
		}
	}
	db.expect("SELECT COUNT(*) FROM r WHERE length(txt) > 1", sql.Row{1})
}
