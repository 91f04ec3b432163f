package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine/adapter"
	"github.com/adapterdb/adapterdb/engine/train"
)

// fitted is a trained set with what is stored with it.
type fitted struct {
	set     *adapter.Set
	opts    train.Options // the options the set was trained with
	metrics json.RawMessage
	trials  []catalog.Trial // a search's trials; nil without one
}

// searchMetrics are a searched adapter's metrics: the chosen trial's, the
// search method and every trial.
type searchMetrics struct {
	train.Metrics
	Search string        `json:"search"`
	Trials []train.Trial `json:"trials"`
}

// fit trains req's adapter: one training run, or a search when
// req.Options.Search lists options (Train, and so background jobs, come here).
func (r *Registry) fit(ctx context.Context, req TrainRequest) (fitted, error) {
	if !req.Options.Search.Active() {
		res, err := train.Train(ctx, r.eng, req.Examples, req.Kind, req.Options, req.Progress)
		if err != nil {
			return fitted{}, err
		}
		metrics, err := json.Marshal(res.Metrics)
		return fitted{set: res.Set, opts: req.Options, metrics: metrics}, err
	}
	sr, err := train.SearchTrain(ctx, r.eng, req.Examples, req.Kind, req.Options, *req.Options.Search, req.Progress)
	if err != nil {
		return fitted{}, err
	}
	metrics, err := json.Marshal(searchMetrics{Metrics: sr.Metrics, Search: sr.Method, Trials: sr.Trials})
	if err != nil {
		return fitted{}, err
	}
	f := fitted{set: sr.Set, opts: sr.Options, metrics: metrics}
	for _, t := range sr.Trials {
		opts, err := json.Marshal(t.Options)
		if err != nil {
			return fitted{}, err
		}
		var m any = t.Metrics
		if t.Error != "" {
			m = map[string]string{"error": t.Error}
		}
		met, err := json.Marshal(m)
		if err != nil {
			return fitted{}, fmt.Errorf("trial %d: %w", t.Trial, err)
		}
		f.trials = append(f.trials, catalog.Trial{Trial: t.Trial, Options: opts, Metrics: met, Seconds: t.Seconds, Chosen: t.Chosen})
	}
	return f, nil
}
