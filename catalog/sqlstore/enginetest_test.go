package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/enginetest"
	"github.com/dolthub/go-mysql-server/enginetest/queries"
	"github.com/dolthub/go-mysql-server/enginetest/scriptgen/setup"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
)

// GMS's own engine suites, run against the SQLite provider. Each NewEngine is
// a fresh database file (synchronous=OFF: the suites test semantics, not
// durability, which durability_test.go covers).

type harness struct {
	t      *testing.T
	setup  []setup.SetupScript
	mu     sync.Mutex
	cur    *testDB
	sess   *Session
	skips  map[string]string // lower-case query or script name -> reason
	nEng   int
	parent string
}

var (
	_ enginetest.Harness             = (*harness)(nil)
	_ enginetest.IndexHarness        = (*harness)(nil)
	_ enginetest.ForeignKeyHarness   = (*harness)(nil)
	_ enginetest.KeylessTableHarness = (*harness)(nil)
	_ enginetest.TransactionHarness  = (*harness)(nil)
	_ enginetest.SkippingHarness     = (*harness)(nil)
	_ enginetest.ClientHarness       = (*harness)(nil)
)

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, skips: map[string]string{}, parent: t.TempDir()}
	for q, why := range skippedQueries {
		h.skips[strings.ToLower(q)] = why
	}
	return h
}

func (h *harness) SupportsNativeIndexCreation() bool { return true }
func (h *harness) SupportsForeignKeys() bool         { return true }
func (h *harness) SupportsKeylessTables() bool       { return true }

func (h *harness) SkipQueryTest(q string) bool {
	_, ok := h.skips[strings.ToLower(strings.TrimSpace(q))]
	return ok
}

func (h *harness) Setup(scripts ...[]setup.SetupScript) {
	h.setup = nil
	for _, s := range scripts {
		h.setup = append(h.setup, s...)
	}
}

func (h *harness) provider() *testDB {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		h.nEng++
		dir := filepath.Join(h.parent, "e"+itoa(h.nEng))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			h.t.Fatal(err)
		}
		cat, err := catalog.Open(filepath.Join(dir, "db.sqlite"), zerolog.Nop())
		if err != nil {
			h.t.Fatal(err)
		}
		pro, err := NewProvider(cat, ProviderOptions{DefaultDatabase: "mydb", NoDefaultDatabase: true, Synchronous: SyncOff, BusyTimeout: 100 * time.Millisecond})
		if err != nil {
			h.t.Fatal(err)
		}
		h.cur = &testDB{t: h.t, cat: cat, pro: pro, eng: newEngine(pro)}
		h.cur.eng.Analyzer.Catalog.StatsProvider = memory.NewStatsProv()
		cur := h.cur
		h.t.Cleanup(func() {
			cur.pro.Close()
			cur.cat.Close()
		})
	}
	return h.cur
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// sessionBuilder makes server sessions on the current engine's provider.
func (h *harness) sessionBuilder(ctx context.Context, c *mysql.Conn, addr string) (sql.Session, error) {
	return h.provider().pro.SessionBuilder()(ctx, c, addr)
}

func (h *harness) NewContext() *sql.Context {
	db := h.provider()
	if h.sess == nil {
		h.sess = db.pro.NewSession(enginetest.NewBaseSession())
	}
	return sql.NewContext(context.Background(), sql.WithSession(h.sess))
}

func (h *harness) NewContextWithClient(client sql.Client) *sql.Context {
	db := h.provider()
	s := db.pro.NewSession(sql.NewBaseSessionWithClientServer("address", client, 1))
	return sql.NewContext(context.Background(), sql.WithSession(s))
}

func (h *harness) NewSession() *sql.Context {
	db := h.provider()
	h.sess = db.pro.NewSession(enginetest.NewBaseSession())
	return h.NewContext()
}

func (h *harness) NewEngine(t *testing.T) (enginetest.QueryEngine, error) {
	h.mu.Lock()
	old := h.cur
	h.cur, h.sess = nil, nil
	h.mu.Unlock()
	if old != nil {
		old.pro.Close()
		old.cat.Close()
	}
	db := h.provider()
	scripts := h.setup
	if len(scripts) == 0 {
		scripts = setup.MydbData
	}
	ctx := enginetest.NewContext(h)
	for _, script := range scripts {
		for _, q := range script {
			qctx := ctx.WithQuery(q)
			_, iter, _, err := db.eng.Query(qctx, q)
			if err == nil {
				_, err = sql.RowIterToRows(qctx, iter)
			}
			if err != nil {
				return nil, fmt.Errorf("setup %q: %w", q, err)
			}
		}
	}
	h.sess = nil
	return db.eng, nil
}

