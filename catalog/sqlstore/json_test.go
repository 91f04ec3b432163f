package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
)

// JSON columns store, and send, valid JSON whatever the object keys hold.
// go-mysql-server's writer leaves keys unescaped, so a key with a quote (a
// label such as a"x, which CREATE TABLE ... AS SELECT PREDICT_PROBA(...)
// turns into a key) or a control character was stored as text that could
// not be read back ("invalid character 'x' after object key").
func TestJSONColumnKeysEscaped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db := openTestDB(t, path, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE j (id INT PRIMARY KEY, v JSON)")
	// A literal (parsed by the JSON type), a document a function built (not
	// text yet), and both again as read back from the table.
	db.mustExec(`INSERT INTO j VALUES (1, '{"a\\"x": 1, "k\\u0001": "v\\n", "b\\\\": [true, null, 2.5]}')`)
	db.mustExec(`INSERT INTO j VALUES (2, JSON_OBJECT('a"x', 1.5, 'n', 7))`)
	db.mustExec(`INSERT INTO j SELECT id + 10, v FROM j`)
	// Keys in MySQL's order: by length, then bytes.
	one := `{"b\\": [true, null, 2.5], "k\u0001": "v\n", "a\"x": 1}`
	two := `{"n": 7, "a\"x": 1.5}`
	want := [][]string{{"1", one}, {"2", two}, {"11", one}, {"12", two}}

	check := func(db *testDB) {
		t.Helper()
		got := db.wire("SELECT id, v FROM j ORDER BY id")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("wire text:\n got %q\nwant %q", got, want)
		}
		for _, r := range got {
			if !json.Valid([]byte(r[1])) {
				t.Errorf("row %s: invalid JSON on the wire: %q", r[0], r[1])
			}
		}
		// The value itself prints its text (fmt, the in-process driver).
		for i, r := range db.mustExec("SELECT v FROM j ORDER BY id") {
			if s := fmt.Sprint(r[0]); s != want[i][1] {
				t.Errorf("row %s printed as %q, want %q", want[i][0], s, want[i][1])
			}
			if dv, ok := r[0].(driver.Valuer); ok {
				if v, err := dv.Value(); err != nil || v != want[i][1] {
					t.Errorf("row %s: driver value %q, %v; want %q", want[i][0], v, err, want[i][1])
				}
			}
		}
		// The documents still answer the JSON functions.
		db.expect(`SELECT JSON_EXTRACT(v, '$.n'), JSON_LENGTH(v) FROM j WHERE id = 12`, sql.Row{"7", 2})
		// SQLite reads the stored text as JSON too.
		c, err := db.pro.pool.get()
		if err != nil {
			t.Fatal(err)
		}
		defer db.pro.pool.put(c)
		dest := make([]driver.Value, 1)
		if _, err := c.queryRow(dest, `SELECT COUNT(*) FROM "main.j" WHERE json_valid(v)`); err != nil {
			t.Fatal(err)
		}
		if dest[0] != int64(len(want)) {
			t.Errorf("%v of %d stored values are valid JSON", dest[0], len(want))
		}
	}
	check(db)
	db.close()
	db.sess = nil
	check(openTestDB(t, path, ProviderOptions{Synchronous: SyncOff}))
}
