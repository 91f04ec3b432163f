package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

// A catalog row edited outside adapterdb (here: the labels, options, pool and
// task columns rewritten with the sqlite3 driver, at the same length and at
// another) is refused by every read — Info, Get, List — like damaged weights;
// untouched rows read fine, and rows without a row checksum (written before
// it existed) are read unchecked.
// withOutsider opens a catalog holding the named adapters (weights blob)
// and a second connection to its file, as another process (or the sqlite3
// tool) would have.
func withOutsider(t *testing.T, names ...string) (c *Catalog, raw *sql.DB, blob []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	blob = bytes.Repeat([]byte("weights!"), 100)
	for _, name := range names {
		if _, err := c.Put(context.Background(), record(name, blob), blob, Create); err != nil {
			t.Fatal(err)
		}
	}
	raw, err = sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return c, raw, blob
}

func TestEditedRow(t *testing.T) {
	c, raw, blob := withOutsider(t, "a", "b")
	ctx := context.Background()
	reads := func() map[string]error {
		_, infoErr := c.Info(ctx, "a")
		_, _, getErr := c.Get(ctx, "a")
		_, listErr := c.List(ctx)
		return map[string]error{"Info": infoErr, "Get": getErr, "List": listErr}
	}
	for what, err := range reads() {
		if err != nil {
			t.Fatalf("untouched row: %s: %v", what, err)
		}
	}
	for _, edit := range []string{
		`UPDATE adapterdb_adapters SET labels = '["b","a"]' WHERE name = 'a'`,    // same length
		`UPDATE adapterdb_adapters SET labels = '["no","yes"]' WHERE name = 'a'`, // another length
		`UPDATE adapterdb_adapters SET options = '{"epochs":"2"}' WHERE name = 'a'`,
		`UPDATE adapterdb_adapters SET pool = 'mean' WHERE name = 'a'`,
		`UPDATE adapterdb_adapters SET task = 'regression' WHERE name = 'a'`,
	} {
		tx, err := raw.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(edit); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		for what, err := range reads() {
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("%s, then %s: %v, want ErrDamaged", edit, what, err)
			}
		}
		if _, err := c.Info(ctx, "b"); err != nil {
			t.Fatalf("the other row: %v", err)
		}
		// Put back: the row reads again.
		if _, err := c.Put(ctx, record("a", blob), blob, Replace); err != nil {
			t.Fatal(err)
		}
		for what, err := range reads() {
			if err != nil {
				t.Fatalf("rewritten row: %s: %v", what, err)
			}
		}
	}
	if _, err := raw.Exec(`UPDATE adapterdb_adapters SET labels = '["b","a"]', record_crc32c = NULL WHERE name = 'a'`); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Info(ctx, "a"); err != nil || r.Labels[0] != "b" {
		t.Fatalf("row without a checksum: %v %v", r.Labels, err)
	}
}

// A file from before the row checksum gets the column when opened; its rows
// read unchecked until rewritten, then checked.
func TestAddsRowChecksumColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	blob := []byte("old weights")
	if _, err := c.Put(ctx, record("old", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.Exec(`ALTER TABLE adapterdb_adapters DROP COLUMN record_crc32c`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err = Open(path, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.db.Exec(`UPDATE adapterdb_adapters SET labels = '["x"]'`); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Info(ctx, "old"); err != nil || r.Labels[0] != "x" {
		t.Fatalf("old row: %v %v", r.Labels, err)
	}
	if _, err := c.Put(ctx, record("old", blob), blob, Replace); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.Exec(`UPDATE adapterdb_adapters SET labels = '["x"]'`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctx, "old"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("rewritten row edited: %v, want ErrDamaged", err)
	}
}
