package sqlfuncs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/vitess/go/mysql"
)

func TestCreateDropShow(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	rows := v.rows("SHOW ADAPTERS")
	if len(rows) != 3 || rows[0][0] != "sent" || rows[0][1] != "classification" || rows[0][2] != "single" || rows[0][3] != `["neg", "pos"]` ||
		rows[1][1] != "regression" || rows[2][1] != "multilabel" || rows[2][3] != `["bad", "dull", "fun", "warm"]` {
		t.Fatalf("SHOW ADAPTERS: %v", rows)
	}
	before := v.rows("SELECT name, version FROM adapterdb.adapters ORDER BY name")

	// OPTIONS reach training; the task is inferred from the target's type
	// unless given.
	res := v.exec("CREATE ADAPTER IF NOT EXISTS sent AS SELECT txt, label FROM labelled")
	if res.RowsAffected != 0 {
		t.Errorf("IF NOT EXISTS on an existing adapter: %d rows", res.RowsAffected)
	}
	v.fails("CREATE ADAPTER sent AS SELECT txt, label FROM labelled", 1304, "ADAPTER sent already exists")
	if after := v.rows("SELECT name, version FROM adapterdb.adapters ORDER BY name"); !sameRows(after, before) {
		t.Fatalf("catalog changed: %v -> %v", before, after)
	}
	res = v.exec("CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 2, adapter_size = 4, task = 'classification', seed = 7, learning_rate = 1e-3, validation_fraction = 0.25) AS SELECT txt, label FROM labelled")
	if res.RowsAffected != 8 || res.Info == nil || !strings.Contains(res.Info.String(), "adapter sent: classification, 2 labels, 2 epochs") {
		t.Errorf("CREATE OR REPLACE: %+v", res)
	}
	r := v.rows("SELECT adapter_size, JSON_EXTRACT(options, '$.epochs'), JSON_EXTRACT(options, '$.seed'), task, version > 0 FROM adapterdb.adapters WHERE name = 'sent'")
	if len(r) != 1 || r[0][0] != int64(4) || r[0][1] != `"2"` || r[0][2] != `"7"` || r[0][3] != "classification" {
		t.Errorf("options not applied: %v", r)
	}
	// An integer target with few values is classification; with the task
	// given it is a regression.
	v.exec("CREATE ADAPTER n1 " + quickOptions + " AS SELECT txt, CAST(id % 2 AS SIGNED) FROM labelled")
	v.exec("CREATE ADAPTER n2 OPTIONS (task = regression, epochs = 2) AS SELECT txt, id FROM labelled")
	if r := v.rows("SELECT name, task FROM adapterdb.adapters WHERE name LIKE 'n%' ORDER BY name"); len(r) != 2 ||
		r[0][1] != "classification" || r[1][1] != "regression" {
		t.Errorf("task inference: %v", r)
	}
	// The catalog table joins like any table.
	r = v.rows("SELECT a.name, COUNT(*) FROM adapterdb.adapters a JOIN labelled l ON PREDICT(a.name, l.txt) = l.label GROUP BY a.name ORDER BY a.name")
	if len(r) == 0 || r[0][0] != "n1" && r[0][0] != "sent" {
		t.Errorf("join: %v", r)
	}
	v.fails("INSERT INTO adapterdb.adapters (name) VALUES ('x')", 1105)
	v.fails("DROP TABLE adapterdb.adapters", 1105)

	res = v.exec("DROP ADAPTER n1")
	if res.RowsAffected != 1 {
		t.Errorf("DROP: %+v", res)
	}
	v.fails("DROP ADAPTER n1", 1305, "ADAPTER n1 does not exist")
	if res := v.exec("DROP ADAPTER IF EXISTS n1"); res.RowsAffected != 0 {
		t.Errorf("DROP IF EXISTS: %+v", res)
	}
	v.fails("SELECT PREDICT('n1', txt) FROM labelled", 1305, "n1")
	// Quoted names and comments.
	v.exec("/* c */ CREATE ADAPTER `odd.name-1` " + quickOptions + " AS SELECT txt, label FROM labelled; -- trailing")
	if r := v.rows("SELECT PREDICT('odd.name-1', 'wonderful')"); r[0][0] == nil {
		t.Errorf("quoted name: %v", r)
	}
	v.exec("drop adapter `odd.name-1`")
}

