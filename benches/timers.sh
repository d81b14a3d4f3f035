#!/usr/bin/env bash
# Timer precision and idle cost of the broker features (issue #15: "redelivery and due times
# within 10 ms of the target at 100k in-flight entries; an idle server with 1M in-flight or
# scheduled entries uses < 1% of a core"), with `loadgen timers` (examples/loadgen.rs):
#
# - redelivery: 100k entries delivered once and left unacknowledged under FMQ.GROUPSET
#   VISIBILITY 3000, first deliveries spread over 1.5 s; consumers blocked in XREADGROUP
#   BLOCK 0 get them again. Lateness = arrival - (first delivery + 3000 ms).
# - delayed: 100k FMQ.SCHEDULE messages due over 1.5 s, half LPUSH (consumers in BRPOP), half
#   XADD (consumers in XREADGROUP BLOCK 0). Lateness = arrival - due time.
# - idle: the server's CPU (utime + stime from /proc/PID/stat) over 10 s with nobody sending
#   anything: an empty ferrymq; ferrymq holding 1M entries in flight (visibility 1 h) and 1M
#   messages scheduled in 1 h; for reference redis-server holding 1M stream entries, all in a
#   consumer group's PEL.
#
#   bash benches/timers.sh [--rounds N] [--entries N] [--idle-entries N] [--idle-secs S] [--out FILE]
#
# Each round starts a fresh ferrymq (then a fresh redis-server), pinned to CPU 0 with the
# load generator on CPU 1 when taskset and 2 cores are there. While deliveries run, a probe
# thread on CPU 0 sleeps 1 ms at a time and reports its longest oversleep: on a shared machine
# a late delivery with an equally long probe stall was the machine's, not the server's.
# Prints a markdown table of medians over the rounds (lateness in ms, CPU in % of one core),
# every round's value, and the result lines of the load generator on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
ENTRIES=100000
IDLE_ENTRIES=1000000
IDLE_SECS=10
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift ;;
        --entries) ENTRIES=$2; shift ;;
        --idle-entries) IDLE_ENTRIES=$2; shift ;;
        --idle-secs) IDLE_SECS=$2; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli not found (apt-get install redis-tools)" >&2; exit 1; }

CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release --quiet --bin ferrymq --example loadgen
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/ferrymq
LOADGEN=$TARGET/release/examples/loadgen

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR=$(mktemp -d)
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$DIR"
}
trap cleanup EXIT

PIN_SERVER=() PIN_CLIENT=() PROBE=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0) PIN_CLIENT=(taskset -c 1) PROBE=(--probe-cpu 0)
fi

# start_server <binary> <port>: a fresh server with no persistence in its own directory.
start_server() {
    local bin=$1 port=$2
    rm -rf "$DIR/data" && mkdir -p "$DIR/data"
    "${PIN_SERVER[@]}" "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$DIR/data" >"$DIR/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
    echo "server $bin did not start:" >&2; cat "$DIR/server.log" >&2; exit 1
}

# loadgen <port> <timers args...>: result lines to $DIR/results, prefixed with the round and
# the server, and to stderr. A failed run leaves its error line (and missing fields) behind.
loadgen() {
    local port=$1 server=$2; shift 2
    local out
    out=$("${PIN_CLIENT[@]}" "$LOADGEN" --port "$port" --timeout 600 timers --pid "$SERVER_PID" "$@") ||
        echo "loadgen timers $* exited with status $?" >&2
    while IFS= read -r line; do
        [ -n "$line" ] && echo "$ROUND $server $line" | tee -a "$DIR/results" >&2
    done <<< "$out"
}

: >"$DIR/results"
for ROUND in $(seq 1 "$ROUNDS"); do
    PORT=$(free_port)
    start_server "$BIN" "$PORT"
    loadgen "$PORT" ferrymq-empty --run idle --idle-entries 0 --idle-secs "$IDLE_SECS"
    loadgen "$PORT" ferrymq --run redelivery,delayed --entries "$ENTRIES" "${PROBE[@]}"
    loadgen "$PORT" ferrymq --run idle --idle-entries "$IDLE_ENTRIES" --idle-secs "$IDLE_SECS"
    stop_server
    PORT=$(free_port)
    start_server "$(command -v redis-server)" "$PORT"
    loadgen "$PORT" redis --run idle --plain --idle-entries "$IDLE_ENTRIES" --idle-secs "$IDLE_SECS"
    stop_server
    echo "round $ROUND done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

