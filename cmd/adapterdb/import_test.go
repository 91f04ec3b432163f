package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	csv := filepath.Join(dir, "r.csv")
	os.WriteFile(csv, []byte("id,body,price\n1,\"a, b\",1.5\n2,c,oops\n3,d,2\n"), 0o644)
	code, out, errs := cli(t, "import", "--db", db, "--table", "r", "--types", "price=DECIMAL(10,2),id=INT", csv)
	// FILE:LINE: reason, as the skipped rows are listed.
	if code != 1 || !strings.Contains(errs, "r.csv:3: ") || !strings.Contains(errs, "price") ||
		!strings.Contains(errs, "nothing was imported") {
		t.Fatalf("abort: code %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = cli(t, "import", "--db", db, "--table", "r", "--types", "price=DECIMAL(10,2),id=INT", "--on-error", "skip", csv)
	if code != 0 || !strings.Contains(out, "created main.r: 2 rows in ") || !strings.Contains(out, "r.csv:3:") ||
		!strings.Contains(out, "price decimal(10,2)") || !strings.Contains(out, "\n1 row skipped:\n") {
		t.Fatalf("skip: code %d\n%s\n%s", code, out, errs)
	}
	// stderr is not a terminal here: no progress bar, so no residue of one.
	if strings.Contains(errs, "\r") || strings.Contains(errs, "importing") {
		t.Errorf("progress bar drawn on a non-terminal stderr: %q", errs)
	}
	if got := plural(1, "row") + " " + plural(0, "row") + " " + plural(2, "row"); got != "1 row 0 rows 2 rows" {
		t.Errorf("plural: %q", got)
	}
	good := filepath.Join(dir, "g.csv")
	os.WriteFile(good, []byte("id,body,price\n4,e,3\n"), 0o644)
	code, out, errs = cli(t, "import", "--db", db, "--table", "r", "--append", good)
	if code != 0 || !strings.HasPrefix(out, "appended to main.r: 1 row in ") || !strings.Contains(out, " s (") {
		t.Fatalf("append: code %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = cli(t, "import", "--db", db, "--table", "r", "--append", csv)
	if code != 1 || !strings.Contains(errs, "r.csv:3: ") {
		t.Fatalf("append abort: code %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs = cli(t, "import", "--db", db, "--table", "r", "--create", "--append", csv); code != 2 {
		t.Fatalf("usage: %d %s", code, errs)
	}
	if code, _, errs = cli(t, "import", "--db", db, "--table", "r", "--types", "x", csv); code != 2 {
		t.Fatalf("bad --types: %d %s", code, errs)
	}
	// A type MySQL does not know is a usage error too, in one line that names
	// the column, without the SQL parser's own message.
	code, _, errs = cli(t, "import", "--db", db, "--table", "r2", "--types", "id=INT,price=BOGUS", csv)
	if code != 2 || !strings.Contains(errs, `--types: column price: "BOGUS" is not a MySQL column type`) ||
		strings.Contains(errs, "syntax error") || strings.Contains(errs, "INVALID_ARGUMENT") {
		t.Fatalf("unknown --types type: %d %s", code, errs)
	}
	// A spreadsheet's byte-order mark is not part of the first column's name.
	bom := filepath.Join(dir, "bom.csv")
	os.WriteFile(bom, []byte("\ufeffa,b\nx,1\n"), 0o644)
	if code, out, errs = cli(t, "import", "--db", db, "--table", "bom", bom); code != 0 || !strings.Contains(out, "\n  a text\n") {
		t.Fatalf("byte-order mark: %d\n%q\n%s", code, out, errs)
	}
}
