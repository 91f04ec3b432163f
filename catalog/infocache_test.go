package catalog

import (
	"context"
	"errors"
	"testing"
)

// TestInfoCache: Info answers from its cache while nothing was committed,
// and sees every commit at once: this catalog's writes, another
// connection's, and an outside edit that breaks a row's checksum.
func TestInfoCache(t *testing.T) {
	c, raw, blob := withOutsider(t, "a")
	ctx := context.Background()
	r1, err := c.Info(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.infos.recs["a"]; !ok {
		t.Fatal("Info did not cache the record")
	}
	r1.Labels[0], r1.Options["epochs"] = "changed", "99" // a caller's edits stay its own
	r2, err := c.Info(ctx, "a")
	if err != nil || r2.Labels[0] != "a" || r2.Options["epochs"] != "1" || r2.Stamp != r1.Stamp {
		t.Fatalf("cached Info: %+v, %v", r2, err)
	}

	// This catalog's own write: a new version.
	if _, err := c.Put(ctx, record("a", blob), blob, Replace); err != nil {
		t.Fatal(err)
	}
	if r3, err := c.Info(ctx, "a"); err != nil || r3.Version != r2.Version+1 {
		t.Fatalf("after a replace: version %d (was %d), %v", r3.Version, r2.Version, err)
	}

	// Another connection's commits: an edit that breaks the row's checksum,
	// then a delete.
	if _, err := raw.Exec(`UPDATE adapterdb_adapters SET pool = 'mean' WHERE name = 'a'`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctx, "a"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("after an outside edit: %v, want ErrDamaged", err)
	}
	if _, err := raw.Exec(`DELETE FROM adapterdb_adapters WHERE name = 'a'`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after an outside delete: %v, want ErrNotFound", err)
	}
}
