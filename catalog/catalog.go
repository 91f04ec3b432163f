// Package catalog is adapterdb's database file and its adapter store: it
// opens the one SQLite file (WAL mode, synchronous=FULL, so a crash loses
// nothing committed) and keeps the adapters in it. It needs no SQL engine;
// the SQL layer's user tables live in the same file but are package
// catalog/sqlstore's, which builds on this one.
//
// Adapters are stored as whole rows — metadata columns plus the weights as one
// safetensors blob — written in one transaction, so a crash mid-write leaves
// the old version or nothing, never a torn adapter.
package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Catalog is an open database file. It is safe for concurrent use.
type Catalog struct {
	db   *sql.DB
	path string
	log  zerolog.Logger
}

// ErrNotFound reports an unknown adapter.
var ErrNotFound = errors.New("no such adapter")

// ErrExists reports a name clash.
var ErrExists = errors.New("adapter already exists")

// ErrDamaged: stored weights or a catalog row fail their checksum (the file
// was damaged, or the row edited outside adapterdb).
var ErrDamaged = errors.New("database file damaged")

// ErrLocked: another connection held the file's write lock for longer than
// the busy timeout.
var ErrLocked = errors.New("the database file is locked by another writer")

const schema = `
CREATE TABLE IF NOT EXISTS adapterdb_adapters (
	name             TEXT PRIMARY KEY COLLATE NOCASE,
	task             TEXT NOT NULL,
	labels           TEXT NOT NULL,      -- JSON array
	base_model       TEXT NOT NULL,      -- checkpoint path or "demo"
	base_fingerprint TEXT NOT NULL,
	model_type       TEXT NOT NULL,
	hidden_size      INTEGER NOT NULL,
	num_layers       INTEGER NOT NULL,
	adapter_size     INTEGER NOT NULL,
	activation       TEXT NOT NULL,
	pool             TEXT NOT NULL,
	options          TEXT NOT NULL,      -- JSON object
	metrics          TEXT NOT NULL,      -- JSON object
	params           INTEGER NOT NULL,
	size_bytes       INTEGER NOT NULL,
	sha256           TEXT NOT NULL,
	created_at       TEXT NOT NULL,      -- RFC 3339, UTC
	version          INTEGER NOT NULL,   -- 1, 2, ... per name: the writes since it was created
	write_stamp      INTEGER,            -- write time in ns, unique per write: what caches key on
	record_crc32c    INTEGER,            -- CRC-32C of the columns above (NULL in files written before it)
	weights          BLOB NOT NULL,      -- safetensors file
	weights_crc32c   INTEGER             -- CRC-32C of weights (NULL in files written before it)
) STRICT;
`

// crcTable is CRC-32C (Castagnoli), which the CPU computes (SSE 4.2, ARMv8
// CRC) at many GB/s: Get checks every adapter read against it, where the
// weights' SHA-256 would cost most of a cold load.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Open opens (creating if needed) a database file.
func Open(path string, log zerolog.Logger) (*Catalog, error) {
	if path == "" {
		return nil, fmt.Errorf("open catalog: no database file given")
	}
	if dir := filepath.Dir(path); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("open catalog %s: directory %s does not exist", path, dir)
		}
	}
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	c := &Catalog{db: db, path: path, log: log}
	if err := c.init(); err != nil {
		db.Close()
		if dir := filepath.Dir(path); unix.Access(dir, unix.W_OK) != nil {
			// SQLite needs to create its -wal and -shm files next to the
			// database, even to read it.
			return nil, fmt.Errorf("open catalog %s: directory %s is read-only (SQLite needs to write its -wal/-shm files there): %w", path, dir, err)
		}
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	return c, nil
}

