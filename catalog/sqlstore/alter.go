package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// This file holds ALTER TABLE and the other schema changes on one table.
// Changes that only touch the description (renames, defaults, comments, a new
// nullable column) edit the metadata and, where needed, the SQLite table in
// place; changes to stored values (types, dropped columns, primary keys) build
// a new SQLite table, copy the rows, and swap it in: all inside the session's
// transaction, so a failure or a ROLLBACK leaves the old table untouched.

// ddl runs fn on the current definition of the table.
func (t *Table) ddl(ctx *sql.Context, fn func(c *sqliteConn, cur *tableDef, dd *dbDef) error) error {
	s, err := mustSession(ctx)
	if err != nil {
		return err
	}
	return s.ddl(ctx, func(c *sqliteConn, snap *schemaSnap) error {
		cur, dd, err := currentDef(snap, t.def)
		if err != nil {
			return err
		}
		return fn(c, cur, dd)
	})
}

func currentDef(snap *schemaSnap, def *tableDef) (*tableDef, *dbDef, error) {
	dd, ok := snap.db(def.db)
	if !ok {
		return nil, nil, sql.ErrDatabaseNotFound.New(def.db)
	}
	cur := dd.tableByID(def.id)
	if cur == nil {
		return nil, nil, sql.ErrTableNotFound.New(def.name)
	}
	return cur, dd, nil
}

// clone copies a definition deeply enough to edit its schema and indexes.
func (t *tableDef) clone() *tableDef {
	nt := *t
	nt.sch = copySchema(t.sch, t.db, t.name)
	nt.indexes = make([]*indexDef, len(t.indexes))
	for i, ix := range t.indexes {
		c := *ix
		c.cols = append([]sql.IndexColumn(nil), ix.cols...)
		nt.indexes[i] = &c
	}
	nt.checks = append([]sql.CheckDefinition(nil), t.checks...)
	nt.stored = nil
	return &nt
}

// ---- columns ----

// ShouldRewriteTable implements sql.RewritableTable: the engine rewrites the
// rows when stored values change; a new nullable column without a default,
// renames and default changes are done in place.
func (t *Table) ShouldRewriteTable(_ *sql.Context, oldS, newS sql.PrimaryKeySchema, oldCol, newCol *sql.Column) bool {
	if oldCol == nil && newCol != nil && len(newS.Schema) == len(oldS.Schema)+1 {
		return false
	}
	if len(oldS.Schema) != len(newS.Schema) || len(oldS.PkOrdinals) != len(newS.PkOrdinals) {
		return true
	}
	if oldCol != nil && newCol != nil {
		if !oldCol.Type.Equals(newCol.Type) || typeString(oldCol.Type) != typeString(newCol.Type) || oldCol.Virtual != newCol.Virtual ||
			fmt.Sprint(defaultText(oldCol.Generated)) != fmt.Sprint(defaultText(newCol.Generated)) {
			return true
		}
	}
	return false
}

