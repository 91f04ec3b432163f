package sqlfuncs

import (
	"github.com/adapterdb/adapterdb/catalog/sqlstore"
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// BatchInfer computes inference calls for batches of its child's rows. It is
// a Projector, like plan.Project: its expressions are a GetField for every
// child column (same column ids) followed by one Alias per call (a fresh column
// id), and its schema is exactly those columns. go-mysql-server then assigns
// execution indexes to it and to the nodes above as it does for a Project.
type BatchInfer struct {
	Child sql.Node
	Exprs []sql.Expression // Pass GetFields, then Aliases of *Call (Front: the Aliases first)
	Pass  int              // how many of Exprs pass child columns through
	Batch int              // rows per forward pass
	// Front puts the call columns before the child's columns: the layout
	// of the DML sources built at execution time (etl.go), where
	// go-mysql-server keeps a row's last columns as the table's.
	Front bool
	svc   *service
}

var (
	_ sql.Node         = (*BatchInfer)(nil)
	_ sql.Projector    = (*BatchInfer)(nil)
	_ sql.Expressioner = (*BatchInfer)(nil)
	_ sql.Describable  = (*BatchInfer)(nil)
)

// Resolved implements sql.Node.
func (b *BatchInfer) Resolved() bool {
	return b.Child.Resolved() && expression.ExpressionsResolved(b.Exprs...)
}

// IsReadOnly implements sql.Node.
func (b *BatchInfer) IsReadOnly() bool { return b.Child.IsReadOnly() }

// Children implements sql.Node.
func (b *BatchInfer) Children() []sql.Node { return []sql.Node{b.Child} }

// Expressions implements sql.Expressioner.
func (b *BatchInfer) Expressions() []sql.Expression { return b.Exprs }

// ProjectedExprs implements sql.Projector.
func (b *BatchInfer) ProjectedExprs() []sql.Expression { return b.Exprs }

// WithChildren implements sql.Node.
func (b *BatchInfer) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(b, len(children), 1)
	}
	n := *b
	n.Child = children[0]
	return &n, nil
}

// WithExpressions implements sql.Expressioner.
func (b *BatchInfer) WithExpressions(exprs ...sql.Expression) (sql.Node, error) {
	if len(exprs) != len(b.Exprs) {
		return nil, sql.ErrInvalidChildrenNumber.New(b, len(exprs), len(b.Exprs))
	}
	n := *b
	n.Exprs = exprs
	return &n, nil
}

// Schema implements sql.Node, the way plan.Project builds its schema.
func (b *BatchInfer) Schema() sql.Schema {
	s := make(sql.Schema, len(b.Exprs))
	for i, e := range b.Exprs {
		s[i] = transform.ExpressionToColumn(e, e.String())
	}
	return s
}

// calls returns the node's inference calls.
func (b *BatchInfer) calls() []*Call {
	out := make([]*Call, 0, len(b.Exprs)-b.Pass)
	for _, e := range b.Exprs[b.callAt(0) : b.callAt(0)+len(b.Exprs)-b.Pass] {
		out = append(out, e.(*expression.Alias).Child.(*Call))
	}
	return out
}

// passAt is the output position of the p-th pass-through column.
func (b *BatchInfer) passAt(p int) int {
	if b.Front {
		return len(b.Exprs) - b.Pass + p
	}
	return p
}

// callAt is the output position of the k-th call's column.
func (b *BatchInfer) callAt(k int) int {
	if b.Front {
		return k
	}
	return b.Pass + k
}

// Describe implements sql.Describable (EXPLAIN PLAN / FORMAT=TREE).
func (b *BatchInfer) Describe(opts sql.DescribeOptions) string {
	p := sql.NewTreePrinter()
	_ = p.WriteNode("BatchInfer(batch=%d)", b.Batch)
	calls := b.calls()
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = sql.Describe(c, opts)
	}
	_ = p.WriteChildren("calls: ["+strings.Join(names, ", ")+"]", sql.Describe(b.Child, opts))
	return p.String()
}

// String implements sql.Node.
func (b *BatchInfer) String() string { return b.Describe(sql.DescribeOptions{}) }

// DebugString is EXPLAIN FORMAT=DEBUG's form.
func (b *BatchInfer) DebugString() string { return b.Describe(sql.DescribeOptions{Debug: true}) }

