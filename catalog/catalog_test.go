package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func open(t *testing.T) *Catalog {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "db.sqlite"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func record(name string, blob []byte) Record {
	sum := sha256.Sum256(blob)
	return Record{Name: name, Task: "classification", Labels: []string{"a", "b"}, BaseModel: "demo",
		BaseFingerprint: "fp", ModelType: "bert", HiddenSize: 8, NumLayers: 2, AdapterSize: 4,
		Activation: "gelu", Pool: "cls", Options: map[string]string{"epochs": "1"}, Metrics: []byte(`{"x":1}`),
		Params: int64(len(blob) / 4), SHA256: hex.EncodeToString(sum[:])}
}

func TestPutGetListDrop(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	blob := bytes.Repeat([]byte{1, 2, 3, 4}, 100)
	if ok, err := c.Put(ctx, record("sentiment", blob), blob, Create); err != nil || !ok {
		t.Fatal(ok, err)
	}
	rec, got, err := c.Get(ctx, "SENTIMENT") // names are case-insensitive
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, blob) || rec.Name != "sentiment" || rec.SizeBytes != 400 || rec.Labels[1] != "b" ||
		rec.Options["epochs"] != "1" || string(rec.Metrics) != `{"x":1}` || rec.Version == 0 {
		t.Fatalf("record %+v", rec)
	}
	if _, err := c.Put(ctx, record("Sentiment", blob), blob, Create); !errors.Is(err, ErrExists) {
		t.Fatalf("name clash: %v", err)
	}
	if ok, err := c.Put(ctx, record("sentiment", blob), blob, IfNotExists); err != nil || ok {
		t.Fatalf("if not exists: %v %v", ok, err)
	}
	blob2 := bytes.Repeat([]byte{9}, 8)
	if ok, err := c.Put(ctx, record("sentiment", blob2), blob2, Replace); err != nil || !ok {
		t.Fatal(ok, err)
	}
	rec2, got2, _ := c.Get(ctx, "sentiment")
	if !bytes.Equal(got2, blob2) || rec2.Version <= rec.Version {
		t.Fatalf("replace: version %d after %d", rec2.Version, rec.Version)
	}
	c.Put(ctx, record("topic", blob), blob, Create)
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "sentiment" || list[1].Name != "topic" {
		t.Fatalf("list %v %v", list, err)
	}
	if ok, err := c.Drop(ctx, "topic", false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := c.Drop(ctx, "topic", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("drop missing: %v", err)
	}
	if ok, err := c.Drop(ctx, "topic", true); err != nil || ok {
		t.Fatalf("drop if exists: %v %v", ok, err)
	}
	if _, _, err := c.Get(ctx, "topic"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get dropped: %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"a", "sentiment_v2", "_x", "topic-model.1"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "has space", "a;drop", string(make([]byte, 65)), "naïve"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 1000), 0o644)
	if _, err := Open(junk, zerolog.Nop()); err == nil {
		t.Error("opened a junk file")
	}
	if _, err := Open(filepath.Join(dir, "missing", "x.db"), zerolog.Nop()); err == nil {
		t.Error("opened a file in a missing directory")
	}
}

// TestCrashDuringWrites kills a process that is replacing adapters in a loop
// and checks that every adapter in the file is whole (its blob matches its
// checksum) and the database passes SQLite's integrity check.
func TestCrashDuringWrites(t *testing.T) {
	if os.Getenv("CATALOG_CRASH_CHILD") != "" {
		crashChild(os.Getenv("CATALOG_CRASH_CHILD"))
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashDuringWrites$")
		cmd.Env = append(os.Environ(), "CATALOG_CRASH_CHILD="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+200*round) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		c, err := Open(path, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		var check string
		if err := c.DB().QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("integrity check: %q %v", check, err)
		}
		list, err := c.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			_, blob, err := c.Get(context.Background(), r.Name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(blob)
			if hex.EncodeToString(sum[:]) != r.SHA256 {
				t.Fatalf("round %d: adapter %s is torn", round, r.Name)
			}
		}
		t.Logf("round %d: %d adapters intact", round, len(list))
		c.Close()
	}
}

