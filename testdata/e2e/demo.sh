#!/usr/bin/env bash
# End-to-end check of the demo script (testdata/demo.sh) on the bert-tiny test
# checkpoint, so that it stays runnable: the model directory reaches serve
# (argument and MODEL variable), both adapters train, and the comparison table
# holds the majority class, the head-only baseline and the adapter, measured
# with SELECT AVG(PREDICT(...) = label) on the test split; EVALUATE ADAPTER
# prints the overall metrics (accuracy equal to the comparison's); the worse
# retrain is version 2 beside version 1, and ALTER ADAPTER rolls back to the
# better one, which is still active after the restart.
#
#   bash testdata/e2e/demo.sh bin/adapterdb
set -euo pipefail
source "$(dirname "$0")/lib.bash"

# MODEL from the environment is read, and a directory that is no checkpoint
# is refused before anything starts.
out=$(MODEL="$WORK/nothing" bash "$ROOT/testdata/demo.sh" "$BIN" 2>&1) && fail "demo accepted MODEL=$WORK/nothing"
grep -q "MODEL=$WORK/nothing: not a checkpoint directory" <<<"$out" || fail "MODEL refusal: $out"
pass "MODEL=DIR without config.json is refused"

TINY=$ROOT/testdata/models/bert-tiny
bash "$ROOT/testdata/demo.sh" "$BIN" "$TINY" >"$WORK/demo.out" 2>&1 || { cat "$WORK/demo.out" >&2; fail "the demo failed"; }
check() { grep -Eq -- "$1" "$WORK/demo.out" || { cat "$WORK/demo.out" >&2; fail "no line matching: $1"; }; }
check "^== base model: $TINY\$"
check "featurizer loaded .*model=$TINY "
check "adapterdb serve --db demo.db --model $TINY --listen"
# LOAD DATA reads the shipped CSV files ("" quoting, CRLF) as Python's csv does.
rows=$("$PY" -c 'import csv, sys; print(*(len(list(csv.reader(open(f, newline="", encoding="utf-8")))) - 1 for f in sys.argv[1:]))' \
	"$ROOT/testdata/datasets/fortunes_train.csv" "$ROOT/testdata/datasets/fortunes_test.csv")
read -r ntrain ntest <<<"$rows"
check "^\| +$ntrain \| +$ntest \| +10 \|\$"
# With trainable = 'head' only the head was trained: (hidden 32 + 1) x 10 labels.
check '^\| fortunes_head +\| head +\| +10 \| +[0-9]+ \| +330 \|'
check '^\| majority class +\| .* \| +0\.2741 \|$'
check '^\| fortunes_head +\| the task head only, on frozen features +\| +0\.[0-9]{4} \|$'
check '^\| fortunes +\| adapters \+ LayerNorm copies \+ head +\| +0\.[0-9]{4} \|$'
# EVALUATE's accuracy is the comparison's AVG(PREDICT(...) = label).
acc=$(grep -E '^\| fortunes +\| adapters' "$WORK/demo.out" | grep -oE '0\.[0-9]{4}')
eval_acc=$(grep -E '^\| accuracy +\|' "$WORK/demo.out" | grep -oE '0\.[0-9]+')
"$PY" -c "import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 6e-5)" "$acc" "$eval_acc" ||
	fail "EVALUATE accuracy $eval_acc, comparison $acc"
check '^\| rows +\| +664 \|$'
check '^\| macro_f1 +\| '
grep -q '^| precision:' "$WORK/demo.out" && fail "per-label EVALUATE rows shown"
check '^\| metric +\| value +\|$'
# The table is as wide as its widest kept row (not a per-label row left out).
evaltab=$(sed -n '/^== EVALUATE/,/^== /p' "$WORK/demo.out" | grep -E '^[|+]')
[ "$(awk '{ print length($0) }' <<<"$evaltab" | sort -u | wc -l)" = 1 ] || fail "EVALUATE table rows of different widths: $evaltab"
grep -Eq '^\+-{16}' <<<"$evaltab" && fail "EVALUATE table padded wider than its rows: $evaltab"
check '^\| +1 \| +0 \| 4 +\| '
check '^\| +2 \| +1 \| 1 +\| '
check '^\| +0\.[0-9]{4} \| +0\.[0-9]{4} \|$'
check '^== rolling back to the better version: ALTER ADAPTER fortunes SET ACTIVE VERSION [12]$'
best=$(grep -oE 'SET ACTIVE VERSION [12]$' "$WORK/demo.out" | grep -oE '[12]$')
check "^\| fortunes +\| +$best \|\$"
check "^\| fortunes +\| +$best \| [0-9-]+ "
pass "demo: EVALUATE, version 2 beside version 1, rollback to version $best kept across the restart"
grep -q "RANDOM" "$WORK/demo.out" && fail "the random-weights notice of the embedded model shown for $TINY"
pass "demo on $TINY: both adapters trained, the three-row comparison printed"
