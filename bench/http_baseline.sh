#!/usr/bin/env bash
# bench/http_baseline.sh BUILD_DIR
#
# What stockade's request path costs over civetweb itself. Starts, on
# loopback only:
#   - BUILD_DIR/civet_hello (bench/civet_hello.c): civetweb with a /healthz
#     handler and civetweb's own static file serving of this repository;
#   - BUILD_DIR/stockade serve --log-level warn (no access log);
#   - BUILD_DIR/stockade serve --log-level info, stderr (one access-log line
#     per request) appended to a file;
# then runs wrk --latency against /healthz and /static/css/app.css on each,
# RUNS times, interleaved, and prints Markdown tables of the medians to
# stdout (progress goes to stderr).
#
# A second pass opens WIDE_CONNS connections, more than the worker count:
# civetweb 1.15 gives each keep-alive connection a worker for its whole life,
# so the extra connections get no answer while wrk keeps the others busy.
# wrk's own figures cannot show that; the script counts, with ss, how many
# server-side connections sent response bytes during the middle of the run.
#
# Environment: RUNS (3), DURATION seconds (10), WRK_THREADS (2), CONNS (32),
# WIDE_CONNS (64; 0 skips the pass), WIDE_RUNS (1), THREADS (stockade's
# default worker count, read from `stockade help`).
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
STOCKADE=$BUILD/stockade
HELLO=$BUILD/civet_hello
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WRK_THREADS=${WRK_THREADS:-2}
CONNS=${CONNS:-32}
WIDE_CONNS=${WIDE_CONNS:-64}
WIDE_RUNS=${WIDE_RUNS:-1}
PATHS=(/healthz /static/css/app.css)
TARGETS=(hello warn info)

for tool in wrk ss curl timeout; do
    if ! command -v "$tool" >/dev/null; then
        echo "$0: $tool is missing (apt-get install wrk iproute2 curl coreutils)" >&2
        exit 1
    fi
done
for bin in "$STOCKADE" "$HELLO"; do
    if [[ ! -x $bin ]]; then
        echo "$0: $bin not built (cmake --build $BUILD)" >&2
        exit 1
    fi
done
# Same worker count for both servers: stockade's own default.
THREADS=${THREADS:-$("$STOCKADE" help | sed -n 's/.*--threads .*(default: \([0-9]*\)).*/\1/p')}
THREADS=${THREADS:-48}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stk-http-baseline.XXXXXX")
cd "$TMP" # nothing stray lands in the caller's directory
declare -A PID PORT
cleanup() {
    local p
    for p in "${PID[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PID[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "[http_baseline] $*" >&2; }

# start NAME CMD...: runs CMD in the background and waits (10 s at most)
# for its "listening on http://127.0.0.1:PORT" line.
start() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>>"$TMP/$name.err" &
    PID[$name]=$!
    for _ in $(seq 100); do
        local port
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/$name.out")
        if [[ -n $port ]]; then
            PORT[$name]=$port
            return 0
        fi
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    say "$name did not start:"
    cat "$TMP/$name.out" "$TMP/$name.err" >&2
    exit 1
}

mkdir -p "$TMP/warn" "$TMP/info"
start hello "$HELLO" 0 "$REPO" "$THREADS"
start warn "$STOCKADE" serve --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --db "$TMP/warn/stockade.db" \
    --data-dir "$TMP/warn" --assets-dir "$REPO" --threads "$THREADS" --log-level warn
start info "$STOCKADE" serve --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --db "$TMP/info/stockade.db" \
    --data-dir "$TMP/info" --assets-dir "$REPO" --threads "$THREADS" --log-level info

declare -A LABEL=([hello]="civetweb hello" [warn]="stockade, --log-level warn"
    [info]="stockade, access log to a file")
declare -A RESP_BYTES
for t in "${TARGETS[@]}"; do
    for path in "${PATHS[@]}"; do
        got=$(curl -s --max-time 5 -o /dev/null -w '%{http_code} %{size_header} %{size_download}' \
            "http://127.0.0.1:${PORT[$t]}$path") || got="000 0 0"
        read -r code hdr body <<<"$got"
        if [[ $code != 200 ]]; then
            say "${LABEL[$t]}: GET $path answered $code, not 200"
            exit 1
        fi
        RESP_BYTES[$t$path]="$hdr+$body"
    done
