package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Versions: every write of an adapter (CREATE, each CREATE OR REPLACE, each
// import) is a version, numbered 1, 2, ... per name and never renumbered.
// One version is active: the one the plain name means; name@N pins version
// N. A write makes its version the active one and then deletes the adapter's
// oldest inactive versions beyond its retention (KeepVersions). Each version
// is a whole row (metadata, weights, checksums) of adapterdb_adapters; the
// adapter's head (adapterdb_adapter_heads) names its active version.

// DefaultKeepVersions is a new adapter's retention.
const DefaultKeepVersions = 5

// MaxKeepVersions bounds the retention an adapter may ask for.
const MaxKeepVersions = 1000

// ErrActiveVersion refuses to drop the version the adapter's name means.
var ErrActiveVersion = errors.New("the active version cannot be dropped")

// CheckKeepVersions validates a retention.
func CheckKeepVersions(n int) error {
	if n < 1 || n > MaxKeepVersions {
		return fmt.Errorf("keep_versions must be 1 to %d, got %d", MaxKeepVersions, n)
	}
	return nil
}

type keepKey struct{}

// WithKeepVersions returns a context whose adapter writes (Put) set the
// adapter's retention to n, when their Record does not (the SQL option
// keep_versions reaches the catalog this way, through training or import).
func WithKeepVersions(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, keepKey{}, n)
}

func keepVersionsOf(ctx context.Context) int {
	n, _ := ctx.Value(keepKey{}).(int)
	return n
}

// Versions returns the versions of one adapter (name), or of every adapter
// (name ""), by name then version, each with Active set on the one its name
// means. An unknown name gives ErrNotFound.
func (c *Catalog) Versions(ctx context.Context, name string) ([]Record, error) {
	if name == "" {
		return c.records(ctx, "SELECT "+recordColumns+versionRows+" ORDER BY h.name, a.version")
	}
	out, err := c.records(ctx, "SELECT "+recordColumns+versionRows+" WHERE h.name = ? ORDER BY a.version", name)
	if err == nil && len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return out, err
}

// versionExists reports, in tx, the adapter's active version, and whether
// version exists; ErrNotFound when the adapter does not.
func versionExists(ctx context.Context, tx *sql.Tx, name string, version int64) (active int64, ok bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT h.active, EXISTS (SELECT 1 FROM adapterdb_adapters v WHERE v.name = h.name AND v.version = ?)`+
		activeRows+` WHERE h.name = ?`, version, name).Scan(&active, &ok)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return active, ok, FileError(err)
}

// SetActive makes version the one the adapter's name means (a rollback, or
// forward again). ErrNotFound names name@version when there is no such
// version.
func (c *Catalog) SetActive(ctx context.Context, name string, version int64) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	if _, ok, err := versionExists(ctx, tx, name, version); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %s@%d", ErrNotFound, name, version)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE adapterdb_adapter_heads SET active = ? WHERE name = ?`, version, name); err != nil {
		return FileError(err)
	}
	return FileError(tx.Commit())
}

// DropVersion deletes one version of an adapter. The active version is
// refused (ErrActiveVersion): make another active first, or drop the
// adapter. Its number is not given again.
func (c *Catalog) DropVersion(ctx context.Context, name string, version int64) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	active, ok, err := versionExists(ctx, tx, name, version)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: %s@%d", ErrNotFound, name, version)
	case version == active:
		return fmt.Errorf("%w: version %d is adapter %s's active version", ErrActiveVersion, version, name)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_adapters WHERE name = ? AND version = ?`, name, version); err != nil {
		return FileError(err)
	}
	if err := dropGoneVersions(ctx, tx, name); err != nil {
		return err
	}
	return FileError(tx.Commit())
}

// dropGoneVersions deletes, in the transaction that deleted versions, what
// belonged to versions no longer there: their search trials (trials.go).
func dropGoneVersions(ctx context.Context, tx *sql.Tx, name string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_trials WHERE adapter = ?
		AND version NOT IN (SELECT version FROM adapterdb_adapters WHERE name = ?)`, name, name)
	return FileError(err)
}
