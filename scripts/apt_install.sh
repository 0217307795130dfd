#!/usr/bin/env bash
# apt_install.sh NAME CONSEQUENCE PACKAGE...: Debian's packages for an optional part of the
# tests (scripts/install_browser.sh, scripts/install_postgres.sh). Never fails the build:
# without root or apt-get, or if apt-get fails, one warning saying what goes without them.
set -u
name=$1 consequence=$2
shift 2
log=/tmp/dlbench-install-$name.log
why=""
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    why="installing it needs root and apt-get"
else
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@"; } \
        >"$log" 2>&1 || why="apt-get failed (see $log)"
fi
if [ -n "$why" ]; then
    echo "WARNING: $name is not installed ($why); $consequence" >&2
fi
exit 0
