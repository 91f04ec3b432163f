package model

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/adapterdb/adapterdb/kernels"
)

// Source yields a checkpoint's tensors by name. Float32 may return a slice that
// aliases a memory mapping; it must stay valid while the model is in use.
type Source interface {
	Names() []string
	Float32(name string) (data []float32, shape []int, err error)
}

// Linear is a dense layer: y = x·W + b with W stored as Layout says.
type Linear struct {
	W, B    kernels.Buffer
	Layout  kernels.Layout
	In, Out int
}

// Norm is a LayerNorm's gain and bias, with the checkpoint name it came from
// (adapters store their copies under the same names).
type Norm struct {
	Name        string // e.g. "encoder.layer.0.output.LayerNorm"
	Gamma, Beta kernels.Buffer
}

// Layer is one transformer block. Norm1/Norm2 index Weights.Norms:
// post-LN models normalise after attention and after the feed-forward network
// (attention.output.LayerNorm, output.LayerNorm); GPT-2 normalises before them
// (ln_1, ln_2).
type Layer struct {
	// QKV maps H to 3H, columns q | k | v: GPT-2's c_attn [H,3H] (InOut) as
	// stored; the BERT family's query, key and value [H,H] (OutIn) stacked
	// into one [3H,H] weight (kernels.Backend.Stack), so that they run as
	// one product.
	QKV   Linear
	O     Linear // attention output projection
	FC1   Linear // [H → I]
	FC2   Linear // [I → H]
	Norm1 int
	Norm2 int
}

// Weights are a base model's tensors on a backend.
type Weights struct {
	Word    kernels.Buffer // [Vocab, H]
	Pos     kernels.Buffer // [MaxPos, H]
	TokType kernels.Buffer // [TypeVocab, H] or nil
	Layers  []Layer
	Norms   []Norm // every LayerNorm, in forward order
	EmbNorm int    // index in Norms of the embedding LayerNorm, -1 for GPT-2
	Final   int    // index in Norms of GPT-2's ln_f, -1 for the BERT family
	Pooler  *Linear
}

// loader resolves checkpoint names: hub checkpoints saved from task models carry a
// prefix ("bert.", "roberta.", "distilbert.", "transformer.") and old BERT
// checkpoints name LayerNorm parameters gamma/beta.
type loader struct {
	src    Source
	hash   io.Writer // receives every tensor used: the model's fingerprint
	be     kernels.Backend
	cfg    Config
	prefix string
	names  map[string]bool
}

func newLoader(src Source, be kernels.Backend, cfg Config, hash io.Writer) (*loader, error) {
	l := &loader{src: src, be: be, cfg: cfg, hash: hash, names: map[string]bool{}}
	for _, n := range src.Names() {
		l.names[n] = true
	}
	anchor := "embeddings.word_embeddings.weight"
	if cfg.Type == GPT2 {
		anchor = "wte.weight"
	}
	found := false
	var candidates []string
	for n := range l.names {
		if n == anchor || strings.HasSuffix(n, "."+anchor) {
			candidates = append(candidates, strings.TrimSuffix(n, anchor))
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("no tensor %q: is this a %s checkpoint?", anchor, cfg.Type)
	}
	sort.Strings(candidates) // shortest (usually "") first, deterministic
	l.prefix = candidates[0]
	return l, nil
}

func (l *loader) lookup(name string) (string, bool) {
	try := []string{l.prefix + name}
	if strings.HasSuffix(name, "LayerNorm.weight") {
		try = append(try, l.prefix+strings.TrimSuffix(name, "weight")+"gamma")
	}
	if strings.HasSuffix(name, "LayerNorm.bias") {
		try = append(try, l.prefix+strings.TrimSuffix(name, "bias")+"beta")
	}
	for _, n := range try {
		if l.names[n] {
			return n, true
		}
	}
	return "", false
}

// tensor loads name and checks its shape. On a backend whose buffers alias
// the mapped checkpoint the buffer stays in the mapping: the linear layers'
// weights (packed into copies of the backend's own) and the word embeddings
// (of which a pass reads a few rows).
func (l *loader) tensor(name string, shape ...int) (kernels.Buffer, error) {
	return l.load(name, false, shape)
}

// vector loads a tensor every pass reads whole (a bias, a LayerNorm's
// parameters, the position embeddings) and checks its shape. On a backend
// whose buffers alias the mapped checkpoint it gets a copy of its own, so
// that its file pages can go: where the file system caches the checkpoint
// in large folios (ext4 and XFS on Linux 6.18), reading a 3 KB bias maps
// back up to 2 MiB of the weights around it, and BERT-base's biases and
// LayerNorms kept 53 MB of packed weights' pages resident.
func (l *loader) vector(name string, shape ...int) (kernels.Buffer, error) {
	return l.load(name, true, shape)
}

func (l *loader) load(name string, own bool, shape []int) (kernels.Buffer, error) {
	full, ok := l.lookup(name)
	if !ok {
		return nil, fmt.Errorf("missing tensor %q", l.prefix+name)
	}
	data, got, err := l.src.Float32(full)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", full, err)
	}
	if !sameShape(got, shape) {
		return nil, fmt.Errorf("tensor %q has shape %v, want %v for this config", full, got, shape)
	}
	if l.hash != nil {
		fmt.Fprintf(l.hash, "%s%v\n", name, shape)
		l.hash.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*len(data)))
	}
	r, ok := l.be.(pageReleaser)
	if !ok {
		return l.be.Upload(data), nil
	}
	// Hashing read every page of the checkpoint; only those the passes use
	// need to stay (the cpu backend packs the linear layers' weights into
	// copies of its own, and uses few rows of the word embeddings).
	mapped := l.be.Upload(data)
	buf := mapped
	if own {
		buf = l.be.Upload(slices.Clone(data))
	}
	r.ReleasePages(mapped)
	return buf, nil
}

