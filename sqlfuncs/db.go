// Package sqlfuncs is adapterdb's SQL layer on go-mysql-server: the
// PREDICT, PREDICT_PROBA and EMBED functions, the analyzer rule and plan node
// that evaluate them in batches, the adapter statements (CREATE / EXPORT /
// DROP ADAPTER, SHOW ADAPTERS) with their parser, file confinement, in-process
// sessions and the read-only adapterdb.adapters table. Open assembles the whole
// stack — featurizer, catalog file, adapter registry, SQL engine — for the
// MySQL-wire server (package server), the database/sql driver (package driver)
// and the CLI alike.
package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/catalog/sqlstore"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/kernels"
)

// DefaultBatchSize is the sequences per forward pass when none is given.
const DefaultBatchSize = 64

// Options configure Open: everything a database needs, in one place for the
// server, the driver and the CLI.
type Options struct {
	// Path is the database file (created if missing).
	Path string
	// Model is a Hugging Face checkpoint directory, or "demo".
	Model string
	// Backend runs the kernels (kernels/cpu.New, or kernels/cuda): the
	// caller chooses; Open takes ownership of nothing but what it builds.
	Backend kernels.Backend
	// TrainBackend trains adapters when Backend cannot (engine.Config).
	TrainBackend kernels.Trainer
	// BatchSize is the sequences per forward pass (default 64), the one
	// batching knob: the engine cuts every request into passes of this size,
	// and a BatchInfer node reads this many rows in its first window.
	BatchSize int
	// MaxTextBytes refuses longer texts (default 1 MiB).
	MaxTextBytes int
	// FilesDir is the directory file statements may use ("" refuses them).
	FilesDir string
	// CacheBytes bounds the decoded-adapter cache (0: the registry's default).
	CacheBytes int64
	// MaxJobs is how many background training jobs run at once (default
	// DefaultMaxJobs); the others wait, queued (jobs.go).
	MaxJobs int
	Log     zerolog.Logger
}

// Open builds the stack — the featurizer (engine.Open), the catalog file,
// the adapter registry and the SQL engine — and returns the SQL database that
// owns it: Close releases everything.
func Open(o Options) (*DB, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	eng, err := engine.Open(engine.Config{Model: o.Model, Backend: o.Backend, TrainBackend: o.TrainBackend, Log: o.Log, BatchSize: o.BatchSize, MaxTextBytes: o.MaxTextBytes})
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Open(o.Path, o.Log)
	if err != nil {
		eng.Close()
		return nil, err
	}
	db, err := New(Config{Registry: registry.New(eng, cat, o.Log, o.CacheBytes), FilesDir: o.FilesDir, MaxJobs: o.MaxJobs, Log: o.Log})
	if err != nil {
		cat.Close()
		eng.Close()
		return nil, err
	}
	db.owned = []io.Closer{cat, eng}
	return db, nil
}

// Config configures New, for callers that share one registry between
// databases (tests); everyone else calls Open.
type Config struct {
	// Registry is the featurizer and the adapter catalog. User tables live
	// in the registry's catalog file too (package catalog's provider). Its
	// engine's batch size is the SQL layer's too.
	Registry *registry.Registry
	// FilesDir is the directory statements may read and write files in; ""
	// refuses such statements.
	FilesDir string
	// MaxJobs is how many background training jobs run at once (0: the
	// default).
	MaxJobs int
	Log     zerolog.Logger
}

// DB is a SQL database: a go-mysql-server engine with adapterdb's
// functions, rule, statements and parser over one catalog file.
type DB struct {
	SQL *sqle.Engine
	// Provider serves the user databases of the catalog file and the
	// read-only adapterdb database.
	Provider *sqlstore.Provider
	svc      *service
	owned    []io.Closer // what Open built, closed after the SQL engine
	close    sync.Once
	closeErr error
	// In-process connection ids and query pids start high, so they do not
	// meet a server's if one engine ever serves both.
	connIDs atomic.Uint32
	pids    atomic.Uint64
}

