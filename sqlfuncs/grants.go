package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
)

// Adapter privileges, MySQL's way at adapter level. An account may use
// (EXECUTE), retrain (ALTER) or drop (DROP) an adapter when it created it,
// when it was granted that privilege on it (GRANT ... ON ADAPTER), or when it
// holds the global privilege that covers every adapter:
//
//	EXECUTE  PREDICT, PREDICT_PROBA, EVALUATE, EXPORT   global EXECUTE or SELECT
//	ALTER    CREATE OR REPLACE of an existing adapter   global ALTER, or CREATE and DROP
//	DROP     DROP ADAPTER                               global DROP
//
// SUPER (and so root) allows everything. An account sees an adapter (SHOW
// ADAPTERS, adapterdb.adapters) when it may do any of these with it. The
// grants and creators live in the catalog file (catalog/grants.go); the
// accounts and their global privileges are go-mysql-server's mysql database.
// With accounts off (the in-process driver) everything is allowed, as before.

// codeAccessDenied is ER_TABLEACCESS_DENIED_ERROR, MySQL's answer to a
// statement on an object the account has no privilege for.
const codeAccessDenied = 1142

// codeNoGrant is ER_NONEXISTING_TABLE_GRANT: REVOKE of a grant not given.
const codeNoGrant = 1147

// codeGrantCreatesUser is ER_CANT_CREATE_USER_WITH_GRANT: GRANT to an
// account that does not exist.
const codeGrantCreatesUser = 1410

// privRuleID is the plan-time adapter privilege check's analyzer rule id.
const privRuleID analyzer.RuleId = 1001

// asker is who runs a statement, as far as adapter privileges go.
type asker struct {
	all    bool // accounts off, or SUPER: every adapter, every privilege
	global mysql_db.PrivilegeSet
	accts  []catalog.Account // the account and the roles granted to it
	client sql.Client
}

// askerOf resolves the session's account and roles.
func (s *service) askerOf(ctx *sql.Context) asker {
	a := asker{client: ctx.Session.Client()}
	if s == nil || s.cat == nil || s.cat.MySQLDb == nil || !s.cat.MySQLDb.Enabled() {
		a.all = true
		return a
	}
	mdb := s.cat.MySQLDb
	a.global = mdb.UserActivePrivilegeSet(ctx)
	if a.global.Has(sql.PrivilegeType_Super) {
		a.all = true
		return a
	}
	rd := mdb.Reader()
	defer rd.Close()
	u := mdb.GetUser(rd, a.client.User, a.client.Address, false)
	if u == nil {
		return a
	}
	a.accts = append(a.accts, catalog.Account{User: u.User, Host: u.Host})
	for _, e := range rd.GetToUserRoleEdges(mysql_db.RoleEdgesToKey{ToHost: u.Host, ToUser: u.User}) {
		a.accts = append(a.accts, catalog.Account{User: e.FromUser, Host: e.FromHost})
	}
	return a
}

// globalAllows reports whether global privileges cover priv on every adapter.
func (a asker) globalAllows(priv string) bool {
	if a.all {
		return true
	}
	g := a.global
	switch priv {
	case catalog.PrivExecute:
		return g.Has(sql.PrivilegeType_Execute) || g.Has(sql.PrivilegeType_Select)
	case catalog.PrivAlter:
		// Replacing needed CREATE and DROP before adapter privileges existed.
		return g.Has(sql.PrivilegeType_Alter) || g.Has(sql.PrivilegeType_Create, sql.PrivilegeType_Drop)
	case catalog.PrivDrop:
		return g.Has(sql.PrivilegeType_Drop)
	}
	return false
}

// seesAll reports whether the asker sees every adapter.
func (a asker) seesAll() bool {
	for _, p := range catalog.AdapterPrivileges {
		if a.globalAllows(p) {
			return true
		}
	}
	return false
}

func (a asker) denied(command, adapter string) error {
	return sqlErr(codeAccessDenied, stateSyntax, "%s command denied to user '%s'@'%s' for adapter '%s'",
		command, a.client.User, a.client.Address, adapter)
}

// privCache remembers, per session, the adapter privileges already checked
// for the statement it runs (its pid): a statement checks each adapter once,
// not per row or window.
type privCache struct {
	mu       sync.Mutex
	sessions map[uint32]*stmtPrivs
}

type stmtPrivs struct {
	pid uint64
	ok  map[string]bool // priv + "\x00" + lower-case adapter name
}

// maxCachedSessions bounds the cache; closed sessions' entries are dropped
// all at once when it is reached.
const maxCachedSessions = 4096

