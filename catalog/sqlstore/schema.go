package sqlstore

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
)

// The MySQL schema of the user tables lives in these metadata tables, next to
// the data (see docs/storage.md). Every DDL statement rewrites the rows it
// touches and bumps schema_version in the same SQLite transaction, so a
// rolled-back DDL leaves no trace and other sessions notice committed changes.
const metaSchema = `
CREATE TABLE IF NOT EXISTS adapterdb_meta (
	key   TEXT PRIMARY KEY,
	value ANY NOT NULL
) STRICT;
INSERT OR IGNORE INTO adapterdb_meta (key, value) VALUES ('format', 1), ('schema_version', 1);
CREATE TABLE IF NOT EXISTS adapterdb_databases (
	name_key  TEXT PRIMARY KEY,          -- lower-case name (MySQL names are case-insensitive here)
	name      TEXT NOT NULL,
	collation TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_tables (
	id             INTEGER PRIMARY KEY,
	db_key         TEXT NOT NULL,
	name_key       TEXT NOT NULL,
	name           TEXT NOT NULL,
	sqlite_name    TEXT NOT NULL UNIQUE,  -- the SQLite table holding the rows
	collation      TEXT NOT NULL,
	comment        TEXT NOT NULL,
	auto_increment INTEGER NOT NULL,      -- next AUTO_INCREMENT value
	UNIQUE (db_key, name_key)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_columns (
	table_id       INTEGER NOT NULL,
	ordinal        INTEGER NOT NULL,
	name           TEXT NOT NULL,
	type           TEXT NOT NULL,         -- exact MySQL type, e.g. decimal(38,10)
	nullable       INTEGER NOT NULL,
	pk_ordinal     INTEGER,               -- position in the PRIMARY KEY, NULL if not part of it
	auto_increment INTEGER NOT NULL,
	default_expr   TEXT,                  -- as MySQL prints it, NULL for none
	generated_expr TEXT,
	virtual        INTEGER NOT NULL,
	on_update      TEXT,
	comment        TEXT NOT NULL,
	extra          TEXT NOT NULL,
	PRIMARY KEY (table_id, ordinal)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_indexes (
	table_id    INTEGER NOT NULL,
	name_key    TEXT NOT NULL,
	name        TEXT NOT NULL,
	is_unique   INTEGER NOT NULL,
	columns     TEXT NOT NULL,            -- JSON [{"Name":..,"Length":..}]
	comment     TEXT NOT NULL,
	sqlite_name TEXT NOT NULL UNIQUE,
	PRIMARY KEY (table_id, name_key)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_checks (
	table_id INTEGER NOT NULL,
	name     TEXT NOT NULL,
	expr     TEXT NOT NULL,
	enforced INTEGER NOT NULL,
	PRIMARY KEY (table_id, name)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_foreign_keys (
	db_key     TEXT NOT NULL,
	name_key   TEXT NOT NULL,
	table_id   INTEGER NOT NULL,
	definition TEXT NOT NULL,             -- JSON of the foreign key
	PRIMARY KEY (db_key, name_key)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_views (
	db_key           TEXT NOT NULL,
	name_key         TEXT NOT NULL,
	name             TEXT NOT NULL,
	definition       TEXT NOT NULL,
	create_statement TEXT NOT NULL,
	sql_mode         TEXT NOT NULL,
	PRIMARY KEY (db_key, name_key)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_triggers (
	db_key           TEXT NOT NULL,
	name_key         TEXT NOT NULL,
	name             TEXT NOT NULL,
	create_statement TEXT NOT NULL,
	created_at       TEXT NOT NULL,
	sql_mode         TEXT NOT NULL,
	seq              INTEGER NOT NULL,
	PRIMARY KEY (db_key, name_key)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_events (
	db_key     TEXT NOT NULL,
	name_key   TEXT NOT NULL,
	definition TEXT NOT NULL,             -- JSON of the event definition
	PRIMARY KEY (db_key, name_key)
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_procedures (
	db_key           TEXT NOT NULL,
	name_key         TEXT NOT NULL,
	name             TEXT NOT NULL,
	create_statement TEXT NOT NULL,
	created_at       TEXT NOT NULL,
	modified_at      TEXT NOT NULL,
	sql_mode         TEXT NOT NULL,
	PRIMARY KEY (db_key, name_key)
) STRICT;
`

