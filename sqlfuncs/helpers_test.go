package sqlfuncs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/sqlfuncs"
)

// env is an engine on the bert-tiny test checkpoint with an in-memory user
// database, a fresh catalog file and one in-process connection.
type env struct {
	t     testing.TB
	eng   *engine.Engine
	reg   *registry.Registry
	e     *sqlfuncs.DB
	c     *sqlfuncs.Conn
	files string
}

type envOpts struct {
	batch    int // sequences per forward pass
	maxText  int
	filesDir string
	observe  func(seqs, tokens, padded int) // engine.Config.Observe
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.batch == 0 {
		o.batch = 64
	}
	eng, err := engine.Open(engine.Config{Model: testmodels.Dir("bert-tiny"), Backend: testmodels.CPU(t), Log: zerolog.Nop(),
		BatchSize: o.batch, MaxTextBytes: o.maxText, Observe: o.observe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := catalog.Open(filepath.Join(t.TempDir(), "test.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	reg := registry.New(eng, cat, zerolog.Nop(), 0)
	e, err := sqlfuncs.New(sqlfuncs.Config{Registry: reg, FilesDir: o.filesDir, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	c, err := e.Connect(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{t: t, eng: eng, reg: reg, e: e, c: c, files: o.filesDir}
}

func (v *env) exec(q string) types.OkResult {
	v.t.Helper()
	res, err := v.c.Exec(context.Background(), q, nil)
	if err != nil {
		v.t.Fatalf("%s: %v", q, err)
	}
	return res
}

// rows runs a query and returns its rows with JSON documents as JSON text.
func (v *env) rows(q string) [][]any {
	v.t.Helper()
	out, err := v.tryRows(q)
	if err != nil {
		v.t.Fatalf("%s: %v", q, err)
	}
	return out
}

func (v *env) tryRows(q string) ([][]any, error) {
	rows, err := v.c.Query(context.Background(), q, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for {
		r, err := rows.Next()
		if err == io.EOF {
			return out, rows.Close()
		}
		if err != nil {
			return nil, err
		}
		row := make([]any, len(r))
		for i, x := range r {
			if j, ok := x.(sql.JSONWrapper); ok {
				b, err := types.MarshallJson(j)
				if err != nil {
					return nil, err
				}
				x = string(b)
			}
			row[i] = x
		}
		out = append(out, row)
	}
}

// fails runs q and wants a MySQL error with the code whose message contains
// every want.
func (v *env) fails(q string, code int, want ...string) *mysql.SQLError {
	v.t.Helper()
	_, err := v.tryRows(q)
	if err == nil {
		v.t.Fatalf("%s: no error, want %d", q, code)
	}
	var se *mysql.SQLError
	if !errors.As(err, &se) {
		v.t.Fatalf("%s: error %T %v is not a MySQL error", q, err, err)
	}
	if se.Num != code {
		v.t.Fatalf("%s: error %d %q, want %d", q, se.Num, se.Message, code)
	}
	for _, w := range want {
		if !strings.Contains(se.Message, w) {
			v.t.Fatalf("%s: error %q lacks %q", q, se.Message, w)
		}
	}
	return se
}

// sentiment is a tiny labelled set: classification (label), regression
// (score) and multilabel (tags) targets.
var sentiment = []struct {
	text, label string
	score       float64
	tags        string
}{
	{"a wonderful delightful film", "pos", 4.5, `["fun","warm"]`},
	{"terrible boring awful", "neg", 1.0, `["dull"]`},
	{"delightful and wonderful", "pos", 4.8, `["warm"]`},
	{"awful, terrible acting", "neg", 1.5, `["dull","bad"]`},
	{"wonderful cast", "pos", 4.1, `["fun"]`},
	{"boring plot", "neg", 2.0, `["dull"]`},
	{"great wonderful fun", "pos", 4.9, `["fun"]`},
	{"dull awful mess", "neg", 1.2, `["bad"]`},
}

// quickOptions train a bert-tiny adapter in well under a second.
const quickOptions = "OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8)"

// withAdapters creates the labelled table and three adapters: sent
// (classification), stars (regression), tags (multilabel).
func (v *env) withAdapters() {
	v.t.Helper()
	v.exec("CREATE TABLE labelled (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10), score DOUBLE, tags JSON)")
	var vals []string
	for i, s := range sentiment {
		vals = append(vals, fmt.Sprintf("(%d, '%s', '%s', %g, '%s')", i+1, s.text, s.label, s.score, s.tags))
	}
	v.exec("INSERT INTO labelled VALUES " + strings.Join(vals, ", "))
	v.exec("CREATE ADAPTER sent " + quickOptions + " AS SELECT txt, label FROM labelled")
	v.exec("CREATE ADAPTER stars " + quickOptions + " AS SELECT txt, score FROM labelled")
	v.exec("CREATE ADAPTER tags " + quickOptions + " AS SELECT txt, tags FROM labelled")
}

// texts fills table docs(id, txt) with n distinct texts.
func (v *env) texts(n int) []string {
	v.t.Helper()
	v.exec("CREATE TABLE docs (id INT PRIMARY KEY, txt TEXT)")
	words := []string{"wonderful", "awful", "boring", "great", "film", "plot", "cast", "fun", "mess", "dull"}
	out := make([]string, n)
	for lo := 0; lo < n; lo += 500 {
		var vals []string
		for i := lo; i < min(lo+500, n); i++ {
			out[i] = fmt.Sprintf("%s %s %s number %d", words[i%10], words[(i/10)%10], words[(i/100)%10], i)
			vals = append(vals, fmt.Sprintf("(%d, '%s')", i+1, out[i]))
		}
		v.exec("INSERT INTO docs VALUES " + strings.Join(vals, ", "))
	}
	return out
}

// near reports whether a SQL result matches the Go API's within float32
// rounding: a query batches rows differently from a direct Predict call, and
// OpenBLAS rounds by matrix size (see engine/adapter TestMixedEqualsSeparate).
func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-5*math.Max(1, math.Abs(want))
}

// startQuery runs q on c in the background (a long CREATE ADAPTER the test then
// watches or kills) and returns where its error arrives.
func startQuery(c *sqlfuncs.Conn, q string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), q, nil)
		done <- err
	}()
	return done
}

// waitQuery waits (up to 30 s) for a startQuery's error; the test fails
// with stuck when it does not come.
func (v *env) waitQuery(done <-chan error, stuck string) error {
	v.t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		v.t.Fatal(stuck)
		return nil
	}
}

// trainingState waits (up to 30 s) until conn's statement reports a loss in
// SHOW PROCESSLIST, and returns its State ("" if it never did).
func (v *env) trainingState(conn *sqlfuncs.Conn) string {
	v.t.Helper()
	var state string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(state, "loss") {
		time.Sleep(50 * time.Millisecond)
		for _, r := range v.rows("SHOW PROCESSLIST") {
			if r[0] == int64(conn.ID()) {
				state, _ = r[6].(string)
			}
		}
	}
	return state
}
