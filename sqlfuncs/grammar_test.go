package sqlfuncs

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

func TestParseStatement(t *testing.T) {
	checkParses(t, []parseCase{
		{"SELECT 1", nil},
		{"CREATE TABLE adapter (x int)", nil},
		{"CREATE OR REPLACE VIEW v AS SELECT 1", nil},
		{"DROP TABLE adapters", nil},
		{"SHOW TABLES", nil},
		{"/* unterminated", nil},
		{"show adapters", &Stmt{Kind: StmtShow, End: 13}},
		{"SHOW ADAPTERS;", &Stmt{Kind: StmtShow, End: 14}},
		{"  -- comment\nSHOW /* x */ ADAPTERS ; select 1", &Stmt{Kind: StmtShow, End: 36}},
		{"drop adapter if exists `a``b`", &Stmt{Kind: StmtDrop, Name: "a`b", NamePos: 23, IfExists: true, End: 29}},
		{"DROP ADAPTER x1", &Stmt{Kind: StmtDrop, Name: "x1", NamePos: 13, End: 15}},
		{"DROP ADAPTER `as`", &Stmt{Kind: StmtDrop, Name: "as", NamePos: 13, End: 17}}, // a reserved word, quoted
		{"EXPORT ADAPTER a TO 'dir/it''s \\n.safetensors'", &Stmt{Kind: StmtExport, Name: "a", NamePos: 15,
			File: "dir/it's \n.safetensors", FilePos: 20, End: 46}},
		{"create adapter if not exists a from \"f.st\"", &Stmt{Kind: StmtCreateFrom, Name: "a", NamePos: 29, IfNotExists: true,
			File: "f.st", FilePos: 36, End: 42}},
		{"CREATE OR REPLACE ADAPTER s OPTIONS (epochs = 3, learning_rate = 1e-3, task = 'regression', seed = -0, trainable = head) AS SELECT a, b FROM t",
			&Stmt{Kind: StmtCreateAs, Name: "s", NamePos: 26, OrReplace: true, Options: []Option{
				{"epochs", "3", 37, nil}, {"learning_rate", "1e-3", 49, nil}, {"task", "regression", 71, nil}, {"seed", "-0", 92, nil}, {"trainable", "head", 103, nil}},
				SelectPos: 124, End: -1}},
		{"CREATE ADAPTER options OPTIONS (epochs = 1) AS SELECT a, b FROM t", &Stmt{Kind: StmtCreateAs, Name: "options", NamePos: 15,
			Options: []Option{{"epochs", "1", 32, nil}}, SelectPos: 47, End: -1}}, // OPTIONS is not reserved
		{"CREATE ADAPTER s OPTIONS () AS (SELECT 1, 2)", &Stmt{Kind: StmtCreateAs, Name: "s", NamePos: 15, SelectPos: 31, End: -1}},
		{"EXPLAIN CREATE ADAPTER s AS SELECT 1, 2", &Stmt{Kind: StmtCreateAs, Explain: true, Name: "s", NamePos: 23, SelectPos: 28, End: -1}},
		{"explain format=tree drop adapter s", &Stmt{Kind: StmtDrop, Explain: true, Name: "s", NamePos: 33, End: 34}},
		{"EXPLAIN PLAN SHOW ADAPTERS", &Stmt{Kind: StmtShow, Explain: true, End: 26}},
	})
}

