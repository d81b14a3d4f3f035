#!/usr/bin/env bash
# User-space instructions per request, ferrymq vs redis-server, counted by callgrind.
#
#   bash benches/instructions.sh [--requests N] [--clients C] [--pipeline P] [--aof POLICY]
#                                [--baseline PATH] [scenario...]
#
# A scenario is a redis-benchmark test name (ping, lpush, rpop, ...) or a quoted command
# ("publish chan hello", "xadd s * f v"). Default: ping lpush rpop "publish chan hello".
# --aof POLICY runs both servers with `appendonly yes` and `appendfsync POLICY` (always,
# everysec, no), to count what persisting each write costs.
# --baseline PATH also counts another ferrymq binary (say, a release build of the previous
# commit) in the same run, for before/after figures measured under the same load.
#
# Why: on a shared machine throughput moves ±30% from one run to the next, and hardware
# counters are not available inside most VMs; instruction counts from valgrind's callgrind are
# deterministic to a few percent. They do not see the kernel (both servers make the same
# read/write calls per batch, which `strace -c` confirms) nor cache misses and scheduling, so
# they complement `compare.sh`, they do not replace it.
#
# Each server runs under callgrind on a free loopback port; counters are zeroed after start-up,
# redis-benchmark runs the scenario, the counters are dumped and divided by the request count.
# Needs valgrind (apt-get install valgrind) and redis-benchmark (redis-tools).
set -euo pipefail

cd "$(dirname "$0")/.."
REQUESTS=20000
CLIENTS=50
PIPELINE=1
AOF=""
BASELINE=""
SCENARIOS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) REQUESTS=$2; shift ;;
        --clients) CLIENTS=$2; shift ;;
        --pipeline) PIPELINE=$2; shift ;;
        --aof) AOF=$2; shift ;;
        --baseline) BASELINE=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) SCENARIOS+=("$1") ;;
    esac
    shift
done
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(ping lpush rpop "publish chan hello")

for tool in valgrind callgrind_control redis-benchmark redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done

echo "building ferrymq (release)..." >&2
cargo build --release --quiet --bin ferrymq
FERRYMQ=$(pwd)/target/release/ferrymq
WORK=$(mktemp -d -t ferrymq-instr.XXXXXX)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# free_port
source benches/servers.sh

# count <ferrymq|redis> <scenario>: prints instructions per request.
count() {
    local kind=$1 scenario=$2 port out
    port=$(free_port)
    out=$WORK/cg.$kind.$port
    local common=(--port "$port" --bind 127.0.0.1 --save "" --dir "$WORK")
    if [ -n "$AOF" ]; then
        rm -rf "$WORK/appendonlydir"
        common+=(--appendonly yes --appendfsync "$AOF")
    else
        common+=(--appendonly no)
    fi
    if [ "$kind" = ferrymq ] || [ "$kind" = baseline ]; then
        local bin=$FERRYMQ
        [ "$kind" = baseline ] && bin=$BASELINE
        valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "${common[@]}" \
            > "$WORK/log" 2>&1 &
    else
        valgrind --tool=callgrind --callgrind-out-file="$out" redis-server "${common[@]}" \
            > "$WORK/log" 2>&1 &
    fi
    PID=$!
    for _ in $(seq 200); do
        redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
    callgrind_control -z "$PID" > /dev/null 2>&1
    if [[ "$scenario" == *" "* ]]; then
        # Split the command on spaces without expanding `*` (XADD's auto ID).
        local -a argv
        read -r -a argv <<< "$scenario"
        redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQUESTS" -P "$PIPELINE" -q "${argv[@]}" \
            > /dev/null 2>&1
    else
        redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQUESTS" -P "$PIPELINE" -t "$scenario" \
            -q > /dev/null 2>&1
    fi
    callgrind_control -d "$PID" > /dev/null 2>&1
    local dump=""
    for _ in $(seq 100); do
        dump=$(ls "$out".* 2>/dev/null | head -1 || true)
        [ -n "$dump" ] && grep -q '^totals:\|^summary:' "$dump" 2>/dev/null && break
        sleep 0.1
    done
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
    local total
    total=$(grep -h '^summary:\|^totals:' "$dump" | head -1 | awk '{print $2}')
    local n=$REQUESTS
    # redis-benchmark's ping test runs PING_INLINE and PING_MBULK.
    [ "$scenario" = ping ] && n=$((REQUESTS * 2))
    rm -f "$out" "$out".*
    echo $((total / n))
}

echo "# instructions per request (callgrind, user space)"
echo
echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); ferrymq $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(redis-server --version | cut -d' ' -f1-3)"
echo "- redis-benchmark -c $CLIENTS -n $REQUESTS -P $PIPELINE${AOF:+; appendonly yes, appendfsync $AOF}"
echo
if [ -n "$BASELINE" ]; then
    echo "| scenario | ferrymq | baseline | change | redis-server | ratio |"
    echo "|---|---:|---:|---:|---:|---:|"
else
    echo "| scenario | ferrymq | redis-server | ratio |"
    echo "|---|---:|---:|---:|"
fi
for s in "${SCENARIOS[@]}"; do
    f=$(count ferrymq "$s")
    r=$(count redis "$s")
    ratio=$(awk -v f="$f" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", f / r; else print "-" }')
    if [ -n "$BASELINE" ]; then
        b=$(count baseline "$s")
        change=$(awk -v f="$f" -v b="$b" 'BEGIN { if (b > 0) printf "%+.1f%%", (f - b) * 100 / b; else print "-" }')
        echo "| $s -P $PIPELINE | $f | $b | $change | $r | $ratio |"
    else
        echo "| $s -P $PIPELINE | $f | $r | $ratio |"
    fi
done
