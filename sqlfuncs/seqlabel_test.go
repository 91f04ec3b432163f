package sqlfuncs_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adapterdb/adapterdb/engine/testmodels"
)

// withNER creates table ner(id, txt, spans) from the first n rows of
// testdata/datasets/ner_train.csv and trains adapter ner on it.
func (v *env) withNER(n int) []string {
	v.t.Helper()
	f, err := os.Open(filepath.Join(testmodels.Root(), "datasets", "ner_train.csv"))
	if err != nil {
		v.t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		v.t.Fatal(err)
	}
	v.exec("CREATE TABLE ner (id INT PRIMARY KEY, txt TEXT, spans JSON)")
	var vals, texts []string
	for i, r := range recs[1 : n+1] {
		vals = append(vals, fmt.Sprintf("(%d, '%s', '%s')", i+1, strings.ReplaceAll(r[0], "'", "''"), r[1]))
		texts = append(texts, r[0])
	}
	v.exec("INSERT INTO ner VALUES " + strings.Join(vals, ", "))
	v.exec("CREATE ADAPTER ner OPTIONS (task = 'sequence_labeling', epochs = 15, max_length = 16, batch_size = 8, " +
		"validation_fraction = 0, adapter_size = 8, learning_rate = 0.01) AS SELECT txt, spans FROM ner")
	return texts
}

type entity struct {
	Start, End  int
	Label, Text string
	Score       float64
	Proba       map[string]float64
}

func parseEntities(t *testing.T, js any) []entity {
	t.Helper()
	s, ok := js.(string)
	if !ok {
		t.Fatalf("PREDICT gave %T %v, want JSON", js, js)
	}
	var es []entity
	if err := json.Unmarshal([]byte(s), &es); err != nil || es == nil {
		t.Fatalf("PREDICT gave %q: %v", s, err)
	}
	return es
}

