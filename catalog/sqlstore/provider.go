package sqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
)

// DefaultDatabase is the user database created in a new file and selected by
// default. (The SQL layer's read-only `adapterdb` database, the adapter
// catalog, is a different one.)
const DefaultDatabase = "main"

// ProviderOptions tunes a Provider.
type ProviderOptions struct {
	// DefaultDatabase is created when the file has no user database yet
	// ("" means DefaultDatabase).
	DefaultDatabase string
	// NoDefaultDatabase leaves a new file without databases (tests).
	NoDefaultDatabase bool
	// Synchronous is SQLite's durability level ("" means SyncFull).
	Synchronous Synchronous
	// BusyTimeout bounds how long a writer waits for another writer
	// (0 means 10 s).
	BusyTimeout time.Duration
	// Extra are read-only databases served next to the user databases, such
	// as the SQL layer's `adapterdb` virtual database. Their names cannot be
	// created or dropped.
	Extra []sql.Database
}

// Provider is a go-mysql-server database provider whose databases and tables
// live in the catalog's SQLite file. It is safe for concurrent use; each
// client session gets its own Session (NewSession).
type Provider struct {
	cat         *catalog.Catalog
	pool        *pool
	log         zerolog.Logger
	busyTimeout time.Duration
	defaultDB   string
	noDefault   bool
	extra       map[string]sql.Database

	mu   sync.Mutex
	snap *schemaSnap // latest committed schema known

	txSeq atomic.Uint64

	estMu sync.Mutex
	est   map[int64]*rowEstimate
}

// rowEstimate is a table's row count as last counted, and how many rows were
// written since through this provider.
type rowEstimate struct {
	rows    int64
	at      time.Time
	changes atomic.Int64
}

var (
	_ sql.DatabaseProvider         = (*Provider)(nil)
	_ sql.MutableDatabaseProvider  = (*Provider)(nil)
	_ sql.CollatedDatabaseProvider = (*Provider)(nil)
)

// NewProvider opens the provider on the catalog's file, creating the metadata
// tables and the default database if they are missing. It takes the open
// catalog, not a path, so the file has been checked (directory, WAL mode,
// not another kind of file) once, by catalog.Open, before any table is read.
func NewProvider(c *catalog.Catalog, opts ProviderOptions) (*Provider, error) {
	if opts.DefaultDatabase == "" {
		opts.DefaultDatabase = DefaultDatabase
	}
	if opts.Synchronous == "" {
		opts.Synchronous = SyncFull
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	p := &Provider{
		cat:         c,
		pool:        newPool(c.Path(), opts.Synchronous, opts.BusyTimeout),
		log:         c.Logger(),
		busyTimeout: opts.BusyTimeout,
		defaultDB:   opts.DefaultDatabase,
		noDefault:   opts.NoDefaultDatabase,
		extra:       map[string]sql.Database{},
	}
	for _, d := range opts.Extra {
		p.extra[lower(d.Name())] = d
	}
	if err := p.init(); err != nil {
		p.pool.close()
		return nil, fmt.Errorf("open tables in %s: %w", c.Path(), err)
	}
	return p, nil
}

func (p *Provider) init() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.busyTimeout+5*time.Second)
	defer cancel()
	c, err := p.pool.get()
	if err != nil {
		return err
	}
	defer p.pool.put(c)
	// Asked first, in a read transaction: a file already set up needs no
	// write, which would wait for another process's write lock (an import,
	// an open transaction) before the file could even be opened.
	if snap, err := readSetUp(c, !p.noDefault); err != nil || snap != nil {
		if err == nil {
			p.snap = snap
		}
		return err
	}
	if _, err := c.exec("BEGIN IMMEDIATE"); err != nil {
		return mapError(err, "adapterdb_meta")
	}
	commit := false
	defer func() {
		if !commit {
			c.exec("ROLLBACK")
		}
	}()
	if err := initMeta(ctx, c); err != nil {
		return mapError(err, "adapterdb_meta")
	}
	dest := make([]driver.Value, 1)
	found, err := c.queryRow(dest, "SELECT 1 FROM adapterdb_databases LIMIT 1")
	if err != nil {
		return err
	}
	if !found && !p.noDefault {
		if err := createDatabaseMeta(c, p.defaultDB, sql.Collation_Default); err != nil {
			return err
		}
		if err := bumpVersion(c); err != nil {
			return err
		}
	}
	snap, err := loadSchema(c)
	if err != nil {
		return err
	}
	if _, err := c.exec("COMMIT"); err != nil {
		return mapError(err, "adapterdb_meta")
	}
	commit = true
	p.snap = snap
	return nil
}

