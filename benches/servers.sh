# Shared by the side-by-side bench scripts (sourced, not run): free loopback ports, starting
# ferrymq or redis-server with the same settings, and stopping every server started.
#
# The caller sets WORK (a scratch directory), FERRYMQ (the ferrymq binary) and SPIN (a prefix
# for server commands, e.g. `taskset -c 0`, or empty), may set SERVER_ARGS (directives every
# server gets), and calls `stop_all_servers` on exit.

PIDS=()
SERVER_ARGS=()

# A free port below the ephemeral range, where a load generator's own connections live.
free_port() {
    local p
    while :; do
        p=$(( 20000 + RANDOM % 12000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

# start_server <ferrymq|redis> <name> [extra directives...]: sets SERVER_PORT and SERVER_PID.
# A port taken meanwhile by someone else is retried.
start_server() {
    local kind=$1 name=$2
    shift 2
    local port dir attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        dir=$WORK/$name-$port
        mkdir -p "$dir"
        local common=(--port "$port" --bind 127.0.0.1 --save "" --dir "$dir" --loglevel warning
            "${SERVER_ARGS[@]}" "$@")
        if [ "$kind" = ferrymq ]; then
            $SPIN "$FERRYMQ" "${common[@]}" > "$dir/log" 2>&1 &
        else
            $SPIN redis-server "${common[@]}" > "$dir/log" 2>&1 &
        fi
        SERVER_PID=$!
        SERVER_PORT=$port
        PIDS+=("$SERVER_PID")
        for _ in $(seq 100); do
            if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        stop_server "$SERVER_PID"
    done
    echo "$kind did not start:" >&2
    cat "$dir/log" >&2
    exit 1
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Every server start_server started (for the caller's EXIT trap).
stop_all_servers() {
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
