package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
	"github.com/dolthub/vitess/go/vt/vterrors"
)

// Parser is the engine's sql.Parser: adapter statements are parsed by this
// package's grammar (grammar.go), everything else by vitess's MySQL grammar.
// Set as both the engine's and the analyzer's parser, it serves the server
// (COM_QUERY, multi-statement splitting), PREPARE, and the in-process driver.
//
// Syntax errors are not returned as errors: go-mysql-server would turn them
// into 1105 ER_UNKNOWN_ERROR. They are returned as an injected statement whose
// planning fails with the *mysql.SQLError 1064, which go-mysql-server passes to
// the client unchanged.
type Parser struct {
	base sql.Parser
	svc  *service
}

var _ sql.Parser = (*Parser)(nil)

// ParseSimple implements sql.Parser.
func (p *Parser) ParseSimple(query string) (ast.Statement, error) {
	st, _, _, err := p.ParseWithOptions(context.Background(), query, ';', false, ast.ParserOptions{})
	return st, err
}

// Parse implements sql.Parser.
func (p *Parser) Parse(ctx *sql.Context, query string, multi bool) (ast.Statement, string, string, error) {
	return p.ParseWithOptions(ctx, query, ';', multi, sql.LoadSqlMode(ctx).ParserOptions())
}

// ParseWithOptions implements sql.Parser.
func (p *Parser) ParseWithOptions(ctx context.Context, query string, delim rune, multi bool, opts ast.ParserOptions) (ast.Statement, string, string, error) {
	s := sql.RemoveSpaceAndDelimiter(query, delim)
	st, ours, err := ParseStatement(s, opts.AnsiQuotes)
	if ours {
		stmt, end := p.build(ctx, s, st, err, opts)
		parsed, rem := s, ""
		if end < len(s) {
			if multi {
				parsed, rem = sql.RemoveSpaceAndDelimiter(s[:end], delim), s[end:]
			} else if t := trailing(s, end, opts); t != nil {
				return injectErr(syntaxError(t.Error())), s, "", nil
			}
		}
		return stmt, parsed, rem, nil
	}
	stmt, parsed, rem, err := p.baseParse(ctx, query, delim, multi, opts)
	if err != nil {
		if errors.Is(err, ast.ErrEmpty) {
			return nil, parsed, rem, err
		}
		return injectErr(vitessSyntaxError(s, err, opts)), s, "", nil
	}
	return plainExplainAsPlan(stmt), parsed, rem, nil
}

// ParseOneWithOptions implements sql.Parser: the first statement of s and the
// offset where the next one starts.
func (p *Parser) ParseOneWithOptions(ctx context.Context, s string, opts ast.ParserOptions) (ast.Statement, int, error) {
	st, ours, err := ParseStatement(s, opts.AnsiQuotes)
	if ours {
		stmt, end := p.build(ctx, s, st, err, opts)
		return stmt, end, nil
	}
	stmt, idx, err := p.baseParseOne(ctx, s, opts)
	if err != nil {
		if errors.Is(err, ast.ErrEmpty) {
			return nil, idx, err
		}
		return injectErr(vitessSyntaxError(s, err, opts)), len(s), nil
	}
	return plainExplainAsPlan(stmt), idx, nil
}

// errParserPanic stands for a panic inside vitess's parser: some inputs
// (SELECT” is one) crash it, and the client would see a dropped connection.
// They get a syntax error instead.
var errParserPanic = errors.New("the MySQL parser failed on this statement (a defect of the parser: try spaces between its tokens, e.g. SELECT '' for SELECT'')")

// baseParse is vitess's ParseWithOptions with its panics turned into errors.
func (p *Parser) baseParse(ctx context.Context, query string, delim rune, multi bool, opts ast.ParserOptions) (stmt ast.Statement, parsed, rem string, err error) {
	defer func() {
		if r := recover(); r != nil {
			stmt, parsed, rem, err = nil, query, "", errParserPanic
		}
	}()
	return p.base.ParseWithOptions(ctx, query, delim, multi, opts)
}

// baseParseOne is vitess's ParseOneWithOptions with its panics turned into
// errors.
func (p *Parser) baseParseOne(ctx context.Context, s string, opts ast.ParserOptions) (stmt ast.Statement, idx int, err error) {
	defer func() {
		if r := recover(); r != nil {
			stmt, idx, err = nil, len(s), errParserPanic
		}
	}()
	return p.base.ParseOneWithOptions(ctx, s, opts)
}