// schemaSnap is an immutable picture of all databases at one schema version.
type schemaSnap struct {
	version int64
	dbs     map[string]*dbDef // by lower-case name
}

type dbDef struct {
	name      string
	collation sql.CollationID
	tables    map[string]*tableDef // by lower-case name
	byID      map[int64]*tableDef
	views     map[string]sql.ViewDefinition
	triggers  []sql.TriggerDefinition
	procs     map[string]sql.StoredProcedureDetails
	events    map[string]sql.EventDefinition
	fks       []fkDef
}

type fkDef struct {
	tableID int64
	fk      sql.ForeignKeyConstraint
}

type tableDef struct {
	id        int64
	db        string // database name as created
	name      string
	sqlName   string // SQLite table
	collation sql.CollationID
	comment   string
	autoInc   uint64 // committed next AUTO_INCREMENT value
	sch       sql.PrimaryKeySchema
	codecs    []*codec // parallel to sch.Schema
	indexes   []*indexDef
	checks    []sql.CheckDefinition
	rowidPK   bool // single integer PK column, stored as SQLite's rowid
	autoCol   int  // schema index of the AUTO_INCREMENT column, -1 if none
	stored    []int

	// SQL text built once per schema version.
	storedQ, insertQ, setQ string
}

type indexDef struct {
	name    string
	unique  bool
	cols    []sql.IndexColumn
	comment string
	sqlName string
}

func lower(s string) string { return strings.ToLower(s) }

func (s *schemaSnap) db(name string) (*dbDef, bool) {
	d, ok := s.dbs[lower(name)]
	return d, ok
}

func (d *dbDef) table(name string) (*tableDef, bool) {
	t, ok := d.tables[lower(name)]
	return t, ok
}

func (d *dbDef) tableByID(id int64) *tableDef { return d.byID[id] }

