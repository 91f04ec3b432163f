package sqlstore

import (
	"bufio"
	"context"
	"database/sql/driver"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"
)

// Bulk import of CSV into a table: one streaming pass, multi-row INSERTs
// prepared once, all in one transaction (so an aborted import leaves nothing).
// Values are converted by the column's MySQL type exactly as an INSERT would
// convert them.

// ImportMode says what to do about the target table.
type ImportMode int

const (
	ImportAuto   ImportMode = iota // create the table if missing, else append
	ImportCreate                   // the table must not exist
	ImportAppend                   // the table must exist
)

// OnRowError says what a bad row does to an import.
type OnRowError int

const (
	AbortOnError OnRowError = iota // roll the whole import back
	SkipOnError                    // leave the row out and report it
)

// ImportOptions configures Provider.Import.
type ImportOptions struct {
	Database string            // "" means the provider's default database
	Table    string            // target table
	Types    map[string]string // column -> MySQL type, overriding inference (new tables)
	Mode     ImportMode
	OnError  OnRowError
	Comma    rune // field separator (default ',')
	// SampleRows is how many rows type inference looks at (default 1000).
	SampleRows int
	// MaxReported bounds RowErrors kept in the result (default 100).
	MaxReported int
	// Progress, if set, is called after each batch with the rows written.
	Progress func(rows int64)
}

// RowError is one rejected CSV row.
type RowError struct {
	Line int   // 1-based line in the file where the row starts
	Err  error // what was wrong
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// ImportResult reports an import.
type ImportResult struct {
	Created  bool     // the table was created
	Columns  []string // column names in file order
	Types    []string // their MySQL types
	Rows     int64    // rows written
	Skipped  int64    // rows left out (SkipOnError)
	Errors   []RowError
	Duration time.Duration
}

// Import streams CSV from r (a header row, then data) into a table.
func (p *Provider) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	start := time.Now()
	if opts.Table == "" {
		return nil, errors.New("import: no table name")
	}
	if opts.Database == "" {
		opts.Database = p.defaultDB
	}
	if opts.SampleRows <= 0 {
		opts.SampleRows = 1000
	}
	if opts.MaxReported <= 0 {
		opts.MaxReported = 100
	}
	cr := csv.NewReader(SkipBOM(r))
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.FieldsPerRecord = -1 // counted here, to report the line
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("import: empty file (want a header row)")
		}
		return nil, fmt.Errorf("import: header: %w", err)
	}
	if err := checkHeader(header); err != nil {
		return nil, err
	}
	res := &ImportResult{Columns: header}

	sess := p.NewSession(sql.NewBaseSessionWithClientServer("import", sql.Client{User: "import", Address: "localhost"}, 0))
	defer sess.Close()
	sess.SetCurrentDatabase(opts.Database)
	sctx := sql.NewContext(ctx, sql.WithSession(sess))
	if _, err := sess.StartTransaction(sctx, sql.ReadWrite); err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			sess.Rollback(sctx, nil)
		}
	}()

	im := &importer{p: p, s: sess, ctx: sctx, opts: opts, res: res, cr: cr, header: header}
	if err := im.prepareTable(); err != nil {
		return nil, err
	}
	if err := im.copyRows(); err != nil {
		return res, err
	}
	if err := sess.CommitTransaction(sctx, nil); err != nil {
		return res, fmt.Errorf("import: commit: %w", err)
	}
	committed = true
	res.Duration = time.Since(start)
	return res, nil
}

func checkHeader(h []string) error {
	seen := map[string]bool{}
	for i, name := range h {
		name = strings.TrimSpace(name)
		if name == "" {
			return fmt.Errorf("import: header column %d has no name", i+1)
		}
		if seen[lower(name)] {
			return fmt.Errorf("import: header names column %q twice", name)
		}
		seen[lower(name)] = true
		h[i] = name
	}
	return nil
}

// importer holds one import's state.
type importer struct {
	p      *Provider
	s      *Session
	ctx    *sql.Context
	opts   ImportOptions
	res    *ImportResult
	cr     *csv.Reader
	header []string

	sample  []csvRow // rows read for type inference, imported first
	def     *tableDef
	isText  []bool // per table column
	isInt   []bool
	fileCol []int // per table column: CSV field index, or -1
	batch   int   // rows per INSERT statement
}

