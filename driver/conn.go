package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
	"github.com/shopspring/decimal"

	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// Conn is one in-process connection (a session of its own, like a MySQL
// connection: its own current database, variables and transaction).
type Conn struct {
	c     *sqlfuncs.Conn
	owner *Connector // set when opened by Driver.Open: released on Close
}

var (
	_ driver.Conn               = (*Conn)(nil)
	_ driver.QueryerContext     = (*Conn)(nil)
	_ driver.ExecerContext      = (*Conn)(nil)
	_ driver.ConnPrepareContext = (*Conn)(nil)
	_ driver.ConnBeginTx        = (*Conn)(nil)
	_ driver.Pinger             = (*Conn)(nil)
	_ driver.NamedValueChecker  = (*Conn)(nil)
	_ driver.SessionResetter    = (*Conn)(nil)
)

// ID is the connection id (CONNECTION_ID(), KILL QUERY id).
func (c *Conn) ID() uint32 { return c.c.ID() }

// Close implements driver.Conn.
func (c *Conn) Close() error {
	err := c.c.Close()
	if c.owner != nil {
		if e := c.owner.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Ping implements driver.Pinger.
func (c *Conn) Ping(ctx context.Context) error { return ctx.Err() }

// ResetSession implements driver.SessionResetter: a pooled connection keeps
// its session, as a MySQL connection in a pool does.
func (c *Conn) ResetSession(ctx context.Context) error { return ctx.Err() }

// CheckNamedValue implements driver.NamedValueChecker: the values vitess bind
// variables can carry.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case nil, int64, float64, bool, []byte, string, time.Time:
		return nil
	case int:
		nv.Value = int64(v)
	case int8:
		nv.Value = int64(v)
	case int16:
		nv.Value = int64(v)
	case int32:
		nv.Value = int64(v)
	case uint8:
		nv.Value = uint64(v)
	case uint16:
		nv.Value = uint64(v)
	case uint32:
		nv.Value = uint64(v)
	case uint, uint64:
		return nil
	case float32:
		nv.Value = float64(v)
	case decimal.Decimal:
		nv.Value = v.String()
	default:
		var err error
		nv.Value, err = driver.DefaultParameterConverter.ConvertValue(v)
		return err
	}
	return nil
}

// bindings turns ? arguments into vitess bind variables v1, v2, ...
func bindings(args []driver.NamedValue) (map[string]ast.Expr, error) {
	if len(args) == 0 {
		return nil, nil
	}
	b := make(map[string]ast.Expr, len(args))
	for _, a := range args {
		name := a.Name
		if name == "" {
			name = "v" + strconv.Itoa(a.Ordinal)
		}
		v := a.Value
		switch x := v.(type) {
		case time.Time:
			v = x.Format("2006-01-02 15:04:05.999999")
		case uint:
			v = uint64(x)
		}
		bv, err := sqltypes.BuildBindVariable(v)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", name, err)
		}
		val, err := sqltypes.BindVariableToValue(bv)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", name, err)
		}
		if b[name], err = ast.ExprFromValue(val); err != nil {
			return nil, fmt.Errorf("argument %s: %w", name, err)
		}
	}
	return b, nil
}

// QueryContext implements driver.QueryerContext.
func (c *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	b, err := bindings(args)
	if err != nil {
		return nil, err
	}
	rows, err := c.c.Query(ctx, query, b)
	if err != nil {
		return nil, err
	}
	return &Rows{r: rows}, nil
}

// ExecContext implements driver.ExecerContext.
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	b, err := bindings(args)
	if err != nil {
		return nil, err
	}
	res, err := c.c.Exec(ctx, query, b)
	if err != nil {
		return nil, err
	}
	return result{rows: int64(res.RowsAffected), id: int64(res.InsertID)}, nil
}

// Prepare implements driver.Conn.
func (c *Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext implements driver.ConnPrepareContext. The statement is
// parsed and planned when it runs (each execution binds its arguments).
func (c *Conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &Stmt{c: c, query: query}, nil
}

// Begin implements driver.Conn.
func (c *Conn) Begin() (driver.Tx, error) { return c.BeginTx(context.Background(), driver.TxOptions{}) }

// BeginTx implements driver.ConnBeginTx with START TRANSACTION.
func (c *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	q := "START TRANSACTION"
	if opts.ReadOnly {
		q += " READ ONLY"
	}
	if _, err := c.c.Exec(ctx, q, nil); err != nil {
		return nil, err
	}
	return tx{c: c}, nil
}

type tx struct{ c *Conn }

func (t tx) Commit() error {
	_, err := t.c.c.Exec(context.Background(), "COMMIT", nil)
	return err
}

func (t tx) Rollback() error {
	_, err := t.c.c.Exec(context.Background(), "ROLLBACK", nil)
	return err
}

type result struct{ rows, id int64 }

func (r result) LastInsertId() (int64, error) { return r.id, nil }
func (r result) RowsAffected() (int64, error) { return r.rows, nil }

// Stmt is a prepared statement: its text, run with each call's arguments.
type Stmt struct {
	c     *Conn
	query string
}

var (
	_ driver.StmtExecContext  = (*Stmt)(nil)
	_ driver.StmtQueryContext = (*Stmt)(nil)
)

func (s *Stmt) Close() error  { return nil }
func (s *Stmt) NumInput() int { return -1 }

func (s *Stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *Stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *Stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

func (s *Stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

// Rows is a query's result.
type Rows struct {
	r *sqlfuncs.Rows
}

var _ driver.RowsColumnTypeDatabaseTypeName = (*Rows)(nil)

// Columns implements driver.Rows.
func (r *Rows) Columns() []string {
	names := make([]string, len(r.r.Schema))
	for i, c := range r.r.Schema {
		names[i] = c.Name
	}
	return names
}

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *Rows) ColumnTypeDatabaseTypeName(i int) string {
	// "varchar(255)" → "VARCHAR", "double" → "DOUBLE", "json" → "JSON"
	name, _, _ := strings.Cut(r.r.Schema[i].Type.String(), "(")
	name, _, _ = strings.Cut(name, " ")
	return strings.ToUpper(name)
}

// Close implements driver.Rows.
func (r *Rows) Close() error { return r.r.Close() }

// Next implements driver.Rows.
func (r *Rows) Next(dest []driver.Value) error {
	row, err := r.r.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return err
	}
	if types.IsOkResult(row) {
		// Statements without rows (CREATE ADAPTER ... through Query).
		return io.EOF
	}
	for i := range dest {
		if dest[i], err = value(row[i], r.r.Schema[i].Type); err != nil {
			return fmt.Errorf("column %s: %w", r.r.Schema[i].Name, err)
		}
	}
	return nil
}

// value converts an engine value to a database/sql one.
func value(v any, t sql.Type) (driver.Value, error) {
	switch x := v.(type) {
	case nil, int64, float64, bool, []byte, string, time.Time:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
		return strconv.FormatUint(x, 10), nil
	case float32:
		return float64(x), nil
	case decimal.Decimal:
		return x.String(), nil
	}
	// Anything else (JSON, enums, sets, time spans, geometry) in its wire
	// form, the text a MySQL client receives.
	sv, err := t.SQL(sql.NewEmptyContext(), nil, v)
	if err != nil {
		return nil, err
	}
	return sv.ToString(), nil
}
