#!/usr/bin/env bash
# make demo: from a fresh checkout, serve a fresh database file on the demo
# model, load the fortunes data set (testdata/datasets) into tables with the
# MariaDB client, train an adapter with CREATE ADAPTER, print its accuracy on
# the test split from a SELECT ... PREDICT(...) query, restart the server and
# query the same file again (tables and adapters are durable), and stop.
#
#   bash testdata/demo.sh bin/adapterdb
#
# The demo model is untrained (random weights): an adapter on it learns from
# scratch, so expect an accuracy above the majority class, not a good
# classifier. Point --model at a real checkpoint (ADAPTERDB_MODEL=DIR) for one.
set -euo pipefail

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${ADAPTERDB_MODEL:-demo}
WORK=$(mktemp -d)
SERVER=""
cleanup() {
	if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then kill -TERM "$SERVER"; wait "$SERVER" || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

if ! command -v mariadb >/dev/null; then
	say "installing the MariaDB client"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q mariadb-client python3
fi
PY=python3
command -v "$PY" >/dev/null || { echo "python3 is needed to convert the CSV files" >&2; exit 1; }

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "starting: adapterdb serve --db demo.db --model $MODEL --listen 127.0.0.1:$PORT"
"$BIN" serve --db "$WORK/demo.db" --model "$MODEL" --listen "127.0.0.1:$PORT" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 300); do
	mariadb -h 127.0.0.1 -P "$PORT" -u root -e 'SELECT 1' >/dev/null 2>&1 && break
	kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
	sleep 0.1
done
grep -E "featurizer loaded|ready" "$WORK/server.log" | sed 's/^/   /'

sql() { mariadb -h 127.0.0.1 -P "$PORT" -u root --default-character-set=utf8mb4 --table "$@"; }

# The CSV files quote with "" (RFC 4180), which LOAD DATA here does not read:
# convert them to tab-separated lines (the texts hold no tabs or newlines).
for split in train test; do
	"$PY" - "$ROOT/testdata/datasets/fortunes_$split.csv" "$WORK/$split.tsv" <<'PY'
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-8") as dst:
    rows = csv.reader(src)
    next(rows)
    for text, label in rows:
        dst.write(text + "\t" + label + "\n")
PY
done

say "loading testdata/datasets/fortunes_{train,test}.csv with LOAD DATA LOCAL INFILE"
sql --local-infile=1 -e "
CREATE TABLE fortunes_train (text TEXT NOT NULL, label VARCHAR(20) NOT NULL);
CREATE TABLE fortunes_test (text TEXT NOT NULL, label VARCHAR(20) NOT NULL);
LOAD DATA LOCAL INFILE '$WORK/train.tsv' INTO TABLE fortunes_train FIELDS ESCAPED BY '';
LOAD DATA LOCAL INFILE '$WORK/test.tsv' INTO TABLE fortunes_test FIELDS ESCAPED BY '';
SELECT (SELECT COUNT(*) FROM fortunes_train) AS train_rows, (SELECT COUNT(*) FROM fortunes_test) AS test_rows,
       (SELECT COUNT(DISTINCT label) FROM fortunes_train) AS labels;"

TRAIN="CREATE ADAPTER fortunes OPTIONS (pool = 'mean', epochs = 4, max_length = 64, learning_rate = 0.003)
  AS SELECT text, label FROM fortunes_train"
say "training: $TRAIN"
# Progress: SHOW PROCESSLIST while CREATE ADAPTER runs.
(
	while kill -0 "$SERVER" 2>/dev/null; do
		sleep 10
		state=$(mariadb -h 127.0.0.1 -P "$PORT" -u root --batch --skip-column-names -e "SHOW PROCESSLIST" 2>/dev/null |
			grep -o 'epoch [0-9]*/[0-9]* step [0-9]*/[0-9]* loss [0-9.]* ([0-9]*/[0-9]* rows)' | head -1)
		[ -n "$state" ] && echo "   SHOW PROCESSLIST: $state"
	done
) &
WATCH=$!
start=$(date +%s)
sql -e "$TRAIN"
kill "$WATCH" 2>/dev/null || true
wait "$WATCH" 2>/dev/null || true
echo "   trained in $(($(date +%s) - start)) s"
sql -e "SELECT name, task, JSON_LENGTH(labels) AS labels, adapter_size, params, size_bytes,
  JSON_EXTRACT(metrics, '$.validation.accuracy') AS val_accuracy FROM adapterdb.adapters"

say "accuracy on the test split: SELECT ... PREDICT('fortunes', text) ..."
sql -e "SELECT COUNT(*) AS test_rows,
       ROUND(AVG(PREDICT('fortunes', text) = label), 4) AS accuracy,
       ROUND((SELECT COUNT(*) FROM fortunes_test WHERE label = (
           SELECT label FROM fortunes_train GROUP BY label ORDER BY COUNT(*) DESC LIMIT 1)) / COUNT(*), 4) AS majority_class
FROM fortunes_test"
sql -e "SELECT label, COUNT(*) AS test_rows, SUM(PREDICT('fortunes', text) = label) AS correct
FROM fortunes_test GROUP BY label ORDER BY label"
sql -e "SELECT LEFT(text, 60) AS text, label, PREDICT('fortunes', text) AS predicted,
       ROUND(JSON_EXTRACT(PREDICT_PROBA('fortunes', text), CONCAT('$.', PREDICT('fortunes', text))) + 0, 3) AS p
FROM fortunes_test LIMIT 5"

stop() {
	kill -TERM "$SERVER"
	wait "$SERVER"
	SERVER=""
	grep -E "shutting down|server stopped" "$WORK/server.log" | tail -1 | sed 's/^/   /'
}
start() {
	"$BIN" serve --db "$WORK/demo.db" --model "$MODEL" --listen "127.0.0.1:$PORT" 2>>"$WORK/server.log" &
	SERVER=$!
	for _ in $(seq 300); do
		mariadb -h 127.0.0.1 -P "$PORT" -u root -e 'SELECT 1' >/dev/null 2>&1 && return 0
		kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "the server did not restart" >&2
	exit 1
}

say "restarting the server on the same file: tables and the adapter are still there"
stop
start
sql -e "SELECT COUNT(*) AS test_rows, ROUND(AVG(PREDICT('fortunes', text) = label), 4) AS accuracy FROM fortunes_test;
SELECT name, version, created_at FROM adapterdb.adapters"

say "stopping the server"
stop
