#!/usr/bin/env python3
"""Memory per key: ferrymq and redis-server side by side, same run.

    python3 benches/keys_memory.py [--ferrymq target/release/ferrymq] [--redis redis-server]
                                   [--keys 1000000] [--values 10,100] [--maxmemory-mb 20]

For each server (fresh, persistence off, on a free loopback port) and each value size:
  1. `SET key:N <value>` for N < keys (pipelined), then INFO used_memory and RSS: the growth
     divided by the number of keys;
  2. the same keys again with `EX 100000` (a TTL each) on a fresh server;
  3. with `maxmemory <mb>` and `allkeys-lru`, SET of 10x as many keys as fit: DBSIZE at the end.
Prints a markdown table.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory_back import Conn, enc, free_port, rss, used_memory, wait_ready  # noqa: E402


def start(argv, extra):
    port = free_port()
    d = tempfile.mkdtemp()
    args = argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", d,
                   "--appendonly", "no"] + extra
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, wait_ready(port, proc)


def fill(c, keys, value, ttl):
    chunk = 10_000
    extra = ["EX", "100000"] if ttl else []
    for s in range(0, keys, chunk):
        c.pipeline([enc("SET", b"key:%d" % i, value, *extra) for i in range(s, min(keys, s + chunk))])


def per_key(argv, keys, size, ttl):
    proc, c = start(argv, [])
    try:
        time.sleep(0.3)
        u0, r0 = used_memory(c), rss(proc.pid)
        fill(c, keys, b"v" * size, ttl)
        u1, r1 = used_memory(c), rss(proc.pid)
        return (u1 - u0) / keys, (r1 - r0) / keys
    finally:
        proc.kill()
        proc.wait()


def kept(argv, mb, size):
    proc, c = start(argv, ["--maxmemory", f"{mb}mb", "--maxmemory-policy", "allkeys-lru"])
    try:
        fill(c, 10 * mb * 1048576 // (size + 40), b"v" * size, False)
        n = c.call("DBSIZE")
        return int(n[1:])
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferrymq", default="target/release/ferrymq")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--values", default="10,100")
    ap.add_argument("--maxmemory-mb", type=int, default=20)
    a = ap.parse_args()
    servers = [("ferrymq", [a.ferrymq]), ("redis-server", [a.redis])]
    print(f"keys={a.keys}: bytes per key, used_memory / RSS growth\n")
    print("| row | ferrymq | redis-server | ratio (used_memory) |")
    print("|---|---:|---:|---:|")
    for size in [int(s) for s in a.values.split(",")]:
        for ttl in (False, True):
            res = [per_key(argv, a.keys, size, ttl) for _, argv in servers]
            label = f"SET key:N, {size}-byte value" + (", EX" if ttl else "")
            (fu, fr), (ru, rr) = res
            print(f"| {label} | {fu:.1f} / {fr:.1f} | {ru:.1f} / {rr:.1f} | {fu / ru:.2f} |")
        k = [kept(argv, a.maxmemory_mb, size) for _, argv in servers]
        print(f"| keys kept at maxmemory {a.maxmemory_mb} MB allkeys-lru, {size}-byte values "
              f"| {k[0]} | {k[1]} | {k[0] / k[1]:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
