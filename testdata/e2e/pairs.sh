#!/usr/bin/env bash
# End-to-end checks of text-pair adapters over the wire (mariadb client and
# PyMySQL) and on the command line:
#
#   bash testdata/e2e/pairs.sh bin/adapterdb
#
# - docs/sql.md's "Text pairs" example runs as written on the demo model:
#   LOAD DATA of testdata/datasets/pairs_{train,test}.csv, CREATE ADAPTER over
#   a three-column SELECT, PREDICT / PREDICT_PROBA with two texts, EVALUATE;
# - the held-out accuracy is well above chance (labels balanced: 0.5) and
#   EVALUATE's accuracy is PREDICT's;
# - a query mixing a pair adapter's rows and a single-text adapter's rows
#   equals one-row queries of each (bound parameters, PyMySQL);
# - one text for a pair adapter, two for a single-text one: 1582 naming the
#   adapter; EVALUATE with the wrong columns: 1241; a NULL second text: NULL;
# - docs/cli.md's --pair examples (train, predict, evaluate).
set -euo pipefail

source "$(dirname "$0")/lib.bash"
MODEL=demo # random weights: the adapter must learn the comparison itself
cd "$ROOT"
start_server

# The docs' example, as written, in one client session.
block=$(awk '/^## Text pairs/ { on = 1 } on && /^```sql/ { code = 1; next } code && /^```/ { exit } code' docs/sql.md)
[ -n "$block" ] || fail "no sql block under ## Text pairs in docs/sql.md"
out=$(mariadb -h 127.0.0.1 -P "$PORT" -u root --batch --skip-column-names --local-infile=1 main <<<"$block" 2>&1) ||
	fail "docs/sql.md Text pairs example: $out"
pass "docs/sql.md Text pairs example ran ($(wc -l <<<"$out") result lines)"
expect "SELECT COUNT(*), AVG(label = 'duplicate') FROM pairs_train" $'1200\t0.5'
expect "SELECT COUNT(*), AVG(label = 'duplicate') FROM pairs_test" $'300\t0.5'
expect "SELECT PREDICT('dup', 'city horse phone money music', 'horse music city school phone'), PREDICT('dup', 'milk money letter bridge market coffee', 'tea bird book cat river fire')" $'duplicate\tdifferent'
acc=$(sql "SELECT AVG(PREDICT('dup', text, text2) = label) FROM pairs_test")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.7) }' || fail "held-out accuracy $acc, want ≥ 0.7 (chance 0.5)"
pass "held-out accuracy $acc over the wire (chance 0.5)"
eacc=$(sql "EVALUATE ADAPTER dup AS SELECT text, text2, label FROM pairs_test" | awk -F'\t' '$1 == "accuracy" { print $2 }')
awk -v a="$acc" -v b="$eacc" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' || fail "EVALUATE accuracy $eacc, PREDICT's $acc"
pass "EVALUATE ADAPTER dup AS SELECT text, text2, label: accuracy $eacc = PREDICT's"

# Mixed passes: a single-text adapter beside the pair adapter.
sql "CREATE ADAPTER firstword OPTIONS (epochs = 1, max_length = 16, batch_size = 16, validation_fraction = 0, adapter_size = 8)
  AS SELECT text, label FROM pairs_train LIMIT 64" || fail "single-text adapter"
"$PY" - "$PORT" <<'PYEOF' || fail "mixed pair and single rows"
import json, sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", database="main").cursor()
c.execute("SELECT text, text2, PREDICT_PROBA('dup', text, text2), PREDICT_PROBA('firstword', text), PREDICT('dup', text, text2) FROM pairs_test LIMIT 40")
rows = c.fetchall()
assert len(rows) == 40, len(rows)
for a, b, pd, pf, label in rows:
    c.execute("SELECT PREDICT_PROBA('dup', %s, %s), PREDICT_PROBA('firstword', %s)", (a, b, a))
    qd, qf = c.fetchone()
    for got, want in ((pd, qd), (pf, qf)):
        g, w = json.loads(got), json.loads(want)
        assert g.keys() == w.keys() and all(abs(g[k] - w[k]) < 1e-4 for k in g), (a, b, got, want)
    assert label == max(json.loads(pd), key=json.loads(pd).get), (label, pd)
