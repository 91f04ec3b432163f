package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

// Work the engine would do row by row moves into SQLite when SQLite gives
// exactly MySQL's answer:
//
//   - a WHERE conjunct that compares a column with a literal (=, <>, <, <=,
//     >, >=, IS [NOT] NULL) becomes part of the table's SQLite query, so
//     rows it rejects never reach the engine (GMS v0.20.0 does not push
//     filters into tables itself);
//   - an aggregate over one table (COUNT, SUM, AVG, MIN, MAX, GROUP BY plain
//     columns) runs as one SQLite query: a full-table SUM costs what the
//     sqlite3 tool pays for it.
//
// Anything else (an expression, a function, PREDICT/EMBED, DISTINCT, a
// DECIMAL sum, outer references) stays with the engine.

// AggregatePushdownRuleID identifies AggregatePushdown among analyzer rules.
const AggregatePushdownRuleID analyzer.RuleId = 1101

// InstallRules adds the provider's analyzer rules to an analyzer builder; the
// engine constructor calls it:
//
//	a := sqlstore.InstallRules(analyzer.NewBuilder(pro)).Build()
func InstallRules(b *analyzer.Builder) *analyzer.Builder {
	return b.AddPostValidationRule(AggregatePushdownRuleID, AggregatePushdown)
}

// AggregatePushdown is a post-validation analyzer rule: it replaces a GroupBy
// directly over an adapterdb table (optionally through a Filter, a table
// alias, or a static index lookup) by a node that runs the aggregate in
// SQLite, when every part of it translates exactly.
func AggregatePushdown(ctx *sql.Context, a *analyzer.Analyzer, n sql.Node, scope *plan.Scope, sel analyzer.RuleSelector, qf *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		switch n := n.(type) {
		case *plan.Filter:
			return pushFilter(ctx, n)
		case *plan.GroupBy:
			if agg, ok := planAggregate(ctx, n); ok {
				return agg, transform.NewTree, nil
			}
		}
		return n, transform.SameTree, nil
	})
}

// pushFilter moves the translatable conjuncts of a Filter over an adapterdb
// table into the table's SQLite query; the rest stay in the Filter.
func pushFilter(ctx *sql.Context, f *plan.Filter) (sql.Node, transform.TreeIdentity, error) {
	child := f.Child
	var alias *plan.TableAlias
	if ta, ok := child.(*plan.TableAlias); ok {
		alias, child = ta, ta.Child
	}
	rt, ok := child.(*plan.ResolvedTable)
	if !ok {
		return f, transform.SameTree, nil
	}
	t, ok := rt.Table.(*Table)
	if !ok || t.live || t.lookup != nil {
		return f, transform.SameTree, nil
	}
	tableID := rt.Id()
	if alias != nil {
		tableID = alias.Id()
	}
	colOf := columnOf(t.def, tableID)
	nt := *t
	var kept []sql.Expression
	for _, conj := range expression.SplitConjunction(f.Expression) {
		w, a, ok := filterSQL(ctx, conj, t.def, colOf)
		if !ok {
			kept = append(kept, conj)
			continue
		}
		nt.where = append(append([]string(nil), nt.where...), w)
		nt.whereArgs = append(append([]driver.Value(nil), nt.whereArgs...), a...)
		nt.filters = append(append([]sql.Expression(nil), nt.filters...), conj)
	}
	if len(nt.filters) == len(t.filters) {
		return f, transform.SameTree, nil
	}
	mt, err := rt.ReplaceTable(&nt)
	if err != nil {
		return f, transform.SameTree, nil
	}
	var out sql.Node = mt
	if alias != nil {
		if out, err = alias.WithChildren(mt); err != nil {
			return nil, transform.SameTree, err
		}
	}
	if len(kept) > 0 {
		out = plan.NewFilter(expression.JoinAnd(kept...), out)
	}
	return out, transform.NewTree, nil
}

// columnOf resolves a GetField of the given table to a schema index.
func columnOf(def *tableDef, tableID sql.TableId) func(sql.Expression) (int, bool) {
	return func(e sql.Expression) (int, bool) {
		gf, ok := e.(*expression.GetField)
		if !ok || (tableID != 0 && gf.TableId() != tableID) {
			return 0, false
		}
		i := def.colIndex(gf.Name())
		if i < 0 || def.codecs[i].virtual {
			return 0, false
		}
		return i, true
	}
}

// aggKind is one output column of a pushed-down aggregate.
type aggKind uint8

