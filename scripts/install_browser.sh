#!/usr/bin/env bash
# Headless Chromium for the HTML report's browser tests: Debian's package, no browser
# download. Never fails the build: without it those tests are skipped, with this
# reason shown in pytest's summary.
set -u
for name in chromium chromium-browser; do
    command -v "$name" >/dev/null 2>&1 && exit 0
done
why=""
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    why="installing it needs root and apt-get"
else
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends \
        chromium fonts-dejavu-core; } >/tmp/dlbench-install-chromium.log 2>&1 \
        || why="apt-get failed (see /tmp/dlbench-install-chromium.log)"
fi
if [ -n "$why" ]; then
    echo "WARNING: chromium is not installed ($why); the HTML report's browser tests will be skipped" >&2
fi
exit 0
