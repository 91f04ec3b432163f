// Package sqlfuncs is adapterdb's SQL layer on go-mysql-server: the
// PREDICT, PREDICT_PROBA and EMBED functions, the analyzer rule and plan node
// that evaluate them in batches (one forward pass per batch of rows), the
// adapter statements (CREATE / EXPORT / DROP ADAPTER, SHOW ADAPTERS) with their
// parser, and the read-only adapterdb.adapters table. NewEngine wires them into
// a go-mysql-server engine; the MySQL-wire server (package server) and the
// in-process database/sql driver (package driver) both run that engine.
package sqlfuncs

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
)

// DefaultBatchSize is the rows a BatchInfer node reads per forward pass.
const DefaultBatchSize = 64

// Config configures NewEngine.
type Config struct {
	// Registry is the featurizer and the adapter catalog. User tables live
	// in the registry's catalog file too (package catalog's provider).
	Registry *registry.Registry
	// BatchSize is the rows per forward pass (default 64). A pass holds the
	// batch's sequences of every call, so the featurizer's batch size (its
	// most sequences per pass) should be a multiple of it.
	BatchSize int
	// FilesDir is the directory statements may read and write files in; ""
	// refuses such statements.
	FilesDir string
	Log      zerolog.Logger
}

// Engine is a go-mysql-server engine with adapterdb's functions, rule,
// statements and parser.
type Engine struct {
	SQL *sqle.Engine
	// Provider serves the user databases of the catalog file and the
	// read-only adapterdb database.
	Provider *catalog.Provider
	svc      *service
	// In-process connection ids and query pids start high, so they do not
	// meet a server's if one engine ever serves both.
	connIDs atomic.Uint32
	pids    atomic.Uint64
}

// NewEngine builds the engine. The caller keeps ownership of the registry.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Registry == nil {
		return nil, fmt.Errorf("sql engine: a registry is required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
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
	pro, err := catalog.NewProvider(cfg.Registry.Catalog(), catalog.ProviderOptions{
		Extra: []sql.Database{NewCatalogDatabase(cfg.Registry)}})
	if err != nil {
		return nil, err
	}
	svc := &service{reg: cfg.Registry, eng: cfg.Registry.Engine(), log: cfg.Log, batch: cfg.BatchSize, filesDir: cfg.FilesDir}
	// The provider is wrapped so that LOAD_FILE resolves to adapterdb's
	// confined version (files_exec.go) in every statement, view and trigger.
	a := catalog.InstallRules(analyzer.NewBuilder(fileFuncProvider{pro, svc})).AddPostValidationRule(batchRuleID, svc.batchRule).Build()
	svc.cat = a.Catalog
	// The override builder is consulted first for every node; it builds
	// BatchInfer and leaves the rest to the base builder, which wraps it.
	ov := &execBuilder{}
	// File statements (LOAD DATA, SELECT ... INTO OUTFILE/DUMPFILE) are
	// built by fileBuilder, which confines them to this engine's directory.
	a.ExecBuilder = rowexec.NewOverrideBuilder(fileBuilder{svc: svc, next: ov})
	ov.base = a.ExecBuilder
	svc.exec = a.ExecBuilder
	e := sqle.New(a, &sqle.Config{})
	p := &Parser{base: sql.NewMysqlParser(), svc: svc}
	e.Parser, a.Parser = p, p
	a.Catalog.RegisterFunction(sql.NewEmptyContext(), functions(svc)...)
	eng := &Engine{SQL: e, Provider: pro, svc: svc}
	eng.connIDs.Store(1 << 30)
	eng.pids.Store(1 << 40)
	return eng, nil
}

// NewSession makes a connection's session; it starts in the default
// database (main).
func (e *Engine) NewSession(ctx context.Context, client sql.Client, id uint32, addr string) (sql.Session, error) {
	return e.Provider.SessionFunc()(ctx, client, id, addr)
}

// Registry is the featurizer and catalog the engine runs on.
func (e *Engine) Registry() *registry.Registry { return e.svc.reg }

// BatchSize is the rows per forward pass.
func (e *Engine) BatchSize() int { return e.svc.batch }

// FilesDir is the directory file statements are confined to ("" none).
func (e *Engine) FilesDir() string { return e.svc.filesDir }

// Close cancels running queries, stops the engine's background work and
// releases the provider's connections. The registry (featurizer, catalog)
// stays open.
func (e *Engine) Close() error {
	err := e.SQL.Close()
	e.Provider.Close()
	return err
}
