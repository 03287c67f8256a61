#!/usr/bin/env bash
# bench/ingest.sh BUILD_DIR
#
# Sustained Falco ingestion, end to end, against the storage limit, side by
# side in one run. Each of RUNS rounds does, on loopback:
#   1. e2e: a fresh database (`stockade migrate`), an API token with
#      alerts:read,alerts:manage, `stockade serve --log-level warn`
#      (correlation on, default settings), then BUILD_DIR/ingest_client
#      (bench/ingest_client.c) POSTs EVENTS Falco events to
#      /api/v1/ingest/falco?cluster=bench in batches of BATCH from CONNS
#      keep-alive connections (TCP_NODELAY), bodies built before the clock
#      starts; every answer must be 200 with every alert new;
#   2. raw: another fresh database, and BUILD_DIR/ingest_raw
#      (bench/ingest_raw.c) writes the rows of the same events with plain
#      prepared statements, BATCH events per transaction, the server's
#      pragmas (it parses the same bodies with the server's parser,
#      untimed);
# then prints the events/s of both, their ratio, and the row counts of both
# databases as a sanity check (every event stored, both sides equal).
# The events (bench/ingest_gen.h): 50 pods in 5 namespaces, 8 common Falco
# rules, ~100-byte command lines, 1 in 20 a drift event (two alerts), all
# with distinct times, so the idempotency check never short-circuits.
# Last, once: the server's own parse + svc_ingest_store() in one process
# (ingest_raw --svc), timed by part, to show where the time goes.
# Environment: RUNS (3), EVENTS (300000), BATCH (500), CONNS (2),
# THREADS (server workers; stockade's default), SVC_EVENTS (100000; 0 skips
# the in-process profile), KEEP (1 keeps the databases in the printed
# directory).
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-300000}
BATCH=${BATCH:-500}
CONNS=${CONNS:-2}
KEEP=${KEEP:-0}
SVC_EVENTS=${SVC_EVENTS:-100000}
CLUSTER=bench
STOCKADE=$BUILD/stockade
for bin in stockade ingest_client ingest_raw; do
    if [[ ! -x $BUILD/$bin ]]; then
        echo "$0: $BUILD/$bin not built (cmake --build $BUILD)" >&2
        exit 1
    fi
done
THREADS=${THREADS:-$("$STOCKADE" help | sed -n 's/.*--threads .*(default: \([0-9]*\)).*/\1/p')}
THREADS=${THREADS:-48}
say() { echo "[ingest] $*" >&2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stk-ingest-bench.XXXXXX")
cd "$TMP"
PID=""
stop_server() {
    if [[ -n $PID ]]; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=""
    fi
}
cleanup() {
    stop_server
    if [[ $KEEP == 1 ]]; then
        say "databases kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Busy ticks of all CPUs; and the CPU time of this shell's finished
# children, in ticks, as of the last `times >"$TMP/times"` (a builtin: it
# must run in this shell, not in a $(...) subshell).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
child_ticks() {
    awk -v hz="$TICK" 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m");
        sub(/s$/, "", p[2]); t += p[1] * 60 + p[2] } printf "%d", t * hz }' "$TMP/times"
}
# others BUSY0 CHILD0 SERVER_TICKS NS0: the % of one CPU that processes other
# than the server and this script's children used since NS0 (date +%s%N);
# call right after `times >"$TMP/times"`.
others() {
    awk -v b=$(($(busy_ticks) - $1)) -v c=$(($(child_ticks) - $2)) -v s="$3" \
        -v t="$(awk -v a="$4" -v b="$(date +%s%N)" 'BEGIN { print (b - a) / 1e9 }')" \
        -v hz="$TICK" 'BEGIN { v = (b - c - s) / (t * hz) * 100; printf "%.0f", v < 0 ? 0 : v }'
}
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }

