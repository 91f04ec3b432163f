package sqlfuncs

import (
	"strconv"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// The background jobs' statements (grammar.go has the rest):
//
//	SHOW JOBS [';']
//	CANCEL JOB integer [';']

// peekKw reports whether keyword w is next.
func (p *stmtParser) peekKw(w string) bool {
	t, err := p.peek(0)
	return err == nil && isKw(t, w)
}

// jobStmt parses SHOW JOBS or CANCEL JOB after its first keyword, first.
func (p *stmtParser) jobStmt(st *Stmt, first token) error {
	if isKw(first, "show") {
		if _, err := p.expectKw("jobs"); err != nil {
			return err
		}
		st.Kind = StmtShowJobs
		return p.end(st)
	}
	if _, err := p.expectKw("job"); err != nil {
		return err
	}
	t, err := p.advance()
	if err != nil {
		return err
	}
	if t.kind == tokParam {
		return p.errAt(t, "expected a job id as a number (parameters are not supported here)")
	}
	id, cerr := strconv.ParseInt(t.val, 10, 64)
	if t.kind != tokNumber || cerr != nil || id < 1 {
		return p.errAt(t, "expected a job id (a positive integer)")
	}
	st.Kind, st.JobID = StmtCancelJob, id
	return p.end(st)
}

// buildJob makes SHOW JOBS and CANCEL JOB injected statements; their
// privileges are checked when they run.
func (p *Parser) buildJob(st *Stmt) ast.InjectedStatement {
	auth := ast.AuthInformation{AuthType: ast.AuthType_IGNORE}
	if st.Kind == StmtShowJobs {
		return ast.InjectedStatement{Statement: &showJobsStmt{svc: p.svc}, Auth: auth}
	}
	return ast.InjectedStatement{Statement: &cancelJobStmt{svc: p.svc, id: st.JobID}, Auth: auth}
}
