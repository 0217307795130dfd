#!/usr/bin/env bash
# Headless Chromium for the HTML report's browser tests: Debian's package, no browser
# download. Never fails the build: without it those tests fail naming `make browser`
# (or are skipped with DLBENCH_TEST_WITHOUT=chromium).
set -u
for name in chromium chromium-browser; do
    command -v "$name" >/dev/null 2>&1 && exit 0
done
exec "$(dirname "$0")/apt_install.sh" chromium "the browser tests will fail (or set DLBENCH_TEST_WITHOUT=chromium)" \
    chromium fonts-dejavu-core
