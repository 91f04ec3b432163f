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
	db    *sql.DB
	path  string
	log   zerolog.Logger
	infos infoCache // Info's records while the file is unchanged (infocache.go)
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

// adaptersTable is the adapter table's definition (table: its name, so a
// migration can build it under another): one row per version of an adapter,
// each a whole adapter.
func adaptersTable(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	name             TEXT NOT NULL COLLATE NOCASE,
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
	record_crc32c    INTEGER,            -- CRC-32C of the columns above and inputs (NULL in files written before it)
	inputs           TEXT,               -- "single" or "pair" (NULL in files written before it: filled on open, inputs.go); before weights: read without them
	weights          BLOB NOT NULL,      -- safetensors file
	weights_crc32c   INTEGER,            -- CRC-32C of weights (NULL in files written before it)
	PRIMARY KEY (name, version)
) STRICT;
`
}

// headsSchema: one row per adapter, naming the version that plain name
// means. A version row without its head, or a head whose active row is gone
// (deleted outside adapterdb), is no adapter: reads skip it and the next
// write of the name starts afresh.
const headsSchema = `
CREATE TABLE IF NOT EXISTS adapterdb_adapter_heads (
	name          TEXT PRIMARY KEY COLLATE NOCASE,
	active        INTEGER NOT NULL,  -- the version plain name means
	last_version  INTEGER NOT NULL,  -- the highest version given: numbers are not reused
	keep_versions INTEGER NOT NULL   -- retention: versions kept after a write
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
	// Asked first: a write, even of nothing, would wait for another
	// process's write lock and fail on a read-only file.
	current, err := c.hasTables(ctx, c.db, "adapterdb_adapters", "adapterdb_adapter_heads")
	if err != nil {
		return err
	}
	if !current {
		if err := c.migrate(ctx); err != nil {
			return err
		}
	}
	// Files made before the checksum columns existed get them (NULL: those
	// rows are read unchecked until rewritten).
	if err := addColumns(ctx, c.db); err != nil {
		return err
	}
	// Rows written before the inputs column get it from their weights'
	// metadata (inputs.go).
	if err := c.fillInputs(ctx); err != nil {
		return err
	}
	for _, t := range []struct {
		schema string
		tables []string
	}{
		{grantsSchema, []string{"adapterdb_adapter_owners", "adapterdb_adapter_grants"}}, // grants.go
		{trialsSchema, []string{"adapterdb_trials"}},                                     // trials.go
		{jobsSchema, []string{"adapterdb_jobs"}},                                         // jobs.go
	} {
		if err := c.createMissing(ctx, t.schema, t.tables...); err != nil {
			return err
		}
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// hasTables reports whether the file has all of tables.
func (c *Catalog) hasTables(ctx context.Context, q querier, tables ...string) (bool, error) {
	for _, t := range tables {
		var n int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, t).Scan(&n); err != nil {
			return false, FileError(err)
		}
		if n == 0 {
			return false, nil
		}
	}
	return true, nil
}

// addColumns adds the columns files made before them lack.
func addColumns(ctx context.Context, q querier) error {
	for _, col := range []struct{ name, typ string }{
		{"weights_crc32c", "INTEGER"}, {"record_crc32c", "INTEGER"}, {"write_stamp", "INTEGER"}, {"inputs", "TEXT"},
	} {
		var n int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('adapterdb_adapters') WHERE name = ?`, col.name).Scan(&n); err != nil {
			return FileError(err)
		}
		if n == 0 {
			if _, err := q.ExecContext(ctx, `ALTER TABLE adapterdb_adapters ADD COLUMN `+col.name+` `+col.typ); err != nil {
				return FileError(err)
			}
		}
	}
	return nil
}

// allColumns are the adapter table's columns, weights included, as the
// versions migration copies them (inputs, added after it, is filled on open).
const allColumns = `name, task, labels, base_model, base_fingerprint, model_type, hidden_size, num_layers,
	adapter_size, activation, pool, options, metrics, params, size_bytes, sha256, created_at, version, write_stamp,
	record_crc32c, weights, weights_crc32c`

// createMissing runs schema, in one transaction, in a file that lacks any of
// tables. It asks first: creating takes the write lock, which a read-only
// file or another writer refuses.
func (c *Catalog) createMissing(ctx context.Context, schema string, tables ...string) error {
	var n int
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN (?` + strings.Repeat(", ?", len(tables)-1) + `)`
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t
	}
	if err := c.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return FileError(err)
	}
	if n == len(tables) {
		return nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return FileError(err)
	}
	return FileError(tx.Commit())
}

