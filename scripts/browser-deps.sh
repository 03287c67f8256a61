#!/usr/bin/env bash
# Installs the browser tests' npm packages (pinned by package-lock.json)
# when node_modules is missing or older than the lockfile. Never downloads a
# browser: the tests drive Debian's /usr/bin/chromium.
set -eu
cd "$(dirname "$0")/../tests/browser"
stamp=node_modules/.stockade-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi
