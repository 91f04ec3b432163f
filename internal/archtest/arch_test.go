// Package archtest checks the import rules docs/architecture.md states: the
// engine knows no SQL, kernels know no model, storage knows no functions.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/adapterdb/adapterdb"

// rules are the page's table: packages matching a pattern (as `go list`
// takes it) must not depend, through others too (or, for direct rules, by
// their own imports), on an import path equal to or under a forbidden one.
var rules = []struct {
	pkgs      string
	direct    bool
	forbidden []string
	why       string
}{
	{"./engine/...", false, []string{"github.com/dolthub/", module + "/catalog/sqlstore", module + "/sqlfuncs", module + "/server", module + "/driver", module + "/cmd"},
		"the engine knows no SQL"},
	{"./engine", false, []string{module + "/kernels/cpu", module + "/kernels/cuda"},
		"the engine's callers choose the kernel backend"},
	{"./engine/registry", false, []string{module + "/kernels/cpu", module + "/kernels/cuda"},
		"the engine's callers choose the kernel backend"},
	{"./kernels/...", false, []string{module + "/engine", module + "/catalog", module + "/sqlfuncs"},
		"kernels know no model"},
	{"./catalog", false, []string{"github.com/dolthub/", module + "/engine", module + "/sqlfuncs", module + "/catalog/sqlstore"},
		"the adapter store knows no SQL engine and no model"},
	{"./catalog/sqlstore", false, []string{module + "/engine", module + "/sqlfuncs", module + "/server", module + "/driver"},
		"storage knows no functions"},
	{"./sqlfuncs", true, []string{module + "/engine/adapter", module + "/engine/model", module + "/kernels/cpu", module + "/kernels/cuda",
		module + "/server", module + "/driver", module + "/cmd"},
		"the SQL layer asks the registry for predictions and never computes an adapter itself"},
	{"./server", false, []string{module + "/driver", module + "/cmd"}, "the server and the driver are peers"},
	{"./driver", false, []string{module + "/server", module + "/cmd"}, "the server and the driver are peers"},
}

func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	for _, r := range rules {
		// Library code only: tests may import helpers (engine/testmodels
		// brings the cpu backend, sqlfuncs tests compute references with
		// the adapter package).
		args := []string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", r.pkgs}
		if r.direct {
			args = []string{"list", "-f", `{{join .Imports "\n"}}`, r.pkgs}
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = "../.." // the module root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", r.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range r.forbidden {
				if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
					t.Errorf("%s depends on %s: %s (docs/architecture.md)", r.pkgs, dep, r.why)
				}
			}
		}
	}
}
