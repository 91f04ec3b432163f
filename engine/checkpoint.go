package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/adapterdb/adapterdb/engine/demo"
	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/safetensors"
	"github.com/adapterdb/adapterdb/engine/tokenizer"
	"github.com/adapterdb/adapterdb/kernels"
)

// checkpoint is a loaded base model with its tokenizer and identity.
type checkpoint struct {
	model       *model.Model
	tok         *tokenizer.Tokenizer
	name        string
	fingerprint string
	closer      io.Closer
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// tokenizerFiles are hashed into the fingerprint: the same weights with
// another vocabulary are another model.
var tokenizerFiles = []string{"tokenizer.json", "vocab.txt", "vocab.json", "merges.txt",
	"tokenizer_config.json", "special_tokens_map.json"}

// IsDemo reports whether a --model value names the embedded demo model.
func IsDemo(name string) bool { return name == "" || name == demo.Name }

func loadCheckpoint(dir string, be kernels.Backend) (*checkpoint, error) {
	if IsDemo(dir) {
		return loadDemo(be)
	}
	ck, err := loadDir(dir, be)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return ck, nil
}

func loadDemo(be kernels.Backend) (*checkpoint, error) {
	cfg := demo.Config()
	tok, err := tokenizer.NewWordPiece(bytes.NewReader(demo.Vocab()), tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		return nil, fmt.Errorf("demo tokenizer: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "adapterdb model v1\n%+v\n", cfg)
	h.Write(demo.Vocab())
	w, err := model.LoadWeights(demo.NewSource(), be, cfg, h)
	if err != nil {
		return nil, fmt.Errorf("demo model: %w", err)
	}
	return &checkpoint{model: model.New(cfg, w, be), tok: tok, name: demo.Name,
		fingerprint: hex.EncodeToString(h.Sum(nil)), closer: nopCloser{}}, nil
}

func loadDir(dir string, be kernels.Backend) (*checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("not a directory (want a Hugging Face checkpoint directory with config.json and model.safetensors)")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no config.json: not a Hugging Face checkpoint directory")
		}
		return nil, err
	}
	cfg, err := model.ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if tok.VocabSize() > cfg.Vocab {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model's vocabulary is %d", tok.VocabSize(), cfg.Vocab)
	}
	ck, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "adapterdb model v1\n%+v\n", cfg)
	for _, f := range tokenizerFiles {
		if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			fmt.Fprintf(h, "%s %d\n", f, len(data))
			h.Write(data)
		}
	}
	w, err := model.LoadWeights(ck, be, cfg, h)
	if err != nil {
		ck.Close()
		return nil, err
	}
	return &checkpoint{model: model.New(cfg, w, be), tok: tok, name: absModelPath(dir),
		fingerprint: hex.EncodeToString(h.Sum(nil)), closer: ck}, nil
}
