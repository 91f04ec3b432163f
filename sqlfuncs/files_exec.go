package sqlfuncs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"

	"github.com/adapterdb/adapterdb/catalog/sqlstore"
)

// go-mysql-server's own file statements check paths against the process-wide
// secure_file_priv with a prefix test (a sibling such as DIR-old passes, links
// are followed out). adapterdb takes them over instead, per engine:
//
//   - LOAD DATA [LOCAL] INFILE and SELECT ... INTO OUTFILE/DUMPFILE are built
//     by fileBuilder (an exec-builder override), which confines the path with
//     service.confine and reads or writes the file itself;
//   - LOAD_FILE resolves to loadFile through fileFuncProvider.
//
// SELECT ... INTO OUTFILE/DUMPFILE and LOAD_FILE need the global FILE
// privilege, as LOAD DATA and the ADAPTER file statements do.

// fileBuilder builds the file statements' iterators and hands every other
// node to next.
type fileBuilder struct {
	svc  *service
	next sql.NodeExecBuilder
}

// Build implements sql.NodeExecBuilder.
func (b fileBuilder) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	switch n := n.(type) {
	case *plan.LoadData:
		return b.svc.loadData(ctx, n)
	case *plan.Into:
		if n.Outfile != "" || n.Dumpfile != "" {
			return b.svc.into(ctx, n, row)
		}
	case *plan.ShowGrants:
		return b.svc.showGrants(ctx, n, row) // adds the adapter grants (grants.go)
	case *plan.DropUser:
		return b.svc.dropUser(ctx, n, row) // drops the adapter grants too (grants.go)
	}
	return b.next.Build(ctx, n, row)
}

// checkFilePriv wants the global FILE privilege of the session's account
// (always granted when accounts are off, as in the in-process driver).
func (s *service) checkFilePriv(ctx *sql.Context) error {
	if s.cat == nil || s.cat.MySQLDb == nil {
		return nil
	}
	mdb := s.cat.MySQLDb
	if mdb.UserHasPrivileges(ctx, sql.NewPrivilegedOperation(sql.PrivilegeCheckSubject{}, sql.PrivilegeType_File)) {
		return nil
	}
	// The same error go-mysql-server gives LOAD DATA without FILE.
	c := ctx.Session.Client()
	return sql.ErrPrivilegeCheckFailed.New(fmt.Sprintf("'%s'@'%s'", c.User, c.Address))
}

// ---- SELECT ... INTO OUTFILE / DUMPFILE ----

// into runs the SELECT and writes its rows to a new file in the files
// directory: a temporary file, linked into place when complete, so a failed
// or killed statement leaves nothing and an existing file is never replaced.
func (s *service) into(ctx *sql.Context, n *plan.Into, row sql.Row) (sql.RowIter, error) {
	if err := s.checkFilePriv(ctx); err != nil {
		return nil, err
	}
	name := n.Outfile
	if name == "" {
		name = n.Dumpfile
	}
	path, err := s.confine(name, true)
	if err != nil {
		return nil, err
	}
	iter, err := s.exec.Build(ctx, n.Child, row)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".outfile-*")
	if err != nil {
		iter.Close(ctx)
		return nil, sqlErr(codeFileNotFound, stateGeneral, "File '%s' cannot be created: %v", name, unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	var rows int
	if n.Outfile != "" {
		rows, err = writeOutfile(ctx, w, n, iter)
	} else {
		rows, err = writeDumpfile(ctx, w, n.Child.Schema(), iter)
	}
	if cerr := iter.Close(ctx); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, sqlErr(codeFileExists, stateGeneral, "File '%s' already exists", name)
		}
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	return sql.RowsToRowIter(sql.NewRow(types.NewOkResult(rows))), nil
}

// writeOutfile writes rows in LOAD DATA's format (MySQL's rules): fields
// enclosed (all, or with OPTIONALLY only strings), the escape character
// before itself, the enclosing character, NUL (as ESC 0) and — when
// nothing encloses — the first characters of the terminators; NULL as ESC N
// (or NULL without an escape character).
func writeOutfile(ctx *sql.Context, w *bufio.Writer, n *plan.Into, iter sql.RowIter) (int, error) {
	sch := n.Child.Schema()
	var special []byte
	esc := n.FieldsEscapedBy
	if esc != "" {
		special = append(special, esc[0], 0)
		if n.FieldsEnclosedBy != "" {
			special = append(special, n.FieldsEnclosedBy[0])
		} else {
			if n.FieldsTerminatedBy != "" {
				special = append(special, n.FieldsTerminatedBy[0])
			}
			if n.LinesTerminatedBy != "" {
				special = append(special, n.LinesTerminatedBy[0])
			}
		}
	}
	count := 0
	for {
		r, err := iter.Next(ctx)
		if err == io.EOF {
			return count, nil
		}
		if err != nil {
			return count, err
		}
		if count%1024 == 0 && ctx.Err() != nil {
			return count, ctx.Err()
		}
		count++
		w.WriteString(n.LinesStartingBy)
		for i, v := range r {
			if i > 0 {
				w.WriteString(n.FieldsTerminatedBy)
			}
			if v == nil {
				if esc != "" {
					w.WriteString(esc + "N")
				} else {
					w.WriteString("NULL")
				}
				continue
			}
			text, err := valueText(ctx, sch[i].Type, v)
			if err != nil {
				return count, err
			}
			enclose := n.FieldsEnclosedBy != "" && (!n.FieldsEnclosedByOpt || isStringType(sch[i].Type))
			if enclose {
				w.WriteString(n.FieldsEnclosedBy)
			}
			for j := 0; j < len(text); j++ {
				c := text[j]
				if len(special) > 0 && strings.IndexByte(string(special), c) >= 0 {
					w.WriteByte(esc[0])
					if c == 0 {
						c = '0'
					}
				}
				w.WriteByte(c)
			}
			if enclose {
				w.WriteString(n.FieldsEnclosedBy)
			}
		}
		w.WriteString(n.LinesTerminatedBy)
	}
}