func TestCreateErrors(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	before := v.rows("SELECT name, version, sha256 FROM adapterdb.adapters ORDER BY name")
	for _, c := range []struct {
		q    string
		code int
		want string
	}{
		{"CREATE ADAPTER x AS SELECT txt FROM labelled", 1241, "2 column(s)"},
		{"CREATE ADAPTER x AS SELECT txt, label, score, id FROM labelled", 1241, "has 4"},
		{"CREATE ADAPTER x OPTIONS (epoch = 3) AS SELECT txt, label FROM labelled", 1193, "Unknown adapter option 'epoch'"},
		{"CREATE ADAPTER x OPTIONS (epochs = -3) AS SELECT txt, label FROM labelled", 1231, "Option 'epochs' can't be set to the value of '-3'"},
		{"CREATE ADAPTER x OPTIONS (task = 'ranking') AS SELECT txt, label FROM labelled", 1231, "task"},
		{"CREATE ADAPTER `bad name` AS SELECT txt, label FROM labelled", 1103, "Incorrect adapter name 'bad name'"},
		{"CREATE ADAPTER x AS SELECT txt, label FROM nosuchtable", 1146, "nosuchtable"},
		{"CREATE ADAPTER x AS SELECT txt, label FROM labelled WHERE id = 1", 1105, "at least two classes"},
		{"CREATE ADAPTER x AS SELECT txt, NULL FROM labelled", 1105, "target is NULL"},
		{"CREATE ADAPTER x AS SELECT NULL, label FROM labelled", 1105, "text is NULL"},
		{"CREATE ADAPTER x OPTIONS (task = regression) AS SELECT txt, label FROM labelled", 1105, "is not a number"},
		{"CREATE ADAPTER x FROM 'x.safetensors'", 1290, "without a files directory"},
		{"EXPORT ADAPTER sent TO 'x.safetensors'", 1290, "without a files directory"},
	} {
		v.fails(c.q, c.code, c.want)
	}
	if after := v.rows("SELECT name, version, sha256 FROM adapterdb.adapters ORDER BY name"); !sameRows(after, before) {
		t.Fatalf("catalog changed: %v -> %v", before, after)
	}
}

func TestSyntaxErrors(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	for _, c := range []struct {
		q    string
		want string
	}{
		{"CREATE ADAPTER", "expected an adapter name at position 15 (end of statement)"},
		{"CREATE ADAPTER x OPTONS (a = 1) AS SELECT 1, 2", "expected AS SELECT ... or FROM 'file' at position 18 near 'OPTONS"},
		{"CREATE ADAPTER x OPTIONS (epochs 3) AS SELECT 1, 2", "expected '=' at position 34 near '3) AS"},
		{"CREATE ADAPTER x OPTIONS (epochs = 3 AS SELECT 1, 2", "expected ',' or ')' at position 38"},
		{"CREATE ADAPTER x OPTIONS (epochs = 3, epochs = 4) AS SELECT 1, 2", "option epochs given twice"},
		{"CREATE OR REPLACE ADAPTER IF NOT EXISTS x AS SELECT 1, 2", "OR REPLACE and IF NOT EXISTS"},
		{"CREATE ADAPTER x AS SELEC txt, label FROM labelled", "(in the SELECT after AS)"},
		{"CREATE ADAPTER x AS SELECT txt, label FRM labelled", "at position 51 near 'labelled'"},
		{"CREATE ADAPTER x AS", "expected a SELECT after AS"},
		{"CREATE ADAPTER x AS INSERT INTO t VALUES (1)", "expected a SELECT after AS"},
		{"CREATE ADAPTER x FROM file.safetensors", "expected a file name as a quoted string"},
		{"CREATE ADAPTER x FROM 'unterminated", "unterminated string at position 23"},
		{"DROP ADAPTER IF sent", "expected EXISTS"},
		{"DROP ADAPTER sent extra", "unexpected identifier at position 19 near 'extra'"},
		{"SHOW ADAPTERS LIKE 'x'", "unexpected identifier"},
		{"EXPORT ADAPTER sent 'f'", "expected TO"},
		{"SHOW ADAPTERS; SHOW ADAPTERS", "one statement at a time"},
		{"SELEC 1", "syntax error at position 6 near 'SELEC'"},
		{"SELECT * FORM labelled", "syntax error"},
	} {
		v.fails(c.q, 1064, "You have an error in your SQL syntax", c.want)
	}
}

