package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/encodings"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/mattn/go-sqlite3"

	"github.com/adapterdb/adapterdb/catalog"
)

// This file is the provider's raw SQLite layer: a small pool of driver-level
// connections (no database/sql in the hot path, so a row costs one cgo
// crossing), the collations MySQL needs registered on every connection, and the
// translation of SQLite's errors into MySQL's.

// Synchronous is SQLite's PRAGMA synchronous for the provider's connections.
type Synchronous string

const (
	// SyncFull fsyncs the WAL at every commit: a committed transaction
	// survives a power cut. The default.
	SyncFull Synchronous = "FULL"
	// SyncNormal fsyncs only at checkpoints: a crash of the process loses
	// nothing, a power cut may lose the last commits.
	SyncNormal Synchronous = "NORMAL"
	// SyncOff never fsyncs (tests only).
	SyncOff Synchronous = "OFF"
)

// decimalCollation orders DECIMAL columns (stored as canonical decimal text)
// numerically, so SQLite's indexes and comparisons agree with MySQL's.
const decimalCollation = "adb_decimal"

// sqliteConn is one SQLite connection owned by the provider.
type sqliteConn struct {
	c *sqlite3.SQLiteConn
}

// exec runs a statement that returns no rows.
func (c *sqliteConn) exec(query string, args ...driver.Value) (driver.Result, error) {
	return c.c.Exec(query, args)
}

// query runs a statement and returns its rows; the caller closes them.
func (c *sqliteConn) query(query string, args ...driver.Value) (driver.Rows, error) {
	return c.c.Query(query, args)
}

// queryCtx is query with cancellation, for statements that may run long
// inside SQLite (aggregates, copies).
func (c *sqliteConn) queryCtx(ctx context.Context, query string, args ...driver.Value) (driver.Rows, error) {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return c.c.QueryContext(ctx, query, named)
}

// execCtx is exec with cancellation.
func (c *sqliteConn) execCtx(ctx context.Context, query string, args ...driver.Value) (driver.Result, error) {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return c.c.ExecContext(ctx, query, named)
}

// queryRow runs a query expected to return at most one row and scans it into
// dest; found reports whether there was a row.
func (c *sqliteConn) queryRow(dest []driver.Value, query string, args ...driver.Value) (found bool, err error) {
	rows, err := c.c.Query(query, args)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// inTx reports whether the connection has an open transaction.
func (c *sqliteConn) inTx() bool { return !c.c.AutoCommit() }

// pool hands out connections to one database file. Connections are created on
// demand and kept (up to maxIdle) for reuse; each carries its own prepared
// statement cache.
type pool struct {
	dsn     string
	drv     *sqlite3.SQLiteDriver
	maxIdle int

	mu     sync.Mutex
	idle   []*sqliteConn
	all    map[*sqliteConn]struct{} // every open connection, idle or lent
	closed bool
}

func newPool(path string, sync Synchronous, busy time.Duration) *pool {
	dsn := "file:" + escapeURIPath(path) + "?_journal_mode=WAL&_synchronous=" + string(sync) +
		"&_busy_timeout=" + strconv.FormatInt(busy.Milliseconds(), 10) +
		"&_foreign_keys=off&_stmt_cache_size=256&_cache_size=-16000"
	return &pool{
		dsn:     dsn,
		drv:     &sqlite3.SQLiteDriver{ConnectHook: registerCollations},
		maxIdle: 16,
	}
}

// escapeURIPath escapes the characters that end or change a file: URI path.
func escapeURIPath(p string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return r.Replace(p)
}

func (p *pool) get() (*sqliteConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("adapterdb: database is closed")
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	dc, err := p.drv.Open(p.dsn)
	if err != nil {
		return nil, catalog.FileError(err)
	}
	c := &sqliteConn{c: dc.(*sqlite3.SQLiteConn)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.c.Close()
		return nil, errors.New("adapterdb: database is closed")
	}
	if p.all == nil {
		p.all = map[*sqliteConn]struct{}{}
	}
	p.all[c] = struct{}{}
	return c, nil
}

// put returns a connection; one left inside a transaction is rolled back first.
func (p *pool) put(c *sqliteConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.all[c]; !ok {
		return // closed with the pool
	}
	if c.inTx() {
		if _, err := c.exec("ROLLBACK"); err != nil {
			p.discardLocked(c)
			return
		}
	}
	if p.closed || len(p.idle) >= p.maxIdle {
		p.discardLocked(c)
		return
	}
	p.idle = append(p.idle, c)
}

func (p *pool) discardLocked(c *sqliteConn) {
	delete(p.all, c)
	c.c.Close()
}

// close closes every connection, also those lent to sessions (their open
// transactions are rolled back by SQLite).
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.all {
		c.c.Close()
	}
	p.all, p.idle, p.closed = nil, nil, true
}

// registerCollations installs, on a new connection, the decimal ordering and
// every MySQL collation that does not order like SQLite's BINARY.
func registerCollations(c *sqlite3.SQLiteConn) error {
	if err := c.RegisterCollation(decimalCollation, compareDecimalText); err != nil {
		return err
	}
	it := sql.NewCollationsIterator()
	for {
		coll, ok := it.Next()
		if !ok {
			return nil
		}
		if binaryEquivalent(coll.ID) || coll.Sorter == nil {
			continue
		}
		cmp := collationComparer(coll.ID)
		if err := c.RegisterCollation(coll.Name, cmp); err != nil {
			return fmt.Errorf("register collation %s: %w", coll.Name, err)
		}
	}
}

