#!/usr/bin/env bash
# device-check.sh OUTDIR: the CUDA backend's checks on a machine with an
# NVIDIA GPU (sm_80 or newer), no network needed, about 5 minutes (hard
# stop before 8).
#
# It builds nothing. It runs the cuda-tagged binaries built elsewhere by
#   make -C kernels/cuda device-bundle   (bin/cuda-bundle/*.gz: what a run carries)
# or make -C kernels/cuda build-cuda      (bin/cuda/adapterdb, bin/cuda/cuda.test)
# and the repository's testdata. cuBLAS comes from the PyTorch install when
# the dynamic linker does not already find libcublas.so.13, .12, .11 or libcublas.so.
#
# Writes into OUTDIR:
#   env.txt       GPU, driver, glibc, PyTorch, cuBLAS found (the libraries the
#                 backend loaded are in bench.log: "cuBLAS loaded", "cuBLASLt loaded")
#   tests.log     go test -v: conformance suite (fp32), 16-bit ops, goldens
#                 (hidden states and adapters, fp32/bf16/fp16, kernels and cuBLAS),
#                 mixed-adapter batches against per-adapter batches
#   bench.jsonl   `adapterdb bench --device cuda:...` lines, tagged with preset and precision
#   torch.jsonl   the PyTorch eager baseline (torchbench.py), same shapes
#   train.jsonl   `adapterdb train --device ...` lines (kind speed: examples/s on
#                 the GPU; kind agree: the same job on cpu and on the GPU)
#   torch_train.jsonl  the PyTorch adapter-training baseline (torchbench.py --train)
#   wire.jsonl    SELECT PREDICT over the wire vs adapterdb bench (testdata/wire_throughput.py)
#   gobench.txt   GPU memory per model and adapter, GEMM (own, cuBLASLt epilogues,
#                 cuBLAS without them), attention and add+LayerNorm kernels
#   summary.md, summary.json   the figures against the bars, and the test verdicts
#   steps.txt     each step's exit status and seconds
set -uo pipefail

OUT=${1:?usage: device-check.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)
LIMIT=${DEVICE_CHECK_LIMIT:-450} # seconds for everything (the caller allows 8 minutes)

# left prints the seconds left, less a margin for the summary.
left() { echo $((LIMIT - ($(date +%s) - START) - 15)); }

# step NAME BUDGET CMD...: runs CMD with a timeout of min(BUDGET, what is left).
step() {
	local name=$1 budget=$2 t0 rc
	shift 2
	local l
	l=$(left)
	if ((l < 10)); then
		echo "$name skipped (no time left)" | tee -a "$OUT/steps.txt"
		return 0
	fi
	((budget > l)) && budget=$l
	t0=$(date +%s)
	timeout --kill-after=5 "$budget" "$@"
	rc=$?
	echo "$name rc=$rc seconds=$(($(date +%s) - t0)) budget=$budget" | tee -a "$OUT/steps.txt"
	return 0
}
: >"$OUT/steps.txt"

# ---- binaries ----
BIN=$WORK/bin
mkdir -p "$BIN"
if [[ -f $ROOT/bin/cuda-bundle/adapterdb.gz ]]; then
	gunzip -c "$ROOT/bin/cuda-bundle/adapterdb.gz" >"$BIN/adapterdb"
	gunzip -c "$ROOT/bin/cuda-bundle/cuda.test.gz" >"$BIN/cuda.test"
elif [[ -x $ROOT/bin/cuda/adapterdb ]]; then
	cp "$ROOT/bin/cuda/adapterdb" "$ROOT/bin/cuda/cuda.test" "$BIN/"
else
	echo "device-check: no binaries: run make -C kernels/cuda device-bundle (or build-cuda) first" >&2
	exit 2
fi
chmod +x "$BIN/adapterdb" "$BIN/cuda.test"
ADB=$BIN/adapterdb

# The test binary is built with -trimpath: it finds testdata at the module
# path relative to its working directory.
GOPATHDIR=$WORK/src
mkdir -p "$GOPATHDIR/github.com/adapterdb"
ln -s "$ROOT" "$GOPATHDIR/github.com/adapterdb/adapterdb"

# One JIT cache for every process of the run: the PTX is compiled once.
export CUDA_CACHE_PATH=$WORK/nvcache CUDA_CACHE_MAXSIZE=1073741824
export ADAPTERDB_REQUIRE_GPU=1