func TestFilesDir(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	v := newEnv(t, envOpts{filesDir: dir})
	v.withAdapters()
	v.exec("EXPORT ADAPTER sent TO 'sent.safetensors'")
	v.exec("EXPORT ADAPTER stars TO '" + filepath.Join(dir, "stars.safetensors") + "'")
	if st, err := os.Stat(filepath.Join(dir, "sent.safetensors")); err != nil || st.Size() == 0 {
		t.Fatalf("exported file: %v", err)
	}
	v.fails("EXPORT ADAPTER sent TO 'sent.safetensors'", 1086, "already exists")
	v.fails("EXPORT ADAPTER nope TO 'nope.safetensors'", 1305, "nope")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Escapes: .., absolute paths elsewhere, links pointing out.
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.safetensors")
	if err := os.WriteFile(secret, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link.safetensors")); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"EXPORT ADAPTER sent TO '../x.safetensors'",
		"EXPORT ADAPTER sent TO 'sub/../../x.safetensors'",
		"EXPORT ADAPTER sent TO '" + filepath.Join(outside, "x.safetensors") + "'",
		"EXPORT ADAPTER sent TO 'out/x.safetensors'",
		"CREATE ADAPTER x FROM '../secret.safetensors'",
		"CREATE ADAPTER x FROM 'out/secret.safetensors'",
		"CREATE ADAPTER x FROM 'link.safetensors'",
		"CREATE ADAPTER x FROM '" + secret + "'",
	} {
		v.fails(q, 1290, "outside that directory")
	}
	if _, err := os.Stat(filepath.Join(outside, "x.safetensors")); err == nil {
		t.Fatal("a file was written outside --files-dir")
	}
	v.fails("CREATE ADAPTER x FROM 'missing.safetensors'", 29, "not found")
	if err := os.WriteFile(filepath.Join(dir, "junk.safetensors"), []byte("not a safetensors file"), 0o644); err != nil {
		t.Fatal(err)
	}
	v.fails("CREATE ADAPTER x FROM 'junk.safetensors'", 1105, "CREATE ADAPTER x", "not a safetensors file: it starts with the text \"not a sa\"")
	v.fails("CREATE ADAPTER x OPTIONS (epochs = 1) FROM 'sent.safetensors'", 1210, "OPTIONS apply to training")

	// Round trip: the imported adapter predicts what the exported one did.
	v.exec("CREATE ADAPTER sent2 FROM 'sent.safetensors'")
	v.fails("CREATE ADAPTER sent2 FROM 'sent.safetensors'", 1304, "already exists")
	v.exec("CREATE OR REPLACE ADAPTER sent2 FROM 'sub/../sent.safetensors'")
	r := v.rows("SELECT COUNT(*) FROM labelled WHERE PREDICT('sent', txt) = PREDICT('sent2', txt)")
	if r[0][0] != int64(8) {
		t.Errorf("imported adapter disagrees: %v", r)
	}
}

