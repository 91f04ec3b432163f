package sqlfuncs_test

import (
	"fmt"
	"testing"

	"github.com/dolthub/go-mysql-server/sql/mysql_db"
)

// flippedSelect trains sent's second version on swapped labels, so versions
// 1 and 2 disagree on every text.
const flippedSelect = " AS SELECT txt, CASE label WHEN 'pos' THEN 'neg' ELSE 'pos' END FROM labelled"

// The version statements end to end in SQL: CREATE OR REPLACE keeps version
// 1; 'sent@N' pins a version in PREDICT, PREDICT_PROBA (literal and per-row
// names) and EXPORT; SHOW ADAPTER VERSIONS and adapterdb.adapter_versions
// list them; ALTER ADAPTER ... SET ACTIVE VERSION rolls back; DROP ADAPTER
// ... VERSION refuses the active version and drops another; keep_versions
// bounds how many remain; DROP ADAPTER removes them all.
func TestAdapterVersionStatements(t *testing.T) {
	v := newEnv(t, envOpts{filesDir: t.TempDir()})
	v.withAdapters()
	v.exec("CREATE OR REPLACE ADAPTER sent " + quickOptions + flippedSelect)
	const good = "a wonderful delightful film"
	predict := func(ref string) any {
		t.Helper()
		return v.rows(fmt.Sprintf("SELECT PREDICT('%s', '%s')", ref, good))[0][0]
	}
	if a, b, c := predict("sent@1"), predict("SENT@2"), predict("sent"); a != "pos" || b != "neg" || c != "neg" {
		t.Fatalf("sent@1 %v, sent@2 %v, sent %v; want pos, neg, neg", a, b, c)
	}
	// Names read from rows, both versions in one statement.
	got := v.rows("SELECT CONCAT('sent@', n), PREDICT(CONCAT('sent@', n), '" + good + "') FROM (SELECT 1 AS n UNION ALL SELECT 2) x ORDER BY n")
	if fmt.Sprint(got) != "[[sent@1 pos] [sent@2 neg]]" {
		t.Fatalf("per-row versions: %v", got)
	}
	proba := v.rows("SELECT JSON_EXTRACT(PREDICT_PROBA('sent@1', '" + good + "'), '$.pos') > 0.5, JSON_EXTRACT(PREDICT_PROBA('sent@2', '" + good + "'), '$.pos') < 0.5")
	if fmt.Sprint(proba) != "[[true true]]" {
		t.Fatalf("PREDICT_PROBA per version: %v", proba)
	}
	show := v.rows("SHOW ADAPTER VERSIONS sent")
	if len(show) != 2 || show[0][1] != int64(1) || show[0][2] != int8(0) || show[1][1] != int64(2) || show[1][2] != int8(1) || show[1][7] != int64(5) {
		t.Fatalf("SHOW ADAPTER VERSIONS: %v", show)
	}
	if all := v.rows("SHOW ADAPTER VERSIONS"); len(all) != 4 {
		t.Fatalf("SHOW ADAPTER VERSIONS of every adapter: %d rows", len(all))
	}
	table := v.rows("SELECT name, version, active, size_bytes > 0, JSON_EXTRACT(options, '$.epochs') FROM adapterdb.adapter_versions WHERE name = 'sent' ORDER BY version")
	if fmt.Sprint(table) != `[[sent 1 0 true "30"] [sent 2 1 true "30"]]` {
		t.Fatalf("adapterdb.adapter_versions: %v", table)
	}

	// Roll back.
	v.exec("ALTER ADAPTER sent SET ACTIVE VERSION 1")
	if p := predict("sent"); p != "pos" {
		t.Fatalf("after rollback sent predicts %v", p)
	}
	if got := v.rows("SELECT version FROM adapterdb.adapters WHERE name = 'sent'"); got[0][0] != int64(1) {
		t.Fatalf("adapterdb.adapters after rollback: %v", got)
	}
	v.fails("ALTER ADAPTER sent SET ACTIVE VERSION 7", 1305, "ADAPTER sent@7 does not exist")
	v.fails("ALTER ADAPTER nope SET ACTIVE VERSION 1", 1305, "ADAPTER nope does not exist")
	v.fails("ALTER ADAPTER sent SET ACTIVE VERSION 0", 1064, "expected a version number")
	v.fails("DROP ADAPTER sent VERSION 1", 1290, "active version", "ALTER ADAPTER sent SET ACTIVE VERSION")

	// EXPORT a pinned version and import it as a new version of another.
	v.exec("EXPORT ADAPTER sent@2 TO 'v2.safetensors'")
	v.fails("EXPORT ADAPTER sent@9 TO 'v9.safetensors'", 1305, "ADAPTER sent@9 does not exist")
	v.exec("CREATE OR REPLACE ADAPTER stars OPTIONS (keep_versions = 3) FROM 'v2.safetensors'")
	if p := predict("stars"); p != "neg" {
		t.Fatalf("imported version 2 predicts %v", p)
	}
	v.fails("CREATE OR REPLACE ADAPTER stars OPTIONS (keep_versions = 3, epochs = 2) FROM 'v2.safetensors'", 1210, "OPTIONS apply to training")

	v.exec("DROP ADAPTER sent VERSION 2")
	v.fails("SELECT PREDICT('sent@2', 'x')", 1305, "ADAPTER sent@2 does not exist")
	v.fails("DROP ADAPTER sent VERSION 2", 1305)
	v.exec("DROP ADAPTER IF EXISTS sent VERSION 2")
	if w := v.rows("SHOW WARNINGS"); len(w) != 1 || w[0][1] != uint32(1305) && w[0][1] != int64(1305) && fmt.Sprint(w[0][1]) != "1305" {
		t.Fatalf("warnings %v", w)
	}

	// Retention: keep_versions = 2 leaves the two newest; it sticks.
	v.fails("CREATE OR REPLACE ADAPTER sent OPTIONS (keep_versions = 0) AS SELECT txt, label FROM labelled", 1231, "keep_versions")
	v.fails("CREATE OR REPLACE ADAPTER sent OPTIONS (keep_versions = 'many') AS SELECT txt, label FROM labelled", 1231, "keep_versions")
	for i := 0; i < 3; i++ {
		opts := "OPTIONS (epochs = 1, max_length = 16, validation_fraction = 0, adapter_size = 8)"
		if i == 0 {
			opts = "OPTIONS (keep_versions = 2, epochs = 1, max_length = 16, validation_fraction = 0, adapter_size = 8)"
		}
		v.exec("CREATE OR REPLACE ADAPTER sent " + opts + " AS SELECT txt, label FROM labelled")
	}
	if got := v.rows("SELECT version, active, keep_versions FROM adapterdb.adapter_versions WHERE name = 'sent' ORDER BY version"); fmt.Sprint(got) != "[[4 0 2] [5 1 2]]" {
		t.Fatalf("after keep_versions = 2: %v", got)
	}

	v.exec("DROP ADAPTER sent")
	if got := v.rows("SELECT COUNT(*) FROM adapterdb.adapter_versions WHERE name = 'sent'"); got[0][0] != int64(0) {
		t.Fatalf("versions after DROP ADAPTER: %v", got)
	}
	v.fails("SHOW ADAPTER VERSIONS sent", 1305, "ADAPTER sent does not exist")
}

