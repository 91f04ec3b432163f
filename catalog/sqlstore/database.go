package sqlstore

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer/analyzererrors"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Database is a MySQL database: a namespace of tables in the shared file.
type Database struct {
	p    *Provider
	name string
}

var (
	_ sql.Database                = (*Database)(nil)
	_ sql.TableCreator            = (*Database)(nil)
	_ sql.TableDropper            = (*Database)(nil)
	_ sql.TableRenamer            = (*Database)(nil)
	_ sql.CollatedDatabase        = (*Database)(nil)
	_ sql.ViewDatabase            = (*Database)(nil)
	_ sql.TriggerDatabase         = (*Database)(nil)
	_ sql.StoredProcedureDatabase = (*Database)(nil)
	_ sql.SchemaValidator         = (*Database)(nil)
	_ sql.IndexedTableCreator     = (*Database)(nil)
)

// ValidateSchema implements sql.SchemaValidator: every column type must be
// storable, and rows must fit MySQL's row size limit.
func (d *Database) ValidateSchema(sch sql.Schema) error {
	for _, col := range sch {
		if _, err := newCodec(col.Type); err != nil {
			return fmt.Errorf("column %s: %w", col.Name, err)
		}
	}
	if n := rowLength(sch); n > types.MaxRowLength {
		return analyzererrors.ErrInvalidRowLength.New(types.MaxRowLength, n)
	}
	return nil
}

// CreateIndexedTable implements sql.IndexedTableCreator: a primary key on a
// column prefix cannot be stored (SQLite keys whole values), as in GMS's own
// engines.
func (d *Database) CreateIndexedTable(ctx *sql.Context, name string, sch sql.PrimaryKeySchema, idx sql.IndexDef, collation sql.CollationID) error {
	for _, c := range idx.Columns {
		if c.Length > 0 {
			return sql.ErrUnsupportedIndexPrefix.New(c.Name)
		}
	}
	return d.CreateTable(ctx, name, sch, collation, "")
}

// Name implements sql.Nameable.
func (d *Database) Name() string { return d.name }

func (d *Database) def(ctx *sql.Context) (*dbDef, error) {
	dd, ok := d.p.schemaFor(ctx).db(d.name)
	if !ok {
		return nil, sql.ErrDatabaseNotFound.New(d.name)
	}
	return dd, nil
}

// GetTableInsensitive implements sql.Database.
func (d *Database) GetTableInsensitive(ctx *sql.Context, name string) (sql.Table, bool, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return nil, false, nil
	}
	t, ok := dd.table(name)
	if !ok {
		return nil, false, nil
	}
	return &Table{p: d.p, def: t}, true, nil
}

// GetTableNames implements sql.Database.
func (d *Database) GetTableNames(ctx *sql.Context) ([]string, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(dd.tables))
	for _, t := range dd.tables {
		names = append(names, t.name)
	}
	sort.Strings(names)
	return names, nil
}

// GetCollation implements sql.CollatedDatabase.
func (d *Database) GetCollation(ctx *sql.Context) sql.CollationID {
	dd, err := d.def(ctx)
	if err != nil {
		return sql.Collation_Default
	}
	return dd.collation
}

// SetCollation implements sql.CollatedDatabase.
func (d *Database) SetCollation(ctx *sql.Context, collation sql.CollationID) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		_, err := c.exec("UPDATE adapterdb_databases SET collation = ? WHERE name_key = ?", collation.Name(), lower(d.name))
		return mapError(err, d.name)
	})
}

// ddl runs a schema change on this database in the session's transaction.
func (d *Database) ddl(ctx *sql.Context, fn func(c *sqliteConn, dd *dbDef) error) error {
	s, err := mustSession(ctx)
	if err != nil {
		return err
	}
	return s.ddl(ctx, func(c *sqliteConn, snap *schemaSnap) error {
		dd, ok := snap.db(d.name)
		if !ok {
			return sql.ErrDatabaseNotFound.New(d.name)
		}
		return fn(c, dd)
	})
}