// AddColumn implements sql.AlterableTable (the in-place case: the engine has
// rewritten the table otherwise).
func (t *Table) AddColumn(ctx *sql.Context, column *sql.Column, order *sql.ColumnOrder) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		if cur.colIndex(column.Name) >= 0 {
			return sql.ErrDuplicateColumn.New(column.Name)
		}
		nt := cur.clone()
		col := *column
		var err error
		if col.Type, err = resolveCollation(col.Type, cur.collation); err != nil {
			return err
		}
		nt.sch = copySchema(withPK(insertColumn(nt.sch.Schema, &col, order), pkNames(cur)), nt.db, nt.name)
		if err := nt.finish(); err != nil {
			return err
		}
		si := nt.colIndex(col.Name)
		if _, err := c.exec("ALTER TABLE " + qi(nt.sqlName) + " ADD COLUMN " + qi(col.Name) + " " + nt.codecs[si].decl()); err != nil {
			return mapError(err, nt.name)
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

// pkNames are the primary key columns in key order.
func pkNames(t *tableDef) []string {
	out := make([]string, len(t.sch.PkOrdinals))
	for i, o := range t.sch.PkOrdinals {
		out[i] = t.sch.Schema[o].Name
	}
	return out
}

// withPK builds a primary key schema keeping the key order of names (columns
// no longer present leave the key).
func withPK(sch sql.Schema, names []string) sql.PrimaryKeySchema {
	var ords []int
	for _, n := range names {
		if i := sch.IndexOfColName(n); i >= 0 {
			ords = append(ords, i)
		}
	}
	if ords == nil {
		ords = []int{}
	}
	return sql.NewPrimaryKeySchema(sch, ords...)
}

// insertColumn places col per order (default: last).
func insertColumn(sch sql.Schema, col *sql.Column, order *sql.ColumnOrder) sql.Schema {
	pos := len(sch)
	if order != nil {
		if order.First {
			pos = 0
		} else if order.AfterColumn != "" {
			if i := sch.IndexOfColName(order.AfterColumn); i >= 0 {
				pos = i + 1
			}
		}
	}
	out := make(sql.Schema, 0, len(sch)+1)
	out = append(out, sch[:pos]...)
	out = append(out, col)
	return append(out, sch[pos:]...)
}

// DropColumn implements sql.AlterableTable (the engine normally rewrites).
func (t *Table) DropColumn(ctx *sql.Context, name string) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		i := cur.colIndex(name)
		if i < 0 {
			return sql.ErrTableColumnNotFound.New(cur.name, name)
		}
		newSch := append(append(sql.Schema{}, cur.sch.Schema[:i]...), cur.sch.Schema[i+1:]...)
		nt := cur.clone()
		nt.sch = copySchema(withPK(newSch, pkNames(cur)), nt.db, nt.name)
		nt.indexes = remapIndexes(cur.indexes, nt, nil)
		return rebuild(ctx, c, cur, nt, func(r sql.Row) (sql.Row, error) {
			return append(append(sql.Row{}, r[:i]...), r[i+1:]...), nil
		})
	})
}

