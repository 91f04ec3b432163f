package kernels

// Optimizer is a Trainer that runs AdamW where its buffers live: on the
// device for cuda, so that a training step moves neither weights nor
// gradients through the host; vectorised and on the backend's threads for
// cpu. Training runs AdamW on the host values (engine/train) for a Trainer
// without it and for the head, whose gradients form on the host.
type Optimizer interface {
	Trainer

	// NewAdamW sets up AdamW's state for tensors, starting from their fp32
	// master weights. The state owns W and Grad until Free: Step rewrites W
	// and zeroes Grad.
	NewAdamW(tensors []AdamWTensor) (AdamW, error)

	// LossScaling says whether gradients must be scaled up to stay within
	// the storage type's range (fp16: values below 6e-8 flush to zero).
	LossScaling() bool
}

// AdamWTensor is one trainable tensor for an Optimizer.
type AdamWTensor struct {
	W      Buffer    // the weights the passes read (the backend's storage type)
	Grad   Buffer    // its gradient, formed by the backward ops (same length)
	Master []float32 // the fp32 starting weights (len = W.Len())
	Decay  bool      // weight decay applies
}

// AdamW is an Optimizer's state: fp32 master weights and moments per tensor.
// β = (0.9, 0.999), ε = 1e-8, decoupled weight decay (Loshchilov & Hutter),
// as engine/train's host AdamW.
type AdamW interface {
	// SumSquares is Σ g² over every gradient (Inf or NaN when a gradient is
	// not finite).
	SumSquares() float64
	// Step scales the gradients by gradScale, updates the moments and the
	// master weights at learning rate lr with bias corrections for step t
	// (1-based), writes the weights back to W and zeroes the gradients.
	Step(lr, weightDecay float64, gradScale float32, t int)
	// ZeroGrads zeroes the gradients without a step (a skipped step).
	ZeroGrads()
	// Master copies the master weights to dst (one slice per tensor).
	Master(dst [][]float32)
	// Free releases the state.
	Free()
}