// CreateTable implements sql.TableCreator.
func (d *Database) CreateTable(ctx *sql.Context, name string, sch sql.PrimaryKeySchema, collation sql.CollationID, comment string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		if _, ok := dd.table(name); ok {
			return sql.ErrTableAlreadyExists.New(name)
		}
		if _, ok := dd.views[lower(name)]; ok {
			return sql.ErrTableAlreadyExists.New(name)
		}
		id, err := newTableID(c)
		if err != nil {
			return mapError(err, name)
		}
		t := &tableDef{id: id, db: dd.name, name: name, collation: collation, comment: comment, autoInc: 1}
		t.sch = copySchema(sch, dd.name, name)
		if err := resolveSchemaCollations(t.sch.Schema, collation); err != nil {
			return err
		}
		if err := t.finish(); err != nil {
			return err
		}
		if err := validateStorable(t); err != nil {
			return err
		}
		if t.sqlName, err = freeSQLiteName(c, dd.name+"."+name); err != nil {
			return mapError(err, name)
		}
		if err := t.finish(); err != nil {
			return err
		}
		if err := createStorage(c, t, t.sqlName); err != nil {
			return err
		}
		return mapError(writeTableMeta(c, t), name)
	})
}

// resolveSchemaCollations gives string columns without a collation the
// table's.
func resolveSchemaCollations(sch sql.Schema, table sql.CollationID) error {
	for _, c := range sch {
		t, err := resolveCollation(c.Type, table)
		if err != nil {
			return err
		}
		c.Type = t
	}
	return nil
}

// copySchema deep-copies the columns and labels them with the table.
func copySchema(sch sql.PrimaryKeySchema, db, table string) sql.PrimaryKeySchema {
	out := sql.PrimaryKeySchema{Schema: make(sql.Schema, len(sch.Schema)), PkOrdinals: append([]int(nil), sch.PkOrdinals...)}
	for i, c := range sch.Schema {
		cc := *c
		cc.Source, cc.DatabaseSource = table, db
		if cc.PrimaryKey {
			cc.Nullable = false
		}
		out.Schema[i] = &cc
	}
	if len(out.PkOrdinals) == 0 {
		for i, c := range out.Schema {
			if c.PrimaryKey {
				out.PkOrdinals = append(out.PkOrdinals, i)
			}
		}
	}
	return out
}

func validateStorable(t *tableDef) error {
	for _, ord := range t.sch.PkOrdinals {
		if t.sch.Schema[ord].Virtual {
			return fmt.Errorf("table %s: a virtual generated column cannot be part of the primary key; use STORED", t.name)
		}
	}
	if len(t.stored) == 0 {
		return fmt.Errorf("table %s: needs at least one stored column", t.name)
	}
	return nil
}

// createStorage creates the SQLite table (and indexes) for t under sqlName.
func createStorage(c *sqliteConn, t *tableDef, sqlName string) error {
	var cols []string
	for _, si := range t.stored {
		col := t.sch.Schema[si]
		decl := qi(col.Name) + " " + t.codecs[si].decl()
		if t.rowidPK && si == t.sch.PkOrdinals[0] {
			decl = qi(col.Name) + " INTEGER PRIMARY KEY"
		}
		cols = append(cols, decl)
	}
	opts := " STRICT"
	if len(t.sch.PkOrdinals) > 0 && !t.rowidPK {
		pk := make([]string, len(t.sch.PkOrdinals))
		for i, si := range t.sch.PkOrdinals {
			pk[i] = qi(t.sch.Schema[si].Name)
		}
		cols = append(cols, "PRIMARY KEY ("+strings.Join(pk, ", ")+")")
		opts = " WITHOUT ROWID, STRICT"
	}
	q := "CREATE TABLE " + qi(sqlName) + " (" + strings.Join(cols, ", ") + ")" + opts
	if _, err := c.exec(q); err != nil {
		return mapError(err, t.name)
	}
	for _, ix := range t.indexes {
		if err := createIndexStorage(c, t, sqlName, ix); err != nil {
			return err
		}
	}
	return nil
}