type csvRow struct {
	line   int
	fields []string
	err    error
}

// read returns the next CSV row (from the sample first).
func (im *importer) read() (csvRow, bool) {
	if len(im.sample) > 0 {
		r := im.sample[0]
		im.sample = im.sample[1:]
		return r, true
	}
	return im.readFile()
}

func (im *importer) readFile() (csvRow, bool) {
	rec, err := im.cr.Read()
	if err == io.EOF {
		return csvRow{}, false
	}
	line := 0
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		line = pe.StartLine
		err = fmt.Errorf("malformed CSV: %v", pe.Err)
	case err != nil:
		return csvRow{err: err}, true
	case len(rec) > 0:
		line, _ = im.cr.FieldPos(0)
	}
	if err == nil && len(rec) != len(im.header) {
		err = fmt.Errorf("%d fields, the header has %d", len(rec), len(im.header))
	}
	return csvRow{line: line, fields: rec, err: err}, true
}

// prepareTable creates the table (with inferred types) or checks the
// existing one against the header.
func (im *importer) prepareTable() error {
	ctx, opts := im.ctx, im.opts
	dbObj, err := im.p.Database(ctx, opts.Database)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	db, ok := dbObj.(*Database)
	if !ok {
		return fmt.Errorf("import: database %s is read-only", opts.Database)
	}
	tbl, exists, err := db.GetTableInsensitive(ctx, opts.Table)
	if err != nil {
		return err
	}
	switch {
	case exists && opts.Mode == ImportCreate:
		return fmt.Errorf("import: table %s.%s already exists (use --append)", opts.Database, opts.Table)
	case !exists && opts.Mode == ImportAppend:
		return fmt.Errorf("import: table %s.%s does not exist (use --create)", opts.Database, opts.Table)
	}
	for len(im.sample) < opts.SampleRows {
		r, ok := im.readFile()
		if !ok {
			break
		}
		im.sample = append(im.sample, r)
	}
	if !exists {
		sch, types, err := im.inferSchema()
		if err != nil {
			return err
		}
		if err := db.CreateTable(ctx, opts.Table, sch, sql.Collation_Default, ""); err != nil {
			return fmt.Errorf("import: create table %s: %w", opts.Table, err)
		}
		im.res.Created, im.res.Types = true, types
		if tbl, _, err = db.GetTableInsensitive(ctx, opts.Table); err != nil || tbl == nil {
			return fmt.Errorf("import: table %s not found after creating it", opts.Table)
		}
	}
	im.def = tbl.(*Table).def
	im.fileCol = make([]int, len(im.def.sch.Schema))
	for i := range im.fileCol {
		im.fileCol[i] = -1
	}
	for f, name := range im.header {
		ci := im.def.colIndex(name)
		if ci < 0 {
			return fmt.Errorf("import: table %s has no column %q (from the header)", im.def.name, name)
		}
		im.fileCol[ci] = f
	}
	for ci, f := range im.fileCol {
		col := im.def.sch.Schema[ci]
		if f < 0 && !col.Nullable && !col.AutoIncrement && col.Default == nil {
			return fmt.Errorf("import: column %s is NOT NULL and not in the file", col.Name)
		}
	}
	if !im.res.Created {
		for _, f := range im.fileCol {
			if f >= 0 {
				im.res.Types = append(im.res.Types, "")
			}
		}
		for ci, f := range im.fileCol {
			if f >= 0 {
				im.res.Types[f] = typeString(im.def.sch.Schema[ci].Type)
			}
		}
	}
	im.isText = make([]bool, len(im.def.sch.Schema))
	im.isInt = make([]bool, len(im.def.sch.Schema))
	for i, col := range im.def.sch.Schema {
		im.isText[i], im.isInt[i] = isTextType(col.Type), isIntType(col.Type)
	}
	// SQLite binds at most 32766 parameters per statement.
	im.batch = max(1, min(500, 30000/len(im.def.stored)))
	return nil
}