func (c *Catalog) init() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mode string
	if err := c.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return FileError(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %s, want wal", mode)
	}
	if _, err := c.db.ExecContext(ctx, schema); err != nil {
		return FileError(err)
	}
	// Files made before the checksum columns existed get them (NULL: those
	// rows are read unchecked until rewritten).
	for _, col := range []string{"weights_crc32c", "record_crc32c", "write_stamp"} {
		var n int
		if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('adapterdb_adapters') WHERE name = ?`, col).Scan(&n); err != nil {
			return FileError(err)
		}
		if n == 0 {
			if _, err := c.db.ExecContext(ctx, `ALTER TABLE adapterdb_adapters ADD COLUMN `+col+` INTEGER`); err != nil {
				return FileError(err)
			}
		}
	}
	// Before write_stamp, version held the write time in ns (shown as
	// 1796394196163182345): it moves to write_stamp and version becomes 1.
	// Rows with a record checksum are left alone (it covers version).
	// Asked first: a write, even of no rows, would wait for another
	// process's write lock and fail on a read-only file.
	const old = `write_stamp IS NULL AND record_crc32c IS NULL`
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM adapterdb_adapters WHERE `+old).Scan(&n); err != nil {
		return FileError(err)
	}
	if n > 0 {
		if _, err := c.db.ExecContext(ctx, `UPDATE adapterdb_adapters SET write_stamp = version, version = 1 WHERE `+old); err != nil {
			return FileError(err)
		}
	}
	return c.initGrants(ctx) // grants.go
}

// FileError turns SQLite's errors for common file problems into plain words
// (the SQL storage engine's connections report them the same way).
func FileError(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB:
			return fmt.Errorf("not an adapterdb/SQLite database file: %w", err)
		case sqlite3.ErrCorrupt:
			return fmt.Errorf("database file is corrupt: %w", err)
		case sqlite3.ErrReadonly:
			return fmt.Errorf("database file is read-only: %w", err)
		case sqlite3.ErrFull:
			return fmt.Errorf("disk full: %w", err)
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return fmt.Errorf("%w: %w", ErrLocked, err)
		case sqlite3.ErrCantOpen:
			return fmt.Errorf("cannot open database file: %w", err)
		}
	}
	return err
}

// DB is the underlying database handle (user tables share the file).
func (c *Catalog) DB() *sql.DB { return c.db }

// Path is the database file.
func (c *Catalog) Path() string { return c.path }

// Logger is the logger the catalog was opened with.
func (c *Catalog) Logger() zerolog.Logger { return c.log }

// Close checkpoints the WAL and closes the file.
func (c *Catalog) Close() error {
	if _, err := c.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		c.log.Warn().Err(err).Msg("wal checkpoint on close")
	}
	return c.db.Close()
}

// Record is an adapter's catalog entry without its weights.
type Record struct {
	Name            string
	Task            string
	Labels          []string
	BaseModel       string
	BaseFingerprint string
	ModelType       string
	HiddenSize      int
	NumLayers       int
	AdapterSize     int
	Activation      string
	Pool            string
	Options         map[string]string
	Metrics         json.RawMessage
	Params          int64
	SizeBytes       int64
	SHA256          string
	CreatedAt       time.Time
	// Version numbers the writes of the name since it was created: 1, then
	// +1 on every replace (DROP starts again at 1).
	Version int64
	// Stamp is unique per write (the write time in ns, increasing per name):
	// caches key on it, so a dropped and re-created adapter never matches a
	// cached one, even in another process sharing the file.
	Stamp int64
	// Checked: Get verified the weights against their stored CRC-32C.
	Checked bool
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// CheckName validates an adapter name: a letter or underscore, then letters,
// digits, '_', '.', '-'; at most 64 characters.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid adapter name %q: use a letter or _ then letters, digits, _ . - (at most 64)", name)
	}
	return nil
}

// PutMode says what Put does when the name exists.
type PutMode int

const (
	Create      PutMode = iota // fail with ErrExists
	Replace                    // overwrite atomically
	IfNotExists                // keep the existing one, report created=false
)

