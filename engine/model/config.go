// Package model is the transformer: its configuration, its weights as they map
// from Hugging Face checkpoints, and the forward and backward passes with
// adapter blocks, written once for every supported model type over a
// kernels.Backend.
package model

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/adapterdb/adapterdb/kernels"
)

// Type is a supported Hugging Face model_type.
type Type string

const (
	BERT       Type = "bert"
	RoBERTa    Type = "roberta"
	DistilBERT Type = "distilbert"
	GPT2       Type = "gpt2"
)

// Config is the architecture of a checkpoint, normalised over model types.
type Config struct {
	Type      Type
	Layers    int // transformer blocks
	Hidden    int // H
	Heads     int
	FFN       int // intermediate size I
	MaxPos    int // rows of the position table
	Vocab     int
	TypeVocab int     // rows of the token-type table (0: none)
	Eps       float32 // LayerNorm epsilon
	Act       kernels.Act
	PadID     int32 // tokenizer pad id (GPT-2: the eos id, never attended)
	// PosOffset is added to the 0-based position of each real token: RoBERTa
	// numbers positions from padding_idx+1.
	PosOffset int
	PreLN     bool // GPT-2's pre-LayerNorm blocks with a final ln_f
}

// HeadDim is the size of one attention head.
func (c Config) HeadDim() int { return c.Hidden / c.Heads }

// MaxTokens is the longest sequence the position table allows.
func (c Config) MaxTokens() int { return c.MaxPos - c.PosOffset }

// DefaultPool is the pooled feature used when none is asked for: GPT-2's last
// real token (the feature the original adapter work used), an encoder's pooler
// when the checkpoint has one, else the mean over real tokens.
func (c Config) DefaultPool(hasPooler bool) Pool {
	switch {
	case c.Type == GPT2:
		return PoolLast
	case hasPooler:
		return PoolCLS
	}
	return PoolMean
}

// Validate checks that the sizes are usable.
func (c Config) Validate() error {
	switch {
	case c.Layers <= 0 || c.Layers > 1024:
		return fmt.Errorf("num layers %d out of range", c.Layers)
	case c.Hidden <= 0 || c.Hidden > 1<<16:
		return fmt.Errorf("hidden size %d out of range", c.Hidden)
	case c.Heads <= 0 || c.Hidden%c.Heads != 0:
		return fmt.Errorf("hidden size %d is not a multiple of %d heads", c.Hidden, c.Heads)
	case c.FFN <= 0 || c.FFN > 1<<18:
		return fmt.Errorf("intermediate size %d out of range", c.FFN)
	case c.Vocab <= 0:
		return fmt.Errorf("vocab size %d out of range", c.Vocab)
	case c.MaxTokens() <= 0:
		return fmt.Errorf("max position embeddings %d leave no room for tokens", c.MaxPos)
	case !(c.Eps > 0) || math.IsInf(float64(c.Eps), 0):
		return fmt.Errorf("layer norm epsilon %v must be positive", c.Eps)
	case c.PadID < 0 || int(c.PadID) >= c.Vocab:
		return fmt.Errorf("pad token id %d outside vocabulary of %d", c.PadID, c.Vocab)
	}
	return nil
}

