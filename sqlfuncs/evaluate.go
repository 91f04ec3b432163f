package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

// EVALUATE ADAPTER scores an adapter on labelled rows (grammar.go routes the
// statement here):
//
//	evaluate := EVALUATE ADAPTER ref [CONFUSION MATRIX] AS select
//	ref      := name ['@' version]     (no space around '@'; or `name@N` quoted)
//
// The SELECT's rows go through registry.Run in chunks of a BatchInfer
// window, as PREDICT's do. The statement needs no privilege of its own: the
// SELECT's tables are checked as for any SELECT when it is planned.

// evaluate parses the statement after EVALUATE.
func (p *stmtParser) evaluate(st *Stmt) error {
	if _, err := p.expectKw("adapter"); err != nil {
		return err
	}
	nt, err := p.peek(0)
	if err != nil {
		return err
	}
	if err := p.name(st); err != nil {
		return err
	}
	if at, err := p.peek(0); err != nil {
		return err
	} else if at.kind == tokPunct && at.val == "@" && at.pos == nt.end {
		p.advance()
		v, err := p.advance()
		if err != nil {
			return err
		}
		ref := st.Name + "@" + v.val
		if _, _, verr := catalog.SplitVersion(ref); v.kind != tokNumber || v.pos != at.end || verr != nil {
			return p.errAt(v, "expected a version number (1, 2, ...) right after '@'")
		}
		st.Name = ref
	}
	st.Kind = StmtEvaluate
	if ok, err := p.optKw("confusion"); err != nil {
		return err
	} else if ok {
		if _, err := p.expectKw("matrix"); err != nil {
			return err
		}
		st.Kind = StmtEvaluateConfusion
	}
	t, err := p.advance()
	if err != nil {
		return err
	}
	if !isKw(t, "as") {
		if st.Kind == StmtEvaluate {
			return p.errAt(t, "expected AS SELECT ... or CONFUSION MATRIX AS SELECT ...")
		}
		return p.errAt(t, "expected AS SELECT ...")
	}
	sel, err := p.peek(0)
	if err != nil {
		return err
	}
	if sel.kind == tokEOF {
		return p.errAt(sel, "expected a SELECT after AS")
	}
	st.SelectPos = sel.pos
	return nil
}

// buildEvaluate parses the SELECT after AS and makes the injected
// statement; bad is the statement to return instead when that fails.
func (p *Parser) buildEvaluate(ctx context.Context, s string, st *Stmt, opts ast.ParserOptions) (stmt ast.InjectedStatement, end int, bad ast.Statement) {
	rest := s[st.SelectPos:]
	sel, idx, err := ast.ParseOneWithOptions(ctx, rest, opts)
	if err != nil {
		if errors.Is(err, ast.ErrEmpty) {
			return stmt, 0, injectErr(syntaxError((&SyntaxError{Pos: st.SelectPos, Msg: "expected a SELECT after AS"}).Error()))
		}
		return stmt, 0, injectErr(shiftedSyntaxError(rest, st.SelectPos, opts))
	}
	ss, ok := sel.(ast.SelectStatement)
	if !ok {
		return stmt, 0, injectErr(syntaxError((&SyntaxError{Pos: st.SelectPos, Msg: "expected a SELECT after AS",
			Near: near(s, st.SelectPos)}).Error()))
	}
	if ss.GetInto() != nil {
		return stmt, 0, injectErr(errSelectInto("EVALUATE ADAPTER"))
	}
	end = min(st.SelectPos+idx, len(s))
	if idx <= 0 {
		end = len(s)
	}
	return ast.InjectedStatement{Statement: &evaluateStmt{svc: p.svc, st: st},
		Children: ast.Exprs{&ast.Subquery{Select: ss}},
		// Reading the SELECT's tables needs SELECT on them, checked as
		// the subquery is planned; scoring writes nothing.
		Auth: ast.AuthInformation{AuthType: ast.AuthType_IGNORE}}, end, nil
}

// codeWrongUsage is ER_WRONG_USAGE ("Incorrect usage of %s and %s").
const codeWrongUsage = 1221

// errSelectInto refuses INTO in the SELECT of statement (CREATE ADAPTER,
// EVALUATE ADAPTER): the statement consumes the rows itself, so the INTO
// would be ignored and nothing written.
func errSelectInto(statement string) error {
	return sqlErr(codeWrongUsage, stateGeneral,
		"Incorrect usage of %s and INTO: the statement reads the SELECT's rows itself; select into a file or variables separately", statement)
}

type evaluateStmt struct {
	svc *service
	st  *Stmt
}

func (e *evaluateStmt) String() string { return "EVALUATE ADAPTER " + e.st.Name }