// batchIter computes a node's calls window by window. It reads a window of
// rows ahead — one batch at first, doubling up to maxWindow batches, so LIMIT
// queries compute little more than they return — and hands the whole window
// to the registry as one request: the engine sorts its sequences by length
// (a forward pass is padded to its longest text, and rows in arrival order mix
// short and long ones) and cuts them into passes. The rows come out in their
// original order.
//
// Windows are pipelined: while the rows of one window go up the plan (and
// over the wire), the next window runs in the featurizer, so it does not wait
// for the SQL layer between passes. Once the windows have grown (a long
// scan), two windows compute in the background: the second one's
// texts are tokenized and queued while the first one's passes run, so the
// featurizer finds the next pass queued when one ends instead of idling while
// a window is tokenized (on a GPU a pass takes less time than tokenizing its
// texts). Small windows keep one: a LIMIT query computes little more than it
// returns. Reading the child and evaluating expressions stay on the query's
// goroutine (go-mysql-server's iterators and sessions are not safe for
// concurrent use); only the registry requests run in the background.
type batchIter struct {
	node    *BatchInfer
	calls   []*Call
	child   sql.RowIter
	out     []sql.Row
	pos     int
	read    int // rows read from the child so far
	window  int // batches in the next window
	eof     bool
	pending []*windowJob // the next windows, computing, in order
}

// aheadDepth is how many windows compute in the background once they have
// a quarter of their full size (maxWindow/4 batches: 512 rows at batch 64,
// after 448 rows were read; a LIMIT query's first windows keep one).
const aheadDepth = 2

// maxWindow bounds the read-ahead, in batches. It matches the engine's
// sorting window (engine.sortWindow passes): measured on the fortunes texts,
// passes of 64 cut from 2,048 sorted rows ran 1.3× faster than from 512.
const maxWindow = 32

// window is a slice of rows read ahead, with every call's arguments.
type window struct {
	out   []sql.Row // output rows: pass-through values, call results to fill
	args  [][][]any // args[k][j]: call k's arguments for row j (texts as strings)
	first int       // row 0's 1-based number in the node's input
}

// windowJob is a window computing in the background.
type windowJob struct {
	w      *window
	err    error
	done   chan struct{}
	cancel func()
}

func newBatchIter(n *BatchInfer, child sql.RowIter) *batchIter {
	return &batchIter{node: n, calls: n.calls(), child: child, window: 1}
}

// Next implements sql.RowIter.
func (it *batchIter) Next(ctx *sql.Context) (sql.Row, error) {
	if it.pos < len(it.out) {
		r := it.out[it.pos]
		it.pos++
		return r, nil
	}
	if it.eof && len(it.pending) == 0 {
		return nil, io.EOF
	}
	if err := it.fill(ctx); err != nil {
		return nil, err
	}
	if len(it.out) == 0 {
		return nil, io.EOF
	}
	it.pos = 1
	return it.out[0], nil
}

// fill makes the next window's rows it.out and keeps the windows after it
// computing (one, or aheadDepth once windows have grown).
func (it *batchIter) fill(ctx *sql.Context) error {
	if ctx.Err() != nil {
		return ErrInterrupted()
	}
	var cur *window
	if len(it.pending) > 0 {
		job := it.pending[0]
		it.pending = it.pending[1:]
		<-job.done
		job.cancel()
		if job.err != nil {
			return job.err
		}
		cur = job.w
	} else {
		w, err := it.readWindow(ctx)
		if err != nil {
			return err
		}
		if err := it.compute(ctx, w); err != nil {
			return err
		}
		cur = w
	}
	depth := 1
	if it.window >= maxWindow/4 {
		depth = aheadDepth
	}
	for !it.eof && len(it.pending) < depth {
		next, err := it.readWindow(ctx)
		if err != nil {
			return err
		}
		if len(next.out) == 0 {
			break
		}
		bctx, cancel := ctx.NewSubContext()
		job := &windowJob{w: next, done: make(chan struct{}), cancel: cancel}
		it.pending = append(it.pending, job)
		go func() {
			defer close(job.done)
			job.err = it.compute(bctx, job.w)
		}()
	}
	it.out, it.pos = cur.out, 0
	return nil
}

