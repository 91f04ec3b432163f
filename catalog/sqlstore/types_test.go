package sqlstore

import (
	"context"
	"database/sql/driver"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/shopspring/decimal"
)

// wire runs q and returns each value as a MySQL client receives it (text
// protocol), "NULL" for NULL.
func (db *testDB) wire(q string) [][]string {
	db.t.Helper()
	ctx := sql.NewContext(context.Background(), sql.WithSession(db.sess)).WithQuery(q)
	sch, iter, _, err := db.eng.Query(ctx, q)
	if err != nil {
		db.t.Fatalf("%s: %v", q, err)
	}
	rows, err := sql.RowIterToRows(ctx, iter)
	if err != nil {
		db.t.Fatalf("%s: %v", q, err)
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		for j, v := range r {
			if v == nil {
				out[i] = append(out[i], "NULL")
				continue
			}
			sv, err := sch[j].Type.SQL(ctx, nil, v)
			if err != nil {
				db.t.Fatalf("%s: column %s: %v", q, sch[j].Name, err)
			}
			out[i] = append(out[i], sv.ToString())
		}
	}
	return out
}

// typeCase is one column type with values written as SQL literals and the
// text a client must read back.
type typeCase struct {
	typ    string
	values []string // SQL literals
	want   []string // wire text, in the same order
}

var typeCases = []typeCase{
	{"TINYINT", []string{"-128", "127", "0"}, []string{"-128", "127", "0"}},
	{"TINYINT UNSIGNED", []string{"0", "255"}, []string{"0", "255"}},
	{"SMALLINT", []string{"-32768", "32767"}, []string{"-32768", "32767"}},
	{"SMALLINT UNSIGNED", []string{"65535"}, []string{"65535"}},
	{"MEDIUMINT", []string{"-8388608", "8388607"}, []string{"-8388608", "8388607"}},
	{"MEDIUMINT UNSIGNED", []string{"16777215"}, []string{"16777215"}},
	{"INT", []string{"-2147483648", "2147483647"}, []string{"-2147483648", "2147483647"}},
	{"INT UNSIGNED", []string{"4294967295"}, []string{"4294967295"}},
	{"BIGINT", []string{"-9223372036854775808", "9223372036854775807"}, []string{"-9223372036854775808", "9223372036854775807"}},
	{"BIGINT UNSIGNED", []string{"0", "9223372036854775807", "9223372036854775808", "18446744073709551615"},
		[]string{"0", "9223372036854775807", "9223372036854775808", "18446744073709551615"}},
	{"DECIMAL(38,10)", []string{"9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999", "0.0000000001", "-0.5", "0"},
		[]string{"9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999", "0.0000000001", "-0.5000000000", "0.0000000000"}},
	{"DECIMAL(10,2)", []string{"12.5", "-99999999.99"}, []string{"12.50", "-99999999.99"}},
	{"DOUBLE", []string{"1.7976931348623157e308", "-2.2250738585072014e-308", "0.1", "-0"}, []string{"1.7976931348623157e+308", "-2.2250738585072014e-308", "0.1", "0"}},
	{"FLOAT", []string{"3.40282346638528859811704183484516925440e+38", "1.1754944e-38", "0.1"}, []string{"3.4028235e+38", "1.1754944e-38", "0.1"}},
	{"BOOLEAN", []string{"true", "false"}, []string{"1", "0"}},
	{"VARCHAR(20)", []string{"'héllo'", "''", "'😀𝄞 4-byte'", "'trailing  '"}, []string{"héllo", "", "😀𝄞 4-byte", "trailing  "}},
	{"VARCHAR(20) COLLATE utf8mb4_0900_ai_ci", []string{"'Straße'"}, []string{"Straße"}},
	{"CHAR(5)", []string{"'ab'"}, []string{"ab"}},
	{"TEXT", []string{"'" + strings.Repeat("x", 60000) + "'"}, []string{strings.Repeat("x", 60000)}},
	{"LONGTEXT", []string{"'" + strings.Repeat("é", 100000) + "'"}, []string{strings.Repeat("é", 100000)}},
	{"BLOB", []string{"X'00FF7F80'", "X''"}, []string{"\x00\xff\x7f\x80", ""}},
	{"VARBINARY(8)", []string{"X'0001'"}, []string{"\x00\x01"}},
	{"BINARY(3)", []string{"X'010000'"}, []string{"\x01\x00\x00"}},
	// Zero dates are accepted and kept, as MySQL does without NO_ZERO_DATE
	// (GMS does not implement that sql_mode flag).
	{"DATE", []string{"'1000-01-01'", "'9999-12-31'", "'2024-02-29'", "'0000-00-00'"}, []string{"1000-01-01", "9999-12-31", "2024-02-29", "0000-00-00"}},
	{"DATETIME", []string{"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'", "'0000-00-00 00:00:00'"}, []string{"1000-01-01 00:00:00", "9999-12-31 23:59:59", "0000-00-00 00:00:00"}},
	{"DATETIME(6)", []string{"'2024-05-06 07:08:09.123456'", "'9999-12-31 23:59:59.999999'"}, []string{"2024-05-06 07:08:09.123456", "9999-12-31 23:59:59.999999"}},
	{"TIMESTAMP", []string{"'1970-01-01 00:00:01'", "'2038-01-19 03:14:07'"}, []string{"1970-01-01 00:00:01", "2038-01-19 03:14:07"}},
	{"TIME", []string{"'-838:59:59'", "'838:59:59'", "'12:34:56'"}, []string{"-838:59:59", "838:59:59", "12:34:56"}},
	{"YEAR", []string{"1901", "2155"}, []string{"1901", "2155"}},
	{"JSON", []string{`'{"a": [1, "x", null, true], "b": {"c": 2.5}}'`, `'"😀"'`, `'[]'`},
		[]string{`{"a": [1, "x", null, true], "b": {"c": 2.5}}`, `"😀"`, `[]`}},
	{"ENUM('a','b','c')", []string{"'c'", "'a'"}, []string{"c", "a"}},
	{"SET('x','y','z')", []string{"'x,z'", "''"}, []string{"x,z", ""}},
	{"BIT(64)", []string{"b'1111111111111111111111111111111111111111111111111111111111111111'", "1"},
		[]string{"\xff\xff\xff\xff\xff\xff\xff\xff", "\x00\x00\x00\x00\x00\x00\x00\x01"}},
}

func TestTypeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/types.db"
	db := openTestDB(t, path, ProviderOptions{Synchronous: SyncOff})
	for i, tc := range typeCases {
		name := "t" + itoa(i)
		db.mustExec("CREATE TABLE " + name + " (id INT PRIMARY KEY, v " + tc.typ + ")")
		for j, v := range tc.values {
			db.mustExec("INSERT INTO " + name + " VALUES (" + itoa(j) + ", " + v + ")")
		}
		db.mustExec("INSERT INTO " + name + " VALUES (" + itoa(len(tc.values)) + ", NULL)")
	}
	check := func(db *testDB, when string) {
		for i, tc := range typeCases {
			name := "t" + itoa(i)
			got := db.wire("SELECT v FROM " + name + " ORDER BY id")
			want := append(append([]string{}, tc.want...), "NULL")
			if len(got) != len(want) {
				t.Fatalf("%s %s: %d rows, want %d", when, tc.typ, len(got), len(want))
			}
			for j := range want {
				if got[j][0] != want[j] {
					t.Errorf("%s %s row %d: got %.60q, want %.60q", when, tc.typ, j, got[j][0], want[j])
				}
			}
			// Each value is found again by equality (through SQLite).
			for j, lit := range tc.values {
				if strings.HasPrefix(tc.typ, "JSON") || strings.HasPrefix(tc.typ, "FLOAT") {
					continue // JSON has no equality; FLOAT literals are DOUBLE
				}
				rows := db.wire("SELECT id FROM " + name + " WHERE v = " + lit + " ORDER BY id")
				if len(rows) == 0 || rows[0][0] != itoa(j) {
					t.Errorf("%s %s: WHERE v = %.40s found %v, want id %d", when, tc.typ, lit, rows, j)
				}
			}
		}
	}
	check(db, "before restart")
	db.close()
	db.sess = nil
	db2 := openTestDB(t, path, ProviderOptions{Synchronous: SyncOff})
	check(db2, "after restart")
	// SHOW CREATE TABLE round-trips the exact types.
	for i, tc := range typeCases {
		got := db2.wire("SHOW CREATE TABLE t" + itoa(i))[0][1]
		want := strings.Split(strings.ToLower(strings.Fields(tc.typ)[0]), "(")[0]
		if want == "boolean" {
			want = "tinyint(1)"
		}
		if !strings.Contains(strings.ToLower(got), "`v` "+want) {
			t.Errorf("SHOW CREATE TABLE for %s:\n%s", tc.typ, got)
		}
	}
}

// TestUnsignedOrdering checks that BIGINT UNSIGNED values on both sides of
// 2^63 sort and compare correctly inside SQLite (index ranges).
func TestUnsignedOrdering(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE u (v BIGINT UNSIGNED PRIMARY KEY)")
	db.mustExec("INSERT INTO u VALUES (18446744073709551615), (0), (9223372036854775808), (9223372036854775807), (10000000000000000000), (1)")
	got := db.wire("SELECT v FROM u ORDER BY v")
	want := []string{"0", "1", "9223372036854775807", "9223372036854775808", "10000000000000000000", "18446744073709551615"}
	for i := range want {
		if got[i][0] != want[i] {
			t.Fatalf("order: got %v", got)
		}
	}
	if rows := db.wire("SELECT v FROM u WHERE v > 9223372036854775807 ORDER BY v"); len(rows) != 3 || rows[0][0] != want[3] {
		t.Fatalf("range: got %v", rows)
	}
	if rows := db.wire("SELECT v FROM u WHERE v BETWEEN 1 AND 9223372036854775808 ORDER BY v DESC"); len(rows) != 3 || rows[0][0] != want[3] {
		t.Fatalf("between: got %v", rows)
	}
}

