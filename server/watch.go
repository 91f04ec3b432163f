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
// away first, it kills the connection's running query.
func watch(c *mysql.Conn, pl sql.ProcessList, log zerolog.Logger) (stop func()) {
	if _, ok := peerClosed(c.Conn); !ok {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			closed, ok := peerClosed(c.Conn)
			if !ok || !closed {
				continue
			}
			mu.Lock()
			if !stopped {
				log.Info().Uint32("connection", c.ConnectionID).Msg("client disconnected: cancelling its query")
				pl.Kill(c.ConnectionID)
			}
			mu.Unlock()
			return
		}
	}()
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		close(done)
	}
}
