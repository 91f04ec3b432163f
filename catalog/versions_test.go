package catalog

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func versionNumbers(t *testing.T, c *Catalog, name string) (nums []int64, active int64) {
	t.Helper()
	vs, err := c.Versions(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		nums = append(nums, v.Version)
		if v.Active {
			if active != 0 {
				t.Fatalf("two active versions in %+v", vs)
			}
			active = v.Version
		}
	}
	return nums, active
}

// Every write keeps the previous versions; name@N pins one, the plain name
// means the active one; SetActive rolls back and forward; DropVersion
// refuses the active version; numbers are never given twice; Drop removes
// every version.
func TestVersions(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	blobs := [][]byte{[]byte("weights one"), []byte("weights two"), []byte("weights three")}
	for i, b := range blobs {
		mode := Replace
		if i == 0 {
			mode = Create
		}
		if ok, err := c.Put(ctx, record("sent", b), b, mode); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if nums, active := versionNumbers(t, c, "sent"); fmt.Sprint(nums) != "[1 2 3]" || active != 3 {
		t.Fatalf("versions %v active %d", nums, active)
	}
	for i, b := range blobs {
		rec, got, err := c.Get(ctx, fmt.Sprintf("SENT@%d", i+1))
		if err != nil || !bytes.Equal(got, b) || rec.Version != int64(i+1) || rec.Active != (i == 2) || !rec.Checked {
			t.Fatalf("sent@%d: %q %+v %v", i+1, got, rec, err)
		}
	}
	if rec, got, err := c.Get(ctx, "sent"); err != nil || !bytes.Equal(got, blobs[2]) || !rec.Active || rec.KeepVersions != DefaultKeepVersions {
		t.Fatalf("active: %q %+v %v", got, rec, err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].Version != 3 {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, bad := range []string{"sent@4", "sent@0", "sent@x", "nope@1"} {
		if _, err := c.Info(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Info(%s): %v, want ErrNotFound", bad, err)
		}
	}

	// Roll back: the plain name reads version 1; stamps tell caches apart.
	v3, _ := c.Info(ctx, "sent")
	if err := c.SetActive(ctx, "Sent", 1); err != nil {
		t.Fatal(err)
	}
	rec, got, err := c.Get(ctx, "sent")
	if err != nil || !bytes.Equal(got, blobs[0]) || rec.Version != 1 || !rec.Active || rec.Stamp == v3.Stamp {
		t.Fatalf("after rollback: %q %+v %v", got, rec, err)
	}
	if err := c.SetActive(ctx, "sent", 9); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sent@9") {
		t.Fatalf("SetActive to a missing version: %v", err)
	}
	if err := c.SetActive(ctx, "nope", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetActive of a missing adapter: %v", err)
	}
	if err := c.DropVersion(ctx, "sent", 1); !errors.Is(err, ErrActiveVersion) {
		t.Fatalf("dropping the active version: %v", err)
	}
	if err := c.DropVersion(ctx, "sent", 3); err != nil {
		t.Fatal(err)
	}
	if err := c.DropVersion(ctx, "sent", 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dropping a dropped version: %v", err)
	}
	if _, _, err := c.Get(ctx, "sent@3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dropped version read: %v", err)
	}
	// A write after a rollback is the next number (3 is not given again)
	// and becomes the active version.
	b4 := []byte("weights four")
	if _, err := c.Put(ctx, record("sent", b4), b4, Replace); err != nil {
		t.Fatal(err)
	}
	if nums, active := versionNumbers(t, c, "sent"); fmt.Sprint(nums) != "[1 2 4]" || active != 4 {
		t.Fatalf("after a write: versions %v active %d", nums, active)
	}
	if ok, err := c.Drop(ctx, "sent", false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, ref := range []string{"sent", "sent@1", "sent@4"} {
		if _, err := c.Info(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("after DROP, %s: %v", ref, err)
		}
	}
	if _, err := c.Versions(ctx, "sent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("versions after DROP: %v", err)
	}
	var rows int
	c.db.QueryRow(`SELECT (SELECT COUNT(*) FROM adapterdb_adapters) + (SELECT COUNT(*) FROM adapterdb_adapter_heads)`).Scan(&rows)
	if rows != 0 {
		t.Fatalf("%d rows left after DROP", rows)
	}
	c.Put(ctx, record("sent", b4), b4, Create)
	if nums, active := versionNumbers(t, c, "sent"); fmt.Sprint(nums) != "[1]" || active != 1 {
		t.Fatalf("re-created: versions %v active %d", nums, active)
	}
}

// Retention: the default keeps 5 versions; KeepVersions on a write sets the
// adapter's retention, which later writes keep; the oldest inactive
// versions go first.
func TestKeepVersions(t *testing.T) {
	c := open(t)
	ctx := context.Background()
	put := func(keep int) error {
		b := []byte("w" + strconv.Itoa(keep))
		r := record("a", b)
		r.KeepVersions = keep
		_, err := c.Put(ctx, r, b, Replace)
		return err
	}
	for i := 0; i < 7; i++ {
		if err := put(0); err != nil {
			t.Fatal(err)
		}
	}
	if nums, active := versionNumbers(t, c, "a"); fmt.Sprint(nums) != "[3 4 5 6 7]" || active != 7 {
		t.Fatalf("default retention: %v active %d", nums, active)
	}
	if err := put(2); err != nil {
		t.Fatal(err)
	}
	if nums, _ := versionNumbers(t, c, "a"); fmt.Sprint(nums) != "[7 8]" {
		t.Fatalf("keep 2: %v", nums)
	}
	if err := put(0); err != nil {
		t.Fatal(err)
	}
	if nums, _ := versionNumbers(t, c, "a"); fmt.Sprint(nums) != "[8 9]" {
		t.Fatalf("keep 2 kept: %v", nums)
	}
	if rec, _ := c.Info(ctx, "a"); rec.KeepVersions != 2 {
		t.Fatalf("retention %d, want 2", rec.KeepVersions)
	}
	if err := put(1); err != nil {
		t.Fatal(err)
	}
	if nums, active := versionNumbers(t, c, "a"); fmt.Sprint(nums) != "[10]" || active != 10 {
		t.Fatalf("keep 1: %v active %d", nums, active)
	}
	for _, bad := range []int{-1, MaxKeepVersions + 1} {
		if err := put(bad); err == nil {
			t.Errorf("keep %d accepted", bad)
		}
	}
	if nums, _ := versionNumbers(t, c, "a"); fmt.Sprint(nums) != "[10]" {
		t.Fatalf("a refused write changed the versions: %v", nums)
	}
}

// preVersionsFile makes a database file as the release before versions did:
// testdata/pre_versions.sql, plus one adapter written as that release's Put
// wrote it (record and weights checksums).
func preVersionsFile(t *testing.T) string {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("testdata", "pre_versions.sql"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(string(script)); err != nil {
		t.Fatal(err)
	}
	// That release's Put: version 2, its stamp, and both checksums.
	blob := []byte("checked weights")
	r := record("checked", blob)
	row := []any{r.Name, r.Task, `["a","b"]`, r.BaseModel, r.BaseFingerprint, r.ModelType, int64(r.HiddenSize),
		int64(r.NumLayers), int64(r.AdapterSize), r.Activation, r.Pool, `{"epochs":"1"}`, `{"x":1}`, r.Params,
		int64(len(blob)), r.SHA256, "2026-02-03T04:05:06Z", int64(2), int64(1770091506000000000)}
	_, err = raw.Exec(`INSERT INTO adapterdb_adapters (`+allColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		append(row, int64(rowSum(row...)), blob, int64(crc32Sum(blob)))...)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// adapterKey is the adapter table's primary key columns.
func adapterKey(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM pragma_table_info('adapterdb_adapters') WHERE pk > 0 ORDER BY pk`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		cols = append(cols, s)
	}
	return strings.Join(cols, ",")
}

// A file made by the release before versions opens with every adapter as
// its one, active version, numbered as before (its count of writes);
// checksums, owners and grants carry over; the next write is the next
// version and keeps the migrated one.
func TestMigrateVersions(t *testing.T) {
	path := preVersionsFile(t)
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if k := adapterKey(t, c.db); k != "name,version" {
		t.Fatalf("primary key %s after migration", k)
	}
	want := map[string][3]int64{ // version, stamp, checked
		"ancient":   {1, 1796394196163182345, 0},
		"checked":   {2, 1770091506000000000, 1},
		"sentiment": {3, 1767322245000000000, 0},
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, r := range list {
		w := want[r.Name]
		_, blob, err := c.Get(ctx, fmt.Sprintf("%s@%d", r.Name, w[0]))
		if err != nil || r.Version != w[0] || r.Stamp != w[1] || !r.Active || r.KeepVersions != DefaultKeepVersions || len(blob) == 0 {
			t.Errorf("%s: %+v, %v", r.Name, r, err)
		}
		if got, _, _ := c.Get(ctx, r.Name); got.Checked != (w[2] == 1) {
			t.Errorf("%s: checked %v", r.Name, got.Checked)
		}
	}
	if a, err := c.AdapterAccess(ctx, "sentiment", []Account{{User: "amy", Host: "%"}}); err != nil || !a.Allows(PrivExecute) {
		t.Fatalf("grant lost: %+v %v", a, err)
	}
	if o, ok, err := c.Owner(ctx, "sentiment"); err != nil || !ok || o.User != "bob" {
		t.Fatalf("owner lost: %v %v %v", o, ok, err)
	}
	b := []byte("sentiment v4")
	if _, err := c.Put(ctx, record("sentiment", b), b, Replace); err != nil {
		t.Fatal(err)
	}
	if nums, active := versionNumbers(t, c, "sentiment"); fmt.Sprint(nums) != "[3 4]" || active != 4 {
		t.Fatalf("after a write: %v active %d", nums, active)
	}
	if _, got, err := c.Get(ctx, "sentiment@3"); err != nil || string(got) != "sentiment v3 w.." {
		t.Fatalf("migrated version: %q %v", got, err)
	}
	// Opening again changes nothing.
	c.Close()
	if c, err = Open(path, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if nums, active := versionNumbers(t, c, "sentiment"); fmt.Sprint(nums) != "[3 4]" || active != 4 {
		t.Fatalf("reopened: %v active %d", nums, active)
	}
}

// The migration is one transaction: when it fails part way (here SQLite
// refuses the final rename because a view someone added with the sqlite3
// shell names the table), the file is exactly as before — the old table with
// its rows, no new tables — and opens once the obstacle is gone.
func TestMigrationIsAtomic(t *testing.T) {
	path := preVersionsFile(t)
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE VIEW adapter_names AS SELECT name FROM adapterdb_adapters`); err != nil {
		t.Fatal(err)
	}
	before := dumpOld(t, raw)
	if c, err := Open(path, zerolog.Nop()); err == nil {
		c.Close()
		t.Fatal("migration succeeded despite the view")
	} else if !strings.Contains(err.Error(), "file is unchanged") {
		t.Fatalf("error does not say the file is unchanged: %v", err)
	}
	if k := adapterKey(t, raw); k != "name" {
		t.Fatalf("primary key %s after a failed migration", k)
	}
	var n int
	raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('adapterdb_adapter_heads', 'adapterdb_adapters_versions')`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d new tables after a failed migration", n)
	}
	if after := dumpOld(t, raw); after != before {
		t.Fatalf("rows changed:\n%s\nwant\n%s", after, before)
	}
	if _, err := raw.Exec(`DROP VIEW adapter_names`); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if list, err := c.List(context.Background()); err != nil || len(list) != 3 {
		t.Fatalf("after the retry: %d adapters, %v", len(list), err)
	}
}

// dumpOld reads the adapter table as the release before versions did.
func dumpOld(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT name, version, IFNULL(write_stamp, -1), IFNULL(record_crc32c, -1), hex(weights) FROM adapterdb_adapters ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var name, w string
		var v, s, sum int64
		if err := rows.Scan(&name, &v, &s, &sum, &w); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, name, v, s, sum, w)
	}
	return b.String()
}

// TestCrashDuringMigration kills processes migrating a large pre-versions
// file at various points: every time, the file is either still the old one
// (old table, all rows) or fully migrated, and opening it finishes the job
// with every adapter whole.
func TestCrashDuringMigration(t *testing.T) {
	if p := os.Getenv("CATALOG_MIGRATE_CHILD"); p != "" {
		fmt.Println("opening")
		start := time.Now()
		if c, err := Open(p, zerolog.Nop()); err == nil {
			c.Close()
		}
		fmt.Println("opened in", time.Since(start))
		return
	}
	if testing.Short() {
		t.Skip("writes and migrates large files (-short)")
	}
	for round, delay := range []time.Duration{5 * time.Millisecond, 40 * time.Millisecond, 150 * time.Millisecond, 2 * time.Second} {
		path := preVersionsFile(t)
		raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
		if err != nil {
			t.Fatal(err)
		}
		const big = 20
		for i := 0; i < big; i++ {
			blob := bytes.Repeat([]byte{byte(i)}, 1<<20)
			if _, err := raw.Exec(`INSERT INTO adapterdb_adapters (`+allColumns+`) SELECT 'big`+strconv.Itoa(i)+`', task, labels,
				base_model, base_fingerprint, model_type, hidden_size, num_layers, adapter_size, activation, pool, options, metrics,
				params, ?, sha256, created_at, 1, 1, NULL, ?, ? FROM adapterdb_adapters WHERE name = 'ancient'`,
				len(blob), blob, int64(crc32Sum(blob))); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashDuringMigration$")
		cmd.Env = append(os.Environ(), "CATALOG_MIGRATE_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "opening\n" {
			t.Fatalf("child: %q", line)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		var heads int
		raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'adapterdb_adapter_heads'`).Scan(&heads)
		key := adapterKey(t, raw)
		var n int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM adapterdb_adapters`).Scan(&n); err != nil || n != big+3 {
			t.Fatalf("round %d: %d rows readable, %v", round, n, err)
		}
		switch {
		case heads == 0 && key == "name":
			t.Logf("round %d: killed before the migration committed: the old file", round)
		case heads == 1 && key == "name,version":
			t.Logf("round %d: the migration had committed", round)
		default:
			t.Fatalf("round %d: half-migrated file: heads table %d, key %s", round, heads, key)
		}
		raw.Close()
		c, err := Open(path, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.List(context.Background())
		if err != nil || len(list) != big+3 {
			t.Fatalf("round %d: %d adapters, %v", round, len(list), err)
		}
		for _, r := range list {
			if _, _, err := c.Get(context.Background(), r.Name); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		c.Close()
	}
}

func crc32Sum(b []byte) uint32 { return crc32.Checksum(b, crcTable) }
