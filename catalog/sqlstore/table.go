package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Table is a user table stored in the SQLite file. A Table value describes
// one schema version and one access path (projection, index lookup); the rows
// are read through the session's transaction.
type Table struct {
	p   *Provider
	def *tableDef

	proj []string // projected column names; nil: all columns
	cols []int    // schema indexes of the returned columns; nil: all

	lookup *sql.IndexLookup

	// live reads see the statement's own writes (foreign key checks read
	// through the editor); other reads of a table the statement writes see
	// it as it was (see Session.snapshot).
	live bool

	// Filters the pushdown rule moved into the SQLite query (AND-ed).
	where     []string
	whereArgs []driver.Value
	filters   []sql.Expression
}

var (
	_ sql.Table                    = (*Table)(nil)
	_ sql.ProjectedTable           = (*Table)(nil)
	_ sql.IndexAddressableTable    = (*Table)(nil)
	_ sql.IndexedTable             = (*Table)(nil)
	_ sql.PrimaryKeyTable          = (*Table)(nil)
	_ sql.CommentedTable           = (*Table)(nil)
	_ sql.Databaseable             = (*Table)(nil)
	_ sql.InsertableTable          = (*Table)(nil)
	_ sql.UpdatableTable           = (*Table)(nil)
	_ sql.DeletableTable           = (*Table)(nil)
	_ sql.ReplaceableTable         = (*Table)(nil)
	_ sql.TruncateableTable        = (*Table)(nil)
	_ sql.AutoIncrementTable       = (*Table)(nil)
	_ sql.AlterableTable           = (*Table)(nil)
	_ sql.RewritableTable          = (*Table)(nil)
	_ sql.IndexAlterableTable      = (*Table)(nil)
	_ sql.CheckTable               = (*Table)(nil)
	_ sql.CheckAlterableTable      = (*Table)(nil)
	_ sql.PrimaryKeyAlterableTable = (*Table)(nil)
	_ sql.ForeignKeyTable          = (*Table)(nil)
	_ sql.CollationAlterableTable  = (*Table)(nil)
	_ sql.StatisticsTable          = (*Table)(nil)
	_ sql.IndexBuildingTable       = (*Table)(nil)
	_ sql.TemporaryTable           = (*Table)(nil)
	_ sql.FilteredTable            = (*Table)(nil)
)

// Filters implements sql.FilteredTable: the conditions SQLite applies (for
// EXPLAIN; they are added by the pushdown rule, not through HandledFilters).
func (t *Table) Filters() []sql.Expression { return t.filters }

// HandledFilters implements sql.FilteredTable: GMS's analyzer does not use
// it; filters arrive through the pushdown rule.
func (t *Table) HandledFilters([]sql.Expression) []sql.Expression { return nil }

// WithFilters implements sql.FilteredTable (GMS calls it to re-bind
// parameters in filters already pushed): the filters are translated again.
func (t *Table) WithFilters(ctx *sql.Context, filters []sql.Expression) sql.Table {
	nt := *t
	nt.where, nt.whereArgs, nt.filters = nil, nil, nil
	colOf := columnOf(t.def, 0)
	for _, f := range filters {
		w, a, ok := filterSQL(ctx, f, t.def, colOf)
		if !ok {
			return t // keep the translation we have
		}
		nt.where, nt.whereArgs = append(nt.where, w), append(nt.whereArgs, a...)
		nt.filters = append(nt.filters, f)
	}
	return &nt
}

// IsTemporary implements sql.TemporaryTable (CREATE TEMPORARY TABLE is not
// supported: every table is stored).
func (t *Table) IsTemporary() bool { return false }

// current is the table's definition as the context's session sees it now
// (after DDL earlier in the same statement, e.g. CREATE TABLE then its
// indexes).
func (t *Table) current(ctx *sql.Context) *tableDef {
	if dd, ok := t.p.schemaFor(ctx).db(t.def.db); ok {
		if cur := dd.tableByID(t.def.id); cur != nil {
			return cur
		}
	}
	return t.def
}

// Name implements sql.Table.
func (t *Table) Name() string { return t.def.name }