// plainExplainAsPlan makes plain EXPLAIN print the plan tree, as EXPLAIN PLAN
// does (go-mysql-server v0.20.0 answers plain EXPLAIN with a placeholder row).
func plainExplainAsPlan(stmt ast.Statement) ast.Statement {
	if e, ok := stmt.(*ast.Explain); ok && e.ExplainFormat == "" && !e.Analyze {
		e.Plan = true
	}
	return stmt
}

// trailing reports text after a complete statement in single-statement mode.
func trailing(s string, end int, opts ast.ParserOptions) *SyntaxError {
	l := lexer{s: s, pos: end, ansiQuotes: opts.AnsiQuotes}
	for {
		t, err := l.next()
		if err != nil {
			var le *lexError
			if asLexError(err, &le) {
				return &SyntaxError{Pos: le.pos, Msg: le.msg, Near: near(s, le.pos)}
			}
			return &SyntaxError{Pos: end, Msg: err.Error()}
		}
		switch {
		case t.kind == tokEOF:
			return nil
		case t.kind == tokPunct && t.val == ";":
			continue
		}
		return &SyntaxError{Pos: t.pos, Msg: "unexpected text after the statement (one statement at a time here)", Near: near(s, t.pos)}
	}
}

// build turns a parsed adapter statement (or its syntax error) into a vitess
// statement, and returns where the statement ends in s.
func (p *Parser) build(ctx context.Context, s string, st *Stmt, perr error, opts ast.ParserOptions) (ast.Statement, int) {
	if perr != nil {
		return injectErr(syntaxError(perr.Error())), len(s)
	}
	var stmt ast.InjectedStatement
	end := st.End
	switch st.Kind {
	case StmtCreateAs:
		rest := s[st.SelectPos:]
		sel, idx, err := ast.ParseOneWithOptions(ctx, rest, opts)
		if err != nil {
			if errors.Is(err, ast.ErrEmpty) {
				return injectErr(syntaxError((&SyntaxError{Pos: st.SelectPos, Msg: "expected a SELECT after AS"}).Error())), len(s)
			}
			return injectErr(shiftedSyntaxError(rest, st.SelectPos, opts)), len(s)
		}
		ss, ok := sel.(ast.SelectStatement)
		if !ok {
			return injectErr(syntaxError((&SyntaxError{Pos: st.SelectPos, Msg: "expected a SELECT after AS",
				Near: near(s, st.SelectPos)}).Error())), len(s)
		}
		if ss.GetInto() != nil {
			return injectErr(errSelectInto("CREATE ADAPTER")), len(s) // evaluate.go
		}
		// ParseOne returns the offset just after the SELECT's ';', or the
		// end of the text.
		end = min(st.SelectPos+idx, len(s))
		if idx <= 0 {
			end = len(s)
		}
		selText := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s[st.SelectPos:end]), ";"))
		children := ast.Exprs{&ast.Subquery{Select: ss}}
		auth := ast.AuthInformation{AuthType: ast.AuthType_CREATE, TargetType: ast.AuthTargetType_Global}
		if st.OrReplace {
			// ALTER on the adapter it replaces, or CREATE for a new one:
			// checked when it runs (grants.go checkReplace).
			auth = ast.AuthInformation{AuthType: ast.AuthType_IGNORE}
		}
		stmt = ast.InjectedStatement{Statement: &createStmt{svc: p.svc, st: st, sel: selText},
			Children: children, Auth: auth}
	case StmtCreateFrom:
		// Reads a server-side file, like LOAD DATA INFILE: the FILE privilege,
		// and creates (OR REPLACE: drops) an adapter like AS SELECT.
		children := ast.Exprs{requires(ast.AuthType_CREATE)}
		if st.OrReplace {
			children = nil // checked when it runs, as for AS SELECT
		}
		stmt = ast.InjectedStatement{Statement: &createStmt{svc: p.svc, st: st}, Children: children,
			Auth: ast.AuthInformation{AuthType: ast.AuthType_FILE, TargetType: ast.AuthTargetType_Global}}
	case StmtExport:
		// Writes a server-side file, like SELECT ... INTO OUTFILE.
		stmt = ast.InjectedStatement{Statement: &exportStmt{svc: p.svc, st: st},
			Auth: ast.AuthInformation{AuthType: ast.AuthType_FILE, TargetType: ast.AuthTargetType_Global}}
	case StmtDrop:
		// Global DROP, or DROP on the adapter: checked when it runs (grants.go).
		stmt = ast.InjectedStatement{Statement: &dropStmt{svc: p.svc, st: st},
			Auth: ast.AuthInformation{AuthType: ast.AuthType_IGNORE}}
	case StmtGrant, StmtRevoke:
		// The adapter's creator or GRANT OPTION: checked when it runs.
		stmt = ast.InjectedStatement{Statement: &grantStmt{svc: p.svc, st: st},
			Auth: ast.AuthInformation{AuthType: ast.AuthType_IGNORE}}
	case StmtEvaluate, StmtEvaluateConfusion:
		var bad ast.Statement
		if stmt, end, bad = p.buildEvaluate(ctx, s, st, opts); bad != nil { // evaluate.go
			return bad, len(s)
		}
	case StmtShowJobs, StmtCancelJob:
		// Who may see or cancel which job is checked when it runs (jobs.go).
		stmt = p.buildJob(st)
	case StmtAlterActive, StmtShowVersions:
		// ALTER on the adapter, or seeing it: checked when it runs (versions.go).
		stmt = p.buildVersions(st)
	case StmtShow:
		stmt = ast.InjectedStatement{Statement: &showStmt{svc: p.svc},
			Auth: ast.AuthInformation{AuthType: ast.AuthType_SHOW, TargetType: ast.AuthTargetType_Ignore}}
	}
	if st.Explain {
		return &ast.Explain{Statement: stmt, Plan: true}, end
	}
	return stmt, end
}

