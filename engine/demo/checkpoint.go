package demo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/kernels"
)

// Presets are the benchmark shapes (random weights, real vocabulary).
var Presets = map[string]model.Config{
	"demo":      Config(),
	"minilm-l6": {Type: model.BERT, Layers: 6, Hidden: 384, Heads: 12, FFN: 1536, MaxPos: 512, Vocab: 30522, TypeVocab: 2, Eps: 1e-12, Act: kernels.ActGELU},
	"bert-base": {Type: model.BERT, Layers: 12, Hidden: 768, Heads: 12, FFN: 3072, MaxPos: 512, Vocab: 30522, TypeVocab: 2, Eps: 1e-12, Act: kernels.ActGELU},
}

// CheckpointOptions shape a written checkpoint.
type CheckpointOptions struct {
	Seed   uint64
	DType  safetensors.DType // F32 (default), F16 or BF16
	Shards int               // > 1 writes model-0000i-of-0000n.safetensors and an index
}

// WriteCheckpoint writes a Hugging Face BERT checkpoint directory with random
// weights (the demo generator) and the bert-base-uncased vocabulary:
// config.json, model.safetensors (or shards with an index), vocab.txt and
// tokenizer_config.json. The directory is created if needed.
func WriteCheckpoint(dir string, cfg model.Config, opts CheckpointOptions) error {
	if cfg.Type != model.BERT {
		return fmt.Errorf("write checkpoint: only bert checkpoints can be generated")
	}
	if cfg.Vocab != 30522 {
		return fmt.Errorf("write checkpoint: vocabulary must be 30522 (bert-base-uncased)")
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf, err := cfg.HFConfigJSON()
	if err != nil {
		return err
	}
	tokConf, _ := json.MarshalIndent(map[string]any{"do_lower_case": true, "model_max_length": cfg.MaxTokens(),
		"tokenizer_class": "BertTokenizer"}, "", "  ")
	for name, data := range map[string][]byte{"config.json": conf, "vocab.txt": Vocab(), "tokenizer_config.json": tokConf} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	src := RandomBERT(cfg, opts.Seed)
	var tensors []safetensors.Tensor
	for _, n := range src.Names() {
		v, shape, err := src.Float32(n)
		if err != nil {
			return err
		}
		switch opts.DType {
		case "", safetensors.F32:
			tensors = append(tensors, safetensors.Float32Tensor(n, shape, v))
		case safetensors.F16:
			tensors = append(tensors, safetensors.Float16Tensor(n, shape, v))
		case safetensors.BF16:
			tensors = append(tensors, safetensors.BFloat16Tensor(n, shape, v))
		default:
			return fmt.Errorf("write checkpoint: dtype %s not supported", opts.DType)
		}
	}
	meta := map[string]string{"format": "pt"}
	if opts.Shards <= 1 {
		return safetensors.WriteFile(filepath.Join(dir, safetensors.SingleFileName), tensors, meta)
	}
	weightMap := map[string]string{}
	per := (len(tensors) + opts.Shards - 1) / opts.Shards
	for s := 0; s < opts.Shards; s++ {
		lo, hi := s*per, min((s+1)*per, len(tensors))
		if lo >= hi {
			break
		}
		file := fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, opts.Shards)
		for _, t := range tensors[lo:hi] {
			weightMap[t.Name] = file
		}
		if err := safetensors.WriteFile(filepath.Join(dir, file), tensors[lo:hi], meta); err != nil {
			return err
		}
	}
	index, _ := json.MarshalIndent(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap}, "", "  ")
	return os.WriteFile(filepath.Join(dir, safetensors.IndexFileName), index, 0o644)
}