: >"$TMP/e2e"
: >"$TMP/raw"
: >"$TMP/ratio"
: >"$TMP/runs"
for run in $(seq "$RUNS"); do
    rm -rf "$TMP/e2e.d" "$TMP/raw.d"
    mkdir -p "$TMP/e2e.d" "$TMP/raw.d"
    # Times one hour back: within what the parser accepts, and the same
    # events (same bytes) for both sides of the round.
    T0=$(($(date +%s%3N) - 3600000))

    # ---- end to end ----
    "$STOCKADE" migrate --db "$TMP/e2e.d/stockade.db" >/dev/null 2>&1
    TOKEN=$("$STOCKADE" token create --name bench --permissions alerts:read,alerts:manage \
        --db "$TMP/e2e.d/stockade.db" 2>/dev/null)
    "$STOCKADE" serve --listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 --db "$TMP/e2e.d/stockade.db" \
        --data-dir "$TMP/e2e.d" --assets-dir "$REPO" --threads "$THREADS" \
        --log-level warn >"$TMP/e2e.d/out" 2>"$TMP/e2e.d/err" &
    PID=$!
    PORT=""
    for _ in $(seq 100); do
        PORT=$(sed -n 's|^stockade listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' \
            "$TMP/e2e.d/out")
        [[ -n $PORT ]] && break
        sleep 0.1
    done
    [[ -n $PORT ]] || { say "server did not start"; cat "$TMP/e2e.d/err" >&2; exit 1; }
    c0=$(cpu_ticks "$PID")
    b0=$(busy_ticks)
    times >"$TMP/times"
    k0=$(child_ticks)
    w0=$(date +%s%N)
    if ! out=$("$BUILD/ingest_client" 127.0.0.1 "$PORT" "$TOKEN" "$CLUSTER" "$EVENTS" "$BATCH" \
        "$CONNS" "$T0"); then
        say "ingest_client failed"
        tail -5 "$TMP/e2e.d/err" >&2
        exit 1
    fi
    c1=$(cpu_ticks "$PID")
    times >"$TMP/times"
    e2e_others=$(others "$b0" "$k0" $((c1 - c0)) "$w0")
    stop_server
    e2e_rate=$(field events_per_s "$out")
    secs=$(field seconds "$out")
    cpu=$(awk -v t=$((c1 - c0)) -v hz="$TICK" -v n="$EVENTS" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
    echo "$e2e_rate $(field half2_events_per_s "$out") $(field p50_ms "$out") $(field p99_ms "$out") $cpu $secs" \
        >>"$TMP/e2e"
    say "run $run e2e: $e2e_rate events/s over ${secs}s (second half $(field half2_events_per_s "$out")/s)," \
        "batch p50 $(field p50_ms "$out") ms p99 $(field p99_ms "$out") ms, server CPU $cpu µs/event," \
        "other processes ${e2e_others}% of a CPU"
    E2E_COUNTS=$("$BUILD/ingest_raw" --count "$TMP/e2e.d/stockade.db")
    E2E_SIZE=$(du -m "$TMP/e2e.d/stockade.db" | cut -f1)

    # ---- raw inserts of the same rows ----
    "$STOCKADE" migrate --db "$TMP/raw.d/stockade.db" >/dev/null 2>&1
    b0=$(busy_ticks)
    times >"$TMP/times"
    k0=$(child_ticks)
    w0=$(date +%s%N)
    if ! raw=$("$BUILD/ingest_raw" "$TMP/raw.d/stockade.db" "$EVENTS" "$BATCH" "$T0" "$CLUSTER" \
        2>"$TMP/raw.d/profile"); then
        say "ingest_raw failed"
        cat "$TMP/raw.d/profile" >&2
        exit 1
    fi
    times >"$TMP/times"
    raw_others=$(others "$b0" "$k0" 0 "$w0")
    raw_rate=$(field events_per_s "$raw")
    echo "$raw_rate $(field seconds "$raw")" >>"$TMP/raw"
    say "run $run raw: $raw_rate events/s ($(field seconds "$raw") s in transactions)," \
        "other processes ${raw_others}% of a CPU"
    echo "| $run | $e2e_rate | $cpu | $e2e_others% | $raw_rate | $raw_others% |" \
        "$(awk -v a="$e2e_rate" -v b="$raw_rate" 'BEGIN { printf "%.2f", a / b }') |" >>"$TMP/runs"
    RAW_COUNTS=$("$BUILD/ingest_raw" --count "$TMP/raw.d/stockade.db")
    RAW_SIZE=$(du -m "$TMP/raw.d/stockade.db" | cut -f1)
    awk -v a="$e2e_rate" -v b="$raw_rate" 'BEGIN { printf "%.2f\n", a / b }' >>"$TMP/ratio"
done

# Where the server's time goes: the same parse and svc_ingest_store() in one
# process, without HTTP, timed by part (SQL statements via sqlite3's profile
# hook, which counts in milliseconds: figures for frequent statements only).
SVC=""
if ((SVC_EVENTS > 0)); then
    rm -rf "$TMP/svc.d"
    mkdir -p "$TMP/svc.d"
    "$STOCKADE" migrate --db "$TMP/svc.d/stockade.db" >/dev/null 2>&1
    SVC=$("$BUILD/ingest_raw" --svc "$TMP/svc.d/stockade.db" "$SVC_EVENTS" "$BATCH" \
        "$(($(date +%s%3N) - 3600000))" "$CLUSTER" 2>"$TMP/svc.d/profile")
    say "in process: $SVC"
fi

E2E=$(cut -d' ' -f1 "$TMP/e2e" | median)
E2E_H2=$(cut -d' ' -f2 "$TMP/e2e" | median)
P50=$(cut -d' ' -f3 "$TMP/e2e" | median)
P99=$(cut -d' ' -f4 "$TMP/e2e" | median)
CPU=$(cut -d' ' -f5 "$TMP/e2e" | median)
RAW=$(cut -d' ' -f1 "$TMP/raw" | median)
RATIO=$(median <"$TMP/ratio")
ALERTS_PER_EVENT=$(awk -v a="$(field alerts "$RAW_COUNTS")" -v e="$EVENTS" 'BEGIN { printf "%.2f", a / e }')

IDLE1=$(idle_pct)
echo "### Falco ingestion (bench/ingest.sh)"
echo
echo "CPU idle just before the runs: $IDLE0; just after: $IDLE1."
echo
echo "$EVENTS events per run ($ALERTS_PER_EVENT alerts per event), batches of $BATCH, $RUNS runs;" \
    "medians, with the range of the runs. End to end: $CONNS keep-alive connections" \
    "(TCP_NODELAY) to \`stockade serve\` ($THREADS workers, correlation on) on a fresh database;" \
    "raw: the same rows written with plain prepared statements, one transaction per batch," \
    "the server's pragmas, on another fresh database."
echo
echo "| path | events/s | range | batch p50 / p99 ms | server CPU µs/event |"
echo "|---|---:|---|---:|---:|"
echo "| POST /api/v1/ingest/falco, end to end | $E2E | $(cut -d' ' -f1 "$TMP/e2e" | minmax) |" \
    "$P50 / $P99 | $CPU |"
echo "| same, second half of each run | $E2E_H2 | $(cut -d' ' -f2 "$TMP/e2e" | minmax) | | |"
echo "| raw SQLite inserts of the same rows | $RAW | $(cut -d' ' -f1 "$TMP/raw" | minmax) | | |"
echo
echo "Per run (\"others\": CPU used during the run by processes other than the server and" \
    "the benchmark's own, in % of one of the $(nproc) CPUs):"
echo
echo "| run | end to end events/s | server CPU µs/event | others | raw events/s | others | ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
cat "$TMP/runs"
echo
echo "End to end over raw: $RATIO (median of the per-run ratios, range" \
    "$(minmax <"$TMP/ratio")). Targets: 15,000 events/s or more, and at least 0.50 of raw."
echo
echo "Rows after the last run (end to end, $E2E_SIZE MB / raw, $RAW_SIZE MB):"
echo
echo "| table | end to end | raw |"
echo "|---|---:|---:|"
for k in alerts alert_entities entities edges incidents incidents_merged incident_entities \
    incident_alert_sum incident_history CloudProcessEvents audit_log_ingest; do
    echo "| $k | $(field "$k" "$E2E_COUNTS") | $(field "$k" "$RAW_COUNTS") |"
done
echo
if [[ -n $SVC ]]; then
    echo "The server's own path in one process, without HTTP ($SVC_EVENTS events, one thread):" \
        "parsing $(field parse_us_per_event "$SVC") µs/event, svc_ingest_store()" \
        "$(field store_us_per_event "$SVC") µs/event (inside the write transaction, so at most" \
        "1e6 / that events/s with any number of clients). Its statements:"
    echo
    echo '```'
    cat "$TMP/svc.d/profile"
    echo '```'
    echo
fi
echo "Where the raw side's time goes (last run):"
echo
echo '```'
sed 's/^ingest_raw: //' "$TMP/raw.d/profile"
echo '```'
