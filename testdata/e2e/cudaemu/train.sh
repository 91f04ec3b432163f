#!/usr/bin/env bash
# Training on the cuda backend, end to end over SQL, on the CPU emulator of the
# GPU kernels (a binary built with -tags cudaemu; make test-emu builds it):
#
#   go build -tags cudaemu -o /tmp/adapterdb-emu ./cmd/adapterdb
#   bash testdata/e2e/cudaemu/train.sh /tmp/adapterdb-emu
#
# - `serve --device cuda:fp32`, `cuda:bf16` and `cuda:fp16` train on the cuda
#   backend with CREATE ADAPTER; the stored metrics name the backend;
# - the same job on `--device cpu` gives the same predictions and, within the
#   documented tolerance, the same final training loss;
# - `adapterdb train --device cuda` trains from the command line.
set -euo pipefail

source "$(dirname "$0")/../lib.bash"

QUICK="OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8, learning_rate = 0.01, seed = 7)"
ROWS="INSERT INTO reviews VALUES (1, 'a wonderful delightful film', 'pos'), (2, 'terrible boring awful', 'neg'),
 (3, 'delightful and wonderful', 'pos'), (4, 'awful, terrible acting', 'neg'), (5, 'wonderful cast', 'pos'),
 (6, 'boring plot', 'neg'), (7, 'great wonderful fun', 'pos'), (8, 'dull awful mess', 'neg');"
PROBE="SELECT PREDICT('sent', 'wonderful delightful fun'), PREDICT('sent', 'awful boring mess')"

# The backend the cuda server trains on.
WANT_TRAINER="emulated-cuda/*"

# train_on DEVICE: a fresh database, CREATE ADAPTER on DEVICE; sets $backend
# (the stored metrics' trainer) and $preds.
train_on() {
	rm -f "$WORK/e2e.db"
	SERVE_FLAGS=(--device "$1")
	start_server
	sql "CREATE TABLE reviews (id INT PRIMARY KEY, txt TEXT, label VARCHAR(10)); $ROWS
CREATE ADAPTER sent $QUICK AS SELECT txt, label FROM reviews;" || fail "$1: CREATE ADAPTER"
	backend=$(sql "SELECT JSON_UNQUOTE(JSON_EXTRACT(metrics, '\$.backend')) FROM adapterdb.adapters WHERE name = 'sent'")
	preds=$(sql "$PROBE")
	loss=$(sql "SELECT JSON_EXTRACT(metrics, '\$.train_loss') FROM adapterdb.adapters WHERE name = 'sent'")
	stop_server
}

train_on cpu
cpu_preds=$preds cpu_loss=$loss
[ "$cpu_preds" = "pos	neg" ] || fail "cpu training did not learn the probe: [$cpu_preds]"
pass "cpu: CREATE ADAPTER learns ($backend)"

for dev in cuda:fp32 cuda:bf16 cuda:fp16; do
	train_on "$dev"
	case "$backend" in $WANT_TRAINER) ;; *) fail "$dev: metrics say backend [$backend], want $WANT_TRAINER";; esac
	[ "$preds" = "$cpu_preds" ] || fail "$dev: predictions [$preds] differ from cpu training's [$cpu_preds]"
	# The final training loss agrees with cpu training's: to 1e-3 relative in
	# fp32, 5% in bf16/fp16 (docs/cuda.md#training).
	tol=0.05
	[ "$dev" = cuda:fp32 ] && tol=0.001
	awk -v a="$loss" -v b="$cpu_loss" -v t="$tol" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t * b) }' ||
		fail "$dev: train_loss $loss, cpu training's $cpu_loss (tolerance $tol relative)"
	pass "$dev: CREATE ADAPTER trains on $backend; predictions match cpu, train_loss $loss vs $cpu_loss"
done

# The command line.
printf 'text,label\n' >"$WORK/train.csv"
for i in 1 2 3; do
	printf 'a wonderful delightful film,pos\nterrible boring awful,neg\nwonderful cast,pos\ndull awful mess,neg\n' >>"$WORK/train.csv"
done
"$BIN" train --db "$WORK/cli.db" --model "$MODEL" --device cuda --name cli \
	--set epochs=3 --set max_length=16 --set batch_size=4 --set adapter_size=8 "$WORK/train.csv" >"$WORK/cli.out" 2>"$WORK/cli.log" ||
	{ cat "$WORK/cli.log" >&2; fail "adapterdb train --device cuda"; }
grep -q '"name":"cli"' "$WORK/cli.out" || fail "train --device cuda: unexpected output $(cat "$WORK/cli.out")"
grep -q '"backend":"emulated-cuda/' "$WORK/cli.out" || fail "train --device cuda: metrics do not name the cuda backend: $(cat "$WORK/cli.out")"
pass "adapterdb train --device cuda"