func (c *privCache) get(ctx *sql.Context, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	sp := c.sessions[ctx.Session.ID()]
	return sp != nil && sp.pid == ctx.Pid() && sp.ok[key]
}

func (c *privCache) put(ctx *sql.Context, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions == nil || len(c.sessions) >= maxCachedSessions {
		c.sessions = map[uint32]*stmtPrivs{}
	}
	sp := c.sessions[ctx.Session.ID()]
	if sp == nil || sp.pid != ctx.Pid() {
		sp = &stmtPrivs{pid: ctx.Pid(), ok: map[string]bool{}}
		c.sessions[ctx.Session.ID()] = sp
	}
	sp.ok[key] = true
}

// checkAdapter refuses (1142) a statement that needs priv on an adapter the
// session's account may not use that way. An unknown adapter is refused
// like a known one to an account without global privileges, as MySQL does
// for tables, so that names do not leak.
func (s *service) checkAdapter(ctx *sql.Context, name, priv string) error {
	// A pinned version (name@2) is the adapter's: privileges are per adapter.
	if base, _, err := catalog.SplitVersion(name); err == nil {
		name = base
	}
	key := priv + "\x00" + strings.ToLower(name)
	if s.privs.get(ctx, key) {
		return nil
	}
	a := s.askerOf(ctx)
	if !a.globalAllows(priv) {
		acc, err := s.reg.Catalog().AdapterAccess(ctx, name, a.accts)
		if err != nil {
			return toSQLError(ctx, "adapter privileges", err)
		}
		if !acc.Allows(priv) {
			return a.denied(priv, name)
		}
	}
	s.privs.put(ctx, key)
	return nil
}

// visible keeps the adapters the session's account may see.
func (s *service) visible(ctx *sql.Context, recs []catalog.Record) ([]catalog.Record, error) {
	a := s.askerOf(ctx)
	if a.seesAll() {
		return recs, nil
	}
	acc, err := s.reg.Catalog().AccessAll(ctx, a.accts)
	if err != nil {
		return nil, toSQLError(ctx, "adapter privileges", err)
	}
	out := recs[:0:0]
	for _, r := range recs {
		if acc[strings.ToLower(r.Name)].Any() {
			out = append(out, r)
		}
	}
	return out, nil
}

// creatorContext is ctx carrying the session's account as the creator of
// the adapters it stores (nothing with accounts off: no account to name).
func (s *service) creatorContext(ctx *sql.Context) context.Context {
	if s.cat == nil || s.cat.MySQLDb == nil || !s.cat.MySQLDb.Enabled() {
		return ctx
	}
	mdb := s.cat.MySQLDb
	rd := mdb.Reader()
	defer rd.Close()
	c := ctx.Session.Client()
	u := mdb.GetUser(rd, c.User, c.Address, false)
	if u == nil {
		return ctx
	}
	return catalog.WithCreator(ctx, catalog.Account{User: u.User, Host: u.Host})
}

// checkReplace is CREATE OR REPLACE's check, made when it runs: replacing an
// existing adapter needs ALTER on it; creating a new one needs the global
// CREATE privilege, as a plain CREATE ADAPTER does (checked when planned).
func (s *service) checkReplace(ctx *sql.Context, name string) error {
	_, err := s.reg.Catalog().Info(ctx, name)
	switch {
	case err == nil:
		return s.checkAdapter(ctx, name, catalog.PrivAlter)
	case !errors.Is(err, catalog.ErrNotFound):
		return toSQLError(ctx, "CREATE ADAPTER "+name, err)
	}
	a := s.askerOf(ctx)
	if a.all || a.global.Has(sql.PrivilegeType_Create) {
		return nil
	}
	return sql.ErrPrivilegeCheckFailed.New(fmt.Sprintf("'%s'@'%s'", a.client.User, a.client.Address))
}

// privRule checks, when a statement is planned, EXECUTE on the adapters its
// PREDICT and PREDICT_PROBA calls name literally: a denied statement fails
// before it reads a row. Names read from rows are checked as they come
// (evalCalls), once per statement too.
func (s *service) privRule(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	var err error
	transform.InspectExpressions(n, func(e sql.Expression) bool {
		if c, ok := e.(*Call); ok && c.adapter != nil && err == nil {
			err = s.checkAdapter(ctx, c.adapter.Record.Name, catalog.PrivExecute)
		}
		return err == nil
	})
	return n, transform.SameTree, err
}

// checkCalls checks EXECUTE on the adapters a window's requests name (EMBED's
// name none).
func (s *service) checkCalls(ctx *sql.Context, reqs []registry.Request) error {
	seen := map[string]bool{}
	for _, q := range reqs {
		if q.Adapter == "" || seen[q.Adapter] {
			continue
		}
		seen[q.Adapter] = true
		if err := s.checkAdapter(ctx, q.Adapter, catalog.PrivExecute); err != nil {
			return err
		}
	}
	return nil
}

