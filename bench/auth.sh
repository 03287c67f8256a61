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
"$BIN" serve --listen 127.0.0.1:0 --db "$TMP/stockade.db" --data-dir "$TMP" \
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

# run_wrk CONNS HEADER [SCRIPT]: "rps p50 p99" of one run.
run_wrk() {
    local conns=$1 header=$2 script=${3:-}
    local args=(--latency -t2 -c"$conns" -d"${DURATION}s" --timeout 5s)
    [[ -n $header ]] && args+=(-H "$header")
    [[ -n $script ]] && args+=(-s "$script")
    local out
    out=$(timeout $((DURATION + 30)) wrk "${args[@]}" "$URL${PATHNAME}")
    if grep -q 'Non-2xx' <<<"$out"; then
        say "non-2xx answers during the run:"
        echo "$out" >&2
        exit 1
    fi
    echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
        "$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
        "$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# cell NAME CONNS HEADER [SCRIPT]: median rps, p50, p99 over RUNS.
declare -A RPS P50 P99
cell() {
    local name=$1 conns=$2 header=$3 script=${4:-}
    local f="$TMP/$name"
    : >"$f"
    for _ in $(seq "$RUNS"); do
        run_wrk "$conns" "$header" "$script" >>"$f"
    done
    RPS[$name]=$(cut -d' ' -f1 "$f" | median)
    P50[$name]=$(cut -d' ' -f2 "$f" | median)
    P99[$name]=$(cut -d' ' -f3 "$f" | median)
    say "$name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms"
}

PATHNAME=/api/v1/roles
for i in $(seq "$RUNS"); do :; done
cell noauth "$CONNS" "X-Bench-Noauth: 1"
cell cookie "$CONNS" "Cookie: $COOKIE"
cell noauth2 "$CONNS" "X-Bench-Noauth: 1"

cat >"$TMP/login.lua" <<'LUA'
-- Each wrk thread cycles through its own 16 of the 32 users, so no two
-- requests in flight name the same user.
local counter = 0
local base = 0
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
cell login "$LOGIN_CONNS" "" "$TMP/login.lua"

base=$(awk -v a="${RPS[noauth]}" -v b="${RPS[noauth2]}" 'BEGIN { print (a + b) / 2 }')
overhead=$(awk -v base="$base" -v c="${RPS[cookie]}" 'BEGIN { printf "%.1f", (1 - c / base) * 100 }')
lat=$(awk -v a="${P50[noauth]}" -v b="${P50[noauth2]}" -v c="${P50[cookie]}" \
    'BEGIN { printf "%.0f", (c - (a + b) / 2) * 1000 }')

echo "### Authentication (bench/auth.sh)"
echo
echo "wrk -t2, ${DURATION} s, median of $RUNS runs; GET /api/v1/roles with $CONNS connections."
echo
echo "| request | req/s | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|"
echo "| GET /api/v1/roles, authentication skipped (bench build), before | ${RPS[noauth]} | ${P50[noauth]} | ${P99[noauth]} |"
echo "| GET /api/v1/roles, session cookie | ${RPS[cookie]} | ${P50[cookie]} | ${P99[cookie]} |"
echo "| GET /api/v1/roles, authentication skipped (bench build), after | ${RPS[noauth2]} | ${P50[noauth2]} | ${P99[noauth2]} |"
echo "| POST /api/v1/auth/login ($LOGIN_CONNS connections, argon2id) | ${RPS[login]} | ${P50[login]} | ${P99[login]} |"
echo
echo "Authorization overhead for a session-cookie request: ${overhead}% of throughput" \
    "(${lat} µs at the median); target under 5%."
