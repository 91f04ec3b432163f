package sqlfuncs

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

// Hyperparameter search in SQL: OPTIONS (learning_rate = (1e-4, 1e-3),
// adapter_size = (16, 64), search = 'random', trials = 3). The grammar reads
// a parenthesised list (optionList); searchOptions turns the options into
// train.Options with a train.Search, which registry.Train runs; the trials
// are shown by adapterdb.trials (trialsTable).

// optionList reads the values of a list after its '(' up to its ')'.
func (p *stmtParser) optionList(key string) ([]string, error) {
	var vals []string
	for {
		v, err := p.advance()
		if err != nil {
			return nil, err
		}
		val := v.val
		switch v.kind {
		case tokString, tokNumber, tokIdent:
		case tokPunct:
			if v.val != "-" && v.val != "+" {
				return nil, p.errAt(v, "expected a value in the list of option %s", key)
			}
			n, err := p.advance()
			if err != nil {
				return nil, err
			}
			if n.kind != tokNumber || n.pos != v.end {
				return nil, p.errAt(n, "expected a number after '%s'", v.val)
			}
			val = v.val + n.val
		case tokParam:
			return nil, p.errAt(v, "parameters are not supported in OPTIONS")
		default:
			return nil, p.errAt(v, "expected a value in the list of option %s", key)
		}
		vals = append(vals, val)
		sep, err := p.advance()
		if err != nil {
			return nil, err
		}
		if sep.kind == tokPunct && sep.val == ")" {
			return vals, nil
		}
		if sep.kind != tokPunct || sep.val != "," {
			return nil, p.errAt(sep, "expected ',' or ')' in the list of option %s", key)
		}
	}
}

// singleValued are options of other features that take one value: a list
// for them is refused as for task or seed, not reported as unknown.
var singleValued = []string{train.KeyBackground, train.KeyKeepVersions}

// searchOptions applies OPTIONS (...) like trainOptions, and collects the
// options given as lists, with search and trials, into the returned
// options' Search (nil when none asks for a search).
func searchOptions(opts []Option) (train.Options, error) {
	var s train.Search
	var scalars, lists []Option
	for _, o := range opts {
		switch {
		case train.IsSearchKey(o.Key):
			if o.Values != nil {
				return train.Options{}, errNotList(o.Key)
			}
			if err := s.Set(o.Key, o.Value); err != nil {
				return train.Options{}, errOptionValue(o, err)
			}
		case o.Values != nil:
			lists = append(lists, o)
		default:
			scalars = append(scalars, o)
		}
	}
	base, err := trainOptions(scalars)
	if err != nil {
		return base, err
	}
	for _, o := range lists {
		if !train.Listable(o.Key) {
			if slices.Contains(train.Keys(), o.Key) || slices.Contains(singleValued, o.Key) {
				return base, errNotList(o.Key)
			}
			// Unknown: trainOptions says so, naming the known options.
			if _, err := trainOptions([]Option{{Key: o.Key, Value: o.Values[0]}}); err != nil {
				return base, err
			}
			return base, errNotList(o.Key)
		}
		if err := s.Add(o.Key, o.Values); err != nil {
			return base, errOptionValue(o, err)
		}
	}
	if !s.Active() {
		return base, nil
	}
	if err := s.Check(base); err != nil {
		return base, sqlErr(codeWrongOptionValue, stateSyntax, "Incorrect hyperparameter search: %v", err)
	}
	base.Search = &s
	return base, nil
}

func errNotList(key string) error {
	return sqlErr(codeWrongOptionValue, stateSyntax, "Option '%s' takes one value, not a list: lists are accepted for %s",
		key, strings.Join(train.ListableKeys(), ", "))
}

// errOptionValue is trainOptions' message for a refused value, without the
// "option key:" prefix the engine's errors carry.
func errOptionValue(o Option, err error) error {
	msg := strings.TrimPrefix(err.Error(), "option "+o.Key+": ")
	return sqlErr(codeWrongOptionValue, stateSyntax, "Option '%s' can't be set to the value of '%s': %s", o.Key, o.Value, msg)
}

