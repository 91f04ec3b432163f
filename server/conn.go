package server

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/netutil"
	"github.com/rs/zerolog"
)

// Connection limits, as MySQL applies them: a client must log in within
// connect_timeout of connecting, a logged-in client idle between commands
// for wait_timeout is disconnected, and the client that logs in beyond
// max_connections sessions gets error 1040 in place of its OK. go-mysql-
// server's listener has none of the first two (its read timeout also bounds
// running queries) and makes clients past its limit wait silently, so
// adapterdb wraps the net.Listener it is given.
//
// Sockets still logging in do not take sessions' slots, so silent sockets
// cannot lock logged-in users out; they are bounded by connect_timeout and
// by max_connections of their own, past which a new socket gets 1040 in
// place of the server's greeting. (The error comes after the login for the
// sessions' limit because clients that prefer TLS, the mariadb client among
// them, distrust an error sent before the handshake.)

const (
	// DefaultConnectTimeout is MySQL's connect_timeout default.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultWaitTimeout is MySQL's wait_timeout default.
	DefaultWaitTimeout = 8 * time.Hour
)

// limitListener counts open connections and sessions, refuses those beyond
// max with 1040, and gives each connection a handshake deadline.
type limitListener struct {
	net.Listener
	max      uint64 // 0: no limit
	connect  time.Duration
	wait     time.Duration
	log      zerolog.Logger
	open     atomic.Int64 // sockets accepted and not closed
	sessions atomic.Int64 // of them, logged in
	full     atomic.Bool  // the limit of sockets logging in was hit (logged once)
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.max > 0 && uint64(l.open.Load()-l.sessions.Load()) >= l.max {
			if l.full.CompareAndSwap(false, true) {
				l.log.Warn().Uint64("max_connections", l.max).Msg("too many connections logging in: refusing new sockets with 1040")
			}
			go refuse(c)
			continue
		}
		l.full.Store(false)
		l.open.Add(1)
		cc := &clientConn{Conn: c, l: l, wait: l.wait}
		// The handshake deadline covers writes too: a client that connects
		// and never reads must not hold a slot either.
		if err := c.SetDeadline(time.Now().Add(l.connect)); err != nil {
			cc.Close()
			continue
		}
		return cc, nil
	}
}

// errTooManyConnections is MySQL's ER_CON_COUNT_ERROR.
func errTooManyConnections() *mysql.SQLError {
	return mysql.NewSQLError(mysql.ERConCount, "08004", "Too many connections")
}

// tooManyConnections is the ERR packet MySQL sends in place of its greeting
// when it refuses a socket: sequence 0, 1040, SQLSTATE 08004.
func tooManyConnections() []byte {
	e := errTooManyConnections()
	payload := make([]byte, 0, 9+len(e.Message))
	payload = append(payload, mysql.ErrPacket)
	payload = binary.LittleEndian.AppendUint16(payload, uint16(e.Num))
	payload = append(payload, '#')
	payload = append(payload, e.State...)
	payload = append(payload, e.Message...)
	hdr := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), 0}
	return append(hdr, payload...)
}

// refuse answers a connection past the limit with 1040 and closes it.
func refuse(c net.Conn) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(tooManyConnections())
}

// clientConn is one client's socket. Until login it carries the accept-time
// deadline; after login each read (the wait for the next command) gets the
// session's wait_timeout, cleared when the read returns so that a long
// query (and the disconnect watcher's peeks) never meets a stale deadline.
type clientConn struct {
	net.Conn
	l        *limitListener
	loggedIn atomic.Bool
	mu       sync.Mutex // login against Close (closeAll at shutdown)
	closed   bool

	wait time.Duration // configured wait_timeout
	// session and its wait_timeout as initialised, once the session exists:
	// SET SESSION wait_timeout changes the value read here.
	sess     atomic.Pointer[sessionVars]
	timedOut atomic.Bool
}

type sessionVars struct {
	ctx      *sql.Context
	initSecs int64
}

// login takes a session slot, or answers 1040 when none is free, and
// switches the connection from the handshake deadline to the idle timeout.
func (c *clientConn) login() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loggedIn.Load() {
		return nil
	}
	if c.closed {
		return net.ErrClosed
	}
	if n := c.l.sessions.Add(1); c.l.max > 0 && uint64(n) > c.l.max {
		c.l.sessions.Add(-1)
		c.l.log.Warn().Str("remote", c.RemoteAddr().String()).Uint64("max_connections", c.l.max).
			Msg("too many connections: login refused with 1040")
		return errTooManyConnections()
	}
	c.loggedIn.Store(true)
	c.Conn.SetDeadline(time.Time{})
	return nil
}

// idle is the current wait_timeout of the connection.
func (c *clientConn) idle() time.Duration {
	sv := c.sess.Load()
	if sv == nil {
		return c.wait
	}
	v, err := sv.ctx.GetSessionVariable(sv.ctx, "wait_timeout")
	if err != nil {
		return c.wait
	}
	secs, ok := v.(int64)
	if !ok || secs == sv.initSecs {
		return c.wait // unchanged: the configured duration, sub-second ones included
	}
	return time.Duration(secs) * time.Second
}

func (c *clientConn) Read(b []byte) (int, error) {
	if !c.loggedIn.Load() {
		n, err := c.Conn.Read(b)
		if errors.Is(err, os.ErrDeadlineExceeded) && c.timedOut.CompareAndSwap(false, true) {
			c.l.log.Info().Str("remote", c.RemoteAddr().String()).Dur("connect_timeout_ms", c.l.connect).
				Msg("closing a connection that did not log in within connect_timeout")
		}
		return n, err
	}
	idle := c.idle()
	c.Conn.SetReadDeadline(time.Now().Add(idle))
	n, err := c.Conn.Read(b)
	c.Conn.SetReadDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) && c.timedOut.CompareAndSwap(false, true) {
		c.l.log.Info().Str("remote", c.RemoteAddr().String()).Dur("wait_timeout_ms", idle).
			Msg("closing a connection idle for longer than wait_timeout")
	}
	return n, err
}

func (c *clientConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	if c.loggedIn.Load() {
		c.l.sessions.Add(-1)
	}
	c.l.open.Add(-1)
	c.mu.Unlock()
	return c.Conn.Close()
}

// clientConnOf finds adapterdb's connection under vitess's wrappers.
func clientConnOf(c net.Conn) *clientConn {
	if w, ok := c.(netutil.ConnWithTimeouts); ok {
		c = w.Conn
	}
	if w, ok := c.(*netutil.ConnWithTimeouts); ok {
		c = w.Conn
	}
	cc, _ := c.(*clientConn)
	return cc
}
