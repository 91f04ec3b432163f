package sqlstore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dolthub/go-mysql-server/sql"
)

func TestImportInfersTypes(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	csv := "id,name,score,day,at,ok,note\n" +
		"1,\"Smith, Ann\",4.5,2024-01-02,2024-01-02 03:04:05,true,\n" +
		"2,\"Bob \"\"the\"\" Builder\",3,2024-02-29,2024-02-29T10:00:00.5,false,\\N\n" +
		"3,😀 Zoë,,2024-03-01,2024-03-01 00:00:00,TRUE,x\n"
	res, err := db.pro.Import(context.Background(), strings.NewReader(csv), ImportOptions{Table: "people"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Rows != 3 {
		t.Fatalf("result %+v", res)
	}
	wantTypes := []string{"bigint", "text", "double", "date", "datetime(6)", "tinyint(1)", "text"}
	for i, w := range wantTypes {
		if !strings.HasPrefix(res.Types[i], w) {
			t.Errorf("column %s: type %s, want %s", res.Columns[i], res.Types[i], w)
		}
	}
	got := db.wire("SELECT id, name, score, day, at, ok, note FROM people ORDER BY id")
	want := [][]string{
		{"1", "Smith, Ann", "4.5", "2024-01-02", "2024-01-02 03:04:05", "1", ""},
		{"2", `Bob "the" Builder`, "3", "2024-02-29", "2024-02-29 10:00:00.5", "0", "NULL"},
		{"3", "😀 Zoë", "NULL", "2024-03-01", "2024-03-01 00:00:00", "1", "x"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows:\n%v\nwant\n%v", got, want)
	}
}

// A byte-order mark, as spreadsheet programs write at the start of a CSV
// file, is not part of the first column's name; one later in the file is
// data.
func TestImportSkipsByteOrderMark(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	res, err := db.pro.Import(context.Background(), strings.NewReader("\ufeffa,b\nx,\ufeff1\n"), ImportOptions{Table: "bom"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Columns) != "[a b]" {
		t.Fatalf("columns %q", res.Columns)
	}
	if got := db.wire("SELECT a, HEX(b) FROM bom"); fmt.Sprint(got) != "[[x EFBBBF31]]" {
		t.Fatalf("rows %v", got)
	}
	// A file too short to hold a mark is read as it is.
	if _, err := db.pro.Import(context.Background(), strings.NewReader("a"), ImportOptions{Table: "short"}); err != nil {
		t.Fatal(err)
	}
	// Whatever pieces the reader returns.
	for in, want := range map[string]string{"\ufeffa,b\n": "a,b\n", "ab": "ab", "": "", "\ufeff": "", "\xef\xbbx": "\xef\xbbx"} {
		got, err := io.ReadAll(SkipBOM(iotest.OneByteReader(strings.NewReader(in))))
		if err != nil || string(got) != want {
			t.Errorf("SkipBOM(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestImportGivenTypesAndAppend(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE r (id INT PRIMARY KEY AUTO_INCREMENT, txt VARCHAR(10) NOT NULL, price DECIMAL(6,2))")
	res, err := db.pro.Import(context.Background(), strings.NewReader("txt,price\na,1.5\nb,2\n"),
		ImportOptions{Table: "r", Mode: ImportAppend})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created || res.Rows != 2 {
		t.Fatalf("%+v", res)
	}
	db.mustExec("INSERT INTO r (txt) VALUES ('c')")
	if got := db.wire("SELECT id, txt, price FROM r ORDER BY id"); fmt.Sprint(got) != "[[1 a 1.50] [2 b 2.00] [3 c NULL]]" {
		t.Fatalf("appended rows: %v", got)
	}

	_, err = db.pro.Import(context.Background(), strings.NewReader("k,v\n1,2\n"),
		ImportOptions{Table: "typed", Types: map[string]string{"k": "SMALLINT UNSIGNED", "v": "DECIMAL(38,10)"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.wire("SHOW CREATE TABLE typed")[0][1]; !strings.Contains(got, "`k` smallint unsigned") || !strings.Contains(got, "decimal(38,10)") {
		t.Fatalf("given types not used:\n%s", got)
	}
	if _, err := db.pro.Import(context.Background(), strings.NewReader("a\n1\n"), ImportOptions{Table: "r", Mode: ImportCreate}); err == nil {
		t.Fatal("--create over an existing table")
	}
	if _, err := db.pro.Import(context.Background(), strings.NewReader("a\n1\n"), ImportOptions{Table: "nope", Mode: ImportAppend}); err == nil {
		t.Fatal("--append to a missing table")
	}
}

// Bad rows are named by line; abort leaves nothing, skip keeps the rest.
func TestImportBadRows(t *testing.T) {
	csv := "id,qty,label\n" +
		"1,10,ok\n" + // line 2
		"2,not a number,bad\n" + // line 3
		"3,5\n" + // line 4: too few fields
		"4,\"unterminated\n" + // line 5: a quote that never closes...
		"5,7,fine\n"
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	db.mustExec("CREATE TABLE inv (id INT PRIMARY KEY, qty INT, label VARCHAR(20))")
	db.mustExec("INSERT INTO inv VALUES (5, 0, 'already there')")

	_, err := db.pro.Import(context.Background(), strings.NewReader(csv), ImportOptions{Table: "inv"})
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "qty") {
		t.Fatalf("abort: %v", err)
	}
	db.expect("SELECT count(*) FROM inv", sql.Row{1})

	res, err := db.pro.Import(context.Background(), strings.NewReader(csv), ImportOptions{Table: "inv", OnError: SkipOnError})
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, e := range res.Errors {
		lines = append(lines, e.Line)
		t.Log(e)
	}
	if res.Rows != 1 || res.Skipped < 2 || lines[0] != 3 || lines[1] != 4 {
		t.Fatalf("skip: rows %d skipped %d lines %v", res.Rows, res.Skipped, lines)
	}
	db.expect("SELECT id FROM inv ORDER BY id", sql.Row{1}, sql.Row{5})

	// A duplicate key in the file: named by line.
	_, err = db.pro.Import(context.Background(), strings.NewReader("id,qty,label\n9,1,a\n1,1,dup\n"), ImportOptions{Table: "inv"})
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("duplicate: %v", err)
	}
	db.expect("SELECT count(*) FROM inv", sql.Row{2})
}

func TestImportHeaderErrors(t *testing.T) {
	db := newTestDB(t, ProviderOptions{Synchronous: SyncOff})
	for _, c := range []string{"", "a,,b\n1,2,3\n", "a,A\n1,2\n"} {
		if _, err := db.pro.Import(context.Background(), strings.NewReader(c), ImportOptions{Table: "h"}); err == nil {
			t.Errorf("header %q accepted", c)
		}
	}
}

// FuzzImport feeds arbitrary bytes as a CSV file: an import either succeeds
// with every accepted row readable, or fails with an error; never a panic.
func FuzzImport(f *testing.F) {
	f.Add("a,b\n1,x\n2,y\n")
	f.Add("id,v\n1,\"q\"\"uote\"\n\\N,\n")
	f.Add("x\n\"\n")
	f.Add("a,b,c\n1,2\n3,4,5,6\n")
	f.Add("d\n2024-01-01\n2024-13-01\n")
	db := newTestDB(f, ProviderOptions{Synchronous: SyncOff})
	n := 0
	f.Fuzz(func(t *testing.T, data string) {
		n++
		table := fmt.Sprintf("f%d", n)
		res, err := db.pro.Import(context.Background(), strings.NewReader(data), ImportOptions{Table: table, OnError: SkipOnError})
		if err != nil {
			return
		}
		rows, qerr := db.query("SELECT count(*) FROM " + table)
		if qerr != nil {
			t.Fatalf("imported table unreadable: %v", qerr)
		}
		if fmt.Sprint(rows[0][0]) != fmt.Sprint(res.Rows) {
			t.Fatalf("imported %d rows, table has %v", res.Rows, rows[0][0])
		}
	})
}
