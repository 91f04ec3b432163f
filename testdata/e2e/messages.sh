#!/usr/bin/env bash
# End-to-end checks of training options and messages over the wire (mariadb
# client):
#
#   bash testdata/e2e/messages.sh bin/adapterdb
#
# - option limits as docs/adapters.md states them (adapter_size up to 4 × the
#   model's hidden size, learning_rate in (0, 10]) and refusals that say so;
# - class_weights = balanced refused for regression;
# - regression targets of ±1e155 train;
# - the info line counts in words that agree ("1 epoch", in the server log
#   and in the note the client gets);
# - adapterdb.adapters' version counts writes: 1, 2, and 1 again after DROP;
# - log duration fields carry their unit (startup_ms).
set -euo pipefail

source "$(dirname "$0")/lib.bash"

start_server

sql "CREATE TABLE r (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10), y DOUBLE);
INSERT INTO r VALUES (1, 'a wonderful film', 'pos', -1e155), (2, 'terrible boring', 'neg', 1e155),
 (3, 'delightful', 'pos', -1e155), (4, 'awful acting', 'neg', 1e155);" || fail "setup"
Q="max_length = 16, batch_size = 4, validation_fraction = 0"

# The bert-tiny test model has hidden size 32: adapter_size up to 128.
# Refused before a row is read (1231), as docs/adapters.md says of values out of range.
expect_error "CREATE ADAPTER big OPTIONS (adapter_size = 129, $Q) AS SELECT txt, label FROM r" 1231 \
	"Option 'adapter_size' can't be set to the value of '129': 129 is out of range [1, 128] (at most 4 × the base model's hidden size 32)"
expect_error "CREATE ADAPTER lr OPTIONS (learning_rate = 0) AS SELECT txt, label FROM r" 1231 'must be a number in (0, 10]'
expect_error "CREATE ADAPTER cw OPTIONS (class_weights = balanced, task = regression, $Q) AS SELECT txt, y FROM r" 1231 \
	"balanced weighs classes, so it needs a classification task; task is regression"
# An inferred task is known once the rows are read (1105, naming the inferred task).
expect_error "CREATE ADAPTER cw OPTIONS (class_weights = balanced, $Q) AS SELECT txt, y FROM r" 1105 \
	"balanced weighs classes, so it needs a classification task; this one is regression"

# The statement's info line, as the server logs it, counts in words that agree.
sql "CREATE ADAPTER s OPTIONS (epochs = 1, adapter_size = 128, $Q) AS SELECT txt, label FROM r" || fail "CREATE ADAPTER s"
grep -qF 'result="adapter s: classification, 2 labels, 1 epoch"' "$WORK/server.log" ||
	fail "info line: $(grep -o 'result=.*' "$WORK/server.log")"
pass "info line says 1 epoch"
got=$(mariadb -h 127.0.0.1 -P "$PORT" -u root --show-warnings -e "CREATE ADAPTER s_note OPTIONS (epochs = 1, $Q) AS SELECT txt, label FROM r" 2>&1)
grep -qF "Note (Code 1642): adapter s_note: classification, 2 labels, 1 epoch" <<<"$got" || fail "no summary note: $got"
sql "DROP ADAPTER s_note"
pass "the summary reaches the mariadb client as a note (SHOW WARNINGS)"

expect "SELECT version FROM adapterdb.adapters WHERE name = 's'" "1"
sql "CREATE OR REPLACE ADAPTER s OPTIONS (epochs = 1, $Q) AS SELECT txt, label FROM r" || fail "replace"
expect "SELECT version FROM adapterdb.adapters WHERE name = 's'" "2"
sql "DROP ADAPTER s; CREATE ADAPTER s OPTIONS (epochs = 1, $Q) AS SELECT txt, label FROM r" || fail "re-create"
expect "SELECT version FROM adapterdb.adapters WHERE name = 's'" "1"

sql "CREATE ADAPTER huge OPTIONS (epochs = 1, task = regression, $Q) AS SELECT txt, y FROM r" || fail "±1e155 targets"
expect "SELECT ABS(PREDICT('huge', 'a wonderful film')) < 1e156, JSON_EXTRACT(metrics, '\$.validation') IS NULL FROM adapterdb.adapters WHERE name = 'huge'" $'1\t1'

stop_server
grep -q 'startup_ms=' "$WORK/server.log" || fail "no startup_ms in the log"
grep -qE '(took|startup|grace)=' "$WORK/server.log" && fail "a duration log field without its unit: $(grep -E '(took|startup|grace)=' "$WORK/server.log")"
pass "log durations carry their unit"