// ModifyColumn implements sql.AlterableTable: renames, defaults, comments and
// order in place; a changed storage form rebuilds the table.
func (t *Table) ModifyColumn(ctx *sql.Context, name string, column *sql.Column, order *sql.ColumnOrder) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		i := cur.colIndex(name)
		if i < 0 {
			return sql.ErrTableColumnNotFound.New(cur.name, name)
		}
		if j := cur.colIndex(column.Name); j >= 0 && j != i {
			return sql.ErrDuplicateColumn.New(column.Name)
		}
		oldCol := cur.sch.Schema[i]
		col := *column
		var err error
		if col.Type, err = resolveCollation(col.Type, cur.collation); err != nil {
			return err
		}
		col.PrimaryKey = oldCol.PrimaryKey
		if col.PrimaryKey {
			col.Nullable = false
		}
		pkNames := make([]string, len(cur.sch.PkOrdinals))
		for k, ord := range cur.sch.PkOrdinals {
			pkNames[k] = cur.sch.Schema[ord].Name
			if ord == i {
				pkNames[k] = col.Name
			}
		}
		without := append(append(sql.Schema{}, cur.sch.Schema[:i]...), cur.sch.Schema[i+1:]...)
		if order == nil {
			order = &sql.ColumnOrder{First: i == 0}
			if i > 0 {
				order.AfterColumn = cur.sch.Schema[i-1].Name
			}
		}
		newSch := insertColumn(without, &col, order)
		ords := make([]int, len(pkNames))
		for k, n := range pkNames {
			ords[k] = newSch.IndexOfColName(n)
		}
		nt := cur.clone()
		nt.sch = copySchema(sql.NewPrimaryKeySchema(newSch, ords...), nt.db, nt.name)
		nt.indexes = remapIndexes(cur.indexes, nt, map[string]string{lower(name): col.Name})
		if err := nt.finish(); err != nil {
			return err
		}
		newIdx := nt.colIndex(col.Name)
		oc, nc := cur.codecs[i], nt.codecs[newIdx]
		if oc.decl() != nc.decl() || oc.virtual != nc.virtual || !oldCol.Type.Equals(col.Type) ||
			typeString(oldCol.Type) != typeString(col.Type) {
			return rebuild(ctx, c, cur, nt, func(r sql.Row) (sql.Row, error) {
				v := r[i]
				if v != nil {
					cv, inRange, err := col.Type.Convert(ctx, v)
					if err != nil {
						return nil, err
					}
					if !inRange {
						return nil, sql.ErrValueOutOfRange.New(v, col.Type)
					}
					v = cv
				}
				rest := append(append(sql.Row{}, r[:i]...), r[i+1:]...)
				out := append(append(sql.Row{}, rest[:newIdx]...), v)
				return append(out, rest[newIdx:]...), nil
			})
		}
		if oldCol.Name != col.Name {
			if err := renameSQLiteColumn(c, cur.sqlName, oldCol.Name, col.Name); err != nil {
				return mapError(err, cur.name)
			}
		}
		if col.AutoIncrement && !oldCol.AutoIncrement {
			if err := initAutoInc(c, nt, newIdx); err != nil {
				return err
			}
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

// renameSQLiteColumn renames a column, also when only its case changes (SQLite
// names are case-insensitive, so that takes two steps).
func renameSQLiteColumn(c *sqliteConn, table, from, to string) error {
	if strings.EqualFold(from, to) {
		tmp := to + "~rename"
		if _, err := c.exec("ALTER TABLE " + qi(table) + " RENAME COLUMN " + qi(from) + " TO " + qi(tmp)); err != nil {
			return err
		}
		from = tmp
	}
	_, err := c.exec("ALTER TABLE " + qi(table) + " RENAME COLUMN " + qi(from) + " TO " + qi(to))
	return err
}

// initAutoInc sets the counter past the column's largest value.
func initAutoInc(c *sqliteConn, t *tableDef, si int) error {
	dest := make([]driver.Value, 1)
	if _, err := c.queryRow(dest, "SELECT MAX("+qi(t.sch.Schema[si].Name)+") FROM "+qi(t.sqlName)); err != nil {
		return mapError(err, t.name)
	}
	next := int64(1)
	if v, ok := dest[0].(int64); ok && v >= 1 {
		next = v + 1
	}
	_, err := c.exec("UPDATE adapterdb_tables SET auto_increment = MAX(auto_increment, ?) WHERE id = ?", next, t.id)
	return mapError(err, t.name)
}

// remapIndexes carries indexes to a new schema: renamed columns follow,
// dropped columns leave their indexes, and an index left empty is dropped.
func remapIndexes(old []*indexDef, nt *tableDef, renames map[string]string) []*indexDef {
	var out []*indexDef
	for _, ix := range old {
		n := *ix
		n.cols = nil
		for _, ic := range ix.cols {
			name := ic.Name
			if r, ok := renames[lower(name)]; ok {
				name = r
			}
			if nt.sch.Schema.IndexOfColName(name) < 0 {
				continue
			}
			n.cols = append(n.cols, sql.IndexColumn{Name: name, Length: ic.Length})
		}
		if len(n.cols) > 0 {
			out = append(out, &n)
		}
	}
	return out
}

// rebuild moves the rows of cur into new storage for nt, converting each row
// with conv, and swaps the new table in under cur's SQLite name.
func rebuild(ctx *sql.Context, c *sqliteConn, cur, nt *tableDef, conv func(sql.Row) (sql.Row, error)) error {
	if err := nt.finish(); err != nil {
		return err
	}
	if err := validateStorable(nt); err != nil {
		return err
	}
	tmp, err := freeSQLiteName(c, cur.sqlName+"~rebuild")
	if err != nil {
		return mapError(err, cur.name)
	}
	bare := *nt
	bare.indexes = nil
	if err := createStorage(c, &bare, tmp); err != nil {
		return err
	}
	rows, err := c.query("SELECT " + cur.storedList() + " FROM " + qi(cur.sqlName))
	if err != nil {
		return mapError(err, cur.name)
	}
	insert := insertInto(tmp, nt.storedList(), len(nt.stored))
	dest := make([]driver.Value, len(cur.stored))
	for {
		if err := rows.Next(dest); err != nil {
			rows.Close()
			if err == io.EOF {
				break
			}
			return mapError(err, cur.name)
		}
		row := make(sql.Row, len(cur.sch.Schema))
		for k, si := range cur.stored {
			if row[si], err = cur.codecs[si].decode(ctx, dest[k]); err != nil {
				rows.Close()
				return err
			}
		}
		nr, err := conv(row)
		if err != nil {
			rows.Close()
			return err
		}
		vals := make([]driver.Value, len(nt.stored))
		for k, si := range nt.stored {
			if vals[k], err = nt.codecs[si].encode(ctx, nr[si]); err != nil {
				rows.Close()
				return err
			}
		}
		if _, err := c.exec(insert, vals...); err != nil {
			rows.Close()
			if isUniqueViolation(err) {
				return sql.NewUniqueKeyErr(formatKey(nr, nt.sch.PkOrdinals), true, nil)
			}
			return mapError(err, cur.name)
		}
	}
	return swapStorage(c, cur, nt, tmp)
}

// swapStorage replaces cur's SQLite table by tmp (holding nt's rows) and
// writes nt's metadata.
func swapStorage(c *sqliteConn, cur, nt *tableDef, tmp string) error {
	if _, err := c.exec("DROP TABLE " + qi(cur.sqlName)); err != nil {
		return mapError(err, cur.name)
	}
	if _, err := c.exec("ALTER TABLE " + qi(tmp) + " RENAME TO " + qi(cur.sqlName)); err != nil {
		return mapError(err, cur.name)
	}
	nt.sqlName = cur.sqlName
	if err := nt.finish(); err != nil { // SQL text names the final table
		return err
	}
	for _, ix := range nt.indexes {
		if ix.sqlName == "" {
			name, err := freeSQLiteName(c, nt.sqlName+"/"+ix.name)
			if err != nil {
				return mapError(err, nt.name)
			}
			ix.sqlName = name
		}
		if err := createIndexStorage(c, nt, nt.sqlName, ix); err != nil {
			return err
		}
	}
	return mapError(writeTableMeta(c, nt), nt.name)
}

// RewriteInserter implements sql.RewritableTable: the engine streams the
// converted rows into a new SQLite table, swapped in at Close.
func (t *Table) RewriteInserter(ctx *sql.Context, oldS, newS sql.PrimaryKeySchema, oldCol, newCol *sql.Column, idxCols []sql.IndexColumn) (sql.RowInserter, error) {
	for _, ic := range idxCols {
		if ic.Length > 0 {
			return nil, sql.ErrUnsupportedIndexPrefix.New(ic.Name)
		}
	}
	if len(oldS.PkOrdinals) > 0 && len(newS.PkOrdinals) == 0 {
		if err := sql.ValidatePrimaryKeyDrop(ctx, t, oldS); err != nil {
			return nil, err
		}
	}
	s, err := mustSession(ctx)
	if err != nil {
		return nil, err
	}
	c, snap, err := s.ddlBegin("adb_rewrite")
	if err != nil {
		return nil, err
	}
	rw, err := t.newRewriter(ctx, s, c, snap, newS, oldCol, newCol)
	if err != nil {
		return nil, s.ddlEnd("adb_rewrite", err)
	}
	return rw, nil
}

func (t *Table) newRewriter(ctx *sql.Context, s *Session, c *sqliteConn, snap *schemaSnap, newS sql.PrimaryKeySchema, oldCol, newCol *sql.Column) (*rewriter, error) {
	cur, _, err := currentDef(snap, t.def)
	if err != nil {
		return nil, err
	}
	nt := cur.clone()
	nt.sch = copySchema(newS, nt.db, nt.name)
	if err := resolveSchemaCollations(nt.sch.Schema, nt.collation); err != nil {
		return nil, err
	}
	renames := map[string]string{}
	if oldCol != nil && newCol != nil {
		renames[lower(oldCol.Name)] = newCol.Name
	}
	nt.indexes = remapIndexes(cur.indexes, nt, renames)
	if err := nt.finish(); err != nil {
		return nil, err
	}
	if err := validateStorable(nt); err != nil {
		return nil, err
	}
	tmp, err := freeSQLiteName(c, cur.sqlName+"~rewrite")
	if err != nil {
		return nil, mapError(err, cur.name)
	}
	bare := *nt
	bare.indexes = nil
	if err := createStorage(c, &bare, tmp); err != nil {
		return nil, err
	}
	return &rewriter{s: s, c: c, cur: cur, nt: nt, tmp: tmp, insert: insertInto(tmp, nt.storedList(), len(nt.stored))}, nil
}

// rewriter receives a table's rows in the new schema.
type rewriter struct {
	s       *Session
	c       *sqliteConn
	cur, nt *tableDef
	tmp     string
	insert  string
	failed  error
	closed  bool
}

func (r *rewriter) StatementBegin(*sql.Context) {}

func (r *rewriter) DiscardChanges(_ *sql.Context, cause error) error {
	if cause == nil {
		cause = fmt.Errorf("table rewrite discarded")
	}
	r.failed = cause
	return nil
}

func (r *rewriter) StatementComplete(*sql.Context) error { return nil }

func (r *rewriter) Insert(ctx *sql.Context, row sql.Row) error {
	nt := r.nt
	vals := make([]driver.Value, len(nt.stored))
	for k, si := range nt.stored {
		v, err := nt.codecs[si].encode(ctx, row[si])
		if err != nil {
			return fmt.Errorf("table %s column %s: %w", nt.name, nt.sch.Schema[si].Name, err)
		}
		vals[k] = v
	}
	if _, err := r.c.exec(r.insert, vals...); err != nil {
		if isUniqueViolation(err) {
			return sql.NewUniqueKeyErr(formatKey(row, nt.sch.PkOrdinals), true, nil)
		}
		return mapError(err, nt.name)
	}
	if nt.autoCol >= 0 {
		if v, ok := autoIncValue(ctx, row[nt.autoCol]); ok {
			if cur, err := r.s.nextAutoInc(nt); err == nil && v >= cur {
				r.s.setAutoInc(nt, v+1)
			}
		}
	}
	return nil
}

func (r *rewriter) Close(*sql.Context) error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.failed != nil {
		r.s.ddlEnd("adb_rewrite", r.failed)
		return nil
	}
	return r.s.ddlEnd("adb_rewrite", swapStorage(r.c, r.cur, r.nt, r.tmp))
}

