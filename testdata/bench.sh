#!/usr/bin/env bash
# make bench (second half): `adapterdb bench` on MiniLM-L6- and BERT-base-shaped
# checkpoints with random weights, written by `adapterdb make-checkpoint`, at
# the shapes docs/performance.md reports. Each cell is run RUNS times (default
# 5); the table shows the median seq/s of the runs and their spread
# (min..max), then plain vs adapters vs a 4-adapter mixed batch at (32,128).
#
#   bash testdata/bench.sh bin/adapterdb
#
# Nothing else should run on the machine meanwhile: figures on shared, noisy
# machines are only comparable within one run.
set -euo pipefail

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
RUNS=${RUNS:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

command -v python3 >/dev/null || { echo "python3 is needed to summarise the runs" >&2; exit 1; }

for preset in minilm-l6 bert-base; do
	"$BIN" make-checkpoint --preset "$preset" --out "$WORK/$preset" >/dev/null
done

# cell MODEL B L ITERS [bench flags...]: RUNS JSON lines into $WORK/runs.jsonl.
cell() {
	local model=$1 b=$2 l=$3 iters=$4
	shift 4
	for _ in $(seq "$RUNS"); do
		"$BIN" bench --model "$WORK/$model" --batch "$b" --seq "$l" --iters "$iters" "$@" 2>/dev/null |
			python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["preset"]=sys.argv[1]; print(json.dumps(r))' "$model" >>"$WORK/runs.jsonl"
	done
}

cell minilm-l6 32 128 5
cell minilm-l6 32 32 10
cell minilm-l6 1 128 30
cell minilm-l6 8 64 20
cell bert-base 32 128 2
cell bert-base 32 32 4
cell bert-base 1 128 10
cell bert-base 8 64 6
cell minilm-l6 32 128 5 --adapters 1
cell minilm-l6 32 128 5 --adapters 4
cell bert-base 32 128 2 --adapters 1
cell bert-base 32 128 2 --adapters 4

python3 - "$WORK/runs.jsonl" <<'PY'
import json, statistics, sys
from collections import OrderedDict
cells = OrderedDict()
backend = threads = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    backend, threads = r["backend"], r.get("threads")
    cells.setdefault((r["preset"], r["batch"], r["seq"], r["adapters"]), []).append(r)
print(f"backend {backend}, {threads} threads; median of the runs (min..max)")
print(f"{'model':10} {'B':>3} {'L':>4} {'adapters':>8} {'seq/s':>8} {'spread':>16} {'ms/batch':>9} {'GFLOP/s':>8}")
for (preset, b, l, k), rs in cells.items():
    s = [r["seq_per_s"] for r in rs]
    med = statistics.median(s)
    ms = statistics.median(r["ms_per_batch"] for r in rs)
    gf = statistics.median(r["gflops"] for r in rs)
    print(f"{preset:10} {b:>3} {l:>4} {k:>8} {med:>8.1f} {min(s):>7.1f}..{max(s):<8.1f} {ms:>9.2f} {gf:>8.1f}")
base = {(p, b, l): statistics.median(r["seq_per_s"] for r in rs) for (p, b, l, k), rs in cells.items() if k == 0}
for (p, b, l, k), rs in cells.items():
    if k:
        m = statistics.median(r["seq_per_s"] for r in rs)
        print(f"{p} ({b},{l}) with {k} adapter(s): {m / base[(p, b, l)]:.3f}x plain")
PY
