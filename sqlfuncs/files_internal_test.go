package sqlfuncs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// File reads stop when the statement's context is cancelled (KILL QUERY, a
// closed connection), between chunks of a large file.
func TestFileReadCancelled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(path, make([]byte, 3*readChunk), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &service{filesDir: dir}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.readFile(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: %v", err)
	}
	data, err := s.readAll(context.Background(), "test", path, 4*readChunk)
	if err != nil || len(data) != 3*readChunk {
		t.Fatalf("read: %d bytes, %v", len(data), err)
	}
}