const (
	aggKey aggKind = iota // a GROUP BY column
	aggCountStar
	aggCount
	aggSum
	aggAvg
	aggMin
	aggMax
)

type aggItem struct {
	kind aggKind
	col  int // schema index of the column (not for COUNT(*))
}

// sqliteAggregate is the replacement node. It keeps the GroupBy's projected
// expressions (for column ids) and schema, and produces its rows from one
// SQLite query in the session's transaction.
type sqliteAggregate struct {
	t      *Table
	exprs  []sql.Expression
	sch    sql.Schema
	items  []aggItem
	query  string
	args   []driver.Value
	source string // for EXPLAIN
}

var (
	_ sql.Node          = (*sqliteAggregate)(nil)
	_ sql.Projector     = (*sqliteAggregate)(nil)
	_ sql.ExecSourceRel = (*sqliteAggregate)(nil)
	_ sql.Describable   = (*sqliteAggregate)(nil)
)

func (n *sqliteAggregate) Resolved() bool                   { return true }
func (n *sqliteAggregate) IsReadOnly() bool                 { return true }
func (n *sqliteAggregate) Schema() sql.Schema               { return n.sch }
func (n *sqliteAggregate) Children() []sql.Node             { return nil }
func (n *sqliteAggregate) ProjectedExprs() []sql.Expression { return n.exprs }
func (n *sqliteAggregate) String() string                   { return n.Describe(sql.DescribeOptions{}) }

func (n *sqliteAggregate) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 0 {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(children), 0)
	}
	return n, nil
}

// Describe implements sql.Describable (EXPLAIN PLAN shows the SQLite query).
func (n *sqliteAggregate) Describe(sql.DescribeOptions) string {
	p := sql.NewTreePrinter()
	_ = p.WriteNode("SQLiteAggregate(%s)", n.t.def.name)
	parts := make([]string, len(n.exprs))
	for i, e := range n.exprs {
		parts[i] = e.String()
	}
	_ = p.WriteChildren("select: "+strings.Join(parts, ", "), "sqlite: "+n.query)
	return p.String()
}

// RowIter implements sql.ExecSourceRel.
func (n *sqliteAggregate) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	s, err := mustSession(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.readConn()
	if err != nil {
		return nil, err
	}
	rows, err := c.queryCtx(ctx, n.query, n.args...)
	if err != nil {
		return nil, mapError(err, n.t.def.name)
	}
	defer rows.Close()
	dest := make([]driver.Value, max(1, len(n.items)))
	var out []sql.Row
	for {
		if err := rows.Next(dest); err != nil {
			if err == io.EOF {
				break
			}
			return nil, mapError(err, n.t.def.name)
		}
		row := make(sql.Row, len(n.items))
		for i, it := range n.items {
			if row[i], err = n.value(ctx, it, dest[i]); err != nil {
				return nil, err
			}
		}
		out = append(out, row)
	}
	return sql.RowsToRowIter(out...), nil
}

// value converts one SQLite aggregate result to what the engine's own
// aggregation would have produced.
func (n *sqliteAggregate) value(ctx *sql.Context, it aggItem, v driver.Value) (any, error) {
	switch it.kind {
	case aggCountStar, aggCount:
		if v == nil {
			return int64(0), nil
		}
		return v.(int64), nil
	case aggSum, aggAvg:
		switch x := v.(type) {
		case nil:
			return nil, nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		}
		return nil, fmt.Errorf("adapterdb: unexpected %T from SQLite SUM/AVG", v)
	}
	return n.t.def.codecs[it.col].decode(ctx, v)
}

