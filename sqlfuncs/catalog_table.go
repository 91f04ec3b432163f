package sqlfuncs

import (
	"encoding/json"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"github.com/adapterdb/adapterdb/engine/registry"
)

// CatalogDatabase is the name of the read-only database that shows the
// adapter catalog as a table, adapterdb.adapters.
const CatalogDatabase = "adapterdb"

// catalogDB is the read-only database adapterdb with one table, adapters: the
// catalog's records, read when a query scans it, so adapters can be queried
// and joined like any table. It has no writable interfaces, so INSERT, UPDATE,
// DELETE and DDL on it fail.
type catalogDB struct {
	reg *registry.Registry
	svc *service // nil: every adapter is shown (no privileges)
}

var _ sql.ReadOnlyDatabase = (*catalogDB)(nil)

// NewCatalogDatabase returns the adapterdb database for a registry's catalog.
// New serves it next to the user databases.
func NewCatalogDatabase(reg *registry.Registry) sql.Database { return &catalogDB{reg: reg} }

func (d *catalogDB) Name() string     { return CatalogDatabase }
func (d *catalogDB) IsReadOnly() bool { return true }

func (d *catalogDB) GetTableInsensitive(_ *sql.Context, name string) (sql.Table, bool, error) {
	if strings.EqualFold(name, "adapters") {
		return &adaptersTable{reg: d.reg, svc: d.svc}, true, nil
	}
	if strings.EqualFold(name, "jobs") && d.svc != nil {
		return &jobsTable{svc: d.svc}, true, nil // jobs.go
	}
	if strings.EqualFold(name, "adapter_versions") {
		return &versionsTable{reg: d.reg, svc: d.svc}, true, nil // versions.go
	}
	if strings.EqualFold(name, "trials") {
		return &trialsTable{reg: d.reg, svc: d.svc}, true, nil // search.go
	}
	return nil, false, nil
}

func (d *catalogDB) GetTableNames(*sql.Context) ([]string, error) {
	if d.svc != nil {
		return []string{"adapters", "adapter_versions", "jobs", "trials"}, nil
	}
	return []string{"adapters", "adapter_versions", "trials"}, nil
}

// The view methods say "no views here": go-mysql-server's privilege wrapper
// (active when accounts are enabled) reports every database as a
// sql.ViewDatabase, and fails name resolution for databases that are not.
var _ sql.ViewDatabase = (*catalogDB)(nil)

func (d *catalogDB) CreateView(*sql.Context, string, string, string) error {
	return errReadOnlyCatalog()
}

func (d *catalogDB) DropView(*sql.Context, string) error {
	return errReadOnlyCatalog()
}

func (d *catalogDB) GetViewDefinition(*sql.Context, string) (sql.ViewDefinition, bool, error) {
	return sql.ViewDefinition{}, false, nil
}

func errReadOnlyCatalog() error {
	return sqlErr(codeOptionPrevents, stateGeneral, "The %s database is read-only: use the ADAPTER statements", CatalogDatabase)
}

func (d *catalogDB) AllViews(*sql.Context) ([]sql.ViewDefinition, error) { return nil, nil }

type adaptersTable struct {
	reg *registry.Registry
	svc *service
}

var _ sql.Table = (*adaptersTable)(nil)

func col(name string, t sql.Type, pk bool) *sql.Column {
	return &sql.Column{Name: name, Type: t, Source: "adapters", DatabaseSource: CatalogDatabase, PrimaryKey: pk, Nullable: !pk}
}

func varchar(n int64) sql.Type { return types.MustCreateStringWithDefaults(sqltypes.VarChar, n) }

// adaptersSchema is catalog.Record's fields, in the catalog's order.
var adaptersSchema = sql.Schema{
	col("name", varchar(64), true),
	col("task", varchar(32), false),   // "sequence_labeling" is 17
	col("inputs", varchar(16), false), // "single" or "pair"; NULL when unknown (catalog.Record.Inputs)
	col("labels", types.JSON, false),
	col("base_model", types.Text, false),
	col("base_fingerprint", varchar(64), false),
	col("model_type", varchar(16), false),
	col("hidden_size", types.Int64, false),
	col("num_layers", types.Int64, false),
	col("adapter_size", types.Int64, false),
	col("activation", varchar(16), false),
	col("pool", varchar(16), false),
	col("options", types.JSON, false),
	col("metrics", types.JSON, false),
	col("params", types.Int64, false),
	col("size_bytes", types.Int64, false),
	col("sha256", varchar(64), false),
	col("created_at", types.DatetimeMaxPrecision, false),
	col("version", types.Int64, false),
}

func (t *adaptersTable) Name() string               { return "adapters" }
func (t *adaptersTable) String() string             { return "adapters" }
func (t *adaptersTable) Schema() sql.Schema         { return adaptersSchema }
func (t *adaptersTable) Collation() sql.CollationID { return sql.Collation_Default }

type onePartition struct{}

func (onePartition) Key() []byte { return []byte("adapters") }

func (t *adaptersTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(onePartition{}), nil
}

func (t *adaptersTable) PartitionRows(ctx *sql.Context, _ sql.Partition) (sql.RowIter, error) {
	recs, err := t.reg.List(ctx)
	if err != nil {
		return nil, toSQLError(ctx, "adapterdb.adapters", err)
	}
	if t.svc != nil {
		if recs, err = t.svc.visible(ctx, recs); err != nil {
			return nil, err
		}
	}
	rows := make([]sql.Row, len(recs))
	for i, r := range recs {
		opts := make(map[string]any, len(r.Options))
		for k, v := range r.Options {
			opts[k] = v
		}
		var metrics any = map[string]any{}
		if len(r.Metrics) > 0 {
			if err := json.Unmarshal(r.Metrics, &metrics); err != nil {
				metrics = map[string]any{}
			}
		}
		rows[i] = sql.NewRow(r.Name, r.Task, inputsValue(r.Inputs), labelsJSON(r.Labels), r.BaseModel, r.BaseFingerprint, r.ModelType,
			int64(r.HiddenSize), int64(r.NumLayers), int64(r.AdapterSize), r.Activation, r.Pool,
			newJSONValue(opts), newJSONValue(metrics), r.Params, r.SizeBytes, r.SHA256,
			r.CreatedAt.UTC(), r.Version)
	}
	return sql.RowsToRowIter(rows...), nil
}

// inputsValue is an adapter's input kind as a column value: NULL when the
// catalog does not know it (catalog.Record.Inputs).
func inputsValue(in string) any {
	if in == "" {
		return nil
	}
	return in
}