// readWindow reads the next window of rows and evaluates the pass-through
// columns and the calls' arguments.
func (it *batchIter) readWindow(ctx *sql.Context) (*window, error) {
	n := it.node
	size := it.window * n.Batch
	it.window = min(2*it.window, maxWindow)
	var in []sql.Row
	for len(in) < size {
		r, err := it.child.Next(ctx)
		if err == io.EOF {
			it.eof = true
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ErrInterrupted()
			}
			return nil, err
		}
		in = append(in, r)
	}
	w := &window{out: make([]sql.Row, len(in)), args: make([][][]any, len(it.calls)), first: it.read + 1}
	it.read += len(in)
	for j, r := range in {
		o := make(sql.Row, len(n.Exprs))
		for p := 0; p < n.Pass; p++ {
			v, err := n.Exprs[n.passAt(p)].Eval(ctx, r)
			if err != nil {
				return nil, err
			}
			o[n.passAt(p)] = v
		}
		w.out[j] = o
	}
	for k, c := range it.calls {
		ti := textArgIndex(c)
		w.args[k] = make([][]any, len(in))
		for j, r := range in {
			a := make([]any, len(c.args))
			for i, e := range c.args {
				v, err := e.Eval(ctx, r)
				if err != nil {
					return nil, err
				}
				a[i] = v
			}
			// Texts become strings here, on the query's goroutine: the
			// featurizer requests that follow touch no session state.
			if t := a[ti]; t != nil {
				s, err := textArg(ctx, t)
				if err != nil {
					return nil, errArguments(fnNames[c.kind], "row %d: %v", w.first+j, err)
				}
				a[ti] = s
			}
			w.args[k][j] = a
		}
	}
	return w, nil
}

// compute runs a window's calls as one registry request and fills in the
// call columns. The engine owns batching: it sorts the window's sequences by
// length and cuts them into forward passes of its batch size.
func (it *batchIter) compute(ctx *sql.Context, w *window) error {
	vals, err := it.node.svc.evalCalls(ctx, it.calls, w.args, func(_, j int) int { return w.first + j })
	if err != nil {
		return err
	}
	for k := range it.calls {
		at := it.node.callAt(k)
		for j, v := range vals[k] {
			w.out[j][at] = v
		}
	}
	return nil
}

// textArgIndex is the position of a call's text argument.
func textArgIndex(c *Call) int {
	if c.kind == fnEmbed {
		return 0
	}
	return 1
}

// Close implements sql.RowIter: windows still computing (the consumer
// stopped early, LIMIT) are cancelled and waited for.
func (it *batchIter) Close(ctx *sql.Context) error {
	for _, job := range it.pending {
		job.cancel()
	}
	for _, job := range it.pending {
		<-job.done
	}
	it.pending = nil
	return it.child.Close(ctx)
}

// execBuilder builds BatchInfer's and KeepColumns' iterators; every other node goes to the
// base builder (which wraps this one, so BatchInfer is found at any depth).
type execBuilder struct {
	base sql.NodeExecBuilder
	svc  *service
}

// Build implements sql.NodeExecBuilder.
func (e *execBuilder) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	if _, ok := n.(*plan.DescribeQuery); ok {
		// The explained query was analyzed with this statement's flags: its
		// promise of at most one row is not the EXPLAIN's, whose plan has a
		// row per line (go-mysql-server's handler would fail the second).
		if f := sqlstore.StatementFlags(ctx); f != nil {
			f.Unset(sql.QFlagMax1Row)
		}
	}
	if k, ok := n.(*KeepColumns); ok {
		child, err := e.base.Build(ctx, k.Child, row)
		if err != nil {
			return nil, err
		}
		return &keepIter{node: k, child: child}, nil
	}
	// Statements go-mysql-server plans without running the batching rule
	// (simple UPDATE and DELETE, INSERT ... VALUES) are batched here (etl.go).
	if it, err := e.buildETL(ctx, n, row); it != nil || err != nil {
		return it, err
	}
	b, ok := n.(*BatchInfer)
	if !ok {
		// What is left evaluates calls per row (ON DUPLICATE KEY UPDATE,
		// triggers); string functions get JSON results as text here, as
		// the rule does for the plans it sees.
		if ex, ok := n.(sql.Expressioner); ok {
			exprs, same, err := transform.Exprs(ex.Expressions(), wrapTextArgs)
			if err != nil {
				return nil, err
			}
			if !same {
				if n, err = ex.WithExpressions(exprs...); err != nil {
					return nil, err
				}
				return e.base.Build(ctx, n, row)
			}
		}
		return nil, nil
	}
	// row is the outer scope's row (subqueries): the child gets it too.
	child, err := e.base.Build(ctx, b.Child, row)
	if err != nil {
		return nil, err
	}
	return newBatchIter(b, child), nil
}

