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
agent_bin="$build/stockade-agent"
case $agent_bin in /*) ;; *) agent_bin="$PWD/$agent_bin" ;; esac
agent_listen=127.0.0.1:8443
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
    start_agents
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
# One simulated cluster agent per demo cluster (stockade-agent --simulate:
# the demo's namespaces and pods, in memory), enrolled on first run with a
# one-time token, then reconnecting with its certificate. They log to
# data/agents/CLUSTER/agent.log and stop with the server (Ctrl-C reaches
# the whole process group; an agent whose server is gone keeps retrying
# until then).
start_agents() {
    for cluster in prod-aks payments-eks dev-gke; do
        dir=data/agents/$cluster
        mkdir -p "$dir"
        chmod 700 "$dir"
        if pgrep -f "stockade-agent run --server $agent_listen --state-dir $dir" >/dev/null; then
            continue
        fi
        token_args=""
        if [ ! -f "$dir/agent.crt" ]; then
            token=$("$bin" agent enroll-token --cluster "$cluster" --ttl 10m --db "$db" \
                --data-dir data 2>/dev/null) || {
                echo "run: no enrollment token for $cluster" >&2
                continue
            }
            token_args="--enroll-token $token"
        fi
        # shellcheck disable=SC2086
        "$agent_bin" run --server "$agent_listen" --state-dir "$dir" $token_args --simulate \
            >>"$dir/agent.log" 2>&1 &
    done
    for _ in $(seq 50); do
        n=$(curl -sf "$url/healthz" >/dev/null && sqlite3 "$db" \
            "SELECT count(*) FROM cluster_facts WHERE connected = 1" 2>/dev/null || echo 0)
        [ "$n" -ge 3 ] 2>/dev/null && break
        sleep 0.2
    done
    echo "Simulated cluster agents: prod-aks, payments-eks, dev-gke (logs in data/agents/)"
}

# Started from a subshell that exits at once, so that the helper is not a
# child of the server (which would never reap it).
(load_demo &)

echo "Stockade is starting on $url ..."
exec "$bin" serve --db "$db" --data-dir data --listen "$listen" --agent-listen "$agent_listen" \
    --anon-proxies "$anon_proxies"
