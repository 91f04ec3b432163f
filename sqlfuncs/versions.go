package sqlfuncs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
)

// Adapter versions in SQL: every CREATE OR REPLACE keeps the previous
// weights as a numbered version (catalog/versions.go); 'name@N' pins one
// wherever an adapter is named (PREDICT, PREDICT_PROBA, EVALUATE, EXPORT),
// ALTER ADAPTER ... SET ACTIVE VERSION moves the plain name, DROP ADAPTER
// ... VERSION removes one, SHOW ADAPTER VERSIONS and adapterdb.adapter_versions
// list them, and OPTIONS (keep_versions = N) sets the retention.

// keepOption takes keep_versions out of a CREATE ADAPTER's options: its
// value (0 when absent) and the other options.
func keepOption(opts []Option) (int, []Option, error) {
	keep := 0
	rest := make([]Option, 0, len(opts))
	for _, o := range opts {
		if o.Key != "keep_versions" {
			rest = append(rest, o)
			continue
		}
		n, err := strconv.Atoi(o.Value)
		if err == nil {
			err = catalog.CheckKeepVersions(n)
		}
		if len(o.Values) > 0 || err != nil {
			return 0, nil, sqlErr(codeWrongOptionValue, stateSyntax,
				"Option 'keep_versions' can't be set to the value of '%s': an integer from 1 to %d (the versions kept)", o.Value, catalog.MaxKeepVersions)
		}
		keep = n
	}
	return keep, rest, nil
}

// buildVersions makes the injected statement for ALTER ADAPTER ... SET
// ACTIVE VERSION and SHOW ADAPTER VERSIONS. Their privileges are the
// adapter's (grants.go), checked when they run.
func (p *Parser) buildVersions(st *Stmt) ast.InjectedStatement {
	return ast.InjectedStatement{Statement: &versionStmt{svc: p.svc, st: st},
		Auth: ast.AuthInformation{AuthType: ast.AuthType_IGNORE}}
}

type versionStmt struct {
	svc *service
	st  *Stmt
}

func (v *versionStmt) String() string {
	if v.st.Kind == StmtShowVersions {
		return "SHOW ADAPTER VERSIONS " + v.st.Name
	}
	return "ALTER ADAPTER " + v.st.Name
}

func (v *versionStmt) WithResolvedChildren([]any) (any, error) {
	if v.st.Kind == StmtShowVersions {
		if v.st.Name != "" {
			if err := checkName(v.st.Name); err != nil {
				return nil, err
			}
		}
		return &ShowAdapterVersions{svc: v.svc, Name: v.st.Name}, nil
	}
	if err := checkName(v.st.Name); err != nil {
		return nil, err
	}
	return &AlterAdapter{svc: v.svc, Name: v.st.Name, Version: v.st.Version}, nil
}

// ---- ALTER ADAPTER ... SET ACTIVE VERSION ----

// AlterAdapter makes one version of an adapter the active one.
type AlterAdapter struct {
	svc     *service
	Name    string
	Version int64
}

var _ sql.ExecSourceRel = (*AlterAdapter)(nil)

func (n *AlterAdapter) Resolved() bool                             { return true }
func (n *AlterAdapter) IsReadOnly() bool                           { return false }
func (n *AlterAdapter) Schema() sql.Schema                         { return types.OkResultSchema }
func (n *AlterAdapter) Children() []sql.Node                       { return nil }
func (n *AlterAdapter) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *AlterAdapter) String() string {
	return fmt.Sprintf("AlterAdapter(%s set active version: %d)", n.Name, n.Version)
}

// RowIter implements sql.ExecSourceRel. It needs ALTER on the adapter.
func (n *AlterAdapter) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	if err := implicitCommit(ctx); err != nil {
		return nil, err
	}
	if err := n.svc.checkAdapter(ctx, n.Name, catalog.PrivAlter); err != nil {
		return nil, err
	}
	if err := n.svc.reg.SetActive(ctx, n.Name, n.Version); err != nil {
		return nil, toSQLError(ctx, "ALTER ADAPTER "+n.Name, err)
	}
	n.svc.log.Info().Str("adapter", n.Name).Int64("version", n.Version).Msg("adapter version made active")
	return okIter(1, ""), nil
}

