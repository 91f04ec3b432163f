#!/usr/bin/env bash
# make demo: from a fresh checkout, serve a fresh database file, load the
# fortunes data set (testdata/datasets) into tables with the MariaDB client,
# train an adapter with CREATE ADAPTER and, as a baseline, the task head alone
# on the frozen features (OPTIONS (trainable = 'head')), compare both with the
# majority class on the test split with SELECT AVG(PREDICT(...) = label),
# score the adapter with EVALUATE ADAPTER, retrain it with worse options
# (CREATE OR REPLACE, 1 epoch: version 2), compare both versions (name@N)
# and roll back to the better one (ALTER ADAPTER ... SET ACTIVE VERSION),
# restart the server and query the same file again (tables and adapters are
# durable), and stop.
#
#   bash testdata/demo.sh bin/adapterdb [MODEL_DIR]
#   MODEL=DIR make demo
#
# Without a model directory (argument or MODEL) the server runs the embedded
# demo model, whose weights are random (untrained): its features are a random
# projection of the text, so every accuracy here is far below what a
# pretrained checkpoint gives. The script says so in its output, and says how
# to rerun it on a real checkpoint (any directory serve --model accepts).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: bash testdata/demo.sh BIN [MODEL_DIR]   (or MODEL=DIR in the environment)" >&2; exit 2; }
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${2:-${MODEL:-}}
[ "$MODEL" = demo ] && MODEL="" # serve's name for the embedded model
MODEL_FLAGS=()
if [ -n "$MODEL" ]; then
	[ -f "$MODEL/config.json" ] || { echo "MODEL=$MODEL: not a checkpoint directory (no config.json)" >&2; exit 2; }
	MODEL=$(cd "$MODEL" && pwd)
	MODEL_FLAGS=(--model "$MODEL")
fi
WORK=$(mktemp -d)
SERVER=""
cleanup() {
	if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then kill -TERM "$SERVER"; wait "$SERVER" || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
note() { for line; do if [ -n "$line" ]; then printf '   %s\n' "$line"; else echo; fi; done; }

if [ -z "$MODEL" ]; then
	say "base model: the embedded demo model, with RANDOM (untrained) weights"
	note "A BERT-shaped encoder (4 layers, hidden 256) with the bert-base-uncased vocabulary, its" \
		"weights drawn from a fixed seed: its features are a random projection of the text, not a" \
		"language model's. Adapters trained on it learn something, but expect accuracies far below" \
		"what a pretrained checkpoint gives. To use one: MODEL=DIR make demo (see the end)."
else
	say "base model: $MODEL"
	note "The accuracies below are only as good as this checkpoint's features: a pretrained one gives" \
		"meaningful ones; random-weight checkpoints (testdata/models/*, adapterdb make-checkpoint) do not."
fi

if ! command -v mariadb >/dev/null; then
	say "installing the MariaDB client"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q mariadb-client python3
fi
PY=python3
command -v "$PY" >/dev/null || { echo "python3 is needed (a free port, comparing accuracies)" >&2; exit 1; }

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "starting: adapterdb serve --db demo.db ${MODEL:+--model $MODEL }--listen 127.0.0.1:$PORT"
"$BIN" serve --db "$WORK/demo.db" "${MODEL_FLAGS[@]}" --listen "127.0.0.1:$PORT" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 300); do
	mariadb -h 127.0.0.1 -P "$PORT" -u root -e 'SELECT 1' >/dev/null 2>&1 && break
	kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
	sleep 0.1
done
grep -E "featurizer loaded|ready" "$WORK/server.log" | sed 's/^/   /'

sql() { mariadb -h 127.0.0.1 -P "$PORT" -u root --default-character-set=utf8mb4 --table "$@"; }

say "loading testdata/datasets/fortunes_{train,test}.csv with LOAD DATA LOCAL INFILE"
# The CSV files are RFC 4180 ("" quoting, CRLF line ends, a header row);
# ESCAPED BY '' keeps a backslash in a text a backslash.
sql --local-infile=1 -e "
CREATE TABLE fortunes_train (text TEXT NOT NULL, label VARCHAR(20) NOT NULL);
CREATE TABLE fortunes_test (text TEXT NOT NULL, label VARCHAR(20) NOT NULL);
LOAD DATA LOCAL INFILE '$ROOT/testdata/datasets/fortunes_train.csv' INTO TABLE fortunes_train
  FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY ''
  LINES TERMINATED BY '\\r\\n' IGNORE 1 LINES (text, label);
