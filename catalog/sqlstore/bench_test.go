package sqlstore

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
)

// Benchmarks of the storage through the SQL engine. Figures and commands are
// in docs/storage.md. All use synchronous=FULL (the default: durable commits).

func benchDB(b *testing.B) *testDB {
	b.Helper()
	return newTestDB(b, ProviderOptions{})
}

func (db *testDB) run(b *testing.B, q string) {
	if _, err := db.query(q); err != nil {
		b.Fatalf("%.80s: %v", q, err)
	}
}

const insertRows = 100_000

// BenchmarkInsert100kOneTxn: 100,000 single-row INSERT statements inside one
// transaction.
func BenchmarkInsert100kOneTxn(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := benchDB(b)
		db.run(b, "CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(40), score DOUBLE)")
		b.StartTimer()
		start := time.Now()
		db.run(b, "BEGIN")
		for r := 0; r < insertRows; r++ {
			db.run(b, fmt.Sprintf("INSERT INTO t VALUES (%d, 'name %d', %d.5)", r, r, r%100))
		}
		db.run(b, "COMMIT")
		b.ReportMetric(insertRows/time.Since(start).Seconds(), "rows/s")
		b.StopTimer()
		db.close()
		db.sess = nil
	}
}

// BenchmarkInsert100kBatches1000: 100 autocommit INSERT statements of 1,000
// rows each (100 durable commits).
func BenchmarkInsert100kBatches1000(b *testing.B) {
	var stmts []string
	for s := 0; s < insertRows/1000; s++ {
		var sb strings.Builder
		sb.WriteString("INSERT INTO t VALUES ")
		for r := s * 1000; r < (s+1)*1000; r++ {
			if r > s*1000 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "(%d, 'name %d', %d.5)", r, r, r%100)
		}
		stmts = append(stmts, sb.String())
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := benchDB(b)
		db.run(b, "CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(40), score DOUBLE)")
		b.StartTimer()
		start := time.Now()
		for _, q := range stmts {
			db.run(b, q)
		}
		b.ReportMetric(insertRows/time.Since(start).Seconds(), "rows/s")
		b.StopTimer()
		db.close()
		db.sess = nil
	}
}

// BenchmarkImport100k: the CSV importer (adapterdb import) on 100,000 rows.
func BenchmarkImport100k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("id,name,score\n")
	for r := 0; r < insertRows; r++ {
		fmt.Fprintf(&sb, "%d,name %d,%d.5\n", r, r, r%100)
	}
	csv := sb.String()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := benchDB(b)
		b.StartTimer()
		res, err := db.pro.Import(context.Background(), strings.NewReader(csv), ImportOptions{Table: "t"})
		if err != nil || res.Rows != insertRows {
			b.Fatal(res, err)
		}
		b.ReportMetric(insertRows/res.Duration.Seconds(), "rows/s")
		b.StopTimer()
		db.close()
		db.sess = nil
	}
}

// scanFile is a 1,000,000-row table built once per benchmark run.
var scanFile struct {
	once sync.Once
	path string
	err  error
}

const scanRows = 1_000_000

func scanDB(b *testing.B) *testDB {
	b.Helper()
	scanFile.once.Do(func() {
		dir, err := os.MkdirTemp("", "adapterdb-scan")
		if err != nil {
			scanFile.err = err
			return
		}
		scanFile.path = filepath.Join(dir, "scan.db")
		var sb strings.Builder
		sb.WriteString("id,v,label\n")
		for r := 0; r < scanRows; r++ {
			fmt.Fprintf(&sb, "%d,%d,label %d\n", r, r%1000, r%17)
		}
		db := openTestDB(b, scanFile.path, ProviderOptions{Synchronous: SyncOff})
		_, scanFile.err = db.pro.Import(context.Background(), strings.NewReader(sb.String()),
			ImportOptions{Table: "big", Types: map[string]string{"id": "BIGINT", "v": "BIGINT", "label": "VARCHAR(20)"}})
		if scanFile.err == nil {
			_, scanFile.err = db.query("ALTER TABLE big ADD PRIMARY KEY (id)")
		}
		db.close()
		db.sess = nil
	})
	if scanFile.err != nil {
		b.Fatal(scanFile.err)
	}
	return openTestDB(b, scanFile.path, ProviderOptions{})
}

// BenchmarkScan1M: full scans of a 1,000,000-row table through the engine,
// against the sqlite3 tool on the same file (bar: at least half its rate).
func BenchmarkScan1M(b *testing.B) {
	db := scanDB(b)
	cases := []struct{ name, gms, sqlite string }{
		{"count", "SELECT COUNT(*) FROM big", `SELECT COUNT(*) FROM "main.big"`},
		{"sum", "SELECT SUM(v) FROM big", `SELECT SUM(v) FROM "main.big"`},
		{"count_where", "SELECT COUNT(*) FROM big WHERE v < 500", `SELECT COUNT(*) FROM "main.big" WHERE v < 500`},
		{"rows_where", "SELECT id, label FROM big WHERE v = 7", `SELECT id, label FROM "main.big" WHERE v = 7`},
	}
	for _, c := range cases {
		b.Run("adapterdb/"+c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				start := time.Now()
				rows, err := db.query(c.gms)
				if err != nil || len(rows) == 0 {
					b.Fatal(rows, err)
				}
				b.ReportMetric(scanRows/time.Since(start).Seconds(), "rows/s")
			}
		})
		b.Run("sqlite3/"+c.name, func(b *testing.B) {
			if _, err := exec.LookPath("sqlite3"); err != nil {
				b.Skip("sqlite3 tool not installed (make deps installs it)")
			}
			for i := 0; i < b.N; i++ {
				start := time.Now()
				out, err := exec.Command("sqlite3", scanFile.path, c.sqlite).CombinedOutput()
				if err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				b.ReportMetric(scanRows/time.Since(start).Seconds(), "rows/s")
			}
		})
	}
}

// BenchmarkPointLookup: SELECT by primary key on the 1M-row table; reports
// the median latency.
func BenchmarkPointLookup(b *testing.B) {
	db := scanDB(b)
	rng := rand.New(rand.NewSource(1))
	lat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := rng.Intn(scanRows)
		q := fmt.Sprintf("SELECT id, v, label FROM big WHERE id = %d", id)
		start := time.Now()
		sctx := sql.NewContext(ctx, sql.WithSession(db.sess)).WithQuery(q)
		_, iter, _, err := db.eng.Query(sctx, q)
		if err != nil {
			b.Fatal(err)
		}
		rows, err := sql.RowIterToRows(sctx, iter)
		if err != nil || len(rows) != 1 {
			b.Fatal(rows, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
