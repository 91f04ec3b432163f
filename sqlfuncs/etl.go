package sqlfuncs

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// Batched ETL statements. go-mysql-server plans simple UPDATE, DELETE and
// INSERT ... VALUES statements with a reduced rule set that does not run the
// batching rule (analyzer/node_batches.go), and UpdateSource is no host node
// even when the full set runs (UPDATE ... JOIN). So the calls of these
// statements are batched when their iterators are built, by building plan
// nodes around the planned ones (the execution indexes are final then):
//
//   - UpdateSource (the SET list): a BatchInfer below it computes the
//     SET list's calls for windows of the rows to update, in batched passes;
//     the SET expressions read the results as columns;
//   - Filter (WHERE of UPDATE and DELETE, and any filter whose calls the rule
//     left): the same below the Filter, the call columns dropped above it;
//   - Values (INSERT ... VALUES): every tuple's calls as one request, then
//     the tuples with the results as literals.
//
// The statement stays one statement: the rows are read, their calls computed
// window by window ahead of the writes, and the writes go through the same
// table editor, whose savepoint undoes the statement on an error or a cancel
// (catalog/sqlstore/editor.go). ON DUPLICATE KEY UPDATE and trigger bodies
// (built with an outer row) still evaluate per row.
//
// The BatchInfer nodes built here put their call columns first (Front): the
// UPDATE iterator keeps the last len(table) values of a row as the table's
// (it expects outer-scope values in front), so the table's columns stay
// where it looks for them; every other column index moves by the number of
// call columns.

// buildETL builds n with its calls batched, or returns nil when n is not a
// node this file rewrites (or has no calls, or a shape it leaves to per-row
// evaluation).
func (e *execBuilder) buildETL(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	if len(row) != 0 {
		// An outer row (a trigger body, a subquery): its values lead the
		// rows, and index shifting would have to know how many.
		return nil, nil
	}
	switch n := n.(type) {
	case *plan.UpdateSource:
		return e.buildUpdateSource(ctx, n)
	case *plan.Filter:
		return e.buildFilter(ctx, n)
	case *plan.Values:
		return e.buildValues(ctx, n)
	}
	return nil, nil
}

// batchable reports whether exprs hold calls, and none of their calls or
// other expressions holds a subquery (whose rows are built on the outer row,
// with indexes this rewrite would have to shift inside the subquery too).
func batchable(exprs []sql.Expression) bool {
	calls, nodes := false, false
	for _, x := range exprs {
		transform.InspectExpr(x, func(x sql.Expression) bool {
			switch x.(type) {
			case *Call:
				calls = true
			case sql.ExpressionWithNodes:
				nodes = true
			}
			return false
		})
	}
	return calls && !nodes
}

// batchFront stacks BatchInfer nodes (Front layout) over child, one per
// nesting level of the calls in exprs (innermost first). It returns the new
// child, exprs with each call replaced by a GetField of its column and every
// other GetField moved past the call columns, and how many call columns lead
// each row of the new child.
func (s *service) batchFront(child sql.Node, exprs []sql.Expression) (sql.Node, []sql.Expression, int, error) {
	lead := 0
	for {
		calls, keys := innermostCalls(exprs)
		if len(calls) == 0 {
			return child, exprs, lead, nil
		}
		sch := child.Schema()
		k := len(calls)
		bexprs := make([]sql.Expression, 0, k+len(sch))
		at := make(map[string]int, k)
		for i, c := range calls {
			bexprs = append(bexprs, expression.NewAlias(c.String(), c))
			at[keys[i]] = i
		}
		for i, c := range sch {
			bexprs = append(bexprs, expression.NewGetFieldWithTable(i, 0, c.Type, c.DatabaseSource, c.Source, c.Name, c.Nullable))
		}
		child = &BatchInfer{Child: child, Exprs: bexprs, Pass: len(sch), Batch: s.batch, Front: true, svc: s}
		var err error
		exprs, _, err = transform.Exprs(exprs, func(x sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
			switch x := x.(type) {
			case *Call:
				// Its arguments were shifted already (children first):
				// the key reads names and column ids, not indexes.
				if i, ok := at[callKey(x)]; ok {
					return expression.NewGetField(i, x.Type(), x.String(), true), transform.NewTree, nil
				}
			case *expression.GetField:
				return x.WithIndex(x.Index() + k), transform.NewTree, nil
			}
			return x, transform.SameTree, nil
		})
		if err != nil {
			return nil, nil, 0, err
		}
		lead += k
	}
}