// TestDecimalOrdering checks numeric (not text) order of DECIMAL keys.
func TestDecimalOrdering(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE d (v DECIMAL(20,4) PRIMARY KEY)")
	db.mustExec("INSERT INTO d VALUES (10), (-2.5), (9.99), (-10), (0), (100.0001), (-0.0001)")
	got := db.wire("SELECT v FROM d WHERE v > -5 ORDER BY v")
	want := []string{"-2.5000", "-0.0001", "0.0000", "9.9900", "10.0000", "100.0001"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i][0] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// FuzzDecimalCollation checks the SQLite collation for DECIMAL text against
// exact decimal comparison.
func FuzzDecimalCollation(f *testing.F) {
	for _, c := range [][2]string{{"1", "10"}, {"-1", "1"}, {"-2.50", "-10.00"}, {"0.5", "0.45"}, {"-0.000", "0"}, {"99.99", "100"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, err1 := decimal.NewFromString(a)
		db, err2 := decimal.NewFromString(b)
		if err1 != nil || err2 != nil || strings.ContainsAny(a+b, "eE+ ") || strings.HasPrefix(a, ".") || strings.HasPrefix(b, ".") ||
			strings.HasPrefix(a, "-.") || strings.HasPrefix(b, "-.") || strings.HasSuffix(a, ".") || strings.HasSuffix(b, ".") {
			return // not canonical decimal text
		}
		if got, want := compareDecimalText(a, b), da.Cmp(db); got != want {
			t.Fatalf("compare(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

func TestCaseInsensitiveCollation(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE c (s VARCHAR(20) COLLATE utf8mb4_0900_ai_ci PRIMARY KEY)")
	db.mustExec("INSERT INTO c VALUES ('apple'), ('Banana')")
	if _, err := db.query("INSERT INTO c VALUES ('APPLE')"); err == nil || sql.CastSQLError(err).Num != 1062 {
		t.Fatalf("case-insensitive duplicate: %v", err)
	}
	if rows := db.wire("SELECT s FROM c WHERE s = 'BANANA'"); len(rows) != 1 || rows[0][0] != "Banana" {
		t.Fatalf("ci lookup: %v", rows)
	}
	if rows := db.wire("SELECT s FROM c ORDER BY s"); rows[0][0] != "apple" {
		t.Fatalf("ci order: %v", rows)
	}
}

func TestOverflowAndBadValues(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE o (id INT PRIMARY KEY, ti TINYINT, u INT UNSIGNED, vc VARCHAR(3), d DECIMAL(5,2), dt DATE)")
	// GMS reports these with code 1105 and a message naming the value and
	// the column type; nothing is written.
	for _, c := range []struct{ q, msg string }{
		{"INSERT INTO o (id, ti) VALUES (1, 128)", "out of range for tinyint"},
		{"INSERT INTO o (id, u) VALUES (1, -1)", "out of range for int unsigned"},
		{"INSERT INTO o (id, vc) VALUES (1, 'abcd')", "too large for column 'vc'"},
		{"INSERT INTO o (id, d) VALUES (1, 1000)", "Out of range value"},
		{"INSERT INTO o (id, dt) VALUES (1, '2024-13-01')", "2024-13-01"},
		{"INSERT INTO o (id, ti) VALUES (1, 1), (2, 1000)", "out of range for tinyint"},
	} {
		_, err := db.query(c.q)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want one mentioning %q", c.q, err, c.msg)
		}
	}
	db.expect("SELECT count(*) FROM o", sql.Row{0})
}

// TestStorageForm pins the documented SQLite representation of a few types,
// so the file stays readable with the sqlite3 tool.
func TestStorageForm(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE s (id INT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(6,2), dt DATETIME(3), j JSON, e ENUM('x','y'), tm TIME)")
	db.mustExec(`INSERT INTO s VALUES (1, 18446744073709551615, 3.5, '2024-01-02 03:04:05.678', '{"k": 1}', 'y', '01:00:00')`)
	c, err := db.pro.pool.get()
	if err != nil {
		t.Fatal(err)
	}
	defer db.pro.pool.put(c)
	dest := make([]driver.Value, 6)
	if _, err := c.queryRow(dest, `SELECT u, d, dt, j, e, tm FROM "main.s"`); err != nil {
		t.Fatal(err)
	}
	want := []driver.Value{"18446744073709551615", "3.50", "2024-01-02 03:04:05.678", `{"k": 1}`, int64(2), int64(3600000000)}
	for i := range want {
		if dest[i] != want[i] {
			t.Errorf("column %d stored as %#v, want %#v", i, dest[i], want[i])
		}
	}
}
