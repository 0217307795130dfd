#!/usr/bin/env bash
# PostgreSQL's server binaries (initdb, pg_ctl) for the database tests, which start a
# throwaway server of their own (tests/postgres.py): Debian's package, where missing. Never
# fails the build: without it those tests fail naming this script, or are skipped with
# DLBENCH_TEST_WITHOUT=postgres.
set -u
command -v initdb >/dev/null 2>&1 && exit 0
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && exit 0
why=""
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    why="installing it needs root and apt-get"
else
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends \
        postgresql; } >/tmp/dlbench-install-postgres.log 2>&1 \
        || why="apt-get failed (see /tmp/dlbench-install-postgres.log)"
fi
if [ -n "$why" ]; then
    echo "WARNING: PostgreSQL is not installed ($why); the PostgreSQL database tests will fail (or set DLBENCH_TEST_WITHOUT=postgres)" >&2
fi
exit 0
