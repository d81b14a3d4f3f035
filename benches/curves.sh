#!/usr/bin/env bash
# Cost curves of ferrymq and redis-server: how one operation's cost grows with the state
# (pattern subscriptions, keys, subscribers, blocked clients, pending entries, idle
# connections). Writes benches/CURVES.md, benches/curves/curves.csv and benches/curves/*.png.
#
#   bash benches/curves.sh [--quick] [--only patterns,scan,fanout,brpop,pel,idle]
#
# Builds ferrymq and the driver (examples/curves.rs) in release. With taskset and 2+ CPUs the
# servers run on CPU 0 and the driver on CPU 1 (the per-core comparison of benches/compare.sh);
# otherwise unpinned. The whole sweep takes under 10 minutes, --quick under 3.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }

echo "building ferrymq and the curve driver (release)..." >&2
cargo build --release --quiet --bin ferrymq --example curves

# 10 000 subscribers or idle connections need as many descriptors in the driver and in each
# server (they inherit this limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12100 ]; then
    echo "warning: descriptor limit $(ulimit -n) is below 12100; the 10 000-connection points may fail" >&2
fi

PIN=()
SERVER_CPU=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN=(taskset -c 1)
    SERVER_CPU=(--server-cpu 0)
fi

"${PIN[@]}" "$ROOT/target/release/examples/curves" \
    --ferrymq "$ROOT/target/release/ferrymq" --redis "$(command -v redis-server)" \
    "${SERVER_CPU[@]}" --out "$ROOT/benches" "$@"