// KeepColumns returns the first columns of its child's rows: a host that
// passes its child's rows through (Filter, Sort, TopN, Having) over a
// BatchInfer would return the call columns too. It is a Projector (a GetField
// per kept column, with the column's id, so nodes above resolve as before)
// whose schema is the host's former schema, keys, defaults and all.
type KeepColumns struct {
	Child sql.Node
	Exprs []sql.Expression // a GetField per kept column
	Sch   sql.Schema
}

var (
	_ sql.Node         = (*KeepColumns)(nil)
	_ sql.Projector    = (*KeepColumns)(nil)
	_ sql.Expressioner = (*KeepColumns)(nil)
	_ sql.Describable  = (*KeepColumns)(nil)
)

// newKeepColumns keeps host's columns that sch lists (its schema before a
// BatchInfer went below it); ids come from the host's output.
func newKeepColumns(host sql.Node, sch sql.Schema) *KeepColumns {
	ids := outputIDs(host)
	exprs := make([]sql.Expression, len(sch))
	for i, c := range sch {
		exprs[i] = expression.NewGetFieldWithTable(int(ids[i]), 0, c.Type, c.DatabaseSource, c.Source, c.Name, c.Nullable)
	}
	return &KeepColumns{Child: host, Exprs: exprs, Sch: sch}
}

// Resolved implements sql.Node.
func (k *KeepColumns) Resolved() bool {
	return k.Child.Resolved() && expression.ExpressionsResolved(k.Exprs...)
}

// IsReadOnly implements sql.Node.
func (k *KeepColumns) IsReadOnly() bool { return k.Child.IsReadOnly() }

// Children implements sql.Node.
func (k *KeepColumns) Children() []sql.Node { return []sql.Node{k.Child} }

// Expressions implements sql.Expressioner.
func (k *KeepColumns) Expressions() []sql.Expression { return k.Exprs }

// ProjectedExprs implements sql.Projector.
func (k *KeepColumns) ProjectedExprs() []sql.Expression { return k.Exprs }

// WithChildren implements sql.Node.
func (k *KeepColumns) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(k, len(children), 1)
	}
	n := *k
	n.Child = children[0]
	return &n, nil
}

// WithExpressions implements sql.Expressioner.
func (k *KeepColumns) WithExpressions(exprs ...sql.Expression) (sql.Node, error) {
	if len(exprs) != len(k.Exprs) {
		return nil, sql.ErrInvalidChildrenNumber.New(k, len(exprs), len(k.Exprs))
	}
	n := *k
	n.Exprs = exprs
	return &n, nil
}

// Schema implements sql.Node.
func (k *KeepColumns) Schema() sql.Schema { return k.Sch }

// Describe implements sql.Describable.
func (k *KeepColumns) Describe(opts sql.DescribeOptions) string {
	p := sql.NewTreePrinter()
	_ = p.WriteNode("KeepColumns")
	names := make([]string, len(k.Exprs))
	for i, e := range k.Exprs {
		names[i] = sql.Describe(e, opts)
	}
	_ = p.WriteChildren("columns: ["+strings.Join(names, ", ")+"]", sql.Describe(k.Child, opts))
	return p.String()
}

// String implements sql.Node.
func (k *KeepColumns) String() string { return k.Describe(sql.DescribeOptions{}) }

// DebugString is EXPLAIN FORMAT=DEBUG's form.
func (k *KeepColumns) DebugString() string { return k.Describe(sql.DescribeOptions{Debug: true}) }

// keepIter evaluates KeepColumns' GetFields on each row.
type keepIter struct {
	node  *KeepColumns
	child sql.RowIter
}

// Next implements sql.RowIter.
func (it *keepIter) Next(ctx *sql.Context) (sql.Row, error) {
	r, err := it.child.Next(ctx)
	if err != nil {
		return nil, err
	}
	out := make(sql.Row, len(it.node.Exprs))
	for i, e := range it.node.Exprs {
		if out[i], err = e.Eval(ctx, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Close implements sql.RowIter.
func (it *keepIter) Close(ctx *sql.Context) error { return it.child.Close(ctx) }
