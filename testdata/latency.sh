#!/usr/bin/env bash
# Single-row PREDICT latency over the wire against the featurizer's own (1, L) pass.
#
#   bash testdata/latency.sh bin/adapterdb [serve flags...]
#
# Writes a MiniLM-L6-shaped checkpoint with random weights, serves it, trains a
# small adapter with CREATE ADAPTER (max_length 128, so nothing is truncated),
# then sends one `SELECT PREDICT('lat', %s)` at a time from PyMySQL for a
# 16-token and a 128-token text (the token counts include [CLS] and [SEP]) and
# prints p50/p99 of the round trips next to `adapterdb bench --batch 1 --seq L`
# (the featurizer's median pass) and `bench ... --adapters 1` (the same pass
# through one random adapter of size 64: the model's own work in a PREDICT,
# less its head and its kept last-layer row). p50 over the first is the
# issue's ratio; p50 over the second leaves out the adapter's blocks and
# so is the SQL, wire, tokenisation and scheduling overhead alone;
# docs/performance.md reports both. Extra arguments go to `serve` and
# `bench` alike (e.g. --device cpu:bf16 where the binary has it).
#
# Nothing else should run on the machine meanwhile.
set -euo pipefail

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
EXTRA=("$@")
N=${N:-300}
WORK=$(mktemp -d)
SERVER=""
cleanup() {
	if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

PY=python3
if /usr/bin/python3 -c 'import pymysql' 2>/dev/null; then PY=/usr/bin/python3; fi
"$PY" -c 'import pymysql' || { echo "PyMySQL is missing (make deps)" >&2; exit 1; }

"$BIN" make-checkpoint --preset minilm-l6 --out "$WORK/minilm" >/dev/null 2>&1
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" serve --db "$WORK/lat.db" --model "$WORK/minilm" --listen "127.0.0.1:$PORT" "${EXTRA[@]}" >"$WORK/server.log" 2>&1 &
SERVER=$!

# 16 tokens with [CLS] and [SEP]; the long text repeats known words to 128.
SHORT="the quick brown fox jumps over the lazy dog near the river bank today"
LONG=$("$PY" -c 'w = "the quick brown fox jumps over the lazy dog near the river bank today".split(); print(" ".join((w * 10)[:126]))')
for t in "$SHORT" "$LONG"; do
	"$BIN" tokenize --model "$WORK/minilm" -- "$t" 2>/dev/null | "$PY" -c 'import json,sys; n=len(json.loads(sys.stdin.read())); assert n in (16,128), n'
done

"$PY" - "$PORT" "$N" "$SHORT" "$LONG" >"$WORK/wire.json" <<'PY'
import json, statistics, sys, time
import pymysql
port, n, texts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
for _ in range(100):
    try:
        conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
        break
    except pymysql.err.OperationalError:
        time.sleep(0.1)
cur = conn.cursor()
cur.execute("CREATE TABLE t (txt TEXT, label TEXT)")
rows = [(f"{texts[0]} {i}", "a" if i % 2 else "b") for i in range(32)]
cur.executemany("INSERT INTO t VALUES (%s, %s)", rows)
cur.execute("CREATE ADAPTER lat OPTIONS (epochs = 1, max_length = 128) AS SELECT txt, label FROM t")
out = {}
for text, tokens in ((texts[0], 16), (texts[1], 128)):
    for _ in range(20):
        cur.execute("SELECT PREDICT('lat', %s)", (text,)); cur.fetchall()
    ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        cur.execute("SELECT PREDICT('lat', %s)", (text,)); cur.fetchall()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    out[tokens] = {"p50": statistics.median(ms), "p99": ms[int(0.99 * (len(ms) - 1))]}
print(json.dumps(out))
PY

echo "| text | PREDICT p50 (ms) | p99 (ms) | featurizer (1, L) pass (ms) | p50 / pass | pass with an adapter (ms) | p50 / that |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for L in 16 128; do
	"$BIN" bench --model "$WORK/minilm" --batch 1 --seq "$L" --iters 200 "${EXTRA[@]}" 2>/dev/null >"$WORK/bench$L.json"
	"$BIN" bench --model "$WORK/minilm" --batch 1 --seq "$L" --iters 200 --adapters 1 "${EXTRA[@]}" 2>/dev/null >"$WORK/adapter$L.json"
	"$PY" - "$WORK/wire.json" "$WORK/bench$L.json" "$WORK/adapter$L.json" "$L" <<'PY'
import json, sys
wire = json.load(open(sys.argv[1]))[sys.argv[4]]
p = json.load(open(sys.argv[2]))["ms_per_batch"]
a = json.load(open(sys.argv[3]))["ms_per_batch"]
print(f"| {sys.argv[4]} tokens | {wire['p50']:.2f} | {wire['p99']:.2f} | {p:.2f} | {wire['p50'] / p:.2f}× | {a:.2f} | {wire['p50'] / a:.2f}× |")
PY
done
