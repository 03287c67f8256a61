#!/usr/bin/env bash
# `make run`: migrate ./data/stockade.db, create the documented demo users on
# a new database, and start the server on http://127.0.0.1:8080 in the
# foreground (Ctrl-C stops it cleanly). Once it answers /healthz, the demo
# scenario (scripts/demo-load.sh, tests/fixtures/demo/) is loaded through the
# ingestion API, then the URL and the sign-ins are printed.
set -eu
build=${1:-build/release}
cd "$(dirname "$0")/.."
bin="$build/stockade"
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
db=data/stockade.db
listen=127.0.0.1:8080
url="http://$listen"
# Tor exit nodes (a well-known range): the demo's stolen token is used from
# 185.220.101.47, which the audit rules flag as an anonymising proxy.
anon_proxies=185.220.101.0/24
mkdir -p data
"$bin" migrate --db "$db" --data-dir data
if [ -z "$("$bin" user list --db "$db")" ]; then
    for u in admin responder analyst viewer; do
        printf 'stockade-%s\n' "$u" | "$bin" user add "$u" --role "$u" --password-stdin --db "$db"
    done
fi

# Runs beside the server (which keeps the foreground): waits for /healthz,
# loads the demo once (a second run stores nothing new), prints the banner.
# $$ is this script's process, which becomes the server.
load_demo() {
    up=0
    for _ in $(seq 300); do
        sleep 0.1
        kill -0 $$ 2>/dev/null || return 0 # the server did not start
        if curl -sf -o /dev/null "$url/healthz" 2>/dev/null; then
            up=1
            break
        fi
    done
    if [ "$up" = 0 ]; then
        echo "run: $url/healthz did not answer within 30 s; demo data not loaded" >&2
        return 0
    fi
    if ! STOCKADE_BIN="$bin" scripts/demo-load.sh "$url" "$db" data; then
        echo "run: loading the demo scenario failed (see above); the server keeps running" >&2
    fi
    kill -0 $$ 2>/dev/null || return 0
    cat <<TXT

Stockade is running on $url  (health: $url/healthz)
Demo sign-ins (user / password):
  admin     / stockade-admin       everything, including users, tokens and the audit log
  responder / stockade-responder   triage, isolate, terminate, release
  analyst   / stockade-analyst     triage (classify, assign, comment)
  viewer    / stockade-viewer      read only
Change these before exposing the server to anyone. Ctrl-C stops the server.

TXT
}
# Started from a subshell that exits at once, so that the helper is not a
# child of the server (which would never reap it).
(load_demo &)

echo "Stockade is starting on $url ..."
exec "$bin" serve --db "$db" --data-dir data --listen "$listen" --anon-proxies "$anon_proxies"
