package sqlfuncs

import (
	"fmt"
	"github.com/adapterdb/adapterdb/catalog/sqlstore"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// batchRuleID is the batching rule's id, far outside go-mysql-server's own.
const batchRuleID analyzer.RuleId = 1000

// The batching rule runs after validation: the plan is final then (joins
// ordered, filters pushed down, indexes chosen; GROUP BY validation has seen
// the original expressions), and go-mysql-server assigns execution indexes
// after it, so the GetFields it creates need no index arithmetic. Subquery
// bodies, derived tables, views and INSERT ... SELECT sources are analyzed
// separately with the same rule batches, so the rule only rewrites the tree it
// is given.
//
// For a host node (one that evaluates expressions per input row) whose
// expressions contain calls, it puts a BatchInfer between the host and its
// child computing those calls, and makes the host read the results as columns.
// Calls whose arguments contain calls (PREDICT(a, PREDICT(b, t))) get a second
// BatchInfer above the first.
//
// The rewrite never changes a node's schema: a host that passes its child's
// rows through (Filter, Sort, TopN, Having) would pass BatchInfer's call
// columns up too (SELECT * ... WHERE PREDICT(...) would return them, CREATE
// TABLE ... AS SELECT would create them), so such a host is wrapped in a
// KeepColumns node that returns exactly its former columns.
//
// A join's condition gets a BatchInfer over its left input for the calls
// that read only that input (batchjoin.go).
//
// JSON results read by string functions (LEFT(EMBED(t), 10)) are given to
// them as text first (jsonText).
func (s *service) batchRule(ctx *sql.Context, a *analyzer.Analyzer, n sql.Node, scope *plan.Scope, _ analyzer.RuleSelector, qFlags *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	sqlstore.SetStatementFlags(ctx, qFlags) // for an EXPLAIN of this plan (execBuilder)
	if !containsCall(n) {
		return n, transform.SameTree, nil
	}
	n, same1, err := transform.NodeExprs(n, wrapTextArgs)
	if err != nil {
		return nil, transform.SameTree, err
	}
	// New column ids must not collide with any id visible in the merged
	// scopes at execution time: take them above every id in the query.
	next := maxColumnID(append([]sql.Node{n}, scope.InnerToOuter()...)...) + 1
	n, same2, err := transform.Node(n, func(host sql.Node) (sql.Node, transform.TreeIdentity, error) {
		if j, ok := host.(*plan.JoinNode); ok {
			return s.batchJoin(j, &next) // batchjoin.go
		}
		if !isHost(host) {
			return host, transform.SameTree, nil
		}
		orig := host.Schema()
		same := transform.SameTree
		for {
			ex := host.(sql.Expressioner)
			calls, keys := innermostCalls(ex.Expressions())
			if len(calls) == 0 {
				if same == transform.NewTree && len(host.Schema()) != len(orig) {
					host = newKeepColumns(host, orig)
				}
				return host, same, nil
			}
			child := host.Children()[0]
			sch := child.Schema()
			ids := outputIDs(child)
			if len(ids) != len(sch) {
				// A child shape whose column ids we cannot tell: leave the
				// calls to per-row evaluation, which is always correct.
				s.log.Debug().Str("node", fmt.Sprintf("%T", child)).Msg("batching skipped: unknown column ids")
				if same == transform.NewTree && len(host.Schema()) != len(orig) {
					host = newKeepColumns(host, orig)
				}
				return host, same, nil
			}
			exprs := make([]sql.Expression, 0, len(sch)+len(calls))
			for i, c := range sch {
				exprs = append(exprs, expression.NewGetFieldWithTable(int(ids[i]), 0, c.Type, c.DatabaseSource, c.Source, c.Name, c.Nullable))
			}
			repl := make(map[string]sql.Expression, len(calls))
			for i, c := range calls {
				id := next
				next++
				name := c.String()
				exprs = append(exprs, expression.NewAlias(name, c).WithId(id))
				// NewGetFieldWithTable takes the column id where the index
				// goes; assignExecIndexes turns it into the index later.
				repl[keys[i]] = expression.NewGetFieldWithTable(int(id), 0, c.Type(), "", "", name, true)
			}
			bi := &BatchInfer{Child: child, Exprs: exprs, Pass: len(sch), Batch: s.batch, svc: s}
			rewritten, _, err := transform.Exprs(ex.Expressions(), func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
				if c, ok := e.(*Call); ok {
					if gf, ok := repl[callKey(c)]; ok {
						return gf, transform.NewTree, nil
					}
				}
				return e, transform.SameTree, nil
			})
			if err != nil {
				return nil, transform.SameTree, err
			}
			h, err := ex.WithExpressions(rewritten...)
			if err != nil {
				return nil, transform.SameTree, err
			}
			if host, err = h.WithChildren(bi); err != nil {
				return nil, transform.SameTree, err
			}
			same = transform.NewTree
		}
	})
	if err != nil {
		return nil, transform.SameTree, err
	}
	// A KeepColumns right below a node that picks its columns by id anyway
	// (a projection or another BatchInfer) only costs a copy of each row.
	n, same3, err := transform.Node(n, func(p sql.Node) (sql.Node, transform.TreeIdentity, error) {
		switch p.(type) {
		case *plan.Project, *BatchInfer, *plan.GroupBy, *plan.Window:
		default:
			return p, transform.SameTree, nil
		}
		k, ok := p.Children()[0].(*KeepColumns)
		if !ok {
			return p, transform.SameTree, nil
		}
		p, err := p.WithChildren(k.Child)
		return p, transform.NewTree, err
	})
	return n, same1 && same2 && same3, err
}

