package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/catalog/sqlstore"
)

func init() {
	register(command{name: "import", summary: "load a CSV file into a table of the database file (streaming, one transaction)", run: runImport})
}

const importHelp = `Loads FILE.csv into table T of the database file. The first row names the
columns. A new table gets a column per header name, typed from a sample of
the rows (BIGINT, DOUBLE, DATE, DATETIME(6), BOOLEAN, else TEXT) unless --types
says otherwise; an existing table takes the rows into its columns of the same
names. Empty fields are NULL except in text columns; \N is always NULL.
The whole file is one transaction: with --on-error abort (the default) the
first bad row (named by its line) rolls everything back; with skip, bad rows
are left out and listed.`

func runImport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "import", "import --db FILE.db --table T [--database D] [--types col=TYPE,...] [--create|--append] [--on-error abort|skip] [--sep C] FILE.csv\n\n"+indent(importHelp))
	dbPath := fs.String("db", "", "database file (created if missing)")
	table := fs.String("table", "", "table to load")
	database := fs.String("database", sqlstore.DefaultDatabase, "database (schema) of the table")
	typesArg := fs.String("types", "", "column types, e.g. id=INT,price=DECIMAL(10,2) (new tables)")
	create := fs.Bool("create", false, "the table must not exist yet")
	appendRows := fs.Bool("append", false, "the table must exist already")
	onError := fs.String("on-error", "abort", "abort: roll the import back at the first bad row; skip: leave bad rows out")
	sep := fs.String("sep", ",", "field separator (one character; \\t for TAB)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *dbPath == "" || *table == "" || len(rest) != 1 {
		return usageErr("need --db, --table and one CSV file")
	}
	opts := sqlstore.ImportOptions{Database: *database, Table: *table}
	switch {
	case *create && *appendRows:
		return usageErr("--create and --append exclude each other")
	case *create:
		opts.Mode = sqlstore.ImportCreate
	case *appendRows:
		opts.Mode = sqlstore.ImportAppend
	}
	switch *onError {
	case "abort":
		opts.OnError = sqlstore.AbortOnError
	case "skip":
		opts.OnError = sqlstore.SkipOnError
	default:
		return usageErr("--on-error %q: want abort or skip", *onError)
	}
	if opts.Types, err = parseTypes(*typesArg); err != nil {
		return usageErr("--types: %v", err)
	}
	for _, col := range slices.Sorted(maps.Keys(opts.Types)) {
		if err := sqlstore.CheckImportType(opts.Types[col]); err != nil {
			return usageErr("--types: column %s: %v", col, err)
		}
	}
	s := strings.ReplaceAll(*sep, `\t`, "\t")
	if r := []rune(s); len(r) != 1 || r[0] == '"' || r[0] == '\n' || r[0] == '\r' {
		return usageErr("--sep %q: want one character other than a quote or newline", *sep)
	}
	opts.Comma = []rune(s)[0]

	f, err := os.Open(rest[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	cat, err := catalog.Open(*dbPath, e.log)
	if err != nil {
		return err
	}
	defer cat.Close()
	pro, err := sqlstore.NewProvider(cat, sqlstore.ProviderOptions{})
	if err != nil {
		return err
	}
	defer pro.Close()

	var in io.Reader = f
	if e.tty {
		bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(e.stderr),
			progressbar.OptionSetDescription("importing "+*table), progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish())
		reader := progressbar.NewReader(f, bar)
		defer bar.Finish()
		in = &reader
	}
	res, err := pro.Import(ctx, in, opts)
	if err != nil {
		var re sqlstore.RowError
		if errors.As(err, &re) { // FILE:LINE: reason, as skipped rows are listed
			return fmt.Errorf("%s:%d: %v (nothing was imported: --on-error abort rolled the import back)", rest[0], re.Line, re.Err)
		}
		return fmt.Errorf("%s: %w", rest[0], err)
	}
	how := "appended to"
	if res.Created {
		how = "created"
	}
	rate := float64(res.Rows) / max(res.Duration.Seconds(), 1e-9)
	fmt.Fprintf(e.stdout, "%s %s.%s: %s in %.2f s (%.0f rows/s)\n", how, *database, *table, plural(res.Rows, "row"), res.Duration.Seconds(), rate)
	if res.Created {
		for i, c := range res.Columns {
			fmt.Fprintf(e.stdout, "  %s %s\n", c, res.Types[i])
		}
	}
	if res.Skipped > 0 {
		fmt.Fprintf(e.stdout, "%s skipped:\n", plural(res.Skipped, "row"))
		for _, re := range res.Errors {
			fmt.Fprintf(e.stdout, "  %s:%d: %v\n", rest[0], re.Line, re.Err)
		}
		if int64(len(res.Errors)) < res.Skipped {
			fmt.Fprintf(e.stdout, "  ... and %d more\n", res.Skipped-int64(len(res.Errors)))
		}
	}
	return nil
}

// parseTypes reads col=TYPE,col=TYPE; commas inside parentheses belong to the
// type (DECIMAL(10,2)).
func parseTypes(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	depth, start := 0, 0
	var parts []string
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	for _, p := range parts {
		col, typ, ok := strings.Cut(p, "=")
		col, typ = strings.TrimSpace(col), strings.TrimSpace(typ)
		if !ok || col == "" || typ == "" {
			return nil, fmt.Errorf("%q: want column=TYPE", p)
		}
		out[col] = typ
	}
	return out, nil
}

// plural is "1 row", "2 rows".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
