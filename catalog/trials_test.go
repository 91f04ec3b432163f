package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

func trialsOf(t *testing.T, c *Catalog) []TrialRecord {
	t.Helper()
	tr, err := c.Trials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// A search's trials are stored with the version Put writes, in its
// transaction; they go with the version (drop) and a new adapter of the same
// name does not inherit them.
func TestTrials(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	blob := []byte("weights")
	trials := []Trial{
		{Trial: 1, Options: json.RawMessage(`{"learning_rate":"0.001"}`), Metrics: json.RawMessage(`{"validation_loss":0.5}`), Seconds: 1.5},
		{Trial: 2, Options: json.RawMessage(`{"learning_rate":"0.0001"}`), Metrics: json.RawMessage(`{"validation_loss":0.25}`), Seconds: 2, Chosen: true},
	}
	if _, err := c.Put(WithTrials(ctx, trials), record("s", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	got := trialsOf(t, c)
	if len(got) != 2 || got[0].Adapter != "s" || got[0].Version != 1 || got[1].Trial.Trial != 2 || !got[1].Chosen ||
		got[0].Chosen || got[0].Seconds != 1.5 || string(got[1].Options) != `{"learning_rate":"0.0001"}` ||
		string(got[1].Metrics) != `{"validation_loss":0.25}` {
		t.Fatalf("trials %+v", got)
	}
	// A retrain without a search keeps version 1's trials while version 1 exists.
	if _, err := c.Put(ctx, record("s", blob), blob, Replace); err != nil {
		t.Fatal(err)
	}
	rec, err := c.Info(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 2 {
		t.Fatalf("version %d", rec.Version)
	}
	if got := trialsOf(t, c); len(got) != 2 || got[0].Version != 1 {
		t.Fatalf("after a plain retrain: %+v", got)
	}
	// Bad JSON is refused and the write rolled back.
	bad := []Trial{{Trial: 1, Options: json.RawMessage(`{`)}}
	if _, err := c.Put(WithTrials(ctx, bad), record("s", blob), blob, Replace); err == nil {
		t.Fatal("bad trial JSON stored")
	}
	if rec, err := c.Info(ctx, "s"); err != nil || rec.Version != 2 {
		t.Fatalf("failed write changed the adapter: %v %v", rec.Version, err)
	}
	if _, err := c.Drop(ctx, "S", false); err != nil {
		t.Fatal(err)
	}
	if got := trialsOf(t, c); len(got) != 0 {
		t.Fatalf("trials outlive their adapter: %+v", got)
	}
	// Left-over rows of a name (written outside adapterdb, say) are not a
	// new adapter's.
	if _, err := c.db.Exec(`INSERT INTO adapterdb_trials VALUES ('s', 1, 1, '{}', '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, record("s", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if got := trialsOf(t, c); len(got) != 0 {
		t.Fatalf("a new adapter inherits trials: %+v", got)
	}
}

// A file made before trials (no trials table) gets the table on open and
// keeps its adapters.
func TestTrialsTableMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("old weights")
	if _, err := c.Put(context.Background(), record("old", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.Exec(`DROP TABLE adapterdb_trials`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err = Open(path, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := trialsOf(t, c); len(got) != 0 {
		t.Fatalf("trials %+v", got)
	}
	if _, _, err := c.Get(context.Background(), "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}
