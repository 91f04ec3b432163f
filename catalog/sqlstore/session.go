package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/mattn/go-sqlite3"
)

// Session is a client session on the provider. Its transactions map onto
// SQLite transactions on one pooled connection, held from the transaction's
// first table access to its commit or rollback:
//
//   - reads begin a deferred transaction (a WAL snapshot: readers never block
//     writers and see a consistent picture);
//   - a statement that will write begins with BEGIN IMMEDIATE, waiting up to
//     the busy timeout for the single writer slot;
//   - a transaction that read first and writes later upgrades in place; if
//     another writer committed since its snapshot, SQLite cannot upgrade and
//     the transaction fails with MySQL's deadlock error (1213), to be retried;
//   - every statement that writes is atomic: a failed statement rolls back to
//     a savepoint taken before its first write, leaving the transaction's
//     earlier work in place, like InnoDB.
type Session struct {
	*sql.BaseSession
	p *Provider

	mu            sync.Mutex
	conn          *sqliteConn
	state         txState
	snap          *schemaSnap // schema of the current transaction (nil: not pinned yet)
	dirty         bool        // the SQLite transaction holds writes
	schemaChanged bool        // ... including schema changes, published at commit

	stmt    stmtState
	autoInc map[int64]uint64 // next AUTO_INCREMENT per table id, written back at commit
	editors map[int64]int    // open table editors per table id (reads of these tables are snapshots)
	editGen map[int64]uint64 // per table id: bumped by every new editor (a new writing statement)
	tempSeq int
	snaps   map[string]string     // statement snapshots: scan query -> temp table
	snapGen uint64                // statement the snapshots belong to
	drop    []string              // temp tables to drop once no cursor reads them
	cursors map[*rowIter]struct{} // open scans; closed at the latest when the transaction ends
	spGen   int                   // user savepoints: SAVEPOINT x is SQLite savepoint u<gen>
	sps     map[string]int
	flags   atomic.Pointer[sql.QueryFlags] // the current statement's analyzer flags (StatementFlags)
}

type txState uint8

const (
	txNone  txState = iota // no SQLite transaction
	txRead                 // deferred transaction, may hold a read snapshot
	txWrite                // holds the write lock
)

// stmtState tracks the statement in progress for statement atomicity.
type stmtState struct {
	depth     int  // editors between StatementBegin and StatementComplete/DiscardChanges
	savepoint bool // a savepoint was taken before the statement's first write
	cleanTx   bool // the transaction had no writes when the statement began
	gen       uint64
	discarded bool
}

var (
	_ sql.TransactionSession    = (*Session)(nil)
	_ sql.LifecycleAwareSession = (*Session)(nil)
)

// transaction is the sql.Transaction handed to the engine.
type transaction struct {
	id       uint64
	readOnly bool
}

func (t *transaction) String() string   { return fmt.Sprintf("adapterdb transaction %d", t.id) }
func (t *transaction) IsReadOnly() bool { return t.readOnly }

// SetStatementFlags records the flags the analyzer uses for the session's
// current statement; StatementFlags returns them. go-mysql-server analyzes
// the query of an EXPLAIN with the EXPLAIN's own flags, so a promise only
// that query can make (at most one row: COUNT(*), a unique-key lookup)
// reaches the EXPLAIN, whose plan has a row per line; the code that builds
// the EXPLAIN clears it here (sqlfuncs).
func SetStatementFlags(ctx *sql.Context, f *sql.QueryFlags) {
	if s := sessionOf(ctx); s != nil {
		s.flags.Store(f)
	}
}

// StatementFlags returns the flags SetStatementFlags recorded, or nil.
func StatementFlags(ctx *sql.Context) *sql.QueryFlags {
	if s := sessionOf(ctx); s != nil {
		return s.flags.Load()
	}
	return nil
}

// sessionOf returns the adapterdb session of a context, or nil.
func sessionOf(ctx *sql.Context) *Session {
	if ctx == nil || ctx.Session == nil {
		return nil
	}
	s, _ := ctx.Session.(*Session)
	return s
}

func mustSession(ctx *sql.Context) (*Session, error) {
	s := sessionOf(ctx)
	if s == nil {
		return nil, errors.New("adapterdb: table access needs an adapterdb session (use Provider.NewSession)")
	}
	return s, nil
}

// schema is the schema this session sees now.
func (s *Session) schema() *schemaSnap {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil {
		return s.snap
	}
	return s.p.current()
}

