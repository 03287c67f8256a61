#!/usr/bin/env bash
# bench/actions.sh BUILD_DIR
#
# Response actions and the agent gateway with AGENTS agents connected to one
# `stockade serve` (release build, loopback, fresh database and data dir,
# `--agent-listen 127.0.0.1:0`, log level warn, every other setting at its
# default). BUILD_DIR/actions_agents (bench/actions_agents.c) runs the
# server and the agents: the real agent library (agent/agent.h), AGENTS
# agents in this one process driven by LOOPS poll-loop threads (so that one
# agent's fsyncs do not hold up the others, as they would not in separate
# processes), each with its own cluster (bench-0000 ...), its own
# enrollment (token from POST /api/v1/agents/enroll-tokens) and state
# directory, and the --simulate backend (a cluster with a Running pod,
# Kubernetes 1.29 and calico 3.26, so the server's isolate preconditions
# pass), with the agent's default settings (heartbeat 15 s, reconnection
# backoff 1 s doubling to 60 s +-20 %: nothing shortened). Each run measures:
#   1. the server's RSS and CPU (utime + stime from /proc/PID/stat) over
#      IDLE_S seconds, with no agent and with AGENTS idle agents connected;
#   2. ACTIONS isolate actions on distinct pods spread over the agents, CONC
#      at a time: the client's time from POST /api/v1/actions to the GET
#      /api/v1/actions/{id} (polled every POLL_MS ms) that shows
#      `succeeded`, and the record's finished_at - created_at;
#   3. SIGTERM to the server with every agent connected, a new server on
#      the same ports, database and data dir, and the time until GET
#      /api/v1/agents (polled every 200 ms) shows all AGENTS connected.
# Medians of RUNS runs; prints a Markdown table on stdout. Environment:
# AGENTS (1000), ACTIONS (200), CONC (8), LOOPS (8), RUNS (3), IDLE_S (15),
# POLL_MS (5), KEEP (1 keeps the work directories). About 2 minutes a run.
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" && pwd)
AGENTS=${AGENTS:-1000}
ACTIONS=${ACTIONS:-200}
CONC=${CONC:-8}
RUNS=${RUNS:-3}
export LOOPS=${LOOPS:-8}
export IDLE_S=${IDLE_S:-15}
export POLL_MS=${POLL_MS:-5}
KEEP=${KEEP:-0}
say() { echo "[actions] $*" >&2; }

