package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Index is a table's PRIMARY KEY or a secondary index. Each has a matching
// SQLite index (the table's own key for PRIMARY), so the ranges of a lookup
// become a WHERE clause SQLite answers from the index, in index order.
type Index struct {
	t      *tableDef
	def    *indexDef // nil: PRIMARY
	cols   []int     // schema indexes of the indexed columns
	prefix []uint16
}

var (
	_ sql.Index         = (*Index)(nil)
	_ sql.OrderedIndex  = (*Index)(nil)
	_ sql.ExtendedIndex = (*Index)(nil)
)

// sqlIndexes lists the table's indexes for the engine.
func (t *tableDef) sqlIndexes() []sql.Index {
	var out []sql.Index
	if len(t.sch.PkOrdinals) > 0 {
		out = append(out, &Index{t: t, cols: append([]int(nil), t.sch.PkOrdinals...)})
	}
	for _, ix := range t.indexes {
		x := &Index{t: t, def: ix}
		hasPrefix := false
		for _, c := range ix.cols {
			x.cols = append(x.cols, t.colIndex(c.Name))
			x.prefix = append(x.prefix, uint16(c.Length))
			hasPrefix = hasPrefix || c.Length > 0
		}
		if !hasPrefix {
			x.prefix = nil
		}
		out = append(out, x)
	}
	return out
}

// ID implements sql.Index.
func (x *Index) ID() string {
	if x.def == nil {
		return "PRIMARY"
	}
	return x.def.name
}

// Database implements sql.Index.
func (x *Index) Database() string { return x.t.db }

// Table implements sql.Index.
func (x *Index) Table() string { return x.t.name }

func (x *Index) getField(si int) sql.Expression {
	col := x.t.sch.Schema[si]
	return expression.NewGetFieldWithTable(si, 0, col.Type, x.t.db, x.t.name, col.Name, col.Nullable)
}

// Expressions implements sql.Index.
func (x *Index) Expressions() []string {
	out := make([]string, len(x.cols))
	for i, si := range x.cols {
		out[i] = x.getField(si).String()
	}
	return out
}

// extended are the index columns followed by the primary key columns not in
// it: the order SQLite (like InnoDB) keeps index entries in.
func (x *Index) extended() []int {
	out := append([]int(nil), x.cols...)
	if x.def == nil {
		return out
	}
	for _, pk := range x.t.sch.PkOrdinals {
		found := false
		for _, c := range x.cols {
			found = found || c == pk
		}
		if !found {
			out = append(out, pk)
		}
	}
	return out
}

// ExtendedExpressions implements sql.ExtendedIndex.
func (x *Index) ExtendedExpressions() []string {
	ext := x.extended()
	out := make([]string, len(ext))
	for i, si := range ext {
		out[i] = x.getField(si).String()
	}
	return out
}

// ColumnExpressionTypes implements sql.Index.
func (x *Index) ColumnExpressionTypes() []sql.ColumnExpressionType {
	return x.cets(x.cols)
}

// ExtendedColumnExpressionTypes implements sql.ExtendedIndex.
func (x *Index) ExtendedColumnExpressionTypes() []sql.ColumnExpressionType {
	return x.cets(x.extended())
}

func (x *Index) cets(cols []int) []sql.ColumnExpressionType {
	out := make([]sql.ColumnExpressionType, len(cols))
	for i, si := range cols {
		out[i] = sql.ColumnExpressionType{Expression: x.getField(si).String(), Type: x.t.sch.Schema[si].Type}
	}
	return out
}

// IsUnique implements sql.Index.
func (x *Index) IsUnique() bool { return x.def == nil || x.def.unique }

// IsSpatial implements sql.Index.
func (x *Index) IsSpatial() bool { return false }

// IsFullText implements sql.Index.
func (x *Index) IsFullText() bool { return false }

// IsVector implements sql.Index.
func (x *Index) IsVector() bool { return false }

// Comment implements sql.Index.
func (x *Index) Comment() string {
	if x.def == nil {
		return ""
	}
	return x.def.comment
}

// IndexType implements sql.Index.
func (x *Index) IndexType() string { return "BTREE" }

// IsGenerated implements sql.Index.
func (x *Index) IsGenerated() bool { return false }

// CanSupport implements sql.Index: every range can be answered (keys SQLite
// cannot compare exactly fall back to filtering in Go).
func (x *Index) CanSupport(*sql.Context, ...sql.Range) bool { return true }

// CanSupportOrderBy implements sql.Index (no vector ordering).
func (x *Index) CanSupportOrderBy(sql.Expression) bool { return false }

// PrefixLengths implements sql.Index.
func (x *Index) PrefixLengths() []uint16 { return x.prefix }

// Order implements sql.OrderedIndex: ascending when SQLite orders every
// column of the index as MySQL does.
func (x *Index) Order() sql.IndexOrder {
	if x.contentHashed() {
		return sql.IndexOrderNone
	}
	for _, si := range x.extended() {
		if !x.t.codecs[si].ordered() {
			return sql.IndexOrderNone
		}
	}
	return sql.IndexOrderAsc
}

// contentHashed reports a UNIQUE index on a whole TEXT/BLOB column, which
// MySQL (and the engine's planner) treat as a hash, not an ordered index.
func (x *Index) contentHashed() bool {
	if x.def == nil || !x.def.unique {
		return false
	}
	for i, si := range x.cols {
		if types.IsTextBlob(x.t.sch.Schema[si].Type) && (len(x.prefix) <= i || x.prefix[i] == 0) {
			return true
		}
	}
	return false
}

