#!/usr/bin/env bash
# Cost curves of ferrymq and redis-server: how one operation's cost grows with the state
# (pattern subscriptions, keys under SCAN, subscribers, blocked clients, pending entries, idle
# connections, subscribed channels, consumer groups, stream length, keys under KEYS and a
# whole SCAN). Writes benches/CURVES.md, benches/curves/curves.csv and benches/curves/*.png.
#
#   bash benches/curves.sh [--quick] [--only patterns,scan,fanout,brpop,pel,idle,channels,groups,streamlen,keys]
#
# Builds ferrymq and the driver (examples/curves.rs) in release. With taskset and 2+ CPUs the
# servers run on CPU 0 and the driver on CPU 1 (the per-core comparison of benches/compare.sh);
# otherwise unpinned. The whole sweep takes under 20 minutes, --quick under 5.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }

echo "building ferrymq and the curve driver (release)..." >&2
cargo build --release --quiet --bin ferrymq --example curves

# 50 000 idle connections need as many descriptors in the driver and in each server (they
# inherit the driver's limit). The driver raises RLIMIT_NOFILE to 120 000 itself when allowed
# (root); otherwise the soft limit goes up to the hard one here, and the idle points that do
# not fit are skipped.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(id -u)" != 0 ] && [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 51000 ]; then
    echo "warning: descriptor limit $(ulimit -n) is below 51000; the largest idle points will be skipped" >&2
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
