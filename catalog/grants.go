package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Adapter privileges: which accounts may use, retrain or drop which adapter.
// The SQL layer decides who is asking and what global privileges they hold
// (go-mysql-server's mysql database); the catalog keeps, in the same file as
// the adapters, who created each adapter and the adapter-level grants, so
// that they change in the same transactions as the adapters they name: a
// new adapter starts with no grants, and dropping it drops its grants.

// The privileges an adapter-level grant can give.
const (
	PrivExecute = "EXECUTE" // PREDICT, PREDICT_PROBA, EVALUATE, EXPORT
	PrivAlter   = "ALTER"   // CREATE OR REPLACE (retrain, re-import), ALTER ADAPTER
	PrivDrop    = "DROP"    // DROP ADAPTER
)

// AdapterPrivileges are the privileges GRANT ... ON ADAPTER accepts (ALL is
// all of them).
var AdapterPrivileges = []string{PrivExecute, PrivAlter, PrivDrop}

// Account is a MySQL account: a user name and the host pattern it was
// created with ('bob'@'%').
type Account struct{ User, Host string }

func (a Account) String() string { return fmt.Sprintf("'%s'@'%s'", a.User, a.Host) }

// Grant is one adapter-level privilege of one account.
type Grant struct {
	Adapter   string
	Account   Account
	Privilege string
}

// Both tables are new in this version; files made before it get them on open
// (an adapter without an owner row was made before owners were recorded:
// only global-privilege holders may use it).
const grantsSchema = `
CREATE TABLE IF NOT EXISTS adapterdb_adapter_owners (
	adapter    TEXT PRIMARY KEY COLLATE NOCASE,
	user       TEXT NOT NULL,
	host       TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS adapterdb_adapter_grants (
	adapter    TEXT NOT NULL COLLATE NOCASE,
	user       TEXT NOT NULL,
	host       TEXT NOT NULL,
	privilege  TEXT NOT NULL CHECK (privilege IN ('EXECUTE', 'ALTER', 'DROP')),
	granted_at TEXT NOT NULL,    -- RFC 3339, UTC
	PRIMARY KEY (adapter, user, host, privilege)
) STRICT;
`

type creatorKey struct{}

// WithCreator returns a context whose adapter writes (Put) record acct as the
// creator of an adapter they create. Without it a new adapter has no creator.
func WithCreator(ctx context.Context, acct Account) context.Context {
	return context.WithValue(ctx, creatorKey{}, acct)
}

// creatorOf is the account WithCreator put in ctx.
func creatorOf(ctx context.Context) (Account, bool) {
	a, ok := ctx.Value(creatorKey{}).(Account)
	return a, ok
}