// createIndexStorage creates the SQLite index for ix. Prefix lengths only
// matter for uniqueness (MySQL's unique prefix index constrains the prefix);
// otherwise the whole column is indexed, which serves the same lookups.
func createIndexStorage(c *sqliteConn, t *tableDef, sqlTable string, ix *indexDef) error {
	parts := make([]string, len(ix.cols))
	for i, ic := range ix.cols {
		si := t.colIndex(ic.Name)
		if si < 0 {
			return sql.ErrKeyColumnDoesNotExist.New(ic.Name)
		}
		col := qi(t.sch.Schema[si].Name)
		if ix.unique && ic.Length > 0 {
			col = fmt.Sprintf("substr(%s, 1, %d)", col, ic.Length)
			if coll := t.codecs[si].coll; coll != "" {
				col += " COLLATE " + qi(coll)
			}
		}
		parts[i] = col
	}
	kind := "INDEX"
	if ix.unique {
		kind = "UNIQUE INDEX"
	}
	q := "CREATE " + kind + " " + qi(ix.sqlName) + " ON " + qi(sqlTable) + " (" + strings.Join(parts, ", ") + ")"
	if _, err := c.exec(q); err != nil {
		if isUniqueViolation(err) {
			return sql.NewUniqueKeyErr(fmt.Sprintf("duplicate entries for unique index %s", ix.name), false, nil)
		}
		return fmt.Errorf("%s: %w", q, mapError(err, t.name))
	}
	return nil
}

// dropTableStorage removes a table's data and metadata.
func dropTableStorage(c *sqliteConn, t *tableDef) error {
	if _, err := c.exec("DROP TABLE IF EXISTS " + qi(t.sqlName)); err != nil {
		return mapError(err, t.name)
	}
	return mapError(deleteTableMeta(c, t.id), t.name)
}

// DropTable implements sql.TableDropper.
func (d *Database) DropTable(ctx *sql.Context, name string) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		t, ok := dd.table(name)
		if !ok {
			return sql.ErrTableNotFound.New(name)
		}
		return dropTableStorage(c, t)
	})
}

// RenameTable implements sql.TableRenamer. The SQLite table is renamed too, so
// the file stays readable with other tools.
func (d *Database) RenameTable(ctx *sql.Context, oldName, newName string) error {
	if err := checkName(newName); err != nil {
		return err
	}
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		t, ok := dd.table(oldName)
		if !ok {
			return sql.ErrTableNotFound.New(oldName)
		}
		if other, exists := dd.table(newName); exists && other.id != t.id {
			return sql.ErrTableAlreadyExists.New(newName)
		}
		nt := *t
		nt.name = newName
		nt.sch = copySchema(t.sch, dd.name, newName)
		if err := nt.finish(); err != nil {
			return err
		}
		// Move out of the way first, so a rename that only changes case works.
		tmp, err := freeSQLiteName(c, t.sqlName+"~rename")
		if err != nil {
			return mapError(err, oldName)
		}
		if _, err := c.exec("ALTER TABLE " + qi(t.sqlName) + " RENAME TO " + qi(tmp)); err != nil {
			return mapError(err, oldName)
		}
		if nt.sqlName, err = freeSQLiteName(c, dd.name+"."+newName); err != nil {
			return mapError(err, newName)
		}
		if err := nt.finish(); err != nil {
			return err
		}
		if _, err := c.exec("ALTER TABLE " + qi(tmp) + " RENAME TO " + qi(nt.sqlName)); err != nil {
			return mapError(err, newName)
		}
		return mapError(writeTableMeta(c, &nt), newName)
	})
}

// ---- views ----

// CreateView implements sql.ViewDatabase.
func (d *Database) CreateView(ctx *sql.Context, name string, selectStatement, createViewStmt string) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		if _, ok := dd.views[lower(name)]; ok {
			return sql.ErrExistingView.New(d.name, name)
		}
		if _, ok := dd.table(name); ok {
			return sql.ErrTableAlreadyExists.New(name)
		}
		mode := sql.LoadSqlMode(ctx).String()
		_, err := c.exec(`INSERT INTO adapterdb_views (db_key, name_key, name, definition, create_statement, sql_mode)
			VALUES (?,?,?,?,?,?)`, lower(d.name), lower(name), name, selectStatement, createViewStmt, mode)
		return mapError(err, name)
	})
}

// DropView implements sql.ViewDatabase.
func (d *Database) DropView(ctx *sql.Context, name string) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		if _, ok := dd.views[lower(name)]; !ok {
			return sql.ErrViewDoesNotExist.New(d.name, name)
		}
		_, err := c.exec("DELETE FROM adapterdb_views WHERE db_key = ? AND name_key = ?", lower(d.name), lower(name))
		return mapError(err, name)
	})
}

