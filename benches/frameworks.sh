#!/usr/bin/env bash
# Queue frameworks on ferrymq and on redis-server (Debian's 7.0 package), side by side.
#
#   bash benches/frameworks.sh [--quick] [--rounds N] [--jobs N] [--tasks N] [--no-celery]
#                              [--out FILE]
#
# What it measures, with the frameworks' own clients (benches/frameworks/):
#   BullMQ (Node, bullmq_bench.mjs): jobs/s of queue.addBulk (chunks of 500, no worker), of a
#     Worker (concurrency 50, processor returns at once) draining those jobs, of queue.add
#     (50 calls outstanding) while the Worker runs, and end to end (first add to last
#     `completed`). BullMQ moves every job with EVALSHA: this is the Lua script workload.
#   Celery (Python, celery_bench.py): tasks/s of apply_async and end to end (first send until
#     a counter INCRed by the task reaches N) with a `--pool threads --concurrency 8` worker
#     subprocess, once with the result backend off and once with the redis result backend on.
# With the clients on one core the frameworks' own code caps these rates, so the table also
# gives the server's CPU time (user + system, /proc/PID/stat) per job or task over each client
# run. Every run checks that each job/task ran exactly once and the queue ended empty; a
# failure is reported as "fail" in the table and its message listed under it. Under the
# medians, every round's values, in run order, show the noise.
#
# Installs the dependencies locally, once: npm ci into benches/frameworks/node_modules and a
# venv in benches/frameworks/.venv (requirements.txt). Builds ferrymq (release), starts it and
# redis-server with --save '' --appendonly no on free loopback ports, both pinned to CPU 0
# (taskset), every client and worker on CPU 1. Servers alternate (A B A B, --rounds rounds, at
# least 3) and the table shows medians: scenario | ferrymq | redis-server | ratio.
# --quick: 3000 jobs, 1000 tasks (about 2 minutes); default: 30000 jobs, 6000 tasks (about
# 80 s a round on a 2-core VM).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
FW=$ROOT/benches/frameworks
ORIG_ARGS="$*"

QUICK=0
ROUNDS=3
JOBS=""
TASKS=""
CELERY=1
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --jobs) JOBS=$2; shift ;;
        --tasks) TASKS=$2; shift ;;
        --no-celery) CELERY=0 ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$ROUNDS" -ge 3 ] || { echo "--rounds must be at least 3" >&2; exit 2; }
if [ "$QUICK" = 1 ]; then
    JOBS=${JOBS:-3000}
    TASKS=${TASKS:-1000}
    TIMEOUT=60
else
    JOBS=${JOBS:-30000}
    TASKS=${TASKS:-6000}
    TIMEOUT=240
fi
CONCURRENCY=50
CELERY_CONCURRENCY=8

command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli not found (apt-get install redis-tools)" >&2; exit 1; }
command -v node >/dev/null || { echo "node not found (Node 18 or later)" >&2; exit 1; }
SPIN="" CPIN="" PIN=none
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SPIN="taskset -c 0" CPIN="taskset -c 1" PIN=1
fi

# Dependencies, installed once (again when the lock file or requirements.txt change).
if [ ! -f "$FW/node_modules/.package-lock.json" ] || [ "$FW/package-lock.json" -nt "$FW/node_modules/.package-lock.json" ]; then
    echo "installing BullMQ (npm ci)..." >&2
    (cd "$FW" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >&2)