// pageReleaser is a backend whose uploaded buffers may alias a memory-mapped
// checkpoint: ReleasePages drops the buffer's pages from the process's
// memory where that loses nothing (a later read maps them again).
type pageReleaser interface {
	ReleasePages(b kernels.Buffer)
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (l *loader) linear(name string, in, out int, layout kernels.Layout) (Linear, error) {
	shape := []int{out, in}
	if layout == kernels.InOut {
		shape = []int{in, out}
	}
	w, err := l.tensor(name+".weight", shape...)
	if err != nil {
		return Linear{}, err
	}
	b, err := l.vector(name+".bias", out)
	if err != nil {
		return Linear{}, err
	}
	return Linear{W: w, B: b, Layout: layout, In: in, Out: out}, nil
}

// stack makes one map of same-shaped OutIn maps of one input, outputs side
// by side: the weights stacked by the backend, the biases copied together.
func (l *loader) stack(parts ...Linear) Linear {
	be, in, out := l.be, parts[0].In, parts[0].Out
	ws := make([]kernels.Buffer, len(parts))
	bias := be.Alloc(len(parts) * out)
	for j, p := range parts {
		ws[j] = p.W
		be.Copy(be.View(bias, j*out, out), p.B)
		be.Free(p.B) // copied: on a GPU it would stay resident
	}
	return Linear{W: be.Stack(ws, out, in), B: bias, Layout: kernels.OutIn, In: in, Out: len(parts) * out}
}

func (l *loader) norm(ws *Weights, name string) (int, error) {
	g, err := l.vector(name+".weight", l.cfg.Hidden)
	if err != nil {
		return 0, err
	}
	b, err := l.vector(name+".bias", l.cfg.Hidden)
	if err != nil {
		return 0, err
	}
	ws.Norms = append(ws.Norms, Norm{Name: name, Gamma: g, Beta: b})
	return len(ws.Norms) - 1, nil
}

// LoadWeights maps a checkpoint's tensors onto the backend, checking every
// shape against cfg. Tensors the featurizer does not use (task heads, buffers
// such as position_ids) are ignored. When hash is not nil it receives the name,
// shape and float32 bytes of every tensor used, in a fixed order (the model's
// fingerprint does not depend on file layout or sharding).
func LoadWeights(src Source, be kernels.Backend, cfg Config, hash io.Writer) (*Weights, error) {
	l, err := newLoader(src, be, cfg, hash)
	if err != nil {
		return nil, err
	}
	H, I := cfg.Hidden, cfg.FFN
	ws := &Weights{EmbNorm: -1, Final: -1}
	switch cfg.Type {
	case BERT, RoBERTa, DistilBERT:
		err = l.loadEncoder(ws, H, I)
	case GPT2:
		err = l.loadGPT2(ws, H, I)
	default:
		err = fmt.Errorf("model type %q is not supported", cfg.Type)
	}
	if err != nil {
		return nil, err
	}
	if t, ok := be.(tabler); ok {
		ws.Word = t.Table(ws.Word, H)
	}
	return ws, nil
}

// tabler is a backend that keeps an embedding table in a form of its own,
// which only its Embed reads (the cpu backend's bfloat16 table in cpu:bf16
// and cpu:int8).
type tabler interface {
	Table(b kernels.Buffer, cols int) kernels.Buffer
}

func (l *loader) loadEncoder(ws *Weights, H, I int) error {
	cfg := l.cfg
	var err error
	if ws.Word, err = l.tensor("embeddings.word_embeddings.weight", cfg.Vocab, H); err != nil {
		return err
	}
	if ws.Pos, err = l.vector("embeddings.position_embeddings.weight", cfg.MaxPos, H); err != nil {
		return err
	}
	if cfg.Type != DistilBERT && cfg.TypeVocab > 0 {
		if ws.TokType, err = l.vector("embeddings.token_type_embeddings.weight", cfg.TypeVocab, H); err != nil {
			return err
		}
	}
	if ws.EmbNorm, err = l.norm(ws, "embeddings.LayerNorm"); err != nil {
		return err
	}
	for i := 0; i < cfg.Layers; i++ {
		var ly Layer
		p := "encoder.layer." + strconv.Itoa(i) + "."
		names := [...]string{"attention.self.query", "attention.self.key", "attention.self.value",
			"attention.output.dense", "intermediate.dense", "output.dense",
			"attention.output.LayerNorm", "output.LayerNorm"}
		if cfg.Type == DistilBERT {
			p = "transformer.layer." + strconv.Itoa(i) + "."
			names = [...]string{"attention.q_lin", "attention.k_lin", "attention.v_lin",
				"attention.out_lin", "ffn.lin1", "ffn.lin2", "sa_layer_norm", "output_layer_norm"}
		}
		var q, k, v Linear
		lin := []*Linear{&q, &k, &v, &ly.O, &ly.FC1, &ly.FC2}
		dims := [][2]int{{H, H}, {H, H}, {H, H}, {H, H}, {H, I}, {I, H}}
		for j, dst := range lin {
			if *dst, err = l.linear(p+names[j], dims[j][0], dims[j][1], kernels.OutIn); err != nil {
				return err
			}
		}
		ly.QKV = l.stack(q, k, v)
		if ly.Norm1, err = l.norm(ws, p+names[6]); err != nil {
			return err
		}
		if ly.Norm2, err = l.norm(ws, p+names[7]); err != nil {
			return err
		}
		ws.Layers = append(ws.Layers, ly)
	}
	if cfg.Type != DistilBERT {
		if _, ok := l.lookup("pooler.dense.weight"); ok {
			p, err := l.linear("pooler.dense", H, H, kernels.OutIn)
			if err != nil {
				return err
			}
			ws.Pooler = &p
		}
	}
	return nil
}

func (l *loader) loadGPT2(ws *Weights, H, I int) error {
	cfg := l.cfg
	var err error
	if ws.Word, err = l.tensor("wte.weight", cfg.Vocab, H); err != nil {
		return err
	}
	if ws.Pos, err = l.vector("wpe.weight", cfg.MaxPos, H); err != nil {
		return err
	}
	for i := 0; i < cfg.Layers; i++ {
		var ly Layer
		p := "h." + strconv.Itoa(i) + "."
		if ly.Norm1, err = l.norm(ws, p+"ln_1"); err != nil {
			return err
		}
		if ly.QKV, err = l.linear(p+"attn.c_attn", H, 3*H, kernels.InOut); err != nil {
			return err
		}
		if ly.O, err = l.linear(p+"attn.c_proj", H, H, kernels.InOut); err != nil {
			return err
		}
		if ly.Norm2, err = l.norm(ws, p+"ln_2"); err != nil {
			return err
		}
		if ly.FC1, err = l.linear(p+"mlp.c_fc", H, I, kernels.InOut); err != nil {
			return err
		}
		if ly.FC2, err = l.linear(p+"mlp.c_proj", I, H, kernels.InOut); err != nil {
			return err
		}
		ws.Layers = append(ws.Layers, ly)
	}
	ws.Final, err = l.norm(ws, "ln_f")
	return err
}

// NormIndex finds a LayerNorm by its checkpoint name.
func (w *Weights) NormIndex(name string) (int, bool) {
	for i, n := range w.Norms {
		if n.Name == name {
			return i, true
		}
	}
	return 0, false
}

// Release frees what the backend holds for every weight (the cpu backend's
// packed copies and stacked q, k, v; a GPU backend's device copies, which
// would otherwise stay resident after the engine closes); call it before the
// checkpoint is unmapped.
func (ws *Weights) Release(be kernels.Backend) {
	free := func(bs ...kernels.Buffer) {
		for _, b := range bs {
			if b != nil {
				be.Free(b)
			}
		}
	}
	free(ws.Word, ws.Pos, ws.TokType)
	for _, n := range ws.Norms {
		free(n.Gamma, n.Beta)
	}
	for i := range ws.Layers {
		ly := &ws.Layers[i]
		for _, l := range []*Linear{&ly.QKV, &ly.O, &ly.FC1, &ly.FC2} {
			free(l.W, l.B)
		}
	}
	if ws.Pooler != nil {
		free(ws.Pooler.W, ws.Pooler.B)
	}
}