func crashChild(path string) {
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		blob := bytes.Repeat([]byte(strconv.Itoa(i)), 200_000+i%7*1000)
		name := "a" + strconv.Itoa(i%5)
		if _, err := c.Put(context.Background(), record(name, blob), blob, Replace); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// Weights damaged in the file are refused by Get; rows written before the
// checksum column existed (NULL) are read unchecked.
func TestDamagedWeights(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	blob := bytes.Repeat([]byte("weights!"), 1000)
	if _, err := c.Put(ctx, record("a", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if r, got, err := c.Get(ctx, "a"); err != nil || !r.Checked || !bytes.Equal(got, blob) {
		t.Fatalf("Get: checked %v, %v", r.Checked, err)
	}
	if _, err := c.db.Exec(`UPDATE adapterdb_adapters SET weights = CAST(replace(CAST(weights AS TEXT), 'w', 'W') AS BLOB) WHERE name = 'a'`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "a"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged weights: %v, want ErrDamaged", err)
	}
	if _, err := c.db.Exec(`UPDATE adapterdb_adapters SET weights_crc32c = NULL WHERE name = 'a'`); err != nil {
		t.Fatal(err)
	}
	if r, _, err := c.Get(ctx, "a"); err != nil || r.Checked {
		t.Fatalf("unchecked row: checked %v, %v", r.Checked, err)
	}
}

// A file from before the checksum column gets it when opened.
func TestAddsChecksumColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("old weights")
	if _, err := c.Put(context.Background(), record("old", blob), blob, Create); err != nil {
		t.Fatal(err)
	}
	if _, err := c.db.Exec(`ALTER TABLE adapterdb_adapters DROP COLUMN weights_crc32c`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err = Open(path, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, got, err := c.Get(context.Background(), "old"); err != nil || r.Checked || string(got) != "old weights" {
		t.Fatalf("old row: %q checked %v, %v", got, r.Checked, err)
	}
}

// TestVersionNumbers: version counts the writes of a name (1, 2, ...; 1
// again after DROP) while the stamp, what caches key on, is new on every
// write. A file written before write_stamp (version = write time in ns, no
// record checksum) reads as version 1 with that time as its stamp
// (TestMigrateVersions, adapter "ancient").
func TestVersionNumbers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	blob := bytes.Repeat([]byte{1, 2, 3, 4}, 10)
	var stamps []int64
	for i, mode := range []PutMode{Create, Replace, Replace} {
		if _, err := c.Put(ctx, record("a", blob), blob, mode); err != nil {
			t.Fatal(err)
		}
		rec, err := c.Info(ctx, "a")
		if err != nil || rec.Version != int64(i+1) {
			t.Fatalf("write %d: version %d, %v", i+1, rec.Version, err)
		}
		stamps = append(stamps, rec.Stamp)
	}
	if _, err := c.Drop(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	c.Put(ctx, record("a", blob), blob, Create)
	rec, err := c.Info(ctx, "a")
	if err != nil || rec.Version != 1 {
		t.Fatalf("after drop: version %d, %v", rec.Version, err)
	}
	stamps = append(stamps, rec.Stamp)
	for i := 1; i < len(stamps); i++ {
		if stamps[i] <= stamps[i-1] {
			t.Errorf("stamps %v do not increase", stamps)
		}
	}
}

// TestCloseBesideWriter: closing does not wait for another process's write
// transaction (the WAL is left to it), and once nobody uses the file the
// last Close leaves one file, its WAL checkpointed and truncated.
func TestCloseBesideWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	first, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Put(context.Background(), record("a", []byte("0123456789abcdef")), []byte("0123456789abcdef"), Create); err != nil {
		t.Fatal(err)
	}
	// Another process's open write transaction, on a connection of its own.
	tx, err := first.DB().Begin() // BEGIN IMMEDIATE
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("CREATE TABLE held (x)"); err != nil {
		t.Fatal(err)
	}
	second, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	// Waiting would take the 10 s busy timeout; the bound leaves room for
	// a slow, loaded or -race host.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close waited %v for the other writer", d)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// With nobody writing, Close truncates the WAL itself: an idle
	// connection stays open (SQLite would otherwise checkpoint as the last
	// one closes, whatever Close did).
	idle, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.db.Close()
	if err := idle.db.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path + "-wal"); err != nil || st.Size() != 0 {
		t.Errorf("WAL after Close with nobody writing: %v, %v; want empty", st, err)
	}
}

// The connection a checkpoint used goes back to the pool with its busy
// timeout, not the checkpoint's 0.
func TestCheckpointKeepsBusyTimeout(t *testing.T) {
	c := open(t)
	c.db.SetMaxOpenConns(1) // the checkpoint's connection is the one asked next
	var before, after int
	if err := c.db.QueryRow("PRAGMA busy_timeout").Scan(&before); err != nil || before < 1000 {
		t.Fatalf("busy timeout %d (%v)", before, err)
	}
	c.checkpoint()
	if err := c.db.QueryRow("PRAGMA busy_timeout").Scan(&after); err != nil || after != before {
		t.Errorf("busy timeout %d ms after a checkpoint, %d before (%v)", after, before, err)
	}
}
