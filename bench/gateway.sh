#!/usr/bin/env bash
# bench/gateway.sh BUILD_DIR
#
# The agent gateway with many agents (docs/agents.md, "Agent gateway"):
# bench/gateway_agents enrolls AGENTS agents against a running server
# (enrollment over the gateway: token check, CSR signing, one transaction
# each), connects them all with their certificates and says hello, then
# measures ping round trips spread over them while they stay connected.
# Reports the server's RSS before and after the agents connected (the
# per-idle-agent cost) and the rates. Prints a Markdown table on stdout.
# Loopback only; everything is stopped at the end. Environment: AGENTS (1000).
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" && pwd)
AGENTS=${AGENTS:-1000}
say() { echo "[gateway] $*" >&2; }

cmake --build "$BUILD" --target stockade gateway_agents >/dev/null
BIN=$BUILD/stockade
TMP=$(mktemp -d "${TMPDIR:-/tmp}/stk-gateway-bench.XXXXXX")
PID=""
cleanup() {
    if [[ -n $PID ]]; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Silent agents are dropped after 3 heartbeats: make that longer than the run.
"$BIN" serve --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --agent-heartbeat-s 3600 \
    --db "$TMP/stockade.db" --data-dir "$TMP/data" --assets-dir "$REPO" --threads 4 \
    --log-level warn >"$TMP/out" 2>"$TMP/err" &
PID=$!
PORT=""
for _ in $(seq 100); do
    PORT=$(sed -n 's/^gateway listening on .*:\([0-9]*\)$/\1/p' "$TMP/out")
    [[ -n $PORT ]] && break
    sleep 0.1
done
[[ -n $PORT ]] || { say "server did not start"; cat "$TMP/err" >&2; exit 1; }

say "$AGENTS agents against 127.0.0.1:$PORT"
ulimit -n $((AGENTS + 256)) 2>/dev/null || true
"$BUILD/gateway_agents" "$TMP/stockade.db" "$TMP/data" "$PORT" "$AGENTS" "$PID" >"$TMP/res"
val() { sed -n "s/^$1=//p" "$TMP/res"; }
before=$(val rss_before_kb)
after=$(val rss_after_kb)
per=$(awk -v a="$after" -v b="$before" -v n="$AGENTS" 'BEGIN { printf "%.1f", (a - b) / n }')

cat <<MD
### Agent gateway ($AGENTS agents, loopback, release build)

| what | figure |
|---|---|
| enrollments (TLS handshake, token check, CSR signed, one transaction) | $(val enroll_per_s)/s |
| connections with a client certificate + hello/welcome | $(val connect_per_s)/s |
| server RSS before / with $AGENTS idle agents | $((before / 1024)) MB / $((after / 1024)) MB ($per KB per agent) |
| ping round trip while they are connected, p50 / p99 | $(val rtt_p50_us) µs / $(val rtt_p99_us) µs |
MD