// String implements sql.Table.
func (t *Table) String() string { return t.def.name }

// Database implements sql.Databaseable.
func (t *Table) Database() string { return t.def.db }

// Schema implements sql.Table: the projected columns, or all of them.
func (t *Table) Schema() sql.Schema {
	if t.cols == nil {
		return t.def.sch.Schema
	}
	out := make(sql.Schema, len(t.cols))
	for i, c := range t.cols {
		out[i] = t.def.sch.Schema[c]
	}
	return out
}

// Collation implements sql.Table.
func (t *Table) Collation() sql.CollationID { return t.def.collation }

// Comment implements sql.CommentedTable.
func (t *Table) Comment() string { return t.def.comment }

// PrimaryKeySchema implements sql.PrimaryKeyTable.
func (t *Table) PrimaryKeySchema() sql.PrimaryKeySchema { return t.def.sch }

// WithProjections implements sql.ProjectedTable.
func (t *Table) WithProjections(names []string) sql.Table {
	nt := *t
	if names == nil {
		nt.proj, nt.cols = nil, nil
		return &nt
	}
	nt.proj = names
	nt.cols = make([]int, 0, len(names))
	for _, n := range names {
		if i := t.def.colIndex(n); i >= 0 {
			nt.cols = append(nt.cols, i)
		}
	}
	return &nt
}

// Projections implements sql.ProjectedTable.
func (t *Table) Projections() []string { return t.proj }

// returned are the schema indexes of the columns in returned rows.
func (t *Table) returned() []int {
	if t.cols != nil {
		return t.cols
	}
	all := make([]int, len(t.def.sch.Schema))
	for i := range all {
		all[i] = i
	}
	return all
}

// partition is a unit of a scan: the whole table, or one range of an index
// lookup (it carries its range: for lookup joins the engine asks the same
// table for new lookups on every outer row).
type partition struct {
	idx     *Index // nil: full scan
	ranges  []sql.MySQLRange
	reverse bool
	n       int
}

func (p *partition) Key() []byte { return []byte(fmt.Sprint(p.n)) }

// Partitions implements sql.Table: a full scan is one partition.
func (t *Table) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(&partition{}), nil
}

// PartitionRows implements sql.Table.
func (t *Table) PartitionRows(ctx *sql.Context, part sql.Partition) (sql.RowIter, error) {
	p, ok := part.(*partition)
	if !ok {
		return nil, fmt.Errorf("adapterdb: foreign partition %T", part)
	}
	return scanSpec{t: t, idx: p.idx, ranges: p.ranges, reverse: p.reverse}.open(ctx)
}

// ---- index access ----

// GetIndexes implements sql.IndexAddressable.
func (t *Table) GetIndexes(ctx *sql.Context) ([]sql.Index, error) {
	return t.current(ctx).sqlIndexes(), nil
}

// IndexedAccess implements sql.IndexAddressable.
func (t *Table) IndexedAccess(_ *sql.Context, lookup sql.IndexLookup) sql.IndexedTable {
	nt := *t
	nt.lookup = &lookup
	return &nt
}

// PreciseMatch implements sql.IndexAddressable: lookups return exactly the
// rows in their ranges (prefix indexes excepted, which GMS knows).
func (t *Table) PreciseMatch() bool { return true }

// LookupPartitions implements sql.IndexedTable: one partition per range, in
// the lookup's order.
func (t *Table) LookupPartitions(ctx *sql.Context, lookup sql.IndexLookup) (sql.PartitionIter, error) {
	if lookup.IsEmptyRange {
		return sql.PartitionsToPartitionIter(), nil
	}
	ranges, ok := lookup.Ranges.(sql.MySQLRangeCollection)
	if !ok {
		return nil, fmt.Errorf("adapterdb: unsupported range collection %T", lookup.Ranges)
	}
	idx, ok := lookup.Index.(*Index)
	if !ok {
		return nil, fmt.Errorf("adapterdb: lookup on foreign index %T", lookup.Index)
	}
	if s := sessionOf(ctx); s != nil && !t.live && s.isEditing(t.def.id) {
		// One snapshot for all ranges: a statement that writes the table
		// must not see rows it moved from one range into a later one.
		return sql.PartitionsToPartitionIter(&partition{idx: idx, ranges: ranges, reverse: lookup.IsReverse, n: 1}), nil
	}
	parts := make([]sql.Partition, len(ranges))
	for i, r := range ranges {
		parts[i] = &partition{idx: idx, ranges: []sql.MySQLRange{r}, reverse: lookup.IsReverse, n: i + 1}
	}
	return sql.PartitionsToPartitionIter(parts...), nil
}