done
say "servers up: hello :${PORT[hello]}, stockade warn :${PORT[warn]}, info :${PORT[info]}" \
    "($THREADS workers each); $RUNS x ${DURATION}s per cell"

# Idle share of all CPUs over 2 s, from /proc/stat (the load average would
# count the benchmark's own threads).
idle_pct() {
    local a b
    a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep 2
    b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f%%", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}
IDLE0=$(idle_pct)
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# to_ms VALUE: wrk's "812.00us", "1.20ms" or "2.01s" in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
        else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}

# snapshot PORT FILE: "peer bytes_acked" of each established server-side
# connection on PORT (0 when it never sent a byte).
snapshot() {
    ss -Htni state established "( sport = :$1 )" | awk '
        /^[0-9]/ { if (peer != "") print peer, acked; peer = $4; acked = 0; next }
        { if (match($0, /bytes_acked:[0-9]+/)) acked = substr($0, RSTART + 12, RLENGTH - 12) }
        END { if (peer != "") print peer, acked }' >"$2"
}

# measure TARGET PATH CONNS RUN: one wrk run; appends
# "rps p50_ms p99_ms cpu_us_per_req errors non2xx conns progressing log_lines"
# to $TMP/res/TARGET_PATH_CONNS.
mkdir -p "$TMP/res"
measure() {
    local t=$1 path=$2 conns=$3 run=$4
    local pid=${PID[$t]} port=${PORT[$t]}
    local key="$t${path//\//_}_$conns"
    local out="$TMP/wrk.$key.$run"
    if [[ $t == info ]]; then
        : >"$TMP/info.err" # opened O_APPEND by the server: safe to truncate
    fi
    local probe=""
    if ((conns > THREADS)); then
        (
            sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 3 }')"
            snapshot "$port" "$TMP/snap1"
            sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 3 }')"
            snapshot "$port" "$TMP/snap2"
        ) &
        probe=$!
    fi
    local c0
    c0=$(cpu_ticks "$pid")
    if ! timeout $((DURATION + 30)) wrk --latency -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" \
        --timeout 2s "http://127.0.0.1:$port$path" >"$out" 2>&1; then
        say "wrk failed or timed out against ${LABEL[$t]} $path:"
        cat "$out" >&2
        exit 1
    fi
    local c1
    c1=$(cpu_ticks "$pid")
    local total=$conns progressing=$conns
    if [[ -n $probe ]]; then
        wait "$probe"
        total=$(wc -l <"$TMP/snap2")
        progressing=$(awk 'NR == FNR { a[$1] = $2; next } ($1 in a) && $2 > a[$1]' \
            "$TMP/snap1" "$TMP/snap2" | wc -l)
    fi
    local lines=-
    if [[ $t == info ]]; then
        lines=$(wc -l <"$TMP/info.err")
    fi
    local rps p50 p99 reqs errors non2xx
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    errors=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$out")
    local cpu_us
    cpu_us=$(awk -v a="$c0" -v b="$c1" -v hz="$TICK" -v n="$reqs" \
        'BEGIN { printf "%.1f", (n > 0) ? (b - a) / hz * 1e6 / n : 0 }')
    echo "$rps $p50 $p99 $cpu_us ${errors:-0} ${non2xx:-0} $total $progressing $lines $reqs" \
        >>"$TMP/res/$key"
    say "$(printf '%-32s %-20s c=%-3s run %s: %9s req/s  p50 %6s ms  p99 %7s ms  cpu %6s us/req' \
        "${LABEL[$t]}" "$path" "$conns" "$run" "$rps" "$p50" "$p99" "$cpu_us")"
}

