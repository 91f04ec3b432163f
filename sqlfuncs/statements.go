package sqlfuncs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

// The adapter statements are go-mysql-server plan nodes. The parser hands
// them over as vitess InjectedStatements (sqlparser.go), whose
// WithResolvedChildren runs while the query is planned: names, options and
// file paths are checked there, before anything is read or trained. Each node
// is an sql.ExecSourceRel, executed by its RowIter.

// infoMsg is an OK packet's info string.
type infoMsg string

func (m infoMsg) String() string { return string(m) }

// okIter is the result of a statement that returns no rows.
func okIter(rows int, info string) sql.RowIter {
	r := types.NewOkResult(rows)
	if info != "" {
		r.Info = infoMsg(info)
	}
	return sql.RowsToRowIter(sql.NewRow(r))
}

func checkName(name string) error {
	if err := catalog.CheckName(name); err != nil {
		return sqlErr(codeWrongName, stateSyntax, "Incorrect adapter name '%s': use a letter or _ then letters, digits, _ . - (at most 64)", name)
	}
	return nil
}

func putMode(st *Stmt) catalog.PutMode {
	switch {
	case st.OrReplace:
		return catalog.Replace
	case st.IfNotExists:
		return catalog.IfNotExists
	}
	return catalog.Create
}

// trainOptions applies OPTIONS (...) to the defaults.
func trainOptions(opts []Option) (train.Options, error) {
	o := train.DefaultOptions()
	keys := train.Keys()
	for _, kv := range opts {
		if !slices.Contains(keys, kv.Key) {
			return o, sqlErr(codeUnknownOption, stateGeneral, "Unknown adapter option '%s' (known: %s)", kv.Key, strings.Join(train.AllKeys(), ", "))
		}
		if err := o.Set(kv.Key, kv.Value); err != nil {
			return o, sqlErr(codeWrongOptionValue, stateSyntax, "Option '%s' can't be set to the value of '%s': %v", kv.Key, kv.Value,
				errors.Unwrap(err))
		}
	}
	return o, nil
}

// errModelOption is 1231 for a value train.Options.CheckModel refuses, with
// the option's value as written (a list whole, as for other bad list values).
func errModelOption(err error, opts []Option) error {
	var oe *train.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	for _, o := range opts {
		if strings.EqualFold(o.Key, oe.Key) {
			return sqlErr(codeWrongOptionValue, stateSyntax, "Option '%s' can't be set to the value of '%s': %v", oe.Key, o.Value, oe.Err)
		}
	}
	// Not given: its default does not fit this model.
	return sqlErr(codeWrongOptionValue, stateSyntax, "Option '%s' is not given and its default '%s' does not fit: %v (set %s)", oe.Key, oe.Value, oe.Err, oe.Key)
}

// implicitCommit commits the session's transaction before a statement that
// writes the adapter catalog, as MySQL commits before DDL. The catalog is
// written on a connection of its own, which would otherwise wait for the
// write lock of the session's own open transaction until the busy timeout.
// The rest of the statement (the SELECT it trains on) reads in a fresh
// transaction, which the engine ends with the statement; the session is back
// in autocommit mode, as after MySQL's implicit commit.
func implicitCommit(ctx *sql.Context) error {
	ts, ok := ctx.Session.(sql.TransactionSession)
	if !ok {
		return nil
	}
	if tx := ctx.GetTransaction(); tx != nil {
		if err := ts.CommitTransaction(ctx, tx); err != nil {
			return err
		}
		ctx.SetTransaction(nil)
	}
	ctx.SetIgnoreAutoCommit(false)
	tx, err := ts.StartTransaction(ctx, sql.ReadWrite)
	if err != nil {
		return err
	}
	ctx.SetTransaction(tx)
	return nil
}

// ---- CREATE ADAPTER ----

// createStmt is the parsed CREATE ADAPTER before planning.
type createStmt struct {
	svc *service
	st  *Stmt
	sel string // the SELECT's text (AS SELECT)
}

