package sqlfuncs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"
)

// A 2×2 grid in OPTIONS trains four trials, stores the best as the adapter
// and lists every trial in adapterdb.trials and in the adapter's metrics.
func TestSearchSQL(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	res := v.exec("CREATE ADAPTER g OPTIONS (learning_rate = (1e-4, 1e-2), adapter_size = (4, 8), epochs = 3, max_length = 16, batch_size = 4, validation_fraction = 0.25) AS SELECT txt, label FROM labelled")
	if res.RowsAffected != 8 || res.Info == nil || !strings.Contains(res.Info.String(), ", best of 4 trials (grid search)") {
		t.Errorf("CREATE ADAPTER's result %+v", res)
	}
	rows := v.rows("SELECT t.adapter, t.version = a.version, t.trial, JSON_EXTRACT(t.options, '$.learning_rate'), JSON_EXTRACT(t.options, '$.adapter_size'), JSON_EXTRACT(t.metrics, '$.validation_loss'), t.seconds > 0, t.chosen FROM adapterdb.trials t JOIN adapterdb.adapters a ON a.name = t.adapter ORDER BY t.trial")
	if len(rows) != 4 {
		t.Fatalf("trials %v", rows)
	}
	wantOpts := [][2]string{{`"0.0001"`, `"4"`}, {`"0.0001"`, `"8"`}, {`"0.01"`, `"4"`}, {`"0.01"`, `"8"`}}
	chosen, best := -1, 0.0
	for i, r := range rows {
		if r[0] != "g" || r[1] != true || r[2] != int64(i+1) || r[3] != wantOpts[i][0] || r[4] != wantOpts[i][1] || r[6] != true {
			t.Errorf("trial row %d: %v", i, r)
		}
		var loss float64
		if err := json.Unmarshal([]byte(r[5].(string)), &loss); err != nil {
			t.Fatalf("trial %d validation loss %v: %v", i+1, r[5], err)
		}
		if chosen < 0 || loss < best {
			best = loss
			if r[7] == int8(1) {
				chosen = i
			}
		}
		if r[7] == int8(1) && chosen != i {
			t.Errorf("trial %d chosen, but trial %d has a lower validation loss", i+1, chosen+1)
		}
	}
	if chosen < 0 {
		t.Fatalf("no chosen trial with the best validation loss: %v", rows)
	}
	a := v.rows("SELECT JSON_EXTRACT(options, '$.learning_rate'), JSON_EXTRACT(options, '$.adapter_size'), adapter_size, JSON_EXTRACT(metrics, '$.search'), JSON_LENGTH(JSON_EXTRACT(metrics, '$.trials')), JSON_EXTRACT(metrics, '$.validation_loss') FROM adapterdb.adapters WHERE name = 'g'")
	if len(a) != 1 || a[0][0] != wantOpts[chosen][0] || a[0][1] != wantOpts[chosen][1] || a[0][3] != `"grid"` || fmt.Sprint(a[0][4]) != "4" {
		t.Fatalf("adapter g: %#v, chosen trial %d", a, chosen+1)
	}
	// The stored adapter predicts; a retrain without lists keeps the
	// trials of the version the search made.
	v.rows("SELECT PREDICT('g', 'wonderful')")
	v.exec("CREATE OR REPLACE ADAPTER g " + quickOptions + " AS SELECT txt, label FROM labelled")
	if r := v.rows("SELECT COUNT(*), MIN(version) FROM adapterdb.trials WHERE adapter = 'g'"); r[0][0] != int64(4) {
		t.Errorf("after a plain retrain: %v", r)
	}
	// DROP takes the trials with the adapter.
	v.exec("DROP ADAPTER g")
	if r := v.rows("SELECT COUNT(*) FROM adapterdb.trials"); r[0][0] != int64(0) {
		t.Errorf("trials outlive their adapter: %v", r)
	}
	// Random search: the same seed draws the same trials.
	q := " OPTIONS (search = 'random', trials = 3, seed = 5, learning_rate = (1e-4, 1e-3, 1e-2), adapter_size = (4, 8), epochs = 1, max_length = 16, validation_fraction = 0.25) AS SELECT txt, label FROM labelled"
	v.exec("CREATE ADAPTER r1" + q)
	v.exec("CREATE ADAPTER r2" + q)
	r1 := v.rows("SELECT trial, options, JSON_EXTRACT(metrics, '$.validation_loss') FROM adapterdb.trials WHERE adapter = 'r1' ORDER BY trial")
	r2 := v.rows("SELECT trial, options, JSON_EXTRACT(metrics, '$.validation_loss') FROM adapterdb.trials WHERE adapter = 'r2' ORDER BY trial")
	if len(r1) != 3 || !sameRows(r1, r2) {
		t.Fatalf("random search, same seed:\n%v\n%v", r1, r2)
	}
	if r := v.rows("SELECT JSON_EXTRACT(metrics, '$.search') FROM adapterdb.adapters WHERE name = 'r1'"); r[0][0] != `"random"` {
		t.Errorf("metrics search %v", r)
	}
	if r := v.rows("SHOW TABLES FROM adapterdb LIKE 'trials'"); len(r) != 1 {
		t.Errorf("SHOW TABLES: %v", r)
	}
}