// adoptOwner runs in Put's transaction. A replaced adapter keeps its creator
// and grants; a new one starts clean (nothing left by an adapter of the same
// name, however it went) with ctx's creator, if any.
func adoptOwner(ctx context.Context, tx *sql.Tx, name string, replaced bool) error {
	if replaced {
		return nil
	}
	if err := dropGrants(ctx, tx, name); err != nil {
		return err
	}
	acct, ok := creatorOf(ctx)
	if !ok {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO adapterdb_adapter_owners (adapter, user, host) VALUES (?, ?, ?)`,
		name, acct.User, acct.Host)
	return FileError(err)
}

// dropGrants deletes an adapter's creator and grants, in the transaction that
// deletes the adapter.
func dropGrants(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_adapter_owners WHERE adapter = ?`, name); err != nil {
		return FileError(err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_adapter_grants WHERE adapter = ?`, name)
	return FileError(err)
}

// ForgetAccounts deletes the grants to accts and their creator rows, in one
// transaction: DROP USER's part in the catalog. The adapters they created
// stay, owned by nobody (global-privilege holders only).
func (c *Catalog) ForgetAccounts(ctx context.Context, accts []Account) error {
	if len(accts) == 0 {
		return nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	for _, a := range accts {
		if _, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_adapter_owners WHERE user = ? AND host = ?`, a.User, a.Host); err != nil {
			return FileError(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_adapter_grants WHERE user = ? AND host = ?`, a.User, a.Host); err != nil {
			return FileError(err)
		}
	}
	return FileError(tx.Commit())
}

// checkPrivileges refuses privilege names a grant cannot hold.
func checkPrivileges(privs []string) error {
	if len(privs) == 0 {
		return errors.New("no privileges named")
	}
	for _, p := range privs {
		switch p {
		case PrivExecute, PrivAlter, PrivDrop:
		default:
			return fmt.Errorf("privilege %s cannot be granted on an adapter (use %s)", p, strings.Join(AdapterPrivileges, ", "))
		}
	}
	return nil
}

// GrantPrivileges gives privs on an adapter to accounts, in one transaction
// (ErrNotFound when there is no such adapter). Granting a privilege twice is
// not an error.
func (c *Catalog) GrantPrivileges(ctx context.Context, adapter string, privs []string, to []Account) error {
	if err := checkPrivileges(privs); err != nil {
		return err
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	adapter, err = adapterName(ctx, tx, adapter)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, a := range to {
		for _, p := range privs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO adapterdb_adapter_grants (adapter, user, host, privilege, granted_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, adapter, a.User, a.Host, p, now); err != nil {
				return FileError(err)
			}
		}
	}
	return FileError(tx.Commit())
}

// ErrNoGrant: a REVOKE names an account that holds none of the privileges
// it revokes on the adapter (a *NoGrantError says which).
var ErrNoGrant = errors.New("no such grant")

// NoGrantError is ErrNoGrant for one account and adapter.
type NoGrantError struct {
	Account Account
	Adapter string
}

func (e *NoGrantError) Error() string {
	return fmt.Sprintf("%v: %s on adapter %s", ErrNoGrant, e.Account, e.Adapter)
}

func (e *NoGrantError) Is(target error) bool { return target == ErrNoGrant }

// RevokePrivileges takes privs on an adapter from accounts, in one
// transaction: nothing is revoked when any account held none of them
// (ErrNoGrant, naming it).
func (c *Catalog) RevokePrivileges(ctx context.Context, adapter string, privs []string, from []Account) error {
	if err := checkPrivileges(privs); err != nil {
		return err
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return FileError(err)
	}
	defer tx.Rollback()
	if _, err := adapterName(ctx, tx, adapter); err != nil {
		return err
	}
	for _, a := range from {
		var n int64
		for _, p := range privs {
			res, err := tx.ExecContext(ctx, `DELETE FROM adapterdb_adapter_grants
				WHERE adapter = ? AND user = ? AND host = ? AND privilege = ?`, adapter, a.User, a.Host, p)
			if err != nil {
				return FileError(err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		if n == 0 {
			return &NoGrantError{Account: a, Adapter: adapter}
		}
	}
	return FileError(tx.Commit())
}

// adapterName returns an adapter's name as stored (names match without
// regard to case), or ErrNotFound.
func adapterName(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	var stored string
	err := tx.QueryRowContext(ctx, `SELECT name FROM adapterdb_adapters WHERE name = ?`, name).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return stored, FileError(err)
}

// Access is what some accounts may do with one adapter: whether one of them
// created it, and the privileges granted to them on it.
type Access struct {
	Owner      bool
	Privileges map[string]bool
}

// Allows reports whether the access includes priv (a creator has them all).
func (a Access) Allows(priv string) bool { return a.Owner || a.Privileges[priv] }

// Any reports whether the access includes anything (the adapter is visible).
func (a Access) Any() bool { return a.Owner || len(a.Privileges) > 0 }

// accountsWhere is a WHERE clause matching any of accts (user, host).
func accountsWhere(accts []Account) (string, []any) {
	if len(accts) == 0 {
		return "0", nil
	}
	parts := make([]string, len(accts))
	args := make([]any, 0, 2*len(accts))
	for i, a := range accts {
		parts[i] = "(user = ? AND host = ?)"
		args = append(args, a.User, a.Host)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// AdapterAccess returns what accts (an account and the roles it holds) may
// do with the adapter name. An unknown adapter gives no access.
func (c *Catalog) AdapterAccess(ctx context.Context, name string, accts []Account) (Access, error) {
	all, err := c.access(ctx, name, accts)
	if err != nil {
		return Access{}, err
	}
	return all[strings.ToLower(name)], nil
}

// AccessAll returns what accts may do with each adapter they may do anything
// with, by lower-case name.
func (c *Catalog) AccessAll(ctx context.Context, accts []Account) (map[string]Access, error) {
	return c.access(ctx, "", accts)
}

// access reads the owners and grants of accts, for one adapter (name) or all
// (name ""), in one read transaction.
func (c *Catalog) access(ctx context.Context, name string, accts []Account) (map[string]Access, error) {
	out := map[string]Access{}
	if len(accts) == 0 {
		return out, nil
	}
	where, args := accountsWhere(accts)
	if name != "" {
		where += " AND adapter = ?"
		args = append(args, name)
	}
	q := `SELECT adapter, NULL FROM adapterdb_adapter_owners WHERE ` + where + `
		UNION ALL SELECT adapter, privilege FROM adapterdb_adapter_grants WHERE ` + where
	rows, err := c.db.QueryContext(ctx, q, append(args, args...)...)
	if err != nil {
		return nil, FileError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var adapter string
		var priv sql.NullString
		if err := rows.Scan(&adapter, &priv); err != nil {
			return nil, FileError(err)
		}
		key := strings.ToLower(adapter)
		a := out[key]
		if priv.Valid {
			if a.Privileges == nil {
				a.Privileges = map[string]bool{}
			}
			a.Privileges[priv.String] = true
		} else {
			a.Owner = true
		}
		out[key] = a
	}
	return out, FileError(rows.Err())
}

// Owner returns the account that created an adapter (ok false when none is
// recorded: made by the CLI, with accounts off, or before owners were kept).
func (c *Catalog) Owner(ctx context.Context, name string) (Account, bool, error) {
	var a Account
	err := c.db.QueryRowContext(ctx, `SELECT user, host FROM adapterdb_adapter_owners WHERE adapter = ?`, name).Scan(&a.User, &a.Host)
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, FileError(err)
	}
	return a, true, nil
}

// Grants lists the adapter-level grants, by adapter, account and privilege;
// with acct non-nil only that account's.
func (c *Catalog) Grants(ctx context.Context, acct *Account) ([]Grant, error) {
	q := `SELECT g.adapter, g.user, g.host, g.privilege FROM adapterdb_adapter_grants g`
	var args []any
	if acct != nil {
		q += ` WHERE g.user = ? AND g.host = ?`
		args = append(args, acct.User, acct.Host)
	}
	q += ` ORDER BY g.adapter COLLATE NOCASE, g.user, g.host,
		CASE g.privilege WHEN 'EXECUTE' THEN 1 WHEN 'ALTER' THEN 2 ELSE 3 END`
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, FileError(err)
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var g Grant
		if err := rows.Scan(&g.Adapter, &g.Account.User, &g.Account.Host, &g.Privilege); err != nil {
			return nil, FileError(err)
		}
		out = append(out, g)
	}
	return out, FileError(rows.Err())
}
