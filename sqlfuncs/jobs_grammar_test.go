package sqlfuncs

import (
	"context"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

func TestParseJobStatements(t *testing.T) {
	for _, c := range []struct {
		in   string
		want *Stmt // nil: not ours
	}{
		{"show jobs", &Stmt{Kind: StmtShowJobs, End: 9}},
		{"SHOW /* x */ JOBS ;", &Stmt{Kind: StmtShowJobs, End: 19}},
		{"CANCEL JOB 12", &Stmt{Kind: StmtCancelJob, JobID: 12, End: 13}},
		{"cancel job 7; select 1", &Stmt{Kind: StmtCancelJob, JobID: 7, End: 13}},
		{"SHOW JOB", nil},
		{"SHOW PROCESSLIST", nil},
		{"CANCEL 3", nil},
	} {
		st, ours, err := ParseStatement(c.in, false)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if (c.want == nil) != !ours {
			t.Errorf("%q: ours = %v", c.in, ours)
			continue
		}
		if c.want != nil && (st.Kind != c.want.Kind || st.JobID != c.want.JobID || st.End != c.want.End) {
			t.Errorf("%q: %+v, want %+v", c.in, st, c.want)
		}
	}
}

func TestParseJobStatementErrors(t *testing.T) {
	checkSyntaxErrors(t, []syntaxCase{
		{"CANCEL JOB", 10, "expected a job id"},
		{"CANCEL JOB x", 11, "expected a job id"},
		{"CANCEL JOB 0", 11, "expected a job id (a positive integer)"},
		{"CANCEL JOB -1", 11, "expected a job id"},
		{"CANCEL JOB 1.5", 11, "expected a job id"},
		{"CANCEL JOB 99999999999999999999", 11, "expected a job id"},
		{"CANCEL JOB ?", 11, "parameters are not supported"},
		{"CANCEL JOB 1 2", 13, "unexpected number"},
		{"SHOW JOBS x", 10, "unexpected identifier"},
	})
	// Through the engine's parser a syntax error is a 1064.
	p := &Parser{base: sql.NewMysqlParser()}
	st, _, _, err := p.ParseWithOptions(context.Background(), "CANCEL JOB x", ';', false, ast.ParserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in, ok := st.(ast.InjectedStatement)
	if !ok {
		t.Fatalf("%T", st)
	}
	_, err = in.Statement.(deferredErr).WithResolvedChildren(nil)
	if !strings.Contains(err.Error(), "You have an error in your SQL syntax") {
		t.Fatalf("%v", err)
	}
}