func TestSearchErrors(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	for _, c := range []struct {
		opts string
		code int
		want string
	}{
		{"seed = (1, 2)", 1231, "Option 'seed' takes one value, not a list: lists are accepted for activation, adapter_size, batch_size, early_stopping"},
		{"task = (classification)", 1231, "Option 'task' takes one value"},
		{"validation_fraction = (0.1, 0.2)", 1231, "Option 'validation_fraction' takes one value"},
		{"class_weights = (none, balanced)", 1231, "Option 'class_weights' takes one value"},
		{"search = ('grid', 'random'), learning_rate = (1e-3, 1e-4)", 1231, "Option 'search' takes one value"},
		{"trials = (1, 2), learning_rate = (1e-3, 1e-4)", 1231, "Option 'trials' takes one value"},
		{"background = (true, false)", 1231, "Option 'background'"},
		{"epoch = (1, 2)", 1193, "Unknown adapter option 'epoch'"},
		{"learning_rate = (1e-3, -1)", 1231, "Option 'learning_rate' can't be set to the value of '(1e-3, -1)'"},
		{"learning_rate = (1e-3, 0.001)", 1231, "1e-3 and 0.001 are the same value"},
		{"adapter_size = (8, 5000)", 1231, "Option 'adapter_size' can't be set to the value of '(8, 5000)': 5000 is out of range [1, 128]"},
		{"search = 'bayes', learning_rate = (1e-3, 1e-4)", 1231, "Option 'search' can't be set to the value of 'bayes'"},
		{"search = 'random', learning_rate = (1e-3, 1e-4)", 1231, "needs trials = N"},
		{"search = 'random', trials = 0, learning_rate = (1e-3, 1e-4)", 1231, "Option 'trials' can't be set to the value of '0'"},
		{"search = 'random', trials = 65, learning_rate = (1e-3, 1e-4)", 1231, "must be an integer in [1, 64]"},
		{"search = 'random', trials = 3, learning_rate = (1e-3, 1e-4)", 1231, "trials = 3 is more than the lists' 2 combinations"},
		{"trials = 2, learning_rate = (1e-3, 1e-4)", 1231, "trials applies to search = 'random'"},
		{"search = 'grid'", 1231, "at least one option given as a list"},
		{"learning_rate = (1e-3, 1e-4), validation_fraction = 0", 1231, "validation_fraction must be > 0"},
		{"learning_rate = (1e-1, 2e-1, 3e-1, 4e-1, 5e-1), weight_decay = (0.1, 0.2, 0.3, 0.4), max_grad_norm = (1, 2, 3, 4)", 1231, "the grid has 80 combinations, more than 64"},
	} {
		v.fails("CREATE ADAPTER x OPTIONS ("+c.opts+") AS SELECT txt, label FROM labelled", c.code, c.want)
	}
	v.fails("CREATE ADAPTER x OPTIONS (learning_rate = (1e-3 1e-4)) AS SELECT txt, label FROM labelled", 1064, "expected ',' or ')' in the list of option learning_rate")
	v.fails("CREATE ADAPTER x OPTIONS (learning_rate = ()) AS SELECT txt, label FROM labelled", 1064, "expected a value in the list")
	// Too few rows to hold any out: refused before training.
	v.fails("CREATE ADAPTER x OPTIONS (learning_rate = (1e-3, 1e-4)) AS SELECT txt, label FROM labelled LIMIT 4", 1105, "hold out none")
	// In the background too, by the statement rather than the job.
	v.fails("CREATE ADAPTER x OPTIONS (background = true, learning_rate = (1e-3, 1e-4)) AS SELECT txt, label FROM labelled LIMIT 4", 1105, "hold out none")
	if r := v.rows("SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'x'"); r[0][0] != int64(0) {
		t.Errorf("a refused search stored an adapter")
	}
}