// Put stores an adapter in one transaction. It reports whether it wrote.
func (c *Catalog) Put(ctx context.Context, rec Record, weights []byte, mode PutMode) (bool, error) {
	if err := CheckName(rec.Name); err != nil {
		return false, err
	}
	labels, err := json.Marshal(nonNil(rec.Labels))
	if err != nil {
		return false, err
	}
	opts, err := json.Marshal(rec.Options)
	if err != nil {
		return false, err
	}
	metrics := rec.Metrics
	if len(metrics) == 0 {
		metrics = json.RawMessage("{}")
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, FileError(err)
	}
	defer tx.Rollback()
	var version int64
	var stamp sql.NullInt64
	err = tx.QueryRowContext(ctx, "SELECT version, write_stamp FROM adapterdb_adapters WHERE name = ?", rec.Name).Scan(&version, &stamp)
	switch {
	case err == nil && mode == Create:
		return false, fmt.Errorf("%w: %s", ErrExists, rec.Name)
	case err == nil && mode == IfNotExists:
		return false, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return false, FileError(err)
	}
	version++
	stamp.Int64 = max(stamp.Int64+1, time.Now().UnixNano())
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = time.Now()
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM adapterdb_adapters WHERE name = ?`, rec.Name)
	if err != nil {
		return false, FileError(err)
	}
	row := []any{rec.Name, rec.Task, string(labels), rec.BaseModel, rec.BaseFingerprint, rec.ModelType,
		int64(rec.HiddenSize), int64(rec.NumLayers), int64(rec.AdapterSize), rec.Activation, rec.Pool, string(opts),
		string(metrics), rec.Params, int64(len(weights)), rec.SHA256, rec.CreatedAt.UTC().Format(time.RFC3339Nano), version,
		stamp.Int64}
	_, err = tx.ExecContext(ctx, `INSERT INTO adapterdb_adapters
		(name, task, labels, base_model, base_fingerprint, model_type, hidden_size, num_layers, adapter_size,
		 activation, pool, options, metrics, params, size_bytes, sha256, created_at, version, write_stamp,
		 record_crc32c, weights, weights_crc32c)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		append(row, int64(rowSum(row...)), weights, int64(crc32.Checksum(weights, crcTable)))...)
	if err != nil {
		return false, FileError(err)
	}
	if err := adoptOwner(ctx, tx, rec.Name, version > 1); err != nil { // grants.go
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, FileError(err)
	}
	return true, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rowSum is the CRC-32C of a row's columns besides the weights (which have
// their own), in the order of recordColumns, each length-prefixed so that no
// two rows share an encoding. It makes an edit of any of them (the labels,
// the pooling, the options that shape a forward pass) as detectable as
// damaged weights; like those, it detects damage and accidental edits, not
// forgery (whoever can write the file can recompute it).
func rowSum(vals ...any) uint32 {
	var b []byte
	for _, v := range vals {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case int64:
			s = strconv.FormatInt(x, 10)
		default:
			s = fmt.Sprint(x)
		}
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return crc32.Checksum(b, crcTable)
}

const recordColumns = `name, task, labels, base_model, base_fingerprint, model_type, hidden_size, num_layers,
	adapter_size, activation, pool, options, metrics, params, size_bytes, sha256, created_at, version, write_stamp,
	record_crc32c`

