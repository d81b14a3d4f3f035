#!/usr/bin/env bash
# Side-by-side comparison of ferrymq with redis-server (Debian's 7.0 package).
#
#   bash benches/compare.sh [--quick] [--rounds N] [--requests N] [--modes "pinned unpinned"]
#                           [--out FILE] [--frameworks]
#
# Builds ferrymq (release) and the load generator (examples/loadgen.rs), starts ferrymq and
# redis-server with identical persistence settings on free loopback ports, runs every scenario
# against both in alternation (A B A B ..., --rounds rounds, at least 3) and prints a markdown
# table of medians: scenario, ferrymq, redis-server, ratio, and p99 latencies.
#
# Modes: "pinned" runs both servers on CPU 0 and every client (redis-benchmark, loadgen) on
# CPU 1 (taskset) - the per-core comparison; "unpinned" lets the scheduler place everything.
#
# Scenarios whose commands ferrymq does not implement yet are reported as n/a.
# --quick runs everything with small counts (under 3 minutes on 2 cores); the default counts
# follow the issue (1M redis-benchmark requests, 1M elements/entries, 10k connections) and take
# much longer; --requests sets the redis-benchmark count (also with --quick: the quick counts are
# too short for stable ratios); the header says what was used. Memory is measured once
# (unpinned; placement does not change it), on a fresh server each time. --frameworks adds the
# queue-framework rows (BullMQ jobs/s, Celery tasks/s, server CPU per job) of
# benches/frameworks.sh, run with the same --rounds and --quick.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ORIG_ARGS="$*"

QUICK=0
ROUNDS=3
REQUESTS=""
MODES="pinned unpinned"
OUT=""
FRAMEWORKS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --requests) REQUESTS=$2; shift ;;
        --modes) MODES=$2; shift ;;
        --out) OUT=$2; shift ;;
        --frameworks) FRAMEWORKS=1 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$ROUNDS" -ge 3 ] || { echo "--rounds must be at least 3" >&2; exit 2; }

if [ "$QUICK" = 1 ]; then
    REQ_P1=${REQUESTS:-5000}
    REQ_P16=${REQUESTS:-50000}
    REQ_FSYNC=${REQUESTS:-2000}
    PUBSUB_MSGS=5000      # x 100 subscribers = 500k deliveries
    PATTERN_MSGS=20000    # x 10 matching pattern subscribers = 200k deliveries
    QUEUE_MSGS=20000
    STREAM_MSGS=20000
    MEM_ELEMS=100000
    MEM_CONNS=2000
    TIMEOUT=20
else
    REQ_P1=${REQUESTS:-1000000}
    REQ_P16=${REQUESTS:-1000000}
    REQ_FSYNC=${REQUESTS:-100000}
    PUBSUB_MSGS=50000     # x 100 subscribers = 5M deliveries
    PATTERN_MSGS=200000   # x 10 matching pattern subscribers = 2M deliveries
    QUEUE_MSGS=200000
    STREAM_MSGS=200000
    MEM_ELEMS=1000000
    MEM_CONNS=10000
    TIMEOUT=120
fi

command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found (apt-get install redis-tools)" >&2; exit 1; }
command -v taskset >/dev/null || MODES=${MODES//pinned/}
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then MODES="unpinned"; fi

echo "building ferrymq and the load generator (release)..." >&2
cargo build --release --quiet --bin ferrymq --example loadgen
FERRYMQ=$ROOT/target/release/ferrymq
LOADGEN=$ROOT/target/release/examples/loadgen

# Idle-connection memory needs ~10k descriptors in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)
case $FD_LIMIT in (*[!0-9]*|"") FD_LIMIT=65536 ;; esac
MAXCLIENTS=$(( FD_LIMIT > 20000 ? 15000 : FD_LIMIT - 200 ))
if [ "$MEM_CONNS" -gt $((MAXCLIENTS - 100)) ]; then MEM_CONNS=$((MAXCLIENTS - 100)); fi

WORK=$(mktemp -d -t ferrymq-compare.XXXXXX)
RESULTS=$WORK/results.tsv
: > "$RESULTS"
PROBLEMS=$WORK/problems
: > "$PROBLEMS"
source "$ROOT/benches/servers.sh"
SERVER_ARGS=(--maxclients "$MAXCLIENTS")
cleanup() {
    stop_all_servers
    rm -rf "$WORK"
}
trap cleanup EXIT

SPIN=""   # prefix for servers
CPIN=""   # prefix for clients

# The command is implemented when the reply is not an "unknown command" error.
supports() {
    local port=$1
    shift
    ! redis-cli -p "$port" "$@" 2>&1 | grep -qi "unknown command"
}

# record <mode> <scenario> <unit> <server> <value> <p99 ms or ->
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"
}