// dropVersion is DROP ADAPTER name VERSION n (the DROP privilege on the
// adapter is checked by the caller). The active version is refused with
// 1290, the message saying the way out.
func (n *DropAdapter) dropVersion(ctx *sql.Context) (sql.RowIter, error) {
	what := fmt.Sprintf("DROP ADAPTER %s VERSION %d", n.Name, n.Version)
	err := n.svc.reg.DropVersion(ctx, n.Name, n.Version)
	switch {
	case errors.Is(err, catalog.ErrActiveVersion):
		return nil, sqlErr(codeOptionPrevents, stateGeneral,
			"Version %d is the active version of ADAPTER %s: make another version active (ALTER ADAPTER %s SET ACTIVE VERSION n) or drop the whole adapter (DROP ADAPTER %s)",
			n.Version, n.Name, n.Name, n.Name)
	case errors.Is(err, catalog.ErrNotFound) && n.IfExists:
		ctx.Warn(codeDoesNotExist, "ADAPTER %s@%d does not exist", n.Name, n.Version)
		return okIter(0, ""), nil
	case err != nil:
		return nil, toSQLError(ctx, what, err)
	}
	n.svc.log.Info().Str("adapter", n.Name).Int64("version", n.Version).Msg("adapter version dropped")
	return okIter(1, ""), nil
}

// ---- SHOW ADAPTER VERSIONS, adapterdb.adapter_versions ----

// versionsSchema is a version's row: SHOW ADAPTER VERSIONS and the
// adapterdb.adapter_versions table.
func versionsSchema(source string) sql.Schema {
	c := func(name string, t sql.Type, pk bool) *sql.Column {
		return &sql.Column{Name: name, Type: t, Source: source, DatabaseSource: CatalogDatabase, PrimaryKey: pk, Nullable: false}
	}
	return sql.Schema{
		c("name", varchar(64), true),
		c("version", types.Int64, true),
		c("active", types.Boolean, false),
		c("created_at", types.DatetimeMaxPrecision, false),
		c("size_bytes", types.Int64, false),
		c("options", types.JSON, false),
		c("metrics", types.JSON, false),
		c("keep_versions", types.Int64, false),
	}
}

var versionsTableSchema = versionsSchema("adapter_versions")

func versionRows(recs []catalog.Record) []sql.Row {
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
		active := int8(0)
		if r.Active {
			active = 1
		}
		rows[i] = sql.NewRow(r.Name, r.Version, active, r.CreatedAt.UTC(), r.SizeBytes,
			newJSONValue(opts), newJSONValue(metrics), int64(r.KeepVersions))
	}
	return rows
}

// ShowAdapterVersions lists an adapter's versions (every adapter's without
// a name) that the session may see.
type ShowAdapterVersions struct {
	svc  *service
	Name string
}

var _ sql.ExecSourceRel = (*ShowAdapterVersions)(nil)

func (n *ShowAdapterVersions) Resolved() bool                             { return true }
func (n *ShowAdapterVersions) IsReadOnly() bool                           { return true }
func (n *ShowAdapterVersions) Schema() sql.Schema                         { return versionsSchema("") }
func (n *ShowAdapterVersions) Children() []sql.Node                       { return nil }
func (n *ShowAdapterVersions) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *ShowAdapterVersions) String() string                             { return "ShowAdapterVersions(" + n.Name + ")" }

// RowIter implements sql.ExecSourceRel. An adapter the session may not see
// is refused as checkAdapter refuses it (1142, whether it exists or not).
func (n *ShowAdapterVersions) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	recs, err := n.svc.reg.Versions(ctx, n.Name)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return nil, toSQLError(ctx, "SHOW ADAPTER VERSIONS", err)
	}
	if recs, err = n.svc.visible(ctx, recs); err != nil {
		return nil, err
	}
	if n.Name != "" && len(recs) == 0 {
		if err := n.svc.checkAdapter(ctx, n.Name, catalog.PrivExecute); err != nil {
			return nil, err
		}
		return nil, errUnknownAdapter(n.Name)
	}
	return sql.RowsToRowIter(versionRows(recs)...), nil
}

type versionsTable struct {
	reg *registry.Registry
	svc *service
}

var _ sql.Table = (*versionsTable)(nil)

func (t *versionsTable) Name() string               { return "adapter_versions" }
func (t *versionsTable) String() string             { return "adapter_versions" }
func (t *versionsTable) Schema() sql.Schema         { return versionsTableSchema }
func (t *versionsTable) Collation() sql.CollationID { return sql.Collation_Default }

func (t *versionsTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(onePartition{}), nil
}

func (t *versionsTable) PartitionRows(ctx *sql.Context, _ sql.Partition) (sql.RowIter, error) {
	recs, err := t.reg.Versions(ctx, "")
	if err != nil {
		return nil, toSQLError(ctx, "adapterdb.adapter_versions", err)
	}
	if t.svc != nil {
		if recs, err = t.svc.visible(ctx, recs); err != nil {
			return nil, err
		}
	}
	return sql.RowsToRowIter(versionRows(recs)...), nil
}

// unpinned is an adapter reference's name (name@N → name), for privilege
// checks, which are per adapter, not per version.
func unpinned(ref string) string {
	if name, _, err := catalog.SplitVersion(ref); err == nil {
		return name
	}
	return strings.SplitN(ref, "@", 2)[0]
}