// ---- primary keys ----

// CreatePrimaryKey implements sql.PrimaryKeyAlterableTable.
func (t *Table) CreatePrimaryKey(ctx *sql.Context, columns []sql.IndexColumn) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		if len(cur.sch.PkOrdinals) > 0 {
			return sql.ErrMultiplePrimaryKeysDefined.New()
		}
		nt := cur.clone()
		var ords []int
		for _, ic := range columns {
			if ic.Length > 0 {
				return sql.ErrUnsupportedIndexPrefix.New(ic.Name)
			}
			i := nt.colIndex(ic.Name)
			if i < 0 {
				return sql.ErrKeyColumnDoesNotExist.New(ic.Name)
			}
			nt.sch.Schema[i].PrimaryKey, nt.sch.Schema[i].Nullable = true, false
			ords = append(ords, i)
		}
		nt.sch.PkOrdinals = ords
		return rebuild(ctx, c, cur, nt, func(r sql.Row) (sql.Row, error) {
			for _, o := range ords {
				if r[o] == nil {
					return nil, sql.ErrInsertIntoNonNullableProvidedNull.New(nt.sch.Schema[o].Name)
				}
			}
			return r, nil
		})
	})
}

// DropPrimaryKey implements sql.PrimaryKeyAlterableTable.
func (t *Table) DropPrimaryKey(ctx *sql.Context) error {
	if err := sql.ValidatePrimaryKeyDrop(ctx, t, t.def.sch); err != nil {
		return err
	}
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		if len(cur.sch.PkOrdinals) == 0 {
			return sql.ErrCantDropFieldOrKey.New("PRIMARY")
		}
		nt := cur.clone()
		for _, o := range nt.sch.PkOrdinals {
			nt.sch.Schema[o].PrimaryKey = false
		}
		nt.sch.PkOrdinals = nil
		return rebuild(ctx, c, cur, nt, func(r sql.Row) (sql.Row, error) { return r, nil })
	})
}