// StartTransaction implements sql.TransactionSession. The SQLite transaction
// itself begins at the first table access; here the session refreshes its view
// of the schema, so statements are planned against the latest committed one.
func (s *Session) StartTransaction(ctx *sql.Context, tc sql.TransactionCharacteristic) (sql.Transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != txNone {
		if s.dirty {
			// The engine dropped its transaction object without ending
			// ours (stored procedures do this between statements): the
			// writes continue in the new one.
			return &transaction{id: s.p.txSeq.Add(1), readOnly: tc == sql.ReadOnly}, nil
		}
		// A read-only leftover (a statement that failed while planning):
		// start afresh, with a new snapshot.
		s.endLocked(false)
	}
	if err := s.acquireLocked(); err != nil {
		return nil, err
	}
	snap, err := s.p.refresh(s.conn)
	if err != nil {
		s.releaseLocked()
		return nil, err
	}
	s.snap = snap
	return &transaction{id: s.p.txSeq.Add(1), readOnly: tc == sql.ReadOnly}, nil
}

// CommitTransaction implements sql.TransactionSession.
func (s *Session) CommitTransaction(ctx *sql.Context, tx sql.Transaction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked()
}

func (s *Session) commitLocked() error {
	if s.state == txNone {
		s.releaseLocked()
		return nil
	}
	if err := s.flushAutoIncLocked(); err != nil {
		s.endLocked(false)
		return err
	}
	if _, err := s.conn.exec("COMMIT"); err != nil {
		s.endLocked(false)
		return prefixError("COMMIT failed, the transaction was rolled back: ", mapError(err, "COMMIT"))
	}
	s.endLocked(true)
	return nil
}

// Rollback implements sql.TransactionSession.
func (s *Session) Rollback(ctx *sql.Context, tx sql.Transaction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(false)
	return nil
}

// endLocked finishes the SQLite transaction (committed: already done) and
// resets the session's transaction state.
func (s *Session) endLocked(committed bool) {
	// Scans still open when their transaction ends (a stored procedure's
	// cursor across the statements it runs, or an iterator the engine
	// forgot after an error) keep their remaining rows in memory: a pooled
	// connection must not carry an open cursor (and its old snapshot) into
	// another transaction.
	for it := range s.cursors {
		it.s = nil // already holding the lock
		it.detach()
	}
	s.cursors = nil
	if s.state != txNone && !committed && s.conn != nil {
		if _, err := s.conn.exec("ROLLBACK"); err != nil && s.conn.inTx() {
			s.p.log.Warn().Err(err).Msg("rollback")
		}
	}
	if committed && s.schemaChanged && s.snap != nil {
		s.p.publish(s.snap)
	}
	s.state = txNone
	s.snap = nil
	s.dirty, s.schemaChanged = false, false
	s.stmt = stmtState{gen: s.stmt.gen + 1}
	s.autoInc = nil
	s.editors, s.editGen = nil, nil
	s.sps = nil
	s.dropSnapshotsLocked(true)
	s.releaseLocked()
}

func (s *Session) acquireLocked() error {
	if s.conn != nil {
		return nil
	}
	c, err := s.p.pool.get()
	if err != nil {
		return err
	}
	s.conn = c
	return nil
}

func (s *Session) releaseLocked() {
	if s.conn != nil {
		s.p.pool.put(s.conn)
		s.conn = nil
	}
}

// User savepoints map onto SQLite savepoints. MySQL replaces a savepoint of
// the same name, while SQLite stacks them: each SAVEPOINT gets a fresh SQLite
// name, and the session remembers which one a MySQL name means.

// CreateSavepoint implements sql.TransactionSession.
func (s *Session) CreateSavepoint(ctx *sql.Context, tx sql.Transaction, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(false); err != nil {
		return err
	}
	s.spGen++
	if _, err := s.conn.exec(fmt.Sprintf("SAVEPOINT u%d", s.spGen)); err != nil {
		return mapError(err, "SAVEPOINT")
	}
	if s.sps == nil {
		s.sps = map[string]int{}
	}
	s.sps[lower(name)] = s.spGen
	return nil
}

