package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// Hyperparameter search trials: every combination a search trained for an
// adapter version, kept next to it in the same file and written in the
// transaction that stores the version, so the version and its trials exist
// together or not at all. A version's trials go with it (drop, retention).

// trialsSchema is new in this version; files made before it get it on open.
const trialsSchema = `
CREATE TABLE IF NOT EXISTS adapterdb_trials (
	adapter   TEXT NOT NULL COLLATE NOCASE,
	version   INTEGER NOT NULL,  -- the adapter version the search stored
	trial     INTEGER NOT NULL,  -- 1-based, in training order
	options   TEXT NOT NULL,     -- JSON object: the searched options' values
	metrics   TEXT NOT NULL,     -- JSON object: the trial's training and validation metrics
	seconds   REAL NOT NULL,
	chosen    INTEGER NOT NULL,  -- 1 for the trial stored as the version
	PRIMARY KEY (adapter, version, trial)
) STRICT;
`

// Trial is one trained combination of a search.
type Trial struct {
	Trial   int
	Options json.RawMessage // JSON object
	Metrics json.RawMessage // JSON object
	Seconds float64
	Chosen  bool
}

// TrialRecord is a stored trial with the adapter version it belongs to.
type TrialRecord struct {
	Adapter string
	Version int64
	Trial
}

type trialsKey struct{}

// WithTrials returns a context whose adapter write (Put) stores trials as
// the search that made the version it writes.
func WithTrials(ctx context.Context, trials []Trial) context.Context {
	return context.WithValue(ctx, trialsKey{}, trials)
}

// putTrials runs in Put's transaction, after the version row is written:
// it deletes trials whose version is gone (retention, or a dropped adapter
// of the same name whose numbers are reused) and stores ctx's trials, if
// any, as version's.
func putTrials(ctx context.Context, tx *sql.Tx, name string, version int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_trials WHERE adapter = ? AND (version >= ?
		OR version NOT IN (SELECT version FROM adapterdb_adapters WHERE name = ?))`, name, version, name); err != nil {
		return FileError(err)
	}
	trials, _ := ctx.Value(trialsKey{}).([]Trial)
	for _, t := range trials {
		opts, metrics := t.Options, t.Metrics
		if len(opts) == 0 {
			opts = json.RawMessage("{}")
		}
		if len(metrics) == 0 {
			metrics = json.RawMessage("{}")
		}
		if !json.Valid(opts) || !json.Valid(metrics) {
			return fmt.Errorf("adapter %s trial %d: options or metrics are not JSON", name, t.Trial)
		}
		chosen := int64(0)
		if t.Chosen {
			chosen = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO adapterdb_trials (adapter, version, trial, options, metrics, seconds, chosen)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, name, version, int64(t.Trial), string(opts), string(metrics), t.Seconds, chosen); err != nil {
			return FileError(err)
		}
	}
	return nil
}

// dropTrials deletes an adapter's trials, in the transaction that drops it.
func dropTrials(ctx context.Context, tx *sql.Tx, name string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_trials WHERE adapter = ?`, name)
	return FileError(err)
}

// Trials returns the stored trials of the adapter versions that exist, by
// adapter, version and trial.
func (c *Catalog) Trials(ctx context.Context) ([]TrialRecord, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT t.adapter, t.version, t.trial, t.options, t.metrics, t.seconds, t.chosen
		FROM adapterdb_trials t
		WHERE EXISTS (SELECT 1 FROM adapterdb_adapters a WHERE a.name = t.adapter AND a.version = t.version)
		ORDER BY t.adapter COLLATE NOCASE, t.version, t.trial`)
	if err != nil {
		return nil, FileError(err)
	}
	defer rows.Close()
	var out []TrialRecord
	for rows.Next() {
		var r TrialRecord
		var opts, metrics string
		var chosen int64
		if err := rows.Scan(&r.Adapter, &r.Version, &r.Trial.Trial, &opts, &metrics, &r.Seconds, &chosen); err != nil {
			return nil, FileError(err)
		}
		r.Options, r.Metrics, r.Chosen = json.RawMessage(opts), json.RawMessage(metrics), chosen == 1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, FileError(err)
	}
	return out, nil
}
