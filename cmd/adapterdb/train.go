package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/catalog/sqlstore"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
	"github.com/adapterdb/adapterdb/engine/train"
)

func init() {
	register(command{name: "train", summary: "train an adapter on a CSV file (text,target) and store it in the catalog", run: runTrain})
	register(command{name: "predict", summary: "predict with a stored adapter, one JSON object per text", run: runPredict})
}

// setFlags collects repeated --set key=value options.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

const trainHelp = `Trains an adapter on FILE.csv (a header row, then text in the first column and
the target in the second) and stores it under NAME in the database file.
--pair trains a text-pair adapter: the columns are text, text2 and the target
(predict and evaluate then take --pair too).
Options (--set key=value, repeatable; the same keys as SQL's OPTIONS (...)):
  task                 classification | regression | multilabel (default: inferred)
                       | sequence_labeling (the target column holds spans: a JSON array
                       of {"start","end","label"}, code points, end exclusive)
  adapter_size         bottleneck size (64)
  activation           gelu | gelu_tanh | relu | tanh (gelu)
  epochs               (10)          learning_rate   (1e-3)
  batch_size           (32)          max_length      tokens per text (128)
  weight_decay         AdamW (0.01)  warmup_fraction linear warm-up share of steps (0.1)
  validation_fraction  held out for early stopping (0.1)
  early_stopping       patience in epochs, or true/false (3)
  class_weights        none | balanced (none)
  seed                 (42)          trainable       adapters | head (adapters)
  pool                 cls | first | mean | last (the model type's default)
  max_grad_norm        gradient clipping (1)
A comma-separated value (--set learning_rate=1e-4,1e-3 --set adapter_size=16,64)
is a hyperparameter search: every combination is trained and the one with the
best validation loss stored, its trials in the metrics.
  search               grid | random (grid)
  trials               random search: combinations to sample, 1 to 64
  keep_versions        versions of NAME kept when --replace stores a new one
                       (1 to 1000; default: the adapter's setting, else 5)
(background is SQL's only: the command line always trains in the foreground.)`

func runTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "train", "train --db FILE.db [--model DIR] --name NAME [--pair] [--set key=value ...] [--replace] [--device cpu|cpu:bf16|cpu:int8|cuda] FILE.csv\n\n"+indent(trainHelp))
	dbPath := fs.String("db", "", "database file (created if missing)")
	modelDir := fs.String("model", "demo", "base model: Hugging Face checkpoint directory, or demo")
	name := fs.String("name", "", "adapter name")
	replace := fs.Bool("replace", false, "store a new version of an adapter of the same name (earlier versions are kept, see keep_versions)")
	pair := fs.Bool("pair", false, "text pairs: the CSV's columns are text,text2,target")
	device := fs.String("device", "cpu", deviceHelp+" (a backend without backward kernels trains on cpu)")
	var sets setFlags
	fs.Var(&sets, "set", "training option key=value (repeatable)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *dbPath == "" || *name == "" || len(rest) != 1 {
		return usageErr("need --db, --name and one CSV file")
	}
	opts := train.DefaultOptions()
	keep := 0 // keep_versions: 0 keeps the adapter's setting
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usageErr("--set %q: want key=value", kv)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case train.KeyKeepVersions:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				err = catalog.CheckKeepVersions(n)
			}
			if err != nil {
				return usageErr("--set keep_versions=%s: want an integer from 1 to %d (the versions kept)", v, catalog.MaxKeepVersions)
			}
			keep = n
			continue
		case train.KeyBackground:
			// The command trains in its own process and waits for it; a
			// background job is the server's (SQL OPTIONS (background = true)).
			return usageErr("--set background: the command line always trains in the foreground; background jobs are SQL's (OPTIONS (background = true) on adapterdb serve)")
		}
		if err := setOption(&opts, k, v); err != nil { // search.go: lists, search, trials
			return usageErr("%v", err)
		}
	}
	if err := checkSearch(opts); err != nil {
		return usageErr("%v", err)
	}
	if err := catalog.CheckName(*name); err != nil {
		return usageErr("%v", err)
	}
	examples, err := readTrainingCSV(rest[0], *pair)
	if err != nil {
		return err
	}
	be, err := openBackend(*device, e.log)
	if err != nil {
		return err
	}
	tbe, err := trainBackend(be, e.log)
	if err != nil {
		return err
	}
	reg, closeAll, err := openRegistry(e, *dbPath, *modelDir, engine.Config{Backend: be, TrainBackend: tbe})
	if err != nil {
		return err
	}
	defer closeAll()
	mode := catalog.Create
	if *replace {
		mode = catalog.Replace
	}
	bar := newTrainBar(e)
	rec, _, err := reg.Train(catalog.WithKeepVersions(ctx, keep), registry.TrainRequest{Name: *name, Examples: examples, Options: opts, Mode: mode,
		Progress: bar.update})
	bar.finish()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("training cancelled; nothing was stored")
		}
		// A value the base model refuses (train.Options.CheckModel, made
		// before any training) is the command line's mistake.
		if oe := (*train.OptionError)(nil); errors.As(err, &oe) {
			return usageErr("%v", err)
		}
		return err
	}
	e.log.Info().Str("adapter", rec.Name).Str("task", rec.Task).Int64("bytes", rec.SizeBytes).Msg("adapter stored")
	return writeJSONLine(e, map[string]any{"name": rec.Name, "task": rec.Task, "labels": rec.Labels,
		"params": rec.Params, "size_bytes": rec.SizeBytes, "metrics": rec.Metrics})
}