# cuBLAS: the dynamic linker's, else the one PyTorch ships.
if ! ldconfig -p 2>/dev/null | grep -qE 'libcublas\.so(\.1[0-9])? '; then
	CUBLAS_DIR=$(python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
try:
    import torch
    roots.insert(0, os.path.dirname(torch.__file__))
except Exception:
    pass
for r in roots:
    for pat in ("nvidia/cublas/lib/libcublas.so.1*", "lib/libcublas.so.1*", "../nvidia/cublas/lib/libcublas.so.1*"):
        hits = sorted(glob.glob(os.path.join(r, pat)))
        if hits:
            print(os.path.dirname(os.path.realpath(hits[-1])))
            sys.exit(0)
PY
	)
	[[ -n ${CUBLAS_DIR:-} ]] && export LD_LIBRARY_PATH=$CUBLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

{
	echo "date: $(date -u +%FT%TZ)"
	echo "host: $(uname -a)"
	echo "glibc: $(ldd --version 2>&1 | head -1)"
	nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
	python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1
	echo "cublas dir: ${CUBLAS_DIR:-(dynamic linker)}"
	echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
} >"$OUT/env.txt" 2>&1

# ---- 1. correctness on the GPU ----
(cd "$GOPATHDIR" && step tests 240 "$BIN/cuda.test" -test.v -test.timeout 235s \
	-test.run 'TestConformance|TestLowPrecisionOps|TestGoldenHiddenStates|TestAdapterGoldens|TestMixedEqualsPerAdapter|TestTrainerConformance|TestLowPrecisionBackward|TestAdamW|TestTrainMatchesCPU' \
	>"$OUT/tests.log" 2>&1)

# ---- 2. adapterdb bench against PyTorch ----
step checkpoints 60 bash -c "'$ADB' make-checkpoint --preset minilm-l6 --out '$WORK/minilm-l6' &&
	'$ADB' make-checkpoint --preset bert-base --out '$WORK/bert-base'" >"$OUT/checkpoints.log" 2>&1

# bench PRESET DEVICE B L ADAPTERS: one adapterdb bench line, tagged.
bench() {
	local preset=$1 dev=$2 b=$3 l=$4 k=$5 iters=20
	((b == 1)) && iters=50
	local line
	line=$(step "bench $preset $dev B=$b L=$l adapters=$k" 60 "$ADB" bench --model "$WORK/$preset" --device "$dev" \
		--batch "$b" --seq "$l" --iters "$iters" --adapters "$k" 2>>"$OUT/bench.log" | grep '^{' | tail -1)
	[[ -n $line ]] && echo "{\"preset\":\"$preset\",\"device\":\"$dev\",${line#\{}" >>"$OUT/bench.jsonl"
}
: >"$OUT/bench.jsonl"
for preset in minilm-l6 bert-base; do
	for dt in fp16 bf16; do
		for shape in "128 128" "32 128" "1 128"; do
			bench "$preset" "cuda:$dt" $shape 0
		done
	done
	# 16 adapters in one mixed pass against one adapter over the same batch.
	for shape in "128 128" "32 128"; do
		bench "$preset" cuda:fp16 $shape 1
		bench "$preset" cuda:fp16 $shape 16
	done
done
# The package's own tensor-core kernels, and the fp32 path, for reference.
# nolt: cuBLAS without the cuBLASLt epilogues (bias/activation as separate
# passes, as before issue 14): what the epilogues are worth.
bench bert-base cuda:fp16,nolt 128 128 0
bench minilm-l6 cuda:fp16,nolt 128 128 0
bench bert-base cuda:fp16,nocublas 128 128 0
bench bert-base cuda:fp16,nocublas 128 128 16
bench bert-base cuda:fp32 32 128 0

step torch 120 python3 "$HERE/torchbench.py" --preset minilm-l6 --preset bert-base \
	--shape 128,128 --shape 32,128 --shape 1,128 --dtype fp16 --dtype bf16 --iters 20 \
	>"$OUT/torch.jsonl" 2>"$OUT/torch.log"