// planAggregate translates a GroupBy, or reports that it cannot.
func planAggregate(ctx *sql.Context, gb *plan.GroupBy) (*sqliteAggregate, bool) {
	child := gb.Child
	var filter sql.Expression
	if f, ok := child.(*plan.Filter); ok {
		filter, child = f.Expression, f.Child
	}
	var tableID sql.TableId
	if tin, ok := child.(plan.TableIdNode); ok {
		tableID = tin.Id()
	}
	if ta, ok := child.(*plan.TableAlias); ok {
		child = ta.Child
	}
	var t *Table
	var lookupWhere []string
	var lookupArgs []driver.Value
	switch c := child.(type) {
	case *plan.ResolvedTable:
		t, _ = c.Table.(*Table)
	case *plan.IndexedTableAccess:
		if !c.IsStatic() {
			return nil, false
		}
		t, _ = c.Table.(*Table)
		if t == nil || t.lookup == nil {
			return nil, false
		}
		idx, ok := t.lookup.Index.(*Index)
		ranges, rok := t.lookup.Ranges.(sql.MySQLRangeCollection)
		if !ok || !rok || t.lookup.IsEmptyRange {
			return nil, false
		}
		w, a, ok := idx.rangesSQL(ctx, ranges)
		if !ok {
			return nil, false
		}
		lookupWhere, lookupArgs = w, a
		if tin, ok := c.TableNode.(plan.TableIdNode); ok && tableID == 0 {
			tableID = tin.Id()
		}
	default:
		return nil, false
	}
	if t == nil || t.live {
		return nil, false
	}
	def := t.def
	colOf := columnOf(def, tableID)

	where := append(append([]string(nil), t.where...), lookupWhere...)
	args := append(append([]driver.Value(nil), t.whereArgs...), lookupArgs...)
	if filter != nil {
		w, a, ok := filterSQL(ctx, filter, def, colOf)
		if !ok {
			return nil, false
		}
		where, args = append(where, w), append(args, a...)
	}

	var group []string
	groupCols := map[int]bool{}
	for _, g := range gb.GroupByExprs {
		i, ok := colOf(g)
		if !ok || !def.codecs[i].ordered() {
			return nil, false
		}
		groupCols[i] = true
		group = append(group, qi(def.sch.Schema[i].Name))
	}

	var sel []string
	var items []aggItem
	for _, e := range gb.SelectedExprs {
		inner := e
		if a, ok := e.(*expression.Alias); ok {
			inner = a.Child
		}
		it, expr, ok := aggOf(inner, def, colOf)
		if !ok || (it.kind == aggKey && !groupCols[it.col]) {
			return nil, false
		}
		items = append(items, it)
		sel = append(sel, expr)
	}
	if len(sel) == 0 {
		sel = []string{"1"} // only the groups matter (SELECT 1 ... GROUP BY c)
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + qi(def.sqlName)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ")
	}
	return &sqliteAggregate{t: t, exprs: gb.SelectedExprs, sch: gb.Schema(), items: items, query: q, args: args}, true
}

// aggOf translates one selected expression.
func aggOf(e sql.Expression, def *tableDef, colOf func(sql.Expression) (int, bool)) (aggItem, string, bool) {
	// SUM and AVG only over integers that fit 63 bits and doubles: the
	// engine sums those as float64, which SQLite's exact integer or float
	// sum converts to without a difference that matters; DECIMAL sums are
	// exact in the engine and would not be in SQLite.
	summable := func(i int) bool {
		c := def.codecs[i]
		return c.st == stReal || (c.st == stInt && isIntegerType(c))
	}
	arg := func(a sql.Expression) (int, bool) {
		return colOf(a)
	}
	switch x := e.(type) {
	case *expression.GetField:
		i, ok := colOf(x)
		return aggItem{kind: aggKey, col: i}, qi(def.sch.Schema[i].Name), ok && def.codecs[i].ordered()
	case *aggregation.Count:
		if lit, ok := x.Child.(*expression.Literal); ok && lit.Value() != nil {
			return aggItem{kind: aggCountStar}, "COUNT(*)", true
		}
		if _, ok := x.Child.(*expression.Star); ok {
			return aggItem{kind: aggCountStar}, "COUNT(*)", true
		}
		i, ok := arg(x.Child)
		if !ok {
			return aggItem{}, "", false
		}
		return aggItem{kind: aggCount, col: i}, "COUNT(" + qi(def.sch.Schema[i].Name) + ")", true
	case *aggregation.Sum:
		i, ok := arg(x.Child)
		if !ok || !summable(i) {
			return aggItem{}, "", false
		}
		return aggItem{kind: aggSum, col: i}, "SUM(" + qi(def.sch.Schema[i].Name) + ")", true
	case *aggregation.Avg:
		i, ok := arg(x.Child)
		if !ok || !summable(i) {
			return aggItem{}, "", false
		}
		return aggItem{kind: aggAvg, col: i}, "AVG(" + qi(def.sch.Schema[i].Name) + ")", true
	case *aggregation.Min, *aggregation.Max:
		kind, fn := aggMin, "MIN("
		var child sql.Expression
		if m, ok := x.(*aggregation.Min); ok {
			child = m.Child
		} else {
			kind, fn, child = aggMax, "MAX(", x.(*aggregation.Max).Child
		}
		i, ok := arg(child)
		if !ok || !def.codecs[i].ordered() {
			return aggItem{}, "", false
		}
		return aggItem{kind: kind, col: i}, fn + qi(def.sch.Schema[i].Name) + ")", true
	}
	return aggItem{}, "", false
}