func TestParseStatementErrors(t *testing.T) {
	checkSyntaxErrors(t, []syntaxCase{
		{"CREATE ADAPTER", 14, "expected an adapter name"},
		{"CREATE ADAPTER 'x' AS SELECT 1", 15, "expected an adapter name"},
		{"CREATE ADAPTER AS SELECT txt, label FROM t", 15, "expected an adapter name, not the reserved word AS (a name that is one must be quoted: `AS`)"},
		{"create adapter select as select 1", 15, "expected an adapter name, not the reserved word SELECT"},
		{"CREATE ADAPTER OPTIONS (epochs = 1) AS SELECT a, b FROM t", 15, "expected an adapter name before OPTIONS"},
		{"DROP ADAPTER from", 13, "expected an adapter name, not the reserved word FROM"},
		{"EXPORT ADAPTER to TO 'f'", 15, "expected an adapter name, not the reserved word TO"},
		{"CREATE ADAPTER x", 16, "expected AS SELECT"},
		{"CREATE ADAPTER x OPTIONS epochs = 1 AS SELECT 1", 25, "expected '('"},
		{"CREATE ADAPTER x OPTIONS (epochs = ) AS SELECT 1", 35, "expected a value for option epochs"},
		{"CREATE ADAPTER x OPTIONS (epochs = ?) AS SELECT 1", 35, "parameters are not supported"},
		{"CREATE ADAPTER x OPTIONS (seed = - 1) AS SELECT 1", 35, "expected a number after '-'"},
		{"CREATE ADAPTER x OPTIONS (1 = 2) AS SELECT 1", 26, "expected an option name"},
		{"CREATE ADAPTER x FROM ?", 22, "parameters are not supported"},
		{"CREATE ADAPTER x FROM 'f' x", 26, "unexpected identifier"},
		{"CREATE ADAPTER `x", 15, "unterminated quoted identifier"},
		{"EXPORT ADAPTER x TO 'f", 20, "unterminated string"},
		{"SHOW ADAPTERS /* no end", 14, "unterminated comment"},
		{"EXPLAIN CREATE ADAPTER x AS", 27, "expected a SELECT after AS"},
	})
}

func TestParserMulti(t *testing.T) {
	p := &Parser{base: sql.NewMysqlParser()}
	ctx := context.Background()
	for _, c := range []struct {
		in, parsed, rem string
		kind            string
	}{
		{"show adapters; select 1", "show adapters", " select 1", "ours"},
		{"create adapter z as select a, b from t; select 2", "create adapter z as select a, b from t", " select 2", "ours"},
		{"create adapter z as select a, b from t;select 2;", "create adapter z as select a, b from t", "select 2", "ours"},
		{"create adapter z as select a, b from t", "create adapter z as select a, b from t", "", "ours"},
		{"select 1; show adapters", "select 1", " show adapters", "vitess"},
	} {
		st, parsed, rem, err := p.ParseWithOptions(ctx, c.in, ';', true, ast.ParserOptions{})
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		_, injected := st.(ast.InjectedStatement)
		if parsed != c.parsed || rem != c.rem || injected != (c.kind == "ours") {
			t.Errorf("%q: %T parsed=%q rem=%q", c.in, st, parsed, rem)
		}
		if in, ok := st.(ast.InjectedStatement); ok {
			if _, bad := in.Statement.(deferredErr); bad {
				t.Errorf("%q: syntax error %v", c.in, in.Statement)
			}
		}
	}
	// ParseOne reports where the next statement starts.
	_, idx, err := p.ParseOneWithOptions(ctx, "show adapters; select 1", ast.ParserOptions{})
	if err != nil || idx != 14 {
		t.Errorf("ParseOne: %d %v", idx, err)
	}
	if _, _, _, err := p.ParseWithOptions(ctx, " -- nothing\n ;", ';', false, ast.ParserOptions{}); !errors.Is(err, ast.ErrEmpty) {
		t.Errorf("empty query: %v", err)
	}
}

