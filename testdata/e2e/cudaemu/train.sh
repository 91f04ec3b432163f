#!/usr/bin/env bash
# Training on the cuda backend, end to end over SQL, on the CPU emulator of the
# GPU kernels (a binary built with -tags cudaemu; make test-emu builds it):
#
#   go build -tags cudaemu -o /tmp/adapterdb-emu ./cmd/adapterdb
#   bash testdata/e2e/cudaemu/train.sh /tmp/adapterdb-emu
#
# - `serve --device cuda` and `--device cuda:bf16` train with CREATE ADAPTER
#   (on the cpu kernels: the cuda backend has no backward kernels yet) and log
#   which backend trained; the stored metrics name it;
# - the adapter trained on the cuda backend predicts its training rows, and the
#   same job on `--device cpu` gives the same predictions;
# - `adapterdb train --device cuda` trains from the command line.
set -euo pipefail

source "$(dirname "$0")/../lib.bash"

QUICK="OPTIONS (epochs = 30, max_length = 16, batch_size = 4, validation_fraction = 0, adapter_size = 8, learning_rate = 0.01, seed = 7)"
ROWS="INSERT INTO reviews VALUES (1, 'a wonderful delightful film', 'pos'), (2, 'terrible boring awful', 'neg'),
 (3, 'delightful and wonderful', 'pos'), (4, 'awful, terrible acting', 'neg'), (5, 'wonderful cast', 'pos'),
 (6, 'boring plot', 'neg'), (7, 'great wonderful fun', 'pos'), (8, 'dull awful mess', 'neg');"
PROBE="SELECT PREDICT('sent', 'wonderful delightful fun'), PREDICT('sent', 'awful boring mess')"

# The backend the cuda server trains on.
WANT_TRAINER="cpu/*"

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
	stop_server
}

train_on cpu
cpu_preds=$preds
[ "$cpu_preds" = "pos	neg" ] || fail "cpu training did not learn the probe: [$cpu_preds]"
pass "cpu: CREATE ADAPTER learns ($backend)"

for dev in cuda cuda:bf16; do
	train_on "$dev"
	case "$backend" in $WANT_TRAINER) ;; *) fail "$dev: metrics say backend [$backend], want $WANT_TRAINER";; esac
	[ "$preds" = "$cpu_preds" ] || fail "$dev: predictions [$preds] differ from cpu training's [$cpu_preds]"
	pass "$dev: CREATE ADAPTER trains on $backend, predictions match cpu"
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
grep -q "training runs on the fallback backend" "$WORK/cli.log" || fail "train --device cuda: no log line naming the fallback trainer"
pass "adapterdb train --device cuda"
