package sqlfuncs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// LOAD DATA [LOCAL] INFILE. go-mysql-server plans it (target table, column
// list, user variables, SET, IGNORE/REPLACE) and adapterdb reads it:
// go-mysql-server's reader splits lines and fields before looking at quotes,
// so an enclosed field holding the separator, a line break or a doubled
// quote ("" in CSV) fails with "field not properly enclosed", and it reads
// files by the process-wide secure_file_priv. This reader follows MySQL's
// rules for the FIELDS and LINES options; what it makes of the fields (the
// row for the insert) is go-mysql-server's, unchanged.

// loadData opens the statement's input: for LOCAL the client's file through
// the protocol, otherwise (and in process, where there is no client to ask)
// a file confined to the files directory.
func (s *service) loadData(ctx *sql.Context, n *plan.LoadData) (sql.RowIter, error) {
	if n.FieldsTerminatedBy == "" || n.LinesTerminatedBy == "" {
		return nil, errArguments("LOAD DATA", "empty FIELDS TERMINATED BY or LINES TERMINATED BY (fixed-width rows) is not supported")
	}
	var rc io.ReadCloser
	if n.Local {
		r, err := ctx.LoadInfile(n.File)
		switch {
		case err == nil:
			rc = r
		case sql.ErrUnsupportedFeature.Is(err):
			// In process: the client's files are this process's.
		default:
			return nil, err
		}
	}
	if rc == nil {
		path, err := s.confine(n.File, false)
		if err != nil {
			return nil, err
		}
		f, _, err := s.openRead("LOAD DATA", path)
		if err != nil {
			return nil, err
		}
		rc = f
	}
	it := &loadDataIter{n: n, closer: rc, ignore: n.IgnoreNum,
		rd: &recordReader{r: bufio.NewReaderSize(ctxReader{ctx, rc}, 1<<16), n: n}}
	sch := n.Schema()
	colNames := n.ColNames
	if len(colNames) == 0 {
		colNames = make([]string, len(sch))
		for i, col := range sch {
			colNames[i] = col.Name
		}
	}
	// As go-mysql-server's reader: which destination column each field
	// feeds (-1 for a user variable).
	it.fieldToCol = make([]int, len(n.UserVars))
	for f, c := 0, 0; f < len(n.UserVars) && c < len(colNames); f++ {
		if n.UserVars[f] != nil {
			it.fieldToCol[f] = -1
			continue
		}
		it.fieldToCol[f] = sch.IndexOf(colNames[c], sch[0].Source)
		c++
	}
	return it, nil
}

// field is one field of a record; null for \N (or an unenclosed NULL when
// fields are enclosed or nothing escapes).
type field struct {
	val  string
	null bool
}

// recordReader reads records by MySQL's LOAD DATA rules: a record starts
// after LINES STARTING BY (lines without it are skipped) and ends at LINES
// TERMINATED BY; fields end at FIELDS TERMINATED BY; a field that starts
// with the ENCLOSED BY character (with or without OPTIONALLY) runs to that
// character followed by a terminator, and holds terminators, line breaks and
// the character doubled; the ESCAPED BY character takes the next one
// literally (\0 \b \n \r \t \Z as in MySQL; \N alone is NULL).
type recordReader struct {
	r    *bufio.Reader
	n    *plan.LoadData
	line int // line breaks read so far, for error messages
}

// at reports whether the input continues with s, without consuming it.
func (rr *recordReader) at(s string) bool {
	b, _ := rr.r.Peek(len(s))
	return len(b) == len(s) && string(b) == s
}

func (rr *recordReader) skip(n int) {
	b, _ := rr.r.Peek(n)
	rr.line += bytes.Count(b, []byte("\n"))
	rr.r.Discard(n)
}

func (rr *recordReader) readByte() (byte, error) {
	c, err := rr.r.ReadByte()
	if c == '\n' && err == nil {
		rr.line++
	}
	return c, err
}