// ---- GRANT / REVOKE ... ON ADAPTER ----

type grantStmt struct {
	svc *service
	st  *Stmt
}

func (g *grantStmt) String() string {
	if g.st.Kind == StmtRevoke {
		return "REVOKE ON ADAPTER " + g.st.Name
	}
	return "GRANT ON ADAPTER " + g.st.Name
}

func (g *grantStmt) WithResolvedChildren([]any) (any, error) {
	if err := checkName(g.st.Name); err != nil {
		return nil, err
	}
	return &GrantAdapter{svc: g.svc, Revoke: g.st.Kind == StmtRevoke, Name: g.st.Name,
		Privileges: g.st.Privileges, Grantees: g.st.Grantees}, nil
}

// GrantAdapter grants (or revokes) privileges on an adapter.
type GrantAdapter struct {
	svc        *service
	Revoke     bool
	Name       string
	Privileges []string
	Grantees   []Grantee
}

var _ sql.ExecSourceRel = (*GrantAdapter)(nil)

func (n *GrantAdapter) Resolved() bool                             { return true }
func (n *GrantAdapter) IsReadOnly() bool                           { return false }
func (n *GrantAdapter) Schema() sql.Schema                         { return types.OkResultSchema }
func (n *GrantAdapter) Children() []sql.Node                       { return nil }
func (n *GrantAdapter) WithChildren(...sql.Node) (sql.Node, error) { return n, nil }
func (n *GrantAdapter) String() string {
	verb := "GrantAdapter"
	if n.Revoke {
		verb = "RevokeAdapter"
	}
	return fmt.Sprintf("%s(%s on: %s)", verb, strings.Join(n.Privileges, ", "), n.Name)
}

// RowIter implements sql.ExecSourceRel. The adapter's creator and holders of
// the global GRANT OPTION (root) may grant and revoke.
func (n *GrantAdapter) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	command := "GRANT"
	if n.Revoke {
		command = "REVOKE"
	}
	a := n.svc.askerOf(ctx)
	if !a.all && !a.global.Has(sql.PrivilegeType_GrantOption) {
		acc, err := n.svc.reg.Catalog().AdapterAccess(ctx, n.Name, a.accts)
		if err != nil {
			return nil, toSQLError(ctx, command+" ON ADAPTER", err)
		}
		if !acc.Owner {
			return nil, a.denied(command, n.Name)
		}
	}
	accts, err := n.svc.grantees(ctx, n.Grantees, n.Revoke)
	if err != nil {
		return nil, err
	}
	if err := implicitCommit(ctx); err != nil {
		return nil, err
	}
	cat := n.svc.reg.Catalog()
	if n.Revoke {
		err = cat.RevokePrivileges(ctx, n.Name, n.Privileges, accts)
	} else {
		err = cat.GrantPrivileges(ctx, n.Name, n.Privileges, accts)
	}
	if err != nil {
		var ng *catalog.NoGrantError
		if errors.As(err, &ng) {
			return nil, sqlErr(codeNoGrant, stateSyntax, "There is no such grant defined for user '%s' on host '%s' on adapter '%s'",
				ng.Account.User, ng.Account.Host, n.Name)
		}
		return nil, toSQLError(ctx, command+" ON ADAPTER "+n.Name, err)
	}
	n.svc.log.Info().Str("adapter", n.Name).Strs("privileges", n.Privileges).Bool("revoke", n.Revoke).
		Int("accounts", len(accts)).Msg("adapter privileges changed")
	return okIter(0, ""), nil
}