// ---- scans ----

// scanSpec is one SELECT against the table's SQLite storage.
type scanSpec struct {
	t       *Table
	idx     *Index           // nil: full scan
	ranges  []sql.MySQLRange // with idx: rows in any of them
	reverse bool
}

// open builds and runs the scan.
func (sp scanSpec) open(ctx *sql.Context) (sql.RowIter, error) {
	s, err := mustSession(ctx)
	if err != nil {
		return nil, err
	}
	def := sp.t.def
	ret := sp.t.returned()
	where := append([]string(nil), sp.t.where...)
	args := append([]driver.Value(nil), sp.t.whereArgs...)
	var goFilter sql.Expression
	var proj []int
	order := ""
	if sp.idx != nil {
		w, a, ok := sp.idx.rangesSQL(ctx, sp.ranges)
		if ok {
			where, args = append(where, w...), append(args, a...)
			order = sp.idx.orderBy(sp.reverse)
		} else {
			// A key SQLite cannot compare exactly: scan every column, filter
			// here, then project.
			all := (&Table{def: def}).returned()
			goFilter, err = sp.idx.rangeFilter(sp.ranges, all)
			if err != nil {
				return nil, err
			}
			proj, ret = ret, all
		}
	}
	var sel []string
	out := make([]int, len(ret))
	codecs := make([]*codec, len(ret))
	for i, si := range ret {
		codecs[i] = def.codecs[si]
		if def.codecs[si].virtual {
			out[i] = -1
			continue
		}
		out[i] = len(sel)
		sel = append(sel, qi(def.sch.Schema[si].Name))
	}
	if len(sel) == 0 {
		sel = []string{"1"}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + qi(def.sqlName)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += order

	c, err := s.readConn()
	if err != nil {
		return nil, err
	}
	it := &rowIter{out: out, codecs: codecs, filter: goFilter, proj: proj, table: def.name}
	if !sp.t.live && s.isEditing(def.id) {
		// The statement writes this table while reading it: read the rows
		// as of the statement's first read of them.
		tmp, err := s.snapshot(ctx, c, def.id, q, args, len(sel))
		if err != nil {
			return nil, mapError(err, def.name)
		}
		q, args = "SELECT * FROM temp."+tmp+" ORDER BY rowid", nil
	}
	rows, err := c.query(q, args...)
	if err != nil {
		return nil, mapError(err, def.name)
	}
	it.rows = rows
	it.dest = make([]driver.Value, len(sel))
	it.s = s
	s.cursorOpened(it)
	return it, nil
}

// rowIter decodes SQLite rows into GMS rows.
type rowIter struct {
	rows   driver.Rows
	dest   []driver.Value
	out    []int // per returned column: index into dest, -1 for virtual columns
	codecs []*codec
	filter sql.Expression
	proj   []int // with filter: the schema indexes to return
	table  string
	n      int
	done   bool
	s      *Session // registered with, while the cursor is open

	// After the transaction that opened the scan ends (a stored procedure's
	// cursor outlives the statements that commit around it), the rest of
	// the rows are held here.
	buf    [][]driver.Value
	bufErr error
}

func (it *rowIter) Next(ctx *sql.Context) (sql.Row, error) {
	for {
		if it.done {
			return nil, io.EOF
		}
		it.n++
		if it.n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := it.next(); err != nil {
			if err == io.EOF {
				// Release the cursor now: DDL in the same transaction
				// (table rewrites) cannot drop a table a cursor reads.
				it.done = true
				it.closeRows()
				return nil, io.EOF
			}
			return nil, mapError(err, it.table)
		}
		row := make(sql.Row, len(it.out))
		for i, k := range it.out {
			if k < 0 {
				continue
			}
			v, err := it.codecs[i].decode(ctx, it.dest[k])
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", it.table, err)
			}
			row[i] = v
		}
		if it.filter != nil {
			ok, err := sql.EvaluateCondition(ctx, it.filter, row)
			if err != nil {
				return nil, err
			}
			if !sql.IsTrue(ok) {
				continue
			}
			if it.proj != nil {
				pr := make(sql.Row, len(it.proj))
				for i, si := range it.proj {
					pr[i] = row[si]
				}
				row = pr
			}
		}
		return row, nil
	}
}

