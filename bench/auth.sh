#!/usr/bin/env bash
# bench/auth.sh BUILD_DIR
#
# What authentication costs:
#   1. sign-in rate: POST /api/v1/auth/login with the right password from
#      LOGIN_CONNS connections (argon2id at the interactive limits, then a
#      session row and an audit entry per sign-in);
#   2. authorization overhead per request: the same protected route
#      (GET /api/v1/roles, Administration) with a session cookie, and with
#      authentication skipped. Skipping needs a bench build: this script
#      configures one (-DSTK_BENCH_NOAUTH=ON) in build/bench-noauth, where a
#      request carrying "X-Bench-Noauth: 1" bypasses identification,
#      authorization and CSRF. Both runs hit that one binary.
# Prints a Markdown table on stdout. Loopback only; everything is stopped at
# the end. Environment: RUNS (3), DURATION (10), CONNS (32), LOGIN_CONNS (4).
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
LOGIN_CONNS=${LOGIN_CONNS:-4}
NOAUTH=$REPO/build/bench-noauth
say() { echo "[auth] $*" >&2; }

say "building the bench variant in $NOAUTH"
cmake -S "$REPO" -B "$NOAUTH" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DSTK_BENCH_NOAUTH=ON >/dev/null
cmake --build "$NOAUTH" -j "$(nproc)" --target stockade >/dev/null
BIN=$NOAUTH/stockade

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stk-auth-bench.XXXXXX")
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

printf 'bench-admin-pw\n' | "$BIN" user add benchadmin --role admin --password-stdin \
    --db "$TMP/stockade.db" >/dev/null
# Sign-ins are checked one at a time per user name (parallel guesses at one
# account are refused), so the sign-in rate is measured over many users.
for i in $(seq 1 32); do
    printf 'bench-user-pw-%s\n' "$i" | "$BIN" user add "bench$i" --role viewer --password-stdin \
        --db "$TMP/stockade.db" >/dev/null
done
"$BIN" serve --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --db "$TMP/stockade.db" --data-dir "$TMP" \
    --assets-dir "$REPO" --log-level warn >"$TMP/out" 2>"$TMP/err" &
PID=$!
URL=""
for _ in $(seq 100); do
    URL=$(sed -n 's/^stockade listening on \(http[^ ]*\).*/\1/p' "$TMP/out")
    [[ -n $URL ]] && break
    sleep 0.1
done
[[ -n $URL ]] || { say "server did not start"; cat "$TMP/err" >&2; exit 1; }

COOKIE=$(curl -s -D - -o /dev/null -X POST "$URL/api/v1/auth/login" \
    -H 'Content-Type: application/json' \
    -d '{"username":"benchadmin","password":"bench-admin-pw"}' |
    sed -n 's/^Set-Cookie: \(stockade_session=[^;]*\).*/\1/p')
[[ -n $COOKIE ]] || { say "sign-in failed"; exit 1; }
for h in "Cookie: $COOKIE" "X-Bench-Noauth: 1"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$h" "$URL/api/v1/roles")
    [[ $code == 200 ]] || { say "GET /api/v1/roles with '$h' answered $code"; exit 1; }
done

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }

# run_wrk CONNS HEADER [SCRIPT]: "rps p50 p99 cpu_us_per_request" of one run.
run_wrk() {
    local conns=$1 header=$2 script=${3:-}
    local args=(--latency -t2 -c"$conns" -d"${DURATION}s" --timeout 5s)
    [[ -n $header ]] && args+=(-H "$header")
    [[ -n $script ]] && args+=(-s "$script")
    local out c0 c1
    c0=$(cpu_ticks)
    out=$(timeout $((DURATION + 30)) wrk "${args[@]}" "$URL${PATHNAME}")
    c1=$(cpu_ticks)
    if grep -q 'Non-2xx' <<<"$out"; then
        say "non-2xx answers during the run:"
        echo "$out" >&2
        exit 1
    fi
    local reqs
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
        "$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
        "$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" \
        "$(awk -v t=$((c1 - c0)) -v hz="$TICK" -v n="$reqs" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
    # wrk drops its connections with requests still being served; let them
    # finish before the next run.
    sleep 1
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# summarise NAME FILE: median rps, p50, p99, cpu of the runs in FILE.
declare -A RPS P50 P99 CPU
summarise() {
    RPS[$1]=$(cut -d' ' -f1 "$2" | median)
    P50[$1]=$(cut -d' ' -f2 "$2" | median)
    P99[$1]=$(cut -d' ' -f3 "$2" | median)
    CPU[$1]=$(cut -d' ' -f4 "$2" | median)
    say "$1: ${RPS[$1]} req/s, p50 ${P50[$1]} ms, p99 ${P99[$1]} ms, ${CPU[$1]} µs CPU/req"
}

# The two variants alternate run by run, so drift on a shared VM hits both;
# the overhead is the median of the per-pair differences.
PATHNAME=/api/v1/roles
: >"$TMP/noauth"
: >"$TMP/cookie"
: >"$TMP/ratio"
for _ in $(seq "$RUNS"); do
    a=$(run_wrk "$CONNS" "X-Bench-Noauth: 1")
    b=$(run_wrk "$CONNS" "Cookie: $COOKIE")
    echo "$a" >>"$TMP/noauth"
    echo "$b" >>"$TMP/cookie"
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.2f %.2f\n", (1 - y[1] / x[1]) * 100, y[4] - x[4] }' >>"$TMP/ratio"
done
summarise noauth "$TMP/noauth"
summarise cookie "$TMP/cookie"
overhead=$(cut -d' ' -f1 "$TMP/ratio" | median)
cpu_extra=$(cut -d' ' -f2 "$TMP/ratio" | median)

cat >"$TMP/login.lua" <<'LUA'
-- Each wrk thread cycles through its own 16 of the 32 users, so no two
-- requests in flight name the same user.
-- `base` is a global: thread:set() writes the thread's globals.
local counter = 0
local threads = 0
function setup(thread)
    thread:set("base", threads * 16)
    threads = threads + 1
end
function request()
    counter = counter + 1
    local n = (base or 0) + (counter % 16) + 1
    local body = string.format('{"username":"bench%d","password":"bench-user-pw-%d"}', n, n)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
LUA
PATHNAME=/api/v1/auth/login
: >"$TMP/login"
for _ in $(seq "$RUNS"); do
    run_wrk "$LOGIN_CONNS" "" "$TMP/login.lua" >>"$TMP/login"
done
summarise login "$TMP/login"

echo "### Authentication (bench/auth.sh)"
echo
echo "wrk -t2, ${DURATION} s per run, $RUNS runs each, medians; GET /api/v1/roles with $CONNS" \
    "connections, the two variants alternating run by run."
echo
echo "| request | req/s | p50 ms | p99 ms | server CPU µs/request |"
echo "|---|---:|---:|---:|---:|"
echo "| GET /api/v1/roles, authentication skipped (bench build) | ${RPS[noauth]} | ${P50[noauth]} | ${P99[noauth]} | ${CPU[noauth]} |"
echo "| GET /api/v1/roles, session cookie | ${RPS[cookie]} | ${P50[cookie]} | ${P99[cookie]} | ${CPU[cookie]} |"
echo "| POST /api/v1/auth/login, 32 users, $LOGIN_CONNS connections (argon2id) | ${RPS[login]} | ${P50[login]} | ${P99[login]} | ${CPU[login]} |"
echo
echo "Authorization overhead for a session-cookie request: ${overhead}% of throughput" \
    "(median of the per-pair differences), ${cpu_extra} µs of server CPU per request;" \
    "target under 5%."
