package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rs/zerolog"
)

// TestGrants: grants name existing adapters, survive a replace, go with a
// DROP (in its transaction), and a new adapter of a dropped one's name starts
// with none; the creator is recorded from the context.
func TestGrants(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	bob, ann := Account{"bob", "%"}, Account{"ann", "localhost"}
	blob := []byte("weights")
	if err := c.GrantPrivileges(ctx, "nope", []string{PrivExecute}, []Account{bob}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("grant on a missing adapter: %v", err)
	}
	if _, err := c.Put(WithCreator(ctx, ann), record("Sent", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if o, ok, err := c.Owner(ctx, "sent"); err != nil || !ok || o != ann {
		t.Fatalf("owner %v %v %v", o, ok, err)
	}
	if err := c.GrantPrivileges(ctx, "sent", []string{PrivExecute, PrivDrop}, []Account{bob}); err != nil {
		t.Fatal(err)
	}
	if err := c.GrantPrivileges(ctx, "SENT", []string{PrivExecute}, []Account{bob}); err != nil {
		t.Fatalf("granting twice: %v", err)
	}
	if err := c.GrantPrivileges(ctx, "sent", []string{"SELECT"}, []Account{bob}); err == nil {
		t.Fatal("SELECT granted on an adapter")
	}
	a, err := c.AdapterAccess(ctx, "sent", []Account{bob})
	if err != nil || a.Owner || !a.Allows(PrivExecute) || !a.Allows(PrivDrop) || a.Allows(PrivAlter) {
		t.Fatalf("bob's access %+v %v", a, err)
	}
	if a, _ := c.AdapterAccess(ctx, "sent", []Account{ann}); !a.Owner || !a.Allows(PrivAlter) {
		t.Fatalf("ann's access %+v", a)
	}
	if a, _ := c.AdapterAccess(ctx, "sent", []Account{{"bob", "localhost"}}); a.Any() {
		t.Fatalf("'bob'@'localhost' is another account: %+v", a)
	}
	want := []Grant{{"Sent", bob, PrivExecute}, {"Sent", bob, PrivDrop}}
	if g, err := c.Grants(ctx, nil); err != nil || !reflect.DeepEqual(g, want) {
		t.Fatalf("grants %v %v, want %v", g, err, want)
	}
	// A replace keeps creator and grants, whoever replaces.
	if _, err := c.Put(WithCreator(ctx, bob), record("sent", blob), blob, Replace); err != nil {
		t.Fatal(err)
	}
	if o, _, _ := c.Owner(ctx, "sent"); o != ann {
		t.Fatalf("owner after replace %v", o)
	}
	if g, _ := c.Grants(ctx, &bob); len(g) != 2 {
		t.Fatalf("grants after replace %v", g)
	}
	// REVOKE: all or nothing.
	if err := c.RevokePrivileges(ctx, "sent", []string{PrivDrop}, []Account{bob, ann}); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("revoke from an account without the grant: %v", err)
	}
	if g, _ := c.Grants(ctx, &bob); len(g) != 2 {
		t.Fatalf("a failed revoke revoked: %v", g)
	}
	if err := c.RevokePrivileges(ctx, "sent", []string{PrivDrop, PrivAlter}, []Account{bob}); err != nil {
		t.Fatal(err)
	}
	all, err := c.AccessAll(ctx, []Account{bob})
	if err != nil || len(all) != 1 || !all["sent"].Allows(PrivExecute) || all["sent"].Allows(PrivDrop) {
		t.Fatalf("after revoke %+v %v", all, err)
	}
	// DROP takes creator and grants; a new adapter of the name has none.
	if _, err := c.Drop(ctx, "sent", false); err != nil {
		t.Fatal(err)
	}
	var n int
	c.db.QueryRow(`SELECT (SELECT COUNT(*) FROM adapterdb_adapter_grants) + (SELECT COUNT(*) FROM adapterdb_adapter_owners)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d grant rows after DROP", n)
	}
	// Grants left by some other way of deleting are not inherited.
	c.Put(ctx, record("sent", blob), blob, Create)
	c.GrantPrivileges(ctx, "sent", []string{PrivExecute}, []Account{bob})
	c.db.Exec(`DELETE FROM adapterdb_adapters`)
	if _, err := c.Put(ctx, record("sent", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if a, _ := c.AdapterAccess(ctx, "sent", []Account{bob}); a.Any() {
		t.Fatalf("new adapter inherited %+v", a)
	}
	if _, ok, _ := c.Owner(ctx, "sent"); ok {
		t.Fatal("an adapter stored without a creator has one")
	}
}

// TestGrantTablesMigrated: a file made before grants existed (no grant
// tables) gets them on open and keeps its adapters, without owners.
func TestGrantTablesMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("old weights")
	if _, err := c.Put(context.Background(), record("old", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.Exec(`DROP TABLE adapterdb_adapter_grants; DROP TABLE adapterdb_adapter_owners`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err = Open(path, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, ok, err := c.Owner(ctx, "old"); err != nil || ok {
		t.Fatalf("old adapter's owner: %v %v", ok, err)
	}
	if err := c.GrantPrivileges(ctx, "old", []string{PrivExecute}, []Account{{"bob", "%"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "old"); err != nil {
		t.Fatal(err)
	}
}

// TestForgetAccounts: DROP USER's part takes an account's grants and creator
// rows and nothing of other accounts; the adapter stays, owned by nobody.
func TestForgetAccounts(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	bob, ann := Account{"bob", "%"}, Account{"ann", "%"}
	blob := []byte("weights")
	if _, err := c.Put(WithCreator(ctx, bob), record("bobs", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(WithCreator(ctx, ann), record("anns", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		adapter string
		to      Account
	}{{"anns", bob}, {"bobs", ann}} {
		if err := c.GrantPrivileges(ctx, g.adapter, []string{PrivExecute}, []Account{g.to}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ForgetAccounts(ctx, []Account{bob}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Owner(ctx, "bobs"); err != nil || ok {
		t.Fatalf("bobs still has an owner: %v %v", ok, err)
	}
	if a, err := c.AccessAll(ctx, []Account{bob}); err != nil || len(a) != 0 {
		t.Fatalf("bob's access after ForgetAccounts: %+v %v", a, err)
	}
	if _, err := c.Info(ctx, "bobs"); err != nil {
		t.Fatalf("bobs went with its creator: %v", err)
	}
	want := []Grant{{"bobs", ann, PrivExecute}}
	if g, err := c.Grants(ctx, nil); err != nil || !reflect.DeepEqual(g, want) {
		t.Fatalf("grants %v %v, want %v", g, err, want)
	}
	if o, ok, _ := c.Owner(ctx, "anns"); !ok || o != ann {
		t.Fatalf("ann's adapter's owner %v %v", o, ok)
	}
}