// colIndex finds a column by case-insensitive name.
func (t *tableDef) colIndex(name string) int {
	for i, c := range t.sch.Schema {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

func (t *tableDef) index(name string) *indexDef {
	for _, ix := range t.indexes {
		if strings.EqualFold(ix.name, name) {
			return ix
		}
	}
	return nil
}

// finish derives the storage facts from the schema.
func (t *tableDef) finish() error {
	t.codecs = make([]*codec, len(t.sch.Schema))
	t.autoCol = -1
	t.stored = t.stored[:0]
	for i, col := range t.sch.Schema {
		c, err := newCodec(col.Type)
		if err != nil {
			return fmt.Errorf("table %s column %s: %w", t.name, col.Name, err)
		}
		c.virtual = col.Virtual
		t.codecs[i] = c
		if col.AutoIncrement {
			t.autoCol = i
		}
		// Virtual generated columns are stored too (the engine computes
		// them on every write), so they can be indexed; reads return NULL
		// for them and the engine recomputes the value.
		t.stored = append(t.stored, i)
	}
	names := make([]string, len(t.stored))
	sets := make([]string, len(t.stored))
	for i, si := range t.stored {
		names[i] = qi(t.sch.Schema[si].Name)
		sets[i] = names[i] + " = ?"
	}
	t.storedQ = strings.Join(names, ", ")
	t.setQ = strings.Join(sets, ", ")
	t.insertQ = insertInto(t.sqlName, t.storedQ, len(t.stored))
	t.rowidPK = false
	if len(t.sch.PkOrdinals) == 1 {
		c := t.codecs[t.sch.PkOrdinals[0]]
		t.rowidPK = c.st == stInt && isIntegerType(c)
	}
	return nil
}

// insertInto is "INSERT INTO table (cols) VALUES (?, ...)".
func insertInto(table, cols string, n int) string {
	return "INSERT INTO " + qi(table) + " (" + cols + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func isIntegerType(c *codec) bool {
	switch c.qt.String() {
	case "INT8", "INT16", "INT24", "INT32", "INT64", "UINT8", "UINT16", "UINT24", "UINT32":
		return true
	}
	return false
}

// ---- loading ----

func readVersion(c *sqliteConn) (int64, error) {
	dest := make([]driver.Value, 1)
	found, err := c.queryRow(dest, "SELECT value FROM adapterdb_meta WHERE key = 'schema_version'")
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("adapterdb_meta has no schema_version")
	}
	v, ok := dest[0].(int64)
	if !ok {
		return 0, fmt.Errorf("adapterdb_meta schema_version is %T", dest[0])
	}
	return v, nil
}

func bumpVersion(c *sqliteConn) error {
	_, err := c.exec("UPDATE adapterdb_meta SET value = value + 1 WHERE key = 'schema_version'")
	return err
}

// eachRow runs a query and calls fn for every row.
func eachRow(c *sqliteConn, n int, fn func([]driver.Value) error, query string, args ...driver.Value) error {
	rows, err := c.query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, n)
	for {
		if err := rows.Next(dest); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err := fn(dest); err != nil {
			return err
		}
	}
}

func str(v driver.Value) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func i64(v driver.Value) int64 {
	x, _ := v.(int64)
	return x
}

func parseCollation(name string) sql.CollationID {
	id, err := sql.ParseCollation("", name, false)
	if err != nil {
		return sql.Collation_Default
	}
	return id
}

// loadSchema reads the whole schema through c (inside c's transaction, if any).
func loadSchema(c *sqliteConn) (*schemaSnap, error) {
	v, err := readVersion(c)
	if err != nil {
		return nil, err
	}
	s := &schemaSnap{version: v, dbs: map[string]*dbDef{}}
	err = eachRow(c, 3, func(r []driver.Value) error {
		s.dbs[str(r[0])] = &dbDef{
			name:      str(r[1]),
			collation: parseCollation(str(r[2])),
			tables:    map[string]*tableDef{},
			byID:      map[int64]*tableDef{},
			views:     map[string]sql.ViewDefinition{},
			procs:     map[string]sql.StoredProcedureDetails{},
			events:    map[string]sql.EventDefinition{},
		}
		return nil
	}, "SELECT name_key, name, collation FROM adapterdb_databases")
	if err != nil {
		return nil, fmt.Errorf("load databases: %w", err)
	}
	byID := map[int64]*tableDef{}
	err = eachRow(c, 8, func(r []driver.Value) error {
		d, ok := s.dbs[str(r[1])]
		if !ok {
			return nil
		}
		t := &tableDef{
			id: i64(r[0]), db: d.name, name: str(r[2]), sqlName: str(r[3]),
			collation: parseCollation(str(r[4])), comment: str(r[5]), autoInc: uint64(i64(r[6])),
		}
		d.tables[lower(t.name)] = t
		d.byID[t.id] = t
		byID[t.id] = t
		return nil
	}, "SELECT id, db_key, name, sqlite_name, collation, comment, auto_increment, name_key FROM adapterdb_tables")
	if err != nil {
		return nil, fmt.Errorf("load tables: %w", err)
	}
	type pkPos struct{ pos, ord int }
	pks := map[int64][]pkPos{}
	err = eachRow(c, 13, func(r []driver.Value) error {
		t, ok := byID[i64(r[0])]
		if !ok {
			return nil
		}
		typ, err := parseTypeString(str(r[3]))
		if err != nil {
			return fmt.Errorf("table %s column %s: %w", t.name, str(r[2]), err)
		}
		col := &sql.Column{
			Name: str(r[2]), Type: typ, Nullable: i64(r[4]) != 0, AutoIncrement: i64(r[6]) != 0,
			Source: t.name, DatabaseSource: t.db, Virtual: i64(r[9]) != 0,
			Comment: str(r[11]), Extra: str(r[12]),
		}
		if r[5] != nil {
			col.PrimaryKey = true
			pks[t.id] = append(pks[t.id], pkPos{pos: int(i64(r[5])), ord: len(t.sch.Schema)})
		}
		if r[7] != nil {
			col.Default = sql.NewUnresolvedColumnDefaultValue(str(r[7]))
		}
		if r[8] != nil {
			col.Generated = sql.NewUnresolvedColumnDefaultValue(str(r[8]))
		}
		if r[10] != nil {
			col.OnUpdate = sql.NewUnresolvedColumnDefaultValue(str(r[10]))
		}
		t.sch.Schema = append(t.sch.Schema, col)
		return nil
	}, `SELECT table_id, ordinal, name, type, nullable, pk_ordinal, auto_increment, default_expr,
		generated_expr, virtual, on_update, comment, extra FROM adapterdb_columns ORDER BY table_id, ordinal`)
	if err != nil {
		return nil, fmt.Errorf("load columns: %w", err)
	}
	for id, t := range byID {
		p := pks[id]
		sort.Slice(p, func(i, j int) bool { return p[i].pos < p[j].pos })
		t.sch.PkOrdinals = make([]int, len(p))
		for i, x := range p {
			t.sch.PkOrdinals[i] = x.ord
		}
	}
	err = eachRow(c, 6, func(r []driver.Value) error {
		t, ok := byID[i64(r[0])]
		if !ok {
			return nil
		}
		ix := &indexDef{name: str(r[1]), unique: i64(r[2]) != 0, comment: str(r[4]), sqlName: str(r[5])}
		if err := json.Unmarshal([]byte(str(r[3])), &ix.cols); err != nil {
			return fmt.Errorf("index %s on %s: %w", ix.name, t.name, err)
		}
		t.indexes = append(t.indexes, ix)
		return nil
	}, "SELECT table_id, name, is_unique, columns, comment, sqlite_name FROM adapterdb_indexes ORDER BY table_id, name_key")
	if err != nil {
		return nil, fmt.Errorf("load indexes: %w", err)
	}
	err = eachRow(c, 4, func(r []driver.Value) error {
		if t, ok := byID[i64(r[0])]; ok {
			t.checks = append(t.checks, sql.CheckDefinition{Name: str(r[1]), CheckExpression: str(r[2]), Enforced: i64(r[3]) != 0})
		}
		return nil
	}, "SELECT table_id, name, expr, enforced FROM adapterdb_checks ORDER BY table_id, rowid")
	if err != nil {
		return nil, fmt.Errorf("load checks: %w", err)
	}
	err = eachRow(c, 3, func(r []driver.Value) error {
		d, ok := s.dbs[str(r[0])]
		if !ok {
			return nil
		}
		var fk sql.ForeignKeyConstraint
		if err := json.Unmarshal([]byte(str(r[2])), &fk); err != nil {
			return fmt.Errorf("foreign key in %s: %w", d.name, err)
		}
		d.fks = append(d.fks, fkDef{tableID: i64(r[1]), fk: fk})
		return nil
	}, "SELECT db_key, table_id, definition FROM adapterdb_foreign_keys ORDER BY db_key, name_key")
	if err != nil {
		return nil, fmt.Errorf("load foreign keys: %w", err)
	}
	err = eachRow(c, 6, func(r []driver.Value) error {
		if d, ok := s.dbs[str(r[0])]; ok {
			d.views[str(r[1])] = sql.ViewDefinition{Name: str(r[2]), TextDefinition: str(r[3]),
				CreateViewStatement: str(r[4]), SqlMode: str(r[5])}
		}
		return nil
	}, "SELECT db_key, name_key, name, definition, create_statement, sql_mode FROM adapterdb_views")
	if err != nil {
		return nil, fmt.Errorf("load views: %w", err)
	}
	err = eachRow(c, 5, func(r []driver.Value) error {
		if d, ok := s.dbs[str(r[0])]; ok {
			at, _ := time.Parse(time.RFC3339Nano, str(r[3]))
			d.triggers = append(d.triggers, sql.TriggerDefinition{Name: str(r[1]), CreateStatement: str(r[2]),
				CreatedAt: at, SqlMode: str(r[4])})
		}
		return nil
	}, "SELECT db_key, name, create_statement, created_at, sql_mode FROM adapterdb_triggers ORDER BY db_key, seq")
	if err != nil {
		return nil, fmt.Errorf("load triggers: %w", err)
	}
	err = eachRow(c, 7, func(r []driver.Value) error {
		if d, ok := s.dbs[str(r[0])]; ok {
			ca, _ := time.Parse(time.RFC3339Nano, str(r[4]))
			ma, _ := time.Parse(time.RFC3339Nano, str(r[5]))
			d.procs[str(r[1])] = sql.StoredProcedureDetails{Name: str(r[2]), CreateStatement: str(r[3]),
				CreatedAt: ca, ModifiedAt: ma, SqlMode: str(r[6])}
		}
		return nil
	}, "SELECT db_key, name_key, name, create_statement, created_at, modified_at, sql_mode FROM adapterdb_procedures")
	if err != nil {
		return nil, fmt.Errorf("load procedures: %w", err)
	}
	err = eachRow(c, 3, func(r []driver.Value) error {
		if d, ok := s.dbs[str(r[0])]; ok {
			var ev sql.EventDefinition
			if err := json.Unmarshal([]byte(str(r[2])), &ev); err != nil {
				return fmt.Errorf("event %s in %s: %w", str(r[1]), d.name, err)
			}
			d.events[str(r[1])] = ev
		}
		return nil
	}, "SELECT db_key, name_key, definition FROM adapterdb_events")
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	for _, t := range byID {
		if err := t.finish(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ---- writing ----

// writeTableMeta stores a table's columns, indexes and checks (replacing any
// previous rows for its id) and its adapterdb_tables row. An existing table
// keeps its committed AUTO_INCREMENT counter (sessions advance it at commit).
func writeTableMeta(c *sqliteConn, t *tableDef) error {
	_, err := c.exec(`INSERT INTO adapterdb_tables (id, db_key, name_key, name, sqlite_name, collation, comment, auto_increment)
		VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET db_key=excluded.db_key, name_key=excluded.name_key, name=excluded.name,
		sqlite_name=excluded.sqlite_name, collation=excluded.collation, comment=excluded.comment`,
		t.id, lower(t.db), lower(t.name), t.name, t.sqlName, t.collation.Name(), t.comment, int64(t.autoInc))
	if err != nil {
		return err
	}
	for _, q := range []string{"DELETE FROM adapterdb_columns WHERE table_id = ?",
		"DELETE FROM adapterdb_indexes WHERE table_id = ?", "DELETE FROM adapterdb_checks WHERE table_id = ?"} {
		if _, err := c.exec(q, t.id); err != nil {
			return err
		}
	}
	pkPos := map[int]int{}
	for i, ord := range t.sch.PkOrdinals {
		pkPos[ord] = i
	}
	for i, col := range t.sch.Schema {
		var pk driver.Value
		if p, ok := pkPos[i]; ok {
			pk = int64(p)
		}
		_, err := c.exec(`INSERT INTO adapterdb_columns (table_id, ordinal, name, type, nullable, pk_ordinal,
			auto_increment, default_expr, generated_expr, virtual, on_update, comment, extra)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			t.id, int64(i), col.Name, typeString(col.Type), b2i(col.Nullable), pk, b2i(col.AutoIncrement),
			defaultText(col.Default), defaultText(col.Generated), b2i(col.Virtual), defaultText(col.OnUpdate),
			col.Comment, col.Extra)
		if err != nil {
			return err
		}
	}
	for _, ix := range t.indexes {
		cols, err := json.Marshal(ix.cols)
		if err != nil {
			return err
		}
		_, err = c.exec(`INSERT INTO adapterdb_indexes (table_id, name_key, name, is_unique, columns, comment, sqlite_name)
			VALUES (?,?,?,?,?,?,?)`, t.id, lower(ix.name), ix.name, b2i(ix.unique), string(cols), ix.comment, ix.sqlName)
		if err != nil {
			return err
		}
	}
	for _, ch := range t.checks {
		_, err := c.exec(`INSERT INTO adapterdb_checks (table_id, name, expr, enforced) VALUES (?,?,?,?)`,
			t.id, ch.Name, ch.CheckExpression, b2i(ch.Enforced))
		if err != nil {
			return err
		}
	}
	return nil
}

func deleteTableMeta(c *sqliteConn, id int64) error {
	for _, q := range []string{"DELETE FROM adapterdb_columns WHERE table_id = ?",
		"DELETE FROM adapterdb_indexes WHERE table_id = ?", "DELETE FROM adapterdb_checks WHERE table_id = ?",
		"DELETE FROM adapterdb_foreign_keys WHERE table_id = ?", "DELETE FROM adapterdb_tables WHERE id = ?"} {
		if _, err := c.exec(q, id); err != nil {
			return err
		}
	}
	return nil
}

// defaultText serializes a column default the way MySQL prints it (and GMS
// parses it back); nil means no default.
func defaultText(d *sql.ColumnDefaultValue) driver.Value {
	if d == nil {
		return nil
	}
	if u, ok := d.Expr.(*sql.UnresolvedColumnDefault); ok {
		return u.ExprString
	}
	if u, ok := d.Expr.(sql.UnresolvedColumnDefault); ok {
		return u.ExprString
	}
	return d.String()
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// newTableID allocates an id for a new table.
func newTableID(c *sqliteConn) (int64, error) {
	dest := make([]driver.Value, 1)
	if _, err := c.queryRow(dest, "SELECT COALESCE(MAX(id), 0) + 1 FROM adapterdb_tables"); err != nil {
		return 0, err
	}
	return i64(dest[0]), nil
}

// freeSQLiteName returns base, or base with a ~n suffix, that no SQLite object
// uses yet (SQLite compares names case-insensitively for ASCII).
func freeSQLiteName(c *sqliteConn, base string) (string, error) {
	if strings.HasPrefix(lower(base), "sqlite_") {
		base = "_" + base
	}
	dest := make([]driver.Value, 1)
	name := base
	for n := 2; ; n++ {
		found, err := c.queryRow(dest, "SELECT 1 FROM sqlite_schema WHERE name = ? COLLATE NOCASE", name)
		if err != nil {
			return "", err
		}
		if !found {
			return name, nil
		}
		name = fmt.Sprintf("%s~%d", base, n)
	}
}

// initMeta creates the metadata tables if needed; run once per open.
func initMeta(ctx context.Context, c *sqliteConn) error {
	if _, err := c.execCtx(ctx, metaSchema); err != nil {
		return err
	}
	// Recorded last, in the same transaction: a file whose setup row is at
	// least metaSetup has all of metaSchema (readSetUp).
	_, err := c.execCtx(ctx, "INSERT INTO adapterdb_meta (key, value) VALUES ('setup', ?) "+
		"ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)", int64(metaSetup))
	return err
}

// metaSetup numbers metaSchema's releases: bump it when metaSchema gains an
// object or a row, so that files set up before it get them at their next
// open (readSetUp reads a file whose setup row is lower as not set up).
const metaSetup = 1