func TestKillTraining(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	before := v.rows("SELECT name, version FROM adapterdb.adapters ORDER BY name")
	v.texts(400)
	conn := v.connAs("trainer")
	done := startQuery(conn, "CREATE OR REPLACE ADAPTER sent OPTIONS (epochs = 10000, batch_size = 4, early_stopping = 0) AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM docs")
	// Progress shows in SHOW PROCESSLIST while it trains.
	state := v.trainingState(conn)
	if !strings.Contains(state, "CREATE ADAPTER sent (") || !strings.Contains(state, "/10000 partitions)") ||
		!strings.Contains(state, " └─ epoch ") || !strings.Contains(state, "/900000 loss ") || !strings.Contains(state, "/360 rows)") {
		t.Errorf("processlist state %q", state)
	}
	// Only training's two lines: the SELECT's table (docs) is read by then.
	if lines := strings.Split(strings.TrimSpace(state), "\n"); len(lines) != 2 || strings.Contains(state, "docs") {
		t.Errorf("processlist state %q: want training's two lines only", state)
	}
	// A table named like the statement's own entry leaves that entry alone.
	v.exec("CREATE TABLE `CREATE ADAPTER z` AS SELECT id, txt FROM docs")
	zconn := v.connAs("trainer")
	zdone := startQuery(zconn, "CREATE ADAPTER z OPTIONS (epochs = 10000, batch_size = 4, early_stopping = 0) AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM `CREATE ADAPTER z`")
	if state := v.trainingState(zconn); !strings.Contains(state, "CREATE ADAPTER z (") || !strings.Contains(state, "/10000 partitions)") {
		t.Errorf("processlist state with a table named like the entry: %q", state)
	}
	v.exec("KILL QUERY " + itoa(zconn.ID()))
	if err := v.waitQuery(zdone, "KILL QUERY did not stop training z"); err == nil {
		t.Fatal("killed training succeeded")
	}
	v.exec("KILL QUERY " + itoa(conn.ID()))
	err := v.waitQuery(done, "KILL QUERY did not stop training")
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != 1317 {
		t.Fatalf("killed training: %v, want 1317", err)
	}
	if after := v.rows("SELECT name, version FROM adapterdb.adapters ORDER BY name"); !sameRows(after, before) {
		t.Fatalf("catalog changed: %v -> %v", before, after)
	}
	// The connection and the engine keep working.
	if _, err := conn.Exec(context.Background(), "SELECT PREDICT('sent', 'fine')", nil); err != nil {
		t.Fatal(err)
	}
	// A cancelled Go context cancels too.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = conn.Exec(ctx, "CREATE ADAPTER other OPTIONS (epochs = 10000, early_stopping = 0) AS SELECT txt, IF(id % 2 = 0, 'a', 'b') FROM docs", nil)
	if !errors.As(err, &se) || se.Num != 1317 {
		t.Fatalf("cancelled training: %v, want 1317", err)
	}
}

func itoa(n uint32) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{digits[n%10]}, b...)
		n /= 10
	}
	return string(b)
}

// An unknown option's message names every option OPTIONS (...) accepts, and
// only those: each one it names is taken (a bad value is 1231, not 1193).
func TestUnknownOptionNamesEveryKey(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	se := v.fails("CREATE ADAPTER s4 OPTIONS (k0 = 1) AS SELECT txt, label FROM labelled", 1193,
		"Unknown adapter option 'k0'", "keep_versions", "background", "search", "trials", "learning_rate")
	_, list, ok := strings.Cut(se.Message, "(known: ")
	if !ok {
		t.Fatalf("no list of known options: %q", se.Message)
	}
	for _, k := range strings.Split(strings.TrimSuffix(list, ")"), ", ") {
		q := "CREATE ADAPTER s4 OPTIONS (" + k + " = 'nonsense') AS SELECT txt, label FROM labelled"
		_, err := v.tryRows(q)
		var me *mysql.SQLError
		if err == nil || !errors.As(err, &me) || me.Num == 1193 {
			t.Errorf("option %s is listed as known but: %v", k, err)
		}
	}
}

// Values whose limits depend on the base model, or on a task given with them,
// are refused with 1231 before any row is read: a NULL target would be the
// first row's error otherwise.
func TestOptionsCheckedAgainstModel(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	v.fails("CREATE ADAPTER x OPTIONS (adapter_size = 5000) AS SELECT txt, NULL FROM labelled", 1231,
		"Option 'adapter_size' can't be set to the value of '5000': 5000 is out of range [1, 128] (at most 4 × the base model's hidden size 32)")
	v.fails("CREATE ADAPTER x OPTIONS (class_weights = 'balanced', task = 'regression') AS SELECT txt, NULL FROM labelled", 1231,
		"Option 'class_weights' can't be set to the value of 'balanced': balanced weighs classes, so it needs a classification task; task is regression")
	v.fails("CREATE ADAPTER x OPTIONS (ADAPTER_SIZE = (4, 129), epochs = 1) AS SELECT txt, label FROM labelled", 1231,
		"Option 'adapter_size' can't be set to the value of '(4, 129)': 129 is out of range")
	if r := v.rows("SELECT COUNT(*) FROM adapterdb.adapters WHERE name = 'x'"); r[0][0] != int64(0) {
		t.Errorf("a refused statement stored an adapter")
	}
}