// RollbackToSavepoint implements sql.TransactionSession.
func (s *Session) RollbackToSavepoint(ctx *sql.Context, tx sql.Transaction, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen, ok := s.sps[lower(name)]
	if !ok || s.state == txNone {
		return sql.ErrSavepointDoesNotExist.New(name)
	}
	if _, err := s.conn.exec(fmt.Sprintf("ROLLBACK TO u%d", gen)); err != nil {
		delete(s.sps, lower(name))
		return sql.ErrSavepointDoesNotExist.New(name)
	}
	// Savepoints set after this one are gone.
	for n, g := range s.sps {
		if g > gen {
			delete(s.sps, n)
		}
	}
	if s.schemaChanged {
		if err := s.reloadSchemaLocked(); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseSavepoint implements sql.TransactionSession. (In SQLite, releasing a
// savepoint also releases the ones set after it.)
func (s *Session) ReleaseSavepoint(ctx *sql.Context, tx sql.Transaction, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen, ok := s.sps[lower(name)]
	if !ok || s.state == txNone {
		return sql.ErrSavepointDoesNotExist.New(name)
	}
	delete(s.sps, lower(name))
	if _, err := s.conn.exec(fmt.Sprintf("RELEASE u%d", gen)); err != nil {
		return sql.ErrSavepointDoesNotExist.New(name)
	}
	for n, g := range s.sps {
		if g > gen {
			delete(s.sps, n)
		}
	}
	return nil
}

// CommandBegin implements sql.LifecycleAwareSession.
func (s *Session) CommandBegin() error { return nil }

// CommandEnd implements sql.LifecycleAwareSession.
func (s *Session) CommandEnd() {}

// SessionEnd implements sql.LifecycleAwareSession: an open transaction of a
// closed connection is rolled back, as in MySQL.
func (s *Session) SessionEnd() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(false)
}

// Close ends the session's transaction (rolling it back) and returns its
// connection; for sessions made outside a server.
func (s *Session) Close() { s.SessionEnd() }

// beginLocked makes sure a SQLite transaction is open; write asks for the
// write lock. Reading the schema version is the transaction's first read, so
// data and schema come from the same snapshot.
func (s *Session) beginLocked(write bool) error {
	if err := s.acquireLocked(); err != nil {
		return err
	}
	switch {
	case s.state == txNone:
		stmt := "BEGIN"
		if write {
			stmt = "BEGIN IMMEDIATE"
		}
		if _, err := s.conn.exec(stmt); err != nil {
			return mapError(err, "BEGIN")
		}
		s.state = txRead
		if write {
			s.state = txWrite
		}
		v, err := readVersion(s.conn)
		if err != nil {
			s.endLocked(false)
			return mapError(err, "adapterdb_meta")
		}
		if s.snap == nil {
			snap := s.p.current()
			if snap.version != v {
				if snap, err = s.p.refresh(s.conn); err != nil {
					s.endLocked(false)
					return err
				}
			}
			s.snap = snap
		} else if s.snap.version != v {
			// Another session committed DDL between planning and execution.
			s.endLocked(false)
			return errTableDefChanged
		}
	case write && s.state == txRead:
		if err := s.upgradeLocked(); err != nil {
			return err
		}
	}
	return nil
}

// upgradeLocked takes the write lock for a transaction that has read. SQLite
// does not wait for the lock here (waiting could deadlock two upgraders), so
// the wait is done here; a snapshot made stale by another writer's commit
// cannot be upgraded at all.
func (s *Session) upgradeLocked() error {
	deadline := time.Now().Add(s.p.busyTimeout)
	for {
		_, err := s.conn.exec("UPDATE adapterdb_meta SET value = value WHERE key = 'schema_version'")
		if err == nil {
			s.state = txWrite
			return nil
		}
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrBusy && se.ExtendedCode != sqlite3.ErrBusySnapshot &&
			time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		mapped := mapError(err, "transaction")
		if sql.ErrLockDeadlock.Is(mapped) {
			// MySQL rolls back a transaction chosen as a deadlock victim.
			s.endLocked(false)
		}
		return mapped
	}
}

// readConn returns the session's connection inside a transaction that can
// read, and the transaction's schema.
func (s *Session) readConn() (*sqliteConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(false); err != nil {
		return nil, err
	}
	return s.conn, nil
}

// writeConn returns the connection inside a transaction holding the write lock.
func (s *Session) writeConn() (*sqliteConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(true); err != nil {
		return nil, err
	}
	return s.conn, nil
}

// ---- statement atomicity ----

// stmtBegin is called by an editor's StatementBegin; it returns the statement
// generation the editor belongs to.
func (s *Session) stmtBegin() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stmt.depth == 0 {
		s.stmt = stmtState{gen: s.stmt.gen + 1}
	}
	s.stmt.depth++
	return s.stmt.gen
}

// beforeWrite is called before each write of a statement: the first write of
// a statement in a transaction that already holds writes takes a savepoint.
func (s *Session) beforeWrite() (*sqliteConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(true); err != nil {
		return nil, err
	}
	if s.stmt.depth > 0 && !s.stmt.savepoint && !s.stmt.cleanTx {
		if !s.dirty {
			s.stmt.cleanTx = true
		} else {
			if _, err := s.conn.exec("SAVEPOINT adb_stmt"); err != nil {
				return nil, mapError(err, "SAVEPOINT")
			}
			s.stmt.savepoint = true
		}
	}
	s.dirty = true
	return s.conn, nil
}

// stmtDiscard undoes the statement's writes (once, however many editors ask).
func (s *Session) stmtDiscard(gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.stmt.gen {
		return nil
	}
	var err error
	if !s.stmt.discarded {
		s.stmt.discarded = true
		switch {
		case s.stmt.savepoint:
			if _, err = s.conn.exec("ROLLBACK TO adb_stmt"); err == nil {
				_, err = s.conn.exec("RELEASE adb_stmt")
			}
			if s.schemaChanged {
				if rerr := s.reloadSchemaLocked(); rerr != nil && err == nil {
					err = rerr
				}
			}
		case s.stmt.cleanTx && s.state != txNone:
			// The statement wrote first in its transaction: undoing it is
			// rolling the SQLite transaction back.
			snap := s.snap
			if s.schemaChanged {
				snap = nil
			}
			_, err = s.conn.exec("ROLLBACK")
			s.state, s.dirty, s.schemaChanged = txNone, false, false
			s.autoInc = nil
			s.snap = snap
		}
		s.stmt.savepoint = false
		s.dropSnapshotsLocked(false)
	}
	s.stmt.depth--
	if s.stmt.depth <= 0 {
		s.stmt.depth = 0
	}
	return mapError(err, "statement rollback")
}

// stmtComplete ends an editor's part of the statement.
func (s *Session) stmtComplete(gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.stmt.gen || s.stmt.depth == 0 {
		return nil
	}
	s.stmt.depth--
	if s.stmt.depth == 0 && s.stmt.savepoint {
		s.stmt.savepoint = false
		if _, err := s.conn.exec("RELEASE adb_stmt"); err != nil {
			return mapError(err, "RELEASE")
		}
	}
	return nil
}

// ---- DDL ----

// ddl runs fn as one atomic schema change inside the session's write
// transaction, then reloads the session's view of the schema.
func (s *Session) ddl(ctx context.Context, fn func(c *sqliteConn, snap *schemaSnap) error) error {
	c, snap, err := s.ddlBegin("adb_ddl")
	if err != nil {
		return err
	}
	return s.ddlEnd("adb_ddl", fn(c, snap))
}

// ddlBegin opens a schema change: the write transaction and a savepoint.
func (s *Session) ddlBegin(sp string) (*sqliteConn, *schemaSnap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A cursor still open on this connection (left by an earlier failed
	// statement) would make SQLite refuse to drop or alter its table.
	for it := range s.cursors {
		it.s = nil
		it.detach()
	}
	s.cursors = nil
	if err := s.beginLocked(true); err != nil {
		return nil, nil, err
	}
	if _, err := s.conn.exec("SAVEPOINT " + sp); err != nil {
		return nil, nil, mapError(err, "SAVEPOINT")
	}
	return s.conn, s.snap, nil
}

// ddlEnd finishes a schema change opened by ddlBegin: on failure everything
// since the savepoint is undone; on success the schema version is bumped and
// the session sees the new schema.
func (s *Session) ddlEnd(sp string, failure error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.state == txNone {
		if failure != nil {
			return failure
		}
		return errors.New("adapterdb: schema change outside a transaction")
	}
	undo := func() {
		s.conn.exec("ROLLBACK TO " + sp)
		s.conn.exec("RELEASE " + sp)
	}
	if failure != nil {
		undo()
		return failure
	}
	if err := bumpVersion(s.conn); err != nil {
		undo()
		return mapError(err, "adapterdb_meta")
	}
	if _, err := s.conn.exec("RELEASE " + sp); err != nil {
		return mapError(err, "RELEASE")
	}
	s.dirty, s.schemaChanged = true, true
	return s.reloadSchemaLocked()
}

func (s *Session) reloadSchemaLocked() error {
	snap, err := loadSchema(s.conn)
	if err != nil {
		return err
	}
	// Pending AUTO_INCREMENT values survive a schema reload.
	s.snap = snap
	return nil
}

// ---- AUTO_INCREMENT ----

// AUTO_INCREMENT counters are not part of the cached schema (they change with
// every insert): the committed value is read from adapterdb_tables once per
// write transaction, advanced in memory, and written back at commit. Only the
// writer can advance them, so this is consistent.

// nextAutoInc returns the table's next AUTO_INCREMENT value in this
// transaction.
func (s *Session) nextAutoInc(t *tableDef) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.autoInc[t.id]; ok {
		return v, nil
	}
	if err := s.beginLocked(false); err != nil {
		return 0, err
	}
	v, err := committedAutoInc(s.conn, t)
	if err != nil {
		return 0, err
	}
	return v, nil
}

func committedAutoInc(c *sqliteConn, t *tableDef) (uint64, error) {
	dest := make([]driver.Value, 1)
	found, err := c.queryRow(dest, "SELECT auto_increment FROM adapterdb_tables WHERE id = ?", t.id)
	if err != nil {
		return 0, mapError(err, t.name)
	}
	if !found {
		return 1, nil
	}
	return max(uint64(i64(dest[0])), 1), nil
}

func (s *Session) setAutoInc(t *tableDef, v uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.autoInc == nil {
		s.autoInc = map[int64]uint64{}
	}
	s.autoInc[t.id] = v
}

func (s *Session) flushAutoIncLocked() error {
	for id, v := range s.autoInc {
		if _, err := s.conn.exec("UPDATE adapterdb_tables SET auto_increment = ? WHERE id = ?", int64(v), id); err != nil {
			return mapError(err, "adapterdb_tables")
		}
	}
	s.autoInc = nil
	return nil
}

// ---- editors and snapshot reads ----

func (s *Session) cursorOpened(it *rowIter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cursors == nil {
		s.cursors = map[*rowIter]struct{}{}
	}
	s.cursors[it] = struct{}{}
}

func (s *Session) cursorClosed(it *rowIter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cursors, it)
}