// Reversible implements sql.OrderedIndex.
func (x *Index) Reversible() bool { return x.Order() == sql.IndexOrderAsc }

// orderBy is the ORDER BY clause returning rows in index order.
func (x *Index) orderBy(reverse bool) string {
	if x.Order() != sql.IndexOrderAsc {
		return ""
	}
	dir := ""
	if reverse {
		dir = " DESC"
	}
	ext := x.extended()
	parts := make([]string, len(ext))
	for i, si := range ext {
		parts[i] = qi(x.t.sch.Schema[si].Name) + dir
	}
	return " ORDER BY " + strings.Join(parts, ", ")
}

// rangesSQL is the WHERE condition for rows in any of the ranges.
func (x *Index) rangesSQL(ctx *sql.Context, ranges []sql.MySQLRange) ([]string, []driver.Value, bool) {
	if len(ranges) == 1 {
		return x.rangeSQL(ctx, ranges[0])
	}
	var ors []string
	var args []driver.Value
	for _, r := range ranges {
		w, a, ok := x.rangeSQL(ctx, r)
		if !ok {
			return nil, nil, false
		}
		if len(w) == 0 {
			w = []string{"1"}
		}
		ors = append(ors, "("+strings.Join(w, " AND ")+")")
		args = append(args, a...)
	}
	return []string{"(" + strings.Join(ors, " OR ") + ")"}, args, true
}

// rangeSQL turns one range into WHERE conditions on the stored columns. ok is
// false when a key cannot be compared exactly by SQLite.
func (x *Index) rangeSQL(ctx *sql.Context, r sql.MySQLRange) (where []string, args []driver.Value, ok bool) {
	for i, rce := range r {
		if i >= len(x.cols) {
			// Ranges over the appended primary key columns.
			ext := x.extended()
			if i >= len(ext) {
				break
			}
			si := ext[i]
			w, a, ok := columnRangeSQL(ctx, qi(x.t.sch.Schema[si].Name), x.t.codecs[si], rce)
			if !ok {
				return nil, nil, false
			}
			where, args = append(where, w...), append(args, a...)
			continue
		}
		si := x.cols[i]
		w, a, ok := columnRangeSQL(ctx, qi(x.t.sch.Schema[si].Name), x.t.codecs[si], rce)
		if !ok {
			return nil, nil, false
		}
		where, args = append(where, w...), append(args, a...)
	}
	return where, args, true
}

// columnRangeSQL translates a range over one column. GMS's cuts: Below(k) is
// just below k, Above(k) just above; BelowNull is below everything (NULL
// included), AboveNull just above NULL, AboveAll above everything.
func columnRangeSQL(ctx *sql.Context, col string, c *codec, rce sql.MySQLRangeColumnExpr) ([]string, []driver.Value, bool) {
	key := func(cut sql.MySQLRangeCut) (driver.Value, bool) {
		return c.encodeKey(ctx, sql.GetMySQLRangeCutKey(cut))
	}
	var where []string
	var args []driver.Value
	lowerNull := false // lower bound admits NULL
	switch lb := rce.LowerBound.(type) {
	case sql.BelowNull:
		lowerNull = true
	case sql.AboveNull:
		where = append(where, col+" IS NOT NULL")
	case sql.Below:
		k, ok := key(lb)
		if !ok {
			return nil, nil, false
		}
		if ub, isAbove := rce.UpperBound.(sql.Above); isAbove {
			if same, err := rce.Typ.Compare(ctx, lb.Key, ub.Key); err == nil && same == 0 {
				return []string{col + " = ?"}, []driver.Value{k}, true
			}
		}
		where, args = append(where, col+" >= ?"), append(args, k)
	case sql.Above:
		k, ok := key(lb)
		if !ok {
			return nil, nil, false
		}
		where, args = append(where, col+" > ?"), append(args, k)
	case sql.AboveAll:
		return []string{"0"}, nil, true
	default:
		return nil, nil, false
	}
	switch ub := rce.UpperBound.(type) {
	case sql.AboveAll:
	case sql.BelowNull:
		return []string{"0"}, nil, true
	case sql.AboveNull:
		if lowerNull {
			where = append(where, col+" IS NULL")
		} else {
			return []string{"0"}, nil, true
		}
	case sql.Below, sql.Above:
		k, ok := key(ub)
		if !ok {
			return nil, nil, false
		}
		op := " < ?"
		if _, isAbove := ub.(sql.Above); isAbove {
			op = " <= ?"
		}
		if lowerNull {
			where, args = append(where, "("+col+" IS NULL OR "+col+op+")"), append(args, k)
		} else {
			where, args = append(where, col+op), append(args, k)
		}
	default:
		return nil, nil, false
	}
	return where, args, true
}

// rangeFilter is the range as an expression over the returned row, for the
// rare key SQLite cannot compare exactly.
func (x *Index) rangeFilter(ranges []sql.MySQLRange, ret []int) (sql.Expression, error) {
	cols := x.extended()
	if len(ranges) > 0 && len(ranges[0]) < len(cols) {
		cols = cols[:len(ranges[0])]
	}
	exprs, err := getFieldsFor(x.t, ret, cols)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", x.ID(), err)
	}
	return expression.NewRangeFilterExpr(exprs, ranges)
}