// readSetUp loads the schema of a file set up by this release (its setup
// row at least metaSetup and, when needDB, a database), in a read
// transaction, which in WAL mode neither waits for writers nor blocks them.
// It returns nil when the file needs init's write: a new file, or one an
// earlier release set up.
func readSetUp(c *sqliteConn, needDB bool) (*schemaSnap, error) {
	if _, err := c.exec("BEGIN"); err != nil {
		return nil, mapError(err, "adapterdb_meta")
	}
	defer c.exec("ROLLBACK") // it wrote nothing
	dest := make([]driver.Value, 1)
	found, err := c.queryRow(dest, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'adapterdb_meta'")
	if err != nil || !found {
		return nil, mapError(err, "adapterdb_meta")
	}
	found, err = c.queryRow(dest, "SELECT value FROM adapterdb_meta WHERE key = 'setup'")
	if err != nil {
		return nil, mapError(err, "adapterdb_meta")
	}
	if v, ok := dest[0].(int64); !found || !ok || v < metaSetup {
		return nil, nil
	}
	if needDB {
		found, err := c.queryRow(dest, "SELECT 1 FROM adapterdb_databases LIMIT 1")
		if err != nil || !found {
			return nil, err
		}
	}
	return loadSchema(c)
}

// rowEstimate returns a table's approximate row count: counted (outside any
// transaction) when first asked, and again after a minute or after writes
// touched a tenth of it.
func (p *Provider) rowEstimate(t *tableDef) uint64 {
	p.estMu.Lock()
	if p.est == nil {
		p.est = map[int64]*rowEstimate{}
	}
	e, ok := p.est[t.id]
	p.estMu.Unlock()
	if ok && time.Since(e.at) < time.Minute && e.changes.Load() <= max(1000, e.rows/10) {
		return uint64(e.rows)
	}
	n := int64(0)
	if c, err := p.pool.get(); err == nil {
		dest := make([]driver.Value, 1)
		// A table created in an uncommitted transaction is not visible
		// here yet; it counts as empty.
		if found, err := c.queryRow(dest, "SELECT COUNT(*) FROM "+qi(t.sqlName)); err == nil && found {
			n = i64(dest[0])
		}
		p.pool.put(c)
	}
	p.estMu.Lock()
	p.est[t.id] = &rowEstimate{rows: n, at: time.Now()}
	p.estMu.Unlock()
	return uint64(n)
}

// noteWrites counts rows written to a table, for rowEstimate.
func (p *Provider) noteWrites(id int64, n int64) {
	p.estMu.Lock()
	e := p.est[id]
	p.estMu.Unlock()
	if e != nil {
		e.changes.Add(n)
	}
}

// Close releases the provider's connections (the catalog stays open).
func (p *Provider) Close() { p.pool.close() }

// DefaultDatabase is the database sessions start in.
func (p *Provider) DefaultDatabase() string { return p.defaultDB }

// NewSession makes a session for the engine around a base session.
func (p *Provider) NewSession(base *sql.BaseSession) *Session {
	return &Session{BaseSession: base, p: p}
}

// SessionBuilder builds sessions for server connections; its signature is
// server.SessionBuilder's.
func (p *Provider) SessionBuilder() func(ctx context.Context, conn *mysql.Conn, addr string) (sql.Session, error) {
	return func(ctx context.Context, conn *mysql.Conn, addr string) (sql.Session, error) {
		host, user := "", ""
		if u, ok := conn.UserData.(sql.MysqlConnectionUser); ok {
			host, user = u.Host, u.User
		}
		client := sql.Client{Address: host, User: user, Capabilities: conn.Capabilities}
		s := p.NewSession(sql.NewBaseSessionWithClientServer(addr, client, conn.ConnectionID))
		s.SetCurrentDatabase(p.defaultDB) // a database named by the client replaces it
		return s, nil
	}
}

// SessionFunc makes sessions for clients by connection id; its signature is
// sqlfuncs.SessionBuilder's. Sessions start in the default database.
func (p *Provider) SessionFunc() func(ctx context.Context, client sql.Client, id uint32, addr string) (sql.Session, error) {
	return func(ctx context.Context, client sql.Client, id uint32, addr string) (sql.Session, error) {
		s := p.NewSession(sql.NewBaseSessionWithClientServer(addr, client, id))
		s.SetCurrentDatabase(p.defaultDB)
		return s, nil
	}
}

// current is the latest committed schema this process knows.
func (p *Provider) current() *schemaSnap {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// publish makes a committed schema current unless a newer one is.
func (p *Provider) publish(s *schemaSnap) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.version >= p.snap.version {
		p.snap = s
	}
}

// refresh checks the committed schema version through c (outside any
// transaction) and reloads the schema if another session or process changed
// it.
func (p *Provider) refresh(c *sqliteConn) (*schemaSnap, error) {
	cur := p.current()
	v, err := readVersion(c)
	if err != nil {
		return nil, mapError(err, "adapterdb_meta")
	}
	if v == cur.version {
		return cur, nil
	}
	snap, err := loadSchema(c)
	if err != nil {
		return nil, err
	}
	p.publish(snap)
	return snap, nil
}

// schemaFor is the schema a context sees.
func (p *Provider) schemaFor(ctx *sql.Context) *schemaSnap {
	if s := sessionOf(ctx); s != nil && s.p == p {
		return s.schema()
	}
	return p.current()
}

// Database implements sql.DatabaseProvider.
func (p *Provider) Database(ctx *sql.Context, name string) (sql.Database, error) {
	if d, ok := p.extra[lower(name)]; ok {
		return d, nil
	}
	d, ok := p.schemaFor(ctx).db(name)
	if !ok {
		return nil, sql.ErrDatabaseNotFound.New(name)
	}
	return &Database{p: p, name: d.name}, nil
}

// HasDatabase implements sql.DatabaseProvider.
func (p *Provider) HasDatabase(ctx *sql.Context, name string) bool {
	if _, ok := p.extra[lower(name)]; ok {
		return true
	}
	_, ok := p.schemaFor(ctx).db(name)
	return ok
}

// AllDatabases implements sql.DatabaseProvider.
func (p *Provider) AllDatabases(ctx *sql.Context) []sql.Database {
	snap := p.schemaFor(ctx)
	var out []sql.Database
	for _, d := range snap.dbs {
		out = append(out, &Database{p: p, name: d.name})
	}
	for _, d := range p.extra {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return lower(out[i].Name()) < lower(out[j].Name()) })
	return out
}

