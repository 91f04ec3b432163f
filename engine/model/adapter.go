package model

import "github.com/adapterdb/adapterdb/kernels"

// Bottleneck is one adapter block A(z) = z + up(act(down(z))): down is
// Linear(H → m), up is Linear(m → H), both nn.Linear layout ([out, in]).
type Bottleneck struct {
	Down, DownB kernels.Buffer // [m, H], [m]
	Up, UpB     kernels.Buffer // [H, m], [H]
}

// AdapterLayer holds the two blocks of one transformer layer: after the
// attention output projection and after the feed-forward output projection,
// both before the residual add.
type AdapterLayer struct {
	Attn, FFN Bottleneck
}

// Adapter is one task's weights inside the network: bottleneck blocks in every
// layer and its own copy of every LayerNorm (same order as Weights.Norms). The
// task head lives outside the network (engine/adapter).
type Adapter struct {
	Size   int // bottleneck m
	Act    kernels.Act
	Layers []AdapterLayer
	Norms  []Norm
}

// Segment is a run of consecutive sequences of a batch that share one adapter.
// A nil Adapter runs the plain base model (the featurizer path).
type Segment struct {
	Seqs    int
	Adapter *Adapter
}
