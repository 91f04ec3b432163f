package sqlfuncs

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// Join conditions. A call in a join's ON condition is evaluated for every
// pair of rows it compares, and a hash join's probe key (the left side of an
// equality) once more per left row. Calls that read only the join's left
// input are batched over it instead: a BatchInfer between the join and its
// left child computes them once per left row, in windows, and the condition,
// the probe key and the lookups on the right read the results as columns.
// The join then passes the call columns up between the left and the right
// columns, so a KeepColumns above it returns exactly its former columns.
// Calls reading the right input stay per pair.

// batchJoin batches the left-only calls of a join's condition and of the
// expressions on its right side that read the left row (hash probe keys,
// index lookups). next is the next free column id.
func (s *service) batchJoin(j *plan.JoinNode, next *sql.ColumnId) (sql.Node, transform.TreeIdentity, error) {
	if j.Filter == nil || j.Op.IsDegenerate() {
		return j, transform.SameTree, nil
	}
	origSch, origIDs := j.Schema(), outputIDs(j)
	if len(origIDs) != len(origSch) {
		return j, transform.SameTree, nil
	}
	left, right, filter := j.Left(), j.Right(), j.Filter
	same := transform.SameTree
	for {
		lsch, lids := left.Schema(), outputIDs(left)
		if len(lids) != len(lsch) {
			break
		}
		onLeft := make(map[sql.ColumnId]bool, len(lids))
		for _, id := range lids {
			onLeft[id] = true
		}
		exprs := append([]sql.Expression{filter}, leftRowExprs(right)...)
		all, allKeys := innermostCalls(exprs)
		var calls []*Call
		var keys []string
		for i, c := range all {
			if readsOnly(c, onLeft) {
				calls, keys = append(calls, c), append(keys, allKeys[i])
			}
		}
		if len(calls) == 0 {
			break
		}
		bexprs := make([]sql.Expression, 0, len(lsch)+len(calls))
		for i, c := range lsch {
			bexprs = append(bexprs, expression.NewGetFieldWithTable(int(lids[i]), 0, c.Type, c.DatabaseSource, c.Source, c.Name, c.Nullable))
		}
		repl := make(map[string]sql.Expression, len(calls))
		for i, c := range calls {
			id := *next
			*next++
			name := c.String()
			bexprs = append(bexprs, expression.NewAlias(name, c).WithId(id))
			repl[keys[i]] = expression.NewGetFieldWithTable(int(id), 0, c.Type(), "", "", name, true)
		}
		left = &BatchInfer{Child: left, Exprs: bexprs, Pass: len(lsch), Batch: s.batch, svc: s}
		replace := func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
			if c, ok := e.(*Call); ok {
				if gf, ok := repl[callKey(c)]; ok {
					return gf, transform.NewTree, nil
				}
			}
			return e, transform.SameTree, nil
		}
		var err error
		if filter, _, err = transform.Expr(filter, replace); err != nil {
			return nil, transform.SameTree, err
		}
		if right, _, err = transform.NodeExprs(right, replace); err != nil {
			return nil, transform.SameTree, err
		}
		same = transform.NewTree
	}
	if same {
		return j, transform.SameTree, nil
	}
	n, err := j.WithChildren(left, right)
	if err != nil {
		return nil, transform.SameTree, err
	}
	if n, err = n.(*plan.JoinNode).WithExpressions(filter); err != nil {
		return nil, transform.SameTree, err
	}
	return keepByID(n, origSch, origIDs), transform.NewTree, nil
}

// leftRowExprs are the expressions of a join's right side that are evaluated
// on the left row: a hash join's probe key, a lookup join's index keys.
func leftRowExprs(right sql.Node) []sql.Expression {
	var out []sql.Expression
	transform.Inspect(right, func(n sql.Node) bool {
		switch n := n.(type) {
		case *plan.HashLookup:
			out = append(out, n.LeftProbeKey)
		case *plan.IndexedTableAccess:
			if n.Typ == plan.ItaTypeLookup {
				out = append(out, n.Expressions()...)
			}
		case *plan.JoinNode:
			return false // a nested join's own left row
		}
		return true
	})
	return out
}

// readsOnly reports whether every column c reads is one of ids, and c holds
// no subquery.
func readsOnly(c *Call, ids map[sql.ColumnId]bool) bool {
	ok := true
	transform.InspectExpr(c, func(e sql.Expression) bool {
		switch e := e.(type) {
		case *expression.GetField:
			if !ids[e.Id()] {
				ok = false
			}
		case sql.ExpressionWithNodes:
			ok = false
		}
		return !ok
	})
	return ok
}

// keepByID is a KeepColumns returning the columns ids of host, with schema
// sch.
func keepByID(host sql.Node, sch sql.Schema, ids []sql.ColumnId) *KeepColumns {
	exprs := make([]sql.Expression, len(sch))
	for i, c := range sch {
		exprs[i] = expression.NewGetFieldWithTable(int(ids[i]), 0, c.Type, c.DatabaseSource, c.Source, c.Name, c.Nullable)
	}
	return &KeepColumns{Child: host, Exprs: exprs, Sch: sch}
}