// Reasons for skipping, shared by the lists below (docs/storage.md has them).
const (
	whySingleWriter = "needs two open write transactions at once: SQLite has one writer at a time, the second waits for the first (busy timeout)"
	whyTempTables   = "CREATE TEMPORARY TABLE is not supported by the SQLite provider"
	whyMemoryProcs  = "uses the memory harness's external stored procedures (memory_*), which only exist there"
	whyCursorOpen   = "a stored-procedure cursor reads its rows when fetched; the test expects them captured at OPEN"
	whyJSONText     = "JSON is stored as JSON text: number subtypes made by CAST(... AS JSON) (DECIMAL, UNSIGNED) come back as JSON text parses"
	whySecondEdge   = "compares NOW() (the statement's start) with SYSDATE() (the moment it is evaluated) to the second: false whenever a second boundary falls between the two, on any engine; CI hit it once"
)

// skippedQueries are queries and script names that cannot pass against the
// SQLite provider, with the reason.
var skippedQueries = map[string]string{
	"procedure grants and restrictions":                          whyMemoryProcs,
	"CALL mydb.memory_admin_only(1,2)":                           whyMemoryProcs,
	"CALL mydb.memory_variadic_add(3,2)":                         whyMemoryProcs,
	"CALL mydb.memory_admin_only(7,2)":                           whyMemoryProcs,
	"FETCH captures state at OPEN":                               whyCursorOpen,
	"select now() = sysdate(), sleep(0.5), now(6) < sysdate(6);": whySecondEdge,
	// TestJsonScripts takes its own skip list (jsonSkips).
}

// jsonSkips are JsonScripts left out, for whyJSONText.
var jsonSkips = []string{"types survive round-trip into tables", "unsigned tinyint is still unsigned after round-trip into table"}

// skippedTransactionScripts are transaction tests (by name) left out.
var skippedTransactionScripts = map[string]string{
	"autocommit off":                         whySingleWriter,
	"rollback":                               whySingleWriter,
	"rollback to savepoint":                  whySingleWriter,
	"release savepoint":                      whySingleWriter,
	"Test AUTO INCREMENT with no autocommit": whySingleWriter,
	"READ ONLY Transactions":                 whyTempTables,
	"certain ddl queries on temporary tables are not implicitly committed": whyTempTables,
}

// runLoadData runs GMS's LOAD DATA suite from its own directory, where its
// test files are (./testdata/...).
func runLoadData(t *testing.T, h *harness) {
	file, _ := runtime.FuncForPC(reflect.ValueOf(enginetest.TestLoadData).Pointer()).FileLine(0)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(filepath.Dir(file)); err != nil {
		t.Skipf("GMS enginetest sources not found (%v)", err)
	}
	defer os.Chdir(wd)
	enginetest.TestLoadData(t, h)
}

func runTransactionScripts(t *testing.T, h *harness) {
	for _, script := range queries.TransactionTests {
		if why, ok := skippedTransactionScripts[script.Name]; ok {
			t.Run(script.Name, func(t *testing.T) { t.Skip(why) })
			continue
		}
		enginetest.TestTransactionScript(t, h, script)
	}
}

