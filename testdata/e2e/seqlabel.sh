#!/usr/bin/env bash
# End-to-end sequence labeling over the wire (PyMySQL and the mariadb client):
#
#   bash testdata/e2e/seqlabel.sh bin/adapterdb
#
# - the embedded demo model serves; testdata/datasets/ner_train.csv and ner_test.csv
#   (make_ner.py: text, spans) are loaded into tables;
# - CREATE ADAPTER ner OPTIONS (task = 'sequence_labeling', ...) AS SELECT text, spans
#   trains over the wire; max_length 24 cuts the longer rows into windows;
# - PREDICT on the held-out rows gives spans whose exact-match F1 must be clearly
#   better than chance (an exact span needs start, end and label right: chance is ~0);
#   EVALUATE ADAPTER reports the same F1;
# - bad spans fail CREATE ADAPTER naming the row; PREDICT_PROBA gives per-span
#   probabilities; docs/sql.md's sequence labeling examples run as written.
# Prints the held-out F1 and the training speed (examples/s, from the adapter's metrics).
set -euo pipefail

source "$(dirname "$0")/lib.bash"
MODEL=demo
TRAIN_ROWS=${TRAIN_ROWS:-400}

start_server

out=$("$PY" - "$PORT" "$ROOT/testdata/datasets" "$TRAIN_ROWS" <<'PYEOF'
import csv, json, sys, time, pymysql
port, data, ntrain = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
db = pymysql.connect(host="127.0.0.1", port=port, user="root", database="main", autocommit=True, charset="utf8mb4")
c = db.cursor()
def load(split, n=None):
    with open(f"{data}/ner_{split}.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows[:n] if n else rows
train, test = load("train", ntrain), load("test")
for name, rows in (("ner_train", train), ("ner_test", test)):
    c.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, text TEXT, spans JSON)")
    c.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s)", [(i + 1, r["text"], r["spans"]) for i, r in enumerate(rows)])
t0 = time.time()
c.execute("CREATE ADAPTER ner OPTIONS (task = 'sequence_labeling', epochs = 6, max_length = 24, learning_rate = 0.003, "
          "batch_size = 16) AS SELECT text, spans FROM ner_train")
took = time.time() - t0
c.execute("SELECT task, labels, JSON_EXTRACT(metrics, '$.examples_per_s'), JSON_EXTRACT(metrics, '$.epochs') "
          "FROM adapterdb.adapters WHERE name = 'ner'")
task, labels, eps, epochs = c.fetchone()
assert task == "sequence_labeling" and json.loads(labels) == ["LOC", "ORG", "PER"], (task, labels)
c.execute("SELECT id, text, spans, PREDICT('ner', text) FROM ner_test ORDER BY id")
tp = fp = fn = 0
for _id, text, gold, pred in c.fetchall():
    gold, pred = json.loads(gold), json.loads(pred)
    g = {(s["start"], s["end"], s["label"]) for s in gold}
    p = {(s["start"], s["end"], s["label"]) for s in pred}
    for s in pred:
        assert text[s["start"]:s["end"]] == s["text"] and 0 < s["score"] <= 1, (text, s)
    assert [s["start"] for s in pred] == sorted(s["start"] for s in pred), pred
    tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
f1 = 2 * prec * rec / max(prec + rec, 1e-9)
c.execute("EVALUATE ADAPTER ner AS SELECT text, spans FROM ner_test")
ev = dict(c.fetchall())
assert abs(ev["span_f1"] - f1) < 1e-9, (ev["span_f1"], f1)
print(f"f1={f1:.4f} precision={prec:.4f} recall={rec:.4f} gold={tp + fn} train_rows={len(train)} epochs={epochs} "
      f"examples_per_s={float(eps):.1f} create_adapter_s={took:.1f}")
PYEOF
) || fail "PyMySQL: $out"
echo "     $out"
f1=$(sed -n 's/^f1=\([0-9.]*\) .*/\1/p' <<<"$out")
awk -v f="$f1" 'BEGIN { exit !(f >= 0.6) }' || fail "held-out span F1 $f1 is not clearly better than chance (want ≥ 0.6)"
pass "sequence labeling trained over the wire: held-out span F1 $f1 (EVALUATE ADAPTER agrees)"

# PREDICT_PROBA: per-span label probabilities that sum to 1.
got=$(sql "SELECT PREDICT_PROBA('ner', 'Anna Schmidt moved to Oslo last year.')")
"$PY" -c '
import json, sys
spans = json.loads(sys.argv[1])
assert spans and all(abs(sum(s["proba"].values()) - 1) < 1e-4 for s in spans), spans
assert [s["text"] for s in spans] == ["Anna Schmidt", "Oslo"], spans
' "$got" || fail "PREDICT_PROBA: $got"
pass "PREDICT_PROBA gives each span's label probabilities"

# Without OPTIONS (task ...), a spans column infers sequence labeling.
expect "CREATE ADAPTER inferred OPTIONS (epochs = 1, max_length = 24) AS SELECT text, spans FROM ner_train WHERE id <= 20; SELECT task FROM adapterdb.adapters WHERE name = 'inferred'" "sequence_labeling"

# Bad spans name the row.
expect_error "CREATE ADAPTER bad OPTIONS (task = 'sequence_labeling') AS SELECT text, IF(id = 3, '[{\"start\":0,\"end\":999,\"label\":\"PER\"}]', spans) FROM ner_train ORDER BY id" 1105 "row 3: span 1 [0, 999) is outside the text"

# The examples of docs/sql.md's Sequence labeling section run as written.
examples=$("$PY" - "$ROOT/docs/sql.md" <<'PYEOF'
import re, sys
s = open(sys.argv[1]).read()
sec = s[s.index("### Sequence labeling\n"):]
sec = sec[:sec.index("\n### ", 1)]
print(re.findall(r"```sql\n(.*?)```", sec, re.S)[0])
PYEOF
) || fail "no examples in docs/sql.md"
out=$(sql "$examples" 2>&1) || fail "docs/sql.md sequence labeling examples: $out"
grep -q '"text": "Anna"' <<<"$out" || fail "docs/sql.md example found no Anna: $out"
pass "docs/sql.md sequence labeling examples run"

stop_server
