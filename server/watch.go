package server

import (
	"net"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/netutil"
	"github.com/rs/zerolog"
)

// A client that disconnects while its query runs should not leave the query
// running (a long CREATE ADAPTER would train on for nobody). go-mysql-server
// notices only while it streams result rows; this watcher covers every query:
// it peeks at the socket while the query runs and kills the query when the
// client is gone.

// watchEvery is how often a running query's connection is checked.
const watchEvery = 200 * time.Millisecond

func tcpConn(c net.Conn) (*net.TCPConn, bool) {
	if w, ok := c.(netutil.ConnWithTimeouts); ok {
		c = w.Conn
	}
	if w, ok := c.(*netutil.ConnWithTimeouts); ok {
		c = w.Conn
	}
	if w, ok := c.(*clientConn); ok {
		c = w.Conn
	}
	t, ok := c.(*net.TCPConn)
	return t, ok
}

// watch checks c until the returned stop is called; if the client goes
// away first, it kills the connection's running query. The first check
// comes after watchEvery, from a timer: nearly every query ends before it,
// and a goroutine per query (started, then woken to stop) cost a one-row
// PREDICT two wake-ups on a busy core.
func watch(c *mysql.Conn, pl sql.ProcessList, log zerolog.Logger) (stop func()) {
	if _, ok := tcpConn(c.Conn); !ok {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	check := func() {
		closed, ok := peerClosed(c.Conn)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case stopped:
		case ok && closed:
			log.Info().Uint32("connection", c.ConnectionID).Msg("client disconnected: cancelling its query")
			pl.Kill(c.ConnectionID)
		default:
			t.Reset(watchEvery)
		}
	}
	mu.Lock()
	t = time.AfterFunc(watchEvery, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}
