package driver

import (
	"path/filepath"
	"testing"
)

// The analyst's statements through database/sql: EVALUATE (metrics equal
// to what PREDICT gives, and the confusion matrix) and a hyperparameter search
// with its trials. (Versions and background jobs have their own driver tests;
// adapter privileges need accounts, which the in-process driver has not.)
func TestDriverEvaluateAndSearch(t *testing.T) {
	db := open(t, dsn(t, filepath.Join(t.TempDir(), "analyst.db"), ""))
	defer db.Close()
	setup(t, db)

	metrics := map[string]float64{}
	rows, err := db.Query("EVALUATE ADAPTER sent AS SELECT txt, label FROM labelled")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		var v *float64
		if err := rows.Scan(&m, &v); err != nil {
			t.Fatal(err)
		}
		if v != nil {
			metrics[m] = *v
		}
	}
	rows.Close()
	var acc float64
	if err := db.QueryRow("SELECT AVG(PREDICT('sent', txt) = label) FROM labelled").Scan(&acc); err != nil {
		t.Fatal(err)
	}
	if metrics["rows"] != 8 || metrics["accuracy"] != acc {
		t.Fatalf("EVALUATE %v, PREDICT accuracy %v", metrics, acc)
	}
	rows, err = db.Query("EVALUATE ADAPTER sent CONFUSION MATRIX AS SELECT txt, label FROM labelled")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for rows.Next() {
		var actual, predicted string
		var n int
		if err := rows.Scan(&actual, &predicted, &n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	rows.Close()
	if total != 8 {
		t.Fatalf("confusion cells sum to %d, want 8", total)
	}

	exec(t, db, "CREATE ADAPTER searched OPTIONS (epochs = 5, max_length = 16, batch_size = 4, adapter_size = 8, "+
		"validation_fraction = 0.25, learning_rate = (1e-3, 1e-2)) AS SELECT txt, label FROM labelled")
	var trials, chosen int
	if err := db.QueryRow("SELECT COUNT(*), SUM(chosen) FROM adapterdb.trials WHERE adapter = 'searched'").Scan(&trials, &chosen); err != nil {
		t.Fatal(err)
	}
	if trials != 2 || chosen != 1 {
		t.Fatalf("%d trials, %d chosen; want 2 and 1", trials, chosen)
	}
}
