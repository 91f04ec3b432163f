package sqlfuncs

import (
	"testing"
)

func TestParseEvaluate(t *testing.T) {
	checkParses(t, []parseCase{
		{"SELECT evaluate FROM adapter", nil},
		{"EVALUATE ADAPTER s AS SELECT a, b FROM t", &Stmt{Kind: StmtEvaluate, Name: "s", NamePos: 17, SelectPos: 22, End: -1}},
		{"evaluate adapter s@2 as select 1, 2", &Stmt{Kind: StmtEvaluate, Name: "s@2", NamePos: 17, SelectPos: 24, End: -1}},
		{"EVALUATE ADAPTER `s`@12 CONFUSION MATRIX AS SELECT 1, 2", &Stmt{Kind: StmtEvaluateConfusion, Name: "s@12", NamePos: 17,
			SelectPos: 44, End: -1}},
		{"EVALUATE ADAPTER `a.b@3` confusion /* c */ matrix AS (SELECT 1, 2)", &Stmt{Kind: StmtEvaluateConfusion, Name: "a.b@3",
			NamePos: 17, SelectPos: 53, End: -1}},
	})
}

func TestParseEvaluateErrors(t *testing.T) {
	checkSyntaxErrors(t, []syntaxCase{
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
	})
}
