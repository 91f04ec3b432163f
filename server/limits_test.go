package server_test

import (
	"context"
	gosql "database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
)

// silentSocket connects and never speaks: it reads the server's greeting,
// then waits for the server to close the connection.
func silentSocket(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin waits for the server to close c, reading (and discarding)
// whatever it sends first.
func closedWithin(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if err != nil {
		return fmt.Errorf("not closed by the server within %v: %w", d, err)
	}
	return nil
}

// pinned opens n pinned, logged-in connections.
func pinned(t *testing.T, db *gosql.DB, n int) []*gosql.Conn {
	t.Helper()
	var out []*gosql.Conn
	for range n {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestConnectTimeout: sockets that never log in are closed after
// connect_timeout and take no logged-in client's slot; past max_connections
// of them a new socket gets 1040; once they are gone real clients get in.
func TestConnectTimeout(t *testing.T) {
	const connect = 400 * time.Millisecond
	ts := startServer(t, serverOpts{maxConns: 3, connect: connect})
	start := time.Now()
	idle := []net.Conn{silentSocket(t, ts.srv.Addr()), silentSocket(t, ts.srv.Addr())}
	db := ts.open("root", "", "")
	held := pinned(t, db, 1)[0] // gets in while the silent sockets are open
	idle = append(idle, silentSocket(t, ts.srv.Addr()))
	time.Sleep(50 * time.Millisecond) // the server has accepted them
	mysqlErr(t, db.Ping(), 1040, "Too many connections")

	for i, c := range idle {
		if err := closedWithin(c, 5*time.Second); err != nil {
			t.Fatalf("silent socket %d: %v", i, err)
		}
	}
	if waited := time.Since(start); waited < connect {
		t.Fatalf("silent sockets closed after %v, before connect_timeout %v", waited, connect)
	}
	var err error
	for range 50 { // the server notices the closes a moment later
		if err = db.Ping(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("real client after the silent sockets timed out: %v", err)
	}
	// A logged-in client is not held to connect_timeout.
	time.Sleep(connect)
	if err := held.PingContext(context.Background()); err != nil {
		t.Fatalf("logged-in client after connect_timeout: %v", err)
	}
}

// TestTooManyConnections: the client past --max-connections gets 1040, and
// a slot freed is a slot a new client can use.
func TestTooManyConnections(t *testing.T) {
	ts := startServer(t, serverOpts{maxConns: 2})
	db := ts.open("root", "", "")
	db.SetMaxIdleConns(0) // a connection closed is a socket closed
	held := pinned(t, db, 2)
	_, err := db.Conn(context.Background())
	mysqlErr(t, err, 1040, "Too many connections")
	var me *mysqldrv.MySQLError
	errors.As(err, &me)
	if me.SQLState != [5]byte{'0', '8', '0', '0', '4'} {
		t.Errorf("SQLSTATE %s, want 08004", me.SQLState)
	}
	row := held[0].QueryRowContext(context.Background(), "SELECT @@max_connections")
	var n int
	if err := row.Scan(&n); err != nil || n != 2 {
		t.Errorf("@@max_connections = %d (%v), want 2", n, err)
	}
	held[1].Close()
	for range 50 {
		if err = db.Ping(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after a client left: %v", err)
	}
}

// TestWaitTimeout: a logged-in connection idle for wait_timeout is closed,
// a query running longer than it is not cut, and SET SESSION wait_timeout
// applies to that session.
func TestWaitTimeout(t *testing.T) {
	const wait = 500 * time.Millisecond
	ts := startServer(t, serverOpts{wait: wait, connect: 3 * time.Second})
	db := ts.open("root", "", "")
	c := pinned(t, db, 1)[0]
	var w, ct int
	if err := c.QueryRowContext(context.Background(), "SELECT @@wait_timeout, @@connect_timeout").Scan(&w, &ct); err != nil {
		t.Fatal(err)
	}
	if w != 1 || ct != 3 {
		t.Errorf("@@wait_timeout, @@connect_timeout = %d, %d; want 1, 3", w, ct)
	}
	var slept int
	if err := c.QueryRowContext(context.Background(), "SELECT SLEEP(1.2)").Scan(&slept); err != nil {
		t.Fatalf("a query longer than wait_timeout: %v", err)
	}
	if err := c.PingContext(context.Background()); err != nil {
		t.Fatalf("right after a long query: %v", err)
	}
	time.Sleep(3 * wait)
	if _, err := c.ExecContext(context.Background(), "SELECT 1"); err == nil {
		t.Fatalf("connection idle for %v still open with wait_timeout %v", 3*wait, wait)
	}
	c.Close()

	// The session's own value.
	ts = startServer(t, serverOpts{})
	db = ts.open("root", "", "")
	c = pinned(t, db, 1)[0]
	if err := c.QueryRowContext(context.Background(), "SELECT @@wait_timeout").Scan(&w); err != nil || w != 28800 {
		t.Fatalf("default @@wait_timeout = %d (%v), want 28800", w, err)
	}
	if _, err := c.ExecContext(context.Background(), "SET SESSION wait_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	if err := c.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := c.ExecContext(context.Background(), "SELECT 1"); err == nil {
		t.Fatal("connection idle for 1.5 s still open after SET SESSION wait_timeout = 1")
	}
	c.Close()
}

// TestAccessDeniedSameForm: an unknown user and a known one with a wrong
// password get the same answer, so a refusal does not tell which names
// exist.
func TestAccessDeniedSameForm(t *testing.T) {
	ts := startServer(t, serverOpts{})
	root := ts.open("root", "", "")
	mustExec(t, root, "CREATE USER 'alice'@'%' IDENTIFIED BY 'secret'")
	mustExec(t, root, "GRANT SELECT ON *.* TO 'alice'@'%'")
	msg := func(user, pw string) string {
		t.Helper()
		err := ts.open(user, pw, "").Ping()
		var me *mysqldrv.MySQLError
		if !errors.As(err, &me) || me.Number != 1045 || string(me.SQLState[:]) != "28000" {
			t.Fatalf("%s/%q: %v, want 1045 (28000)", user, pw, err)
		}
		return me.Message
	}
	for _, pw := range []string{"wrong", ""} {
		using := map[bool]string{true: "YES", false: "NO"}[pw != ""]
		known, unknown := msg("alice", pw), msg("ghost", pw)
		want := fmt.Sprintf("Access denied for user 'alice'@'127.0.0.1' (using password: %s)", using)
		if known != want {
			t.Errorf("known user, password %q: %q, want %q", pw, known, want)
		}
		if strings.Replace(unknown, "'ghost'", "'alice'", 1) != known {
			t.Errorf("unknown user %q and known user %q answered differently", unknown, known)
		}
	}
	if err := ts.open("alice", "secret", "").Ping(); err != nil {
		t.Fatalf("alice with her password: %v", err)
	}
}

// TestSetGlobalTimeouts: SET GLOBAL of the limits' variables (process-wide
// in go-mysql-server) neither breaks new sessions nor changes the limits.
func TestSetGlobalTimeouts(t *testing.T) {
	ts := startServer(t, serverOpts{wait: 2 * time.Second})
	db := ts.open("root", "", "")
	mustExec(t, db, "SET GLOBAL wait_timeout = 100, GLOBAL connect_timeout = 20")
	t.Cleanup(func() { mustExec(t, db, "SET GLOBAL wait_timeout = 28800, GLOBAL connect_timeout = 10") })
	db.SetMaxIdleConns(0)
	c := pinned(t, db, 1)[0] // a new session
	var w int
	if err := c.QueryRowContext(context.Background(), "SELECT @@wait_timeout").Scan(&w); err != nil || w != 2 {
		t.Fatalf("@@wait_timeout = %d (%v), want the server's 2", w, err)
	}
	c.Close()
}