// inferSchema chooses a type per column from the sample, unless given.
func (im *importer) inferSchema() (sql.PrimaryKeySchema, []string, error) {
	var sch sql.Schema
	var names []string
	for f, name := range im.header {
		tname := ""
		for k, v := range im.opts.Types {
			if strings.EqualFold(k, name) {
				tname = v
			}
		}
		if tname == "" {
			tname = inferType(im.sample, f)
		}
		typ, err := importType(tname)
		if err != nil {
			return sql.PrimaryKeySchema{}, nil, fmt.Errorf("import: column %s: %w", name, err)
		}
		sch = append(sch, &sql.Column{Name: name, Type: typ, Nullable: true, Source: im.opts.Table})
		names = append(names, typeString(typ))
	}
	for k := range im.opts.Types {
		found := false
		for _, h := range im.header {
			found = found || strings.EqualFold(h, k)
		}
		if !found {
			return sql.PrimaryKeySchema{}, nil, fmt.Errorf("import: --types names column %q, which is not in the header", k)
		}
	}
	return sql.NewPrimaryKeySchema(sch), names, nil
}

// inferType picks the narrowest type all sample values of a field fit:
// BIGINT, DOUBLE, DATE, DATETIME(6), BOOLEAN, else TEXT. Empty fields and \N
// (NULL) fit anything.
func inferType(sample []csvRow, f int) string {
	kinds := []struct {
		name string
		fits func(string) bool
	}{
		{"BIGINT", func(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil }},
		{"DOUBLE", func(s string) bool {
			v, err := strconv.ParseFloat(s, 64)
			return err == nil && v == v && v-v == 0 // not NaN or Inf
		}},
		{"DATE", func(s string) bool { _, err := time.Parse("2006-01-02", s); return err == nil }},
		{"DATETIME(6)", func(s string) bool {
			for _, l := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999"} {
				if _, err := time.Parse(l, s); err == nil {
					return true
				}
			}
			return false
		}},
		{"BOOLEAN", func(s string) bool { return strings.EqualFold(s, "true") || strings.EqualFold(s, "false") }},
	}
	seen := false
	ok := make([]bool, len(kinds))
	for i := range ok {
		ok[i] = true
	}
	for _, r := range sample {
		if r.err != nil || f >= len(r.fields) {
			continue
		}
		v := r.fields[f]
		if v == "" || v == `\N` {
			continue
		}
		seen = true
		for i, k := range kinds {
			ok[i] = ok[i] && k.fits(v)
		}
	}
	if seen {
		for i, k := range kinds {
			if ok[i] {
				return k.name
			}
		}
	}
	return "TEXT"
}

// copyRows converts and writes every row, in batches.
func (im *importer) copyRows() error {
	c, err := im.s.writeConn()
	if err != nil {
		return err
	}
	def := im.def
	var pending [][]driver.Value
	var lines []int
	nextAuto, err := im.s.nextAutoInc(def)
	if err != nil {
		return err
	}
	maxAuto := uint64(0)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := im.insert(c, pending, lines); err != nil {
			return err
		}
		pending, lines = pending[:0], lines[:0]
		if im.opts.Progress != nil {
			im.opts.Progress(im.res.Rows)
		}
		return im.ctx.Err()
	}
	for {
		row, ok := im.read()
		if !ok {
			break
		}
		var vals []driver.Value
		if row.err == nil {
			vals, row.err = im.convert(row.fields, &nextAuto, &maxAuto)
		}
		if row.err != nil {
			if err := im.reject(row.line, row.err); err != nil {
				return err
			}
			continue
		}
		pending = append(pending, vals)
		lines = append(lines, row.line)
		if len(pending) == im.batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if def.autoCol >= 0 {
		im.s.setAutoInc(def, max(nextAuto, maxAuto+1))
	}
	return nil
}

// reject handles a bad row: abort, or note it and go on.
func (im *importer) reject(line int, err error) error {
	re := RowError{Line: line, Err: err}
	if im.opts.OnError == AbortOnError {
		return fmt.Errorf("import rolled back: %w", re)
	}
	im.res.Skipped++
	if len(im.res.Errors) < im.opts.MaxReported {
		im.res.Errors = append(im.res.Errors, re)
	}
	return nil
}