fi
VENV=$FW/.venv
if [ "$CELERY" = 1 ]; then
    if [ ! -f "$VENV/.installed" ] || [ "$FW/requirements.txt" -nt "$VENV/.installed" ]; then
        echo "installing Celery (venv in benches/frameworks/.venv)..." >&2
        [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
        timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$FW/requirements.txt" >&2
        touch "$VENV/.installed"
    fi
fi

echo "building ferrymq (release)..." >&2
cargo build --release --quiet --bin ferrymq
FERRYMQ=$ROOT/target/release/ferrymq

WORK=$(mktemp -d -t ferrymq-frameworks.XXXXXX)
RESULTS=$WORK/results.tsv
: > "$RESULTS"
PROBLEMS=$WORK/problems
: > "$PROBLEMS"
source "$ROOT/benches/servers.sh"
cleanup() {
    stop_all_servers
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record <scenario> <server> <value>
record() {
    printf '%s\t%s\t%s\n' "$@" >> "$RESULTS"
}

field() {
    tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"
}

CLK_TCK=$(getconf CLK_TCK)
# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# run_client <server> <server pid> <label> <cpu scenario> <units done> <scenario=field ...> --
#            <command...>
# Runs one client, records each named field of its result line (or "fail" for all of them)
# and, as <cpu scenario>, the server's CPU time per unit over the whole client run in µs.
run_client() {
    local server=$1 spid=$2 label=$3 cpu_scen=$4 units=$5
    shift 5
    local pairs=()
    while [ "$1" != -- ]; do pairs+=("$1"); shift; done
    shift
    local out rc=0 c0 c1
    c0=$(cpu_ticks "$spid")
    out=$(timeout $((TIMEOUT + 30)) "$@" 2>&1) || rc=$?
    c1=$(cpu_ticks "$spid")
    local last
    last=$(tail -n 1 <<< "$out")
    local pair
    if [ $rc != 0 ] || grep -q '^error=' <<< "$last"; then
        [ $rc = 124 ] && last="killed after $((TIMEOUT + 30))s; $last"
        echo "  $label on $server failed: $last" >&2
        echo "- $label, $server: ${last:0:600}" >> "$PROBLEMS"
        for pair in "${pairs[@]}"; do record "${pair#*=}" "$server" fail; done
        record "$cpu_scen" "$server" fail
        return
    fi
    for pair in "${pairs[@]}"; do
        record "${pair#*=}" "$server" "$(field "$last" "${pair%%=*}")"
    done
    record "$cpu_scen" "$server" "$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$units" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
}

bullmq() {
    local server=$1 port=$2 spid=$3
    redis-cli -p "$port" flushall >/dev/null
    # Both halves (addBulk + drain, add + Worker) take every job through its whole life.
    run_client "$server" "$spid" BullMQ "BullMQ: server CPU per job, µs (lower is better)" $((2 * JOBS)) \
        "add_bulk=BullMQ queue.addBulk (chunks of 500), no worker" \
        "drain=BullMQ Worker (concurrency $CONCURRENCY) drains the waiting jobs" \
        "add=BullMQ queue.add (50 outstanding), Worker running" \
        "e2e=BullMQ add + complete, end to end" \
        -- $CPIN node "$FW/bullmq_bench.mjs" --port "$port" --jobs "$JOBS" \
        --concurrency "$CONCURRENCY" --chunk 500 --inflight 50 --timeout "$TIMEOUT"
}

celery() {
    local server=$1 port=$2 spid=$3 backend=$4 label
    redis-cli -p "$port" flushall >/dev/null
    local extra=()
    if [ "$backend" = 1 ]; then
        extra=(--backend)
        label="results on"
    else
        label="results off"
    fi
    run_client "$server" "$spid" "Celery ($label)" "Celery: server CPU per task, µs, $label (lower is better)" "$TASKS" \
        "send=Celery apply_async, $label" \
        "e2e=Celery send + run, end to end, $label" \
        -- $CPIN "$VENV/bin/python" "$FW/celery_bench.py" --port "$port" --tasks "$TASKS" \
        --concurrency "$CELERY_CONCURRENCY" --pool threads --pin "$PIN" --timeout "$TIMEOUT" "${extra[@]}"
}

T0=$(date +%s)
start_server ferrymq ferrymq --appendonly no
FPORT=$SERVER_PORT FPID=$SERVER_PID
start_server redis redis --appendonly no
RPORT=$SERVER_PORT RPID=$SERVER_PID
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS ($(( $(date +%s) - T0 ))s)" >&2
    for server in ferrymq redis; do
        port=$RPORT spid=$RPID
        [ $server = ferrymq ] && port=$FPORT spid=$FPID
        bullmq "$server" "$port" "$spid"
        if [ "$CELERY" = 1 ]; then
            celery "$server" "$port" "$spid" 0
            celery "$server" "$port" "$spid" 1
        fi
    done
done
stop_server "$FPID"
stop_server "$RPID"
ELAPSED=$(( $(date +%s) - T0 ))

report() {
    echo "# Queue frameworks: ferrymq vs redis-server"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took ${ELAPSED}s"
    echo "- machine: $(uname -sr), $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "- ferrymq $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); $(redis-server --version | cut -d' ' -f1-3,6)"
    echo "- command: \`bash benches/frameworks.sh${1:+ $1}\`"
    echo "- bullmq $(node -p "require('$FW/node_modules/bullmq/package.json').version") on Node $(node --version): $JOBS jobs per phase, Worker concurrency $CONCURRENCY"
    if [ "$CELERY" = 1 ]; then
        echo "- celery $("$VENV/bin/python" -c 'import celery; print(celery.__version__)') on Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'): $TASKS tasks per run, worker --pool threads --concurrency $CELERY_CONCURRENCY"
    fi
    echo "- rounds: $ROUNDS (servers alternate A B A B; medians shown); servers on CPU 0, clients and workers on CPU 1${SPIN:+ (taskset)}"
    echo "- values in jobs/s (BullMQ) and tasks/s (Celery), ratio = ferrymq / redis-server, above 1 is"
    echo "  better; the CPU rows are the server's user + system CPU time over a whole client run"
    echo "  (/proc/PID/stat, ${CLK_TCK} Hz ticks) per job or task, below 1 is better"
    echo
    echo "| scenario | ferrymq | redis-server | ratio |"
    echo "|---|---:|---:|---:|"
    awk -F'\t' '
        function median(s,   a, n, i, j, t) {
            n = split(s, a, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
            if (n == 0) return ""
            return a[int((n + 1) / 2)]
        }
        function fmt(v) { return (v + 0 >= 100) ? sprintf("%.0f", v) : sprintf("%.1f", v) }
        {
            key = $1
            if (!(key in seen)) { seen[key] = 1; order[++n] = key }
            if ($3 == "fail" || $3 == "") { bad[key, $2]++; next }
            vals[key, $2] = vals[key, $2] " " $3
        }
        END {
            for (i = 1; i <= n; i++) {
                k = order[i]
                f = median(vals[k, "ferrymq"]); r = median(vals[k, "redis"])
                fs = (f == "") ? "fail" : fmt(f)
                rs = (r == "") ? "fail" : fmt(r)
                if (f != "" && bad[k, "ferrymq"]) fs = fs " (" bad[k, "ferrymq"] " failed)"
                if (r != "" && bad[k, "redis"]) rs = rs " (" bad[k, "redis"] " failed)"
                ratio = (f != "" && r != "" && r + 0 > 0) ? sprintf("%.2f", f / r) : "-"
                printf "| %s | %s | %s | %s |\n", k, fs, rs, ratio
            }
        }' "$RESULTS"
    echo
    echo "Every round, in run order:"
    echo
    echo "| scenario | ferrymq | redis-server |"
    echo "|---|---|---|"
    awk -F'\t' '
        function fmt(v) { return (v == "fail" || v == "") ? "fail" : (v + 0 >= 100) ? sprintf("%.0f", v) : sprintf("%.1f", v) }
        {
            key = $1
            if (!(key in seen)) { seen[key] = 1; order[++n] = key }
            vals[key, $2] = vals[key, $2] (vals[key, $2] == "" ? "" : ", ") fmt($3)
        }
        END { for (i = 1; i <= n; i++) printf "| %s | %s | %s |\n", order[i], vals[order[i], "ferrymq"], vals[order[i], "redis"] }' "$RESULTS"
    if [ -s "$PROBLEMS" ]; then
        echo
        echo "## Failures"
        echo
        cat "$PROBLEMS"
    fi
}

report "$ORIG_ARGS" | tee "${OUT:-/dev/null}"