// trainBar draws training progress on stderr (a bar on a terminal) and logs
// a line per epoch.
type trainBar struct {
	e    *env
	bar  *progressbar.ProgressBar
	last train.Progress // the latest training step's report
}

func newTrainBar(e *env) *trainBar { return &trainBar{e: e} }

func (t *trainBar) update(p train.Progress) {
	switch p.Phase {
	case "epoch done":
		t.epochDone(p)
		return
	case "training":
	default:
		return
	}
	if p.Trial != t.last.Trial && t.bar != nil {
		t.bar.Finish() // a search's next trial: steps start again
		t.bar = nil
	}
	t.last = p
	if !t.e.tty {
		return // the epoch lines are the progress
	}
	if t.bar == nil {
		t.bar = progressbar.NewOptions(p.Steps, progressbar.OptionSetWriter(t.e.stderr),
			progressbar.OptionSetDescription("training"), progressbar.OptionShowCount(),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish())
	}
	desc := fmt.Sprintf("epoch %d/%d loss %.4f", p.Epoch, p.Epochs, p.Loss)
	if p.Trials > 0 {
		desc = fmt.Sprintf("trial %d/%d, %s", p.Trial, p.Trials, desc)
	}
	if p.ValLoss == p.ValLoss { // not NaN
		desc += fmt.Sprintf(" val %.4f", p.ValLoss)
	}
	if p.ExamplesPerSec > 0 {
		desc += fmt.Sprintf(" %.0f ex/s", p.ExamplesPerSec)
	}
	t.bar.Describe(desc)
	t.bar.Set(p.Step)
}

func (t *trainBar) epochDone(p train.Progress) {
	ev := t.e.log.Info()
	if p.Trials > 0 {
		ev = ev.Int("trial", p.Trial).Int("trials", p.Trials)
	}
	ev = ev.Int("epoch", p.Epoch).Int("epochs", p.Epochs).Float64("train_loss", p.Loss)
	if p.ValLoss == p.ValLoss { // not NaN
		ev = ev.Float64("val_loss", p.ValLoss)
	}
	ev.Float64("examples_per_s", p.ExamplesPerSec).Msg("epoch done")
}

func (t *trainBar) finish() {
	if t.bar != nil {
		t.bar.Finish()
	}
	t.last = train.Progress{}
}

// readTrainingCSV reads text,target rows after a header, or text,text2,target
// rows when pair is set. Errors name the line.
func readTrainingCSV(path string, pair bool) ([]train.Example, error) {
	cols, want := 2, "text,target"
	if pair {
		cols, want = 3, "text,text2,target"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(sqlstore.SkipBOM(f))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file (want a header row, then %s rows)", path, want)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(header) < cols {
		return nil, fmt.Errorf("%s: header has %d column(s), want %s", path, len(header), want)
	}
	var out []train.Example
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) < cols {
			return nil, fmt.Errorf("%s:%d: %d column(s), want %s", path, line, len(rec), want)
		}
		ex := train.Example{Text: rec[0], Target: rec[cols-1]}
		if pair {
			ex.Pair, ex.HasPair = rec[1], true
		}
		out = append(out, ex)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", path)
	}
	return out, nil
}

func openRegistry(e *env, dbPath, modelDir string, cfg engine.Config) (*registry.Registry, func(), error) {
	cat, err := catalog.Open(dbPath, e.log)
	if err != nil {
		return nil, nil, err
	}
	eng, err := openEngine(e, modelDir, func(c *engine.Config) { *c = cfg; c.Model, c.Log = modelDir, e.log })
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	return registry.New(eng, cat, e.log, 0), func() { eng.Close(); cat.Close() }, nil
}

