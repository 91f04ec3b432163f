package server_test

import (
	"context"
	gosql "database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/engine/train"
	"github.com/adapterdb/adapterdb/server"
	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// The SQL benchmarks: SELECT PREDICT(...) over N distinct fortune texts
// (ADAPTERDB_BENCH_ROWS, default 10,000) through the server with
// go-sql-driver/mysql, against the registry's batched Go API on the same texts,
// against per-row evaluation, and the latency of one-row PREDICTs. The model is
// the demo model (4 layers, hidden 256), opened as `adapterdb serve` opens it
// (sqlfuncs.Open, --batch 64: passes of up to 64 sequences); the adapter is
// trained with max_length 64.
//
//	go test ./server/ -run '^$' -bench SQL -benchtime 3x -v

type benchEnv struct {
	sql   *sqlfuncs.DB
	eng   *engine.Engine
	reg   *registry.Registry
	srv   *server.Server
	db    *gosql.DB
	texts []string
}

var (
	benchOnce sync.Once
	bench     *benchEnv
	benchErr  error
)

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("ADAPTERDB_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// fortunes returns n distinct texts from the fortunes data set (repeats get
// a number appended) and the first rows as training examples.
func fortunes(n int) ([]string, []train.Example, error) {
	var all [][]string
	for _, split := range []string{"train", "test"} {
		f, err := os.Open(filepath.Join(testmodels.Root(), "datasets", "fortunes_"+split+".csv"))
		if err != nil {
			return nil, nil, err
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		all = append(all, recs[1:]...)
	}
	texts := make([]string, n)
	for i := range texts {
		texts[i] = all[i%len(all)][0]
		if i >= len(all) {
			texts[i] += fmt.Sprintf(" (%d)", i/len(all))
		}
	}
	var ex []train.Example
	for i := 0; i < 256; i++ { // the files are sorted by label: spread out
		r := all[i*len(all)/256]
		ex = append(ex, train.Example{Text: r[0], Target: r[1]})
	}
	return texts, ex, nil
}

func setupBench() (*benchEnv, error) {
	dir, err := os.MkdirTemp("", "adapterdb-bench")
	if err != nil {
		return nil, err
	}
	be, err := testmodels.CPUBackend()
	if err != nil {
		return nil, err
	}
	model := os.Getenv("ADAPTERDB_BENCH_MODEL") // a checkpoint directory; default the demo model
	if model == "" {
		model = "demo"
	}
	e, err := sqlfuncs.Open(sqlfuncs.Options{Path: filepath.Join(dir, "bench.db"), Model: model, Backend: be, Log: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	reg, eng := e.Registry(), e.Registry().Engine()
	texts, ex, err := fortunes(benchRows())
	if err != nil {
		return nil, err
	}
	opts := train.DefaultOptions()
	opts.Epochs, opts.MaxLength, opts.ValidationFraction = 1, 64, 0
	if _, _, err := reg.Train(context.Background(), registry.TrainRequest{Name: "bench", Examples: ex, Options: opts}); err != nil {
		return nil, err
	}
	srv, err := server.New(context.Background(), server.Config{DB: e, Listen: "127.0.0.1:0", Log: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	go srv.Serve()
	db, err := gosql.Open("mysql", "root@tcp("+srv.Addr().String()+")/main")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	if _, err := db.Exec("CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT, p TEXT)"); err != nil {
		return nil, err
	}
	for lo := 0; lo < len(texts); lo += 500 {
		hi := min(lo+500, len(texts))
		q := "INSERT INTO docs (id, txt) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?),", hi-lo), ",")
		args := make([]any, 0, 2*(hi-lo))
		for i := lo; i < hi; i++ {
			args = append(args, i+1, texts[i])
		}
		if _, err := db.Exec(q, args...); err != nil {
			return nil, err
		}
	}
	return &benchEnv{sql: e, eng: eng, reg: reg, srv: srv, db: db, texts: texts}, nil
}

func getBench(b *testing.B) *benchEnv {
	benchOnce.Do(func() { bench, benchErr = setupBench() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func (be *benchEnv) selectAll(b *testing.B, q string) int {
	rows, err := be.db.Query(q)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int
		var p string
		if err := rows.Scan(&id, &p); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

func median(x []float64) float64 {
	y := append([]float64(nil), x...)
	sort.Float64s(y)
	if len(y)%2 == 1 {
		return y[len(y)/2]
	}
	return (y[len(y)/2-1] + y[len(y)/2]) / 2
}

// windowed calls the registry the way the server's BatchInfer node does:
// windows of 64, 128, ... up to 2,048 texts, one Run call each.
func windowed(ctx context.Context, reg *registry.Registry, reqs []registry.Request) error {
	w := 1
	for lo := 0; lo < len(reqs); {
		win := reqs[lo:min(lo+w*64, len(reqs))]
		lo += len(win)
		w = min(2*w, 32)
		if _, err := reg.Run(ctx, win); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkSQLPredict: rows/s of SELECT id, PREDICT('bench', txt) FROM docs
// through the server (go-sql-driver/mysql), and of the registry's Run on the
// same texts, two ways: one call with every text, and calls in the windows
// the server reads (the same passes: the SQL layer's own cost). The three alternate, round by round, so the machine's load drifts
// hit all; medians and the medians of the per-round ratios are reported.
func BenchmarkSQLPredict(b *testing.B) {
	be := getBench(b)
	ctx := context.Background()
	items := make([]registry.Request, len(be.texts))
	for i, t := range be.texts {
		items[i] = registry.Request{Adapter: "bench", Text: t}
	}
	rate := func(f func()) (float64, int64) {
		p0 := be.eng.Passes()
		t0 := time.Now()
		f()
		return float64(len(items)) / time.Since(t0).Seconds(), be.eng.Passes() - p0
	}
	var server, direct, direct64, ratio, ratio64 []float64
	var sp, dp, d64p int64
	for i := 0; i < b.N; i++ {
		var d, d64, sv float64
		d, dp = rate(func() {
			if _, err := be.reg.Run(ctx, items); err != nil {
				b.Fatal(err)
			}
		})
		d64, d64p = rate(func() {
			if err := windowed(ctx, be.reg, items); err != nil {
				b.Fatal(err)
			}
		})
		sv, sp = rate(func() {
			if n := be.selectAll(b, "SELECT id, PREDICT('bench', txt) FROM docs"); n != len(items) {
				b.Fatalf("%d rows", n)
			}
		})
		direct, direct64, server = append(direct, d), append(direct64, d64), append(server, sv)
		ratio, ratio64 = append(ratio, sv/d), append(ratio64, sv/d64)
		b.Logf("round %d: direct %.1f rows/s (%d passes), direct-64 %.1f (%d), server %.1f (%d): server/direct %.3f, server/direct-64 %.3f",
			i+1, d, dp, d64, d64p, sv, sp, sv/d, sv/d64)
	}
	b.ReportMetric(median(server), "server-rows/s")
	b.ReportMetric(median(direct), "direct-rows/s")
	b.ReportMetric(median(direct64), "direct64-rows/s")
	b.ReportMetric(median(ratio), "server/direct")
	b.ReportMetric(median(ratio64), "server/direct64")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSQLPerRow: batched against per-row evaluation on the same 1/20 of
// the rows, spread over the table: a batched SELECT, a batched UPDATE ...
// SET (sqlfuncs/etl.go), and ON DUPLICATE KEY UPDATE p = PREDICT(...), which
// still evaluates row by row (one pass a row). Rounds alternate; medians and
// the median speed-ups over per-row are reported.
func BenchmarkSQLPerRow(b *testing.B) {
	be := getBench(b)
	n := len(be.texts) / 20
	var batched, update, perRow, speedup, updateSpeedup []float64
	timed := func(q string, wantPasses int64) float64 {
		p0 := be.eng.Passes()
		t0 := time.Now()
		if _, err := be.db.Exec(q); err != nil {
			b.Fatal(err)
		}
		r := float64(n) / time.Since(t0).Seconds()
		if p := be.eng.Passes() - p0; wantPasses > 0 && p != wantPasses {
			b.Fatalf("%s: %d passes, want %d", q, p, wantPasses)
		}
		return r
	}
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if got := be.selectAll(b, "SELECT id, PREDICT('bench', txt) FROM docs WHERE id % 20 = 0"); got != n {
			b.Fatalf("%d rows", got)
		}
		bt := float64(n) / time.Since(t0).Seconds()
		up := timed("UPDATE docs SET p = PREDICT('bench', txt) WHERE id % 20 = 0", 0)
		pr := timed("INSERT INTO docs (id, txt) SELECT * FROM (SELECT id, txt FROM docs WHERE id % 20 = 0) AS n "+
			"ON DUPLICATE KEY UPDATE p = PREDICT('bench', n.txt)", int64(n))
		batched, update, perRow = append(batched, bt), append(update, up), append(perRow, pr)
		speedup, updateSpeedup = append(speedup, bt/pr), append(updateSpeedup, up/pr)
		b.Logf("round %d: SELECT %.1f rows/s, UPDATE %.1f rows/s, per-row %.1f rows/s: speed-ups %.2f, %.2f",
			i+1, bt, up, pr, bt/pr, up/pr)
	}
	b.ReportMetric(median(batched), "batched-rows/s")
	b.ReportMetric(median(update), "update-rows/s")
	b.ReportMetric(median(perRow), "per-row-rows/s")
	b.ReportMetric(median(speedup), "speed-up")
	b.ReportMetric(median(updateSpeedup), "update-speed-up")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSQLConcurrent: four sessions at once, each SELECTing a quarter
// of the rows; the featurizer's scheduler merges their batches into shared
// passes (passes < batches).
func BenchmarkSQLConcurrent(b *testing.B) {
	be := getBench(b)
	var rates []float64
	var passes int64
	for i := 0; i < b.N; i++ {
		p0 := be.eng.Passes()
		t0 := time.Now()
		var wg sync.WaitGroup
		counts := make([]int, 4)
		for k := 0; k < 4; k++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				counts[k] = be.selectAll(b, fmt.Sprintf("SELECT id, PREDICT('bench', txt) FROM docs WHERE id %% 4 = %d", k))
			}(k)
		}
		wg.Wait()
		rates = append(rates, float64(counts[0]+counts[1]+counts[2]+counts[3])/time.Since(t0).Seconds())
		passes = be.eng.Passes() - p0
	}
	b.ReportMetric(median(rates), "rows/s")
	b.ReportMetric(float64(passes), "passes")
	b.ReportMetric(float64(4*((len(be.texts)/4+63)/64)), "batches")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSQLLatency: one-row PREDICT over the wire, p50 and p99 over 200
// distinct texts, as a prepared statement (the text a parameter) and as a
// query with the text in it (what most clients send: PyMySQL and the
// mariadb client interpolate), with the forward passes each query cost;
// "engine" runs the same requests through the registry without SQL, the
// baseline of the SQL layer's overhead.
func BenchmarkSQLLatency(b *testing.B) {
	be := getBench(b)
	stmt, err := be.db.Prepare("SELECT PREDICT('bench', ?)")
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	for _, mode := range []string{"engine", "prepared", "literal"} {
		b.Run(mode, func(b *testing.B) {
			var lat []time.Duration
			passes := be.eng.Passes()
			for i := 0; i < b.N; i++ {
				for k := 0; k < 200; k++ {
					t0 := time.Now()
					var p string
					var err error
					switch mode {
					case "engine": // the same request without SQL: the overhead's baseline
						var res []registry.Result
						res, err = be.reg.Run(context.Background(), []registry.Request{{Adapter: "bench", Text: be.texts[k]}})
						if err == nil {
							p = res[0].Label
						}
					case "prepared":
						err = stmt.QueryRow(be.texts[k]).Scan(&p)
					default:
						q := "SELECT PREDICT('bench', '" + strings.ReplaceAll(strings.ReplaceAll(be.texts[k], `\`, `\\`), "'", "''") + "')"
						err = be.db.QueryRow(q).Scan(&p)
					}
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(be.eng.Passes()-passes)/float64(len(lat)), "passes/query")
			b.ReportMetric(0, "ns/op")
		})
	}
}
