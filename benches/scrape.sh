#!/usr/bin/env bash
# What a Prometheus scrape costs the command path: LPUSH -P 16 (redis-benchmark) against one
# ferrymq with its metrics port on, with and without a scraper fetching /metrics every second
# (curl, like Prometheus at a 1 s interval), alternating A B A B in the same run.
#
#   bash benches/scrape.sh [--rounds N] [--requests N] [--keys N] [--out FILE]
#
# --keys fills N lists matching metrics-key-patterns first (default 1000), so each scrape
# walks and measures keys under the store lock as it would in production. Prints a markdown
# table of medians (req/s, p99 ms), the median of the per-round ratios (each round runs both
# back to back, so a round shares the machine's load of the moment), every round, and the
# median scrape duration.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=5
REQUESTS=1000000
KEYS=1000
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift ;;
        --requests) REQUESTS=$2; shift ;;
        --keys) KEYS=$2; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found (apt-get install redis-tools)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl not found" >&2; exit 1; }

CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release --quiet --bin ferrymq
BIN=target/release/ferrymq

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MPORT=$(free_port)
DIR=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT

PIN_SERVER=() PIN_CLIENT=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0) PIN_CLIENT=(taskset -c 1)
fi

"${PIN_SERVER[@]}" "$BIN" --port "$PORT" --save '' --appendonly no --dir "$DIR" \
    --metrics-port "$MPORT" --metrics-key-patterns 'bench:*' >"$DIR/log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
for i in $(seq 1 "$KEYS"); do echo "RPUSH bench:$i a b c"; done | redis-cli -p "$PORT" >/dev/null

# One LPUSH -P 16 run: "req/s p99".
bench() {
    "${PIN_CLIENT[@]}" redis-benchmark -p "$PORT" -c 50 -n "$REQUESTS" -P 16 -t lpush --csv -q 2>/dev/null |
        awk -F'","' 'NR==2 { gsub(/"/, "", $2); gsub(/"/, "", $7); print $2, $7 }'
}

# Scrape /metrics every second until killed; each scrape's duration goes to $DIR/scrapes.
scraper() {
    while true; do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$MPORT/metrics" >>"$DIR/scrapes"
        sleep 1
    done
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

: >"$DIR/none" ; : >"$DIR/scraped"
for r in $(seq 1 "$ROUNDS"); do
    bench >>"$DIR/none"
    scraper &
    SP=$!
    bench >>"$DIR/scraped"
    kill "$SP"; wait "$SP" 2>/dev/null || true
    echo "round $r: none $(tail -1 "$DIR/none"), scraped $(tail -1 "$DIR/scraped")" >&2
done

curl -s "http://127.0.0.1:$MPORT/metrics" >"$DIR/metrics.txt"
SERIES=$(grep -vc '^#' "$DIR/metrics.txt")
NONE=$(cut -d' ' -f1 "$DIR/none" | median)
SCRAPED=$(cut -d' ' -f1 "$DIR/scraped" | median)
P99N=$(cut -d' ' -f2 "$DIR/none" | median)
P99S=$(cut -d' ' -f2 "$DIR/scraped" | median)
SCRAPE_MS=$(awk '{ print $1 * 1000 }' "$DIR/scrapes" | median)
RATIO=$(awk -v a="$SCRAPED" -v b="$NONE" 'BEGIN { printf "%.3f", a / b }')
PAIRED=$(paste -d' ' "$DIR/none" "$DIR/scraped" | awk '{ printf "%.3f\n", $3 / $1 }' | median)
ROUNDS_LINE=$(paste -d' ' "$DIR/none" "$DIR/scraped" | awk '{ printf "%s%.0f/%.0f", (NR > 1 ? ", " : ""), $1, $3 }')
{
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); ferrymq $(git rev-parse --short HEAD)"
    echo "- command: \`bash benches/scrape.sh --rounds $ROUNDS --requests $REQUESTS --keys $KEYS\`"
    echo "- $KEYS lists matching metrics-key-patterns, $SERIES series per scrape; median scrape $SCRAPE_MS ms; ${PIN_SERVER[*]:-unpinned} server, ${PIN_CLIENT[*]:-} client"
    echo
    echo "| scenario | LPUSH -P 16 req/s (median of $ROUNDS) | p99 ms |"
    echo "|---|---:|---:|"
    echo "| no scrape | $NONE | $P99N |"
    echo "| /metrics scraped every 1 s | $SCRAPED | $P99S |"
    echo "| ratio of the medians, scraped / none | $RATIO | |"
    echo "| median of the per-round ratios | $PAIRED | |"
    echo
    echo "Rounds (none/scraped req/s): $ROUNDS_LINE"
} | tee ${OUT:+"$OUT"}
