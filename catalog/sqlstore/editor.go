package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// editor applies one statement's row changes to a table, through the
// session's write transaction. Writes go straight to SQLite (so later rows of
// the same statement see earlier ones, as ON DUPLICATE KEY UPDATE needs);
// statement atomicity comes from the session's savepoints.
type editor struct {
	t      *Table
	def    *tableDef
	s      *Session
	err    error // no adapterdb session
	gen    uint64
	begun  bool
	closed bool
	writes int64 // rows changed, for the row count estimate
}

var (
	_ sql.TableEditor         = (*editor)(nil)
	_ sql.AutoIncrementSetter = (*editor)(nil)
	_ sql.ForeignKeyEditor    = (*editor)(nil)
)

func (t *Table) newEditor(ctx *sql.Context) *editor {
	e := &editor{t: t, def: t.def}
	e.s, e.err = mustSession(ctx)
	if e.s != nil {
		e.s.editorOpened(t.def.id)
	}
	return e
}

// Inserter implements sql.InsertableTable.
func (t *Table) Inserter(ctx *sql.Context) sql.RowInserter { return t.newEditor(ctx) }

// Updater implements sql.UpdatableTable.
func (t *Table) Updater(ctx *sql.Context) sql.RowUpdater { return t.newEditor(ctx) }

// Deleter implements sql.DeletableTable.
func (t *Table) Deleter(ctx *sql.Context) sql.RowDeleter { return t.newEditor(ctx) }

// Replacer implements sql.ReplaceableTable.
func (t *Table) Replacer(ctx *sql.Context) sql.RowReplacer { return t.newEditor(ctx) }

// GetForeignKeyEditor implements sql.ForeignKeyTable.
func (t *Table) GetForeignKeyEditor(ctx *sql.Context) sql.ForeignKeyEditor { return t.newEditor(ctx) }

// AutoIncrementSetter implements sql.AutoIncrementTable.
func (t *Table) AutoIncrementSetter(ctx *sql.Context) sql.AutoIncrementSetter {
	return t.newEditor(ctx)
}

// StatementBegin implements sql.EditOpenerCloser. The engine calls it when the
// statement starts running, before its first read: the write lock is taken
// here, because a transaction that reads first and writes later cannot get
// it if another writer committed in between (SQLite's snapshot rule), which
// would fail autocommit UPDATEs under concurrency.
func (e *editor) StatementBegin(*sql.Context) {
	if e.s == nil {
		return
	}
	if _, err := e.s.writeConn(); err != nil && e.err == nil {
		e.err = err
	}
	e.gen, e.begun = e.s.stmtBegin(), true
}

// DiscardChanges implements sql.EditOpenerCloser.
func (e *editor) DiscardChanges(_ *sql.Context, cause error) error {
	if e.s == nil || !e.begun {
		return nil
	}
	e.begun = false
	if _, ignorable := cause.(sql.IgnorableError); ignorable {
		return e.s.stmtComplete(e.gen)
	}
	return e.s.stmtDiscard(e.gen)
}

// StatementComplete implements sql.EditOpenerCloser. A statement whose
// context was cancelled (KILL QUERY, a client gone, a cancelled
// context.Context) is undone instead: go-mysql-server's TableEditorIter
// returns the cancellation from Next without recording it as the
// statement's error, and then completes the statement, which would keep
// the rows written before the cancel.
func (e *editor) StatementComplete(ctx *sql.Context) error {
	if e.s == nil || !e.begun {
		return nil
	}
	e.begun = false
	if ctx != nil && ctx.Err() != nil {
		return e.s.stmtDiscard(e.gen)
	}
	return e.s.stmtComplete(e.gen)
}

// Close implements sql.Closer.
func (e *editor) Close(*sql.Context) error {
	if !e.closed && e.s != nil {
		e.closed = true
		e.s.editorClosed(e.def.id)
		if e.writes > 0 {
			e.t.p.noteWrites(e.def.id, e.writes)
		}
	}
	return nil
}