// ---- secondary indexes ----

// CreateIndex implements sql.IndexAlterableTable.
func (t *Table) CreateIndex(ctx *sql.Context, def sql.IndexDef) error {
	switch {
	case def.IsFullText():
		return sql.ErrUnsupportedFeature.New("FULLTEXT indexes")
	case def.IsSpatial():
		return sql.ErrUnsupportedFeature.New("SPATIAL indexes")
	case def.IsVector():
		return sql.ErrUnsupportedFeature.New("VECTOR indexes")
	case def.IsPrimary():
		return t.CreatePrimaryKey(ctx, def.Columns)
	}
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		name := def.Name
		if name == "" {
			for _, ic := range def.Columns {
				name += ic.Name + "_"
			}
		}
		if cur.index(name) != nil || strings.EqualFold(name, "primary") {
			return sql.ErrDuplicateKey.New(name)
		}
		ix := &indexDef{name: name, unique: def.IsUnique(), cols: append([]sql.IndexColumn(nil), def.Columns...), comment: def.Comment}
		for _, ic := range ix.cols {
			if cur.colIndex(ic.Name) < 0 {
				return sql.ErrKeyColumnDoesNotExist.New(ic.Name)
			}
		}
		var err error
		if ix.sqlName, err = freeSQLiteName(c, cur.sqlName+"/"+name); err != nil {
			return mapError(err, cur.name)
		}
		if err := createIndexStorage(c, cur, cur.sqlName, ix); err != nil {
			return err
		}
		nt := cur.clone()
		nt.indexes = append(nt.indexes, ix)
		if err := nt.finish(); err != nil {
			return err
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

// CreateIndexForForeignKey implements sql.ForeignKeyTable.
func (t *Table) CreateIndexForForeignKey(ctx *sql.Context, def sql.IndexDef) error {
	return t.CreateIndex(ctx, def)
}

// DropIndex implements sql.IndexAlterableTable.
func (t *Table) DropIndex(ctx *sql.Context, name string) error {
	if strings.EqualFold(name, "primary") {
		return t.DropPrimaryKey(ctx)
	}
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		ix := cur.index(name)
		if ix == nil {
			return sql.ErrIndexNotFound.New(name)
		}
		if _, err := c.exec("DROP INDEX IF EXISTS " + qi(ix.sqlName)); err != nil {
			return mapError(err, cur.name)
		}
		nt := cur.clone()
		nt.indexes = nt.indexes[:0]
		for _, x := range cur.indexes {
			if x != ix {
				nt.indexes = append(nt.indexes, x)
			}
		}
		if err := nt.finish(); err != nil {
			return err
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

// RenameIndex implements sql.IndexAlterableTable.
func (t *Table) RenameIndex(ctx *sql.Context, from, to string) error {
	if from == to {
		return nil
	}
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		ix := cur.index(from)
		if ix == nil {
			return sql.ErrIndexNotFound.New(from)
		}
		if other := cur.index(to); other != nil && other != ix {
			return sql.ErrDuplicateKey.New(to)
		}
		nt := cur.clone()
		nt.index(from).name = to
		if err := nt.finish(); err != nil {
			return err
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

// ---- checks ----

// GetChecks implements sql.CheckTable.
func (t *Table) GetChecks(ctx *sql.Context) ([]sql.CheckDefinition, error) {
	return append([]sql.CheckDefinition(nil), t.current(ctx).checks...), nil
}

// CreateCheck implements sql.CheckAlterableTable.
func (t *Table) CreateCheck(ctx *sql.Context, check *sql.CheckDefinition) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, dd *dbDef) error {
		ch := *check
		if ch.Name == "" {
			for i := 1; ; i++ {
				ch.Name = fmt.Sprintf("%s_chk_%d", cur.name, i)
				if !hasCheck(dd, ch.Name) {
					break
				}
			}
		}
		if hasCheck(dd, ch.Name) {
			return sql.ErrForeignKeyDuplicateName.New(ch.Name)
		}
		nt := cur.clone()
		nt.checks = append(nt.checks, ch)
		if err := nt.finish(); err != nil {
			return err
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

func hasCheck(dd *dbDef, name string) bool {
	for _, t := range dd.tables {
		for _, ch := range t.checks {
			if strings.EqualFold(ch.Name, name) {
				return true
			}
		}
	}
	return false
}

// DropCheck implements sql.CheckAlterableTable.
func (t *Table) DropCheck(ctx *sql.Context, name string) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		nt := cur.clone()
		nt.checks = nt.checks[:0]
		found := false
		for _, ch := range cur.checks {
			if strings.EqualFold(ch.Name, name) {
				found = true
				continue
			}
			nt.checks = append(nt.checks, ch)
		}
		if !found {
			return fmt.Errorf("check '%s' was not found on the table", name)
		}
		if err := nt.finish(); err != nil {
			return err
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

// ---- collations ----

// ModifyStoredCollation implements sql.CollationAlterableTable (CONVERT TO
// CHARACTER SET): every string column takes the collation, so the table is
// rebuilt with the new orderings.
func (t *Table) ModifyStoredCollation(ctx *sql.Context, collation sql.CollationID) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		nt := cur.clone()
		nt.collation = collation
		for _, col := range nt.sch.Schema {
			if tc, ok := col.Type.(sql.TypeWithCollation); ok && types.IsText(col.Type) {
				nty, err := tc.WithNewCollation(collation)
				if err != nil {
					return err
				}
				col.Type = nty
			}
		}
		return rebuild(ctx, c, cur, nt, func(r sql.Row) (sql.Row, error) { return r, nil })
	})
}

// ModifyDefaultCollation implements sql.CollationAlterableTable.
func (t *Table) ModifyDefaultCollation(ctx *sql.Context, collation sql.CollationID) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, _ *dbDef) error {
		nt := cur.clone()
		nt.collation = collation
		if err := nt.finish(); err != nil {
			return err
		}
		return mapError(writeTableMeta(c, nt), nt.name)
	})
}

// ---- foreign keys (enforced by the engine; stored here) ----

// GetDeclaredForeignKeys implements sql.ForeignKeyTable.
func (t *Table) GetDeclaredForeignKeys(ctx *sql.Context) ([]sql.ForeignKeyConstraint, error) {
	dd, ok := t.p.schemaFor(ctx).db(t.def.db)
	if !ok {
		return nil, nil
	}
	var out []sql.ForeignKeyConstraint
	for _, f := range dd.fks {
		if f.tableID == t.def.id {
			out = append(out, f.fk)
		}
	}
	return out, nil
}

// GetReferencedForeignKeys implements sql.ForeignKeyTable.
func (t *Table) GetReferencedForeignKeys(ctx *sql.Context) ([]sql.ForeignKeyConstraint, error) {
	var out []sql.ForeignKeyConstraint
	for _, dd := range t.p.schemaFor(ctx).dbs {
		for _, f := range dd.fks {
			if strings.EqualFold(f.fk.ParentDatabase, t.def.db) && strings.EqualFold(f.fk.ParentTable, t.def.name) {
				out = append(out, f.fk)
			}
		}
	}
	return out, nil
}

// AddForeignKey implements sql.ForeignKeyTable.
func (t *Table) AddForeignKey(ctx *sql.Context, fk sql.ForeignKeyConstraint) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, dd *dbDef) error {
		for _, f := range dd.fks {
			if strings.EqualFold(f.fk.Name, fk.Name) {
				return sql.ErrForeignKeyDuplicateName.New(fk.Name)
			}
		}
		return putForeignKey(c, dd, cur.id, fk)
	})
}