LOAD DATA LOCAL INFILE '$ROOT/testdata/datasets/fortunes_test.csv' INTO TABLE fortunes_test
  FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY ''
  LINES TERMINATED BY '\\r\\n' IGNORE 1 LINES (text, label);
SELECT (SELECT COUNT(*) FROM fortunes_train) AS train_rows, (SELECT COUNT(*) FROM fortunes_test) AS test_rows,
       (SELECT COUNT(DISTINCT label) FROM fortunes_train) AS labels;"

OPTS="pool = 'mean', epochs = 4, max_length = 64, learning_rate = 0.003"
# train NAME OPTIONS: CREATE ADAPTER with its progress from SHOW PROCESSLIST.
train() {
	local stmt="CREATE ADAPTER $1 OPTIONS ($2)
  AS SELECT text, label FROM fortunes_train"
	say "training: $stmt"
	(
		while kill -0 "$SERVER" 2>/dev/null; do
			sleep 10
			state=$(mariadb -h 127.0.0.1 -P "$PORT" -u root --batch --skip-column-names -e "SHOW PROCESSLIST" 2>/dev/null |
				grep -o 'epoch [0-9]*/[0-9]* step [0-9]*/[0-9]* loss [0-9.]* ([0-9]*/[0-9]* rows)' | head -1)
			[ -n "$state" ] && echo "   SHOW PROCESSLIST: $state"
		done
	) &
	local watch=$! start=$(date +%s)
	sql -e "$stmt"
	kill "$watch" 2>/dev/null || true
	wait "$watch" 2>/dev/null || true
	echo "   trained in $(($(date +%s) - start)) s"
}
# The adapter: bottleneck blocks in every layer, LayerNorm copies and the head.
train fortunes "$OPTS"
# The baseline: the same options, but only the head is trained, on the frozen
# base model's features (the bottleneck blocks stay the identity).
train fortunes_head "trainable = 'head', $OPTS"
# params counts every stored tensor; with trainable = 'head' only the head's
# hidden_size x labels weights and its biases were trained.
sql -e "SELECT name, JSON_UNQUOTE(JSON_EXTRACT(options, '$.trainable')) AS trainable, JSON_LENGTH(labels) AS labels,
  params, IF(JSON_UNQUOTE(JSON_EXTRACT(options, '$.trainable')) = 'head',
    (hidden_size + 1) * JSON_LENGTH(labels), params) AS trained_params, size_bytes,
  ROUND(JSON_EXTRACT(metrics, '$.validation.accuracy') + 0, 4) AS val_accuracy FROM adapterdb.adapters ORDER BY name"

say "accuracy on the test split, all three on the same rows: SELECT AVG(PREDICT(...) = label) FROM fortunes_test"
sql -e "SELECT 'majority class' AS predictor, 'nothing: always the most frequent training label' AS trained,
       ROUND(AVG(label = (SELECT label FROM fortunes_train GROUP BY label ORDER BY COUNT(*) DESC LIMIT 1)), 4) AS accuracy
FROM fortunes_test
UNION ALL
SELECT 'fortunes_head', 'the task head only, on frozen features', ROUND(AVG(PREDICT('fortunes_head', text) = label), 4)
FROM fortunes_test
UNION ALL
SELECT 'fortunes', 'adapters + LayerNorm copies + head', ROUND(AVG(PREDICT('fortunes', text) = label), 4)
FROM fortunes_test"
if [ -z "$MODEL" ]; then
	note "The base model's weights are RANDOM (the embedded demo model): whatever is trained here learns" \
		"on a random projection of the text, so every accuracy above stays low. A pretrained checkpoint's" \
		"features carry meaning, and the same statements then give far higher accuracy."
fi
sql -e "SELECT label, COUNT(*) AS test_rows, SUM(PREDICT('fortunes_head', text) = label) AS head_only_correct,
       SUM(PREDICT('fortunes', text) = label) AS adapter_correct
FROM fortunes_test GROUP BY label ORDER BY label"
sql -e "SELECT LEFT(text, 60) AS text, label, PREDICT('fortunes', text) AS predicted,
       ROUND(JSON_EXTRACT(PREDICT_PROBA('fortunes', text), CONCAT('$.', PREDICT('fortunes', text))) + 0, 3) AS p
