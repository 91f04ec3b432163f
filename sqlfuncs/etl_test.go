package sqlfuncs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dolthub/vitess/go/mysql"
)

// etlDocs is 300 docs with columns for results, and the batched SELECT's
// results to compare the statements with.
func etlDocs(v *env) (label map[int32]any, stars map[int32]float64) {
	v.t.Helper()
	v.texts(300)
	v.exec("ALTER TABLE docs ADD COLUMN p TEXT")
	v.exec("ALTER TABLE docs ADD COLUMN s DOUBLE")
	label, stars = map[int32]any{}, map[int32]float64{}
	for _, r := range v.rows("SELECT id, PREDICT('sent', txt), PREDICT('stars', txt) FROM docs") {
		label[r[0].(int32)], stars[r[0].(int32)] = r[1], r[2].(float64)
	}
	return label, stars
}

// TestETLBatched counts the forward passes of the ETL statements and checks
// their results against the batched SELECT's.
func TestETLBatched(t *testing.T) {
	v := newEnv(t, envOpts{batch: 64})
	v.withAdapters()
	label, stars := etlDocs(v)

	// 300 rows × 2 adapters in windows of 64, 128 and 108 rows: 128, 256
	// and 216 sequences, 2 + 4 + 4 passes (per row: 600).
	_, n := v.passes("UPDATE docs SET p = PREDICT('sent', txt), s = PREDICT('stars', txt)")
	if n != 10 {
		t.Errorf("UPDATE of 300 rows with 2 adapters at batch 64: %d passes, want 10", n)
	}
	for _, r := range v.rows("SELECT id, p, s FROM docs") {
		if id := r[0].(int32); r[1] != label[id] || !near(r[2].(float64), stars[id]) {
			t.Fatalf("UPDATE row %d: %v %v, want %v %v", id, r[1], r[2], label[id], stars[id])
		}
	}
	// WHERE picks 100 rows: windows of 64 and 36.
	v.exec("UPDATE docs SET p = NULL")
	if _, n := v.passes("UPDATE docs SET p = PREDICT('sent', txt) WHERE id <= 100"); n != 2 {
		t.Errorf("UPDATE ... WHERE of 100 rows: %d passes, want 2", n)
	}
	if r := v.rows("SELECT COUNT(*) FROM docs WHERE p IS NOT NULL"); r[0][0] != int64(100) {
		t.Errorf("UPDATE ... WHERE id <= 100 set %v rows", r[0][0])
	}
	// PREDICT in WHERE and SET: the WHERE's calls over all 300 rows (5
	// passes), the SET's over the rows it keeps.
	v.exec("UPDATE docs SET p = NULL")
	pos := 0
	for _, l := range label {
		if l == "pos" {
			pos++
		}
	}
	_, n = v.passes("UPDATE docs SET p = UPPER(PREDICT('sent', txt)) WHERE PREDICT('sent', txt) = 'pos'")
	if want := 5 + int64((min(pos, 64)+63)/64+(max(pos-64, 0)+63)/64); pos > 192 || n > want {
		t.Errorf("UPDATE ... WHERE PREDICT: %d passes for %d matching rows, want at most %d", n, pos, want)
	}
	if r := v.rows("SELECT COUNT(*) FROM docs WHERE p = 'POS'"); r[0][0] != int64(pos) {
		t.Errorf("UPDATE ... WHERE PREDICT set %v rows, want %d", r[0][0], pos)
	}
	// Nested calls: two stacked passes over the rows.
	v.exec("UPDATE docs SET p = PREDICT('sent', PREDICT('sent', txt)) WHERE id <= 64")
	want := v.rows("SELECT id, PREDICT('sent', PREDICT('sent', txt)) FROM docs WHERE id <= 64 ORDER BY id")
	if got := v.rows("SELECT id, p FROM docs WHERE id <= 64 ORDER BY id"); !sameRows(got, want) {
		t.Errorf("nested UPDATE: %v, want %v", clip(got), clip(want))
	}

	// INSERT ... VALUES: 100 tuples, one request: 2 passes (per row: 100).
	v.exec("CREATE TABLE dst (id INT PRIMARY KEY, q TEXT, s DOUBLE)")
	texts := v.rows("SELECT id, txt FROM docs WHERE id <= 100 ORDER BY id")
	var tuples []string
	for _, r := range texts {
		tuples = append(tuples, fmt.Sprintf("(%d, PREDICT('sent', '%s'), PREDICT('stars', '%s'))", r[0], r[1], r[1]))
	}
	if _, n := v.passes("INSERT INTO dst VALUES " + strings.Join(tuples, ", ")); n != 4 {
		t.Errorf("INSERT of 100 tuples with 2 adapters: %d passes, want 4", n)
	}
	for _, r := range v.rows("SELECT id, q, s FROM dst") {
		if id := r[0].(int32); r[1] != label[id] || !near(r[2].(float64), stars[id]) {
			t.Fatalf("INSERT row %d: %v %v, want %v %v", id, r[1], r[2], label[id], stars[id])
		}
	}
	// docs/sql.md's batched alternative to ON DUPLICATE KEY UPDATE x =
	// PREDICT(...): the SELECT computes the values in batches.
	v.exec("UPDATE dst SET q = NULL")
	_, n = v.passes("INSERT INTO dst (id, q) SELECT * FROM (SELECT id, PREDICT('sent', txt) AS q FROM docs WHERE id <= 100) AS n ON DUPLICATE KEY UPDATE q = n.q")
	if n != 2 {
		t.Errorf("INSERT ... SELECT ... ON DUPLICATE KEY UPDATE of 100 rows: %d passes, want 2", n)
	}
	for _, r := range v.rows("SELECT id, q FROM dst") {
		if id := r[0].(int32); r[1] != label[id] {
			t.Fatalf("ON DUPLICATE KEY UPDATE row %d: %v, want %v", id, r[1], label[id])
		}
	}
	// A tuple's error names its row.
	v.fails("INSERT INTO dst VALUES (1000, PREDICT('sent', 'fine'), 1), (1001, PREDICT('nope', 'x'), 2)", 1305, "nope")

	// UPDATE ... JOIN: the SET list's calls over the joined rows.
	v.exec("CREATE TABLE notes (id INT PRIMARY KEY, doc INT, np TEXT)")
	var nv []string
	for i := 1; i <= 150; i++ {
		nv = append(nv, fmt.Sprintf("(%d, %d, NULL)", i, 2*i))
	}
	v.exec("INSERT INTO notes VALUES " + strings.Join(nv, ", "))
	if _, n := v.passes("UPDATE notes o JOIN docs d ON o.doc = d.id SET o.np = PREDICT('sent', d.txt)"); n != 3 {
		t.Errorf("UPDATE ... JOIN of 150 rows: %d passes, want 3", n)
	}
	for _, r := range v.rows("SELECT doc, np FROM notes") {
		if id := r[0].(int32); r[1] != label[id] {
			t.Fatalf("UPDATE ... JOIN doc %d: %v, want %v", id, r[1], label[id])
		}
	}

	// DELETE ... WHERE PREDICT: 5 passes over 300 rows.
	if _, n := v.passes("DELETE FROM docs WHERE PREDICT('sent', txt) <> 'pos'"); n != 5 {
		t.Errorf("DELETE ... WHERE PREDICT over 300 rows: %d passes, want 5", n)
	}
	if r := v.rows("SELECT COUNT(*) FROM docs"); r[0][0] != int64(pos) {
		t.Errorf("DELETE kept %v rows, want %d", r[0][0], pos)
	}
}

