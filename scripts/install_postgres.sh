#!/usr/bin/env bash
# PostgreSQL's server binaries (initdb, pg_ctl) for the database tests, which start a
# throwaway server of their own (tests/postgres.py): Debian's package, where missing. Never
# fails the build: without it those tests fail naming this script, or are skipped with
# DLBENCH_TEST_WITHOUT=postgres.
set -u
command -v initdb >/dev/null 2>&1 && exit 0
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && exit 0
exec "$(dirname "$0")/apt_install.sh" postgres \
    "the PostgreSQL database tests will fail (or set DLBENCH_TEST_WITHOUT=postgres)" postgresql
