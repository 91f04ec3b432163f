package sqlfuncs

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// In-process connections: what the MySQL server's handler does for a
// connection, without the wire. Each connection is registered in the process
// list, so its queries show in SHOW PROCESSLIST, report progress, and can be
// killed (KILL QUERY id) — and a cancelled Go context cancels the query.

// Conn is an in-process connection to a DB. A Conn runs one query at a
// time, like a MySQL connection.
type Conn struct {
	e    *DB
	id   uint32
	sess sql.Session
	mu   sync.Mutex // one statement at a time
}

// Connect opens an in-process connection as user (for the process list).
func (e *DB) Connect(ctx context.Context, user string) (*Conn, error) {
	id := e.connIDs.Add(1)
	sess, err := e.NewSession(ctx, sql.Client{User: user, Address: "localhost"}, id, "")
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	e.SQL.ProcessList.AddConnection(id, "in-process")
	e.SQL.ProcessList.ConnectionReady(sess)
	return &Conn{e: e, id: id, sess: sess}, nil
}

// ID is the connection id (CONNECTION_ID(), KILL QUERY id).
func (c *Conn) ID() uint32 { return c.id }

// Session is the connection's session.
func (c *Conn) Session() sql.Session { return c.sess }

// Close removes the connection (cancelling a running query).
func (c *Conn) Close() error {
	c.e.SQL.ProcessList.RemoveConnection(c.id)
	c.e.SQL.CloseSession(c.id)
	sql.SessionEnd(c.sess)
	return nil
}

// Rows is a running query's result. Close it: that ends the query (and
// commits an autocommit transaction).
type Rows struct {
	Schema sql.Schema
	ctx    *sql.Context
	iter   sql.RowIter
	conn   *Conn
	closed bool
}

// Query runs one statement. bindings are ? parameters by name (v1, v2, ...).
// The connection is busy until the Rows are closed.
func (c *Conn) Query(ctx context.Context, query string, bindings map[string]ast.Expr) (*Rows, error) {
	c.mu.Lock()
	pl := c.e.SQL.ProcessList
	sctx := sql.NewContext(ctx, sql.WithSession(c.sess), sql.WithPid(c.e.pids.Add(1)), sql.WithProcessList(pl),
		sql.WithMemoryManager(c.e.SQL.MemoryManager), sql.WithQuery(query))
	sctx, err := pl.BeginQuery(sctx, query)
	if err != nil {
		c.mu.Unlock()
		return nil, CastError(err)
	}
	sch, iter, _, err := c.e.SQL.QueryWithBindings(sctx, query, nil, bindings, nil)
	if err != nil {
		pl.EndQuery(sctx)
		c.mu.Unlock()
		return nil, CastError(err)
	}
	return &Rows{Schema: sch, ctx: sctx, iter: iter, conn: c}, nil
}

// Next returns the next row, or io.EOF.
func (r *Rows) Next() (sql.Row, error) {
	if r.closed {
		return nil, io.EOF
	}
	row, err := r.iter.Next(r.ctx)
	if err != nil {
		if err == io.EOF {
			return nil, err
		}
		return nil, CastError(err)
	}
	return row, nil
}

// Close ends the query.
func (r *Rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.iter.Close(r.ctx)
	r.conn.e.SQL.ProcessList.EndQuery(r.ctx)
	r.conn.mu.Unlock()
	if err != nil {
		return CastError(err)
	}
	return nil
}

// Exec runs a statement to completion and returns its OK result (rows
// affected) or the number of rows it returned.
func (c *Conn) Exec(ctx context.Context, query string, bindings map[string]ast.Expr) (types.OkResult, error) {
	rows, err := c.Query(ctx, query, bindings)
	if err != nil {
		return types.OkResult{}, err
	}
	var res types.OkResult
	for {
		row, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			rows.Close()
			return res, err
		}
		if types.IsOkResult(row) {
			res = types.GetOkResult(row)
			continue
		}
		res.RowsAffected++
	}
	return res, rows.Close()
}