// TestETLAtomic: an UPDATE that fails or is cancelled after earlier windows
// were written changes nothing.
func TestETLAtomic(t *testing.T) {
	v := newEnv(t, envOpts{batch: 16, maxText: 100})
	v.withAdapters()
	v.texts(300)
	v.exec("ALTER TABLE docs ADD COLUMN p TEXT")
	v.exec("ALTER TABLE docs ADD COLUMN s DOUBLE")
	v.exec("INSERT INTO docs (id, txt) VALUES (1000, '" + strings.Repeat("long ", 30) + "')")

	// Error: windows of 16, 32, 64 and 128 rows are written before the
	// window with row 1000 (the 301st row) fails.
	p0 := v.eng.Passes()
	v.fails("UPDATE docs SET p = PREDICT('sent', txt), s = PREDICT('stars', txt)", 1406, "row 301")
	if n := v.eng.Passes() - p0; n < 10 {
		t.Errorf("the failing UPDATE ran %d passes before it failed: the test needs written windows", n)
	}
	if r := v.rows("SELECT COUNT(*) FROM docs WHERE p IS NOT NULL OR s IS NOT NULL"); r[0][0] != int64(0) {
		t.Errorf("a failed UPDATE left %v rows changed", r[0][0])
	}
	v.exec("DELETE FROM docs WHERE id = 1000")

	// Cancel after 12 passes (windows of 16, 32 and 64 rows computed, the
	// first two written).
	ctx, cancel := context.WithCancel(context.Background())
	p0 = v.eng.Passes()
	go func() {
		for v.eng.Passes()-p0 < 12 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := v.c.Exec(ctx, "UPDATE docs SET p = PREDICT('sent', txt), s = PREDICT('stars', txt)", nil)
	cancel()
	if err == nil {
		t.Fatal("cancelled UPDATE: no error")
	}
	var se *mysql.SQLError
	if !errors.Is(err, context.Canceled) && !(errors.As(err, &se) && se.Num == 1317) {
		t.Errorf("cancelled UPDATE: %v, want 1317 or context.Canceled", err)
	}
	if r := v.rows("SELECT COUNT(*) FROM docs WHERE p IS NOT NULL OR s IS NOT NULL"); r[0][0] != int64(0) {
		t.Errorf("a cancelled UPDATE left %v rows changed", r[0][0])
	}
	// The connection works on, and a whole UPDATE commits.
	v.exec("UPDATE docs SET p = PREDICT('sent', txt) WHERE id <= 10")
	if r := v.rows("SELECT COUNT(*) FROM docs WHERE p IS NOT NULL"); r[0][0] != int64(10) {
		t.Errorf("after the cancel, UPDATE set %v rows, want 10", r[0][0])
	}
}

// TestSessionsSharePasses: queries of concurrent sessions merge into full
// forward passes. The first pass is held until the other sessions' sequences
// are queued, so the count does not depend on timing: 8 SELECTs of 40 rows
// each take 1 + ⌈(320-n)/64⌉ passes, where n is the size of the first pass
// (40 when one session came first, up to 64 when more were queued before
// the scheduler woke): 6 or 5, never 8. (Concurrent UPDATEs of one
// database take its write lock in turn, before their first row is read:
// their passes cannot overlap.)
func TestSessionsSharePasses(t *testing.T) {
	var (
		hold    sync.Once
		armed   atomic.Bool  // set once the reference rows are read
		first   atomic.Int64 // sequences in the held first pass
		release = make(chan struct{})
	)
	var v *env
	v = newEnv(t, envOpts{batch: 64, observe: func(seqs, tokens, padded int) {
		if !armed.Load() {
			return
		}
		hold.Do(func() {
			first.Store(int64(seqs))
			<-release
		})
	}})
	v.withAdapters()
	v.texts(320)
	want := v.rows("SELECT id, PREDICT('sent', txt) FROM docs ORDER BY id")
	armed.Store(true)
	const sessions = 8
	got := make([][][]any, sessions)
	p0 := v.eng.Passes()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := 0; i < sessions; i++ {
		c, err := v.e.Connect(context.Background(), "test")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			q := fmt.Sprintf("SELECT id, PREDICT('sent', txt) FROM docs WHERE id > %d AND id <= %d ORDER BY id", 40*i, 40*(i+1))
			rows, err := c.Query(context.Background(), q, nil)
			if err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
				return
			}
			defer rows.Close()
			for {
				r, err := rows.Next()
				if err == io.EOF {
					return
				}
				if err != nil {
					errs <- fmt.Errorf("session %d: %w", i, err)
					return
				}
				got[i] = append(got[i], append([]any(nil), r...))
			}
		}(i)
	}
	// Each session queues its 40 sequences at once; the scheduler's first
	// pass takes up to 64 of whatever is queued when it wakes.
	deadline := time.Now().Add(20 * time.Second)
	behind := func() int { return sessions*40 - int(first.Load()) }
	for (first.Load() == 0 || v.eng.Queued() < behind()) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	queued := v.eng.Queued()
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n0 := int(first.Load())
	if n0 < 40 || n0 > 64 {
		t.Fatalf("first pass of %d sequences, want a session's 40 and at most the batch of 64", n0)
	}
	if queued != behind() {
		t.Fatalf("%d sequences queued behind the first pass of %d, want %d", queued, n0, behind())
	}
	if n, want := v.eng.Passes()-p0, int64(1+(behind()+63)/64); n != want {
		t.Errorf("8 sessions × 40 rows at batch 64, first pass %d: %d passes, want %d", n0, n, want)
	}
	for i := range got {
		if !sameRows(got[i], want[40*i:40*(i+1)]) {
			t.Errorf("session %d: %v, want %v", i, clip(got[i]), clip(want[40*i:40*(i+1)]))
		}
	}
}