// A sequence labeling adapter trains from SQL and PREDICT gives spans of the
// text sorted by start; PREDICT_PROBA their label probabilities; rows of it,
// of a classification adapter and of a text-pair adapter share passes and
// equal what each gives alone; EVALUATE ADAPTER reports span-level scores;
// SHOW ADAPTERS its task.
func TestSequenceLabelingSQL(t *testing.T) {
	v := newEnv(t, envOpts{batch: 64})
	v.withPairs()
	texts := v.withNER(40)

	alone := v.rows("SELECT id, PREDICT('ner', txt) FROM ner ORDER BY id")
	found := 0
	for i, r := range alone {
		es := parseEntities(t, r[1])
		runes := []rune(texts[i])
		for k, e := range es {
			if e.Start < 0 || e.End > len(runes) || e.Start >= e.End || string(runes[e.Start:e.End]) != e.Text ||
				(k > 0 && e.Start < es[k-1].End) || e.Score <= 0 || e.Score > 1 || e.Label == "" {
				t.Fatalf("row %d %q: entity %+v of %+v", i+1, texts[i], e, es)
			}
		}
		found += len(es)
	}
	if found == 0 {
		t.Fatal("no entity found in 40 training rows")
	}
	sentAlone := v.rows("SELECT id, PREDICT('sent', txt) FROM ner ORDER BY id")
	dupAlone := v.rows("SELECT id, PREDICT('dup', txt, 'Anna moved') FROM ner ORDER BY id")

	// Ten rows of both adapters: their windows and the classification rows
	// fit one pass of 64.
	windows := 0
	for _, s := range texts[:10] {
		lab, err := v.eng.Label(s, 16)
		if err != nil {
			t.Fatal(err)
		}
		windows += len(lab.Seqs)
	}
	if windows+20 > 64 {
		t.Fatalf("%d windows: the test needs them to fit a pass", windows)
	}
	mixed, n := v.passes("SELECT id, PREDICT('sent', txt), PREDICT('ner', txt), PREDICT_PROBA('ner', txt), PREDICT('dup', txt, 'Anna moved') " +
		"FROM ner WHERE id <= 10 ORDER BY id")
	if n != 1 {
		t.Errorf("10 rows of a classification, a sequence labeling (%d windows) and a pair adapter: %d passes, want 1", windows, n)
	}
	for i, r := range mixed {
		if r[1] != sentAlone[i][1] || r[4] != dupAlone[i][1] {
			t.Errorf("row %d: classification %v, pair %v mixed; %v, %v alone", i+1, r[1], r[4], sentAlone[i][1], dupAlone[i][1])
		}
		got, want := parseEntities(t, r[2]), parseEntities(t, alone[i][1])
		if len(got) != len(want) {
			t.Fatalf("row %d: %v mixed, %v alone", i+1, got, want)
		}
		for k := range got {
			if got[k].Start != want[k].Start || got[k].End != want[k].End || got[k].Label != want[k].Label ||
				math.Abs(got[k].Score-want[k].Score) > 1e-5 {
				t.Fatalf("row %d: %+v mixed, %+v alone", i+1, got[k], want[k])
			}
		}
		proba := parseEntities(t, r[3])
		if len(proba) != len(got) {
			t.Fatalf("row %d: PREDICT_PROBA %v for spans %v", i+1, proba, got)
		}
		for k, p := range proba {
			sum := 0.0
			for _, x := range p.Proba {
				sum += x
			}
			if p.Start != got[k].Start || p.End != got[k].End || math.Abs(sum-1) > 1e-4 || p.Proba[got[k].Label] < p.Proba["O"]-1 {
				t.Fatalf("row %d: PREDICT_PROBA %+v for %+v (sum %v)", i+1, p, got[k], sum)
			}
		}
	}

	ev := map[string]any{}
	for _, r := range v.rows("EVALUATE ADAPTER ner AS SELECT txt, spans FROM ner") {
		ev[r[0].(string)] = r[1]
	}
	for _, k := range []string{"rows", "span_precision", "span_recall", "span_f1", "f1:PER", "support:LOC"} {
		if _, ok := ev[k]; !ok {
			t.Fatalf("EVALUATE ADAPTER lacks %s: %v", k, ev)
		}
	}
	if ev["rows"] != 40.0 || ev["span_f1"].(float64) <= 0 {
		t.Errorf("EVALUATE ADAPTER: %v", ev)
	}
	t.Logf("training-set span F1 of the bert-tiny adapter: %v", ev["span_f1"])
	for _, r := range v.rows("SHOW ADAPTERS") {
		if r[0] == "ner" && (r[1] != "sequence_labeling" || r[2] != "single" || r[3] != `["LOC", "ORG", "PER"]`) {
			t.Errorf("SHOW ADAPTERS: %v", r)
		}
	}
}

// Bad spans fail CREATE ADAPTER and EVALUATE ADAPTER with the row and the span.
func TestSequenceLabelingBadSpansSQL(t *testing.T) {
	v := newEnv(t, envOpts{})
	v.exec("CREATE TABLE s (id INT PRIMARY KEY, txt TEXT, spans TEXT)")
	v.exec(`INSERT INTO s VALUES (1, 'Anna lives in Oslo', '[{"start":0,"end":4,"label":"PER"}]'),
		(2, 'Oslo', '[{"start":0,"end":9,"label":"LOC"}]')`)
	se := v.fails("CREATE ADAPTER bad OPTIONS (task = 'sequence_labeling') AS SELECT txt, spans FROM s ORDER BY id", 1105)
	if !strings.Contains(se.Message, "row 2") || !strings.Contains(se.Message, "span 1 [0, 9) is outside the text (4 characters)") {
		t.Errorf("error %q", se.Message)
	}
	v.exec(`UPDATE s SET spans = '[{"start":0,"end":4,"label":"LOC"}]' WHERE id = 2`)
	v.exec("CREATE ADAPTER good OPTIONS (task = 'sequence_labeling', epochs = 1, max_length = 8) AS SELECT txt, spans FROM s ORDER BY id")
	v.exec(`UPDATE s SET spans = '[{"start":0,"end":4,"label":"LOC"},{"start":2,"end":3,"label":"LOC"}]' WHERE id = 2`)
	se = v.fails("EVALUATE ADAPTER good AS SELECT txt, spans FROM s ORDER BY id", 1210)
	if !strings.Contains(se.Message, "row 2") || !strings.Contains(se.Message, "overlaps") {
		t.Errorf("error %q", se.Message)
	}
}