// FuzzParse feeds arbitrary text to the statement grammar and to the engine's
// parser (which also calls vitess): no panics, offsets inside the text, and a
// statement parsed alone parses the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CREATE OR REPLACE ADAPTER s OPTIONS (epochs = 3, learning_rate = 1e-3, task = 'regression') AS SELECT a, b FROM t",
		"create adapter if not exists `a``b` from 'f.safetensors'; select 1",
		"EXPORT ADAPTER a TO 'x\\'y'", "drop adapter if exists x", "SHOW ADAPTERS;", "EXPLAIN FORMAT=TREE SHOW ADAPTERS",
		"SELECT PREDICT('a', txt) FROM t", "/* c */ -- d\n# e\nshow adapters", "CREATE ADAPTER x OPTIONS (seed = -1) AS",
		"create adapter x as select 1; create adapter y as select 2", "CREATE ADAPTER \"x\" FROM 'f'", "drop adapter 1e5",
		"EVALUATE ADAPTER s@2 AS SELECT a, b FROM t", "evaluate adapter `s` confusion matrix as select a, b from t",
		"ALTER ADAPTER s SET ACTIVE VERSION 2", "DROP ADAPTER IF EXISTS s VERSION 3", "SHOW ADAPTER VERSIONS s",
		"SHOW JOBS", "CANCEL JOB 7", "GRANT EXECUTE, DROP ON ADAPTER s TO 'u'@'%', v", "REVOKE ALL ON ADAPTER s FROM u",
		"CREATE ADAPTER s OPTIONS (learning_rate = (1e-4, 3e-4), adapter_size = (16, 64), search = 'random', trials = 2) AS SELECT a, b FROM t",
	} {
		f.Add(s, false)
	}
	p := &Parser{base: sql.NewMysqlParser()}
	f.Fuzz(func(t *testing.T, s string, ansi bool) {
		st, ours, err := ParseStatement(s, ansi)
		if ours && err == nil {
			// Statements that end in a SELECT hand the rest to vitess.
			withSelect := st.Kind == StmtCreateAs || st.Kind == StmtEvaluate || st.Kind == StmtEvaluateConfusion
			switch {
			case withSelect && (st.End != -1 || st.SelectPos < 0 || st.SelectPos >= len(s)):
				t.Fatalf("%q: select at %d end %d", s, st.SelectPos, st.End)
			case !withSelect && (st.End < 0 || st.End > len(s)):
				t.Fatalf("%q: end %d", s, st.End)
			case st.NamePos < 0 || st.NamePos > len(s):
				t.Fatalf("%q: name at %d", s, st.NamePos)
			}
			if !withSelect {
				again, ours2, err2 := ParseStatement(s[:st.End], ansi)
				if !ours2 || err2 != nil || again.Kind != st.Kind || again.Name != st.Name {
					t.Fatalf("%q: alone %q parses as %+v %v %v", s, s[:st.End], again, ours2, err2)
				}
			}
		}
		var se *SyntaxError
		if err != nil && (!errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s)) {
			t.Fatalf("%q: error %v", s, err)
		}
		opts := ast.ParserOptions{AnsiQuotes: ansi}
		for _, multi := range []bool{false, true} {
			stmt, parsed, rem, err := p.ParseWithOptions(context.Background(), s, ';', multi, opts)
			if err != nil && !errors.Is(err, ast.ErrEmpty) {
				t.Fatalf("%q: parser returned %v (syntax errors are injected)", s, err)
			}
			if err == nil && stmt == nil {
				t.Fatalf("%q: no statement", s)
			}
			if !strings.HasSuffix(s, rem) && !strings.HasSuffix(sql.RemoveSpaceAndDelimiter(s, ';'), rem) {
				t.Fatalf("%q: remainder %q is not a suffix", s, rem)
			}
			_ = parsed
		}
		if _, idx, err := p.ParseOneWithOptions(context.Background(), s, opts); err == nil && (idx < 0 || idx > len(s)) {
			t.Fatalf("%q: next statement at %d", s, idx)
		}
	})
}

// parseCase is a statement and what ParseStatement must make of it (want
// nil: the statement is not ours, vitess parses it).
type parseCase struct {
	in   string
	want *Stmt
}

func checkParses(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, c := range cases {
		st, ours, err := ParseStatement(c.in, false)
		if c.want == nil {
			if ours {
				t.Errorf("%q: parsed as ours: %+v %v", c.in, st, err)
			}
			continue
		}
		if !ours || err != nil {
			t.Errorf("%q: ours=%v err=%v", c.in, ours, err)
			continue
		}
		if !reflect.DeepEqual(st, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.in, st, c.want)
		}
	}
}

// syntaxCase is a statement of ours with a syntax error: where, and what the
// message says.
type syntaxCase struct {
	in   string
	pos  int
	want string
}

func checkSyntaxErrors(t *testing.T, cases []syntaxCase) {
	t.Helper()
	for _, c := range cases {
		_, ours, err := ParseStatement(c.in, false)
		var se *SyntaxError
		if !ours || !errors.As(err, &se) {
			t.Errorf("%q: ours=%v err=%v, want a syntax error", c.in, ours, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Msg, c.want) {
			t.Errorf("%q: error at %d %q, want at %d %q", c.in, se.Pos, se.Msg, c.pos, c.want)
		}
	}
}