func (c *createStmt) String() string { return "CREATE ADAPTER " + c.st.Name }

// WithResolvedChildren implements ast.Injectable. For AS SELECT the first
// child is the planned SELECT, a *plan.Subquery; the others only carry
// privileges (sqlparser.go's requires).
func (c *createStmt) WithResolvedChildren(children []any) (any, error) {
	if err := checkName(c.st.Name); err != nil {
		return nil, err
	}
	keep, rest, err := keepOption(c.st.Options) // versions.go: keep_versions
	if err != nil {
		return nil, err
	}
	background, trainOpts, err := jobOption(rest) // jobs.go
	if err != nil {
		return nil, err
	}
	opts, err := searchOptions(trainOpts) // search.go: lists, search, trials
	if err != nil {
		return nil, err
	}
	if c.st.Kind != StmtCreateFrom {
		// Limits that depend on the base model, before the SELECT runs.
		if err := opts.CheckModel(c.svc.reg.Engine().Model()); err != nil {
			return nil, errModelOption(err, c.st.Options)
		}
	}
	n := &CreateAdapter{svc: c.svc, Name: c.st.Name, Mode: putMode(c.st), Options: opts, optionList: c.st.Options, selText: c.sel,
		Background: background, KeepVersions: keep}
	if c.st.Kind == StmtCreateFrom {
		if len(rest) > 0 {
			return nil, errArguments("CREATE ADAPTER", "OPTIONS apply to training (AS SELECT), not to FROM 'file'")
		}
		if n.File, err = c.svc.confine(c.st.File, false); err != nil {
			return nil, err
		}
		return n, nil
	}
	if len(children) < 1 {
		return nil, fmt.Errorf("CREATE ADAPTER %s: expected the SELECT, got %d children", c.st.Name, len(children))
	}
	sq, ok := children[0].(*plan.Subquery)
	if !ok {
		return nil, fmt.Errorf("CREATE ADAPTER %s: expected a SELECT, got %T", c.st.Name, children[0])
	}
	n.Source = sq.Query
	return n, nil
}

// CreateAdapter trains an adapter on its Source rows (text, target) and stores
// it, or imports it from File.
type CreateAdapter struct {
	svc        *service
	Name       string
	Mode       catalog.PutMode
	Options    train.Options
	optionList []Option
	Source     sql.Node // AS SELECT: the planned SELECT
	File       string   // FROM: the confined path
	selText    string
	Background bool // OPTIONS (background = true): train in a job (jobs.go)
	// KeepVersions is OPTIONS (keep_versions = N), 0 when not given: the
	// adapter's retention from this write on (versions.go).
	KeepVersions int
}

var _ sql.ExecSourceRel = (*CreateAdapter)(nil)

// Resolved implements sql.Node.
func (n *CreateAdapter) Resolved() bool { return n.Source == nil || n.Source.Resolved() }

// IsReadOnly implements sql.Node.
func (n *CreateAdapter) IsReadOnly() bool { return false }

// Schema implements sql.Node.
func (n *CreateAdapter) Schema() sql.Schema {
	if n.Background {
		return jobResultSchema // the job's id (jobs.go)
	}
	return types.OkResultSchema
}

// Children implements sql.Node: the SELECT, which the analyzer optimizes
// (and batches) like any query.
func (n *CreateAdapter) Children() []sql.Node {
	if n.Source == nil {
		return nil
	}
	return []sql.Node{n.Source}
}

// WithChildren implements sql.Node.
func (n *CreateAdapter) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != len(n.Children()) {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(children), len(n.Children()))
	}
	c := *n
	if len(children) == 1 {
		c.Source = children[0]
	}
	return &c, nil
}

