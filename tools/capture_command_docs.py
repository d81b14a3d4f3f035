#!/usr/bin/env python3
"""Capture redis-server's COMMAND DOCS reply as src/command/docs.tsv.

Usage: tools/capture_command_docs.py PORT > src/command/docs.tsv
(a redis-server 7.0.15 listening on 127.0.0.1:PORT).

Each line is `full_name<TAB>tokens`: the command's RESP3 docs map without its `subcommands`
field (each subcommand has its own line). Tokens are separated by one space: `%N` map of N
pairs, `*N` array, `~N` set, `:N` integer, `+text` simple string, `$N:bytes` bulk string of N
bytes (which may contain spaces).
"""
import socket
import sys


def read_reply(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"%", b"*", b"~"):
        n = int(rest)
        items = [read_reply(f) for _ in range(2 * n if t == b"%" else n)]
        return (t, items)
    if t == b"$":
        data = f.read(int(rest) + 2)[:-2]
        return (t, data)
    if t in (b":", b"+"):
        return (t, rest)
    raise ValueError(line)


def encode(node):
    t, v = node
    if t == b"%":
        return ["%%%d" % (len(v) // 2)] + [tok for x in v for tok in encode(x)]
    if t in (b"*", b"~"):
        return ["%s%d" % (t.decode(), len(v))] + [tok for x in v for tok in encode(x)]
    if t == b"$":
        assert b"\n" not in v and b"\t" not in v, v
        return ["$%d:%s" % (len(v), v.decode())]
    if t == b"+":
        assert b" " not in v, v
        return ["+" + v.decode()]
    return [":" + v.decode()]


def lines(name, docs):
    _, items = docs
    own, subs = [], None
    for k, v in zip(items[::2], items[1::2]):
        if k[1] == b"subcommands":
            subs = v
        else:
            own += [k, v]
    yield "%s\t%s" % (name, " ".join(encode((b"%", own))))
    if subs:
        for k, v in zip(subs[1][::2], subs[1][1::2]):
            yield from lines(k[1].decode(), v)


def main():
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    f = s.makefile("rb")
    s.sendall(b"HELLO 3\r\nCOMMAND DOCS\r\n")
    read_reply(f)
    _, items = read_reply(f)
    out = []
    for k, v in zip(items[::2], items[1::2]):
        out += lines(k[1].decode(), v)
    print("# full name\tRESP3 docs map without subcommands, from redis-server 7.0.15 COMMAND DOCS")
    print("# (tools/capture_command_docs.py)")
    for line in sorted(out):
        print(line)


main()