func (e *editor) conn() (*sqliteConn, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.s.beforeWrite()
}

// storedValues encodes a row's stored columns.
func (e *editor) storedValues(ctx *sql.Context, row sql.Row) ([]driver.Value, error) {
	if len(row) < len(e.def.sch.Schema) {
		return nil, fmt.Errorf("table %s: row has %d values, want %d", e.def.name, len(row), len(e.def.sch.Schema))
	}
	vals := make([]driver.Value, len(e.def.stored))
	for i, si := range e.def.stored {
		v, err := e.def.codecs[si].encode(ctx, row[si])
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", e.def.name, e.def.sch.Schema[si].Name, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// Insert implements sql.RowInserter.
func (e *editor) Insert(ctx *sql.Context, row sql.Row) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	vals, err := e.storedValues(ctx, row)
	if err != nil {
		return err
	}
	e.writes++
	if _, err := c.exec(e.def.insertSQL(), vals...); err != nil {
		if isUniqueViolation(err) {
			return e.uniqueError(ctx, c, row, err)
		}
		return mapError(err, e.def.name)
	}
	if e.def.autoCol >= 0 && row[e.def.autoCol] != nil {
		return e.noteAutoInc(ctx, row[e.def.autoCol])
	}
	return nil
}

// autoIncValue is an AUTO_INCREMENT column value as a counter position;
// negative and NULL values do not move the counter.
func autoIncValue(ctx *sql.Context, val any) (uint64, bool) {
	switch x := val.(type) {
	case nil:
		return 0, false
	case int8, int16, int32, int64, int:
		i, _, err := types.Int64.Convert(ctx, x)
		if err != nil || i.(int64) < 0 {
			return 0, false
		}
		return uint64(i.(int64)), true
	case float32, float64:
		f, _, err := types.Float64.Convert(ctx, x)
		if err != nil || f.(float64) < 0 {
			return 0, false
		}
	}
	v, _, err := types.Uint64.Convert(ctx, val)
	if err != nil {
		return 0, false
	}
	return v.(uint64), true
}

// noteAutoInc advances the AUTO_INCREMENT counter past an inserted value.
func (e *editor) noteAutoInc(ctx *sql.Context, val any) error {
	u, ok := autoIncValue(ctx, val)
	if !ok {
		return nil
	}
	cur, err := e.s.nextAutoInc(e.def)
	if err != nil {
		return err
	}
	if u >= cur && u < ^uint64(0) {
		e.s.setAutoInc(e.def, u+1)
	}
	return nil
}

// Update implements sql.RowUpdater.
func (e *editor) Update(ctx *sql.Context, old, new sql.Row) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	vals, err := e.storedValues(ctx, new)
	if err != nil {
		return err
	}
	where, wargs, err := e.rowMatch(ctx, old)
	if err != nil {
		return err
	}
	if _, err := c.exec("UPDATE "+qi(e.def.sqlName)+" SET "+e.def.setList()+" WHERE "+where, append(vals, wargs...)...); err != nil {
		if isUniqueViolation(err) {
			return e.uniqueError(ctx, c, new, err)
		}
		return mapError(err, e.def.name)
	}
	if e.def.autoCol >= 0 && new[e.def.autoCol] != nil {
		return e.noteAutoInc(ctx, new[e.def.autoCol])
	}
	return nil
}

// Delete implements sql.RowDeleter.
func (e *editor) Delete(ctx *sql.Context, row sql.Row) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	where, args, err := e.rowMatch(ctx, row)
	if err != nil {
		return err
	}
	e.writes++
	res, err := c.exec("DELETE FROM "+qi(e.def.sqlName)+" WHERE "+where, args...)
	if err != nil {
		return mapError(err, e.def.name)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sql.ErrDeleteRowNotFound.New()
	}
	return nil
}