// TestJoinOnBatched: calls in a join condition that read only the left
// input run in batched passes over it, once per left row.
func TestJoinOnBatched(t *testing.T) {
	v := newEnv(t, envOpts{batch: 64})
	v.withAdapters()
	label, _ := etlDocs(v)
	v.exec("CREATE TABLE lab (name VARCHAR(10) PRIMARY KEY, n INT)")
	v.exec("INSERT INTO lab VALUES ('pos', 1), ('neg', 2)")
	num := map[any]int32{"pos": 1, "neg": 2}
	check := func(q string, wantPasses int64, filter func(id int32) bool) {
		t.Helper()
		rows, n := v.passes(q)
		if n != wantPasses {
			t.Errorf("%s: %d passes, want %d", q, n, wantPasses)
		}
		want := 0
		for id := range label {
			if filter(id) {
				want++
			}
		}
		if len(rows) != want {
			t.Errorf("%s: %d rows, want %d", q, len(rows), want)
		}
		for _, r := range rows {
			id := r[0].(int32)
			if fmt.Sprint(r[1]) != fmt.Sprint(num[label[id]]) {
				t.Fatalf("%s: row %d joined %v, want %v (%v)", q, id, r[1], num[label[id]], label[id])
			}
		}
	}
	all := func(int32) bool { return true }
	// 300 left rows in windows of 64, 128, 108: 1 + 2 + 2 passes (per
	// pair and probe: 900).
	check("SELECT d.id, l.n FROM docs d JOIN lab l ON l.name = PREDICT('sent', d.txt)", 5, all)
	check("SELECT d.id, l.n FROM docs d LEFT JOIN lab l ON PREDICT('sent', d.txt) = l.name AND d.id < 50 WHERE d.id < 50", 1, func(id int32) bool { return id < 50 })
	check("SELECT d.id, l.n FROM docs d JOIN lab l ON PREDICT('sent', d.txt) = l.name AND d.id < 50", 1, func(id int32) bool { return id < 50 })
	check("SELECT d.id, 1 FROM docs d WHERE EXISTS (SELECT 1 FROM lab l WHERE l.name = PREDICT('sent', d.txt) AND l.n = 1) ORDER BY d.id", 5,
		func(id int32) bool { return label[id] == "pos" })
	// UPDATE ... JOIN ... ON PREDICT: the full rule set runs, the join batches.
	if _, n := v.passes("UPDATE docs d JOIN lab l ON l.name = PREDICT('sent', d.txt) SET d.s = l.n"); n != 5 {
		t.Errorf("UPDATE ... JOIN ON PREDICT of 300 rows: %d passes, want 5", n)
	}
	check("SELECT id, CAST(s AS SIGNED) FROM docs", 0, all)
}