// grantees are the accounts a GRANT or REVOKE names (CURRENT_USER: the
// session's). With accounts on they must exist (MySQL's GRANT does not
// create users); with accounts off there are none to check against, and the
// grants wait for a server that has them.
func (s *service) grantees(ctx *sql.Context, gs []Grantee, revoke bool) ([]catalog.Account, error) {
	c := ctx.Session.Client()
	out := make([]catalog.Account, len(gs))
	for i, g := range gs {
		out[i] = catalog.Account{User: g.User, Host: g.Host}
		if g.Current {
			out[i] = catalog.Account{User: c.User, Host: c.Address}
		}
	}
	if s.cat == nil || s.cat.MySQLDb == nil || !s.cat.MySQLDb.Enabled() {
		return out, nil
	}
	mdb := s.cat.MySQLDb
	rd := mdb.Reader()
	defer rd.Close()
	for i, a := range out {
		if gs[i].Current {
			// The account the session logged in as ('bob'@'%' for bob from
			// 127.0.0.1), as CURRENT_USER() names it.
			if u := mdb.GetUser(rd, c.User, c.Address, false); u != nil {
				out[i] = catalog.Account{User: u.User, Host: u.Host}
				continue
			}
		}
		if _, ok := rd.GetUser(mysql_db.UserPrimaryKey{Host: a.Host, User: a.User}); !ok {
			if revoke {
				// MySQL's answer to REVOKE from an unknown account.
				return nil, sqlErr(codeNoGrant, stateSyntax, "There is no such grant defined for user '%s' on host '%s'", a.User, a.Host)
			}
			return nil, sqlErr(codeGrantCreatesUser, stateSyntax, "You are not allowed to create a user with GRANT (no account %s: CREATE USER first)", a)
		}
	}
	return out, nil
}

// dropUser is go-mysql-server's DROP USER followed by the removal of the
// dropped accounts' adapter grants and creator rows, as MySQL drops an
// account's privileges with it: an account created again under the same
// name starts with nothing, and the adapters the old one created belong to
// nobody (global-privilege holders only).
func (s *service) dropUser(ctx *sql.Context, n *plan.DropUser, row sql.Row) (sql.RowIter, error) {
	mdb, _ := n.MySQLDb.(*mysql_db.MySQLDb)
	var accts []catalog.Account
	if mdb != nil {
		rd := mdb.Reader()
		for _, u := range n.Users {
			if e := mdb.GetUser(rd, u.Name, u.Host, false); e != nil {
				accts = append(accts, catalog.Account{User: e.User, Host: e.Host})
			}
		}
		rd.Close()
	}
	iter, err := (&rowexec.BaseBuilder{}).Build(ctx, n, row)
	if len(accts) == 0 {
		return iter, err
	}
	// The accounts that are gone, also when a later one in the list failed.
	rd := mdb.Reader()
	gone := accts[:0]
	for _, a := range accts {
		if _, ok := rd.GetUser(mysql_db.UserPrimaryKey{Host: a.Host, User: a.User}); !ok {
			gone = append(gone, a)
		}
	}
	rd.Close()
	if ferr := s.reg.Catalog().ForgetAccounts(ctx, gone); ferr != nil {
		if iter != nil {
			iter.Close(ctx)
		}
		return nil, toSQLError(ctx, "DROP USER: adapter privileges", ferr)
	}
	if len(gone) > 0 {
		s.log.Info().Int("accounts", len(gone)).Msg("dropped accounts' adapter privileges removed")
	}
	return iter, err
}

// ---- SHOW GRANTS ----

// showGrants is go-mysql-server's SHOW GRANTS followed by the account's
// grants on adapters, one row per adapter.
func (s *service) showGrants(ctx *sql.Context, n *plan.ShowGrants, row sql.Row) (sql.RowIter, error) {
	forUser, forHost := "", ""
	if n.For != nil && !n.CurrentUser {
		forUser, forHost = n.For.Name, n.For.Host
	} else {
		c := ctx.Session.Client()
		forUser, forHost = c.User, c.Address
	}
	// go-mysql-server's own rows: its builder without the overrides (the
	// node has no children that would need them).
	iter, err := (&rowexec.BaseBuilder{}).Build(ctx, n, row)
	if err != nil || s.cat == nil || s.cat.MySQLDb == nil {
		return iter, err
	}
	rows, err := sql.RowIterToRows(ctx, iter)
	if err != nil {
		return nil, err
	}
	mdb := s.cat.MySQLDb
	rd := mdb.Reader()
	u := mdb.GetUser(rd, forUser, forHost, false)
	rd.Close()
	if u == nil {
		return sql.RowsToRowIter(rows...), nil
	}
	acct := catalog.Account{User: u.User, Host: u.Host}
	grants, err := s.reg.Catalog().Grants(ctx, &acct)
	if err != nil {
		return nil, toSQLError(ctx, "SHOW GRANTS", err)
	}
	for i := 0; i < len(grants); {
		j := i
		var privs []string
		for ; j < len(grants) && strings.EqualFold(grants[j].Adapter, grants[i].Adapter); j++ {
			privs = append(privs, grants[j].Privilege)
		}
		rows = append(rows, sql.Row{fmt.Sprintf("GRANT %s ON ADAPTER %s TO %s", strings.Join(privs, ", "),
			quoteIdent(grants[i].Adapter), u.UserHostToString("`"))})
		i = j
	}
	return sql.RowsToRowIter(rows...), nil
}

// quoteIdent backquotes a name.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
