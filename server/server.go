// Package server is adapterdb's MySQL-wire server: go-mysql-server's server
// and engine (built by sqlfuncs.Open) with user accounts kept in the
// database file, a refusal to listen beyond loopback without a password, and a
// clean shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gmsserver "github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// Version is the server version clients see (MySQL 8.0 dialect).
const Version = "8.0.31-adapterdb"

// Config configures a Server.
type Config struct {
	// DB is the SQL database the server serves; Shutdown closes it.
	DB *sqlfuncs.DB
	// Listen is host:port ("127.0.0.1:3306"); port 0 picks a free one.
	Listen string
	// RootPassword, if set, becomes the password of root@localhost and
	// root@% (created if missing).
	RootPassword string
	// MaxConnections bounds logged-in clients (0: no bound): the next to
	// log in gets 1040 "Too many connections". Sockets still logging in are
	// bounded apart, to as many again (see conn.go).
	MaxConnections uint64
	// ConnectTimeout is how long a client has to log in (MySQL's
	// connect_timeout; default 10 s).
	ConnectTimeout time.Duration
	// WaitTimeout closes a logged-in connection idle between commands for
	// this long (MySQL's wait_timeout; default 8 h). A session may change
	// its own with SET SESSION wait_timeout.
	WaitTimeout time.Duration
	// ShutdownGrace is how long Shutdown lets running queries finish before
	// cancelling them (default 10 s).
	ShutdownGrace time.Duration
	Log           zerolog.Logger
}

// Server is a running MySQL-wire server.
type Server struct {
	cfg     Config
	srv     *gmsserver.Server
	ln      net.Listener
	log     zerolog.Logger
	events  *events
	handler *handler
	closed  atomic.Bool
}

// New sets up accounts, checks that the address may be exposed, and listens.
// Serve then accepts connections.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DB == nil {
		return nil, errors.New("server: no engine")
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = DefaultWaitTimeout
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		// Before the exposure check, which would read a bad address as one
		// beyond loopback.
		return nil, fmt.Errorf("listen %q: %w (want host:port, e.g. 127.0.0.1:3306; port 0 picks a free one)", cfg.Listen, err)
	}
	e := cfg.DB
	mdb := e.SQL.Analyzer.Catalog.MySQLDb
	store := &accountStore{db: e.Registry().Catalog().DB(), log: cfg.Log}
	if err := setupAccounts(ctx, mdb, store, cfg.RootPassword); err != nil {
		return nil, err
	}
	if err := checkExposure(cfg.Listen, mdb); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	lim := &limitListener{Listener: ln, max: cfg.MaxConnections, connect: cfg.ConnectTimeout, wait: cfg.WaitTimeout, log: cfg.Log}
	s := &Server{cfg: cfg, ln: ln, log: cfg.Log, events: &events{}}
	sessions := func(ctx context.Context, conn *mysql.Conn, addr string) (sql.Session, error) {
		client := sql.Client{Capabilities: conn.Capabilities}
		if u, ok := conn.UserData.(sql.MysqlConnectionUser); ok {
			client.User, client.Address = u.User, u.Host
		}
		sess, err := e.NewSession(ctx, client, conn.ConnectionID, addr)
		if err != nil {
			return nil, err
		}
		sv := s.initLimits(sess)
		if cc := clientConnOf(conn.Conn); cc != nil {
			cc.sess.Store(sv)
		}
		return sess, nil
	}
	wrap := func(h mysql.Handler) (mysql.Handler, error) {
		s.handler = &handler{Handler: h, pl: e.SQL.ProcessList, defaultDB: e.Provider.DefaultDatabase(), log: cfg.Log, conns: map[uint32]*mysql.Conn{}, ready: map[uint32]bool{}}
		return s.handler, nil
	}
	// The limits live in lim and the account checks in authServer; vitess's
	// own MaxConns would queue clients silently instead of answering 1040.
	listener := func(gcfg gmsserver.Config, lcfg mysql.ListenerConfig, sel gmsserver.ServerEventListener) (gmsserver.ProtocolListener, error) {
		lcfg.AuthServer = newAuthServer(lcfg.AuthServer, cfg.Log)
		return gmsserver.MySQLProtocolListenerFactory(gcfg, lcfg, sel)
	}
	srv, err := gmsserver.NewServerWithHandler(gmsserver.Config{Protocol: "tcp", Address: ln.Addr().String(), Listener: lim,
		Version: Version, ProtocolListenerFactory: listener}, e.SQL, sql.NewContext, sessions, s.events, wrap)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	s.srv = srv
	return s, nil
}