// GetViewDefinition implements sql.ViewDatabase.
func (d *Database) GetViewDefinition(ctx *sql.Context, name string) (sql.ViewDefinition, bool, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return sql.ViewDefinition{}, false, err
	}
	v, ok := dd.views[lower(name)]
	return v, ok, nil
}

// AllViews implements sql.ViewDatabase.
func (d *Database) AllViews(ctx *sql.Context) ([]sql.ViewDefinition, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]sql.ViewDefinition, 0, len(dd.views))
	for _, v := range dd.views {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ---- triggers ----

// GetTriggers implements sql.TriggerDatabase.
func (d *Database) GetTriggers(ctx *sql.Context) ([]sql.TriggerDefinition, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return nil, err
	}
	return append([]sql.TriggerDefinition(nil), dd.triggers...), nil
}

// CreateTrigger implements sql.TriggerDatabase.
func (d *Database) CreateTrigger(ctx *sql.Context, def sql.TriggerDefinition) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		for _, t := range dd.triggers {
			if strings.EqualFold(t.Name, def.Name) {
				return fmt.Errorf("trigger %s already exists in %s", def.Name, d.name)
			}
		}
		at := def.CreatedAt
		if at.IsZero() {
			at = time.Now()
		}
		_, err := c.exec(`INSERT INTO adapterdb_triggers (db_key, name_key, name, create_statement, created_at, sql_mode, seq)
			VALUES (?,?,?,?,?,?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM adapterdb_triggers))`,
			lower(d.name), lower(def.Name), def.Name, def.CreateStatement, at.UTC().Format(time.RFC3339Nano), def.SqlMode)
		return mapError(err, def.Name)
	})
}

// DropTrigger implements sql.TriggerDatabase.
func (d *Database) DropTrigger(ctx *sql.Context, name string) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		res, err := c.exec("DELETE FROM adapterdb_triggers WHERE db_key = ? AND name_key = ?", lower(d.name), lower(name))
		if err != nil {
			return mapError(err, name)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrTriggerDoesNotExist.New(name)
		}
		return nil
	})
}

// ---- stored procedures ----

// GetStoredProcedure implements sql.StoredProcedureDatabase.
func (d *Database) GetStoredProcedure(ctx *sql.Context, name string) (sql.StoredProcedureDetails, bool, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return sql.StoredProcedureDetails{}, false, err
	}
	p, ok := dd.procs[lower(name)]
	return p, ok, nil
}

// GetStoredProcedures implements sql.StoredProcedureDatabase.
func (d *Database) GetStoredProcedures(ctx *sql.Context) ([]sql.StoredProcedureDetails, error) {
	dd, err := d.def(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]sql.StoredProcedureDetails, 0, len(dd.procs))
	for _, p := range dd.procs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SaveStoredProcedure implements sql.StoredProcedureDatabase.
func (d *Database) SaveStoredProcedure(ctx *sql.Context, spd sql.StoredProcedureDetails) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		if _, ok := dd.procs[lower(spd.Name)]; ok {
			return sql.ErrStoredProcedureAlreadyExists.New(spd.Name)
		}
		ca, ma := spd.CreatedAt, spd.ModifiedAt
		if ca.IsZero() {
			ca = time.Now()
		}
		if ma.IsZero() {
			ma = ca
		}
		_, err := c.exec(`INSERT INTO adapterdb_procedures (db_key, name_key, name, create_statement, created_at, modified_at, sql_mode)
			VALUES (?,?,?,?,?,?,?)`, lower(d.name), lower(spd.Name), spd.Name, spd.CreateStatement,
			ca.UTC().Format(time.RFC3339Nano), ma.UTC().Format(time.RFC3339Nano), spd.SqlMode)
		return mapError(err, spd.Name)
	})
}

// DropStoredProcedure implements sql.StoredProcedureDatabase.
func (d *Database) DropStoredProcedure(ctx *sql.Context, name string) error {
	return d.ddl(ctx, func(c *sqliteConn, dd *dbDef) error {
		res, err := c.exec("DELETE FROM adapterdb_procedures WHERE db_key = ? AND name_key = ?", lower(d.name), lower(name))
		if err != nil {
			return mapError(err, name)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrStoredProcedureDoesNotExist.New(name)
		}
		return nil
	})
}