// binaryEquivalent reports collations whose order is byte order over the
// stored (UTF-8) bytes: SQLite's BINARY serves them exactly.
func binaryEquivalent(id sql.CollationID) bool {
	switch id {
	case sql.Collation_binary, sql.Collation_utf8mb4_0900_bin, sql.Collation_utf8mb4_bin, sql.Collation_utf8mb3_bin:
		return true
	}
	return false
}

// sqliteCollationName is the SQLite collation a column of this MySQL
// collation is declared with ("" for BINARY).
func sqliteCollationName(id sql.CollationID) string {
	if binaryEquivalent(id) || id.Sorter() == nil {
		return ""
	}
	return id.Name()
}

// collationComparer compares like GMS's StringType.Compare for the collation:
// rune weights first, then length.
func collationComparer(id sql.CollationID) func(a, b string) int {
	enc := id.CharacterSet().Encoder()
	weight := id.Sorter()
	return func(a, b string) int {
		for len(a) > 0 && len(b) > 0 {
			ar, an := nextRune(enc, a)
			br, bn := nextRune(enc, b)
			aw, bw := weight(ar), weight(br)
			if aw != bw {
				if aw < bw {
					return -1
				}
				return 1
			}
			a, b = a[an:], b[bn:]
		}
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		}
		return 0
	}
}

// nextRune decodes one rune; malformed input advances one byte so a corrupt
// value still orders deterministically instead of stalling the comparison.
func nextRune(enc encodings.Encoder, s string) (rune, int) {
	r, n := enc.NextRune(s)
	if n <= 0 || r == utf8.RuneError && n == 1 {
		return rune(s[0]), 1
	}
	return r, n
}

// compareDecimalText orders canonical decimal strings ("-12.50", "0.001")
// numerically without parsing them into numbers.
func compareDecimalText(a, b string) int {
	sa, a := decimalSign(a)
	sb, b := decimalSign(b)
	switch {
	case sa != sb:
		if sa < sb {
			return -1
		}
		return 1
	case sa == 0:
		return 0
	}
	c := compareUnsignedDecimal(a, b)
	if sa < 0 {
		return -c
	}
	return c
}

// decimalSign splits off the sign: -1, 0 (any zero, also "-0.00") or 1.
func decimalSign(s string) (int, string) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	switch {
	case isZeroDecimal(s):
		return 0, s
	case neg:
		return -1, s
	}
	return 1, s
}

func isZeroDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' && s[i] != '.' {
			return false
		}
	}
	return true
}

func compareUnsignedDecimal(a, b string) int {
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	ai, bi = strings.TrimLeft(ai, "0"), strings.TrimLeft(bi, "0")
	if len(ai) != len(bi) {
		if len(ai) < len(bi) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	af, bf = strings.TrimRight(af, "0"), strings.TrimRight(bf, "0")
	return strings.Compare(af, bf)
}

// Errors SQLite reports, in MySQL's terms.
var (
	errLockWait = func(what string) error {
		return mysql.NewSQLError(mysql.ERLockWaitTimeout, "HY000",
			"Lock wait timeout exceeded; try restarting transaction (%s: the database file is locked by another writer)", what)
	}
	errTableDefChanged = mysql.NewSQLError(1412, "HY000",
		"Table definition has changed, please retry transaction")
)

// mapError turns a SQLite error into the MySQL error a client expects; what
// names the object involved (a table) for the message.
func mapError(err error, what string) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		if se.ExtendedCode == sqlite3.ErrBusySnapshot {
			return sql.ErrLockDeadlock.New("another transaction committed a write after this transaction's snapshot")
		}
		return errLockWait(what)
	case sqlite3.ErrReadonly:
		return mysql.NewSQLError(1036, "HY000",
			"The database file is read-only (%s: %s); nothing was written", what, se.Error())
	case sqlite3.ErrFull:
		return mysql.NewSQLError(mysql.ERRecordFileFull, "HY000",
			"Disk full: the database file cannot grow (%s: %s); the write was not made", what, se.Error())
	case sqlite3.ErrIoErr:
		return mysql.NewSQLError(1026, "HY000",
			"I/O error on the database file while accessing '%s': %s", what, se.Error())
	case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
		return mysql.NewSQLError(mysql.ERUnknownError, "HY000",
			"database file is corrupt or not an adapterdb file (%s): %s", what, se.Error())
	case sqlite3.ErrInterrupt:
		return mysql.NewSQLError(mysql.ERQueryInterrupted, mysql.SSQueryInterrupted, "Query execution was interrupted")
	}
	return fmt.Errorf("sqlite (%s): %w", what, err)
}

// isConstraint reports a UNIQUE/PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
}

// isConstraintError reports any constraint failure.
func isConstraintError(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint
}

// isPrimaryKeyViolation reports a PRIMARY KEY violation (an INTEGER PRIMARY
// KEY, being the rowid, reports as a plain UNIQUE one).
func isPrimaryKeyViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
}

// qi quotes an SQLite identifier.
func qi(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