// WithResolvedChildren implements ast.Injectable: the child is the planned
// SELECT.
func (e *evaluateStmt) WithResolvedChildren(children []any) (any, error) {
	name, version, err := catalog.SplitVersion(e.st.Name)
	if err != nil {
		return nil, sqlErr(codeWrongName, stateSyntax, "Incorrect adapter name '%s': %v", e.st.Name, err)
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if len(children) != 1 {
		return nil, fmt.Errorf("EVALUATE ADAPTER %s: expected the SELECT, got %d children", e.st.Name, len(children))
	}
	sq, ok := children[0].(*plan.Subquery)
	if !ok {
		return nil, fmt.Errorf("EVALUATE ADAPTER %s: expected a SELECT, got %T", e.st.Name, children[0])
	}
	return &EvaluateAdapter{svc: e.svc, Ref: e.st.Name, Name: name, Version: version,
		Confusion: e.st.Kind == StmtEvaluateConfusion, Source: sq.Query}, nil
}

// EvaluateAdapter scores an adapter on its Source rows (text, target): one
// row per metric, or the confusion matrix's non-empty cells.
type EvaluateAdapter struct {
	svc       *service
	Ref       string // as written: name or name@N
	Name      string
	Version   int64 // 0: the active version
	Confusion bool
	Source    sql.Node
}

var _ sql.ExecSourceRel = (*EvaluateAdapter)(nil)

var (
	evalSchema = sql.Schema{
		{Name: "metric", Type: types.MustCreateStringWithDefaults(sqltypes.VarChar, 16383), Nullable: false},
		{Name: "value", Type: types.Float64, Nullable: true},
	}
	confusionSchema = sql.Schema{
		{Name: "actual", Type: types.MustCreateStringWithDefaults(sqltypes.VarChar, 16383), Nullable: false},
		{Name: "predicted", Type: types.MustCreateStringWithDefaults(sqltypes.VarChar, 16383), Nullable: false},
		{Name: "n", Type: types.Int64, Nullable: false},
	}
)

// Resolved implements sql.Node.
func (n *EvaluateAdapter) Resolved() bool { return n.Source.Resolved() }

// IsReadOnly implements sql.Node.
func (n *EvaluateAdapter) IsReadOnly() bool { return true }

// Schema implements sql.Node.
func (n *EvaluateAdapter) Schema() sql.Schema {
	if n.Confusion {
		return confusionSchema
	}
	return evalSchema
}

// Children implements sql.Node: the SELECT, optimized like any query.
func (n *EvaluateAdapter) Children() []sql.Node { return []sql.Node{n.Source} }

// WithChildren implements sql.Node.
func (n *EvaluateAdapter) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(children), 1)
	}
	c := *n
	c.Source = children[0]
	return &c, nil
}

func (n *EvaluateAdapter) head() string {
	if n.Confusion {
		return "EvaluateAdapter(" + n.Ref + " confusion matrix)"
	}
	return "EvaluateAdapter(" + n.Ref + ")"
}

// String implements sql.Node.
func (n *EvaluateAdapter) String() string {
	p := sql.NewTreePrinter()
	_ = p.WriteNode("%s", n.head())
	_ = p.WriteChildren(n.Source.String())
	return p.String()
}

// Describe implements sql.Describable.
func (n *EvaluateAdapter) Describe(opts sql.DescribeOptions) string {
	p := sql.NewTreePrinter()
	_ = p.WriteNode("%s", n.head())
	_ = p.WriteChildren(sql.Describe(n.Source, opts))
	return p.String()
}

// resolveRef loads an adapter reference for a statement: the active version
// of name, or version N of name@N, with the MySQL error for a missing
// adapter or version.
func (s *service) resolveRef(ctx context.Context, name string, version int64) (*registry.Loaded, string, error) {
	if version == 0 {
		l, err := s.resolve(ctx, name)
		return l, name, err
	}
	ref := fmt.Sprintf("%s@%d", name, version)
	l, err := s.reg.Get(ctx, ref)
	if err == nil {
		return l, ref, nil
	}
	if !errors.Is(err, catalog.ErrNotFound) {
		return nil, "", toSQLError(ctx, "adapter "+ref, err)
	}
	// Say which is missing: the adapter, or the version.
	active, err := s.resolve(ctx, name)
	if err != nil {
		return nil, "", err
	}
	return nil, "", sqlErr(codeDoesNotExist, stateSyntax, "ADAPTER %s has no version %d (its active version is %d)",
		active.Record.Name, version, active.Record.Version)
}

// evalRow is a row read for scoring: its text, parsed target and number.
type evalRow struct {
	text   string
	text2  string // the second text of a pair (pair set)
	pair   bool
	target train.Target
	num    int
}

