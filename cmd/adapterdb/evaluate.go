package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

func init() {
	register(command{name: "evaluate", summary: "score a stored adapter on a labelled CSV file (text,target): metrics or confusion matrix", run: runEvaluate})
}

const evaluateHelp = `Scores the adapter NAME (NAME@N: version N) on FILE.csv (a header row, then
text in the first column and the target in the second) and prints the same
metrics as SQL's EVALUATE ADAPTER, one per line: JSON {"metric","value"}, or a
table. --confusion prints the confusion matrix's non-empty cells instead
(classification adapters). --pair scores a text-pair adapter on text,text2,target
rows.`

func runEvaluate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "evaluate", "evaluate --db FILE.db --name NAME[@N] [--model DIR] [--pair] [--confusion] [--format json|table] FILE.csv\n\n"+indent(evaluateHelp))
	dbPath := fs.String("db", "", "database file")
	ref := fs.String("name", "", "adapter name, or name@N for version N")
	modelDir := fs.String("model", "", "base model (default: the one the adapter was trained on)")
	confusion := fs.Bool("confusion", false, "print the confusion matrix (actual, predicted, n) instead of metrics")
	format := fs.String("format", "json", "json (one object per line) or table")
	pair := fs.Bool("pair", false, "text pairs: the CSV's columns are text,text2,target")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *dbPath == "" || *ref == "" || len(rest) != 1 {
		return usageErr("need --db, --name and one CSV file")
	}
	if *format != "json" && *format != "table" {
		return usageErr("--format %q: want json or table", *format)
	}
	name, version, err := catalog.SplitVersion(*ref)
	if err != nil {
		return usageErr("--name: %v", err)
	}
	if err := catalog.CheckName(name); err != nil {
		return usageErr("--name: %v", err)
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("database %s: %w", *dbPath, err)
	}
	examples, err := readTrainingCSV(rest[0], *pair)
	if err != nil {
		return err
	}
	reg, rec, closeAll, err := openAdapterRegistry(ctx, e, *dbPath, name, *modelDir, "cpu")
	if err != nil {
		return err
	}
	defer closeAll()
	use := name
	if version != 0 {
		use = fmt.Sprintf("%s@%d", name, version)
	}
	l, err := reg.Get(ctx, use)
	if errors.Is(err, catalog.ErrNotFound) && version != 0 {
		return fmt.Errorf("adapter %s has no version %d (its active version is %d)", name, version, rec.Version)
	}
	if err != nil {
		return err
	}
	if *confusion && l.Set.Task != registry.Classification {
		return fmt.Errorf("--confusion is for classification adapters; %s is a %s adapter", name, l.Set.Task)
	}
	sc := train.NewScorer(l.Set.Task, l.Set.Labels)
	targets := make([]train.Target, len(examples))
	for i, ex := range examples {
		// CSV has no types: the values say what they are.
		if targets[i], err = sc.ParseText(ex.Target, ex.Text, train.KindUnknown); err != nil {
			return fmt.Errorf("%s: row %d: %w", rest[0], i+1, err)
		}
	}
	// The same chunks as SQL's EVALUATE: one registry request per window of
	// 32 forward passes.
	chunk := 32 * max(reg.Engine().BatchSize(), 1)
	for lo := 0; lo < len(examples); lo += chunk {
		hi := min(lo+chunk, len(examples))
		reqs := make([]registry.Request, hi-lo)
		for i := range reqs {
			ex := examples[lo+i]
			reqs[i] = registry.Request{Adapter: use, Text: ex.Text, Pair: ex.Pair, HasPair: ex.HasPair}
		}
		res, err := reg.Run(ctx, reqs)
		if err != nil {
			if re := (*registry.RequestError)(nil); errors.As(err, &re) {
				return fmt.Errorf("%s: row %d: %w", rest[0], lo+re.Index+1, pairHint(re.Err))
			}
			return err
		}
		for i, r := range res {
			sc.Add(targets[lo+i], r.Prediction)
		}
	}
	if *confusion {
		cells := sc.Confusion()
		if *format == "table" {
			tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "actual\tpredicted\tn")
			for _, c := range cells {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", c.Actual, c.Predicted, c.N)
			}
			return tw.Flush()
		}
		for _, c := range cells {
			if err := writeJSONLine(e, map[string]any{"actual": c.Actual, "predicted": c.Predicted, "n": c.N}); err != nil {
				return err
			}
		}
		return nil
	}
	ms, err := sc.Metrics()
	if err != nil {
		return fmt.Errorf("%s: %w", rest[0], err)
	}
	if *format == "table" {
		tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "metric\tvalue")
		for _, m := range ms {
			v := "NULL"
			if !math.IsNaN(m.Value) {
				v = strconv.FormatFloat(m.Value, 'g', -1, 64)
			}
			fmt.Fprintf(tw, "%s\t%s\n", m.Name, v)
		}
		return tw.Flush()
	}
	for _, m := range ms {
		var v any = m.Value
		if math.IsNaN(m.Value) {
			v = nil // JSON has no NaN
		}
		if err := writeJSONLine(e, map[string]any{"metric": m.Name, "value": v}); err != nil {
			return err
		}
	}
	return nil
}