// hfConfig holds the config.json fields of all supported model types; the names
// differ per type (hidden_size vs dim vs n_embd).
type hfConfig struct {
	ModelType string `json:"model_type"`

	// BERT, RoBERTa
	HiddenSize       *int     `json:"hidden_size"`
	NumHiddenLayers  *int     `json:"num_hidden_layers"`
	NumAttnHeads     *int     `json:"num_attention_heads"`
	IntermediateSize *int     `json:"intermediate_size"`
	MaxPosEmb        *int     `json:"max_position_embeddings"`
	TypeVocabSize    *int     `json:"type_vocab_size"`
	LayerNormEps     *float64 `json:"layer_norm_eps"`
	HiddenAct        *string  `json:"hidden_act"`
	PadTokenID       *int     `json:"pad_token_id"`
	PosEmbType       *string  `json:"position_embedding_type"`
	VocabSize        *int     `json:"vocab_size"`

	// DistilBERT
	Dim        *int    `json:"dim"`
	NLayers    *int    `json:"n_layers"`
	NHeads     *int    `json:"n_heads"`
	HiddenDim  *int    `json:"hidden_dim"`
	Activation *string `json:"activation"`
	Sinusoidal *bool   `json:"sinusoidal_pos_embds"`

	// GPT-2
	NEmbd         *int     `json:"n_embd"`
	NLayer        *int     `json:"n_layer"`
	NHead         *int     `json:"n_head"`
	NInner        *int     `json:"n_inner"`
	NPositions    *int     `json:"n_positions"`
	LayerNormEpsG *float64 `json:"layer_norm_epsilon"`
	ActFunction   *string  `json:"activation_function"`
	EOSTokenID    *int     `json:"eos_token_id"`
	ScaleByLayer  *bool    `json:"scale_attn_by_inverse_layer_idx"`
	ReorderUpcast *bool    `json:"reorder_and_upcast_attn"`
	ScaleWeights  *bool    `json:"scale_attn_weights"`
}

