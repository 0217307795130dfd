#!/usr/bin/env bash
# The GPU check (issue 9), one short script for the GPU machine: its python3 has CUDA
# PyTorch, CuPy and pandas but not this project's other dependencies and no network,
# so wheels for those travel in .whl/ (see scripts/fetch_gpu_wheels.sh). Then: the
# machine's GPU peaks, the medium suite on cuda for torch and cupy, and the HTML report,
# all under $OUT (the folder the GPU machine hands back).
# Here, without a GPU, DEVICE=cpu runs the same path:  DEVICE=cpu SIZE=tiny OUT=/tmp/g scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-out/gpu}
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-medium}
IMPLS=${IMPLS:-torch,cupy}
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/dlbench-site .whl/*.whl
    export PYTHONPATH=/tmp/dlbench-site:$PWD
else
    export PYTHONPATH=$PWD
fi
mkdir -p "$OUT"
command -v nvidia-smi > /dev/null && nvidia-smi > "$OUT/nvidia-smi.txt" || true
start=$(date +%s)
$PY -m cli machine --device "$DEVICE" --impl "$IMPLS" --out "$OUT/results"
$PY -m cli run --device "$DEVICE" --size "$SIZE" --impl "$IMPLS" --out "$OUT/results" --resume \
    --timeout 300 --quiet --no-machine-probe
$PY -m cli report "$OUT/results" --format markdown --html "$OUT/report.html" | tee "$OUT/table.md"
echo "gpu check: $(( $(date +%s) - start )) s" | tee -a "$OUT/table.md"
