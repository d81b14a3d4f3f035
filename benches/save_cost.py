#!/usr/bin/env python3
"""What an RDB snapshot costs: ferrymq and redis-server side by side, same run.

    python3 benches/save_cost.py [--ferrymq target/release/ferrymq] [--redis redis-server]
                                 [--elements 1000000] [--rounds 3] [--requests 100000]

For each round and each server (fresh, persistence off, on a free loopback port, pinned to
CPU 0 with `taskset` when there are 2 CPUs or more; the clients on CPU 1):
  1. SAVE of one list of N elements (RPUSH of 100-byte values, pipelined): the time SAVE takes
     (its reply) and the size of dump.rdb;
  2. SAVE of one stream of N entries (XADD * f <100-byte value>): the same;
  3. with that stream loaded, p99 of GET under redis-benchmark (-c 50 -P 1) without a
     snapshot and while BGSAVE runs back to back (issue: within 2x of the no-save p99).
Prints a markdown table of medians over the rounds (servers alternate in each round).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory_back import Conn, enc, free_port, wait_ready  # noqa: E402

PIN = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(cpu, argv):
    return (["taskset", "-c", str(cpu)] if PIN else []) + argv


def start(argv):
    port = free_port()
    d = tempfile.mkdtemp()
    args = argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", d,
                   "--appendonly", "no"]
    if "redis-server" in os.path.basename(argv[0]):
        args += ["--daemonize", "no"]
    proc = subprocess.Popen(pinned(0, args), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, wait_ready(port, proc), port, d


def fill(c, kind, n):
    value = b"v" * 100
    chunk = 10_000
    for s in range(0, n, chunk):
        m = min(n, s + chunk) - s
        if kind == "list":
            c.pipeline([enc("RPUSH", "big", value) for _ in range(m)])
        else:
            c.pipeline([enc("XADD", "big", "*", "f", value) for _ in range(m)])


def timed_save(c, d):
    t = time.monotonic()
    r = c.call("SAVE")
    ms = (time.monotonic() - t) * 1000
    assert r.startswith(b"+OK"), r
    return ms, os.path.getsize(os.path.join(d, "dump.rdb"))


def get_p99(port, requests, bgsave_conn=None):
    """p99 (ms) of GET under redis-benchmark; with `bgsave_conn`, BGSAVE runs back to back."""
    bench = subprocess.Popen(
        pinned(1, ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests),
                   "-P", "1", "-t", "get", "--csv"]),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    saves = 0
    while bench.poll() is None:
        if bgsave_conn is not None:
            info = bgsave_conn.call("INFO", "persistence")
            if b"rdb_bgsave_in_progress:0" in info:
                r = bgsave_conn.call("BGSAVE")
                saves += r.startswith(b"+")
        time.sleep(0.01)
    out = bench.stdout.read().decode().strip().splitlines()
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
    # "p99_latency_ms","max_latency_ms"
    row = [f.strip('"') for f in out[-1].split(",")]
    return float(row[6]), saves


def measure(argv, n, requests):
    res = {}
    for kind in ("list", "stream"):
        proc, c, port, d = start(argv)
        try:
            fill(c, kind, n)
            res[f"save_{kind}"] = timed_save(c, d)
            if kind == "stream":
                p_quiet, _ = get_p99(port, requests)
                p_save, saves = get_p99(port, requests, Conn(port))
                res["p99"] = (p_quiet, p_save, saves)
        finally:
            proc.kill()
            proc.wait()
            shutil.rmtree(d, ignore_errors=True)
    return res


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferrymq", default="target/release/ferrymq")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--elements", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000)
    a = ap.parse_args()
    runs = {"ferrymq": [], "redis": []}
    for r in range(a.rounds):
        for name, argv in (("ferrymq", [a.ferrymq]), ("redis", [a.redis])):
            runs[name].append(measure(argv, a.elements, a.requests))
            print(f"round {r + 1} {name}: {runs[name][-1]}", file=sys.stderr)
    n = a.elements
    print(f"elements={n}, rounds={a.rounds}, pinned={PIN}; medians (per-round values in brackets)")
    print()
    print("| row | ferrymq | redis-server | ratio |")
    print("|---|---:|---:|---:|")

    def row(label, get, fmt="{:.0f}"):
        f = [get(x) for x in runs["ferrymq"]]
        rr = [get(x) for x in runs["redis"]]
        mf, mr = median(f), median(rr)
        ratio = mf / mr if mr else float("nan")
        per = lambda v: "/".join(fmt.format(x) for x in v)  # noqa: E731
        print(f"| {label} | {fmt.format(mf)} [{per(f)}] | {fmt.format(mr)} [{per(rr)}] | {ratio:.2f} |")

    row(f"SAVE of a {n}-element list, ms", lambda x: x["save_list"][0])
    row(f"dump.rdb of that list, bytes", lambda x: x["save_list"][1])
    row(f"SAVE of a {n}-entry stream, ms", lambda x: x["save_stream"][0])
    row(f"dump.rdb of that stream, bytes", lambda x: x["save_stream"][1])
    row("GET p99 with the stream loaded, no snapshot, ms", lambda x: x["p99"][0], "{:.3f}")
    row("GET p99 while BGSAVE runs back to back, ms", lambda x: x["p99"][1], "{:.3f}")
    row("BGSAVEs completed during that run", lambda x: x["p99"][2])


if __name__ == "__main__":
    main()