// ParseConfig reads a Hugging Face config.json.
func ParseConfig(data []byte) (Config, error) {
	var h hfConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	// req copies a required size field, keeping the first missing one.
	var missing string
	req := func(dst *int, p *int, name string) {
		if p == nil {
			if missing == "" {
				missing = name
			}
			return
		}
		*dst = *p
	}
	var c Config
	var err error
	act := func(p *string, def string) (kernels.Act, error) {
		name := def
		if p != nil {
			name = *p
		}
		switch name {
		case "gelu":
			return kernels.ActGELU, nil
		case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
			return kernels.ActGELUTanh, nil
		case "relu":
			return kernels.ActReLU, nil
		}
		return 0, fmt.Errorf("config.json: activation %q is not supported (gelu, gelu_new, relu are)", name)
	}

	switch Type(h.ModelType) {
	case BERT, RoBERTa:
		c.Type = Type(h.ModelType)
		req(&c.Hidden, h.HiddenSize, "hidden_size")
		req(&c.Layers, h.NumHiddenLayers, "num_hidden_layers")
		req(&c.Heads, h.NumAttnHeads, "num_attention_heads")
		req(&c.FFN, h.IntermediateSize, "intermediate_size")
		req(&c.MaxPos, h.MaxPosEmb, "max_position_embeddings")
		req(&c.Vocab, h.VocabSize, "vocab_size")
		c.TypeVocab = 2
		if h.TypeVocabSize != nil {
			c.TypeVocab = *h.TypeVocabSize
		}
		c.Eps = 1e-12
		if h.LayerNormEps != nil {
			c.Eps = float32(*h.LayerNormEps)
		}
		if c.Act, err = act(h.HiddenAct, "gelu"); err != nil {
			return Config{}, err
		}
		if h.PosEmbType != nil && *h.PosEmbType != "absolute" {
			return Config{}, fmt.Errorf("config.json: position_embedding_type %q is not supported (absolute is)", *h.PosEmbType)
		}
		if c.Type == RoBERTa {
			c.PadID = 1
			if h.PadTokenID != nil {
				c.PadID = int32(*h.PadTokenID)
			}
			c.PosOffset = int(c.PadID) + 1
		} else if h.PadTokenID != nil {
			c.PadID = int32(*h.PadTokenID)
		}
	case DistilBERT:
		c.Type = DistilBERT
		req(&c.Hidden, h.Dim, "dim")
		req(&c.Layers, h.NLayers, "n_layers")
		req(&c.Heads, h.NHeads, "n_heads")
		req(&c.FFN, h.HiddenDim, "hidden_dim")
		req(&c.MaxPos, h.MaxPosEmb, "max_position_embeddings")
		req(&c.Vocab, h.VocabSize, "vocab_size")
		c.Eps = 1e-12 // hard-coded in transformers' DistilBERT
		if c.Act, err = act(h.Activation, "gelu"); err != nil {
			return Config{}, err
		}
		if h.PadTokenID != nil {
			c.PadID = int32(*h.PadTokenID)
		}
		// Sinusoidal position embeddings are stored in the checkpoint's position
		// table like learned ones, so nothing changes for inference.
	case GPT2:
		c.Type = GPT2
		c.PreLN = true
		req(&c.Hidden, h.NEmbd, "n_embd")
		req(&c.Layers, h.NLayer, "n_layer")
		req(&c.Heads, h.NHead, "n_head")
		req(&c.MaxPos, h.NPositions, "n_positions")
		req(&c.Vocab, h.VocabSize, "vocab_size")
		c.FFN = 4 * c.Hidden
		if h.NInner != nil {
			c.FFN = *h.NInner
		}
		c.Eps = 1e-5
		if h.LayerNormEpsG != nil {
			c.Eps = float32(*h.LayerNormEpsG)
		}
		if c.Act, err = act(h.ActFunction, "gelu_new"); err != nil {
			return Config{}, err
		}
		if h.ScaleByLayer != nil && *h.ScaleByLayer {
			return Config{}, fmt.Errorf("config.json: scale_attn_by_inverse_layer_idx is not supported")
		}
		if h.ScaleWeights != nil && !*h.ScaleWeights {
			return Config{}, fmt.Errorf("config.json: scale_attn_weights=false is not supported")
		}
		c.PadID = 50256
		if h.EOSTokenID != nil {
			c.PadID = int32(*h.EOSTokenID)
		}
	case "":
		return Config{}, fmt.Errorf("config.json: no model_type")
	default:
		return Config{}, fmt.Errorf("config.json: model_type %q is not supported (bert, roberta, distilbert, gpt2 are)", h.ModelType)
	}
	if missing != "" {
		return Config{}, fmt.Errorf("config.json: %s model without %q", h.ModelType, missing)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	return c, nil
}

// HFConfigJSON renders c as a Hugging Face config.json, for checkpoints the
// project writes itself (benchmark models).
func (c Config) HFConfigJSON() ([]byte, error) {
	m := map[string]any{"model_type": string(c.Type), "vocab_size": c.Vocab}
	actName := map[kernels.Act]string{kernels.ActGELU: "gelu", kernels.ActGELUTanh: "gelu_new", kernels.ActReLU: "relu"}[c.Act]
	switch c.Type {
	case BERT, RoBERTa:
		m["architectures"] = []string{map[Type]string{BERT: "BertModel", RoBERTa: "RobertaModel"}[c.Type]}
		m["hidden_size"] = c.Hidden
		m["num_hidden_layers"] = c.Layers
		m["num_attention_heads"] = c.Heads
		m["intermediate_size"] = c.FFN
		m["max_position_embeddings"] = c.MaxPos
		m["type_vocab_size"] = c.TypeVocab
		m["layer_norm_eps"] = c.Eps
		m["hidden_act"] = actName
		m["pad_token_id"] = c.PadID
		m["position_embedding_type"] = "absolute"
	case DistilBERT:
		m["architectures"] = []string{"DistilBertModel"}
		m["dim"] = c.Hidden
		m["n_layers"] = c.Layers
		m["n_heads"] = c.Heads
		m["hidden_dim"] = c.FFN
		m["max_position_embeddings"] = c.MaxPos
		m["activation"] = actName
		m["pad_token_id"] = c.PadID
	case GPT2:
		m["architectures"] = []string{"GPT2Model"}
		m["n_embd"] = c.Hidden
		m["n_layer"] = c.Layers
		m["n_head"] = c.Heads
		m["n_inner"] = c.FFN
		m["n_positions"] = c.MaxPos
		m["layer_norm_epsilon"] = c.Eps
		m["activation_function"] = actName
		m["eos_token_id"] = c.PadID
		m["bos_token_id"] = c.PadID
	default:
		return nil, fmt.Errorf("unknown model type %q", c.Type)
	}
	m["torch_dtype"] = "float32"
	return json.MarshalIndent(m, "", "  ")
}
