package driver

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// A text-pair adapter through database/sql: trained from a three-column
// SELECT with placeholders, PREDICT and PREDICT_PROBA with two texts bound
// as parameters (a prepared statement reused), in one query with a
// single-text adapter, and the wrong number of texts as error 1582.
func TestDriverTextPairs(t *testing.T) {
	db := open(t, dsn(t, filepath.Join(t.TempDir(), "data.db"), "&batch=16"))
	defer db.Close()
	setup(t, db)
	exec(t, db, "CREATE TABLE pairs (id INT PRIMARY KEY, a TEXT, b TEXT, label VARCHAR(10))")
	for i, r := range [][]string{
		{"wonderful delightful film", "a delightful wonderful film", "same"},
		{"terrible boring awful", "boring awful and terrible", "same"},
		{"wonderful delightful film", "boring awful mess", "diff"},
		{"terrible boring awful", "great fun cast", "diff"},
	} {
		exec(t, db, "INSERT INTO pairs VALUES (?, ?, ?, ?)", i+1, r[0], r[1], r[2])
	}
	exec(t, db, "CREATE ADAPTER dup "+quickOptions+" AS SELECT a, b, label FROM pairs WHERE id <= ?", 4)

	stmt, err := db.Prepare("SELECT PREDICT('dup', ?, ?), PREDICT_PROBA('dup', ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for _, p := range [][2]string{{"wonderful delightful film", "a delightful wonderful film"}, {"terrible boring awful", "great fun cast"}} {
		var label, proba string
		if err := stmt.QueryRow(p[0], p[1], p[0], p[1]).Scan(&label, &proba); err != nil {
			t.Fatal(err)
		}
		var pr map[string]float64
		if err := json.Unmarshal([]byte(proba), &pr); err != nil || len(pr) != 2 || pr[label] < 0.5 {
			t.Errorf("%v: PREDICT %q, PREDICT_PROBA %s (%v)", p, label, proba, err)
		}
	}
	rows, err := db.Query("SELECT id, PREDICT('dup', a, b), PREDICT('sent', a) FROM pairs ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id int
		var dup, sent string
		if err := rows.Scan(&id, &dup, &sent); err != nil {
			t.Fatal(err)
		}
		if (dup != "same" && dup != "diff") || (sent != "pos" && sent != "neg") {
			t.Errorf("row %d: %q %q", id, dup, sent)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 4 {
		t.Fatalf("%d rows: %v", n, err)
	}
	var v any
	wantErr(t, db.QueryRow("SELECT PREDICT('dup', ?)", "one text").Scan(&v), 1582, "adapter dup is a text-pair adapter")
	wantErr(t, db.QueryRow("SELECT PREDICT('sent', ?, ?)", "one", "two").Scan(&v), 1582, "adapter sent is a single-text adapter")
}
