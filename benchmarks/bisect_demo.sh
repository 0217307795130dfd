#!/usr/bin/env bash
# dlbench bisect on a scripted history: a clone of this repository's HEAD plus N commits,
# the K-th of which makes the test-only `slowdown` implementation do FRACTION more work
# (tests/fake_impls/slowdown/fraction.txt); bisect must name that commit.
#
#   benchmarks/bisect_demo.sh [N=8] [K=5] [FRACTION=0.1]
set -euo pipefail
N=${1:-8}
K=${2:-5}
FRACTION=${3:-0.1}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$REPO/.venv/bin/python}
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/dlbench-bisect-demo-XXXXXX")
trap 'rm -rf "$DEMO"' EXIT
git clone -q "$REPO" "$DEMO/repo"
cd "$DEMO/repo"
git() { command git -c user.name=demo -c user.email=demo@dlbench "$@"; }
for i in $(seq 1 "$N"); do
    if [ "$i" -eq "$K" ]; then
        echo "$FRACTION" > tests/fake_impls/slowdown/fraction.txt
        git commit -qam "commit $i: the slowdown implementation does $FRACTION more work"
    else
        echo "<!-- commit $i -->" >> README.md
        git commit -qam "commit $i: a README comment"
    fi
done
echo "slow commit: $(git rev-parse "HEAD~$((N - K))") (commit $K of $N)"
PYTHONPATH="$DEMO/repo" DLBENCH_EXTRA_IMPLS="$DEMO/repo/tests/fake_impls" \
    "$PY" -m cli bisect --good "HEAD~$N" --bad HEAD --impl slowdown --scenario sigmoid --size small \
    --threads 1 --samples 10 --min-time 0.02 --warmup 0.1 --pairs 10 --threshold 3% --out "$DEMO/out"
