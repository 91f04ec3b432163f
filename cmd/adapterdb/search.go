package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/adapterdb/adapterdb/engine/train"
)

// setOption applies one --set key=value to opts: search and trials, or a
// comma-separated list (learning_rate=1e-4,3e-4) for a hyperparameter
// search, as SQL's OPTIONS (key = (a, b)) does.
func setOption(opts *train.Options, key, value string) error {
	k := strings.ToLower(strings.TrimSpace(key))
	known := slices.Contains(train.Keys(), k) // else Set names the known options
	if train.IsSearchKey(k) || known && strings.Contains(value, ",") {
		if opts.Search == nil {
			opts.Search = &train.Search{}
		}
		if train.IsSearchKey(k) {
			return opts.Search.Set(k, value)
		}
		vals := strings.Split(value, ",")
		for i := range vals {
			vals[i] = strings.TrimSpace(vals[i])
		}
		return opts.Search.Add(k, vals)
	}
	return opts.Set(k, value)
}

// checkSearch validates a search once every --set is applied (a list may
// come before validation_fraction).
func checkSearch(opts train.Options) error {
	if !opts.Search.Active() {
		return nil
	}
	if err := opts.Search.Check(opts); err != nil {
		return fmt.Errorf("hyperparameter search: %w", err)
	}
	return nil
}