// New builds the SQL database on a registry. The caller keeps ownership of
// the registry.
func New(cfg Config) (*DB, error) {
	if cfg.Registry == nil {
		return nil, fmt.Errorf("sql engine: a registry is required")
	}
	if cfg.FilesDir != "" {
		abs, err := filepath.Abs(cfg.FilesDir)
		if err != nil {
			return nil, fmt.Errorf("files directory %s: %w", cfg.FilesDir, err)
		}
		cfg.FilesDir = abs
	}
	if err := fileVariables(); err != nil {
		return nil, fmt.Errorf("file variables: %w", err)
	}
	svc := &service{reg: cfg.Registry, log: cfg.Log, batch: cfg.Registry.Engine().BatchSize(), filesDir: cfg.FilesDir}
	// adapterdb.adapters shows each account the adapters it may see (grants.go).
	pro, err := sqlstore.NewProvider(cfg.Registry.Catalog(), sqlstore.ProviderOptions{
		Extra: []sql.Database{&catalogDB{reg: cfg.Registry, svc: svc}}})
	if err != nil {
		return nil, err
	}
	// The provider is wrapped so that LOAD_FILE resolves to adapterdb's
	// confined version (files_exec.go) in every statement, view and trigger.
	a := sqlstore.InstallRules(analyzer.NewBuilder(fileFuncProvider{pro, svc})).AddPostValidationRule(batchRuleID, svc.batchRule).
		AddPostValidationRule(privRuleID, svc.privRule).Build()
	svc.cat = a.Catalog
	// The override builder is consulted first for every node; it builds
	// BatchInfer and leaves the rest to the base builder, which wraps it.
	ov := &execBuilder{svc: svc}
	// File statements (LOAD DATA, SELECT ... INTO OUTFILE/DUMPFILE) are
	// built by fileBuilder, which confines them to this engine's directory.
	a.ExecBuilder = rowexec.NewOverrideBuilder(fileBuilder{svc: svc, next: ov})
	ov.base = a.ExecBuilder
	svc.exec = a.ExecBuilder
	e := sqle.New(a, &sqle.Config{})
	p := &Parser{base: sql.NewMysqlParser(), svc: svc}
	e.Parser, a.Parser = p, p
	a.Catalog.RegisterFunction(sql.NewEmptyContext(), functions(svc)...)
	db := &DB{SQL: e, Provider: pro, svc: svc}
	db.connIDs.Store(1 << 30)
	db.pids.Store(1 << 40)
	svc.jobs = newJobRunner(cfg.Registry.Catalog(), cfg.Log, cfg.MaxJobs, e.ProcessList,
		func() uint32 { return db.connIDs.Add(1) }, func() uint64 { return db.pids.Add(1) })
	return db, nil
}

// NewSession makes a connection's session; it starts in the default
// database (main).
func (e *DB) NewSession(ctx context.Context, client sql.Client, id uint32, addr string) (sql.Session, error) {
	return e.Provider.SessionFunc()(ctx, client, id, addr)
}

// Registry is the featurizer and catalog the engine runs on.
func (e *DB) Registry() *registry.Registry { return e.svc.reg }

// BatchSize is the sequences per forward pass.
func (e *DB) BatchSize() int { return e.svc.batch }

// FilesDir is the directory file statements are confined to ("" none).
func (e *DB) FilesDir() string { return e.svc.filesDir }

// Close cancels running queries and background jobs (they end failed,
// "server stopped before the job finished", and nothing they trained is
// stored), stops the engine's background work and
// releases the provider's connections, then closes what Open built (the
// catalog file, the featurizer). A registry given to New stays open. Later
// calls return the first one's result.
func (e *DB) Close() error {
	e.close.Do(func() {
		// Background jobs first: each records that the server stopped,
		// in the catalog file, which is still open.
		e.svc.jobs.close()
		err := e.SQL.Close()
		if errors.Is(err, context.Canceled) {
			// go-mysql-server reports the background threads' context,
			// which its own shutdown just cancelled: not a failure.
			err = nil
		}
		e.Provider.Close()
		for _, c := range e.owned {
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
		e.closeErr = err
	})
	return e.closeErr
}
