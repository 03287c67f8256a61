#!/usr/bin/env bash
# `make run`: migrate ./data/stockade.db and start the server on
# http://127.0.0.1:8080 in the foreground (Ctrl-C stops it cleanly).
set -eu
build=${1:-build/release}
cd "$(dirname "$0")/.."
mkdir -p data
"$build/stockade" migrate --db data/stockade.db --data-dir data
echo "Stockade: http://127.0.0.1:8080  (health: http://127.0.0.1:8080/healthz)"
exec "$build/stockade" serve --db data/stockade.db --data-dir data --listen 127.0.0.1:8080
