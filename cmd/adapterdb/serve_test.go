package main

import (
	"bytes"
	"context"
	gosql "database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/adapterdb/adapterdb/engine/testmodels"
)

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--db", ""},
		{"serve", "--db", "x.db", "extra"},
		{"serve", "--db", "x.db", "--batch", "0"},
		{"serve", "--db", "x.db", "--files-dir", "/does/not/exist"},
		{"serve", "--db", "x.db", "--device", "tpu"},
		{"serve", "--db", "x.db", "--connect-timeout", "1s"},
		{"serve", "--db", "x.db", "--wait-timeout", "500ms"},
		{"serve", "--db", "x.db", "--max-jobs", "0"},
		{"serve", "--db", "x.db", "--max-jobs", "65"},
	} {
		if code, _, errs := cli(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
}

// syncBuffer is a log sink read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe runs the serve command until its context is cancelled (what
// SIGINT/SIGTERM do), and queries it in between.
func TestServe(t *testing.T) {
	logs := &syncBuffer{}
	e := &env{stdout: logs, stderr: logs, log: zerolog.New(logs)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, e, []string{"--db", filepath.Join(t.TempDir(), "s.db"), "--model", testmodels.Dir("bert-tiny"),
			"--listen", "127.0.0.1:0", "--batch", "8"})
	}()
	addr := regexp.MustCompile(`"listen":"(127\.0\.0\.1:\d+)"`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; {
		select {
		case err := <-done:
			t.Fatalf("serve returned %v: %s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listen line: %s", logs)
		}
		m = addr.FindStringSubmatch(logs.String())
		time.Sleep(20 * time.Millisecond)
	}
	db, err := gosql.Open("mysql", "root@tcp("+m[1]+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT JSON_LENGTH(EMBED('hello'))").Scan(&n); err != nil || n != 32 {
		t.Fatalf("EMBED over the wire: %d %v", n, err)
	}
	var plan strings.Builder
	rows, err := db.Query("EXPLAIN SELECT EMBED('a')")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan.WriteString(line + "\n")
	}
	rows.Close()
	if !strings.Contains(plan.String(), "BatchInfer(batch=8)") {
		t.Errorf("plan:\n%s", plan.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logs.String(), "server stopped") {
		t.Errorf("log: %s", logs)
	}
	// Durations carry their unit in the field name.
	for _, f := range []string{`"startup_ms":`, `"grace_ms":`} {
		if !strings.Contains(logs.String(), f) {
			t.Errorf("log lacks %s: %s", f, logs)
		}
	}
}