// next returns the next record's fields, or io.EOF.
func (rr *recordReader) next() ([]field, error) {
	n := rr.n
	if n.LinesStartingBy != "" {
		for !rr.at(n.LinesStartingBy) {
			if rr.at(n.LinesTerminatedBy) {
				rr.skip(len(n.LinesTerminatedBy))
				continue
			}
			if _, err := rr.readByte(); err != nil {
				return nil, err
			}
		}
		rr.skip(len(n.LinesStartingBy))
	} else {
		// Empty lines are skipped, as go-mysql-server's reader did.
		for rr.at(n.LinesTerminatedBy) {
			rr.skip(len(n.LinesTerminatedBy))
		}
		if _, err := rr.r.Peek(1); err != nil {
			return nil, err
		}
	}
	var fields []field
	for {
		f, end, err := rr.field()
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
		if end {
			return fields, nil
		}
	}
}

// field reads one field and its terminator; end reports the end of the
// record (the line terminator or the end of the input).
func (rr *recordReader) field() (f field, end bool, err error) {
	n := rr.n
	var esc, enc byte
	hasEsc, hasEnc := n.FieldsEscapedBy != "", n.FieldsEnclosedBy != ""
	if hasEsc {
		esc = n.FieldsEscapedBy[0]
	}
	if hasEnc {
		enc = n.FieldsEnclosedBy[0]
	}
	var buf []byte
	startLine := rr.line + 1
	if hasEnc && rr.at(n.FieldsEnclosedBy) {
		rr.skip(1)
		for {
			c, err := rr.readByte()
			if err == io.EOF {
				return f, false, fmt.Errorf("LOAD DATA: line %d: the field enclosed by %s has no closing %s", startLine, n.FieldsEnclosedBy, n.FieldsEnclosedBy)
			}
			if err != nil {
				return f, false, err
			}
			switch {
			case hasEsc && c == esc:
				c, err := rr.readByte()
				if err != nil {
					buf = append(buf, esc)
					continue
				}
				buf = append(buf, unescape(c))
			case c == enc:
				switch {
				case rr.at(n.FieldsEnclosedBy): // doubled: one literal
					rr.skip(1)
					buf = append(buf, enc)
				case rr.at(n.FieldsTerminatedBy):
					rr.skip(len(n.FieldsTerminatedBy))
					return field{val: string(buf)}, false, nil
				case rr.at(n.LinesTerminatedBy):
					rr.skip(len(n.LinesTerminatedBy))
					return field{val: string(buf)}, true, nil
				default:
					if _, err := rr.r.Peek(1); err == io.EOF {
						return field{val: string(buf)}, true, nil
					}
					// Not followed by a terminator: data (as MySQL).
					buf = append(buf, enc)
				}
			default:
				buf = append(buf, c)
			}
		}
	}
	escaped := false // the field is exactly ESC N: NULL
	for {
		if rr.at(n.FieldsTerminatedBy) {
			rr.skip(len(n.FieldsTerminatedBy))
			break
		}
		if rr.at(n.LinesTerminatedBy) {
			rr.skip(len(n.LinesTerminatedBy))
			end = true
			break
		}
		c, err := rr.readByte()
		if err == io.EOF {
			end = true
			break
		}
		if err != nil {
			return f, false, err
		}
		if hasEsc && c == esc {
			c2, err := rr.readByte()
			if err != nil {
				buf = append(buf, esc)
				continue
			}
			if c2 == 'N' && len(buf) == 0 {
				escaped = true
			}
			buf = append(buf, unescape(c2))
			continue
		}
		buf = append(buf, c)
	}
	switch {
	case escaped && len(buf) == 1:
		return field{null: true}, end, nil
	case string(buf) == "NULL" && (hasEnc || !hasEsc):
		return field{null: true}, end, nil
	}
	return field{val: string(buf)}, end, nil
}

// unescape is the character ESC c stands for.
func unescape(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'b':
		return '\b'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'Z':
		return 26
	}
	return c
}

// loadDataIter turns records into rows for the insert, as go-mysql-server's
// reader does (user variables, SET expressions, defaults for empty fields).
type loadDataIter struct {
	n          *plan.LoadData
	rd         *recordReader
	closer     io.Closer
	fieldToCol []int
	ignore     int64
}