// ALTER ADAPTER needs ALTER on the adapter, DROP ... VERSION needs DROP,
// SHOW ADAPTER VERSIONS shows only adapters the account may see; a pinned
// name is checked as its adapter.
func TestAdapterVersionPrivileges(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.withAdapters()
	v.exec("CREATE OR REPLACE ADAPTER sent " + quickOptions + flippedSelect)
	mdb := v.e.SQL.Analyzer.Catalog.MySQLDb
	mdb.SetPersister(&mysql_db.NoopPersister{})
	mdb.AddRootAccount()
	root := v.connAs("root")
	execOn(t, root, "CREATE USER 'reader'@'localhost'")
	execOn(t, root, "GRANT SELECT ON *.* TO 'reader'@'localhost'")
	execOn(t, root, "CREATE USER 'nobody'@'localhost'")
	reader := v.connAs("reader")
	failsOn(t, reader, "ALTER ADAPTER sent SET ACTIVE VERSION 1", 1142, "ALTER command denied", "sent")
	failsOn(t, reader, "DROP ADAPTER sent VERSION 1", 1142, "DROP command denied")
	execOn(t, reader, "SELECT PREDICT('sent@1', 'x')")
	nobody := v.connAs("nobody")
	failsOn(t, nobody, "SHOW ADAPTER VERSIONS sent", 1142, "command denied")
	failsOn(t, nobody, "SELECT PREDICT('sent@1', 'x')", 1142, "EXECUTE command denied", "'sent'")
	execOn(t, root, "GRANT ALTER ON ADAPTER sent TO 'reader'@'localhost'")
	execOn(t, reader, "ALTER ADAPTER sent SET ACTIVE VERSION 1")
}
