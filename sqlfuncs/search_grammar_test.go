package sqlfuncs

import (
	"reflect"
	"strings"
	"testing"
)

// OPTIONS values may be parenthesised lists (a hyperparameter search).
func TestParseOptionLists(t *testing.T) {
	st, ours, err := ParseStatement("CREATE ADAPTER s OPTIONS (learning_rate = (1e-4, 3e-4, +1e-3), adapter_size=(16,64), search = 'random', trials = 3, activation = (gelu, 'relu'), seed = (-1)) AS SELECT a, b FROM t", false)
	if !ours || err != nil {
		t.Fatal(ours, err)
	}
	want := []Option{
		{Key: "learning_rate", Value: "(1e-4, 3e-4, +1e-3)", Pos: 26, Values: []string{"1e-4", "3e-4", "+1e-3"}},
		{Key: "adapter_size", Value: "(16, 64)", Pos: 63, Values: []string{"16", "64"}},
		{Key: "search", Value: "random", Pos: 85},
		{Key: "trials", Value: "3", Pos: 104},
		{Key: "activation", Value: "(gelu, relu)", Pos: 116, Values: []string{"gelu", "relu"}},
		{Key: "seed", Value: "(-1)", Pos: 145, Values: []string{"-1"}},
	}
	if !reflect.DeepEqual(st.Options, want) {
		t.Fatalf("options\n got %+v\nwant %+v", st.Options, want)
	}
	if st.Kind != StmtCreateAs {
		t.Fatalf("kind %v", st.Kind)
	}
}

func TestParseOptionListErrors(t *testing.T) {
	for _, c := range []struct{ in, msg string }{
		{"CREATE ADAPTER s OPTIONS (learning_rate = ()) AS SELECT 1, 2", "expected a value in the list of option learning_rate at position 44 near ')"},
		{"CREATE ADAPTER s OPTIONS (learning_rate = (1e-3,)) AS SELECT 1, 2", "expected a value in the list of option learning_rate"},
		{"CREATE ADAPTER s OPTIONS (learning_rate = (1e-3 1e-4)) AS SELECT 1, 2", "expected ',' or ')' in the list of option learning_rate at position 49 near '1e-4"},
		{"CREATE ADAPTER s OPTIONS (learning_rate = ((1e-3))) AS SELECT 1, 2", "expected a value in the list of option learning_rate"},
		{"CREATE ADAPTER s OPTIONS (learning_rate = (1e-3, ?)) AS SELECT 1, 2", "parameters are not supported in OPTIONS"},
		{"CREATE ADAPTER s OPTIONS (learning_rate = (1e-3, - 1)) AS SELECT 1, 2", "expected a number after '-'"},
		{"CREATE ADAPTER s OPTIONS (learning_rate = (1e-3, 1e-4) AS SELECT 1, 2", "expected ',' or ')' at position"},
		{"CREATE ADAPTER s OPTIONS (learning_rate = (1e-3", "expected ',' or ')' in the list of option learning_rate"},
	} {
		_, ours, err := ParseStatement(c.in, false)
		if !ours || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: ours=%v err=%v, want %q", c.in, ours, err, c.msg)
		}
	}
}