// String implements sql.Node.
func (n *CreateAdapter) String() string {
	p := sql.NewTreePrinter()
	head := "CreateAdapter(" + n.Name
	if len(n.optionList) > 0 {
		kv := make([]string, len(n.optionList))
		for i, o := range n.optionList {
			kv[i] = o.Key + "=" + o.Value
		}
		head += " options: " + strings.Join(kv, ", ")
	}
	if n.File != "" {
		head += " from: " + n.File
	}
	_ = p.WriteNode("%s)", head)
	if n.Source != nil {
		_ = p.WriteChildren(n.Source.String())
	}
	return p.String()
}

// Describe implements sql.Describable.
func (n *CreateAdapter) Describe(opts sql.DescribeOptions) string {
	if n.Source == nil {
		return n.String()
	}
	p := sql.NewTreePrinter()
	_ = p.WriteNode("CreateAdapter(%s)", n.Name)
	_ = p.WriteChildren(sql.Describe(n.Source, opts))
	return p.String()
}

// RowIter implements sql.ExecSourceRel.
func (n *CreateAdapter) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	what := "CREATE ADAPTER " + n.Name
	reg := n.svc.reg
	if err := implicitCommit(ctx); err != nil {
		return nil, err
	}
	if n.Mode == catalog.Replace {
		if err := n.svc.checkReplace(ctx, n.Name); err != nil {
			return nil, err
		}
	}
	if n.Source == nil {
		data, err := n.svc.readFile(ctx, n.File)
		if err != nil {
			return nil, err
		}
		rec, created, err := reg.Import(catalog.WithKeepVersions(n.svc.creatorContext(ctx), n.KeepVersions), n.Name, data, n.Mode)
		if err != nil {
			return nil, toSQLError(ctx, what, err)
		}
		if !created {
			ctx.Warn(codeAlreadyExists, "ADAPTER %s already exists", n.Name)
			return okIter(0, ""), nil
		}
		n.svc.log.Info().Str("adapter", rec.Name).Str("file", n.File).Msg("adapter imported")
		return okIter(1, ""), nil
	}
	// A plain CREATE of an existing name fails before the SELECT runs.
	if n.Mode != catalog.Replace {
		if _, err := reg.Catalog().Info(ctx, n.Name); err == nil {
			if n.Mode == catalog.IfNotExists {
				ctx.Warn(codeAlreadyExists, "ADAPTER %s already exists", n.Name)
				return okIter(0, ""), nil
			}
			return nil, errAdapterExists(n.Name)
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return nil, toSQLError(ctx, what, err)
		}
	}
	// Another writer holding the file fails the statement now (1205 after
	// the busy timeout), not after training; training does not hold the lock,
	// so the store at the end waits for it like any write.
	if err := reg.Catalog().CheckWritable(ctx); err != nil {
		return nil, toSQLError(ctx, what, err)
	}
	sch := n.Source.Schema()
	if len(sch) != 2 && len(sch) != 3 {
		return nil, sqlErr(codeOperandColumns, stateCardinality,
			"Operand should contain 2 column(s): %s trains on a SELECT of (text, target), or of (text, text2, target) for text pairs; this one has %d", what, len(sch))
	}
	kind := targetKind(sch[len(sch)-1].Type)
	prog := newTrainProgress(ctx, n.svc.log, n.Name, n.Options)
	defer prog.done()
	examples, err := n.readExamples(ctx, row, len(sch) == 3, prog)
	if err != nil {
		return nil, err
	}
	if n.Background {
		return n.startBackground(ctx, examples, kind) // jobs.go
	}
	start := time.Now()
	rec, created, err := reg.Train(catalog.WithKeepVersions(n.svc.creatorContext(ctx), n.KeepVersions), registry.TrainRequest{Name: n.Name, Examples: examples, Kind: kind,
		Options: n.Options, Mode: n.Mode, Progress: prog.update})
	if err != nil {
		if isCancel(err) || ctx.Err() != nil {
			n.svc.log.Info().Str("adapter", n.Name).Msg("training cancelled; nothing stored")
		}
		return nil, toSQLError(ctx, what, err)
	}
	if !created {
		ctx.Warn(codeAlreadyExists, "ADAPTER %s already exists", n.Name)
		return okIter(0, ""), nil
	}
	info := summary(rec)
	n.svc.log.Info().Str("adapter", rec.Name).Str("task", rec.Task).Int("rows", len(examples)).
		Dur("took_ms", time.Since(start)).Str("result", info).Msg("adapter trained")
	// The summary also goes out as a note (SHOW WARNINGS): the OK packet's
	// info string is not sent over the wire (server.go says why).
	ctx.Session.Warn(&sql.Warning{Level: "Note", Code: codeSummary, Message: info})
	return okIter(len(examples), info), nil
}