# Key/value fields of a loadgen result line.
field() {
    tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"
}

# bench <mode> <server> <port> <pipeline> <requests> <scenario-prefix>
bench_commands() {
    local mode=$1 server=$2 port=$3 pipe=$4 n=$5
    local tests=ping_mbulk
    local names=(PING)
    local lists=1
    if supports "$port" LPUSH compare:probe x; then
        tests="$tests,lpush,rpush,lpop,rpop"
        names+=(LPUSH RPUSH LPOP RPOP)
    else
        lists=0
    fi
    redis-cli -p "$port" del compare:probe mylist >/dev/null
    local i=0 line rps p99
    while IFS= read -r line; do
        rps=$(awk -F'","' '{print $2}' <<< "$line")
        p99=$(awk -F'","' '{print $7}' <<< "$line" | tr -d '"')
        record "$mode" "${names[$i]} -P $pipe" "req/s" "$server" "$rps" "$p99"
        i=$((i + 1))
    done < <($CPIN redis-benchmark -p "$port" -c 50 -n "$n" -P "$pipe" -t "$tests" --csv 2>/dev/null | tail -n +2)
    if [ $lists = 0 ]; then
        for t in LPUSH RPUSH LPOP RPOP; do record "$mode" "$t -P $pipe" "req/s" "$server" n/a -; done
    fi
    redis-cli -p "$port" del mylist >/dev/null
    bench_custom "$mode" "$server" "$port" "$pipe" "$n" "PUBLISH -P $pipe" PUBLISH ch xxx
    bench_custom "$mode" "$server" "$port" "$pipe" "$n" "XADD -P $pipe" XADD compare:stream '*' f xxx
    redis-cli -p "$port" del compare:stream >/dev/null
    # A short script, as queue frameworks run them (BullMQ moves every job with EVALSHA).
    local sha
    sha=$(redis-cli -p "$port" script load "return redis.call('INCR', KEYS[1])")
    bench_custom "$mode" "$server" "$port" "$pipe" "$n" "EVALSHA (INCR) -P $pipe" EVALSHA "$sha" 1 compare:counter
    redis-cli -p "$port" del compare:counter >/dev/null
}

# bench_custom <mode> <server> <port> <pipeline> <requests> <scenario> <command...>
bench_custom() {
    local mode=$1 server=$2 port=$3 pipe=$4 n=$5 scen=$6
    shift 6
    if ! supports "$port" "$@"; then
        record "$mode" "$scen" "req/s" "$server" n/a -
        return
    fi
    local line
    line=$($CPIN redis-benchmark -p "$port" -c 50 -n "$n" -P "$pipe" --csv "$@" 2>/dev/null | tail -n 1)
    record "$mode" "$scen" "req/s" "$server" \
        "$(awk -F'","' '{print $2}' <<< "$line")" "$(awk -F'","' '{print $7}' <<< "$line" | tr -d '"')"
}

