package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/kernels"
)

func TestParseConfigs(t *testing.T) {
	want := map[string]Config{
		"bert-tiny":       {Type: BERT, Layers: 2, Hidden: 32, Heads: 4, FFN: 64, MaxPos: 128, Vocab: 30522, TypeVocab: 2, Eps: 1e-12, Act: kernels.ActGELU},
		"distilbert-tiny": {Type: DistilBERT, Layers: 2, Hidden: 32, Heads: 4, FFN: 64, MaxPos: 128, Vocab: 30522, Eps: 1e-12, Act: kernels.ActGELU},
		"roberta-tiny":    {Type: RoBERTa, Layers: 2, Hidden: 32, Heads: 4, FFN: 64, MaxPos: 130, Vocab: 50265, TypeVocab: 1, Eps: 1e-5, Act: kernels.ActGELU, PadID: 1, PosOffset: 2},
		"gpt2-tiny":       {Type: GPT2, Layers: 2, Hidden: 32, Heads: 4, FFN: 128, MaxPos: 128, Vocab: 50257, Eps: 1e-5, Act: kernels.ActGELUTanh, PadID: 50256, PreLN: true},
	}
	for name, w := range want {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "models", name, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseConfig(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
		// Written back and read again, a config is the same.
		out, err := got.HFConfigJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseConfig(out)
		if err != nil || again != got {
			t.Errorf("%s: round trip %+v, %v", name, again, err)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := map[string]string{
		`{`:                                      "config.json",
		`{}`:                                     "no model_type",
		`{"model_type":"t5"}`:                    `model_type "t5" is not supported`,
		`{"model_type":"bert","hidden_size":32}`: `without "num_hidden_layers"`,
		`{"model_type":"gpt2","n_embd":30,"n_layer":1,"n_head":4,"n_positions":8,"vocab_size":10}`:                                                                                                       "not a multiple",
		`{"model_type":"bert","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,"max_position_embeddings":8,"vocab_size":10,"hidden_act":"swish"}`:                     `activation "swish"`,
		`{"model_type":"bert","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,"max_position_embeddings":8,"vocab_size":10,"position_embedding_type":"relative_key"}`: "position_embedding_type",
		`{"model_type":"bert","hidden_size":8,"num_hidden_layers":0,"num_attention_heads":2,"intermediate_size":8,"max_position_embeddings":8,"vocab_size":10}`:                                          "num layers 0",
		`{"model_type":"gpt2","n_embd":8,"n_layer":1,"n_head":2,"n_positions":8,"vocab_size":10,"scale_attn_by_inverse_layer_idx":true}`:                                                                 "scale_attn_by_inverse_layer_idx",
	}
	for in, want := range cases {
		if _, err := ParseConfig([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}