// suites lists the GMS suites that apply to a storage provider. Suites left
// out are listed in docs/storage.md with the reason.
var suites = []struct {
	name string
	long bool
	run  func(*testing.T, *harness)
}{
	{"Queries", false, func(t *testing.T, h *harness) { enginetest.TestQueries(t, h) }},
	{"InsertInto", false, func(t *testing.T, h *harness) { enginetest.TestInsertInto(t, h) }},
	{"Update", false, func(t *testing.T, h *harness) { enginetest.TestUpdate(t, h) }},
	{"Delete", false, func(t *testing.T, h *harness) { enginetest.TestDelete(t, h) }},
	{"Truncate", false, func(t *testing.T, h *harness) { enginetest.TestTruncate(t, h) }},
	{"CreateTable", false, func(t *testing.T, h *harness) { enginetest.TestCreateTable(t, h) }},
	{"DropTable", false, func(t *testing.T, h *harness) { enginetest.TestDropTable(t, h) }},
	{"TransactionScripts", false, runTransactionScripts},
	{"JoinQueries", true, func(t *testing.T, h *harness) { enginetest.TestJoinQueries(t, h) }},
	{"QueriesPrepared", true, func(t *testing.T, h *harness) { enginetest.TestQueriesPrepared(t, h) }},
	{"Scripts", true, func(t *testing.T, h *harness) { enginetest.TestScripts(t, h) }},
	{"InsertIntoErrors", true, func(t *testing.T, h *harness) { enginetest.TestInsertIntoErrors(t, h) }},
	{"InsertIgnoreInto", true, func(t *testing.T, h *harness) { enginetest.TestInsertIgnoreInto(t, h) }},
	{"ReplaceInto", true, func(t *testing.T, h *harness) { enginetest.TestReplaceInto(t, h) }},
	{"ReplaceIntoErrors", true, func(t *testing.T, h *harness) { enginetest.TestReplaceIntoErrors(t, h) }},
	{"UpdateIgnore", true, func(t *testing.T, h *harness) { enginetest.TestUpdateIgnore(t, h) }},
	{"UpdateErrors", true, func(t *testing.T, h *harness) { enginetest.TestUpdateErrors(t, h) }},
	{"DeleteErrors", true, func(t *testing.T, h *harness) { enginetest.TestDeleteErrors(t, h) }},
	{"RenameTable", true, func(t *testing.T, h *harness) { enginetest.TestRenameTable(t, h) }},
	{"RenameColumn", true, func(t *testing.T, h *harness) { enginetest.TestRenameColumn(t, h) }},
	{"AddColumn", true, func(t *testing.T, h *harness) { enginetest.TestAddColumn(t, h) }},
	{"ModifyColumn", true, func(t *testing.T, h *harness) { enginetest.TestModifyColumn(t, h) }},
	{"DropColumn", true, func(t *testing.T, h *harness) { enginetest.TestDropColumn(t, h) }},
	{"DropColumnKeylessTables", true, func(t *testing.T, h *harness) { enginetest.TestDropColumnKeylessTables(t, h) }},
	{"AlterTable", true, func(t *testing.T, h *harness) { enginetest.TestAlterTable(t, h) }},
	{"ColumnDefaults", true, func(t *testing.T, h *harness) { enginetest.TestColumnDefaults(t, h) }},
	{"CreateDatabase", true, func(t *testing.T, h *harness) { enginetest.TestCreateDatabase(t, h) }},
	{"DropDatabase", true, func(t *testing.T, h *harness) { enginetest.TestDropDatabase(t, h) }},
	{"PkOrdinalsDDL", true, func(t *testing.T, h *harness) { enginetest.TestPkOrdinalsDDL(t, h) }},
	{"PkOrdinalsDML", true, func(t *testing.T, h *harness) { enginetest.TestPkOrdinalsDML(t, h) }},
	{"AddDropPks", true, func(t *testing.T, h *harness) { enginetest.TestAddDropPks(t, h) }},
	{"NullRanges", true, func(t *testing.T, h *harness) { enginetest.TestNullRanges(t, h) }},
	{"Indexes", true, func(t *testing.T, h *harness) { enginetest.TestIndexes(t, h) }},
	{"IndexPrefix", true, func(t *testing.T, h *harness) { enginetest.TestIndexPrefix(t, h) }},
	{"ForeignKeys", true, func(t *testing.T, h *harness) { enginetest.TestForeignKeys(t, h) }},
	{"CreateForeignKeys", true, func(t *testing.T, h *harness) { enginetest.TestCreateForeignKeys(t, h) }},
	{"DropForeignKeys", true, func(t *testing.T, h *harness) { enginetest.TestDropForeignKeys(t, h) }},
	{"CreateCheckConstraints", true, func(t *testing.T, h *harness) { enginetest.TestCreateCheckConstraints(t, h) }},
	{"ChecksOnInsert", true, func(t *testing.T, h *harness) { enginetest.TestChecksOnInsert(t, h) }},
	{"ChecksOnUpdate", true, func(t *testing.T, h *harness) { enginetest.TestChecksOnUpdate(t, h) }},
	{"DropCheckConstraints", true, func(t *testing.T, h *harness) { enginetest.TestDropCheckConstraints(t, h) }},
	{"Triggers", true, func(t *testing.T, h *harness) { enginetest.TestTriggers(t, h) }},
	{"Views", true, func(t *testing.T, h *harness) { enginetest.TestViews(t, h) }},
	{"StoredProcedures", true, func(t *testing.T, h *harness) { enginetest.TestStoredProcedures(t, h) }},
	{"Blobs", true, func(t *testing.T, h *harness) { enginetest.TestBlobs(t, h) }},
	{"CharsetCollationEngine", true, func(t *testing.T, h *harness) { enginetest.TestCharsetCollationEngine(t, h) }},
	{"LoadData", true, runLoadData},
	{"InsertDuplicateKeyKeyless", true, func(t *testing.T, h *harness) { enginetest.TestInsertDuplicateKeyKeyless(t, h) }},
	{"OnUpdateExprScripts", true, func(t *testing.T, h *harness) { enginetest.TestOnUpdateExprScripts(t, h) }},
	{"GeneratedColumns", true, func(t *testing.T, h *harness) { enginetest.TestGeneratedColumns(t, h) }},
	{"ConcurrentTransactions", true, func(t *testing.T, h *harness) { enginetest.TestConcurrentTransactions(t, h) }},
	{"CurrentTimestamp", true, func(t *testing.T, h *harness) { enginetest.TestCurrentTimestamp(t, h) }},
	{"InfoSchema", true, func(t *testing.T, h *harness) { enginetest.TestInfoSchema(t, h) }},
	{"ShowTableStatus", true, func(t *testing.T, h *harness) { enginetest.TestShowTableStatus(t, h) }},
	{"TypesOverWire", true, func(t *testing.T, h *harness) { enginetest.TestTypesOverWire(t, h, h.sessionBuilder) }},
	{"UserPrivileges", true, func(t *testing.T, h *harness) { enginetest.TestUserPrivileges(t, h) }},
	{"ReadOnly", true, func(t *testing.T, h *harness) { enginetest.TestReadOnly(t, h, false) }},
	{"ScriptsPrepared", true, func(t *testing.T, h *harness) { enginetest.TestScriptsPrepared(t, h) }},
	{"InsertQueriesPrepared", true, func(t *testing.T, h *harness) { enginetest.TestInsertQueriesPrepared(t, h) }},
	{"UpdateQueriesPrepared", true, func(t *testing.T, h *harness) { enginetest.TestUpdateQueriesPrepared(t, h) }},
	{"DeleteQueriesPrepared", true, func(t *testing.T, h *harness) { enginetest.TestDeleteQueriesPrepared(t, h) }},
	{"ReplaceQueriesPrepared", true, func(t *testing.T, h *harness) { enginetest.TestReplaceQueriesPrepared(t, h) }},
	{"SpatialQueries", true, func(t *testing.T, h *harness) { enginetest.TestSpatialQueries(t, h) }},
	{"SpatialInsertInto", true, func(t *testing.T, h *harness) { enginetest.TestSpatialInsertInto(t, h) }},
	{"SpatialUpdate", true, func(t *testing.T, h *harness) { enginetest.TestSpatialUpdate(t, h) }},
	{"SpatialDelete", true, func(t *testing.T, h *harness) { enginetest.TestSpatialDelete(t, h) }},
	{"SpatialScripts", true, func(t *testing.T, h *harness) { enginetest.TestSpatialScripts(t, h) }},
	{"ViewsPrepared", true, func(t *testing.T, h *harness) { enginetest.TestViewsPrepared(t, h) }},
	{"TriggerErrors", true, func(t *testing.T, h *harness) { enginetest.TestTriggerErrors(t, h) }},
	{"RollbackTriggers", true, func(t *testing.T, h *harness) { enginetest.TestRollbackTriggers(t, h) }},
	{"ShowTriggers", true, func(t *testing.T, h *harness) { enginetest.TestShowTriggers(t, h) }},
	{"InsertErrorScriptsPrepared", true, func(t *testing.T, h *harness) { enginetest.TestInsertErrorScriptsPrepared(t, h) }},
	{"InsertIgnoreScriptsPrepared", true, func(t *testing.T, h *harness) { enginetest.TestInsertIgnoreScriptsPrepared(t, h) }},
	{"CreateCheckConstraintsScriptsPrepared", true, func(t *testing.T, h *harness) { enginetest.TestCreateCheckConstraintsScriptsPrepared(t, h) }},
	{"NumericErrorScripts", true, func(t *testing.T, h *harness) { enginetest.TestNumericErrorScripts(t, h) }},
	{"Statistics", true, func(t *testing.T, h *harness) { enginetest.TestStatistics(t, h) }},
	{"NaturalJoin", true, func(t *testing.T, h *harness) { enginetest.TestNaturalJoin(t, h) }},
	{"WindowFunctions", true, func(t *testing.T, h *harness) { enginetest.TestWindowFunctions(t, h) }},
	{"Variables", true, func(t *testing.T, h *harness) { enginetest.TestVariables(t, h) }},
	{"CharsetCollationWire", true, func(t *testing.T, h *harness) { enginetest.TestCharsetCollationWire(t, h, h.sessionBuilder) }},
	{"DatabaseCollationWire", true, func(t *testing.T, h *harness) { enginetest.TestDatabaseCollationWire(t, h, h.sessionBuilder) }},
	{"PreparedInsert", true, func(t *testing.T, h *harness) { enginetest.TestPreparedInsert(t, h) }},
	{"Prepared", true, func(t *testing.T, h *harness) { enginetest.TestPrepared(t, h) }},
	{"JsonScripts", true, func(t *testing.T, h *harness) { enginetest.TestJsonScripts(t, h, jsonSkips) }},
}

func TestGMSSuites(t *testing.T) {
	for _, s := range suites {
		if s.long && os.Getenv("ADAPTERDB_LONG") == "" {
			continue
		}
		t.Run(s.name, func(t *testing.T) { s.run(t, newHarness(t)) })
	}
}
