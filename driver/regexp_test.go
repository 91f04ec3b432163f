package driver

import (
	"path/filepath"
	"testing"

	regex "github.com/dolthub/go-icu-regex"
)

// icuAtStart is whether ICU's regular expressions were compiled before any
// test ran: by the package initialisation of go-mysql-server's dependency,
// which did so in every process (~0.3 s and ~24 MB; internal/icuregex).
var icuAtStart = regex.PoolMade()

// TestDriverRegexp: starting a process that embeds the SQL engine does not
// compile ICU; the first regular expression does, and MySQL's REGEXP
// functions work.
func TestDriverRegexp(t *testing.T) {
	if icuAtStart {
		t.Error("ICU was compiled when the process started")
	}
	db := open(t, dsn(t, filepath.Join(t.TempDir(), "re.db"), ""))
	defer db.Close()
	var like int
	var replaced, sub string
	err := db.QueryRow(`SELECT REGEXP_LIKE('adapterdb', '^adapter'), REGEXP_REPLACE('a-b-c', '-', '+'),
		REGEXP_SUBSTR('SELECT PREDICT(x)', '[A-Z]+', 1, 2)`).Scan(&like, &replaced, &sub)
	if err != nil {
		t.Fatal(err)
	}
	if like != 1 || replaced != "a+b+c" || sub != "PREDICT" {
		t.Errorf("got %d, %q, %q; want 1, \"a+b+c\", \"PREDICT\"", like, replaced, sub)
	}
	if !regex.PoolMade() {
		t.Error("a regular expression ran without ICU")
	}
	// A bad pattern is an error, not a crash.
	if _, err := db.Exec(`SELECT REGEXP_LIKE('a', '(')`); err == nil {
		t.Error("REGEXP_LIKE with an unbalanced pattern: no error")
	}
}