# ---- 2b. adapter training against PyTorch, and against cpu training ----
# Speed: `adapterdb train --device cuda:DT` on 4,096 texts that all fill
# max_length 128 (fixed-shape batches of 32, adapter size 64, one epoch, no
# validation: metrics.examples_per_s is the training loop's rate) against
# torchbench.py --train at the same shape. Agreement: the same job (192
# fortunes rows, 2 epochs, validation 0.25, seed 7; small enough for the cpu
# backend without OpenBLAS) on cpu and on the GPU in
# each precision; devicecheck_summary.py compares the losses against
# docs/cuda.md's tolerance.
# train_run KIND PRESET DEVICE CSV SETS...: one `adapterdb train` line, tagged.
train_run() {
	local kind=$1 preset=$2 dev=$3 csv=$4 line
	shift 4
	local db=$WORK/train-$kind-$preset-${dev//[:,]/_}.db
	local sets=() b=0 l=0
	for kv in "$@"; do
		sets+=(--set "$kv")
		case $kv in batch_size=*) b=${kv#*=} ;; max_length=*) l=${kv#*=} ;; esac
	done
	line=$(step "train $kind $preset $dev" 60 "$ADB" train --db "$db" --model "$WORK/$preset" --device "$dev" \
		--name t "${sets[@]}" "$csv" 2>>"$OUT/train.log" | grep '^{' | tail -1)
	[[ -n $line ]] && echo "{\"kind\":\"$kind\",\"preset\":\"$preset\",\"device\":\"$dev\",\"batch\":$b,\"seq\":$l,${line#\{}" >>"$OUT/train.jsonl"
}
: >"$OUT/train.jsonl"
python3 "$HERE/trainset.py" speed 4096 "$WORK/train-speed.csv"
python3 "$HERE/trainset.py" agree 192 "$WORK/train-agree.csv"
SPEED=(epochs=1 batch_size=32 max_length=128 adapter_size=64 validation_fraction=0 seed=7)
for dt in bf16 fp16; do
	train_run speed minilm-l6 "cuda:$dt" "$WORK/train-speed.csv" "${SPEED[@]}"
done
train_run speed bert-base cuda:bf16 "$WORK/train-speed.csv" "${SPEED[@]}"
AGREE=(epochs=2 batch_size=16 max_length=32 adapter_size=16 validation_fraction=0.25 seed=7)
for dev in cpu cuda:fp32 cuda:bf16 cuda:fp16; do
	train_run agree minilm-l6 "$dev" "$WORK/train-agree.csv" "${AGREE[@]}"
done
step torch-train 90 python3 "$HERE/torchbench.py" --train --preset minilm-l6 --preset bert-base \
	--shape 32,128 --dtype bf16 --dtype fp16 --adapter-size 64 --iters 20 \
	>"$OUT/torch_train.jsonl" 2>"$OUT/torch_train.log"

# ---- 3. memory and kernels ----
(cd "$GOPATHDIR" && step gobench-memory 60 "$BIN/cuda.test" -test.run '^$' -test.bench 'BenchmarkDeviceMemory' \
	-test.benchtime 1x >"$OUT/gobench.txt" 2>&1)
(cd "$GOPATHDIR" && step gobench-kernels 90 "$BIN/cuda.test" -test.run '^$' \
	-test.bench 'BenchmarkGemm|BenchmarkAttention|BenchmarkAddNorm' -test.benchtime 20x >>"$OUT/gobench.txt" 2>&1)

# ---- 4. the SQL path over the wire ----
# SELECT PREDICT over 20,000 fortunes rows from one session and from eight,
# against `adapterdb bench --adapters 1` at the same batch and the texts'
# mean token count (testdata/wire_throughput.py, with its own minimal MySQL
# client: no PyMySQL needed). Issue 14's bar: >= 0.8x.
: >"$OUT/wire.jsonl"
for b in 64 256; do
	step "wire B=$b" 100 python3 "$ROOT/testdata/wire_throughput.py" --adb "$ADB" --model "$WORK/minilm-l6" \
		--device cuda:bf16 --batch "$b" --rows 20000 --max-length 64 --sessions 8 --rounds 2 \
		--log "$OUT/wire-server-$b.log" >>"$OUT/wire.jsonl" 2>>"$OUT/wire.log"
done

# ---- summary ----
LIMIT=$((LIMIT + 15)) step summary 15 python3 "$HERE/devicecheck_summary.py" "$OUT"
echo "device-check: $(($(date +%s) - START)) s; results in $OUT"
