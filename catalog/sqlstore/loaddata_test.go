package sqlstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeTSV writes n rows "id<TAB>text<TAB>score" with a header. (GMS's LOAD
// DATA splits fields on the separator before looking at quotes, so quoted
// separators, OPTIONALLY ENCLOSED BY and doubled quotes are not understood;
// TAB-separated text, MySQL's default format, is.)
func writeTSV(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "id\ttext\tscore")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "%d\treview %d, with a comma 😀\t%d.%d\n", i, i, i%5, i%10)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

const loadStmt = `LOAD DATA LOCAL INFILE '%s' INTO TABLE reviews
	FIELDS TERMINATED BY '\t' LINES TERMINATED BY '\n' IGNORE 1 LINES (id, body, score)`

// TestLoadDataLocalGoDriver streams a client-side file with go-sql-driver.
func TestLoadDataLocalGoDriver(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "load.db"), ProviderOptions{Synchronous: SyncOff})
	defer srv.stop()
	csv := filepath.Join(dir, "reviews.csv")
	writeTSV(t, csv, 20000)
	db := dial(t, srv.addr, "allowAllFiles=true")
	mustExecDB(t, db, "CREATE TABLE reviews (id INT PRIMARY KEY, body TEXT, score DECIMAL(4,1))")
	res, err := db.Exec(fmt.Sprintf(loadStmt, csv))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 20000 {
		t.Fatalf("loaded %d rows", n)
	}
	got := queryStrings(t, db, "SELECT count(*), max(id), sum(score) FROM reviews")
	if got[0][0] != "20000" || got[0][1] != "20000" {
		t.Fatalf("after load: %v", got)
	}
	if got := queryStrings(t, db, "SELECT body FROM reviews WHERE id = 7"); got[0][0] != "review 7, with a comma 😀" {
		t.Fatalf("row 7: %q", got[0][0])
	}
	// With LOCAL, MySQL turns data errors into warnings and loads the rest
	// (the client cannot stop sending the file). GMS stores the column
	// type's zero for the bad value (MySQL would clamp it to 999.9).
	bad := filepath.Join(dir, "bad.tsv")
	os.WriteFile(bad, []byte("id\ttext\tscore\n30001\tok\t1.0\n30002\ttoo big\t99999\n"), 0o644)
	if _, err := db.Exec(fmt.Sprintf(loadStmt, bad)); err != nil {
		t.Fatalf("LOCAL load with a bad value: %v", err)
	}
	if got := queryStrings(t, db, "SELECT id, score FROM reviews WHERE id > 30000 ORDER BY id"); fmt.Sprint(got) != "[[30001 1.0] [30002 0.0]]" {
		t.Fatalf("bad row: %v", got)
	}
}

// TestLoadDataLocalMariaDBClient does the same with the mariadb command-line
// client (--local-infile=1).
func TestLoadDataLocalMariaDBClient(t *testing.T) {
	client, err := exec.LookPath("mariadb")
	if err != nil {
		if client, err = exec.LookPath("mysql"); err != nil {
			t.Skip("no mariadb/mysql client installed (make deps installs it)")
		}
	}
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "load.db"), ProviderOptions{Synchronous: SyncOff})
	defer srv.stop()
	csv := filepath.Join(dir, "reviews.csv")
	writeTSV(t, csv, 5000)
	host, port, _ := strings.Cut(srv.addr, ":")
	sqlText := "CREATE TABLE reviews (id INT PRIMARY KEY, body TEXT, score DECIMAL(4,1));\n" +
		fmt.Sprintf(loadStmt, csv) + ";\nSELECT count(*), sum(score) FROM reviews;\n"
	cmd := exec.Command(client, "--local-infile=1", "-h", host, "-P", port, "-u", "root", "--skip-ssl", "-N", "-B", "main")
	cmd.Stdin = strings.NewReader(sqlText)
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "skip-ssl") {
		cmd = exec.Command(client, "--local-infile=1", "-h", host, "-P", port, "-u", "root", "-N", "-B", "main")
		cmd.Stdin = strings.NewReader(sqlText)
		out, err = cmd.CombinedOutput()
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", client, err, out)
	}
	sum := 0.0
	for i := 1; i <= 5000; i++ {
		sum += float64(i%5) + float64(i%10)/10
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("5000\t%g", sum) {
		t.Fatalf("client output %q", got)
	}
}