print("ok   40 rows of PREDICT_PROBA('dup', text, text2) and PREDICT_PROBA('firstword', text) in one query = one-row queries")
PYEOF

expect "SELECT PREDICT('dup', text, NULL) IS NULL FROM pairs_test LIMIT 1" "1"
# The catalog tells the two kinds apart, so a query over every adapter can keep to those it can call.
expect "SELECT name, inputs FROM adapterdb.adapters ORDER BY name" $'dup\tpair\nfirstword\tsingle'
expect "SELECT a.name, COUNT(PREDICT(a.name, p.text)) FROM adapterdb.adapters a JOIN pairs_test p WHERE a.inputs = 'single' GROUP BY a.name" $'firstword\t300'
expect "SELECT a.name, COUNT(PREDICT(a.name, p.text, p.text2)) FROM adapterdb.adapters a JOIN pairs_test p WHERE a.inputs = 'pair' GROUP BY a.name" $'dup\t300'
expect_error "SELECT PREDICT('dup', text) FROM pairs_test" 1582 "adapter dup is a text-pair adapter (PREDICT('dup', text, text2))"
expect_error "SELECT PREDICT_PROBA('firstword', text, text2) FROM pairs_test" 1582 "adapter firstword is a single-text adapter"
expect_error "SELECT PREDICT(n, 'a', 'b') FROM (SELECT 'firstword' AS n) t" 1582 "adapter firstword is a single-text adapter"
expect_error "EVALUATE ADAPTER dup AS SELECT text, label FROM pairs_test" 1241 "(text, text2, target) for adapter dup"
expect_error "CREATE ADAPTER bad AS SELECT text, NULL, label FROM pairs_train" 1105 "row 1: second text is NULL"
stop_server

# docs/cli.md's --pair examples (the database in the scratch folder).
db="$WORK/pairs.db"
out=$("$BIN" train --db "$db" --name dup --pair --set epochs=6 --set max_length=24 --set batch_size=16 --set validation_fraction=0 testdata/datasets/pairs_train.csv 2>"$WORK/train.log") ||
	fail "train --pair: $(tail -3 "$WORK/train.log")"
grep -q '"labels":\["different","duplicate"\]' <<<"$out" || fail "train --pair: $out"
eps=$(grep -o '"examples_per_s":[0-9.]*' <<<"$out" | head -1)
pass "adapterdb train --pair ($eps)"
out=$("$BIN" predict --db "$db" --name dup --pair "city horse phone money music" "horse music city school phone" "milk money letter bridge market coffee" "tea bird book cat river fire" 2>/dev/null) ||
	fail "predict --pair"
[ "$(grep -o '"label":"[a-z]*"' <<<"$out" | tr '\n' ' ')" = '"label":"duplicate" "label":"different" ' ] || fail "predict --pair: $out"
pass "adapterdb predict --pair: duplicate, different"
out=$("$BIN" evaluate --db "$db" --name dup --pair --format table testdata/datasets/pairs_test.csv 2>/dev/null) || fail "evaluate --pair"
cacc=$(awk '$1 == "accuracy" { print $2 }' <<<"$out")
awk -v a="$cacc" 'BEGIN { exit !(a >= 0.7) }' || fail "evaluate --pair: accuracy $cacc, want ≥ 0.7"
pass "adapterdb evaluate --pair: accuracy $cacc"
if "$BIN" predict --db "$db" --name dup "city horse" >/dev/null 2>"$WORK/err"; then fail "predict without --pair on a pair adapter"; fi
grep -q "adapter dup is a text-pair adapter, give --pair" "$WORK/err" || fail "predict without --pair: $(cat "$WORK/err")"
pass "adapterdb predict without --pair on a pair adapter: refused, naming it"
