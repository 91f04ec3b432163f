package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/information_schema"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
)

// testDB is an engine over a provider on a fresh file, with one session.
type testDB struct {
	t    testing.TB
	path string
	cat  *catalog.Catalog
	pro  *Provider
	eng  *sqle.Engine
	sess *Session
}

func newTestDB(t testing.TB, opts ProviderOptions) *testDB {
	t.Helper()
	return openTestDB(t, filepath.Join(t.TempDir(), "db.sqlite"), opts)
}

// openTestDB opens (or reopens) a file.
func openTestDB(t testing.TB, path string, opts ProviderOptions) *testDB {
	t.Helper()
	cat, pro := openProvider(t, path, opts)
	db := &testDB{t: t, path: path, cat: cat, pro: pro, eng: newEngine(pro)}
	db.sess = db.newSession()
	t.Cleanup(db.close)
	return db
}

// openProvider opens the file and a provider on it; the caller closes both.
func openProvider(t testing.TB, path string, opts ProviderOptions) (*catalog.Catalog, *Provider) {
	t.Helper()
	cat, err := catalog.Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	pro, err := NewProvider(cat, opts)
	if err != nil {
		cat.Close()
		t.Fatal(err)
	}
	return cat, pro
}

func newEngine(pro *Provider) *sqle.Engine {
	a := InstallRules(analyzer.NewBuilder(pro)).Build()
	a.Catalog.MySQLDb.AddRootAccount()
	a.Catalog.InfoSchema = information_schema.NewInformationSchemaDatabase()
	return sqle.New(a, &sqle.Config{})
}

var sessionIDs atomic.Uint32

func (db *testDB) newSession() *Session {
	id := sessionIDs.Add(1) + 100
	s := db.pro.NewSession(sql.NewBaseSessionWithClientServer("test", sql.Client{User: "root", Address: "localhost"}, id))
	s.SetCurrentDatabase(db.pro.DefaultDatabase())
	return s
}

func (db *testDB) close() {
	if db.sess != nil {
		db.sess.Close()
	}
	db.pro.Close()
	db.cat.Close()
}

// query runs q in session s and returns all rows.
func (db *testDB) queryIn(s *Session, q string) ([]sql.Row, error) {
	ctx := sql.NewContext(context.Background(), sql.WithSession(s)).WithQuery(q)
	_, iter, _, err := db.eng.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return sql.RowIterToRows(ctx, iter)
}

func (db *testDB) query(q string) ([]sql.Row, error) {
	return db.queryIn(db.sess, q)
}

func (db *testDB) mustExec(q string) []sql.Row {
	db.t.Helper()
	rows, err := db.query(q)
	if err != nil {
		db.t.Fatalf("%s: %v", q, err)
	}
	return rows
}

func (db *testDB) expect(q string, want ...sql.Row) {
	db.t.Helper()
	got := db.mustExec(q)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(normRows(got), normRows(want)) {
		db.t.Fatalf("%s:\n got %v\nwant %v", q, got, want)
	}
}

// normRows renders rows as strings of their values (types differ by width).
func normRows(rows []sql.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%v", r)
	}
	return out
}