// TestWindowsQueuedAhead: once a long scan's windows have grown,
// the next window is tokenized and queued while the current one's passes
// run, so the featurizer never waits for the SQL layer between windows: more
// than one window's sequences are queued at some pass.
func TestWindowsQueuedAhead(t *testing.T) {
	var v *env
	var mu sync.Mutex
	maxQueued := 0
	v = newEnv(t, envOpts{batch: 8, observe: func(seqs, tokens, padded int) {
		if v == nil {
			return
		}
		time.Sleep(2 * time.Millisecond) // a slow pass, as on a loaded machine
		mu.Lock()
		maxQueued = max(maxQueued, v.eng.Queued())
		mu.Unlock()
	}})
	v.withAdapters()
	v.texts(1200)
	mu.Lock()
	maxQueued = 0
	mu.Unlock()
	// Windows of 8, 16, ..., 256 rows (32 batches), then 256 at a time.
	rows, _ := v.passes("SELECT id, PREDICT('sent', txt) FROM docs")
	if len(rows) != 1200 {
		t.Fatalf("%d rows", len(rows))
	}
	mu.Lock()
	defer mu.Unlock()
	if maxQueued <= 256 {
		t.Errorf("at most %d sequences queued at a pass, want more than one full window (256)", maxQueued)
	}
}
