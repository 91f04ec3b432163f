package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/model"
)

func init() {
	register(command{name: "tokenize", summary: "print the token ids of texts, one JSON array per line", run: runTokenize})
	register(command{name: "embed", summary: "print the pooled feature of texts, one JSON array per line", run: runEmbed})
}

// openEngine loads the featurizer, on the cpu backend unless an option
// chooses another.
func openEngine(e *env, modelDir string, opts ...func(*engine.Config)) (*engine.Engine, error) {
	cfg := engine.Config{Model: modelDir, Log: e.log}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Backend == nil {
		be, err := openBackend("cpu", e.log)
		if err != nil {
			return nil, err
		}
		cfg.Backend = be
	}
	return engine.Open(cfg)
}

func runTokenize(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "tokenize", "tokenize [--model DIR] [--no-special] [--] TEXT...")
	modelDir := fs.String("model", "demo", "Hugging Face checkpoint directory, or demo")
	noSpecial := fs.Bool("no-special", false, "do not add the model's special tokens ([CLS]/[SEP], <s>/</s>)")
	texts, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(texts) == 0 {
		return usageErr("no texts given")
	}
	eng, err := openEngine(e, *modelDir)
	if err != nil {
		return err
	}
	defer eng.Close()
	for i, t := range texts {
		ids, err := eng.Tokenize(t, !*noSpecial)
		if err != nil {
			return fmt.Errorf("text %d: %w", i+1, err)
		}
		if err := writeJSONLine(e, ids); err != nil {
			return err
		}
	}
	return nil
}

func runEmbed(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "embed", "embed [--model DIR] [--pool cls|first|mean|last] [--device cpu|cpu:bf16|cpu:int8|cuda] [--] TEXT...")
	modelDir := fs.String("model", "demo", "Hugging Face checkpoint directory, or demo")
	poolName := fs.String("pool", "", "pooling: cls (BERT pooler), first, mean, last; default: the model type's (GPT-2 last, encoders cls when the checkpoint has a pooler, else mean)")
	device := fs.String("device", "cpu", deviceHelp)
	texts, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(texts) == 0 {
		return usageErr("no texts given")
	}
	pool, err := model.ParsePool(*poolName)
	if err != nil {
		return usageErr("%v", err)
	}
	be, err := openBackend(*device, e.log)
	if err != nil {
		return err
	}
	eng, err := openEngine(e, *modelDir, func(c *engine.Config) { c.Backend = be })
	if err != nil {
		return err
	}
	defer eng.Close()
	feats, err := eng.Embed(ctx, texts, pool)
	if err != nil {
		return err
	}
	for _, f := range feats {
		if err := writeJSONLine(e, f); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONLine(e *env, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}