// writeDumpfile writes one row's values as they are, nothing between them;
// more than one row is MySQL's error 1172.
func writeDumpfile(ctx *sql.Context, w *bufio.Writer, sch sql.Schema, iter sql.RowIter) (int, error) {
	count := 0
	for {
		r, err := iter.Next(ctx)
		if err == io.EOF {
			return count, nil
		}
		if err != nil {
			return count, err
		}
		if count++; count > 1 {
			return count, sqlErr(1172, "42000", "Result consisted of more than one row")
		}
		for i, v := range r {
			if v == nil {
				continue
			}
			text, err := valueText(ctx, sch[i].Type, v)
			if err != nil {
				return count, err
			}
			w.Write(text)
		}
	}
}

// valueText is a value as the text protocol sends it.
func valueText(ctx *sql.Context, t sql.Type, v any) ([]byte, error) {
	sv, err := t.SQL(ctx, nil, v)
	if err != nil {
		return nil, err
	}
	return sv.Raw(), nil
}

func isStringType(t sql.Type) bool {
	return types.IsText(t) || types.IsBinaryType(t) || types.IsEnum(t) || types.IsSet(t)
}

// ---- LOAD_FILE ----

// fileFuncProvider is the storage provider with adapterdb's LOAD_FILE: the
// analyzer's catalog asks the provider for a function before its built-ins.
type fileFuncProvider struct {
	*sqlstore.Provider
	svc *service
}

// Function implements sql.FunctionProvider.
func (p fileFuncProvider) Function(_ *sql.Context, name string) (sql.Function, bool) {
	if strings.EqualFold(name, "load_file") {
		return sql.Function1{Name: "load_file", Fn: func(e sql.Expression) sql.Expression {
			return &loadFile{svc: p.svc, name: e}
		}}, true
	}
	return nil, false
}

// loadFile is LOAD_FILE(name): the bytes of a file in the files directory
// (relative names are taken inside it), NULL for a missing file or one
// larger than max_allowed_packet (as MySQL). A path outside the directory,
// a link leading out, no files directory or no FILE privilege is an error.
type loadFile struct {
	svc  *service
	name sql.Expression
}

var _ sql.FunctionExpression = (*loadFile)(nil)
var _ sql.CollationCoercible = (*loadFile)(nil)

func (l *loadFile) FunctionName() string { return "load_file" }
func (l *loadFile) Description() string {
	return "returns the contents of a file in the files directory"
}
func (l *loadFile) Resolved() bool             { return l.name.Resolved() }
func (l *loadFile) String() string             { return fmt.Sprintf("load_file(%s)", l.name) }
func (l *loadFile) Type() sql.Type             { return types.LongBlob }
func (l *loadFile) IsNullable() bool           { return true }
func (l *loadFile) Children() []sql.Expression { return []sql.Expression{l.name} }
func (l *loadFile) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

func (l *loadFile) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(l, len(children), 1)
	}
	return &loadFile{svc: l.svc, name: children[0]}, nil
}

// Eval implements sql.Expression.
func (l *loadFile) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	if err := l.svc.checkFilePriv(ctx); err != nil {
		return nil, err
	}
	v, err := l.name.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	var name string
	switch v := v.(type) {
	case string:
		name = v
	case []byte:
		name = string(v)
	default:
		return nil, errArguments("LOAD_FILE", "the file name must be a string")
	}
	path, err := l.svc.confine(name, false)
	if err != nil {
		var se interface{ Number() int }
		if errors.As(err, &se) && se.Number() == codeFileNotFound {
			return nil, nil
		}
		return nil, err
	}
	limit := int64(1 << 30)
	if m, err := ctx.GetSessionVariable(ctx, "max_allowed_packet"); err == nil {
		if m, ok := m.(int64); ok {
			limit = m
		}
	}
	data, err := l.svc.readAll(ctx, "LOAD_FILE", path, limit)
	if errors.Is(err, errTooBig) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return data, nil
}