# Key/value fields of a result line.
field() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# values <server> <test> <field> [ms]: one value per round, in round order (µs to ms with "ms").
values() {
    grep "^[0-9]* $1 test=$2 " "$DIR/results" | while IFS= read -r line; do
        v=$(field "$line" "$3")
        if [ -z "$v" ]; then echo "-"; elif [ "${4:-}" = ms ]; then awk -v u="$v" 'BEGIN { printf "%.2f\n", u / 1000 }'; else echo "$v"; fi
    done
}
med() { values "$@" | grep -v '^-$' | median; }
worst() { values "$@" | grep -v '^-$' | sort -g | tail -1; }
list() { values "$@" | paste -sd' ' | sed 's/ /, /g'; }
# met <value> <limit>: yes when value <= limit.
met() { awk -v v="$1" -v l="$2" 'BEGIN { print (v != "" && v != "-" && v + 0 <= l + 0) ? "yes" : "no" }'; }
# A lateness row: p50, p99, max medians, every round's p99, whether every round's p99 is
# within 10 ms, and per round what was received, the server's CPU and the longest stall of
# the probe on the server's CPU.
lateness_row() {
    local name=$1 test=$2 prefix=$3 notes
    notes="received $(values ferrymq "$test" received | paste -sd/); server CPU $(values ferrymq "$test" server_cpu_pct | paste -sd/) %; CPU 0 stall max $(values ferrymq "$test" probe_stall_max_us ms | paste -sd/) ms"
    echo "| $name | $(med ferrymq "$test" "${prefix}p50_us" ms) | $(med ferrymq "$test" "${prefix}p99_us" ms) | $(med ferrymq "$test" "${prefix}max_us" ms) | $(list ferrymq "$test" "${prefix}p99_us" ms) | p99 ≤ 10 ms: $(met "$(worst ferrymq "$test" "${prefix}p99_us" ms)" 10) | $notes |"
}
idle_row() {
    local name=$1 server=$2 target=$3
    echo "| $name | $(med "$server" idle cpu_pct) | | | $(list "$server" idle cpu_pct) | $target | $(values "$server" idle rss_mb | median) MB RSS |"
}

CONSUMERS=$(field "$(grep -m1 ' test=delayed ' "$DIR/results" || true)" brpop_consumers)
{
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); ferrymq $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (modified)'); $(redis-server --version | cut -d' ' -f3)"
    echo "- command: \`bash benches/timers.sh --rounds $ROUNDS --entries $ENTRIES --idle-entries $IDLE_ENTRIES --idle-secs $IDLE_SECS\`"
    echo "- $(nproc) cores, ${PIN_SERVER[*]:-unpinned} server, ${PIN_CLIENT[*]:-} load generator; ${CONSUMERS:-?} BRPOP and ${CONSUMERS:-?} XREADGROUP consumer connections; 1-minute load average per round at the end of redelivery $(values ferrymq redelivery load1 | paste -sd/), delayed $(values ferrymq delayed load1 | paste -sd/), idle $(values ferrymq idle load1 | paste -sd/)"
    echo
    echo "| measurement | median p50 / % core | median p99 | median max | p99 or % per round | target | notes |"
    echo "|---|---:|---:|---:|---|---|---|"
    lateness_row "redelivery after a visibility timeout, $ENTRIES in flight (ms late)" redelivery ""
    lateness_row "delayed delivery, $ENTRIES scheduled, BRPOP + XREADGROUP (ms late)" delayed ""
    lateness_row "&nbsp;&nbsp;of which LPUSH → BRPOP" delayed list_ | sed 's/| [^|]* |$/| |/'
    lateness_row "&nbsp;&nbsp;of which XADD → XREADGROUP" delayed stream_ | sed 's/| [^|]* |$/| |/'
    idle_row "idle CPU, empty ferrymq (% of one core)" ferrymq-empty "-"
    idle_row "idle CPU, ferrymq, $IDLE_ENTRIES in flight + $IDLE_ENTRIES scheduled" ferrymq "< 1%: $(met "$(worst ferrymq idle cpu_pct)" 1)"
    idle_row "idle CPU, redis-server, $IDLE_ENTRIES entries in a PEL (reference)" redis "-"
} | tee ${OUT:+"$OUT"}