// RowIter implements sql.ExecSourceRel.
func (n *EvaluateAdapter) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	what := "EVALUATE ADAPTER " + n.Ref
	sch := n.Source.Schema()
	if len(sch) != 2 && len(sch) != 3 {
		return nil, sqlErr(codeOperandColumns, stateCardinality,
			"Operand should contain 2 column(s): %s reads a SELECT of (text, target), or of (text, text2, target) for a text-pair adapter; this one has %d", what, len(sch))
	}
	// A text pair's SELECT has the second text before the target.
	pair, tcol := len(sch) == 3, len(sch)-1
	if err := n.svc.checkAdapter(ctx, n.Name, catalog.PrivExecute); err != nil { // grants.go
		return nil, err
	}
	l, ref, err := n.svc.resolveRef(ctx, n.Name, n.Version)
	if err != nil {
		return nil, err
	}
	if want := l.Set.Inputs.Texts(); want != len(sch)-1 {
		cols := "(text, target)"
		if want == 2 {
			cols = "(text, text2, target)"
		}
		return nil, sqlErr(codeOperandColumns, stateCardinality,
			"Operand should contain %d column(s): %s reads a SELECT of %s for adapter %s, this one has %d", want+1, what, cols, l.Record.Name, len(sch))
	}
	task := l.Set.Task
	if n.Confusion && task != registry.Classification {
		return nil, errArguments(what, "CONFUSION MATRIX is for classification adapters; %s is a %s adapter (EVALUATE ADAPTER %s AS SELECT ... reports its metrics)",
			l.Record.Name, task, n.Ref)
	}
	sc := train.NewScorer(task, l.Set.Labels)
	colKind := targetKind(sch[tcol].Type)
	iter, err := n.svc.exec.Build(ctx, n.Source, row)
	if err != nil {
		return nil, err
	}
	defer iter.Close(ctx)
	chunk := maxWindow * max(n.svc.batch, 1) // a BatchInfer window
	pending := make([]evalRow, 0, chunk)
	num := 0
	for {
		r, err := iter.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ErrInterrupted()
			}
			return nil, err
		}
		num++
		if slices.Contains(r[:len(sch)], nil) {
			sc.Skip()
			continue
		}
		text, err := textArg(ctx, r[0])
		if err != nil {
			return nil, errArguments(what, "row %d: text: %v", num, err)
		}
		var text2 string
		if pair {
			if text2, err = textArg(ctx, r[1]); err != nil {
				return nil, errArguments(what, "row %d: second text: %v", num, err)
			}
		}
		tt, err := targetText(ctx, r[tcol])
		if err != nil {
			return nil, errArguments(what, "row %d: target: %v", num, err)
		}
		kind := colKind
		if _, ok := r[tcol].(sql.JSONWrapper); ok {
			kind = train.KindJSON
		}
		tg, err := sc.ParseText(tt, text, kind)
		if err != nil {
			return nil, errArguments(what, "row %d: %v", num, err)
		}
		pending = append(pending, evalRow{text: text, text2: text2, pair: pair, target: tg, num: num})
		if len(pending) == chunk {
			if err := n.score(ctx, what, ref, l.Record.Stamp, sc, pending); err != nil {
				return nil, err
			}
			pending = pending[:0]
		}
	}
	if err := n.score(ctx, what, ref, l.Record.Stamp, sc, pending); err != nil {
		return nil, err
	}
	if n.Confusion {
		if sc.Rows() == 0 {
			return nil, errArguments(what, "no rows to evaluate (%d skipped: NULL text or target)", sc.Skipped())
		}
		cells := sc.Confusion()
		rows := make([]sql.Row, len(cells))
		for i, c := range cells {
			rows[i] = sql.NewRow(c.Actual, c.Predicted, c.N)
		}
		return sql.RowsToRowIter(rows...), nil
	}
	ms, err := sc.Metrics()
	if err != nil {
		return nil, errArguments(what, "%v", err)
	}
	rows := make([]sql.Row, len(ms))
	for i, m := range ms {
		var v any = m.Value
		if math.IsNaN(m.Value) {
			v = nil
		}
		rows[i] = sql.NewRow(m.Name, v)
	}
	n.svc.log.Debug().Str("adapter", n.Ref).Int64("rows", sc.Rows()).Int64("skipped", sc.Skipped()).Msg("adapter evaluated")
	return sql.RowsToRowIter(rows...), nil
}

// score predicts a chunk of rows with one registry request and adds them to
// the report. Every prediction must come from the adapter resolved at the
// start (stamp): one replaced meanwhile would mix two adapters' scores.
func (n *EvaluateAdapter) score(ctx *sql.Context, what, ref string, stamp int64, sc *train.Scorer, rows []evalRow) error {
	if len(rows) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return ErrInterrupted()
	}
	reqs := make([]registry.Request, len(rows))
	for i, r := range rows {
		reqs[i] = registry.Request{Adapter: ref, Text: r.text, Pair: r.text2, HasPair: r.pair}
	}
	res, err := n.svc.reg.Run(ctx, reqs)
	if err != nil {
		var re *registry.RequestError
		if !errors.As(err, &re) {
			return toSQLError(ctx, what, err)
		}
		r := rows[re.Index]
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			return errUnknownAdapter(strings.TrimPrefix(re.Err.Error(), catalog.ErrNotFound.Error()+": "))
		case errors.Is(err, engine.ErrText):
			return errText("EVALUATE ADAPTER", r.num, requestText(reqs[re.Index]), re.Err)
		}
		return toSQLError(ctx, what, re.Err)
	}
	for i, r := range res {
		if r.Adapter == nil || r.Adapter.Record.Stamp != stamp {
			return sqlErr(codeUnknown, stateGeneral, "%s: the adapter was replaced while it was being evaluated; run the statement again", what)
		}
		sc.Add(rows[i].target, r.Prediction)
	}
	return nil
}
