package train

import (
	"fmt"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/model"
)

// Check makes Train's checks of the examples and options without training:
// a background job (sqlfuncs/jobs.go) runs it in the statement that submits
// the job, so that a bad row or option fails that statement, not the job.
// Texts are tokenized only when training starts.
func Check(eng *engine.Engine, ex []Example, kind TargetKind, opts Options) error {
	if _, _, err := checked(eng, ex, kind, opts); err != nil {
		return err
	}
	if opts.Search.Active() { // a hyperparameter search (search.go)
		if err := opts.Search.Check(opts); err != nil {
			return err
		}
		return checkRows(len(ex), opts)
	}
	return nil
}

// checked reads the examples and checks them with the options: the checks
// Train and Check share. It returns the prepared data and the pooling.
func checked(eng *engine.Engine, ex []Example, kind TargetKind, opts Options) (*dataset, model.Pool, error) {
	if err := opts.CheckModel(eng.Model()); err != nil {
		return nil, 0, err
	}
	data, err := prepare(ex, opts.Task, kind)
	if err != nil {
		return nil, 0, err
	}
	if opts.ClassWeights == "balanced" && data.spec.Task != adapter.Classification {
		return nil, 0, fmt.Errorf("option class_weights: balanced weighs classes, so it needs a classification task; this one is %s", data.spec.Task)
	}
	pool, err := eng.Model().Resolve(opts.Pool)
	if err != nil {
		return nil, 0, err
	}
	if opts.BatchSize <= 0 || opts.Epochs <= 0 || opts.MaxLength <= 1 {
		return nil, 0, fmt.Errorf("batch_size, epochs and max_length must be positive")
	}
	return data, pool, nil
}