// CreateDatabase implements sql.MutableDatabaseProvider.
func (p *Provider) CreateDatabase(ctx *sql.Context, name string) error {
	return p.CreateCollatedDatabase(ctx, name, sql.Collation_Default)
}

// CreateCollatedDatabase implements sql.CollatedDatabaseProvider.
func (p *Provider) CreateCollatedDatabase(ctx *sql.Context, name string, collation sql.CollationID) error {
	if _, ok := p.extra[lower(name)]; ok {
		return sql.ErrDatabaseExists.New(name)
	}
	if err := checkName(name); err != nil {
		return err
	}
	s, err := mustSession(ctx)
	if err != nil {
		return err
	}
	return s.ddl(ctx, func(c *sqliteConn, snap *schemaSnap) error {
		if _, ok := snap.db(name); ok {
			return sql.ErrDatabaseExists.New(name)
		}
		return createDatabaseMeta(c, name, collation)
	})
}

func createDatabaseMeta(c *sqliteConn, name string, collation sql.CollationID) error {
	_, err := c.exec("INSERT INTO adapterdb_databases (name_key, name, collation) VALUES (?,?,?)",
		lower(name), name, collation.Name())
	return mapError(err, name)
}

// DropDatabase implements sql.MutableDatabaseProvider: the database's tables
// and everything defined in it are dropped.
func (p *Provider) DropDatabase(ctx *sql.Context, name string) error {
	if _, ok := p.extra[lower(name)]; ok {
		return fmt.Errorf("database %s is read-only", name)
	}
	s, err := mustSession(ctx)
	if err != nil {
		return err
	}
	return s.ddl(ctx, func(c *sqliteConn, snap *schemaSnap) error {
		d, ok := snap.db(name)
		if !ok {
			return sql.ErrDatabaseNotFound.New(name)
		}
		for _, t := range d.tables {
			if err := dropTableStorage(c, t); err != nil {
				return err
			}
		}
		key := lower(name)
		for _, q := range []string{"DELETE FROM adapterdb_databases WHERE name_key = ?",
			"DELETE FROM adapterdb_views WHERE db_key = ?", "DELETE FROM adapterdb_triggers WHERE db_key = ?",
			"DELETE FROM adapterdb_procedures WHERE db_key = ?", "DELETE FROM adapterdb_foreign_keys WHERE db_key = ?",
			"DELETE FROM adapterdb_events WHERE db_key = ?"} {
			if _, err := c.exec(q, key); err != nil {
				return mapError(err, name)
			}
		}
		return nil
	})
}

// checkName rejects names MySQL would reject and names that cannot be stored.
func checkName(name string) error {
	if name == "" || strings.ContainsRune(name, 0) {
		return sql.ErrInvalidIdentifier.New(name)
	}
	if strings.HasSuffix(name, " ") {
		return fmt.Errorf("incorrect name '%s': names cannot end with a space", name)
	}
	return nil
}
