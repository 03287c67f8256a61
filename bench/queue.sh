#!/usr/bin/env bash
# bench/queue.sh BUILD_DIR
#
# The incident queue and the incident page under load, on a loaded
# database: INCIDENTS incidents holding ALERTS alerts (100,000 and
# 1,000,000 by default). The database is seeded once by
# BUILD_DIR/queue_seed (bench/queue_seed.c: alerts through the ingestion
# service svc_ingest_store(), triage through the incident services, so
# every invariant holds) and kept in build/bench-queue/ with the token the
# runs use; it is seeded again when migrations/ or bench/queue_seed.c
# change, or with RESEED=1.
#
# Each of RUNS rounds runs wrk --latency -t2 -c32 for DURATION seconds, in
# turn, against `stockade serve` (THREADS workers, more than the
# connections) with an API token as Bearer:
#   - GET /healthz (one SQLite query, no authorization: the bare baseline);
#   - GET /api/v1/incidents?status=active&limit=50 (the queue's first page
#     with its per-filter counts);
#   - GET /api/v1/incidents/{id} over 1,000 incidents holding exactly 10
#     alerts (the incident page's API), cycling.
# Prints a Markdown table of the medians (and the range of the runs) on
# stdout. Environment: RUNS (3), DURATION (20), CONNS (32), THREADS (48),
# INCIDENTS (100000), ALERTS (1000000), RESEED (0).
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
CONNS=${CONNS:-32}
THREADS=${THREADS:-48}
INCIDENTS=${INCIDENTS:-100000}
ALERTS=${ALERTS:-1000000}
RESEED=${RESEED:-0}
STOCKADE=$BUILD/stockade
for tool in wrk curl timeout sha256sum; do
    if ! command -v "$tool" >/dev/null; then
        echo "$0: $tool is missing" >&2
        exit 1
    fi
done
for bin in stockade queue_seed; do
    if [[ ! -x $BUILD/$bin ]]; then
        echo "$0: $BUILD/$bin not built (cmake --build $BUILD)" >&2
        exit 1
    fi
done
say() { echo "[queue] $*" >&2; }

