package driver

import (
	"os"
	"path/filepath"
	"testing"
)

// Two databases in one process with different files directories: each is
// confined to its own (confinement is per engine, not go-mysql-server's
// process-wide secure_file_priv, which the engine opened last used to set).
func TestDriverFilesDirPerEngine(t *testing.T) {
	base := t.TempDir()
	var dbs [2]struct {
		files string
		exec  func(string) error
	}
	for i := range dbs {
		files := filepath.Join(base, []string{"a", "b"}[i])
		if err := os.Mkdir(files, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(files, "rows.tsv"), []byte("1\tone\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		db := open(t, dsn(t, filepath.Join(base, []string{"a.db", "b.db"}[i]), "&files_dir="+files))
		defer db.Close()
		exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, s TEXT)")
		dbs[i].files = files
		dbs[i].exec = func(q string) error { _, err := db.Exec(q); return err }
	}
	for i, me := range dbs {
		other := dbs[1-i]
		if err := me.exec("LOAD DATA INFILE '" + filepath.Join(me.files, "rows.tsv") + "' INTO TABLE t"); err != nil {
			t.Errorf("db %d: LOAD DATA INFILE in its own files directory: %v", i, err)
		}
		err := me.exec("LOAD DATA INFILE '" + filepath.Join(other.files, "rows.tsv") + "' INTO TABLE t")
		wantErr(t, err, 1290, "outside that directory")
		err = me.exec("SELECT 1 INTO OUTFILE '" + filepath.Join(other.files, "x.tsv") + "'")
		wantErr(t, err, 1290, "outside that directory")
		if err := me.exec("SELECT 1 INTO OUTFILE '" + filepath.Join(me.files, "x.tsv") + "'"); err != nil {
			t.Errorf("db %d: INTO OUTFILE in its own files directory: %v", i, err)
		}
	}
}
