#!/usr/bin/env bash
# Wheels the GPU machine lacks (Python 3.12, no network), into .whl/ for the trip.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl psutil py-cpuinfo threadpoolctl rich markdown-it-py mdurl pygments scipy