// Next implements sql.RowIter.
func (it *loadDataIter) Next(ctx *sql.Context) (sql.Row, error) {
	for ; it.ignore > 0; it.ignore-- {
		if _, err := it.rd.next(); err != nil {
			return nil, it.readErr(ctx, err)
		}
	}
	var exprs []sql.Expression
	for exprs == nil {
		fields, err := it.rd.next()
		if err != nil {
			return nil, it.readErr(ctx, err)
		}
		if exprs, err = it.exprs(ctx, fields); err != nil {
			return nil, err
		}
	}
	row := make(sql.Row, len(exprs))
	var second []int
	for i, e := range exprs {
		if e == nil {
			continue
		}
		// Non-literal defaults may refer to other columns: second pass.
		if d, ok := e.(*sql.ColumnDefaultValue); ok && !d.IsLiteral() {
			second = append(second, i)
			continue
		}
		v, err := e.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		row[i] = v
	}
	for _, i := range second {
		v, err := exprs[i].Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		row[i] = v
	}
	return row, nil
}

func (it *loadDataIter) readErr(ctx *sql.Context, err error) error {
	if err == io.EOF {
		return io.EOF
	}
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return cerr
	}
	return sqlErr(codeWrongArguments, stateGeneral, "%v", err)
}

// exprs is go-mysql-server's mapping of a record's fields to the insert's
// expressions, with NULL fields as NULL.
func (it *loadDataIter) exprs(ctx *sql.Context, fields []field) ([]sql.Expression, error) {
	n := it.n
	fieldRow := make(sql.Row, len(fields))
	for i, f := range fields {
		if !f.null {
			fieldRow[i] = f.val
		}
	}
	exprs := make([]sql.Expression, len(n.DestSch))
	for fi, ei := 0, 0; fi < len(fields) && fi < len(n.UserVars); fi++ {
		if uv := n.UserVars[fi]; uv != nil {
			set := uv.(*expression.SetField)
			v, err := set.RightChild.Eval(ctx, fieldRow)
			if err != nil {
				return nil, err
			}
			name := set.LeftChild.(*expression.UserVar).Name
			if err := ctx.SetUserVariable(ctx, name, v, types.ApproximateTypeFromValue(v)); err != nil {
				return nil, err
			}
			continue
		}
		if ei >= len(exprs) {
			continue
		}
		f := fields[fi]
		switch {
		case f.null:
			exprs[ei] = expression.NewLiteral(nil, types.Null)
		case f.val == "":
			// Empty: "" for strings, else the default or NULL.
			col := n.DestSch[it.fieldToCol[fi]]
			if _, ok := col.Type.(sql.StringType); ok {
				exprs[ei] = expression.NewLiteral("", types.LongText)
			} else if col.Default != nil {
				exprs[ei] = col.Default
			} else {
				exprs[ei] = expression.NewLiteral(nil, types.Null)
			}
		default:
			exprs[ei] = expression.NewLiteral(f.val, types.LongText)
		}
		ei++
	}
	for fi, ei := 0, 0; len(n.SetExprs) > 0 && fi < len(it.fieldToCol) && ei < len(exprs); fi++ {
		c := it.fieldToCol[fi]
		if c == -1 {
			continue
		}
		if set := n.SetExprs[c]; set != nil {
			v, err := set.Eval(ctx, fieldRow)
			if err != nil {
				return nil, err
			}
			exprs[ei] = expression.NewLiteral(v, set.Type())
		}
		ei++
	}
	// Without a column list the projection adds no defaults: add them.
	if len(n.ColNames) == 0 {
		for i, e := range exprs {
			if e != nil {
				continue
			}
			col := n.DestSch[i]
			if !col.Nullable && col.Default == nil && !col.AutoIncrement {
				return nil, sql.ErrInsertIntoNonNullableDefaultNullColumn.New(col.Name)
			}
			exprs[i] = col.Default
		}
	}
	return exprs, nil
}

// Close implements sql.RowIter.
func (it *loadDataIter) Close(*sql.Context) error { return it.closer.Close() }