// privilegeCheck is an injected child that only carries a privilege:
// go-mysql-server checks one privilege per injected node, when the statement
// is planned (before it reads or trains anything), and some adapter
// statements need several.
type privilegeCheck struct{ auth string }

// WithResolvedChildren resolves to a constant the statement ignores.
func (c privilegeCheck) WithResolvedChildren([]any) (any, error) {
	return expression.NewLiteral(nil, types.Null), nil
}

func (c privilegeCheck) String() string { return c.auth + " privilege" }

// requires is a child of an injected statement that needs the global
// privilege authType.
func requires(authType string) ast.Expr {
	return ast.InjectedExpr{Expression: privilegeCheck{authType},
		Auth: ast.AuthInformation{AuthType: authType, TargetType: ast.AuthTargetType_Global}}
}

// deferredErr is an injected statement that fails when planned, with err: a
// *mysql.SQLError then reaches the client with its own code.
type deferredErr struct{ err error }

func (d deferredErr) WithResolvedChildren([]any) (any, error) { return nil, d.err }
func (d deferredErr) String() string                          { return d.err.Error() }

func injectErr(err error) ast.Statement {
	return ast.InjectedStatement{Statement: deferredErr{err}, Auth: ast.AuthInformation{AuthType: ast.AuthType_IGNORE}}
}

// vitessSyntaxError re-parses s with the tokenizer API, which returns the
// typed syntax error (the error ParseWithOptions returns has lost its type),
// and makes it a 1064. When the re-parse does not fail the same way (the
// first statement is fine, what follows is not), err's own text is used.
func vitessSyntaxError(s string, err error, opts ast.ParserOptions) error {
	if se, ok := typedSyntaxError(s, opts); ok {
		return syntaxError(se.Message)
	}
	return syntaxError(err.Error())
}

// typedSyntaxError parses the first statement of s and returns its syntax
// error. vitess's ParseNext can panic after a successful parse (it walks the
// tree with an empty query text), hence the recover.
func typedSyntaxError(s string, opts ast.ParserOptions) (se vterrors.SyntaxError, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	tok := ast.NewStringTokenizer(s)
	if opts.AnsiQuotes {
		tok = ast.NewStringTokenizerForAnsiQuotes(s)
	}
	_, perr := ast.ParseNext(tok)
	ok = errors.As(perr, &se)
	return se, ok
}

// shiftedSyntaxError is vitessSyntaxError for a SELECT starting at offset
// off of the statement: positions are reported in the whole statement.
func shiftedSyntaxError(sel string, off int, opts ast.ParserOptions) error {
	if se, ok := typedSyntaxError(sel, opts); ok {
		// "syntax error at position N near 'x'": N counted from the statement.
		msg, nearPart := se.Message, ""
		if i := strings.Index(msg, " near "); i >= 0 {
			msg, nearPart = msg[:i], msg[i:]
		}
		if i := strings.Index(msg, " at position "); i >= 0 {
			msg = msg[:i]
		}
		return syntaxError(fmt.Sprintf("%s at position %d%s (in the SELECT after AS)", msg, off+se.Position, nearPart))
	}
	return syntaxError((&SyntaxError{Pos: off, Msg: "invalid SELECT", Near: near(sel, 0)}).Error())
}