// rowMatch is the WHERE clause selecting the stored row equal to row: by
// primary key, or for a keyless table the first row with equal values.
func (e *editor) rowMatch(ctx *sql.Context, row sql.Row) (string, []driver.Value, error) {
	def := e.def
	if len(def.sch.PkOrdinals) > 0 {
		parts := make([]string, len(def.sch.PkOrdinals))
		args := make([]driver.Value, len(def.sch.PkOrdinals))
		for i, si := range def.sch.PkOrdinals {
			v, err := def.codecs[si].encode(ctx, row[si])
			if err != nil {
				return "", nil, err
			}
			parts[i], args[i] = qi(def.sch.Schema[si].Name)+" = ?", v
		}
		return strings.Join(parts, " AND "), args, nil
	}
	vals, err := e.storedValues(ctx, row)
	if err != nil {
		return "", nil, err
	}
	parts := make([]string, len(def.stored))
	for i, si := range def.stored {
		parts[i] = qi(def.sch.Schema[si].Name) + " IS ?"
	}
	return "rowid = (SELECT rowid FROM " + qi(def.sqlName) + " WHERE " + strings.Join(parts, " AND ") + " LIMIT 1)", vals, nil
}

// uniqueError finds the stored row a write collided with and reports it the
// way the engine expects (it uses the existing row for ON DUPLICATE KEY UPDATE
// and REPLACE).
func (e *editor) uniqueError(ctx *sql.Context, c *sqliteConn, row sql.Row, cause error) error {
	def := e.def
	type key struct {
		cols   []int
		prefix []int64
		pk     bool
	}
	var keys []key
	var pkKey []key
	if len(def.sch.PkOrdinals) > 0 {
		pkKey = append(pkKey, key{cols: def.sch.PkOrdinals, pk: true})
	}
	// SQLite says whether the primary key or a unique index failed; look
	// there first (a row can collide on both).
	pkFirst := isPrimaryKeyViolation(cause)
	if pkFirst {
		keys = append(keys, pkKey...)
	}
	for _, ix := range def.indexes {
		if !ix.unique {
			continue
		}
		k := key{}
		for _, ic := range ix.cols {
			k.cols = append(k.cols, def.colIndex(ic.Name))
			k.prefix = append(k.prefix, ic.Length)
		}
		keys = append(keys, k)
	}
	if !pkFirst {
		keys = append(keys, pkKey...)
	}
	for _, k := range keys {
		var parts []string
		var args []driver.Value
		hasNull := false
		for i, si := range k.cols {
			if si < 0 || row[si] == nil {
				hasNull = true
				break
			}
			v, err := def.codecs[si].encode(ctx, row[si])
			if err != nil {
				return err
			}
			col := qi(def.sch.Schema[si].Name)
			if len(k.prefix) > i && k.prefix[i] > 0 {
				parts = append(parts, fmt.Sprintf("substr(%s, 1, %d) = substr(?, 1, %d)", col, k.prefix[i], k.prefix[i]))
			} else {
				parts = append(parts, col+" = ?")
			}
			args = append(args, v)
		}
		if hasNull {
			continue
		}
		existing, found, err := e.fetchRow(ctx, c, strings.Join(parts, " AND "), args)
		if err != nil {
			return err
		}
		if found {
			return sql.NewUniqueKeyErr(formatKey(row, k.cols), k.pk, existing)
		}
	}
	return sql.ErrUniqueKeyViolation.New()
}

// fetchRow reads one whole row matching where.
func (e *editor) fetchRow(ctx *sql.Context, c *sqliteConn, where string, args []driver.Value) (sql.Row, bool, error) {
	def := e.def
	dest := make([]driver.Value, len(def.stored))
	found, err := c.queryRow(dest, "SELECT "+def.storedList()+" FROM "+qi(def.sqlName)+" WHERE "+where+" LIMIT 1", args...)
	if err != nil || !found {
		return nil, false, mapError(err, def.name)
	}
	row := make(sql.Row, len(def.sch.Schema))
	for i, si := range def.stored {
		v, err := def.codecs[si].decode(ctx, dest[i])
		if err != nil {
			return nil, false, err
		}
		row[si] = v
	}
	return row, true, nil
}

