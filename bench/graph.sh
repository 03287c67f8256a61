#!/usr/bin/env bash
# bench/graph.sh BUILD_DIR
#
# The incident graph: how long GET /api/v1/incidents/{id}/graph.svg takes
# in the server's own code (svc_graph_get(): model from SQLite, content
# hash, cache, grouping, dot layout, our SVG) for incidents of 20, 100, 300,
# 1,000 and 2,000 entities, cold (cache cleared) and cached, side by side
# with the `dot` command line rendering the same graph (`dot -Tsvg` on the
# DOT file of the same model, same layout attributes, with labels; process
# start included, as a user would run it).
#
# BUILD_DIR/graph_bench (bench/graph_bench.c) seeds the incidents through
# the ingestion service into build/bench-graph/graph-bench.db (new each run)
# and measures; this script times dot and prints a Markdown table of
# medians on stdout (RUNS cold renders each, default 5; 200 cached calls).
# Build BUILD_DIR as Release, and run nothing else meanwhile: the machine
# has two cores.
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
OUT=$REPO/build/bench-graph
for tool in dot awk sort; do
    if ! command -v "$tool" >/dev/null; then
        echo "$0: $tool is missing" >&2
        exit 1
    fi
done
if [[ ! -x $BUILD/graph_bench ]]; then
    echo "$0: $BUILD/graph_bench not built (cmake --build $BUILD)" >&2
    exit 1
fi
mkdir -p "$OUT"
say() { echo "[graph] $*" >&2; }

say "server code: $RUNS cold renders per size and grouping, 200 cached calls"
"$BUILD/graph_bench" "$OUT" "$RUNS" >"$OUT/ours.tsv" 2> >(grep -v migration_applied >&2)

# Median wall time in ms of RUNS runs of `dot -Tsvg FILE`.
dot_ms() {
    local file=$1 i t0 t1
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        dot -q -Tsvg "$file" -o /dev/null
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000}'
}

say "dot -Tsvg on the same graphs ($(dot -V 2>&1))"
echo "| entities | edges | nodes grouped | cold, ungrouped | cold, grouped | cached | cached, after a write elsewhere | \`dot -Tsvg\` (same graph) | dot / ours cold | of ours cold: SQLite model / dot layout / our SVG | JSON from the cached layout | SVG size |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
while IFS=$'\t' read -r n edges grouped cold cold_g hot hot_g warm model layout svg json bytes; do
    d=$(dot_ms "$OUT/graph-$n.dot")
    ratio=$(awk -v d="$d" -v o="$cold" 'BEGIN { printf "%.1f", d / o }')
    kb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f KB", b / 1024 }')
    echo "| $n | $edges | $grouped | $cold ms | $cold_g ms | $hot ms | $warm ms | $d ms | ${ratio}x | $model / $layout / $svg ms | $json ms | $kb |"
done <"$OUT/ours.tsv"