// ---- adapterdb.trials ----

// trialsSchema is adapterdb.trials: one row per trial of the searches that
// made the stored adapter versions.
var trialsSchema = sql.Schema{
	trialCol("adapter", varchar(64), true),
	trialCol("version", types.Int64, true),
	trialCol("trial", types.Int64, true),
	trialCol("options", types.JSON, false),
	trialCol("metrics", types.JSON, false),
	trialCol("seconds", types.Float64, false),
	trialCol("chosen", types.Boolean, false),
}

func trialCol(name string, t sql.Type, pk bool) *sql.Column {
	return &sql.Column{Name: name, Type: t, Source: "trials", DatabaseSource: CatalogDatabase, PrimaryKey: pk, Nullable: !pk}
}

type trialsTable struct {
	reg *registry.Registry
	svc *service // nil: every adapter's trials (no privileges)
}

var _ sql.Table = (*trialsTable)(nil)

func (t *trialsTable) Name() string               { return "trials" }
func (t *trialsTable) String() string             { return "trials" }
func (t *trialsTable) Schema() sql.Schema         { return trialsSchema }
func (t *trialsTable) Collation() sql.CollationID { return sql.Collation_Default }

func (t *trialsTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(trialsPartition{}), nil
}

type trialsPartition struct{}

func (trialsPartition) Key() []byte { return []byte("trials") }

// PartitionRows lists the trials of the adapters the session may see (as
// adapterdb.adapters shows them).
func (t *trialsTable) PartitionRows(ctx *sql.Context, _ sql.Partition) (sql.RowIter, error) {
	trials, err := t.reg.Catalog().Trials(ctx)
	if err != nil {
		return nil, toSQLError(ctx, "adapterdb.trials", err)
	}
	visible := map[string]string{} // lower-cased name → the catalog's spelling
	recs, err := t.reg.List(ctx)
	if err != nil {
		return nil, toSQLError(ctx, "adapterdb.trials", err)
	}
	if t.svc != nil {
		if recs, err = t.svc.visible(ctx, recs); err != nil {
			return nil, err
		}
	}
	for _, r := range recs {
		visible[strings.ToLower(r.Name)] = r.Name
	}
	var rows []sql.Row
	for _, tr := range trials {
		name, ok := visible[strings.ToLower(tr.Adapter)]
		if !ok {
			continue
		}
		opts, err := jsonDoc(tr.Options)
		if err != nil {
			return nil, err
		}
		metrics, err := jsonDoc(tr.Metrics)
		if err != nil {
			return nil, err
		}
		chosen := int8(0)
		if tr.Chosen {
			chosen = 1
		}
		rows = append(rows, sql.NewRow(name, tr.Version, int64(tr.Trial.Trial), opts, metrics, tr.Seconds, chosen))
	}
	return sql.RowsToRowIter(rows...), nil
}

// jsonDoc is a stored JSON object as a JSON column value.
func jsonDoc(raw []byte) (jsonValue, error) {
	var v any = map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			return jsonValue{}, errors.New("adapterdb.trials: a stored trial is not JSON (database damaged?)")
		}
	}
	return newJSONValue(v), nil
}

// trialStarted keeps a search's progress: the statement's entry counts
// finished trials as its "partitions" (epochs restart with each trial), and
// a new trial starts its epochs afresh.
func (p *trainProgress) trialStarted(pr train.Progress) {
	if pr.Trial == p.trial {
		return
	}
	if pl := p.ctx.ProcessList; pl != nil {
		if p.trial == 0 {
			pl.AddTableProgress(p.ctx.Pid(), p.name, int64(pr.Trials)) // sets the total
		} else {
			pl.UpdateTableProgress(p.ctx.Pid(), p.name, int64(pr.Trial-p.trial))
		}
	}
	p.trial, p.epochsDone = pr.Trial, 0
}
