package sqlfuncs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseEvaluate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want *Stmt // nil: not ours
	}{
		{"SELECT evaluate FROM adapter", nil},
		{"EVALUATE ADAPTER s AS SELECT a, b FROM t", &Stmt{Kind: StmtEvaluate, Name: "s", NamePos: 17, SelectPos: 22, End: -1}},
		{"evaluate adapter s@2 as select 1, 2", &Stmt{Kind: StmtEvaluate, Name: "s@2", NamePos: 17, SelectPos: 24, End: -1}},
		{"EVALUATE ADAPTER `s`@12 CONFUSION MATRIX AS SELECT 1, 2", &Stmt{Kind: StmtEvaluateConfusion, Name: "s@12", NamePos: 17,
			SelectPos: 44, End: -1}},
		{"EVALUATE ADAPTER `a.b@3` confusion /* c */ matrix AS (SELECT 1, 2)", &Stmt{Kind: StmtEvaluateConfusion, Name: "a.b@3",
			NamePos: 17, SelectPos: 53, End: -1}},
	} {
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

func TestParseEvaluateErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		pos  int
		want string
	}{
		{"EVALUATE ADAPTER", 16, "expected an adapter name"},
		{"EVALUATE ADAPTER 's' AS SELECT 1, 2", 17, "expected an adapter name"},
		{"EVALUATE ADAPTER s", 18, "expected AS SELECT ... or CONFUSION MATRIX AS SELECT"},
		{"EVALUATE ADAPTER s FROM t", 19, "expected AS SELECT"},
		{"EVALUATE ADAPTER s AS", 21, "expected a SELECT after AS"},
		{"EVALUATE ADAPTER s CONFUSION AS SELECT 1, 2", 29, "expected MATRIX"},
		{"EVALUATE ADAPTER s CONFUSION MATRIX SELECT 1, 2", 36, "expected AS SELECT"},
		{"EVALUATE ADAPTER s@ AS SELECT 1, 2", 20, "expected a version number"},
		{"EVALUATE ADAPTER s@0 AS SELECT 1, 2", 19, "expected a version number"},
		{"EVALUATE ADAPTER s@1.5 AS SELECT 1, 2", 19, "expected a version number"},
		{"EVALUATE ADAPTER s@ 2 AS SELECT 1, 2", 20, "expected a version number"},
		{"EVALUATE ADAPTER s @2 AS SELECT 1, 2", 19, "expected AS SELECT"},
		{"EVALUATE ADAPTER s@x AS SELECT 1, 2", 19, "expected a version number"},
	} {
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