cmake --build "$BUILD" --target stockade actions_agents >/dev/null
BIN=$BUILD/stockade
TMP=$(mktemp -d "${TMPDIR:-/tmp}/stk-actions-bench.XXXXXX")
cleanup() {
    # actions_agents stops its server itself (and the server dies with it).
    if [[ $KEEP == 1 ]]; then
        say "work directories kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Per agent in actions_agents: its socket, its wake-up eventfd, its journal.
# The server raises its own (soft) limit to fit agent_max_connections.
NOFILE=$((AGENTS * 4 + 256))
if (($(ulimit -Sn) < NOFILE)); then
    ulimit -Sn "$NOFILE"
fi
if pgrep -x ingest_client >/dev/null || pgrep -x ingest_raw >/dev/null; then
    say "warning: an ingestion benchmark is running at the same time; figures will suffer"
fi
idle_pct() {
    local a b
    a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep 2
    b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f%%", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}
IDLE0=$(idle_pct)

for run in $(seq "$RUNS"); do
    W=$TMP/run$run
    mkdir -p "$W"
    "$BIN" migrate --db "$W/stockade.db" >/dev/null 2>&1
    TOKEN=$("$BIN" token create --name bench \
        --permissions admin,alerts:read,alerts:manage,response:read,response:manage \
        --db "$W/stockade.db" 2>/dev/null)
    say "run $run of $RUNS: $AGENTS agents, $ACTIONS actions $CONC at a time"
    if ! "$BUILD/actions_agents" "$BIN" "$REPO" "$W" "$TOKEN" "$AGENTS" "$ACTIONS" "$CONC" \
        >"$W/res"; then
        say "actions_agents failed; the server's last words:"
        tail -5 "$W"/server-*.err >&2 || true
        exit 1
    fi
done
IDLE1=$(idle_pct)

# The values of key $1 over the runs, sorted; their median; their range.
vals() { for run in $(seq "$RUNS"); do sed -n "s/^$1=//p" "$TMP/run$run/res"; done | sort -g; }
med() { vals "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
range() { vals "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
dist() { echo "$(med "$1_p50") / $(med "$1_p90") / $(med "$1_p99") / $(med "$1_max")"; }
RSS0=$(med rss_before_kb)
RSS1=$(med rss_idle_kb)
PER=$(awk -v a="$RSS1" -v b="$RSS0" -v n="$AGENTS" 'BEGIN { printf "%.0f", (a - b) / n }')
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
N=$AGENTS

row() { echo "| $1 | $2 | $3 |"; }
CONNECT="$(med connect_s) s; agent side p50 $(med connect_agent_p50_s) s, max"
CONNECT="$CONNECT $(med connect_agent_max_s) s"
ISOLATE="isolate, POST to \`succeeded\` seen by the client, p50 / p90 / p99 / max ms"
ISOLATE="$ISOLATE ($ACTIONS actions, $CONC at a time, GET every $POLL_MS ms)"
STEPS="$(med dispatch_ms_p50) / $(med dispatch_ms_p99), $(med ack_ms_p50) / $(med ack_ms_p99),"
STEPS="$STEPS $(med result_ms_p50) / $(med result_ms_p99)"
RESTART="$(med restart_api_s) s [$(range restart_api_s)]"
RESTART="$RESTART (from SIGTERM: $(med restart_from_term_s) s)"
AGENT_BACK="$(med restart_agent_p50_s) / $(med restart_agent_p90_s)"
AGENT_BACK="$AGENT_BACK / $(med restart_agent_max_s) s"
echo "### Actions and the agent gateway (bench/actions.sh)"
echo
echo "$(nproc) CPUs ($MODEL), shared with other work; CPU idle just before the runs:" \
    "$IDLE0, just after: $IDLE1. $N agents of the real agent library in one process" \
    "($LOOPS poll-loop threads, simulated clusters, default settings: 15 s heartbeat," \
    "backoff 1 s doubling to 60 s), one \`stockade serve\` (release build, defaults, log" \
    "level warn), loopback, same machine; medians of $RUNS runs (range in brackets)."
echo
echo "| what | figure | target |"
echo "|---|---|---|"
row "server RSS, no agent / $N idle agents connected" \
    "$(mb "$RSS0") MB / $(mb "$RSS1") MB ($PER KB per agent) [$(range rss_idle_kb) KB]" \
    "< 150 MB"
row "server CPU over ${IDLE_S} s, no agent / $N idle agents" \
    "$(med cpu_before_pct) % / $(med cpu_idle_pct) % of one CPU [$(range cpu_idle_pct)]" ""
row "enrolling $N agents: tokens over the API, then key, CSR, TLS, certificate (2 at a time)" \
    "$(med enroll_tokens_s) s + $(med enroll_s) s" ""
row "$N agents connecting at once (TLS with certificate, hello), until the API lists all" \
    "$CONNECT" ""
row "$ISOLATE" "$(dist client_ms) [p99 $(range client_ms_p99)]" "p99 < 100 ms"
row "same, the record's finished_at − created_at" "$(dist record_ms)" ""
row "steps p50 / p99 ms: created → dispatched, → acked, → finished" "$STEPS" ""
row "actions per second ($CONC at a time)" "$(med actions_per_s)" ""
row "restart: SIGTERM until the old server exited / the new one listening" \
    "$(med stop_s) s / $(med start_s) s" ""
row "restart: new server started until the API lists all $N connected" "$RESTART" "< 20 s"
row "same, agent side: welcomed again, p50 / p90 / max" "$AGENT_BACK" ""
row "server RSS after the restart, $N agents connected" \
    "$(mb "$(med rss_after_restart_kb)") MB" "< 150 MB"