# median FILE COLUMN
median() {
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
maxcol() { awk -v c="$2" '$c > m { m = $c } END { print m + 0 }' "$1"; }

for run in $(seq "$RUNS"); do
    for path in "${PATHS[@]}"; do
        for t in "${TARGETS[@]}"; do
            measure "$t" "$path" "$CONNS" "$run"
        done
    done
done
if ((WIDE_CONNS > 0)); then
    for run in $(seq "$WIDE_RUNS"); do
        for path in "${PATHS[@]}"; do
            for t in "${TARGETS[@]}"; do
                measure "$t" "$path" "$WIDE_CONNS" "$run"
            done
        done
    done
fi

# table CONNS NRUNS
table() {
    local conns=$1 nruns=$2
    echo
    echo "wrk --latency -t$WRK_THREADS -c$conns -d${DURATION}s, median of $nruns run(s); p50/p99 and CPU are medians of their own;"
    echo "the ratio is the median of each run's req/s over the civetweb hello run beside it."
    echo
    if ((conns > THREADS)); then
        echo "| target | path | req/s | p50 ms | p99 ms | ratio to civetweb hello | server CPU µs/req | connections answered mid-run | socket errors / non-2xx |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    else
        echo "| target | path | req/s | p50 ms | p99 ms | ratio to civetweb hello | server CPU µs/req | response bytes (headers+body) | socket errors / non-2xx |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    fi
    for path in "${PATHS[@]}"; do
        for t in "${TARGETS[@]}"; do
            local f="$TMP/res/$t${path//\//_}_$conns"
            local rps p50 p99 cpu ratio extra
            rps=$(median "$f" 1)
            p50=$(median "$f" 2)
            p99=$(median "$f" 3)
            cpu=$(median "$f" 4)
            # Runs are interleaved: compare each run with the hello run
            # next to it in time, then take the median of those ratios.
            ratio=$(paste -d' ' "$f" "$TMP/res/hello${path//\//_}_$conns" |
                awk -v w="$(awk '{ print NF; exit }' "$f")" '{ print ($(w + 1) > 0) ? $1 / $(w + 1) : 0 }' |
                sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
            if ((conns > THREADS)); then
                extra="$(awk '{ print $8 "/" $7 }' "$f" | sort -t/ -n | head -1)"
            else
                extra=${RESP_BYTES[$t$path]}
            fi
            printf '| %s | %s | %.0f | %.2f | %.2f | %s | %s | %s | %s / %s |\n' \
                "${LABEL[$t]}" "$path" "$rps" "$p50" "$p99" "$ratio" "$cpu" "$extra" \
                "$(maxcol "$f" 5)" "$(maxcol "$f" 6)"
        done
    done
}

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
civet_ver=$(dpkg-query -W -f '${Version}' libcivetweb1 2>/dev/null || echo "?")
echo "## HTTP baseline: stockade vs civetweb hello-world"
echo
echo "Machine: $(nproc) CPU ($cpu_model), $mem RAM, $(uname -sr); civetweb $civet_ver;" \
    "$(wrk --version 2>&1 | head -1 | awk '{ print "wrk", $2 }'); wrk shares the CPUs with the server."
echo "CPU idle just before the runs: $IDLE0; just after (servers idle): $(idle_pct). Anything else running skews the figures."
echo "Both servers: $THREADS worker threads, keep-alive on (2 s idle timeout), tcp_nodelay=1, loopback."
table "$CONNS" "$RUNS"
info_lines=$(awk '{ s += $9; n += $10 } END { printf "%d access-log lines for %d requests", s, n }' \
    "$TMP"/res/info_*)
echo
echo "Access-log target: $info_lines."
if ((WIDE_CONNS > 0)); then
    table "$WIDE_CONNS" "$WIDE_RUNS"
    echo
    third=$(awk -v d="$DURATION" 'BEGIN { printf "%.1f", d / 3 }')
    echo "\"connections answered mid-run\": server-side connections (ss) whose sent bytes grew between"
    echo "${third} s and twice that into the run, over those open (lowest of the runs). With more"
    echo "connections than workers, the rest wait for a worker that wrk never lets go; wrk's latency"
    echo "figures count only the answered ones."
fi
