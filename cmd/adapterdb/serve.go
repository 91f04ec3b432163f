package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/server"
	"github.com/adapterdb/adapterdb/sqlfuncs"
)

func init() {
	register(command{name: "serve", summary: "run the MySQL-wire SQL server (PREDICT, EMBED, CREATE ADAPTER ...)", run: runServe})
}

const serveHelp = `Serves the database file over the MySQL protocol: any MySQL client or driver
connects (mariadb -h 127.0.0.1 -u root). On a fresh file, root@localhost has no
password; set ADAPTERDB_ROOT_PASSWORD to give root@localhost and root@% one (it is
required to listen beyond loopback). Accounts (CREATE USER ...) are kept in the
database file. SIGINT/SIGTERM stop the server: running queries get
--shutdown-grace to finish, then are cancelled. Reference: docs/sql.md.`

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "serve [--db FILE.db] [--model DIR] [--listen 127.0.0.1:3306] [--batch 64] [--files-dir DIR] [--device cpu|cpu:bf16|cpu:int8|cuda]\n\n"+indent(serveHelp))
	dbPath := fs.String("db", "adapterdb.db", "database file (created if missing)")
	modelDir := fs.String("model", "demo", "base model: Hugging Face checkpoint directory, or demo")
	listen := fs.String("listen", "127.0.0.1:3306", "address to listen on (host:port)")
	batch := fs.Int("batch", sqlfuncs.DefaultBatchSize, "sequences per forward pass")
	filesDir := fs.String("files-dir", "", "the only directory file statements may use: LOAD DATA INFILE, SELECT ... INTO OUTFILE/DUMPFILE, LOAD_FILE, CREATE ADAPTER ... FROM, EXPORT ADAPTER (default: none, refused)")
	device := fs.String("device", "cpu", deviceHelp)
	maxConns := fs.Uint64("max-connections", 0, "most logged-in clients; the next gets error 1040 (0: no limit)")
	connectTimeout := fs.Duration("connect-timeout", server.DefaultConnectTimeout, "how long a client has to log in (MySQL's connect_timeout)")
	waitTimeout := fs.Duration("wait-timeout", server.DefaultWaitTimeout, "close a logged-in connection idle this long (MySQL's wait_timeout)")
	maxText := fs.Int("max-text-bytes", engine.DefaultMaxTextBytes, "longest text accepted by PREDICT/EMBED, in bytes")
	grace := fs.Duration("shutdown-grace", 10*time.Second, "how long running queries may finish at shutdown")
	maxJobs := fs.Int("max-jobs", sqlfuncs.DefaultMaxJobs, "background training jobs run at once (CREATE ADAPTER ... background = true); the others wait, queued")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *dbPath == "" || len(rest) != 0:
		return usageErr("need --db FILE (default adapterdb.db) and no other arguments")
	case *batch < 1 || *batch > 1<<14:
		return usageErr("--batch %d: want 1 to 16384", *batch)
	case *maxText < 1:
		return usageErr("--max-text-bytes must be positive")
	case *maxJobs < 1 || *maxJobs > sqlfuncs.MaxMaxJobs:
		return usageErr("--max-jobs %d: want 1 to %d", *maxJobs, sqlfuncs.MaxMaxJobs)
	case *connectTimeout < 2*time.Second || *connectTimeout > 365*24*time.Hour:
		return usageErr("--connect-timeout %v: want 2s to 8760h, as MySQL's connect_timeout", *connectTimeout)
	case *waitTimeout < time.Second || *waitTimeout > 365*24*time.Hour:
		return usageErr("--wait-timeout %v: want 1s to 8760h, as MySQL's wait_timeout", *waitTimeout)
	}
	if *filesDir != "" {
		if st, err := os.Stat(*filesDir); err != nil || !st.IsDir() {
			return usageErr("--files-dir %s: not a directory", *filesDir)
		}
	}
	configureLogrus(e.log)
	start := time.Now()

	be, err := openBackend(*device, e.log)
	if err != nil {
		return err
	}
	tbe, err := trainBackend(be, e.log)
	if err != nil {
		return err
	}
	db, err := sqlfuncs.Open(sqlfuncs.Options{Path: *dbPath, Model: *modelDir, Backend: be, TrainBackend: tbe, BatchSize: *batch,
		MaxTextBytes: *maxText, FilesDir: *filesDir, MaxJobs: *maxJobs, Log: e.log})
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, server.Config{DB: db, Listen: *listen, RootPassword: os.Getenv("ADAPTERDB_ROOT_PASSWORD"),
		MaxConnections: *maxConns, ConnectTimeout: *connectTimeout, WaitTimeout: *waitTimeout, ShutdownGrace: *grace, Log: e.log})
	if err != nil {
		db.Close()
		return err
	}
	e.log.Info().Str("db", *dbPath).Str("model", db.Registry().Engine().Name()).Dur("startup_ms", time.Since(start)).Msg("ready")
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-ctx.Done():
		e.log.Info().Msg("signal received: shutting down")
	case err := <-served:
		if err != nil {
			e.log.Error().Err(err).Msg("server stopped")
		}
	}
	// The signal context is done; the shutdown gets its own deadline.
	sctx, cancel := context.WithTimeout(context.Background(), *grace+30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	<-served
	return nil
}

// configureLogrus routes go-mysql-server's and vitess's logrus output (their
// process-wide logger) into zerolog, at debug level: they narrate connections
// and queries for their developers.
func configureLogrus(log zerolog.Logger) {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.WarnLevel)
	if log.GetLevel() <= zerolog.DebugLevel {
		logrus.SetLevel(logrus.DebugLevel)
	}
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	logrus.AddHook(&logrusHook{log: log})
}

type logrusHook struct{ log zerolog.Logger }

func (h *logrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *logrusHook) Fire(e *logrus.Entry) error {
	ev := h.log.Debug()
	if e.Level <= logrus.FatalLevel {
		ev = h.log.Error()
	}
	for k, v := range e.Data {
		if err, ok := v.(error); ok {
			ev = ev.AnErr(k, err)
			continue
		}
		ev = ev.Interface(k, v)
	}
	ev.Str("from", "go-mysql-server").Msg(e.Message)
	return nil
}