# loadgen_run <mode> <scenario> <unit> <server> <port> <probe command...> -- <loadgen args...>
loadgen_run() {
    local mode=$1 scen=$2 unit=$3 server=$4 port=$5
    shift 5
    local probe=()
    while [ "$1" != -- ]; do probe+=("$1"); shift; done
    shift
    if [ ${#probe[@]} -gt 0 ] && ! supports "$port" "${probe[@]}"; then
        record "$mode" "$scen" "$unit" "$server" n/a -
        return
    fi
    redis-cli -p "$port" del compare:probe >/dev/null
    local out
    out=$($CPIN "$LOADGEN" --port "$port" --timeout "$TIMEOUT" "$@" 2>&1 | tail -n 1) || true
    if grep -qi "unknown.command" <<< "$out"; then
        record "$mode" "$scen" "$unit" "$server" n/a -
        return
    fi
    if [ -z "$(field "$out" rate)" ]; then
        echo "  $scen on $server failed: $out" >&2
        echo "- $mode, $scen, $server: failed: $out" >> "$PROBLEMS"
        record "$mode" "$scen" "$unit" "$server" fail -
        return
    fi
    local lost dup pending p99
    lost=$(field "$out" lost)
    dup=$(field "$out" dup)
    pending=$(field "$out" pending)
    if [ "${lost:-0}" != 0 ] || [ "${dup:-0}" != 0 ] || [ "${pending:-0}" != 0 ]; then
        echo "  $scen on $server: lost=$lost dup=$dup pending=$pending" >&2
        echo "- $mode, $scen, $server: lost=${lost:-0} dup=${dup:-0} pending=${pending:-0}" >> "$PROBLEMS"
    fi
    p99=$(field "$out" p99_us)
    record "$mode" "$scen" "$unit" "$server" "$(field "$out" rate)" \
        "$( [ -n "$p99" ] && awk -v u="$p99" 'BEGIN{printf "%.3f", u/1000}' || echo -)"
}

# cpu_per_request <mode> <server> <port> <pid>: the server's CPU time (user + system, from
# /proc) per unpipelined GET. At -P 1 the one-core load generator saturates before either
# server does, so the rate rows measure mostly the client; this row is the server's own cost.
cpu_per_request() {
    local mode=$1 server=$2 port=$3 pid=$4
    local tck t0 t1
    tck=$(getconf CLK_TCK)
    redis-cli -p "$port" set key:__rand_int__ xxx >/dev/null
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    $CPIN redis-benchmark -p "$port" -c 50 -n "$REQ_P1" -P 1 -t get >/dev/null 2>&1
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    record "$mode" "server CPU per GET -P 1" "us/req" "$server" \
        "$(awk -v a="$t0" -v b="$t1" -v t="$tck" -v n="$REQ_P1" 'BEGIN{printf "%.2f", (b - a) * 1e6 / t / n}')" -
}

messaging_scenarios() {
    local mode=$1 server=$2 port=$3 pid=$4
    bench_commands "$mode" "$server" "$port" 1 "$REQ_P1"
    cpu_per_request "$mode" "$server" "$port" "$pid"
    bench_commands "$mode" "$server" "$port" 16 "$REQ_P16"
    loadgen_run "$mode" "fan-out: 1 pub, 100 subs, 1 channel" "deliveries/s" "$server" "$port" \
        -- pubsub --subscribers 100 --messages "$PUBSUB_MSGS"
    loadgen_run "$mode" "fan-out: 1000 channels, 100 pattern subs" "deliveries/s" "$server" "$port" \
        -- pubsub --subscribers 100 --channels 1000 --patterns --messages "$PATTERN_MSGS"
    loadgen_run "$mode" "queue: 4 LPUSH, 4 BRPOP" "msgs/s" "$server" "$port" \
        BRPOP compare:probe 0.01 -- queue --producers 4 --consumers 4 --messages "$QUEUE_MSGS"
    loadgen_run "$mode" "stream: XADD, 4 XREADGROUP+XACK" "entries/s" "$server" "$port" \
        XACK compare:probe g 0-1 -- stream --producers 2 --consumers 4 --messages "$STREAM_MSGS"
    # Redelivery of unacknowledged entries: by the server (a visibility timeout, ferrymq only)
    # or by the client as a Redis application does it (XAUTOCLAIM before each read).
    loadgen_run "$mode" "stream: same, visibility timeout (FMQ.GROUPSET)" "entries/s" "$server" "$port" \
        FMQ.GROUPGET compare:probe g -- stream --producers 2 --consumers 4 --messages "$STREAM_MSGS" --visibility 30000
    loadgen_run "$mode" "stream: same, XAUTOCLAIM before each read" "entries/s" "$server" "$port" \
        XACK compare:probe g 0-1 -- stream --producers 2 --consumers 4 --messages "$STREAM_MSGS" --autoclaim
    # Delayed jobs (p99 = lateness past the due time): scheduled by the server (ferrymq only)
    # or a sorted set plus a Lua mover polled every 5 ms, as Redis applications do it.
    loadgen_run "$mode" "queue: delayed 100 ms (FMQ.SCHEDULE)" "msgs/s" "$server" "$port" \
        FMQ.SCHEDULED -- queue --producers 4 --consumers 4 --messages "$QUEUE_MSGS" --delay 100
    loadgen_run "$mode" "queue: delayed 100 ms (ZSET + Lua mover)" "msgs/s" "$server" "$port" \
        BRPOP compare:probe 0.01 -- queue --producers 4 --consumers 4 --messages "$QUEUE_MSGS" --delay 100 --mover
}

memory_scenarios() {
    local mode=$1 round=$2
    local kind probe scen unit count
    for kind in list stream conns; do
        case $kind in
            list) probe=(RPUSH compare:probe x); scen="memory: list element (100 B)"; unit="bytes/element"; count=$MEM_ELEMS ;;
            stream) probe=(XADD compare:probe '*' f x); scen="memory: stream entry (1 field, 100 B)"; unit="bytes/entry"; count=$MEM_ELEMS ;;
            conns) probe=(); scen="memory: idle connection"; unit="bytes/conn"; count=$MEM_CONNS ;;
        esac
        # A fresh server per measurement, so earlier frees do not hide growth.
        for server in ferrymq redis; do
            start_server "$server" "mem-$kind-$round"
            loadgen_run "$mode" "$scen" "$unit" "$server" "$SERVER_PORT" "${probe[@]}" -- \
                memory --pid "$SERVER_PID" --kind "$kind" --count "$count"
            stop_server "$SERVER_PID"
        done
    done
}

