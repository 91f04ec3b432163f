package train_test

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/train"
)

func TestOptionsSet(t *testing.T) {
	o := train.DefaultOptions()
	for _, kv := range [][2]string{{"TASK", "Regression"}, {" pool ", "MEAN"}, {"Trainable", "HEAD"}, {"activation", "ReLU"}, {"epochs", " 3 "}} {
		if err := o.Set(kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%q, %q): %v", kv[0], kv[1], err)
		}
	}
	m := o.Map()
	if m["task"] != "regression" || m["pool"] != "mean" || m["trainable"] != "head" || m["activation"] != "relu" || m["epochs"] != "3" {
		t.Errorf("options after Set: %v", m)
	}
	for _, kv := range [][2]string{{"colour", "1"}, {"epochs", "0"}, {"task", "poetry"}, {"learning_rate", "NaN"}, {"pool", "median"}} {
		if err := o.Set(kv[0], kv[1]); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("Set(%q, %q): error %v, want one naming the option", kv[0], kv[1], err)
		}
	}
}

// TestOptionsLimitsMatchDocs reads the training-options table of
// docs/adapters.md and checks it against the code: every key documented and
// every documented key known, the defaults, and each range's bounds (a
// closed bound accepted, the value just past it refused).
func TestOptionsLimitsMatchDocs(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "docs", "adapters.md"))
	if err != nil {
		t.Fatal(err)
	}
	defaults := train.DefaultOptions().Map()
	documented := map[string]bool{}
	row := regexp.MustCompile("^\\| `([a-z_]+)` \\|([^|]*)\\|([^|]*)\\|")
	for _, line := range strings.Split(string(text), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, def, rng := m[1], strings.Trim(strings.TrimSpace(m[2]), "`"), strings.TrimSpace(m[3])
		documented[key] = true
		if train.IsSearchKey(key) {
			continue // search.go's, not Options'; TestSearchRules checks their bounds
		}
		if _, ok := defaults[key]; !ok {
			t.Errorf("docs: option %s is not in the code", key)
			continue
		}
		switch def {
		case "inferred", "model's":
			if defaults[key] != "auto" && defaults[key] != "default" {
				t.Errorf("%s: documented default %q, code's %q", key, def, defaults[key])
			}
		default:
			if num(t, def) != num(t, defaults[key]) && def != defaults[key] {
				t.Errorf("%s: documented default %q, code's %q", key, def, defaults[key])
			}
		}
		if rng == "" {
			continue
		}
		lo, hi, loOpen, hiOpen, ok := parseRange(t, rng)
		if !ok {
			t.Errorf("%s: cannot read the documented range %q", key, rng)
			continue
		}
		checkBound(t, key, lo, !loOpen, -1)
		if !math.IsInf(hi, 1) {
			checkBound(t, key, hi, !hiOpen, +1)
		} else if err := set(key, "1000000"); err != nil {
			t.Errorf("%s: no documented upper limit, but 1000000 is refused: %v", key, err)
		}
	}
	for _, k := range append(train.Keys(), "search", "trials") {
		if !documented[k] {
			t.Errorf("option %s is not documented in docs/adapters.md", k)
		}
	}
}

func set(key, value string) error {
	o := train.DefaultOptions()
	return o.Set(key, value)
}

// checkBound: the bound itself is accepted iff closed; a value just past it
// (dir −1: below, +1: above) is refused.
func checkBound(t *testing.T, key string, b float64, closed bool, dir float64) {
	t.Helper()
	at := strconv.FormatFloat(b, 'g', -1, 64)
	if b == math.MaxUint64 {
		at = strconv.FormatUint(math.MaxUint64, 10)
	}
	if err := set(key, at); (err == nil) != closed {
		t.Errorf("%s = %s: error %v; the documented bound is closed: %v", key, at, err, closed)
	}
	past := b + dir
	if !isInt(key) {
		past = b + dir*math.Max(math.Abs(b), 1)*1e-9
	}
	pastS := strconv.FormatFloat(past, 'g', -1, 64)
	if b == math.MaxUint64 {
		pastS = "18446744073709551616"
	}
	if err := set(key, pastS); err == nil {
		t.Errorf("%s = %s (past the documented bound %s) is accepted", key, pastS, at)
	}
}

func isInt(key string) bool {
	switch key {
	case "adapter_size", "epochs", "batch_size", "max_length", "early_stopping", "seed":
		return true
	}
	return false
}

func num(t *testing.T, s string) float64 {
	s = strings.NewReplacer("10⁶", "1e6", "2⁶⁴−1", "18446744073709551615").Replace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// parseRange reads the forms the table uses: "a…b", "> a, ≤ b", "a ≤ f < b",
// "≥ a" and "a…4 × hidden size" (the upper limit depends on the model; see
// TestAdapterSizeLimit).
func parseRange(t *testing.T, r string) (lo, hi float64, loOpen, hiOpen, ok bool) {
	hi = math.Inf(1)
	if m := regexp.MustCompile(`^(\S+)…4 × hidden size$`).FindStringSubmatch(r); m != nil {
		return num(t, m[1]), hi, false, false, true
	}
	if m := regexp.MustCompile(`^(\S+)…(\S+)$`).FindStringSubmatch(r); m != nil {
		return num(t, m[1]), num(t, m[2]), false, false, true
	}
	if m := regexp.MustCompile(`^> (\S+), ≤ (\S+)$`).FindStringSubmatch(r); m != nil {
		return num(t, m[1]), num(t, m[2]), true, false, true
	}
	if m := regexp.MustCompile(`^(\S+) ≤ f < (\S+)$`).FindStringSubmatch(r); m != nil {
		return num(t, m[1]), num(t, m[2]), false, true, true
	}
	if m := regexp.MustCompile(`^≥ (\S+)$`).FindStringSubmatch(r); m != nil {
		return num(t, m[1]), hi, false, false, true
	}
	return 0, 0, false, false, false
}

// TestOptionMessages: each refusal states the interval truly (an open bound
// as an open bound).
func TestOptionMessages(t *testing.T) {
	for _, c := range []struct{ key, value, want string }{
		{"learning_rate", "0", `option learning_rate: "0" must be a number in (0, 10]`},
		{"learning_rate", "11", `must be a number in (0, 10]`},
		{"weight_decay", "-1", `must be a number in [0, 1]`},
		{"adapter_size", "0", `option adapter_size: "0" must be an integer ≥ 1`},
		{"epochs", "0", `must be an integer in [1, 10000]`},
	} {
		if err := set(c.key, c.value); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %s: error %v, want %q", c.key, c.value, err, c.want)
		}
	}
	if err := set("adapter_size", "4096"); err != nil {
		t.Errorf("adapter_size 4096 is refused before the model is known: %v", err)
	}
}

// Options.Set's unknown-option error names every key OPTIONS (...) takes.
func TestAllKeys(t *testing.T) {
	all := train.AllKeys()
	if !sort.StringsAreSorted(all) {
		t.Errorf("AllKeys not sorted: %v", all)
	}
	err := set("k0", "1")
	for _, k := range append(train.Keys(), "search", "trials", "keep_versions", "background") {
		if !slices.Contains(all, k) {
			t.Errorf("AllKeys lacks %s", k)
		}
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("unknown-option error %v does not name %s", err, k)
		}
	}
}