# ---- the seeded database, reused while the schema and the seeder stay ----
CACHE=$REPO/build/bench-queue
DB=$CACHE/queue-$INCIDENTS-$ALERTS.db
STAMP=$(cat "$REPO"/migrations/*.sql "$REPO/bench/queue_seed.c" | sha256sum | cut -c1-16)
ANALYSTS=alice,bob,carol,dave,erin,frank,grace,heidi
mkdir -p "$CACHE"
if [[ $RESEED == 1 || ! -f $DB || ! -f $DB.token || $(cat "$DB.stamp" 2>/dev/null) != "$STAMP" ]]; then
    say "seeding $DB ($INCIDENTS incidents, $ALERTS alerts); takes a few minutes"
    rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.token" "$DB.stamp"
    "$STOCKADE" migrate --db "$DB" >/dev/null 2>&1
    for u in ${ANALYSTS//,/ }; do
        printf 'bench-%s-password\n' "$u" |
            "$STOCKADE" user add "$u" --role analyst --password-stdin --db "$DB" >/dev/null 2>&1
    done
    "$STOCKADE" token create --name bench-queue --permissions alerts:read \
        --db "$DB" 2>/dev/null >"$DB.token"
    seed_t0=$(date +%s)
    "$BUILD/queue_seed" "$DB" "$INCIDENTS" "$ALERTS" "$ANALYSTS" >"$DB.seeded"
    say "seeded in $(($(date +%s) - seed_t0)) s: $(cat "$DB.seeded")"
    echo "$STAMP" >"$DB.stamp"
fi
TOKEN=$(cat "$DB.token")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stk-queue-bench.XXXXXX")
cd "$TMP"
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

"$STOCKADE" serve --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --db "$DB" --data-dir "$CACHE" --assets-dir "$REPO" \
    --threads "$THREADS" --log-level warn >"$TMP/out" 2>"$TMP/err" &
PID=$!
URL=""
for _ in $(seq 300); do
    URL=$(sed -n 's/^stockade listening on \(http[^ ]*\).*/\1/p' "$TMP/out")
    [[ -n $URL ]] && break
    sleep 0.1
done
[[ -n $URL ]] || { say "server did not start"; cat "$TMP/err" >&2; exit 1; }
AUTH="Authorization: Bearer $TOKEN"

# ---- the requests, checked once ----
"$BUILD/queue_seed" --ids "$DB" 1000 10 >"$TMP/ids"
N_IDS=$(wc -l <"$TMP/ids")
((N_IDS > 0)) || { say "no incident holds exactly 10 alerts"; exit 1; }
{
    echo "local ids = {$(paste -sd, "$TMP/ids")}"
    cat <<'LUA'
-- Each thread walks the list from its own offset.
local i = 0
function setup(thread)
    thread:set("start", math.random(#ids))
end
function request()
    i = i + 1
    local id = ids[((start or 1) + i) % #ids + 1]
    return wrk.format("GET", "/api/v1/incidents/" .. id)
end
LUA
} >"$TMP/page.lua"
LIST=/api/v1/incidents?status=active\&limit=50
first=$(head -1 "$TMP/ids")
curl -s -H "$AUTH" -o "$TMP/list.json" -w '%{http_code} %{size_download}\n' "$URL$LIST" >"$TMP/list.code"
curl -s -H "$AUTH" -o "$TMP/page.json" -w '%{http_code} %{size_download}\n' \
    "$URL/api/v1/incidents/$first" >"$TMP/page.code"
read -r list_code LIST_BYTES <"$TMP/list.code"
read -r page_code PAGE_BYTES <"$TMP/page.code"
if [[ $list_code != 200 || $page_code != 200 ]]; then
    say "queue answered $list_code, incident page $page_code"
    head -c 300 "$TMP/list.json" "$TMP/page.json" >&2
    exit 1
fi
# Facts from the answers, for the report (jansson prints compactly).
ACTIVE=$(grep -o '"active":[0-9]*' "$TMP/list.json" | head -1 | cut -d: -f2)
ITEMS=$(grep -o '"id":[0-9]*,"title"' "$TMP/list.json" | wc -l)
PAGE_ALERTS=$(grep -o '"incident_id":' "$TMP/page.json" | wc -l)
say "server up at $URL; $ACTIVE active incidents, page of $ITEMS ($LIST_BYTES bytes);" \
    "incident page $PAGE_BYTES bytes with $PAGE_ALERTS alerts; $N_IDS ids"

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
# Busy ticks of all CPUs, and the CPU time of this shell's finished children
# (wrk) in ticks as of the last `times >"$TMP/times"` (a builtin: run it in
# this shell, not in a $(...) subshell): with the server's, what other
# processes used during a run.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
child_ticks() {
    awk -v hz="$TICK" 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m");
        sub(/s$/, "", p[2]); t += p[1] * 60 + p[2] } printf "%d", t * hz }' "$TMP/times"
}

# run NAME PATH [SCRIPT]: one wrk run, appends "rps p50 p99 cpu_us" to $TMP/NAME.
run() {
    local name=$1 path=$2 script=${3:-}
    local args=(--latency -t2 -c"$CONNS" -d"${DURATION}s" --timeout 5s -H "$AUTH")
    [[ -n $script ]] && args+=(-s "$script")
    local out c0 c1 b0 b1 k0 k1 w0 w1
    c0=$(cpu_ticks)
    b0=$(busy_ticks)
    times >"$TMP/times"
    k0=$(child_ticks)
    w0=$(date +%s%N)
    out=$(timeout $((DURATION + 30)) wrk "${args[@]}" "$URL$path")
    c1=$(cpu_ticks)
    b1=$(busy_ticks)
    times >"$TMP/times"
    k1=$(child_ticks)
    w1=$(date +%s%N)
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        say "$name: errors during the run:"
        echo "$out" >&2
        exit 1
    fi
    local rps reqs p50 p99 cpu others
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    cpu=$(awk -v t=$((c1 - c0)) -v hz="$TICK" -v n="$reqs" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')
    # Other processes, in % of one CPU.
    others=$(awk -v o=$((b1 - b0 - (k1 - k0) - (c1 - c0))) -v t=$((w1 - w0)) -v hz="$TICK" \
        'BEGIN { v = o / (t / 1e9 * hz) * 100; printf "%.0f", v < 0 ? 0 : v }')
    echo "$rps $p50 $p99 $cpu $others" >>"$TMP/$name"
    say "$(printf '%-6s %8s req/s  p50 %7s ms  p99 %7s ms  %5s µs CPU/req  others %3s%%' \
        "$name" "$rps" "$p50" "$p99" "$cpu" "$others")"
    sleep 1 # let the connections wrk dropped finish
}

# Idle share of all CPUs over 2 s, from /proc/stat: anything else running
# skews the figures.
idle_pct() {
    local a b
    a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep 2
    b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f%%", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}
IDLE0=$(idle_pct)
# Warm the page cache and the statement caches of the workers.
DURATION_SAVED=$DURATION
DURATION=3
run warm "$LIST" >/dev/null
run warm "/api/v1/incidents/$first" "$TMP/page.lua" >/dev/null
DURATION=$DURATION_SAVED

for r in $(seq "$RUNS"); do
    say "run $r of $RUNS"
    run healthz /healthz
    run queue "$LIST"
    run page "/api/v1/incidents/$first" "$TMP/page.lua"
done

median() { cut -d' ' -f"$2" "$TMP/$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
range() { cut -d' ' -f"$2" "$TMP/$1" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }
row() {
    local name=$1 label=$2
    local base
    base=$(median healthz 1)
    printf '| %s | %s (%s) | %s (%s) | %s (%s) | %s | %s | %s%% |\n' "$label" \
        "$(median "$name" 1)" "$(range "$name" 1)" "$(median "$name" 2)" "$(range "$name" 2)" \
        "$(median "$name" 3)" "$(range "$name" 3)" "$(median "$name" 4)" \
        "$(awk -v a="$(median "$name" 1)" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" \
        "$(range "$name" 5)"
}

IDLE1=$(idle_pct)
echo "### Incident queue and incident page (bench/queue.sh)"
echo
echo "CPU idle just before the runs: $IDLE0; just after (server idle): $IDLE1."
echo
echo "Database: $INCIDENTS incidents, $ALERTS alerts ($(du -m "$DB" | cut -f1) MB; seeded by" \
    "bench/queue_seed.c through the ingestion and incident services); $ACTIVE active incidents."
echo "wrk --latency -t2 -c$CONNS -d${DURATION}s, API token as Bearer, $RUNS runs interleaved;" \
    "medians with the range of the runs; stockade with $THREADS workers, --log-level warn."
echo
echo "| request | req/s | p50 ms | p99 ms | server CPU µs/req | req/s over /healthz | others |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row healthz "GET /healthz (baseline)"
row queue "GET /api/v1/incidents?status=active&limit=50 ($ITEMS items + counts, $LIST_BYTES B)"
row page "GET /api/v1/incidents/{id}, 10 alerts each ($PAGE_BYTES B)"
echo
echo "\"others\": CPU that processes other than the server and wrk used during the runs (range)," \
    "in % of one of the $(nproc) CPUs."
echo
echo "Targets: the queue at 4,000 req/s or more with p99 under 20 ms; the incident page with" \
    "p99 under 30 ms."