// migrate creates the adapter tables in a new file, or brings a file made
// before versions (one row per adapter, the name its key) to one row per
// version plus a head per adapter. Each adapter keeps its version number
// (its count of writes, which its row checksum covers) as its one, active
// version. All of it is one transaction: a crash or an error part way leaves
// the file as it was, readable by the release that made it.
func (c *Catalog) migrate(ctx context.Context) error {
	tx, err := c.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one process migrates, the others wait, then see it done
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	old, err := c.hasTables(ctx, tx, "adapterdb_adapters")
	if err != nil {
		return err
	}
	done, err := c.hasTables(ctx, tx, "adapterdb_adapter_heads")
	if err != nil || done && old {
		return err
	}
	steps := []string{adaptersTable("adapterdb_adapters"), headsSchema}
	n := 0
	if old {
		if err := addColumns(ctx, tx); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM adapterdb_adapters`).Scan(&n); err != nil {
			return FileError(err)
		}
		steps = []string{
			// Before write_stamp, version held the write time in ns (shown
			// as 1796394196163182345): it moves to write_stamp and version
			// becomes 1. Rows with a record checksum are left alone (it
			// covers version).
			`UPDATE adapterdb_adapters SET write_stamp = version, version = 1 WHERE write_stamp IS NULL AND record_crc32c IS NULL`,
			adaptersTable("adapterdb_adapters_versions"),
			`INSERT INTO adapterdb_adapters_versions (` + allColumns + `) SELECT ` + allColumns + ` FROM adapterdb_adapters`,
			headsSchema,
			fmt.Sprintf(`INSERT INTO adapterdb_adapter_heads (name, active, last_version, keep_versions)
				SELECT name, MAX(version), MAX(version), %d FROM adapterdb_adapters GROUP BY name`, DefaultKeepVersions),
			`DROP TABLE adapterdb_adapters`,
			`ALTER TABLE adapterdb_adapters_versions RENAME TO adapterdb_adapters`,
		}
	}
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			if old {
				return fmt.Errorf("migrate the adapter catalog to versions (the file is unchanged): %w", FileError(err))
			}
			return FileError(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return FileError(err)
	}
	if old {
		c.log.Info().Int("adapters", n).Msg("adapter catalog migrated to versions: each adapter keeps its version number as its active version")
	}
	return nil
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

// Close checkpoints the WAL into the database file and closes it.
func (c *Catalog) Close() error {
	c.infos.close()
	c.checkpoint()
	return c.db.Close()
}

// checkpoint copies the WAL into the database file and truncates it, so
// that a closed database is one file, when no other process is using the
// file. One that is (a server, an import, an open transaction) is not waited
// for: its WAL stays, and the last process to close truncates it.
func (c *Catalog) checkpoint() {
	ctx := context.Background()
	conn, err := c.db.Conn(ctx)
	if err != nil {
		c.log.Warn().Err(err).Msg("wal checkpoint on close")
		return
	}
	defer conn.Close()
	// A busy timeout of 0 reports another process's lock at once; the
	// connection gets its own back before it returns to the pool.
	var timeout int
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		c.log.Warn().Err(err).Msg("wal checkpoint on close")
		return
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		c.log.Warn().Err(err).Msg("wal checkpoint on close")
		return
	}
	defer conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(timeout))
	var busy, walFrames, copied int
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &walFrames, &copied); err != nil {
		c.log.Warn().Err(err).Msg("wal checkpoint on close")
	} else if busy != 0 {
		c.log.Debug().Int("wal_frames", walFrames).Int("copied", copied).Msg("wal kept on close: another process is using the file")
	}
}

// Record is an adapter's catalog entry without its weights.
type Record struct {
	Name string
	Task string
	// Inputs is what one example is: "single" (a text) or "pair" (two
	// texts), the adapter file's "inputs" metadata (InputsSingle,
	// InputsPair). Put: "" takes it from the weights' metadata. Read: ""
	// when unknown (a row an older release wrote since the file was opened).
	Inputs          string
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
	// +1 on every replace (DROP starts again at 1). Each version is kept
	// (up to KeepVersions) and can be read as name@Version.
	Version int64
	// Active: this version is the one the plain name means.
	Active bool
	// KeepVersions is the adapter's retention: after a write, at most this
	// many versions remain (the oldest inactive ones go). Put: 0 takes
	// WithKeepVersions' value, else keeps the adapter's setting
	// (DefaultKeepVersions for a new one).
	KeepVersions int
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
// Replace adds a version and makes it the active one; the adapter's
// retention (KeepVersions) then deletes its oldest inactive versions.
func (c *Catalog) Put(ctx context.Context, rec Record, weights []byte, mode PutMode) (bool, error) {
	if err := CheckName(rec.Name); err != nil {
		return false, err
	}
	inputs, err := putInputs(rec.Inputs, weights) // inputs.go
	if err != nil {
		return false, fmt.Errorf("adapter %s: %w", rec.Name, err)
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
	var last, keep int64
	var stamp sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT h.last_version, h.keep_versions,
			(SELECT MAX(write_stamp) FROM adapterdb_adapters WHERE name = h.name)
		FROM adapterdb_adapter_heads h JOIN adapterdb_adapters a ON a.name = h.name AND a.version = h.active
		WHERE h.name = ?`, rec.Name).Scan(&last, &keep, &stamp)
	exists := err == nil
	switch {
	case exists && mode == Create:
		return false, fmt.Errorf("%w: %s", ErrExists, rec.Name)
	case exists && mode == IfNotExists:
		return false, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return false, FileError(err)
	}
	if !exists {
		// A new adapter (or one whose rows were deleted outside adapterdb):
		// nothing left under the name is kept, and it starts at version 1.
		for _, q := range []string{`DELETE FROM adapterdb_adapters WHERE name = ?`, `DELETE FROM adapterdb_adapter_heads WHERE name = ?`} {
			if _, err := tx.ExecContext(ctx, q, rec.Name); err != nil {
				return false, FileError(err)
			}
		}
		last, keep, stamp = 0, DefaultKeepVersions, sql.NullInt64{}
	}
	if rec.KeepVersions == 0 {
		rec.KeepVersions = keepVersionsOf(ctx)
	}
	if rec.KeepVersions != 0 {
		if err := CheckKeepVersions(rec.KeepVersions); err != nil {
			return false, err
		}
		keep = int64(rec.KeepVersions)
	}
	version := last + 1
	stamp.Int64 = max(stamp.Int64+1, time.Now().UnixNano())
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = time.Now()
	}
	row := []any{rec.Name, rec.Task, string(labels), rec.BaseModel, rec.BaseFingerprint, rec.ModelType,
		int64(rec.HiddenSize), int64(rec.NumLayers), int64(rec.AdapterSize), rec.Activation, rec.Pool, string(opts),
		string(metrics), rec.Params, int64(len(weights)), rec.SHA256, rec.CreatedAt.UTC().Format(time.RFC3339Nano), version,
		stamp.Int64}
	if inputs.Valid {
		row = append(row, inputs.String)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO adapterdb_adapters
		(name, task, labels, base_model, base_fingerprint, model_type, hidden_size, num_layers, adapter_size,
		 activation, pool, options, metrics, params, size_bytes, sha256, created_at, version, write_stamp,
		 record_crc32c, weights, weights_crc32c, inputs)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		append(row[:19:19], int64(rowSum(row...)), weights, int64(crc32.Checksum(weights, crcTable)), inputs)...)
	if err != nil {
		return false, FileError(err)
	}
	// The new version is the active one, whichever was active before.
	_, err = tx.ExecContext(ctx, `INSERT INTO adapterdb_adapter_heads (name, active, last_version, keep_versions)
		VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET name = excluded.name, active = excluded.active,
		last_version = excluded.last_version, keep_versions = excluded.keep_versions`, rec.Name, version, version, keep)
	if err != nil {
		return false, FileError(err)
	}
	// Retention: the active version and the keep-1 newest others stay.
	_, err = tx.ExecContext(ctx, `DELETE FROM adapterdb_adapters WHERE name = ? AND version IN
		(SELECT version FROM adapterdb_adapters WHERE name = ? AND version <> ? ORDER BY version DESC LIMIT -1 OFFSET ?)`,
		rec.Name, rec.Name, version, keep-1)
	if err != nil {
		return false, FileError(err)
	}
	if err := dropGoneVersions(ctx, tx, rec.Name); err != nil { // versions.go
		return false, err
	}
	if err := adoptOwner(ctx, tx, rec.Name, exists); err != nil { // grants.go
		return false, err
	}
	if err := putTrials(ctx, tx, rec.Name, version); err != nil { // trials.go
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
// their own), in the order of recordColumns (write_stamp and inputs when not
// NULL, after version), each length-prefixed so that no
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

// recordColumns are a version row's columns besides the weights (a: the
// adapter table), then whether it is its adapter's active version and the
// adapter's retention (h: its head).
const recordColumns = `a.name, a.task, a.labels, a.base_model, a.base_fingerprint, a.model_type, a.hidden_size,
	a.num_layers, a.adapter_size, a.activation, a.pool, a.options, a.metrics, a.params, a.size_bytes, a.sha256,
	a.created_at, a.version, a.write_stamp, a.inputs, a.record_crc32c, a.version = h.active, h.keep_versions`

// versionRows joins each version row to its adapter's head: rows without a
// head, and adapters whose active row is gone, are not read.
const versionRows = ` FROM adapterdb_adapters a JOIN adapterdb_adapter_heads h ON h.name = a.name
	AND EXISTS (SELECT 1 FROM adapterdb_adapters x WHERE x.name = h.name AND x.version = h.active)`

// activeRows is versionRows' active versions only.
const activeRows = ` FROM adapterdb_adapters a JOIN adapterdb_adapter_heads h ON h.name = a.name AND a.version = h.active`

// rawRow is a version row as stored: the text columns unparsed, and the
// columns its checksum covers (sumCols, in rowSum's order).
type rawRow struct {
	rec                            Record
	labels, opts, metrics, created string
	hidden, layers, size           int64
	sum                            sql.NullInt64
	sumCols                        []any
}

// sumHolds: the row has no checksum, or it matches.
func (w rawRow) sumHolds() bool {
	return !w.sum.Valid || uint32(w.sum.Int64) == rowSum(w.sumCols...)
}

// scanRaw reads recordColumns (then extra) without checking or parsing.
func scanRaw(row interface{ Scan(...any) error }, extra ...any) (rawRow, error) {
	var w rawRow
	r := &w.rec
	var keep int64
	var stamp sql.NullInt64
	var inputs sql.NullString
	dst := append([]any{&r.Name, &r.Task, &w.labels, &r.BaseModel, &r.BaseFingerprint, &r.ModelType, &w.hidden,
		&w.layers, &w.size, &r.Activation, &r.Pool, &w.opts, &w.metrics, &r.Params, &r.SizeBytes, &r.SHA256,
		&w.created, &r.Version, &stamp, &inputs, &w.sum, &r.Active, &keep}, extra...)
	if err := row.Scan(dst...); err != nil {
		return rawRow{}, err
	}
	r.KeepVersions = int(keep)
	w.sumCols = []any{r.Name, r.Task, w.labels, r.BaseModel, r.BaseFingerprint, r.ModelType,
		w.hidden, w.layers, w.size, r.Activation, r.Pool, w.opts, w.metrics, r.Params, r.SizeBytes, r.SHA256, w.created, r.Version}
	r.Stamp = r.Version // rows written before write_stamp: version was the stamp
	if stamp.Valid {
		r.Stamp = stamp.Int64
		w.sumCols = append(w.sumCols, stamp.Int64)
	}
	if inputs.Valid {
		r.Inputs = inputs.String
		w.sumCols = append(w.sumCols, inputs.String)
	}
	return w, nil
}

// scanRecord reads recordColumns (then extra) and checks the row against its
// checksum (ErrDamaged when they differ).
func scanRecord(row interface{ Scan(...any) error }, extra ...any) (Record, error) {
	raw, err := scanRaw(row, extra...)
	if err != nil {
		return Record{}, err
	}
	if !raw.sumHolds() {
		return Record{}, fmt.Errorf("%w: adapter %s: its catalog row does not match the row's checksum (edited outside adapterdb, or damaged); re-create or re-import it", ErrDamaged, raw.rec.Name)
	}
	r, labels, opts, metrics, created := raw.rec, raw.labels, raw.opts, raw.metrics, raw.created
	hidden, layers, size := raw.hidden, raw.layers, raw.size
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

// refQuery is the FROM and WHERE that select the version ref names: "name"
// (the active version) or "name@N" (version N). ErrNotFound for a malformed
// reference.
func refQuery(ref string) (string, []any, error) {
	name, version, err := SplitVersion(ref)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s (%v)", ErrNotFound, ref, err)
	}
	if version == 0 {
		return activeRows + ` WHERE h.name = ?`, []any{name}, nil
	}
	return versionRows + ` WHERE a.name = ? AND a.version = ?`, []any{name, version}, nil
}

// Get returns an adapter's record and weights, checked against the CRC-32C
// stored with them (ErrDamaged when they differ). ref is a name (the active
// version) or name@N (version N).
func (c *Catalog) Get(ctx context.Context, ref string) (Record, []byte, error) {
	from, args, err := refQuery(ref)
	if err != nil {
		return Record{}, nil, err
	}
	var blob []byte
	var crc sql.NullInt64
	row := c.db.QueryRowContext(ctx, "SELECT "+recordColumns+", a.weights, a.weights_crc32c"+from, args...)
	r, err := scanRecord(row, &blob, &crc)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if err != nil {
		return Record{}, nil, FileError(err)
	}
	if crc.Valid && uint32(crc.Int64) != crc32.Checksum(blob, crcTable) {
		return Record{}, nil, fmt.Errorf("%w: adapter %s: stored weights do not match their checksum", ErrDamaged, ref)
	}
	r.Checked = crc.Valid
	return r, blob, nil
}

// Info returns an adapter's record without reading its weights; ref as for
// Get.
func (c *Catalog) Info(ctx context.Context, ref string) (Record, error) {
	from, args, err := refQuery(ref)
	if err != nil {
		return Record{}, err
	}
	cached, version, ok := c.infos.get(ctx, c.db, ref)
	if ok {
		return cached, nil
	}
	row := c.db.QueryRowContext(ctx, "SELECT "+recordColumns+from, args...)
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if err != nil {
		return Record{}, FileError(err)
	}
	c.infos.put(ref, version, r)
	return r, nil
}

// List returns every adapter's active version, by name.
func (c *Catalog) List(ctx context.Context) ([]Record, error) {
	return c.records(ctx, "SELECT "+recordColumns+activeRows+" ORDER BY h.name")
}

func (c *Catalog) records(ctx context.Context, q string, args ...any) ([]Record, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, FileError(err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, FileError(err)
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

// Drop deletes an adapter, every version of it. With ifExists an unknown
// name is not an error; the result says whether the adapter existed.
func (c *Catalog) Drop(ctx context.Context, name string, ifExists bool) (bool, error) {
	// One transaction: the adapter goes with its grants (grants.go).
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, FileError(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*)"+activeRows+" WHERE h.name = ?", name).Scan(&n); err != nil {
		return false, FileError(err)
	}
	if n == 0 && !ifExists {
		return false, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	for _, q := range []string{"DELETE FROM adapterdb_adapters WHERE name = ?", "DELETE FROM adapterdb_adapter_heads WHERE name = ?"} {
		if _, err := tx.ExecContext(ctx, q, name); err != nil {
			return false, FileError(err)
		}
	}
	if err := dropGrants(ctx, tx, name); err != nil {
		return false, err
	}
	if err := dropTrials(ctx, tx, name); err != nil { // trials.go
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, FileError(err)
	}
	return n > 0, nil
}
