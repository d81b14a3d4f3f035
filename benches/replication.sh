#!/usr/bin/env bash
# What replication costs, ferrymq and redis-server side by side (Debian's redis-server 7.0):
#
#   bash benches/replication.sh [--keys N] [--requests N] [--rounds N]
#
# For each master kind (ferrymq, redis-server), on fresh servers bound to loopback:
#  1. LPUSH -P16 throughput (redis-benchmark, 50 clients) with no replica, then with one
#     redis-server replica attached; the master is pinned to CPU 0, the replica and the
#     benchmark to CPU 1. After the run: how long until the replica's offset equals the
#     master's (its lag at the master's full rate). The master's CPU time per request in both
#     runs: what feeding a replica costs it, apart from the CPU the replica takes from the
#     benchmark on this machine.
#  2. A full synchronisation of --keys keys (default 1M, loaded with redis-cli --pipe): the
#     time from REPLICAOF until the replica reports master_link_status:up, and the longest
#     PING round trip a client of the master saw meanwhile (how long clients are paused).
# Prints a markdown table. Medians over --rounds rounds (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=1000000
REQUESTS=1000000
ROUNDS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --keys) KEYS=$2; shift ;;
        --requests) REQUESTS=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

cargo build --release --quiet
FERRYMQ=$(pwd)/target/release/ferrymq
WORK=$(mktemp -d)
# `start` runs in a command substitution (a subshell): the pids go to a file, not a variable.
PIDFILE=$WORK/pids
: >"$PIDFILE"
stop_all() {
    while read -r p; do kill "$p" 2>/dev/null || true; done <"$PIDFILE"
    while read -r p; do
        while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
    done <"$PIDFILE"
    : >"$PIDFILE"
}
cleanup() {
    stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start KIND CPU EXTRA... -> prints the port; the pid goes to $PIDFILE
start() {
    local kind=$1 cpu=$2; shift 2
    local port dir
    port=$(free_port)
    dir=$(mktemp -d -p "$WORK")
    if [ "$kind" = ferrymq ]; then
        taskset -c "$cpu" "$FERRYMQ" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" \
            --appendonly no "$@" >"$dir/log" 2>&1 &
    else
        taskset -c "$cpu" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" \
            --appendonly no --daemonize no "$@" >"$dir/log" 2>&1 &
    fi
    echo $! >>"$PIDFILE"
    for _ in $(seq 200); do
        redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break
        sleep 0.05
    done
    echo "$port"
}

field() { redis-cli -p "$1" INFO replication | tr -d '\r' | sed -n "s/^$2://p"; }

wait_up() {
    local port=$1
    until [ "$(field "$port" master_link_status)" = up ]; do sleep 0.01; done
}

lpush_rate() {
    taskset -c 1 redis-benchmark -p "$1" -t lpush -P 16 -c 50 -n "$REQUESTS" -q 2>/dev/null \
        | tr '\r' '\n' | sed -n 's/.*LPUSH: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}

# The master's CPU time (user + system) in clock ticks, and the microseconds per request of
# a run from the ticks before and after it.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
us_per_request() {
    python3 -c "import os; print(f'{($2 - $1) * 1e6 / os.sysconf(\"SC_CLK_TCK\") / $REQUESTS:.2f}')"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

PIPE=$WORK/keys.resp
python3 - "$KEYS" >"$PIPE" <<'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    k = f"key:{i}"
    v = f"value-{i:012d}"
    out.write(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n")
EOF

declare -A R
for kind in ferrymq redis; do
    for _ in $(seq "$ROUNDS"); do
        m=$(start "$kind" 0)
        mpid=$(tail -1 "$PIDFILE")
        c0=$(cpu_ticks "$mpid")
        R[$kind,alone]+="$(lpush_rate "$m") "
        R[$kind,cpu_alone]+="$(us_per_request "$c0" "$(cpu_ticks "$mpid")") "
        stop_all
        m=$(start "$kind" 0)
        mpid=$(tail -1 "$PIDFILE")
        r=$(start redis 1 --replicaof 127.0.0.1 "$m")
        wait_up "$r"
        c0=$(cpu_ticks "$mpid")
        R[$kind,replica]+="$(lpush_rate "$m") "
        R[$kind,cpu_replica]+="$(us_per_request "$c0" "$(cpu_ticks "$mpid")") "
        t0=$(date +%s%N)
        until [ "$(field "$r" slave_repl_offset)" = "$(field "$m" master_repl_offset)" ]; do
            sleep 0.01
        done
        R[$kind,lag]+="$(( ($(date +%s%N) - t0) / 1000000 )) "
        stop_all

        m=$(start "$kind" 0 --repl-diskless-sync no)
        redis-cli -p "$m" --pipe <"$PIPE" >/dev/null
        r=$(start redis 1)
        # A client of the master pings in a loop while the replica synchronises; it keeps
        # the longest round trip in a file.
        python3 - "$m" "$WORK/ping" <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
worst = 0.0
while True:
    t = time.perf_counter()
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    s.recv(64)
    d = time.perf_counter() - t
    if d > worst:
        worst = d
        with open(sys.argv[2], "w") as f:
            f.write(f"{worst * 1000:.1f}\n")
    time.sleep(0.001)
EOF
        pinger=$!
        # Its first round trip is written at once: the sync starts once it is pinging.
        until [ -s "$WORK/ping" ]; do sleep 0.01; done
        t0=$(date +%s%N)
        redis-cli -p "$r" REPLICAOF 127.0.0.1 "$m" >/dev/null
        wait_up "$r"
        R[$kind,sync]+="$(( ($(date +%s%N) - t0) / 1000000 )) "
        kill "$pinger" 2>/dev/null || true
        wait "$pinger" 2>/dev/null || true
        R[$kind,pause]+="$(cat "$WORK/ping") "
        rm -f "$WORK/ping"
        stop_all
    done
done

med() { echo "${R[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

echo "Replication cost ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, redis-server $(redis-server --version | sed 's/.*v=\([0-9.]*\).*/\1/'), medians of $ROUNDS; master on CPU 0, replica and clients on CPU 1)"
echo
echo "| row | ferrymq | redis-server | ratio |"
echo "|---|---|---|---|"
fa=$(med ferrymq,alone); ra=$(med redis,alone)
fr=$(med ferrymq,replica); rr=$(med redis,replica)
echo "| LPUSH -P16 req/s, no replica | $fa | $ra | $(ratio "$fa" "$ra") |"
echo "| LPUSH -P16 req/s, one replica | $fr | $rr | $(ratio "$fr" "$rr") |"
echo "| throughput kept with a replica | $(ratio "$fr" "$fa") | $(ratio "$rr" "$ra") | |"
fca=$(med ferrymq,cpu_alone); rca=$(med redis,cpu_alone)
fcr=$(med ferrymq,cpu_replica); rcr=$(med redis,cpu_replica)
echo "| master CPU per LPUSH, no replica, µs | $fca | $rca | $(ratio "$fca" "$rca") |"
echo "| master CPU per LPUSH, one replica, µs | $fcr | $rcr | $(ratio "$fcr" "$rcr") |"
echo "| master CPU kept with a replica (no replica / one) | $(ratio "$fca" "$fcr") | $(ratio "$rca" "$rcr") | |"
echo "| replica catch-up after the run, ms | $(med ferrymq,lag) | $(med redis,lag) | |"
fs=$(med ferrymq,sync); rs=$(med redis,sync)
echo "| full sync of $KEYS keys to a redis-server replica, ms | $fs | $rs | $(ratio "$fs" "$rs") |"
echo "| longest PING on the master during that sync, ms | $(med ferrymq,pause) | $(med redis,pause) | |"