// readExamples runs the SELECT and collects its rows as training examples:
// (text, target), or (text, text2, target) when pair is set.
func (n *CreateAdapter) readExamples(ctx *sql.Context, row sql.Row, pair bool, prog *trainProgress) ([]train.Example, error) {
	iter, err := n.svc.exec.Build(ctx, n.Source, row)
	if err != nil {
		return nil, err
	}
	var ex []train.Example
	for {
		r, err := iter.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			iter.Close(ctx)
			if ctx.Err() != nil {
				return nil, ErrInterrupted()
			}
			return nil, err
		}
		var e train.Example
		if r[0] == nil {
			e.TextNull = true
		} else if e.Text, err = textArg(ctx, r[0]); err != nil {
			iter.Close(ctx)
			return nil, errArguments("CREATE ADAPTER", "row %d: text: %v", len(ex)+1, err)
		}
		t := 1 // the target's column
		if pair {
			e.HasPair, t = true, 2
			if r[1] == nil {
				e.PairNull = true
			} else if e.Pair, err = textArg(ctx, r[1]); err != nil {
				iter.Close(ctx)
				return nil, errArguments("CREATE ADAPTER", "row %d: second text: %v", len(ex)+1, err)
			}
		}
		if r[t] == nil {
			e.TargetNull = true
		} else if e.Target, err = targetText(ctx, r[t]); err != nil {
			iter.Close(ctx)
			return nil, errArguments("CREATE ADAPTER", "row %d: target: %v", len(ex)+1, err)
		}
		ex = append(ex, e)
		prog.read(len(ex))
	}
	if err := iter.Close(ctx); err != nil {
		return nil, err
	}
	n.dropTableProgress(ctx, prog.name)
	return ex, nil
}

// dropTableProgress removes the progress entries go-mysql-server gave the
// SELECT's tables (it keeps them to the end of the statement): once the rows
// are read, SHOW PROCESSLIST shows training's two lines alone.
// Entries are keyed by name: a table named like the statement's own entry
// (own) keeps it.
func (n *CreateAdapter) dropTableProgress(ctx *sql.Context, own string) {
	pl := ctx.ProcessList
	if pl == nil {
		return
	}
	transform.Inspect(n.Source, func(nd sql.Node) bool {
		if rt, ok := nd.(*plan.ResolvedTable); ok && rt.Name() != own {
			pl.RemoveTableProgress(ctx.Pid(), rt.Name())
		}
		return true
	})
}

// targetKind hints the task from the target column's SQL type.
func targetKind(t sql.Type) train.TargetKind {
	switch {
	case types.IsJSON(t):
		return train.KindJSON
	case types.IsInteger(t):
		return train.KindInteger
	case types.IsFloat(t) || types.IsDecimal(t):
		return train.KindFloat
	case types.IsText(t):
		return train.KindText
	}
	return train.KindUnknown
}

// targetText is a target value as text (JSON documents as JSON).
func targetText(ctx *sql.Context, v any) (string, error) {
	switch x := v.(type) {
	case sql.JSONWrapper:
		b, err := types.MarshallJson(x)
		return string(b), err
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	}
	return textArg(ctx, v)
}

// plural is "1 epoch", "2 epochs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// codeSummary is the code of CREATE ADAPTER's summary note: MySQL's
// ER_SIGNAL_WARN, the code of a condition a statement raises for the user.
const codeSummary = 1642

