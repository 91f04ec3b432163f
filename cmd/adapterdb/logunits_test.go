package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLogDurationFieldsHaveUnits: zerolog's Dur writes a bare number of
// milliseconds ("took=184.5"), so every duration field's name must say so
// (took_ms). This scans the module's Go source for Dur calls.
func TestLogDurationFieldsHaveUnits(t *testing.T) {
	dur := regexp.MustCompile(`\.Dur\("([^"]*)"`)
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range dur.FindAllStringSubmatch(string(src), -1) {
			checked++
			if !strings.HasSuffix(m[1], "_ms") {
				t.Errorf("%s: log field %q is a duration in milliseconds: name it %s_ms", path, m[1], m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Dur calls found: is the module root right?")
	}
}
