// Command testsummary runs `go test -json ...` and prints what a person (and
// CI) needs from it: each package's closing "ok"/"FAIL" line, the whole output
// of every failing test, every skipped test with its reason, and at the end a
// plain count line ("N passed, N failed, N skipped"). It exits with the test
// command's status, so a skip is never invisible and a failure never hidden.
//
//	go run ./internal/testsummary go test -json -race ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run starts the test command, summarises its standard output and returns
// the command's exit status (1 if it passed but a test failed, 2 if it could
// not run at all).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: testsummary go test -json [flags] [packages]")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	s := newSummary(stdout)
	readErr := s.read(out)
	waitErr := cmd.Wait()
	s.finish()
	if readErr != nil {
		fmt.Fprintln(stderr, "testsummary: reading test output:", readErr)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(waitErr, &exit):
		return exit.ExitCode()
	case waitErr != nil:
		fmt.Fprintln(stderr, "testsummary:", waitErr)
		return 2
	case s.failed > 0 || readErr != nil:
		return 1
	}
	return 0
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type testKey struct{ pkg, test string }

type skip struct {
	key    testKey
	reason string
}

type summary struct {
	w                       io.Writer
	running                 map[testKey][]string // output of tests not finished yet
	order                   []testKey            // start order of running tests
	skips                   []skip
	failures                []testKey
	failedPkgs              []string
	passed, failed, skipped int
}

func newSummary(w io.Writer) *summary {
	return &summary{w: w, running: map[testKey][]string{}}
}

// read consumes the JSON stream. A line that is not a JSON event (a build
// error printed by an older go command, say) is copied through unchanged.
func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(s.w, "%s\n", line)
			continue
		}
		s.event(e)
	}
	return sc.Err()
}

func (s *summary) event(e event) {
	switch e.Action {
	case "build-output":
		io.WriteString(s.w, e.Output)
		return
	case "build-fail":
		return // the package's own "fail" event follows
	}
	if e.Test == "" {
		// Package-level lines: "ok", "FAIL", "PASS", panics outside a test,
		// "[no test files]": exactly what a plain go test prints.
		switch e.Action {
		case "output":
			// A bare "PASS" is the verbose mode's; plain go test omits it.
			if e.Output != "PASS\n" {
				io.WriteString(s.w, e.Output)
			}
		case "fail":
			s.flushUnfinished(e.Package)
			s.failedPkgs = append(s.failedPkgs, e.Package)
		case "pass", "skip":
			s.flushUnfinished(e.Package)
		}
		return
	}
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "run":
		if _, ok := s.running[k]; !ok {
			s.running[k] = nil
			s.order = append(s.order, k)
		}
	case "output":
		if _, ok := s.running[k]; !ok {
			s.order = append(s.order, k)
		}
		s.running[k] = append(s.running[k], e.Output)
	case "pass":
		s.passed++
		s.done(k)
	case "skip":
		s.skipped++
		s.skips = append(s.skips, skip{k, skipReason(s.running[k])})
		s.done(k)
	case "fail":
		s.failed++
		s.failures = append(s.failures, k)
		s.printOutput(k, "")
		s.done(k)
	}
}

func (s *summary) done(k testKey) {
	delete(s.running, k)
}

func (s *summary) printOutput(k testKey, note string) {
	fmt.Fprintf(s.w, "=== output of %s %s%s\n", k.pkg, k.test, note)
	for _, o := range s.running[k] {
		io.WriteString(s.w, o)
	}
}

// flushUnfinished prints the output of a package's tests that never ended
// (the binary panicked or timed out): that output says why.
func (s *summary) flushUnfinished(pkg string) {
	for _, k := range s.order {
		if out, ok := s.running[k]; ok && k.pkg == pkg {
			if len(out) > 0 {
				s.printOutput(k, " (did not finish)")
			}
			s.done(k)
		}
	}
	kept := s.order[:0]
	for _, k := range s.order {
		if _, ok := s.running[k]; ok {
			kept = append(kept, k)
		}
	}
	s.order = kept
}

// skipReason is the test's own output without the framework's lines.
func skipReason(out []string) string {
	var parts []string
	for _, o := range out {
		for _, line := range strings.Split(o, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- SKIP") {
				continue
			}
			parts = append(parts, line)
		}
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " | ")
}

// finish prints the skipped and failed tests and the closing count line.
func (s *summary) finish() {
	for _, pkg := range sortedKeys(s.running) {
		s.flushUnfinished(pkg)
	}
	fmt.Fprintf(s.w, "\n--- %d skipped tests\n", len(s.skips))
	for _, sk := range s.skips {
		fmt.Fprintf(s.w, "SKIP %s %s: %s\n", sk.key.pkg, sk.key.test, sk.reason)
	}
	if len(s.failures) > 0 || len(s.failedPkgs) > 0 {
		fmt.Fprintf(s.w, "--- %d failed tests, %d failed packages\n", len(s.failures), len(s.failedPkgs))
		for _, k := range s.failures {
			fmt.Fprintf(s.w, "FAIL %s %s\n", k.pkg, k.test)
		}
		for _, p := range s.failedPkgs {
			fmt.Fprintf(s.w, "FAIL %s\n", p)
		}
	}
	fmt.Fprintf(s.w, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}

func sortedKeys(m map[testKey][]string) []string {
	seen := map[string]bool{}
	var pkgs []string
	for k := range m {
		if !seen[k.pkg] {
			seen[k.pkg] = true
			pkgs = append(pkgs, k.pkg)
		}
	}
	sort.Strings(pkgs)
	return pkgs
}