durability_scenarios() {
    local mode=$1
    local policy server round
    for policy in always everysec; do
        local fport rport fpid rpid
        start_server ferrymq "aof-$policy" --appendonly yes --appendfsync "$policy"
        fport=$SERVER_PORT fpid=$SERVER_PID
        start_server redis "aof-$policy" --appendonly yes --appendfsync "$policy"
        rport=$SERVER_PORT rpid=$SERVER_PID
        local aof_on=1
        redis-cli -p "$fport" info persistence | grep -q '^aof_enabled:1' || aof_on=0
        for round in $(seq "$ROUNDS"); do
            for server in ferrymq redis; do
                local port=$rport
                [ $server = ferrymq ] && port=$fport
                if [ $server = ferrymq ] && [ $aof_on = 0 ]; then
                    record "$mode" "LPUSH appendfsync $policy, 50 clients" "req/s" ferrymq "n/a" -
                    record "$mode" "XADD appendfsync $policy, 50 clients" "req/s" ferrymq "n/a" -
                    continue
                fi
                bench_custom "$mode" "$server" "$port" 1 "$REQ_FSYNC" "LPUSH appendfsync $policy, 50 clients" LPUSH compare:aofl xxx
                bench_custom "$mode" "$server" "$port" 1 "$REQ_FSYNC" "XADD appendfsync $policy, 50 clients" XADD compare:aofs '*' f xxx
                redis-cli -p "$port" del compare:aofl compare:aofs >/dev/null
            done
        done
        stop_server "$fpid"
        stop_server "$rpid"
    done
}

T0=$(date +%s)
since() { echo "      ($(( $(date +%s) - T0 ))s)" >&2; }
for mode in $MODES; do
    if [ "$mode" = pinned ]; then SPIN="taskset -c 0"; CPIN="taskset -c 1"; else SPIN=""; CPIN=""; fi
    echo "== $mode: messaging scenarios" >&2
    start_server ferrymq "main-$mode"
    FPORT=$SERVER_PORT FPID=$SERVER_PID
    start_server redis "main-$mode"
    RPORT=$SERVER_PORT RPID=$SERVER_PID
    for round in $(seq "$ROUNDS"); do
        echo "   round $round/$ROUNDS" >&2
        messaging_scenarios "$mode" ferrymq "$FPORT" "$FPID"
        messaging_scenarios "$mode" redis "$RPORT" "$RPID"
    done
    stop_server "$FPID"
    stop_server "$RPID"
    since
    echo "== $mode: durability" >&2
    durability_scenarios "$mode"
    since
done
# Memory does not depend on CPU placement: measured once, unpinned, on fresh servers.
SPIN=""; CPIN=""
echo "== memory" >&2
for round in $(seq "$ROUNDS"); do
    memory_scenarios memory "$round"
done
since
ELAPSED=$(( $(date +%s) - T0 ))