// SHOW PROCESSLIST shows the trial; KILL stops the search and stores
// nothing, no trials either.
func TestSearchProgressAndKill(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	v.texts(100)
	conn := v.connAs("searcher")
	done := startQuery(conn, "CREATE ADAPTER s OPTIONS (learning_rate = (1e-3, 1e-4), epochs = 10000, early_stopping = 0, batch_size = 4, max_length = 16) AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM docs")
	state := v.trainingState(conn)
	if !strings.Contains(state, "CREATE ADAPTER s (0/2 partitions)") || !strings.Contains(state, " └─ trial 1/2, epoch ") ||
		!strings.Contains(state, "/10000 step ") || !strings.Contains(state, " loss ") {
		t.Errorf("processlist state %q", state)
	}
	v.exec("KILL QUERY " + itoa(conn.ID()))
	err := v.waitQuery(done, "KILL QUERY did not stop the search")
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != 1317 {
		t.Fatalf("killed search: %v, want 1317", err)
	}
	if r := v.rows("SELECT (SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 's'), (SELECT COUNT(*) FROM adapterdb.trials)"); r[0][0] != int64(0) || r[0][1] != int64(0) {
		t.Errorf("a killed search stored %v", r)
	}
}

// adapterdb.trials shows an account only the trials of adapters it may see.
func TestSearchTrialsPrivileges(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	for _, n := range []string{"s1", "s2"} {
		v.exec("CREATE ADAPTER " + n + " OPTIONS (learning_rate = (1e-4, 1e-2), epochs = 1, max_length = 16, validation_fraction = 0.25) AS SELECT txt, label FROM labelled")
	}
	mdb := v.e.SQL.Analyzer.Catalog.MySQLDb
	mdb.SetPersister(&mysql_db.NoopPersister{})
	mdb.AddRootAccount() // turns privilege checks on
	root := v.connAs("root")
	execOn(t, root, "CREATE USER 'bob'@'localhost'")
	execOn(t, root, "GRANT SELECT ON adapterdb.* TO 'bob'@'localhost'")
	bob := v.connAs("bob")
	wantColumn(t, bob, "SELECT DISTINCT adapter FROM adapterdb.trials")
	execOn(t, root, "GRANT EXECUTE ON ADAPTER s2 TO 'bob'@'localhost'")
	wantColumn(t, bob, "SELECT adapter FROM adapterdb.trials ORDER BY trial", "s2", "s2")
	wantColumn(t, root, "SELECT DISTINCT adapter FROM adapterdb.trials ORDER BY adapter", "s1", "s2")
	failsOn(t, root, "DELETE FROM adapterdb.trials", 1105)
}