func putForeignKey(c *sqliteConn, dd *dbDef, tableID int64, fk sql.ForeignKeyConstraint) error {
	js, err := json.Marshal(fk)
	if err != nil {
		return err
	}
	_, err = c.exec("INSERT INTO adapterdb_foreign_keys (db_key, name_key, table_id, definition) VALUES (?,?,?,?)",
		lower(dd.name), lower(fk.Name), tableID, string(js))
	return mapError(err, fk.Name)
}

// DropForeignKey implements sql.ForeignKeyTable.
func (t *Table) DropForeignKey(ctx *sql.Context, name string) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, dd *dbDef) error {
		res, err := c.exec("DELETE FROM adapterdb_foreign_keys WHERE db_key = ? AND name_key = ? AND table_id = ?",
			lower(dd.name), lower(name), cur.id)
		if err != nil {
			return mapError(err, name)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrForeignKeyNotFound.New(name, cur.name)
		}
		return nil
	})
}

// UpdateForeignKey implements sql.ForeignKeyTable.
func (t *Table) UpdateForeignKey(ctx *sql.Context, name string, fk sql.ForeignKeyConstraint) error {
	return t.ddl(ctx, func(c *sqliteConn, cur *tableDef, dd *dbDef) error {
		if _, err := c.exec("DELETE FROM adapterdb_foreign_keys WHERE db_key = ? AND name_key = ?", lower(dd.name), lower(name)); err != nil {
			return mapError(err, name)
		}
		owner := cur.id
		if !strings.EqualFold(fk.Table, cur.name) {
			if ot, ok := dd.table(fk.Table); ok {
				owner = ot.id
			}
		}
		return putForeignKey(c, dd, owner, fk)
	})
}

// ShouldBuildIndex implements sql.IndexBuildingTable: SQLite builds (and,
// for UNIQUE, checks) the index in CREATE INDEX, so the engine need not.
func (t *Table) ShouldBuildIndex(*sql.Context, sql.IndexDef) (bool, error) { return false, nil }

// BuildIndex implements sql.IndexBuildingTable; the engine only calls it for
// UNIQUE indexes, which SQLite has already built and checked.
func (t *Table) BuildIndex(*sql.Context, sql.IndexDef) (sql.RowInserter, error) {
	return builtIndex{}, nil
}

// builtIndex receives the rows of an index SQLite has already built.
type builtIndex struct{}

func (builtIndex) StatementBegin(*sql.Context)              {}
func (builtIndex) DiscardChanges(*sql.Context, error) error { return nil }
func (builtIndex) StatementComplete(*sql.Context) error     { return nil }
func (builtIndex) Insert(*sql.Context, sql.Row) error       { return nil }
func (builtIndex) Close(*sql.Context) error                 { return nil }
