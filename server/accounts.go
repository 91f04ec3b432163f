package server

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	gms "github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/rs/zerolog"
)

// User accounts are go-mysql-server's mysql database (CREATE USER, GRANT,
// ALTER USER ... IDENTIFIED BY; mysql_native_password by default), kept in the
// database file so they survive restarts. A fresh file gets root@localhost
// without a password, as a fresh MySQL install does: only loopback and socket
// clients can use it.

// usersTable holds the serialized accounts in the database file.
const usersTable = `CREATE TABLE IF NOT EXISTS adapterdb_mysql_users (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	data BLOB NOT NULL
) STRICT`

// accountStore persists the mysql database's accounts in the database file.
type accountStore struct {
	db  *sql.DB
	log zerolog.Logger
}

var _ mysql_db.MySQLDbPersistence = (*accountStore)(nil)

func (s *accountStore) init(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, usersTable); err != nil {
		return fmt.Errorf("accounts table: %w", err)
	}
	return nil
}

func (s *accountStore) load(ctx context.Context) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, "SELECT data FROM adapterdb_mysql_users WHERE id = 1").Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	return data, nil
}

// Persist implements mysql_db.MySQLDbPersistence: go-mysql-server calls it
// after every change to accounts and grants.
func (s *accountStore) Persist(ctx *gms.Context, data []byte) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO adapterdb_mysql_users (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", data)
	if err != nil {
		return fmt.Errorf("store accounts: %w", err)
	}
	s.log.Info().Msg("user accounts saved")
	return nil
}

// nativeHash is mysql_native_password's stored form of a password:
// "*" and the upper-case hex of SHA1(SHA1(password)).
func nativeHash(password string) string {
	if password == "" {
		return ""
	}
	s1 := sha1.Sum([]byte(password))
	s2 := sha1.Sum(s1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(s2[:]))
}

// setupAccounts loads the accounts from the database file, creates root on a
// fresh file, applies rootPassword (if given) to root@localhost and root@%, and
// enables authentication.
func setupAccounts(ctx context.Context, mdb *mysql_db.MySQLDb, store *accountStore, rootPassword string) error {
	if err := store.init(ctx); err != nil {
		return err
	}
	data, err := store.load(ctx)
	if err != nil {
		return err
	}
	sctx := gms.NewContext(ctx)
	if len(data) > 0 {
		if err := mdb.LoadData(sctx, data); err != nil {
			return fmt.Errorf("load accounts: %w", err)
		}
	}
	mdb.SetPersister(store)
	ed := mdb.Editor()
	defer ed.Close()
	n := 0
	ed.VisitUsers(func(u *mysql_db.User) {
		if !u.IsRole {
			n++
		}
	})
	changed := false
	if n == 0 {
		mdb.AddSuperUser(ed, "root", "localhost", "")
		changed = true
	}
	if rootPassword != "" {
		for _, host := range []string{"localhost", "%"} {
			u, ok := ed.GetUser(mysql_db.UserPrimaryKey{Host: host, User: "root"})
			if !ok {
				mdb.AddSuperUser(ed, "root", host, rootPassword)
				changed = true
				continue
			}
			if h := nativeHash(rootPassword); u.AuthString != h || u.Plugin != "mysql_native_password" {
				cp := *u
				cp.Plugin, cp.AuthString, cp.PasswordLastChanged = "mysql_native_password", h, time.Now().UTC()
				// PutUser replaces only an equal record (password included).
				ed.RemoveUser(mysql_db.UserPrimaryKey{Host: host, User: "root"})
				ed.PutUser(&cp)
				changed = true
			}
		}
	}
	mdb.SetEnabled(true)
	if changed {
		if err := mdb.Persist(sctx, ed); err != nil {
			return err
		}
	}
	return nil
}

// isLoopback reports whether a listen address only accepts local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// localHost reports account hosts that only match local clients.
func localHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// checkExposure refuses to listen beyond loopback unless it is safe: some
// account has a password, and no account without one accepts remote hosts.
func checkExposure(addr string, mdb *mysql_db.MySQLDb) error {
	if isLoopback(addr) {
		return nil
	}
	rd := mdb.Reader()
	defer rd.Close()
	withPassword := 0
	var open []string
	rd.VisitUsers(func(u *mysql_db.User) {
		if u.IsRole || u.Locked {
			return
		}
		if u.AuthString != "" {
			withPassword++
		} else if !localHost(u.Host) {
			open = append(open, fmt.Sprintf("'%s'@'%s'", u.User, u.Host))
		}
	})
	switch {
	case withPassword == 0:
		return fmt.Errorf("listen %s: refusing to listen beyond loopback without a password: set ADAPTERDB_ROOT_PASSWORD "+
			"(or CREATE USER ... IDENTIFIED BY on a loopback server first)", addr)
	case len(open) > 0:
		return fmt.Errorf("listen %s: refusing to listen beyond loopback while %s can log in from other hosts without a password",
			addr, strings.Join(open, ", "))
	}
	return nil
}
