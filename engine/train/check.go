package train

import (
	"fmt"

	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/adapter"
)

// Check makes Train's checks of the examples and options without training:
// a background job (sqlfuncs/jobs.go) runs it in the statement that submits
// the job, so that a bad row or option fails that statement, not the job.
// Texts are tokenized only when training starts.
func Check(eng *engine.Engine, ex []Example, kind TargetKind, opts Options) error {
	data, err := prepare(ex, opts.Task, kind)
	if err != nil {
		return err
	}
	if opts.ClassWeights == "balanced" && data.spec.Task != adapter.Classification {
		return fmt.Errorf("option class_weights: balanced weighs classes, so it needs a classification task; this one is %s", data.spec.Task)
	}
	if _, err := eng.Model().Resolve(opts.Pool); err != nil {
		return err
	}
	if opts.BatchSize <= 0 || opts.Epochs <= 0 || opts.MaxLength <= 1 {
		return fmt.Errorf("batch_size, epochs and max_length must be positive")
	}
	if opts.Search.Active() { // a hyperparameter search (search.go)
		if err := opts.Search.Check(opts); err != nil {
			return err
		}
		return checkRows(len(ex), opts)
	}
	return nil
}
