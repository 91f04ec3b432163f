#!/usr/bin/env bash
# make bench (second half): `adapterdb bench` on MiniLM-L6- and BERT-base-shaped
# checkpoints with random weights, written by `adapterdb make-checkpoint`, at
# the shapes docs/performance.md reports. Each cell is run RUNS times (default
# 5); the table shows the median seq/s of the runs and their spread
# (min..max), then plain vs adapters vs a 4-adapter mixed batch at (32,128),
# in rounds that alternate the three so that drifts in the machine's load hit
# all of them.
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
			python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r["preset"]=sys.argv[1]; r["group"]=sys.argv[2]; print(json.dumps(r))' "$model" "${GROUP:-shapes}" >>"$WORK/runs.jsonl"
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
for _ in $(seq "$RUNS"); do
	for k in 0 1 4; do
		GROUP=adapters RUNS=1 cell minilm-l6 32 128 5 --adapters "$k"
		GROUP=adapters RUNS=1 cell bert-base 32 128 2 --adapters "$k"
	done
done

python3 - "$WORK/runs.jsonl" <<'PY'
import json, statistics, sys
from collections import OrderedDict
cells = OrderedDict()
backend = threads = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    backend, threads = r["backend"], r.get("threads")
    cells.setdefault((r["group"], r["preset"], r["batch"], r["seq"], r["adapters"]), []).append(r)
print(f"backend {backend}, {threads} threads; median of the runs (min..max)")
print(f"{'model':10} {'B':>3} {'L':>4} {'adapters':>8} {'seq/s':>8} {'spread':>16} {'ms/batch':>9} {'GFLOP/s':>8}")
for (group, preset, b, l, k), rs in cells.items():
    s = [r["seq_per_s"] for r in rs]
    ms = statistics.median(r["ms_per_batch"] for r in rs)
    gf = statistics.median(r["gflops"] for r in rs)
    print(f"{preset:10} {b:>3} {l:>4} {k:>8} {statistics.median(s):>8.1f} {min(s):>7.1f}..{max(s):<8.1f} {ms:>9.2f} {gf:>8.1f}")
# Ratios per round (the adapters group alternates 0, 1, 4 adapters), then their median.
for preset in ("minilm-l6", "bert-base"):
    plain = [r["seq_per_s"] for r in cells.get(("adapters", preset, 32, 128, 0), [])]
    for k in (1, 4):
        with_k = [r["seq_per_s"] for r in cells.get(("adapters", preset, 32, 128, k), [])]
        ratios = [w / p for w, p in zip(with_k, plain)]
        if ratios:
            print(f"{preset} (32,128) with {k} adapter(s) / plain, same round: median {statistics.median(ratios):.3f} "
                  f"({', '.join(f'{x:.3f}' for x in ratios)})")
    one = [r["seq_per_s"] for r in cells.get(("adapters", preset, 32, 128, 1), [])]
    four = [r["seq_per_s"] for r in cells.get(("adapters", preset, 32, 128, 4), [])]
    ratios = [f / o for f, o in zip(four, one)]
    if ratios:
        print(f"{preset} (32,128) 4-adapter mixed / 1 adapter, same round: median {statistics.median(ratios):.3f} "
              f"({', '.join(f'{x:.3f}' for x in ratios)})")
PY