func (s *Session) editorOpened(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.editors == nil {
		s.editors = map[int64]int{}
		s.editGen = map[int64]uint64{}
	}
	s.editors[id]++
	s.editGen[id]++
}

func (s *Session) editorClosed(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.editors[id] > 0 {
		s.editors[id]--
	}
}

func (s *Session) isEditing(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.editors[id] > 0
}

// snapshot returns the temp table holding the rows of a scan as they were
// when the writing statement first ran it, creating it on first use. A
// statement that writes a table it also reads (UPDATE, DELETE, INSERT ...
// SELECT from itself, UPDATE ... JOIN) thus never sees its own writes,
// however often the engine re-opens the scan, as MySQL's statement semantics
// require. A nested statement (a trigger body) opens new editors, so it gets
// new snapshots and sees the writes made before it.
func (s *Session) snapshot(ctx *sql.Context, c *sqliteConn, table int64, query string, args []driver.Value, ncols int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapGen != s.stmt.gen {
		s.dropSnapshotsLocked(false)
		s.snapGen = s.stmt.gen
	}
	key := fmt.Sprintf("%d/%d\x00%s\x00%v", table, s.editGen[table], query, args)
	if name, ok := s.snaps[key]; ok {
		return name, nil
	}
	s.tempSeq++
	name := fmt.Sprintf("adb_snapshot_%d", s.tempSeq)
	cols := make([]string, ncols)
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	// Untyped columns: values are copied exactly, without affinity changes.
	if _, err := c.execCtx(ctx, "CREATE TEMP TABLE "+name+" ("+strings.Join(cols, ", ")+")"); err != nil {
		return "", err
	}
	if _, err := c.execCtx(ctx, "INSERT INTO temp."+name+" "+query, args...); err != nil {
		c.exec("DROP TABLE IF EXISTS temp." + name)
		return "", err
	}
	if s.snaps == nil {
		s.snaps = map[string]string{}
	}
	s.snaps[key] = name
	return name, nil
}

// dropSnapshotsLocked forgets the statement's snapshots and drops the temp
// tables no cursor uses any more (the others are retried later; all are gone
// at the end of the transaction).
func (s *Session) dropSnapshotsLocked(final bool) {
	for _, name := range s.snaps {
		s.drop = append(s.drop, name)
	}
	s.snaps = nil
	if s.conn == nil {
		s.drop = nil
		return
	}
	keep := s.drop[:0]
	for _, name := range s.drop {
		if _, err := s.conn.exec("DROP TABLE IF EXISTS temp." + name); err != nil && !final {
			keep = append(keep, name)
		}
	}
	s.drop = keep
	if final {
		s.drop = nil
	}
}

// prefixError adds context to an error, keeping a MySQL error's code.
func prefixError(prefix string, err error) error {
	var me *mysql.SQLError
	if errors.As(err, &me) {
		return mysql.NewSQLError(me.Num, me.State, "%s", prefix+me.Message)
	}
	return fmt.Errorf("%s%w", prefix, err)
}
