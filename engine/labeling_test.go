package engine

import (
	"context"
	"slices"
	"testing"

	"github.com/adapterdb/adapterdb/engine/model"
	"github.com/adapterdb/adapterdb/engine/spans"
	"github.com/adapterdb/adapterdb/engine/testmodels"
	"github.com/adapterdb/adapterdb/kernels"
)

// TestLabelingMatchesGolden: a text prepared for sequence labeling is the
// golden's input ids (offsets path and special tokens), and its token hidden
// states from Features, in one call with pooled inputs of other texts (shared
// passes), are the golden's last hidden state, on both CPU backends
// (labeling_cudaemu_test.go: the CUDA emulator).
func TestLabelingMatchesGolden(t *testing.T) {
	for _, name := range testmodels.Names {
		t.Run(name, func(t *testing.T) {
			for _, be := range testmodels.Backends(t) {
				checkLabelingGolden(t, name, be, false)
			}
		})
	}
}

// checkLabelingGolden checks the goldens' single texts that fit the model
// (few: the first three, for the slow emulator).
func checkLabelingGolden(t *testing.T, name string, be kernels.Backend, few bool) {
	g, st := testmodels.ReadGolden(t, name)
	eng, err := Open(Config{Model: testmodels.Dir(name), Backend: be, MaxLength: g.MaxLength, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var inputs []Input
	var cases []testmodels.GoldenCase
	for _, c := range g.Cases {
		if !c.Forward || c.TextPair != nil || c.Truncated || few && len(cases) == 3 {
			continue
		}
		lab, err := eng.Label(c.Text, g.MaxLength)
		if err != nil {
			t.Fatal(err)
		}
		if len(lab.IDs) == 0 {
			continue // no content tokens: nothing to label (an empty text)
		}
		if len(lab.Seqs) != 1 {
			t.Fatalf("%s: %d windows for a text that fits", c.Name, len(lab.Seqs))
		}
		if !slices.Equal(lab.Seqs[0].IDs, c.InputIDs) {
			t.Fatalf("%s: labeling ids %v, golden %v", c.Name, lab.Seqs[0].IDs, c.InputIDs)
		}
		inputs = append(inputs, Input{Seq: &lab.Seqs[0], Tokens: true}, Input{Text: c.Text + " and more", Pool: model.PoolMean})
		cases = append(cases, c)
	}
	feats, err := eng.Features(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		want := testmodels.Tensor(t, st, c.Tensors["last_hidden_state"])
		if got := feats[2*i]; len(got) != len(want) {
			t.Fatalf("%s: %d values, golden %d", c.Name, len(got), len(want))
		} else if d := testmodels.MaxAbsDiff(got, want); d > g.Tolerance.MaxAbsDiff {
			t.Errorf("%s on %s: token hidden states differ by %g", c.Name, be.Name(), d)
		}
	}
}

// A long text is cut into overlapping windows that each fit max_length with
// the special tokens; their content is the text's tokens; Merge takes every
// token from the window where it is most central; Tags lays tags out per
// window with special tokens ignored.
func TestLabelingWindows(t *testing.T) {
	eng, err := Open(Config{Model: testmodels.Dir("bert-tiny"), Backend: testmodels.CPU(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	text := "Anna Schmidt moved to Zürich last year, and Peter Novak works for Acme Corporation in Oslo since May."
	lab, err := eng.Label(text, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(lab.Windows) < 3 || lab.Lead != 1 {
		t.Fatalf("%d windows, lead %d", len(lab.Windows), lab.Lead)
	}
	for w, x := range lab.Windows {
		q := lab.Seqs[w].IDs
		if len(q) > 10 || !slices.Equal(q[1:len(q)-1], lab.IDs[x.Start:x.End]) {
			t.Fatalf("window %d %v: sequence %v, tokens %v", w, x, q, lab.IDs[x.Start:x.End])
		}
	}
	// Rows that say which window and position they came from.
	rows := make([][]float32, len(lab.Windows))
	for w := range rows {
		for p := range lab.Seqs[w].IDs {
			rows[w] = append(rows[w], float32(w*1000+p))
		}
	}
	merged := lab.Merge(rows, 1)
	win, pos := spans.Owners(lab.Windows, len(lab.IDs))
	for tk, v := range merged {
		if want := float32(win[tk]*1000 + pos[tk] + lab.Lead); v != want {
			t.Fatalf("token %d: row %v, want %v", tk, v, want)
		}
	}
	tags := make([]int, len(lab.IDs))
	for i := range tags {
		tags[i] = i % 3
	}
	for w, row := range lab.Tags(tags) {
		x := lab.Windows[w]
		if row[0] != spans.Ignore || row[len(row)-1] != spans.Ignore || !slices.Equal(row[1:len(row)-1], tags[x.Start:x.End]) {
			t.Fatalf("window %d tags %v", w, row)
		}
	}
	if empty, err := eng.Label("   ", 10); err != nil || len(empty.Seqs) != 0 {
		t.Fatalf("blank text: %+v %v", empty, err)
	}
}