// isHost reports nodes that evaluate their expressions over their (single)
// child's rows: SELECT lists, WHERE, ORDER BY (Sort evaluates its keys per
// comparison, so batching there is more than an optimisation), ORDER BY ...
// LIMIT, GROUP BY, HAVING and window functions.
func isHost(n sql.Node) bool {
	switch n.(type) {
	case *plan.Project, *plan.Filter, *plan.Sort, *plan.TopN, *plan.GroupBy, *plan.Having, *plan.Window:
		return len(n.Children()) == 1
	}
	return false
}

// containsCall reports whether any expression of the tree (outside subquery
// bodies, which are analyzed on their own) is a call.
func containsCall(n sql.Node) bool {
	found := false
	transform.InspectExpressions(n, func(e sql.Expression) bool {
		if _, ok := e.(*Call); ok {
			found = true
		}
		return !found
	})
	return found
}

func hasCall(e sql.Expression) bool {
	return transform.InspectExpr(e, func(e sql.Expression) bool {
		_, ok := e.(*Call)
		return ok
	})
}

// callKey identifies a call for deduplication: its text plus the column ids
// it reads (two columns may print alike in different scopes).
func callKey(c *Call) string {
	var b strings.Builder
	b.WriteString(c.String())
	transform.InspectExpr(c, func(e sql.Expression) bool {
		if gf, ok := e.(*expression.GetField); ok {
			fmt.Fprintf(&b, "#%d", gf.Id())
		}
		return false
	})
	return b.String()
}

// innermostCalls returns the distinct calls of exprs whose arguments hold no
// call, with their keys.
func innermostCalls(exprs []sql.Expression) ([]*Call, []string) {
	var calls []*Call
	var keys []string
	seen := map[string]bool{}
	for _, e := range exprs {
		transform.InspectExpr(e, func(e sql.Expression) bool {
			c, ok := e.(*Call)
			if !ok {
				return false
			}
			for _, a := range c.args {
				if hasCall(a) {
					return false
				}
			}
			if k := callKey(c); !seen[k] {
				seen[k] = true
				calls = append(calls, c)
				keys = append(keys, k)
			}
			return false
		})
	}
	return calls, keys
}

// outputIDs are the column ids of a node's rows, as go-mysql-server's
// assignExecIndexes sees them (columnIdsForNode in analyzer/fix_exec_indexes.go,
// unexported in v0.20.0).
func outputIDs(n sql.Node) []sql.ColumnId {
	var ids []sql.ColumnId
	switch n := n.(type) {
	case sql.Projector:
		for _, e := range n.ProjectedExprs() {
			if ide, ok := e.(sql.IdExpression); ok {
				ids = append(ids, ide.Id())
			} else {
				ids = append(ids, 0)
			}
		}
	case *plan.TableCountLookup:
		ids = append(ids, n.Id())
	case *plan.TableAlias:
		if _, ok := n.Child.(sql.TableFunction); ok {
			n.Columns().ForEach(func(c sql.ColumnId) { ids = append(ids, c) })
		} else {
			ids = outputIDs(n.Child)
		}
	case plan.TableIdNode:
		if rt, ok := n.(*plan.ResolvedTable); ok && plan.IsDualTable(rt.Table) {
			return []sql.ColumnId{0}
		}
		cols := n.Columns()
		if tn, ok := n.(sql.TableNode); ok {
			if pkt, ok := tn.UnderlyingTable().(sql.PrimaryKeyTable); ok && len(pkt.PrimaryKeySchema().Schema) != len(n.Schema()) {
				first, _ := cols.Next(1)
				for _, c := range n.Schema() {
					ids = append(ids, first+sql.ColumnId(pkt.PrimaryKeySchema().IndexOfColName(c.Name)))
				}
				return ids
			}
		}
		cols.ForEach(func(c sql.ColumnId) { ids = append(ids, c) })
	case *plan.JoinNode:
		ids = outputIDs(n.Left())
		if !n.Op.IsPartial() {
			ids = append(ids, outputIDs(n.Right())...)
		}
	case *plan.ShowStatus:
		for i := range n.Schema() {
			ids = append(ids, sql.ColumnId(i+1))
		}
	case *plan.Concat:
		ids = outputIDs(n.Left())
	default:
		for _, c := range n.Children() {
			ids = append(ids, outputIDs(c)...)
		}
	}
	return ids
}

// maxColumnID is the largest column id in the nodes: table columns,
// expression ids, and subquery bodies inside expressions.
func maxColumnID(nodes ...sql.Node) sql.ColumnId {
	var hi sql.ColumnId
	var walkNode func(n sql.Node)
	walkExpr := func(e sql.Expression) {
		transform.InspectExpr(e, func(e sql.Expression) bool {
			if ide, ok := e.(sql.IdExpression); ok && ide.Id() > hi {
				hi = ide.Id()
			}
			if gf, ok := e.(*expression.GetField); ok && gf.Id() > hi {
				hi = gf.Id()
			}
			if en, ok := e.(sql.ExpressionWithNodes); ok {
				for _, c := range en.NodeChildren() {
					walkNode(c)
				}
			}
			return false
		})
	}
	walkNode = func(n sql.Node) {
		if n == nil {
			return
		}
		transform.Inspect(n, func(n sql.Node) bool {
			if n == nil {
				return false
			}
			if t, ok := n.(plan.TableIdNode); ok {
				t.Columns().ForEach(func(c sql.ColumnId) {
					if c > hi {
						hi = c
					}
				})
			}
			if ex, ok := n.(sql.Expressioner); ok {
				for _, e := range ex.Expressions() {
					walkExpr(e)
				}
			}
			return true
		})
	}
	for _, n := range nodes {
		walkNode(n)
	}
	return hi
}
