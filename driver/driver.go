// Package driver is adapterdb's in-process database/sql driver: the same
// engine as the MySQL-wire server (sqlfuncs.Open: PREDICT, PREDICT_PROBA,
// EMBED, the ADAPTER statements, batched plans) without the network.
//
//	import _ "github.com/adapterdb/adapterdb/driver"
//
//	db, err := sql.Open("adapterdb", "file:data.db?model=/models/bert-base&batch=64&files_dir=/srv/adapters")
//
// DSN parameters: model (a Hugging Face checkpoint directory, default the
// embedded demo model), batch (sequences per forward pass, default 64), files_dir
// (where CREATE ADAPTER ... FROM and EXPORT ADAPTER may read and write; default
// none, which refuses them), max_text_bytes (longest text accepted, default
// 1 MiB), max_jobs (background training jobs run at once, default 1; jobs
// run while the database is open: the last DB.Close cancels them).
//
// Every *sql.DB opened on the same model and database file in a process shares
// one loaded featurizer, catalog and SQL engine (reference-counted; the last
// DB.Close releases them), so opening many handles does not reload the model.
// Errors are *mysql.SQLError values (github.com/dolthub/vitess/go/mysql) with
// MySQL error codes, as over the wire.
package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/kernels/cpu"
	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// DriverName is the name the driver registers under.
const DriverName = "adapterdb"

func init() {
	// database/sql's registry is global by design: Register in init is
	// the pattern every driver follows.
	sql.Register(DriverName, &Driver{open: map[string]*shared{}})
}

// Driver opens adapterdb databases. Use it through database/sql.
type Driver struct {
	mu   sync.Mutex
	open map[string]*shared // by model + database file
}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// options are a DSN's settings.
type options struct {
	path     string // database file, absolute
	model    string // checkpoint directory (absolute) or "demo"
	batch    int
	filesDir string
	maxText  int
	maxJobs  int
}

// parseDSN reads "file:PATH?model=DIR&batch=N&files_dir=DIR&max_text_bytes=N".
func parseDSN(dsn string) (options, error) {
	rest, ok := strings.CutPrefix(dsn, "file:")
	if !ok {
		return options{}, fmt.Errorf("adapterdb DSN %q: want file:PATH[?model=DIR&batch=N&files_dir=DIR]", dsn)
	}
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return options{}, fmt.Errorf("adapterdb DSN %q: no database file", dsn)
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return options{}, fmt.Errorf("adapterdb DSN %q: %w", dsn, err)
	}
	o := options{model: "demo", batch: sqlfuncs.DefaultBatchSize, maxText: engine.DefaultMaxTextBytes, maxJobs: sqlfuncs.DefaultMaxJobs}
	if o.path, err = filepath.Abs(path); err != nil {
		return options{}, err
	}
	for k, v := range vals {
		val := v[len(v)-1]
		switch k {
		case "model":
			if val != "" && val != "demo" {
				if o.model, err = filepath.Abs(val); err != nil {
					return options{}, err
				}
			}
		case "batch":
			if o.batch, err = strconv.Atoi(val); err != nil || o.batch < 1 || o.batch > 1<<14 {
				return options{}, fmt.Errorf("adapterdb DSN: batch %q must be an integer in [1, 16384]", val)
			}
		case "files_dir":
			if val != "" {
				if o.filesDir, err = filepath.Abs(val); err != nil {
					return options{}, err
				}
			}
		case "max_text_bytes":
			if o.maxText, err = strconv.Atoi(val); err != nil || o.maxText < 1 {
				return options{}, fmt.Errorf("adapterdb DSN: max_text_bytes %q must be a positive integer", val)
			}
		case "max_jobs":
			if o.maxJobs, err = strconv.Atoi(val); err != nil || o.maxJobs < 1 || o.maxJobs > sqlfuncs.MaxMaxJobs {
				return options{}, fmt.Errorf("adapterdb DSN: max_jobs %q must be an integer in [1, %d]", val, sqlfuncs.MaxMaxJobs)
			}
		default:
			return options{}, fmt.Errorf("adapterdb DSN: unknown parameter %q (model, batch, files_dir, max_text_bytes, max_jobs)", k)
		}
	}
	return o, nil
}

// shared is one loaded database and the connectors using it.
type shared struct {
	key  string
	opts options
	refs int
	sql  *sqlfuncs.DB
}

func load(o options) (*shared, error) {
	log := zerolog.Nop()
	be, err := cpu.New(log, cpu.Options{})
	if err != nil {
		return nil, fmt.Errorf("cpu backend: %w", err)
	}
	db, err := sqlfuncs.Open(sqlfuncs.Options{Path: o.path, Model: o.model, Backend: be, BatchSize: o.batch,
		MaxTextBytes: o.maxText, FilesDir: o.filesDir, MaxJobs: o.maxJobs, Log: log})
	if err != nil {
		return nil, err
	}
	return &shared{opts: o, sql: db}, nil
}

func (s *shared) close() error { return s.sql.Close() }

// acquire returns the shared engine for o, loading it on first use.
func (d *Driver) acquire(o options) (*shared, error) {
	key := o.model + "\x00" + o.path
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.open[key]; ok {
		if s.opts != o {
			return nil, fmt.Errorf("adapterdb: %s is already open with model %s, batch %d, files_dir %q, max_text_bytes %d, max_jobs %d in this process; "+
				"open it with the same settings", o.path, s.opts.model, s.opts.batch, s.opts.filesDir, s.opts.maxText, s.opts.maxJobs)
		}
		s.refs++
		return s, nil
	}
	s, err := load(o)
	if err != nil {
		return nil, err
	}
	s.key, s.refs = key, 1
	d.open[key] = s
	return s, nil
}

func (d *Driver) release(s *shared) error {
	d.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(d.open, s.key)
	}
	d.mu.Unlock()
	if last {
		return s.close()
	}
	return nil
}

// Open implements driver.Driver (database/sql uses OpenConnector).
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := c.Connect(context.Background())
	if err != nil {
		c.(*Connector).Close()
		return nil, err
	}
	// A connection opened without a DB owns its engine reference.
	conn.(*Conn).owner = c.(*Connector)
	return conn, nil
}

// OpenConnector implements driver.DriverContext: the engine is loaded (or
// shared) here, once per sql.DB.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	o, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	s, err := d.acquire(o)
	if err != nil {
		return nil, err
	}
	return &Connector{d: d, s: s}, nil
}

// Connector makes connections to one shared engine. sql.DB.Close calls its
// Close, which releases the engine.
type Connector struct {
	d      *Driver
	s      *shared
	mu     sync.Mutex
	closed bool
}

var _ driver.Connector = (*Connector)(nil)

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("adapterdb: database is closed")
	}
	conn, err := c.s.sql.Connect(ctx, "adapterdb")
	if err != nil {
		return nil, err
	}
	return &Conn{c: conn}, nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.d }

// Close releases the shared engine (the last release closes it).
func (c *Connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.d.release(c.s)
}