// initLimits shows the connection limits as the session's system variables
// (@@connect_timeout, @@wait_timeout, @@max_connections), per server rather
// than in go-mysql-server's process-wide globals. Sub-second timeouts (tests)
// show as whole seconds within each variable's range. go-mysql-server takes
// a new session's values from its globals and refuses to initialise one that
// SET GLOBAL changed: wait_timeout is then set as a session value, and a
// global-only variable shows what SET GLOBAL gave it (the limits stay the
// server's).
func (s *Server) initLimits(sess sql.Session) *sessionVars {
	// Kept for the connection's reads: no query's context.
	sctx := sql.NewContext(context.Background(), sql.WithSession(sess))
	secs := func(d time.Duration, lo int64) int64 {
		return max(int64((d+time.Second-1)/time.Second), lo)
	}
	vars := map[string]int64{"connect_timeout": secs(s.cfg.ConnectTimeout, 2), "wait_timeout": secs(s.cfg.WaitTimeout, 1)}
	if s.cfg.MaxConnections > 0 {
		vars["max_connections"] = int64(min(s.cfg.MaxConnections, 100000))
	}
	for name, v := range vars {
		err := sess.InitSessionVariable(sctx, name, v)
		if err != nil && name == "wait_timeout" {
			err = sess.SetSessionVariable(sctx, name, v)
		}
		if err != nil {
			s.log.Debug().Err(err).Str("variable", name).Msg("session variable keeps its global value")
		}
	}
	// The session's value as it starts stands for the configured duration.
	sv := &sessionVars{ctx: sctx, initSecs: vars["wait_timeout"]}
	if v, err := sess.GetSessionVariable(sctx, "wait_timeout"); err == nil {
		if n, ok := v.(int64); ok {
			sv.initSecs = n
		}
	}
	return sv
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Shutdown.
func (s *Server) Serve() error {
	s.log.Info().Str("listen", s.ln.Addr().String()).Int("batch", s.cfg.DB.BatchSize()).
		Str("files_dir", s.cfg.DB.FilesDir()).Msg("serving MySQL protocol")
	return s.srv.Start()
}

// Shutdown stops accepting connections, lets running queries finish for the
// grace period (or until ctx ends), cancels those still running (they return
// 1317), closes client connections and the engine. The registry (featurizer
// and database file) stays open for the caller to close.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.srv.Close()
	running := s.events.running.Load()
	s.log.Info().Int64("running", running).Dur("grace_ms", s.cfg.ShutdownGrace).Msg("shutting down: no new connections")
	grace, cancel := context.WithTimeout(ctx, s.cfg.ShutdownGrace)
	defer cancel()
	s.waitIdle(grace)
	if n := s.events.running.Load(); n > 0 {
		pl := s.cfg.DB.SQL.ProcessList
		for _, p := range pl.Processes() {
			if p.Command == sql.ProcessCommandQuery {
				s.log.Warn().Uint32("connection", p.Connection).Str("query", p.Query).Msg("cancelling query at shutdown")
				pl.Kill(p.Connection)
			}
		}
		wait, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.waitIdle(wait)
		cancel()
	}
	closed := s.handler.closeAll(10 * time.Second)
	if closed > 0 {
		s.log.Info().Int("connections", closed).Msg("closed client connections")
	}
	err := s.cfg.DB.Close()
	if errors.Is(err, context.Canceled) {
		err = nil // how go-mysql-server's background threads report stopping
	}
	s.log.Info().Msg("server stopped")
	return err
}

