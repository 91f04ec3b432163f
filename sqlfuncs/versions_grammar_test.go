package sqlfuncs

import (
	"testing"
)

func TestParseVersionStatements(t *testing.T) {
	checkParses(t, []parseCase{
		{"ALTER TABLE adapters ADD x INT", nil},
		{"alter adapter sent set active version 2", &Stmt{Kind: StmtAlterActive, Name: "sent", NamePos: 14, Version: 2, End: 39}},
		{"ALTER ADAPTER `a b` SET ACTIVE VERSION 10;", &Stmt{Kind: StmtAlterActive, Name: "a b", NamePos: 14, Version: 10, End: 42}},
		{"DROP ADAPTER sent VERSION 3", &Stmt{Kind: StmtDrop, Name: "sent", NamePos: 13, Version: 3, End: 27}},
		{"drop adapter if exists sent version 1", &Stmt{Kind: StmtDrop, Name: "sent", NamePos: 23, IfExists: true, Version: 1, End: 37}},
		{"SHOW ADAPTER VERSIONS sent", &Stmt{Kind: StmtShowVersions, Name: "sent", NamePos: 22, End: 26}},
		{"show adapter versions", &Stmt{Kind: StmtShowVersions, End: 21}},
		{"SHOW ADAPTER VERSIONS `x`;", &Stmt{Kind: StmtShowVersions, Name: "x", NamePos: 22, End: 26}},
		{"EXPORT ADAPTER sent@2 TO 'f'", &Stmt{Kind: StmtExport, Name: "sent@2", NamePos: 15, File: "f", FilePos: 25, End: 28}},
		{"EXPORT ADAPTER `sent`@12 TO 'f'", &Stmt{Kind: StmtExport, Name: "sent@12", NamePos: 15, File: "f", FilePos: 28, End: 31}},
	})
}

func TestParseVersionStatementErrors(t *testing.T) {
	checkSyntaxErrors(t, []syntaxCase{
		{"ALTER ADAPTER", 13, "expected an adapter name"},
		{"ALTER ADAPTER s SET ACTIVE 2", 27, "expected VERSION"},
		{"ALTER ADAPTER s SET VERSION 2", 20, "expected ACTIVE"},
		{"ALTER ADAPTER s ACTIVE VERSION 2", 16, "expected SET"},
		{"ALTER ADAPTER s SET ACTIVE VERSION 0", 35, "expected a version number"},
		{"ALTER ADAPTER s SET ACTIVE VERSION 1.5", 35, "expected a version number"},
		{"ALTER ADAPTER s SET ACTIVE VERSION -1", 35, "expected a version number"},
		{"ALTER ADAPTER s SET ACTIVE VERSION 'x'", 35, "expected a version number"},
		{"ALTER ADAPTER s SET ACTIVE VERSION", 34, "expected a version number"},
		{"ALTER ADAPTER s SET ACTIVE VERSION 2 x", 37, "unexpected"},
		{"DROP ADAPTER s VERSION", 22, "expected a version number"},
		{"DROP ADAPTER s VERSION two", 23, "expected a version number"},
		{"DROP ADAPTER s VERSIONS 2", 15, "unexpected"},
		{"SHOW ADAPTER VERSION s", 13, "expected VERSIONS"},
		{"SHOW ADAPTER", 12, "expected VERSIONS"},
		{"SHOW ADAPTER VERSIONS s t", 24, "unexpected"},
		{"EXPORT ADAPTER s@0 TO 'f'", 17, "expected a version number"},
		{"EXPORT ADAPTER s@x TO 'f'", 17, "expected a version number"},
		{"EXPORT ADAPTER s@ 2 TO 'f'", 18, "expected a version number"},
		{"EXPORT ADAPTER s @2 TO 'f'", 17, "expected TO"},
	})
}