// openAdapterRegistry opens the registry on the base model an adapter was
// trained on (modelDir, when given, overrides it: the registry then refuses
// the adapter if the fingerprints differ), with the adapter's record.
func openAdapterRegistry(ctx context.Context, e *env, dbPath, name, modelDir, device string) (*registry.Registry, catalog.Record, func(), error) {
	be, err := openBackend(device, e.log)
	if err != nil {
		return nil, catalog.Record{}, nil, err
	}
	cat, err := catalog.Open(dbPath, e.log)
	if err != nil {
		return nil, catalog.Record{}, nil, err
	}
	rec, err := cat.Info(ctx, name)
	cat.Close()
	if err != nil {
		return nil, catalog.Record{}, nil, err
	}
	base := modelDir
	if base == "" {
		base = rec.BaseModel
	}
	reg, closeAll, err := openRegistry(e, dbPath, base, engine.Config{Backend: be})
	if err != nil {
		return nil, catalog.Record{}, nil, err
	}
	return reg, rec, closeAll, nil
}

func runPredict(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "predict", "predict --db FILE.db --name NAME [--model DIR] [--device cpu|cpu:bf16|cpu:int8|cuda] [--pair] [--csv FILE.csv | [--] TEXT...]\n\n"+
		"  --pair: a text-pair adapter's inputs: the CSV's first two columns, or TEXT TEXT2 [TEXT TEXT2 ...]")
	dbPath := fs.String("db", "", "database file")
	name := fs.String("name", "", "adapter name")
	modelDir := fs.String("model", "", "base model (default: the one the adapter was trained on)")
	csvPath := fs.String("csv", "", "CSV file with a header row; texts in the first column (--pair: the first two)")
	pair := fs.Bool("pair", false, "text pairs (a text-pair adapter): TEXT TEXT2 arguments, or the CSV's first two columns")
	device := fs.String("device", "cpu", deviceHelp)
	texts, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *dbPath == "" || *name == "" {
		return usageErr("need --db and --name")
	}
	if (*csvPath == "") == (len(texts) == 0) {
		return usageErr("give either --csv FILE or texts")
	}
	if *pair && len(texts)%2 != 0 {
		return usageErr("--pair takes texts in pairs (TEXT TEXT2 ...); got %d", len(texts))
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("database %s: %w", *dbPath, err)
	}
	if *csvPath != "" {
		ex, err := readTextCSV(*csvPath, *pair)
		if err != nil {
			return err
		}
		texts = ex
	}
	reg, _, closeAll, err := openAdapterRegistry(ctx, e, *dbPath, *name, *modelDir, *device)
	if err != nil {
		return err
	}
	defer closeAll()
	step := 1
	if *pair {
		step = 2 // texts holds each pair's two texts in a row
	}
	reqs := make([]registry.Request, 0, len(texts)/step)
	for i := 0; i < len(texts); i += step {
		q := registry.Request{Adapter: *name, Text: texts[i]}
		if *pair {
			q.Pair, q.HasPair = texts[i+1], true
		}
		reqs = append(reqs, q)
	}
	res, err := reg.Run(ctx, reqs)
	if err != nil {
		return pairHint(err)
	}
	for _, r := range res {
		if err := writeJSONLine(e, predictionJSON(r.Adapter.Set.Task, r.Prediction)); err != nil {
			return err
		}
	}
	return nil
}

// predictionJSON is the fixed output contract of predict: label and proba
// (classification), value (regression), labels and proba (multilabel),
// entities (sequence labeling: spans as SQL's PREDICT gives them).
func predictionJSON(task registry.Task, p registry.Prediction) map[string]any {
	m := map[string]any{}
	switch task {
	case registry.Classification:
		m["label"], m["proba"] = p.Label, p.Proba
	case registry.Regression:
		m["value"] = p.Value
	case registry.Multilabel:
		m["labels"], m["proba"] = p.Labels, p.Proba
	case registry.SequenceLabeling:
		es := make([]map[string]any, len(p.Entities))
		for i, x := range p.Entities {
			es[i] = map[string]any{"start": x.Start, "end": x.End, "label": x.Label, "text": x.Text, "score": x.Score}
		}
		m["entities"] = es
	}
	return m
}

// pairHint adds the flag to use to a request refused for its number of
// texts.
func pairHint(err error) error {
	var ie *registry.InputsError
	if !errors.As(err, &ie) {
		return err
	}
	if ie.Want == 2 {
		return fmt.Errorf("%w: adapter %s is a text-pair adapter, give --pair", err, ie.Adapter)
	}
	return fmt.Errorf("%w: adapter %s takes single texts, drop --pair", err, ie.Adapter)
}

// readTextCSV reads the first column of a CSV file after its header, or the
// first two (one after the other in the result) when pair is set.
func readTextCSV(path string, pair bool) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(sqlstore.SkipBOM(f))
	r.FieldsPerRecord = -1
	if _, err := r.Read(); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%s: empty file", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !pair {
			out = append(out, rec[0])
			continue
		}
		if len(rec) < 2 {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: 1 column, want text,text2 (--pair)", path, line)
		}
		out = append(out, rec[0], rec[1])
	}
}