// summary is the info line for a trained adapter: the OK packet's info (in
// process) and a note (over the wire).
func summary(rec catalog.Record) string {
	s := fmt.Sprintf("adapter %s: %s", rec.Name, rec.Task)
	if len(rec.Labels) > 0 {
		s += ", " + plural(len(rec.Labels), "label")
	}
	var m struct {
		Epochs int `json:"epochs"`
		Eval   *struct {
			Accuracy *float64 `json:"accuracy"`
			RMSE     *float64 `json:"rmse"`
			SpanF1   *float64 `json:"span_f1"`
		} `json:"validation"`
		Search string            `json:"search"` // a hyperparameter search (search.go)
		Trials []json.RawMessage `json:"trials"`
	}
	if json.Unmarshal(rec.Metrics, &m) == nil {
		s += ", " + plural(m.Epochs, "epoch")
		if m.Eval != nil && m.Eval.Accuracy != nil {
			s += fmt.Sprintf(", validation accuracy %.4f", *m.Eval.Accuracy)
		}
		if m.Eval != nil && m.Eval.RMSE != nil {
			s += fmt.Sprintf(", validation RMSE %.4g", *m.Eval.RMSE)
		}
		if m.Eval != nil && m.Eval.SpanF1 != nil {
			s += fmt.Sprintf(", validation span F1 %.4f", *m.Eval.SpanF1)
		}
		if m.Search != "" {
			s += fmt.Sprintf(", best of %s (%s search)", plural(len(m.Trials), "trial"), m.Search)
		}
	}
	return s
}

// ---- DROP ADAPTER ----

type dropStmt struct {
	svc *service
	st  *Stmt
}

func (d *dropStmt) String() string { return "DROP ADAPTER " + d.st.Name }

func (d *dropStmt) WithResolvedChildren([]any) (any, error) {
	return &DropAdapter{svc: d.svc, Name: d.st.Name, IfExists: d.st.IfExists, Version: d.st.Version}, nil
}

// DropAdapter deletes an adapter.
type DropAdapter struct {
	svc      *service
	Name     string
	IfExists bool
	Version  int64 // DROP ADAPTER name VERSION n (versions.go); 0: the whole adapter
}

var _ sql.ExecSourceRel = (*DropAdapter)(nil)

func (n *DropAdapter) Resolved() bool                             { return true }
func (n *DropAdapter) IsReadOnly() bool                           { return false }
func (n *DropAdapter) Schema() sql.Schema                         { return types.OkResultSchema }
func (n *DropAdapter) Children() []sql.Node                       { return nil }
func (n *DropAdapter) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *DropAdapter) String() string                             { return "DropAdapter(" + n.Name + ")" }

// RowIter implements sql.ExecSourceRel.
func (n *DropAdapter) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	if err := implicitCommit(ctx); err != nil {
		return nil, err
	}
	if err := n.svc.checkAdapter(ctx, n.Name, catalog.PrivDrop); err != nil {
		return nil, err
	}
	if n.Version > 0 {
		return n.dropVersion(ctx) // versions.go
	}
	ok, err := n.svc.reg.Drop(ctx, n.Name, n.IfExists)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, errUnknownAdapter(n.Name)
		}
		return nil, toSQLError(ctx, "DROP ADAPTER "+n.Name, err)
	}
	if !ok {
		ctx.Warn(codeDoesNotExist, "ADAPTER %s does not exist", n.Name)
		return okIter(0, ""), nil
	}
	n.svc.log.Info().Str("adapter", n.Name).Msg("adapter dropped")
	return okIter(1, ""), nil
}

// ---- EXPORT ADAPTER ----

type exportStmt struct {
	svc *service
	st  *Stmt
}

func (e *exportStmt) String() string { return "EXPORT ADAPTER " + e.st.Name }

func (e *exportStmt) WithResolvedChildren([]any) (any, error) {
	path, err := e.svc.confine(e.st.File, true)
	if err != nil {
		return nil, err
	}
	return &ExportAdapter{svc: e.svc, Name: e.st.Name, File: path}, nil
}