// buildUpdateSource batches the SET list's calls. The UPDATE iterators
// above it get each row as the old row followed by the new one, of the
// table's (or the join's) width.
func (e *execBuilder) buildUpdateSource(ctx *sql.Context, us *plan.UpdateSource) (sql.RowIter, error) {
	exprs, _, err := transform.Exprs(us.UpdateExprs, wrapTextArgs)
	if err != nil {
		return nil, err
	}
	// UPDATE IGNORE converts a bad value in place by its column index in
	// the table: left per row.
	if us.Ignore || !batchable(exprs) {
		return nil, nil
	}
	width := len(us.Child.Schema())
	child, exprs, lead, err := e.svc.batchFront(us.Child, exprs)
	if err != nil {
		return nil, err
	}
	n, err := us.WithExpressions(exprs...)
	if err != nil {
		return nil, err
	}
	if n, err = n.WithChildren(child); err != nil {
		return nil, err
	}
	it, err := e.base.Build(ctx, n, nil)
	if err != nil {
		return nil, err
	}
	return &dropLeadIter{child: it, lead: lead, width: width}, nil
}

// buildFilter batches a filter's calls (UPDATE ... WHERE, DELETE ... WHERE).
func (e *execBuilder) buildFilter(ctx *sql.Context, f *plan.Filter) (sql.RowIter, error) {
	exprs, _, err := transform.Exprs([]sql.Expression{f.Expression}, wrapTextArgs)
	if err != nil {
		return nil, err
	}
	if !batchable(exprs) {
		return nil, nil
	}
	width := len(f.Child.Schema())
	child, exprs, lead, err := e.svc.batchFront(f.Child, exprs)
	if err != nil {
		return nil, err
	}
	it, err := e.base.Build(ctx, plan.NewFilter(exprs[0], child), nil)
	if err != nil {
		return nil, err
	}
	return &dropLeadIter{child: it, lead: lead, width: width}, nil
}

// dropLeadIter removes the call columns from its child's rows: a row of
// lead+width values loses the first lead; an UPDATE row (old and new row,
// each lead+width values) loses them from both halves. Rows of other lengths
// (the UPDATE iterator already kept only the table's columns) pass as they
// are.
type dropLeadIter struct {
	child       sql.RowIter
	lead, width int
}

// Next implements sql.RowIter.
func (it *dropLeadIter) Next(ctx *sql.Context) (sql.Row, error) {
	r, err := it.child.Next(ctx)
	if err != nil {
		return nil, err
	}
	l, w := it.lead, it.width
	switch len(r) {
	case l + w:
		return r[l:], nil
	case 2 * (l + w):
		out := make(sql.Row, 0, 2*w)
		out = append(out, r[l:l+w]...)
		return append(out, r[2*l+w:]...), nil
	}
	return r, nil
}

// Close implements sql.RowIter.
func (it *dropLeadIter) Close(ctx *sql.Context) error { return it.child.Close(ctx) }

// buildValues computes the calls of every tuple of an INSERT ... VALUES list
// with one registry request per nesting level (the engine sorts the
// sequences and cuts them into passes), then builds the list with the
// results as literals.
func (e *execBuilder) buildValues(ctx *sql.Context, v *plan.Values) (sql.RowIter, error) {
	exprs, _, err := transform.Exprs(v.Expressions(), wrapTextArgs)
	if err != nil {
		return nil, err
	}
	if !batchable(exprs) {
		return nil, nil
	}
	// The tuple each expression belongs to, for messages (row N).
	tupleOf := make([]int, 0, len(exprs))
	for t, tuple := range v.ExpressionTuples {
		for range tuple {
			tupleOf = append(tupleOf, t)
		}
	}
	for {
		type site struct{ expr, tuple int }
		var calls []*Call
		var sites []site
		var args [][][]any
		for i, x := range exprs {
			cs, _ := innermostCalls([]sql.Expression{x})
			for _, c := range cs {
				a := make([]any, len(c.args))
				for j, arg := range c.args {
					if a[j], err = arg.Eval(ctx, nil); err != nil {
						return nil, err
					}
				}
				calls = append(calls, c)
				sites = append(sites, site{i, tupleOf[i]})
				args = append(args, [][]any{a})
			}
		}
		if len(calls) == 0 {
			break
		}
		vals, err := e.svc.evalCalls(ctx, calls, args, func(k, _ int) int { return sites[k].tuple + 1 })
		if err != nil {
			return nil, err
		}
		// Each expression's calls, by key, with their values.
		lit := make([]map[string]sql.Expression, len(exprs))
		for k, c := range calls {
			i := sites[k].expr
			if lit[i] == nil {
				lit[i] = map[string]sql.Expression{}
			}
			lit[i][callKey(c)] = expression.NewLiteral(vals[k][0], c.Type())
		}
		for i, m := range lit {
			if m == nil {
				continue
			}
			exprs[i], _, err = transform.Expr(exprs[i], func(x sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
				if c, ok := x.(*Call); ok {
					if l, ok := m[callKey(c)]; ok {
						return l, transform.NewTree, nil
					}
				}
				return x, transform.SameTree, nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	n, err := v.WithExpressions(exprs...)
	if err != nil {
		return nil, err
	}
	return e.base.Build(ctx, n, nil)
}
