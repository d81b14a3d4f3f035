#!/usr/bin/env python3
"""Memory that goes back: ferrymq and redis-server side by side, same run.

    python3 benches/memory_back.py [--ferrymq target/release/ferrymq] [--redis redis-server]
                                   [--conns 10000] [--keys 1000000]

For each server (fresh, persistence off, on a free loopback port):
  1. idle connections: RSS growth per connection right after N clients sent one PING, again
     once they have been idle for 3.5 s (both servers give idle clients' query buffers back
     after 2 s), and after MEMORY PURGE (freed pages back to the OS at once);
  2. burst then delete: RSS and INFO used_memory after SET of K keys (100-byte values), after
     DEL of every key (one by one, pipelined, not FLUSHALL), 1 s and 11 s later, and after
     MEMORY PURGE.
Prints a markdown table. Needs about 2 x conns file descriptors (ulimit -n).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 16)
            data, self.buf = self.buf[:n], self.buf[n + 2 :]
            return data
        if line[:1] == b"*":
            return [self.reply() for _ in range(int(line[1:]))]
        return line

    def call(self, *args):
        self.s.sendall(enc(*args))
        return self.reply()

    def pipeline(self, cmds):
        self.s.sendall(b"".join(cmds))
        for _ in cmds:
            self.reply()


def used_memory(c):
    info = c.call("INFO", "memory").decode()
    for line in info.split("\r\n"):
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return 0


def wait_ready(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            c = Conn(port)
            if c.call("PING") == b"+PONG":
                return c
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def measure(name, argv, conns, keys):
    port = free_port()
    d = tempfile.mkdtemp()
    args = argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", d,
                   "--maxclients", str(conns + 100)]
    if "redis" in name:
        args += ["--daemonize", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        admin = wait_ready(port, proc)
        time.sleep(0.3)
        row = {}
        base = rss(proc.pid)
        held = []
        for _ in range(conns):
            c = Conn(port)
            c.s.sendall(enc("PING"))
            held.append(c)
        for c in held:
            c.reply()
        time.sleep(0.3)
        row["conn_active"] = (rss(proc.pid) - base) / conns
        time.sleep(3.5)
        row["conn_idle"] = (rss(proc.pid) - base) / conns
        admin.call("MEMORY", "PURGE")
        time.sleep(0.2)
        row["conn_idle_purged"] = (rss(proc.pid) - base) / conns
        for c in held:
            c.s.close()
        held = None
        time.sleep(0.5)

        base = rss(proc.pid)
        row["rss_base"] = base
        row["used_base"] = used_memory(admin)
        value = b"v" * 100
        chunk = 10_000
        for start in range(0, keys, chunk):
            admin.pipeline([enc("SET", b"key:%d" % i, value) for i in range(start, min(keys, start + chunk))])
        row["rss_full"] = rss(proc.pid)
        row["used_full"] = used_memory(admin)
        for start in range(0, keys, chunk):
            admin.pipeline([enc("DEL", b"key:%d" % i) for i in range(start, min(keys, start + chunk))])
        row["rss_deleted"] = rss(proc.pid)
        row["used_deleted"] = used_memory(admin)
        time.sleep(1.0)
        row["rss_deleted_1s"] = rss(proc.pid)
        time.sleep(10.0)
        row["rss_deleted_11s"] = rss(proc.pid)
        admin.call("MEMORY", "PURGE")
        time.sleep(0.2)
        row["rss_purged"] = rss(proc.pid)
        row["used_purged"] = used_memory(admin)
        return row
    finally:
        proc.kill()
        proc.wait()


def mb(v):
    return f"{v / 1048576:.1f} MB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferrymq", default="target/release/ferrymq")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--ferrymq-args", default="", help="extra directives for ferrymq")
    ap.add_argument("--conns", type=int, default=10_000)
    ap.add_argument("--keys", type=int, default=1_000_000)
    a = ap.parse_args()
    rows = {
        "ferrymq": measure("ferrymq", [a.ferrymq] + a.ferrymq_args.split(), a.conns, a.keys),
        "redis-server": measure("redis-server", [a.redis], a.conns, a.keys),
    }
    print(f"conns={a.conns} keys={a.keys} (100-byte values)\n")
    print("| figure | ferrymq | redis-server |")
    print("|---|---|---|")
    f, r = rows["ferrymq"], rows["redis-server"]
    print(f"| RSS per connection, just after PING | {f['conn_active']:.0f} B | {r['conn_active']:.0f} B |")
    print(f"| RSS per connection, idle 3.5 s | {f['conn_idle']:.0f} B | {r['conn_idle']:.0f} B |")
    print(f"| RSS per connection, idle, after MEMORY PURGE | {f['conn_idle_purged']:.0f} B | {r['conn_idle_purged']:.0f} B |")
    for k, label in [
        ("base", "before the burst"),
        ("full", f"after SET of {a.keys} keys"),
        ("deleted", "right after DEL of every key"),
        ("deleted_1s", "1 s later"),
        ("deleted_11s", "11 s later (past jemalloc's 10 s dirty decay)"),
        ("purged", "after MEMORY PURGE"),
    ]:
        used = ""
        if f"used_{k}" in f:
            used = f" (used_memory {mb(f['used_' + k])} / {mb(r['used_' + k])})"
        print(f"| RSS {label}{used} | {mb(f['rss_' + k])} | {mb(r['rss_' + k])} |")


if __name__ == "__main__":
    sys.exit(main())
