package engine

import (
	"fmt"
	"sync"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/kernels"
)

// trainer is the model training runs on when the featurizer's backend cannot
// train: a second copy of the checkpoint on the cpu kernels, loaded at the
// first training job and kept until Close.
type trainer struct {
	once  sync.Once
	ck    *checkpoint
	err   error
	model *model.Model
}

// TrainingModel returns the model that training runs on: the featurizer's
// own when its backend implements kernels.Trainer, otherwise the same
// checkpoint on Config.TrainBackend (the cpu kernels, in cmd/adapterdb), so that a server on a backend without backward kernels still trains
// rather than fails. The fallback is loaded once, at first use, and logged.
func (e *Engine) TrainingModel() (*model.Model, error) {
	if _, ok := e.model.Be.(kernels.Trainer); ok {
		return e.model, nil
	}
	t := &e.train
	t.once.Do(func() {
		be := e.cfg.TrainBackend
		if be == nil {
			t.err = fmt.Errorf("backend %s cannot train and no training backend was configured", e.model.Be.Name())
			return
		}
		ck, err := loadCheckpoint(e.cfg.Model, be)
		if err != nil {
			t.err = fmt.Errorf("backend %s cannot train; loading the model for the %s fallback: %w", e.model.Be.Name(), be.Name(), err)
			return
		}
		if ck.fingerprint != e.fp {
			ck.closer.Close()
			t.err = fmt.Errorf("backend %s cannot train and the model changed on disk since it was loaded (fingerprint %s, now %s)",
				e.model.Be.Name(), e.fp[:16], ck.fingerprint[:16])
			return
		}
		t.ck, t.model = ck, ck.model
		e.log.Info().Str("backend", e.model.Be.Name()).Str("train_backend", be.Name()).
			Msg("featurizer backend cannot train: training runs on the fallback backend")
	})
	return t.model, t.err
}

func (t *trainer) close() error {
	if t.ck != nil {
		t.model.W.Release(t.model.Be)
		return t.ck.closer.Close()
	}
	return nil
}