// scanRecord reads recordColumns (then extra) and checks the row against its
// checksum (ErrDamaged when they differ).
func scanRecord(row interface{ Scan(...any) error }, extra ...any) (Record, error) {
	var r Record
	var labels, opts, metrics, created string
	var hidden, layers, size int64
	var sum, stamp sql.NullInt64
	dst := append([]any{&r.Name, &r.Task, &labels, &r.BaseModel, &r.BaseFingerprint, &r.ModelType, &hidden,
		&layers, &size, &r.Activation, &r.Pool, &opts, &metrics, &r.Params, &r.SizeBytes, &r.SHA256,
		&created, &r.Version, &stamp, &sum}, extra...)
	if err := row.Scan(dst...); err != nil {
		return Record{}, err
	}
	cols := []any{r.Name, r.Task, labels, r.BaseModel, r.BaseFingerprint, r.ModelType,
		hidden, layers, size, r.Activation, r.Pool, opts, metrics, r.Params, r.SizeBytes, r.SHA256, created, r.Version}
	r.Stamp = r.Version // rows written before write_stamp: version was the stamp
	if stamp.Valid {
		r.Stamp = stamp.Int64
		cols = append(cols, stamp.Int64)
	}
	if sum.Valid && uint32(sum.Int64) != rowSum(cols...) {
		return Record{}, fmt.Errorf("%w: adapter %s: its catalog row does not match the row's checksum (edited outside adapterdb, or damaged); re-create or re-import it", ErrDamaged, r.Name)
	}
	r.HiddenSize, r.NumLayers, r.AdapterSize = int(hidden), int(layers), int(size)
	if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
		return Record{}, fmt.Errorf("adapter %s: labels: %w", r.Name, err)
	}
	if err := json.Unmarshal([]byte(opts), &r.Options); err != nil {
		return Record{}, fmt.Errorf("adapter %s: options: %w", r.Name, err)
	}
	r.Metrics = json.RawMessage(metrics)
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return Record{}, fmt.Errorf("adapter %s: created_at: %w", r.Name, err)
	}
	r.CreatedAt = t
	return r, nil
}

// Get returns an adapter's record and weights, checked against the CRC-32C
// stored with them (ErrDamaged when they differ).
func (c *Catalog) Get(ctx context.Context, name string) (Record, []byte, error) {
	var blob []byte
	var crc sql.NullInt64
	row := c.db.QueryRowContext(ctx, "SELECT "+recordColumns+", weights, weights_crc32c FROM adapterdb_adapters WHERE name = ?", name)
	r, err := scanRecord(row, &blob, &crc)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return Record{}, nil, FileError(err)
	}
	if crc.Valid && uint32(crc.Int64) != crc32.Checksum(blob, crcTable) {
		return Record{}, nil, fmt.Errorf("%w: adapter %s: stored weights do not match their checksum", ErrDamaged, name)
	}
	r.Checked = crc.Valid
	return r, blob, nil
}

// Info returns an adapter's record without reading its weights.
func (c *Catalog) Info(ctx context.Context, name string) (Record, error) {
	row := c.db.QueryRowContext(ctx, "SELECT "+recordColumns+" FROM adapterdb_adapters WHERE name = ?", name)
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return r, FileError(err)
}

// List returns every adapter's record, by name.
func (c *Catalog) List(ctx context.Context) ([]Record, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT "+recordColumns+" FROM adapterdb_adapters ORDER BY name")
	if err != nil {
		return nil, FileError(err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, FileError(rows.Err())
}

// CheckWritable waits, up to the busy timeout, for the file's write lock,
// then releases it at once: ErrLocked if another connection holds it for
// longer. A statement that works for minutes before it writes (training)
// asks first, so a held lock fails it at once rather than after the work; it
// does not keep the lock meanwhile, which would stop every other writer.
func (c *Catalog) CheckWritable(ctx context.Context) error {
	tx, err := c.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock=immediate): takes the lock
	if err != nil {
		return FileError(err)
	}
	return FileError(tx.Rollback())
}

// Drop deletes an adapter. With ifExists an unknown name is not an error; the
// result says whether a row was deleted.
func (c *Catalog) Drop(ctx context.Context, name string, ifExists bool) (bool, error) {
	// One transaction: the adapter goes with its grants (grants.go).
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, FileError(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "DELETE FROM adapterdb_adapters WHERE name = ?", name)
	if err != nil {
		return false, FileError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 0 && !ifExists {
		return false, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err := dropGrants(ctx, tx, name); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, FileError(err)
	}
	return n > 0, nil
}