// ExportAdapter writes an adapter to a safetensors file under --files-dir.
type ExportAdapter struct {
	svc  *service
	Name string
	File string
}

var _ sql.ExecSourceRel = (*ExportAdapter)(nil)

func (n *ExportAdapter) Resolved() bool                             { return true }
func (n *ExportAdapter) IsReadOnly() bool                           { return true }
func (n *ExportAdapter) Schema() sql.Schema                         { return types.OkResultSchema }
func (n *ExportAdapter) Children() []sql.Node                       { return nil }
func (n *ExportAdapter) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *ExportAdapter) String() string {
	return "ExportAdapter(" + n.Name + " to: " + n.File + ")"
}

// RowIter implements sql.ExecSourceRel.
func (n *ExportAdapter) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	if err := n.svc.checkAdapter(ctx, unpinned(n.Name), catalog.PrivExecute); err != nil { // name@N: versions.go
		return nil, err
	}
	data, _, err := n.svc.reg.Export(ctx, n.Name)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, errUnknownAdapter(n.Name)
		}
		return nil, toSQLError(ctx, "EXPORT ADAPTER "+n.Name, err)
	}
	if err := n.svc.writeFile(n.File, data); err != nil {
		return nil, err
	}
	n.svc.log.Info().Str("adapter", n.Name).Str("file", n.File).Int("bytes", len(data)).Msg("adapter exported")
	return okIter(1, ""), nil
}

// ---- SHOW ADAPTERS ----

type showStmt struct{ svc *service }

func (s *showStmt) String() string { return "SHOW ADAPTERS" }

func (s *showStmt) WithResolvedChildren([]any) (any, error) { return &ShowAdapters{svc: s.svc}, nil }

// ShowAdapters lists the catalog: the most used columns of adapterdb.adapters.
type ShowAdapters struct{ svc *service }

var _ sql.ExecSourceRel = (*ShowAdapters)(nil)

func (n *ShowAdapters) Resolved() bool                             { return true }
func (n *ShowAdapters) IsReadOnly() bool                           { return true }
func (n *ShowAdapters) Children() []sql.Node                       { return nil }
func (n *ShowAdapters) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *ShowAdapters) String() string                             { return "ShowAdapters" }

var showSchema = sql.Schema{
	{Name: "name", Type: types.MustCreateStringWithDefaults(sqltypes.VarChar, 64)},
	{Name: "task", Type: types.MustCreateStringWithDefaults(sqltypes.VarChar, 32)},
	{Name: "inputs", Type: types.MustCreateStringWithDefaults(sqltypes.VarChar, 16), Nullable: true},
	{Name: "labels", Type: types.JSON},
	{Name: "base_model", Type: types.Text},
	{Name: "adapter_size", Type: types.Int64},
	{Name: "params", Type: types.Int64},
	{Name: "size_bytes", Type: types.Int64},
	{Name: "created_at", Type: types.DatetimeMaxPrecision},
}

// Schema implements sql.Node.
func (n *ShowAdapters) Schema() sql.Schema { return showSchema }

// RowIter implements sql.ExecSourceRel.
func (n *ShowAdapters) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	recs, err := n.svc.reg.List(ctx)
	if err != nil {
		return nil, toSQLError(ctx, "SHOW ADAPTERS", err)
	}
	if recs, err = n.svc.visible(ctx, recs); err != nil {
		return nil, err
	}
	rows := make([]sql.Row, len(recs))
	for i, r := range recs {
		rows[i] = sql.NewRow(r.Name, r.Task, inputsValue(r.Inputs), labelsJSON(r.Labels), r.BaseModel, int64(r.AdapterSize), r.Params,
			r.SizeBytes, r.CreatedAt.UTC())
	}
	return sql.RowsToRowIter(rows...), nil
}

func labelsJSON(labels []string) jsonValue {
	v := make([]any, len(labels))
	for i, l := range labels {
		v[i] = l
	}
	return newJSONValue(v)
}