func (it *rowIter) Close(*sql.Context) error {
	return it.closeRows()
}

// next reads the next stored row into it.dest.
func (it *rowIter) next() error {
	if it.rows != nil {
		return it.rows.Next(it.dest)
	}
	if len(it.buf) > 0 {
		it.dest, it.buf = it.buf[0], it.buf[1:]
		return nil
	}
	if it.bufErr != nil {
		return it.bufErr
	}
	return io.EOF
}

// detach reads the remaining rows into memory and releases the cursor; the
// session calls it when the transaction the scan belongs to ends.
func (it *rowIter) detach() {
	if it.rows == nil {
		return
	}
	for {
		dest := make([]driver.Value, len(it.dest))
		if err := it.rows.Next(dest); err != nil {
			if err != io.EOF {
				it.bufErr = err
			}
			break
		}
		it.buf = append(it.buf, dest)
	}
	it.rows.Close()
	it.rows = nil
}

// closeRows releases the SQLite cursor (idempotent).
func (it *rowIter) closeRows() error {
	it.buf = nil
	if it.rows == nil {
		return nil
	}
	err := it.rows.Close()
	it.rows = nil
	it.done = true
	if s := it.s; s != nil {
		it.s = nil
		s.cursorClosed(it)
	}
	return err
}

// ---- statistics ----

// RowCount implements sql.StatisticsTable with an estimate (never "exact"):
// the planner asks for it several times per query, so it must not scan, and
// it must not read inside the session's transaction (a read before a write
// would make the write's lock upgrade fail under concurrency). COUNT(*) itself
// is exact: it runs in SQLite through the aggregate pushdown.
func (t *Table) RowCount(*sql.Context) (uint64, bool, error) {
	return t.p.rowEstimate(t.def), false, nil
}

// DataLength implements sql.StatisticsTable: rows times the declared width
// of a row (an estimate, as MySQL's is; SQLite's page accounting is not
// available per table).
func (t *Table) DataLength(*sql.Context) (uint64, error) {
	rows := t.p.rowEstimate(t.def)
	var perRow uint64
	for _, col := range t.def.sch.Schema {
		switch n := col.Type.(type) {
		case sql.NumberType:
			perRow += 8
		case sql.StringType:
			perRow += uint64(n.MaxByteLength())
		case types.BitType:
			perRow++
		case sql.DatetimeType:
			perRow += 8
		case sql.DecimalType:
			perRow += uint64(n.MaximumScale())
		case sql.EnumType:
			perRow += 2
		case types.JsonType:
			perRow += 20
		case types.TimeType:
			perRow += 16
		case sql.YearType:
			perRow += 8
		}
	}
	return rows * perRow, nil
}

// getFieldsFor are GetFields over the returned row, for a Go-side filter.
func getFieldsFor(def *tableDef, ret []int, cols []int) ([]sql.Expression, error) {
	pos := map[int]int{}
	for i, si := range ret {
		pos[si] = i
	}
	exprs := make([]sql.Expression, len(cols))
	for i, si := range cols {
		p, ok := pos[si]
		if !ok {
			return nil, fmt.Errorf("adapterdb: lookup column %s not in the scan", def.sch.Schema[si].Name)
		}
		col := def.sch.Schema[si]
		exprs[i] = expression.NewGetFieldWithTable(p, 0, col.Type, def.db, def.name, col.Name, col.Nullable)
	}
	return exprs, nil
}