// filterSQL translates a filter made of AND-ed simple comparisons between a
// column and a literal; ok is false for anything else.
func filterSQL(ctx *sql.Context, e sql.Expression, def *tableDef, colOf func(sql.Expression) (int, bool)) (string, []driver.Value, bool) {
	switch x := e.(type) {
	case *expression.And:
		l, la, ok1 := filterSQL(ctx, x.LeftChild, def, colOf)
		r, ra, ok2 := filterSQL(ctx, x.RightChild, def, colOf)
		return "(" + l + " AND " + r + ")", append(la, ra...), ok1 && ok2
	case *expression.IsNull:
		i, ok := colOf(x.Child)
		return qi(def.sch.Schema[i].Name) + " IS NULL", nil, ok
	case *expression.Not:
		if in, ok := x.Child.(*expression.IsNull); ok {
			i, ok := colOf(in.Child)
			return qi(def.sch.Schema[i].Name) + " IS NOT NULL", nil, ok
		}
		if eq, ok := x.Child.(*expression.Equals); ok {
			return compareSQL(ctx, eq.LeftChild, eq.RightChild, "<>", def, colOf)
		}
	case *expression.Equals:
		return compareSQL(ctx, x.LeftChild, x.RightChild, "=", def, colOf)
	case *expression.LessThan:
		return compareSQL(ctx, x.LeftChild, x.RightChild, "<", def, colOf)
	case *expression.LessThanOrEqual:
		return compareSQL(ctx, x.LeftChild, x.RightChild, "<=", def, colOf)
	case *expression.GreaterThan:
		return compareSQL(ctx, x.LeftChild, x.RightChild, ">", def, colOf)
	case *expression.GreaterThanOrEqual:
		return compareSQL(ctx, x.LeftChild, x.RightChild, ">=", def, colOf)
	}
	return "", nil, false
}

var flipped = map[string]string{"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// compareSQL translates column-op-literal (either way round).
func compareSQL(ctx *sql.Context, l, r sql.Expression, op string, def *tableDef, colOf func(sql.Expression) (int, bool)) (string, []driver.Value, bool) {
	i, ok := colOf(l)
	lit, lok := r.(*expression.Literal)
	if !ok || !lok {
		i, ok = colOf(r)
		lit, lok = l.(*expression.Literal)
		op = flipped[op]
		if !ok || !lok {
			return "", nil, false
		}
	}
	v, ok := literalKey(ctx, def.codecs[i], lit)
	if !ok {
		return "", nil, false
	}
	return qi(def.sch.Schema[i].Name) + " " + op + " ?", []driver.Value{v}, true
}

// literalKey encodes a literal for comparison with a column in SQLite when
// SQLite's comparison gives MySQL's answer: numbers against numeric columns,
// strings against text and date columns; ok is false otherwise.
func literalKey(ctx *sql.Context, c *codec, lit *expression.Literal) (driver.Value, bool) {
	v := lit.Value()
	if v == nil {
		return nil, false
	}
	numeric := func() (driver.Value, bool) {
		switch x := v.(type) {
		case int8, int16, int32, int64, int, uint8, uint16, uint32:
			i, _, err := types.Int64.Convert(ctx, x)
			return i, err == nil
		case uint64:
			if x <= 1<<63-1 {
				return int64(x), true
			}
			return float64(x), true
		case float32:
			return float64(x), true
		case float64:
			return x, true
		case decimal.Decimal:
			if x.IsInteger() && x.Abs().LessThan(decimal.New(1, 18)) {
				return x.IntPart(), true
			}
			f, _ := x.Float64()
			return f, c.st == stReal || c.st == stInt
		}
		return nil, false
	}
	switch c.st {
	case stInt:
		if !isIntegerType(c) {
			return nil, false // ENUM, YEAR, TIME compare by their own rules
		}
		return numeric()
	case stReal:
		return numeric()
	case stDecimal:
		switch x := v.(type) {
		case decimal.Decimal:
			return x.String(), true
		case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
			return fmt.Sprint(x), true
		}
		return nil, false
	case stText:
		if s, ok := v.(string); ok {
			return s, true
		}
	case stDate, stDatetime:
		// Only a literal written exactly as the column stores its values:
		// anything else (a date compared with a datetime, another format)
		// follows MySQL's conversion rules, left to the engine.
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		cv, inRange, err := c.typ.Convert(ctx, s)
		if err != nil || !inRange {
			return nil, false
		}
		k, ok := c.encodeKey(ctx, cv)
		return k, ok && k == s
	}
	return nil, false
}