FROM fortunes_test LIMIT 5"

say "EVALUATE ADAPTER fortunes AS SELECT text, label FROM fortunes_test: the overall metrics"
note "(one row per metric; the per-label rows, precision:<label>, recall:<label>, f1:<label> and" \
	"support:<label>, are left out here)"
# EVALUATE is no table a SELECT can filter: keep the overall rows of its
# tab-separated output and draw the table from them alone.
mariadb -h 127.0.0.1 -P "$PORT" -u root --batch -e "EVALUATE ADAPTER fortunes AS SELECT text, label FROM fortunes_test" |
	awk -F'\t' 'BEGIN { n = 0 } $1 !~ /:/ { m[n] = $1; v[n] = $2; n++; if (length($1) > w1) w1 = length($1); if (length($2) > w2) w2 = length($2) }
	END {
		line = "+" dashes(w1 + 2) "+" dashes(w2 + 2) "+"
		print line; printf "| %-*s | %-*s |\n", w1, m[0], w2, v[0]; print line
		for (i = 1; i < n; i++) printf "| %-*s | %*s |\n", w1, m[i], w2, v[i]
		print line
	}
	function dashes(k,   s) { while (k-- > 0) s = s "-"; return s }'

# A worse retrain, kept as version 2 next to version 1; the better one wins.
stmt="CREATE OR REPLACE ADAPTER fortunes OPTIONS (pool = 'mean', epochs = 1, max_length = 64, learning_rate = 0.003)
  AS SELECT text, label FROM fortunes_train"
say "retraining with worse options (1 epoch): $stmt"
start_s=$(date +%s)
sql -e "$stmt"
echo "   trained in $(($(date +%s) - start_s)) s: version 2, now active; version 1 is kept"
say "both versions, side by side: adapterdb.adapter_versions, then PREDICT('fortunes@1', ...) vs PREDICT('fortunes@2', ...)"
sql -e "SELECT version, active, JSON_UNQUOTE(JSON_EXTRACT(options, '$.epochs')) AS epochs,
  ROUND(JSON_EXTRACT(metrics, '$.validation.accuracy') + 0, 4) AS val_accuracy, size_bytes, created_at
FROM adapterdb.adapter_versions WHERE name = 'fortunes' ORDER BY version"
# One pass over the test split for each version, both in one statement.
read -r acc1 acc2 < <(mariadb -h 127.0.0.1 -P "$PORT" -u root --batch --skip-column-names -e "
SELECT ROUND(AVG(PREDICT('fortunes@1', text) = label), 4), ROUND(AVG(PREDICT('fortunes@2', text) = label), 4) FROM fortunes_test")
sql -e "SELECT $acc1 AS version_1_test_accuracy, $acc2 AS version_2_test_accuracy"
best=$("$PY" -c "import sys; print(1 if float(sys.argv[1]) >= float(sys.argv[2]) else 2)" "$acc1" "$acc2")
say "rolling back to the better version: ALTER ADAPTER fortunes SET ACTIVE VERSION $best"
sql -e "ALTER ADAPTER fortunes SET ACTIVE VERSION $best;
SELECT name, version AS active_version FROM adapterdb.adapters WHERE name = 'fortunes'"
note "PREDICT('fortunes', ...) now means version $best; PREDICT('fortunes@2', ...) still reaches version 2."

stop() {
	kill -TERM "$SERVER"
	wait "$SERVER"
	SERVER=""
	grep -E "shutting down|server stopped" "$WORK/server.log" | tail -1 | sed 's/^/   /'
}
start() {
	"$BIN" serve --db "$WORK/demo.db" "${MODEL_FLAGS[@]}" --listen "127.0.0.1:$PORT" 2>>"$WORK/server.log" &
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

if [ -z "$MODEL" ]; then
	say "next: the same demo on a real checkpoint"
	note "Everything above ran on the embedded model's RANDOM weights. Any Hugging Face checkpoint" \
		"directory of a bert, roberta, distilbert or gpt2 model works (README.md, \"The base model\");" \
		"for example, on a machine with internet access:" \
		"" \
		"  huggingface-cli download sentence-transformers/all-MiniLM-L6-v2 --local-dir minilm" \
		"  MODEL=./minilm make demo        # or: bash testdata/demo.sh bin/adapterdb ./minilm"
fi