// convert turns CSV fields into stored values for the table's columns.
func (im *importer) convert(fields []string, nextAuto, maxAuto *uint64) ([]driver.Value, error) {
	def := im.def
	vals := make([]driver.Value, len(def.stored))
	for k, ci := range def.stored {
		col := def.sch.Schema[ci]
		var v any
		if f := im.fileCol[ci]; f >= 0 {
			s := fields[f]
			switch {
			case s == `\N`:
			case s == "" && !im.isText[ci]:
			default:
				if im.isInt[ci] && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false")) {
					s = map[bool]string{true: "1", false: "0"}[strings.EqualFold(s, "true")]
				}
				cv, inRange, err := col.Type.Convert(im.ctx, s)
				if err != nil {
					return nil, fmt.Errorf("column %s: %q is not a valid %s: %v", col.Name, clip(s), typeString(col.Type), err)
				}
				if !inRange {
					return nil, fmt.Errorf("column %s: %q is out of range for %s", col.Name, clip(s), typeString(col.Type))
				}
				v = cv
			}
		}
		if v == nil && ci == def.autoCol {
			v = *nextAuto
			*nextAuto++
			cv, _, err := col.Type.Convert(im.ctx, v)
			if err != nil {
				return nil, fmt.Errorf("column %s: AUTO_INCREMENT value %v: %v", col.Name, v, err)
			}
			v = cv
		}
		if v == nil && !col.Nullable {
			return nil, fmt.Errorf("column %s cannot be NULL", col.Name)
		}
		if ci == def.autoCol {
			if u, ok := autoIncValue(im.ctx, v); ok && u > *maxAuto {
				*maxAuto = u
			}
		}
		enc, err := def.codecs[ci].encode(im.ctx, v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %v", col.Name, err)
		}
		vals[k] = enc
	}
	return vals, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func isTextType(t sql.Type) bool {
	c, err := newCodec(t)
	return err == nil && (c.st == stText || c.st == stBlob)
}

func isIntType(t sql.Type) bool {
	c, err := newCodec(t)
	return err == nil && (isIntegerType(c) || c.qt.String() == "UINT64")
}

// insert writes a batch with one multi-row INSERT; if that fails on a key,
// the rows go one by one so the bad one can be named (and skipped).
func (im *importer) insert(c *sqliteConn, rows [][]driver.Value, lines []int) error {
	def := im.def
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(def.stored)), ", ") + ")"
	q := "INSERT INTO " + qi(def.sqlName) + " (" + def.storedList() + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(one+", ", len(rows)), ", ")
	args := make([]driver.Value, 0, len(rows)*len(def.stored))
	for _, r := range rows {
		args = append(args, r...)
	}
	_, err := c.exec(q, args...)
	if err == nil {
		im.res.Rows += int64(len(rows))
		return nil
	}
	if !isConstraintError(err) {
		return mapError(err, def.name)
	}
	single := "INSERT INTO " + qi(def.sqlName) + " (" + def.storedList() + ") VALUES " + one
	for i, r := range rows {
		if _, err := c.exec(single, r...); err != nil {
			if !isConstraintError(err) {
				return mapError(err, def.name)
			}
			if err := im.reject(lines[i], fmt.Errorf("duplicate key: %v", err)); err != nil {
				return err
			}
			continue
		}
		im.res.Rows++
	}
	return nil
}

// SkipBOM drops a UTF-8 byte-order mark at the start of r: spreadsheet
// programs write one at the start of their CSV files, and it would otherwise
// become part of the first column's name (or, before a quoted field, make
// the CSV reader fail). The command line's other CSV readers use it too.
func SkipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	return br
}

// CheckImportType says whether Import can give a column the MySQL type t
// (ImportOptions.Types), so that a caller can refuse a bad type before
// reading the file.
func CheckImportType(t string) error {
	_, err := importType(t)
	return err
}

// importType parses a column type for Import: one MySQL parses and Import
// converts values to.
func importType(t string) (sql.Type, error) {
	typ, err := planbuilder.ParseColumnTypeString(t)
	if err != nil {
		if msg := err.Error(); !strings.Contains(msg, "syntax error") {
			return nil, fmt.Errorf("type %q: %s", t, msg) // VARCHAR requires a length, ...
		}
		return nil, fmt.Errorf("%q is not a MySQL column type (e.g. INT, BIGINT, DOUBLE, DECIMAL(10,2), DATE, DATETIME, TEXT, VARCHAR(255))", t)
	}
	if _, err := newCodec(typ); err != nil {
		return nil, err
	}
	return typ, nil
}