func formatKey(row sql.Row, cols []int) string {
	var b strings.Builder
	b.WriteString("[")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%v", row[c])
	}
	b.WriteString("]")
	return b.String()
}

// ---- AUTO_INCREMENT ----

// PeekNextAutoIncrementValue implements sql.AutoIncrementGetter.
func (t *Table) PeekNextAutoIncrementValue(ctx *sql.Context) (uint64, error) {
	s, err := mustSession(ctx)
	if err != nil {
		return t.def.autoInc, nil
	}
	return s.nextAutoInc(t.def)
}

// GetNextAutoIncrementValue implements sql.AutoIncrementTable: the next value,
// or insertVal when that is larger (the counter then continues after it).
func (t *Table) GetNextAutoIncrementValue(ctx *sql.Context, insertVal any) (uint64, error) {
	s, err := mustSession(ctx)
	if err != nil {
		return 0, err
	}
	cur, err := s.nextAutoInc(t.def)
	if err != nil {
		return 0, err
	}
	if v, ok := autoIncValue(ctx, insertVal); ok && v > cur {
		cur = v
		s.setAutoInc(t.def, cur)
	}
	return cur, nil
}

// SetAutoIncrementValue implements sql.AutoIncrementSetter.
func (e *editor) SetAutoIncrementValue(ctx *sql.Context, v uint64) error {
	if e.err != nil {
		return e.err
	}
	if _, err := e.s.beforeWrite(); err != nil {
		return err
	}
	e.s.setAutoInc(e.def, v)
	return nil
}

// AcquireAutoIncrementLock implements sql.AutoIncrementSetter: the write
// transaction already serializes writers.
func (e *editor) AcquireAutoIncrementLock(*sql.Context) (func(), error) { return func() {}, nil }

// ---- truncate ----

// Truncate implements sql.TruncateableTable.
func (t *Table) Truncate(ctx *sql.Context) (int, error) {
	s, err := mustSession(ctx)
	if err != nil {
		return 0, err
	}
	c, err := s.beforeWrite()
	if err != nil {
		return 0, err
	}
	res, err := c.exec("DELETE FROM " + qi(t.def.sqlName))
	if err != nil {
		return 0, mapError(err, t.def.name)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ---- editor as a table (foreign key checks read through it) ----

func (e *editor) Name() string                                           { return e.t.Name() }
func (e *editor) String() string                                         { return e.t.String() }
func (e *editor) Schema() sql.Schema                                     { return e.t.Schema() }
func (e *editor) Collation() sql.CollationID                             { return e.t.Collation() }
func (e *editor) Partitions(ctx *sql.Context) (sql.PartitionIter, error) { return e.t.Partitions(ctx) }
func (e *editor) PartitionRows(ctx *sql.Context, p sql.Partition) (sql.RowIter, error) {
	return e.liveTable().PartitionRows(ctx, p)
}
func (e *editor) GetIndexes(ctx *sql.Context) ([]sql.Index, error) { return e.t.GetIndexes(ctx) }
func (e *editor) PreciseMatch() bool                               { return true }
func (e *editor) IndexedAccess(ctx *sql.Context, l sql.IndexLookup) sql.IndexedTable {
	return e.liveTable().IndexedAccess(ctx, l)
}

// liveTable reads see this statement's writes (foreign key checks).
func (e *editor) liveTable() *Table {
	t := *e.t
	t.live = true
	return &t
}

// ---- SQL text, built once per schema version ----

func (t *tableDef) storedList() string { return t.storedQ }
func (t *tableDef) insertSQL() string  { return t.insertQ }
func (t *tableDef) setList() string    { return t.setQ }