# Medians per (mode, scenario, server), then one table per mode.
report() {
    echo "# ferrymq vs redis-server"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took ${ELAPSED}s"
    echo "- machine: $(uname -sr), $NCPU x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "- ferrymq $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); $(redis-server --version | cut -d' ' -f1-3,6)"
    echo "- command: \`bash benches/compare.sh${1:+ $1}\`"
    echo "- rounds: $ROUNDS (servers alternate A B A B; medians shown); redis-benchmark -c 50 -n $REQ_P1 (-P 1), -n $REQ_P16 (-P 16), -n $REQ_FSYNC (appendfsync)"
    echo "- counts: fan-out $PUBSUB_MSGS msgs to 100 subs; patterns $PATTERN_MSGS msgs; queue $QUEUE_MSGS; stream $STREAM_MSGS; memory $MEM_ELEMS elements/entries, $MEM_CONNS connections"
    echo "- both servers: --save '' --appendonly no (appendonly yes + the named appendfsync for the durability rows), --maxclients $MAXCLIENTS"
    echo "- ratio = ferrymq / redis-server (above 1 is better for rates; for memory and CPU-per-request rows below 1 is better); p99 in ms"
    for mode in $MODES memory; do
        echo
        if [ "$mode" = memory ]; then
            echo "## Memory: RSS growth of a fresh server per element / entry / idle connection"
        elif [ "$mode" = pinned ]; then
            echo "## Pinned: both servers on CPU 0, load generator and redis-benchmark on CPU 1"
        else
            echo "## Unpinned: no affinity, $NCPU CPUs shared by servers and clients"
        fi
        echo
        echo "| scenario | unit | ferrymq | redis-server | ratio | p99 ferrymq | p99 redis |"
        echo "|---|---|---:|---:|---:|---:|---:|"
        awk -F'\t' -v mode="$mode" '
            function median(s,   a, n, i, j, t) {
                n = split(s, a, " ")
                for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
                if (n == 0) return ""
                return a[int((n + 1) / 2)]
            }
            function fmt(v) {
                if (v == "") return "-"
                if (v + 0 >= 1000) return sprintf("%.0f", v)
                return sprintf("%.4g", v)
            }
            $1 == mode {
                key = $2
                if (!(key in seen)) { seen[key] = 1; order[++n] = key; unit[key] = $3 }
                if ($5 == "n/a" || $5 == "fail") { bad[key, $4] = $5; next }
                vals[key, $4] = vals[key, $4] " " $5
                if ($6 != "-" && $6 != "") p99[key, $4] = p99[key, $4] " " $6
            }
            END {
                for (i = 1; i <= n; i++) {
                    k = order[i]
                    f = median(vals[k, "ferrymq"]); r = median(vals[k, "redis"])
                    fs = ((k, "ferrymq") in bad) ? bad[k, "ferrymq"] : fmt(f)
                    rs = ((k, "redis") in bad) ? bad[k, "redis"] : fmt(r)
                    ratio = (fs ~ /^[0-9.]+$/ && rs ~ /^[0-9.]+$/ && r + 0 > 0) ? sprintf("%.2f", f / r) : "-"
                    printf "| %s | %s | %s | %s | %s | %s | %s |\n", k, unit[k], fs, rs, ratio, fmt(median(p99[k, "ferrymq"])), fmt(median(p99[k, "redis"]))
                }
            }' "$RESULTS"
    done
    if [ -s "$PROBLEMS" ]; then
        echo
        echo "## Problems (loss, duplicates, pending entries, failures)"
        echo
        cat "$PROBLEMS"
    fi
}

# Queue frameworks with their own clients (BullMQ, Celery): benches/frameworks.sh, whose
# table follows this one (it installs the frameworks locally the first time).
frameworks_table() {
    [ "$FRAMEWORKS" = 1 ] || return 0
    echo "== frameworks" >&2
    local args=(--rounds "$ROUNDS" --out "$WORK/frameworks.md")
    [ "$QUICK" = 1 ] && args+=(--quick)
    if bash "$ROOT/benches/frameworks.sh" "${args[@]}" > "$WORK/frameworks.log" 2>&1; then
        echo
        sed 's/^# /## /' "$WORK/frameworks.md"
    else
        echo
        echo "## Queue frameworks: benches/frameworks.sh failed"
        echo
        tail -n 20 "$WORK/frameworks.log"
    fi
}

{
    report "$ORIG_ARGS"
    frameworks_table
} | tee "${OUT:-/dev/null}"
