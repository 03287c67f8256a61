#!/usr/bin/env bash
# bench/run-all.sh BUILD_DIR: runs every bench/*.sh benchmark against the
# binaries in BUILD_DIR, one after the other (they would skew each other),
# and prints their Markdown reports to stdout. `make bench` calls it.
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
failed=0
for bench in "$here"/*.sh; do
    [[ $(basename "$bench") == run-all.sh ]] && continue
    echo "[run-all] $(basename "$bench")" >&2
    if ! bash "$bench" "$1"; then
        echo "[run-all] $(basename "$bench") FAILED" >&2
        failed=1
    fi
    echo
done
exit "$failed"
