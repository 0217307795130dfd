#!/usr/bin/env bash
# Create and fill the virtual environment of one implementation that cannot share
# .venv (its manifest names an ENVIRONMENT): `scripts/make_env.sh NAME DIR`.
#
# What goes in comes from the implementation's own package: impls/NAME/requirements.txt
# (pip) and, if present, impls/NAME/debian-packages.txt (shared libraries its wheels
# load but do not ship). The environment is checked by importing the adapter; a
# failed setup removes the half-made environment, so the harness reports it as not
# set up (with the command to retry) instead of failing later inside a worker.
set -euo pipefail
name="$1"
dir="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
reqs="$root/impls/$name/requirements.txt"
debs="$root/impls/$name/debian-packages.txt"
python="${PYTHON:-python3}"

[ -f "$reqs" ] || { echo "make_env: no $reqs" >&2; exit 2; }

if [ -f "$debs" ]; then
    missing=()
    for pkg in $(grep -v '^\s*#' "$debs"); do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "make_env: installing Debian packages ${missing[*]}"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "make_env: $name needs the system packages ${missing[*]} (apt-get install them as root)" >&2
        fi
    fi
fi

fail() {
    echo "make_env: setting up $dir failed; removed it. Retry: make env-$name" >&2
    rm -rf "$dir"
    exit 1
}
trap fail ERR

start=$(date +%s)
rm -rf "$dir"
"$python" -m venv "$dir"
"$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
# The worker runs with the repository on PYTHONPATH: importing the adapter proves
# the framework loads (shared libraries included) next to the harness's worker side.
PYTHONPATH="$root" "$dir/bin/python" -c "import impls; impls.adapter('$name')"
echo "make_env: $dir ready in $(( $(date +%s) - start )) s"
