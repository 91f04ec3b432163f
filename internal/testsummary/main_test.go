package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The sample module has a passing test, a skipped one with a reason, a
// failing subtest and a package that does not compile.
var sample = map[string]string{
	"go.mod": "module sample\n\ngo 1.21\n",
	"a/a_test.go": `package a

import "testing"

func TestPass(t *testing.T) { t.Log("quiet when passing") }

func TestSkip(t *testing.T) { t.Skip("needs a GPU") }

func TestParent(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Log("the detail"); t.Error("wrong answer 41") })
}
`,
	"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestPass(t *testing.T) {}\n",
	"c/c_test.go": "package c\n\nimport \"testing\"\n\nfunc TestBroken(t *testing.T) { undefinedCall() }\n",
	"d/d_test.go": `package d

import "testing"

func TestPanics(t *testing.T) { t.Log("before the panic"); panic("boom") }
`,
}

func writeSample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range sample {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRunRealGoTest runs the real go command on the sample module and checks
// every promise: failures shown whole, skips listed with reasons, package
// lines kept, the count line last and go test's exit status returned.
func TestRunRealGoTest(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := writeSample(t)
	t.Chdir(dir)
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")

	var stdout, stderr bytes.Buffer
	code := run([]string{goBin, "test", "-json", "-count=1", "./..."}, &stdout, &stderr)
	out := stdout.String()
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	if code == 0 {
		t.Errorf("exit status 0, want go test's failure status")
	}
	for _, want := range []string{
		"ok  \tsample/b",
		"FAIL\tsample/a",
		"wrong answer 41",
		"the detail",
		"SKIP sample/a TestSkip: a_test.go:7: needs a GPU",
		"FAIL sample/a TestParent/bad",
		"FAIL sample/a TestParent\n",
		"FAIL sample/c\n",
		"undefinedCall",
		"boom",
		"before the panic",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "quiet when passing") {
		t.Error("a passing test's log was printed")
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	// Passed: a.TestPass, a.TestParent/ok, b.TestPass; failed: TestParent,
	// TestParent/bad, TestPanics; skipped: TestSkip.
	if last != "3 passed, 3 failed, 1 skipped" {
		t.Errorf("last line %q, want %q", last, "3 passed, 3 failed, 1 skipped")
	}
}

// TestRunPassing: a run where everything passes exits 0 and lists no failures.
func TestRunPassing(t *testing.T) {
	var out bytes.Buffer
	s := newSummary(&out)
	stream := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.01s\n"}
{"Action":"pass","Package":"p"}
not json at all
`
	if err := s.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	s.finish()
	got := out.String()
	want := "ok  \tp\t0.01s\nnot json at all\n\n--- 1 skipped tests\nSKIP p TestB: (no reason given)\n1 passed, 0 failed, 1 skipped\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRunStatus: the command's own exit status comes back, and a command
// that cannot start is status 2.
func TestRunStatus(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"sh", "-c", "exit 3"}, &out, &errb); code != 3 {
		t.Errorf("exit 3: got %d", code)
	}
	if code := run([]string{"/nonexistent/go"}, &out, &errb); code != 2 {
		t.Errorf("missing command: got %d", code)
	}
	if code := run(nil, &out, &errb); code != 2 {
		t.Errorf("no command: got %d", code)
	}
}