// waitIdle waits until no query runs or ctx ends.
func (s *Server) waitIdle(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.events.running.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// events counts connections and running queries (go-mysql-server reports
// every COM_QUERY and COM_STMT_EXECUTE, result streaming included).
type events struct {
	connections atomic.Int64
	running     atomic.Int64
}

func (e *events) ClientConnected()                   { e.connections.Add(1) }
func (e *events) ClientDisconnected()                { e.connections.Add(-1) }
func (e *events) QueryStarted()                      { e.running.Add(1) }
func (e *events) QueryCompleted(bool, time.Duration) { e.running.Add(-1) }

// handler wraps go-mysql-server's connection handler: it tracks connections
// (to close them at shutdown), logs them, and reports cancelled queries as
// 1317 ER_QUERY_INTERRUPTED as MySQL does (go-mysql-server says 1105 "context
// canceled" for queries killed inside its own iterators).
type handler struct {
	mysql.Handler
	pl        sql.ProcessList
	defaultDB string
	log       zerolog.Logger
	mu        sync.Mutex
	conns     map[uint32]*mysql.Conn
	ready     map[uint32]bool // connections whose session is registered
}

func (h *handler) NewConnection(c *mysql.Conn) {
	h.mu.Lock()
	h.conns[c.ConnectionID] = c
	h.mu.Unlock()
	h.log.Debug().Uint32("connection", c.ConnectionID).Str("remote", c.RemoteAddr().String()).Msg("connection opened")
	h.Handler.NewConnection(c)
}

func (h *handler) ConnectionClosed(c *mysql.Conn) {
	h.log.Debug().Uint32("connection", c.ConnectionID).Str("user", c.User).Msg("connection closed")
	h.Handler.ConnectionClosed(c) // ends the session: its open transaction rolls back
	h.mu.Lock()
	delete(h.conns, c.ConnectionID)
	delete(h.ready, c.ConnectionID)
	h.mu.Unlock()
}

// ComInitDB is called when a client names a database at connect time or
// with USE (COM_INIT_DB).
func (h *handler) ComInitDB(c *mysql.Conn, schemaName string) error {
	err := h.Handler.ComInitDB(c, schemaName)
	if err == nil {
		h.mu.Lock()
		h.ready[c.ConnectionID] = true
		h.mu.Unlock()
	}
	return err
}

// initSession selects the default database for a client that named none
// before its first command: go-mysql-server registers the session's user and
// database in the process list only on COM_INIT_DB (else SHOW PROCESSLIST
// says "unauthenticated user").
func (h *handler) initSession(c *mysql.Conn) {
	h.mu.Lock()
	done := h.ready[c.ConnectionID]
	h.ready[c.ConnectionID] = true
	h.mu.Unlock()
	if !done {
		if err := h.Handler.ComInitDB(c, h.defaultDB); err != nil {
			h.log.Debug().Err(err).Uint32("connection", c.ConnectionID).Msg("default database")
		}
	}
}

func (h *handler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	h.initSession(c)
	stop := watch(c, h.pl, h.log)
	defer stop()
	return h.mapErr(c, h.Handler.ComQuery(ctx, c, query, withoutInfo(callback)))
}

func (h *handler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	h.initSession(c)
	stop := watch(c, h.pl, h.log)
	defer stop()
	rem, err := h.Handler.ComMultiQuery(ctx, c, query, withoutInfo(callback))
	return rem, h.mapErr(c, err)
}

func (h *handler) ComPrepare(ctx context.Context, c *mysql.Conn, query string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	h.initSession(c)
	return h.Handler.ComPrepare(ctx, c, query, prepare)
}

func (h *handler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	h.initSession(c)
	stop := watch(c, h.pl, h.log)
	defer stop()
	return h.mapErr(c, h.Handler.ComStmtExecute(ctx, c, prepare, callback))
}

// withoutInfo drops the info string of OK packets ("Statement prepared",
// "Rows matched: ..."). vitess writes it as '#' and the text, while MySQL
// servers write a length-prefixed string and libmysqlclient and libmariadb
// read one: they take '#' as a length of 35, so a shorter text ("Statement
// prepared" after PREPARE) is a malformed packet (2027) and a longer one
// arrives cut. An OK packet without info is valid for every client.
func withoutInfo(callback mysql.ResultSpoolFn) mysql.ResultSpoolFn {
	return func(res *sqltypes.Result, more bool) error {
		if res != nil && res.Info != "" && len(res.Fields) == 0 {
			cp := *res
			cp.Info = ""
			res = &cp
		}
		return callback(res, more)
	}
}

func (h *handler) mapErr(c *mysql.Conn, err error) error {
	if err == nil {
		return nil
	}
	var se *mysql.SQLError
	if errors.Is(err, context.Canceled) || errors.As(err, &se) && se.Num == mysql.ERUnknownError && se.Message == context.Canceled.Error() {
		err = sqlfuncs.ErrInterrupted()
	}
	h.log.Debug().Uint32("connection", c.ConnectionID).Err(err).Msg("query failed")
	return err
}

// closeAll closes every client connection, waits up to wait for their
// sessions to end, and reports how many it closed.
func (h *handler) closeAll(wait time.Duration) int {
	h.mu.Lock()
	conns := make([]*mysql.Conn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	// Each connection's goroutine then ends its session, rolling back an
	// open transaction on the database file: the caller closes that file
	// next, and a rollback on a closed SQLite connection crashed the
	// process (TestShutdown, once).
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		h.mu.Lock()
		n := len(h.conns)
		h.mu.Unlock()
		if n == 0 {
			break
		}
	}
	return len(conns)
}
