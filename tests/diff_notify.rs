//! Differential tests of keyspace notifications: the same commands against ferrymq and
//! redis-server, each with a listener in `PSUBSCRIBE __key*__:*`; after every command both
//! listeners' messages are collected and compared byte for byte (so the events, their order,
//! their channels and their framing must all match).
//!
//! Collecting: the command connection publishes a marker on `__key__:sync` (which the pattern
//! matches), and the listener reads until the marker arrives. Events published while a command
//! ran (and any expiry in between) come before it, since a connection's messages keep their
//! order.

mod common;
use common::{RawConn, Server, info_field, wait_for};
use std::time::Duration;

struct Side {
    srv: Server,
    cmd: RawConn,
    lis: RawConn,
}

impl Side {
    fn new(srv: Server, flags: &str, resp3: bool) -> Side {
        let mut cmd = srv.raw();
        assert_eq!(
            cmd.cmd_s(&["CONFIG", "SET", "notify-keyspace-events", flags]),
            "+OK\r\n"
        );
        let mut lis = srv.raw();
        if resp3 {
            lis.cmd(&["HELLO", "3"]);
        }
        lis.cmd(&["PSUBSCRIBE", "__key*__:*"]);
        Side { srv, cmd, lis }
    }

    /// Messages received since the last call (the marker excluded).
    fn events(&mut self, n: u64) -> Vec<String> {
        let marker = format!("sync-{n}");
        self.cmd.cmd(&["PUBLISH", "__key__:sync", &marker]);
        let mut out = Vec::new();
        loop {
            let f = self.lis.read_reply();
            let s = String::from_utf8_lossy(&f).into_owned();
            if s.contains("__key__:sync") {
                assert!(s.contains(&marker), "out of order marker: {s:?}");
                return out;
            }
            out.push(s);
        }
    }
}

struct Notify {
    f: Side,
    r: Side,
    n: u64,
    log: Vec<String>,
}

impl Notify {
    /// Both servers with `notify-keyspace-events` set to `flags` (by CONFIG SET), or None without
    /// the oracle.
    fn new(flags: &str) -> Option<Notify> {
        Notify::with(flags, false)
    }

    fn with(flags: &str, resp3: bool) -> Option<Notify> {
        let rs = Server::redis(&["--enable-debug-command", "yes"])?;
        let fm = Server::ferrymq(&["--enable-debug-command", "yes"]);
        Some(Notify {
            f: Side::new(fm, flags, resp3),
            r: Side::new(rs, flags, resp3),
            n: 0,
            log: vec![],
        })
    }

    /// Send to both command connections; replies compared unless `check_reply` is false.
    fn send(&mut self, args: &[&str], check_reply: bool) -> String {
        self.log.push(args.join(" "));
        let r = self.r.cmd.cmd_s(args);
        let f = self.f.cmd.cmd_s(args);
        if check_reply {
            assert_eq!(
                r, f,
                "reply to {:?} differs (commands: {:?})",
                args, self.log
            );
        }
        r
    }

    /// Compare the messages both listeners received since the last check.
    fn check(&mut self) -> Vec<String> {
        self.n += 1;
        let r = self.r.events(self.n);
        let f = self.f.events(self.n);
        assert_eq!(
            r, f,
            "events differ (redis left, ferrymq right) after {:?}",
            self.log
        );
        r
    }

    /// One command: replies and the events it raised compared.
    fn step(&mut self, args: &[&str]) -> Vec<String> {
        self.send(args, true);
        self.check()
    }

    fn script(&mut self, cmds: &[&[&str]]) {
        for c in cmds {
            self.step(c);
        }
    }
}

/// Raw RESP2 of one pmessage from the listener.
fn pmsg(channel: &str, payload: &str) -> String {
    format!(
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
}

#[test]
fn generic_keyspace_events() {
    let Some(mut t) = Notify::new("KEA") else {
        return;
    };
    let ev = t.step(&["SET", "a", "1"]);
    // The framing is checked against the oracle; this pins what the oracle said.
    assert_eq!(
        ev,
        vec![
            pmsg("__keyspace@0__:a", "set"),
            pmsg("__keyevent@0__:set", "a")
        ]
    );
    t.script(&[
        &["DEL", "a", "nokey"],
        &["UNLINK", "a"],
        &["SET", "a", "1"],
        &["EXPIRE", "a", "100"],
        &["PEXPIRE", "a", "100000"],
        &["EXPIREAT", "a", "99999999999"],
        &["PEXPIREAT", "a", "99999999999000"],
        &["EXPIRE", "a", "100", "NX"],
        &["EXPIRE", "a", "100", "GT"],
        &["PERSIST", "a"],
        &["PERSIST", "a"],
        &["EXPIRE", "a", "0"],
        &["SET", "a", "1"],
        &["EXPIRE", "a", "-1"],
        &["EXPIRE", "nokey", "10"],
        &["SET", "a", "1"],
        &["RENAME", "a", "b"],
        &["SET", "c", "1"],
        &["RENAME", "b", "c"],
        &["RENAMENX", "c", "d"],
        &["SET", "e", "1"],
        &["RENAMENX", "d", "e"],
        &["RENAME", "d", "d"],
        &["MOVE", "d", "1"],
        &["SELECT", "1"],
        &["SET", "d1", "x"],
        &["MOVE", "d1", "0"],
        &["DEL", "d"],
        &["SELECT", "0"],
        &["SET", "x", "1"],
        &["COPY", "x", "y"],
        &["COPY", "x", "y"],
        &["COPY", "x", "y", "REPLACE"],
        &["COPY", "x", "y", "DB", "2"],
        &["UNLINK", "x", "y"],
        &["TOUCH", "d1"],
        &["TYPE", "d1"],
        &["FLUSHDB"],
        &["FLUSHALL"],
    ]);
}

#[test]
fn string_events() {
    let Some(mut t) = Notify::new("KEA") else {
        return;
    };
    t.script(&[
        &["SET", "k", "v"],
        &["SET", "k", "v", "EX", "100"],
        &["SET", "k", "v", "KEEPTTL"],
        &["SET", "k", "v", "PXAT", "99999999999000"],
        &["SET", "k", "w", "NX"],
        &["SET", "k", "w", "XX", "GET"],
        &["SET", "nk", "w", "XX"],
        &["GETEX", "k"],
        &["GETEX", "k", "PERSIST"],
        &["GETEX", "k", "PERSIST"],
        &["GETEX", "k", "EX", "100"],
        &["GETEX", "k", "PXAT", "1"],
        &["SET", "k", "v"],
        &["GETDEL", "k"],
        &["GETDEL", "k"],
        &["MSET", "a", "1", "b", "2"],
        &["MSETNX", "a", "1", "z", "2"],
        &["MSETNX", "z", "1", "zz", "2"],
        &["SETNX", "a", "1"],
        &["SETNX", "aa", "1"],
        &["SETEX", "a", "10", "v"],
        &["PSETEX", "a", "10000", "v"],
        &["GETSET", "a", "5"],
        &["SETRANGE", "a", "0", "x"],
        &["SETRANGE", "a", "0", ""],
        &["SETRANGE", "new", "0", ""],
        &["SETRANGE", "new", "2", "x"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["DECR", "n"],
        &["DECRBY", "n", "2"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["INCR", "a"],
        &["APPEND", "n", "x"],
        &["APPEND", "newapp", "x"],
        &["GET", "n"],
        &["MGET", "n", "a"],
    ]);
}

#[test]
fn list_events() {
    let Some(mut t) = Notify::new("KEA") else {
        return;
    };
    t.script(&[
        &["LPUSH", "l", "a", "b", "c"],
        &["RPUSH", "l", "d"],
        &["LPUSHX", "l", "x"],
        &["RPUSHX", "l", "y"],
        &["LPUSHX", "nol", "x"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LPOP", "l", "0"],
        &["LINSERT", "l", "BEFORE", "c", "z"],
        &["LINSERT", "l", "BEFORE", "nope", "z"],
        &["LSET", "l", "0", "q"],
        &["LREM", "l", "0", "q"],
        &["LREM", "l", "0", "nope"],
        &["LTRIM", "l", "0", "0"],
        &["LTRIM", "l", "0", "-1"],
        &["LTRIM", "nol", "0", "-1"],
        &["RPUSH", "l2", "1", "2", "3"],
        &["LTRIM", "l2", "5", "10"],
        &["RPUSH", "l3", "1"],
        &["LREM", "l3", "1", "1"],
        &["RPUSH", "m", "1", "2"],
        &["LMOVE", "m", "n", "LEFT", "RIGHT"],
        &["LMOVE", "m", "n", "LEFT", "LEFT"],
        &["RPOPLPUSH", "n", "n"],
        &["LMPOP", "2", "zz", "n", "LEFT", "COUNT", "5"],
        &["RPUSH", "p", "1"],
        &["LPOP", "p", "5"],
        &["RPUSH", "p", "1", "2"],
        &["BLPOP", "p", "0"],
        &["BRPOP", "p", "0"],
        &["RPUSH", "p", "1"],
        &["BLMOVE", "p", "p", "LEFT", "RIGHT", "0"],
        &["BLMPOP", "0", "1", "p", "RIGHT"],
        &["LPOP", "nothing"],
        &["RPUSH", "s", "1"],
        &["LMOVE", "s", "s", "LEFT", "RIGHT"],
        &["LRANGE", "s", "0", "-1"],
    ]);
}

#[test]
fn hash_and_set_events() {
    let Some(mut t) = Notify::new("KEA") else {
        return;
    };
    t.script(&[
        &["HSET", "h", "a", "1", "b", "2"],
        &["HSET", "h", "a", "1"],
        &["HSETNX", "h", "a", "2"],
        &["HSETNX", "h", "c", "3"],
        &["HMSET", "h", "d", "4"],
        &["HDEL", "h", "a", "nope"],
        &["HDEL", "h", "nope"],
        &["HINCRBY", "h", "n", "1"],
        &["HINCRBYFLOAT", "h", "f", "1.5"],
        &["HDEL", "h", "b", "c", "d", "n", "f"],
        &["HSETNX", "h2", "x", "1"],
        &["HGETALL", "h2"],
        &["SADD", "s", "a", "b"],
        &["SADD", "s", "a"],
        &["SREM", "s", "a", "nope"],
        &["SREM", "s", "nope"],
        &["SPOP", "s"],
        &["SADD", "s", "a", "b", "c"],
        &["SPOP", "s", "0"],
    ]);
    // The members come out in hash-table order: only the events are compared.
    t.send(&["SPOP", "s", "5"], false);
    t.check();
    t.script(&[
        &["SADD", "s", "a", "b", "c"],
        &["SMOVE", "s", "t", "a"],
        &["SMOVE", "s", "t", "nope"],
        &["SMOVE", "s", "s", "b"],
        &["SMOVE", "s", "t", "b"],
        &["SMOVE", "s", "t", "c"],
        // A member the destination already has: only the source's events.
        &["SADD", "s2", "m"],
        &["SADD", "t2", "m"],
        &["SMOVE", "s2", "t2", "m"],
        &["SADD", "u", "1", "2"],
        &["SADD", "v", "2", "3"],
        &["SINTERSTORE", "dst", "u", "v"],
        &["SUNIONSTORE", "dst", "u", "v"],
        &["SDIFFSTORE", "dst", "u", "u"],
        &["SDIFFSTORE", "dst", "u", "u"],
        &["SINTERSTORE", "u", "u", "v"],
        &["SMEMBERS", "u"],
    ]);
}

#[test]
fn sorted_set_events() {
    let Some(mut t) = Notify::new("KEA") else {
        return;
    };
    t.script(&[
        &["ZADD", "z", "1", "a", "2", "b"],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "5", "a"],
        &["ZADD", "z", "INCR", "1", "a"],
        &["ZADD", "z", "NX", "1", "a"],
        &["ZADD", "z", "XX", "1", "nope"],
        &["ZINCRBY", "z", "1", "a"],
        &["ZINCRBY", "z", "0", "a"],
        &["ZINCRBY", "z2", "1", "a"],
        &["ZREM", "z", "a", "nope"],
        &["ZREM", "z", "nope"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZREMRANGEBYSCORE", "z", "1", "1"],
        &["ZREMRANGEBYSCORE", "z", "10", "20"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["ZREMRANGEBYLEX", "z", "-", "+"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z", "5"],
        &["ZPOPMIN", "z"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["BZPOPMIN", "z", "0"],
        &["BZPOPMAX", "z", "0"],
        &["ZMPOP", "1", "z", "MIN", "COUNT", "3"],
        &["ZADD", "za", "1", "a", "2", "b"],
        &["ZADD", "zb", "2", "b", "3", "c"],
        &["ZUNIONSTORE", "zd", "2", "za", "zb"],
        &["ZINTERSTORE", "zd", "2", "za", "zb"],
        &["ZDIFFSTORE", "zd", "2", "za", "za"],
        &["ZRANGESTORE", "zr", "za", "0", "-1"],
        &["ZRANGESTORE", "zr", "za", "5", "10"],
        &["ZRANGESTORE", "zr", "za", "0", "-1"],
        &["ZADD", "z", "GT", "CH", "0", "a"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ]);
}

#[test]
fn stream_events() {
    let Some(mut t) = Notify::new("KEA") else {
        return;
    };
    t.script(&[
        &["XADD", "x", "1-0", "f", "v"],
        &["XADD", "x", "2-0", "f", "v"],
        &["XADD", "x", "NOMKSTREAM", "3-0", "f", "v"],
        &["XADD", "nox", "NOMKSTREAM", "3-0", "f", "v"],
        &["XADD", "x", "MAXLEN", "1", "4-0", "f", "v"],
        &["XTRIM", "x", "MAXLEN", "5"],
        &["XADD", "x", "5-0", "f", "v"],
        &["XTRIM", "x", "MAXLEN", "1"],
        &["XDEL", "x", "5-0"],
        &["XDEL", "x", "99-0"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &["XGROUP", "CREATE", "y", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATECONSUMER", "x", "g", "c"],
        &["XGROUP", "CREATECONSUMER", "x", "g", "c"],
        &["XGROUP", "SETID", "x", "g", "0"],
        &["XADD", "x", "7-0", "f", "v"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c2",
            "COUNT",
            "1",
            "STREAMS",
            "x",
            ">",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c2",
            "COUNT",
            "1",
            "STREAMS",
            "x",
            "0",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c9",
            "COUNT",
            "1",
            "STREAMS",
            "x",
            ">",
        ],
        &["XCLAIM", "x", "g", "c3", "0", "7-0", "JUSTID"],
        &["XCLAIM", "x", "g", "c3", "0", "7-0", "JUSTID"],
        &["XAUTOCLAIM", "x", "g", "c4", "0", "0", "JUSTID"],
        &["XACK", "x", "g", "7-0"],
        &["XGROUP", "DELCONSUMER", "x", "g", "c"],
        &["XGROUP", "DELCONSUMER", "x", "g", "nope"],
        &["XGROUP", "DESTROY", "x", "g"],
        &["XGROUP", "DESTROY", "x", "g"],
        &["XSETID", "x", "100-0"],
        &["XADD", "x", "101-0", "f", "v"],
        &["XTRIM", "x", "MINID", "200-0"],
        &["XLEN", "x"],
        &["DEL", "x", "y"],
    ]);
}

/// `expired`: lazily (a lookup finds the key past its TTL) and actively (the expiry cycle),
/// ordered before the event of the command that noticed it.
#[test]
fn expired_events() {
    let Some(mut t) = Notify::new("KEAn") else {
        return;
    };
    // Lazy: `expired` where the lookup finds the key, before the events that follow it.
    t.step(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    t.step(&["SET", "k", "v", "PX", "5"]);
    std::thread::sleep(Duration::from_millis(20));
    t.step(&["GET", "k"]);
    t.step(&["SET", "k", "v", "PX", "5"]);
    std::thread::sleep(Duration::from_millis(20));
    t.step(&["LPUSH", "k", "x"]);
    t.step(&["SET", "j", "v"]);
    t.step(&["PSETEX", "k", "5", "v"]);
    std::thread::sleep(Duration::from_millis(20));
    t.step(&["MSET", "j", "1", "k", "2"]);
    t.step(&["PEXPIRE", "k", "5"]);
    std::thread::sleep(Duration::from_millis(20));
    t.step(&["RENAME", "j", "k"]);
    t.step(&["PEXPIRE", "k", "5"]);
    std::thread::sleep(Duration::from_millis(20));
    t.step(&["EXISTS", "k"]);
    t.step(&["HSET", "h", "f", "v"]);
    t.step(&["PEXPIRE", "h", "5"]);
    std::thread::sleep(Duration::from_millis(20));
    t.step(&["HSET", "h", "f", "v"]);
    t.step(&["PEXPIRE", "h", "5"]);
    std::thread::sleep(Duration::from_millis(20));
    t.step(&["DEL", "h"]);
    t.step(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);

    // Active: nobody touches the key; the cycle removes it and publishes `expired`.
    t.step(&["SET", "a", "v", "PX", "30"]);
    t.step(&["RPUSH", "b", "x"]);
    t.step(&["PEXPIRE", "b", "30"]);
    // Each side at its own pace: collect until both expired keys were reported, then compare.
    let mut got: [Vec<String>; 2] = [vec![], vec![]];
    for (i, side) in [&mut t.r, &mut t.f].into_iter().enumerate() {
        let mut n = 1000;
        let done = wait_for(Duration::from_secs(5), || {
            n += 1;
            got[i].extend(side.events(n));
            got[i].iter().filter(|e| e.contains("expired")).count() == 4
        });
        assert!(done, "active expiry events: {:?}", got[i]);
    }
    // Redis's cycle samples keys in hash order: compare the (keyspace, keyevent) pairs as sets.
    let [mut r, mut f] = got.map(|g| g.chunks(2).map(|c| c.to_vec()).collect::<Vec<_>>());
    r.sort();
    f.sort();
    assert_eq!(r, f, "active expiry (redis left, ferrymq right)");
}

/// Which classes and channel kinds the flags select; `A` does not include `n`.
#[test]
fn flag_subsets() {
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["LPUSH", "l", "a"],
        &["LPOP", "l"],
        &["HSET", "h", "f", "v"],
        &["SADD", "st", "m"],
        &["ZADD", "z", "1", "m"],
        &["XADD", "x", "1-0", "f", "v"],
        &["EXPIRE", "s", "100"],
        &["RENAME", "s", "s2"],
        &["DEL", "h", "st", "z", "x"],
        &["SET", "e", "1", "PX", "1"],
    ];
    for flags in [
        "Elg",
        "K$",
        "Kg",
        "Ex",
        "Kn",
        "En",
        "KA",
        "EA",
        "g$lshzxet",
        "AKE",
        "g",
        "",
    ] {
        let Some(mut t) = Notify::new(flags) else {
            return;
        };
        t.script(script);
        std::thread::sleep(Duration::from_millis(10));
        t.step(&["GET", "e"]);
        t.send(&["CONFIG", "GET", "notify-keyspace-events"], true);
        if flags.is_empty() || flags == "g" {
            assert!(t.check().is_empty(), "no events expected with {flags:?}");
        }
    }
}

/// Events inside MULTI/EXEC and scripts come out in execution order, as they happen.
#[test]
fn transactions_and_scripts() {
    let Some(mut t) = Notify::new("KEAn") else {
        return;
    };
    t.send(&["MULTI"], true);
    for c in [
        &["SET", "m1", "1"][..],
        &["LPUSH", "m2", "x"],
        &["INCR", "m1"],
        &["DEL", "m2"],
        &["LPOP", "nope"],
        &["HSET", "m3", "f", "v"],
        &["INCR", "m3"],
    ] {
        t.send(c, true);
    }
    t.step(&["EXEC"]);
    t.step(&[
        "EVAL",
        "redis.call('set',KEYS[1],'1'); redis.call('rpush',KEYS[2],'a'); \
         redis.call('sadd',KEYS[3],'m'); return redis.call('lpop',KEYS[2])",
        "3",
        "e1",
        "e2",
        "e3",
    ]);
    t.step(&[
        "EVAL",
        "redis.call('del',KEYS[1]); return redis.pcall('incr',KEYS[2])",
        "2",
        "e1",
        "e3",
    ]);
}

/// A blocked client served by a push: the push's events, then the pop the served client
/// performed (and `del` when it emptied the key).
#[test]
fn blocked_clients_served_by_a_push() {
    let Some(mut t) = Notify::new("KEAn") else {
        return;
    };
    let cases: &[(&[&str], &[&str])] = &[
        (&["BLPOP", "q", "0"], &["RPUSH", "q", "a"]),
        (&["BRPOP", "q2", "q", "0"], &["RPUSH", "q", "c"]),
        (
            &["BLMOVE", "q", "d", "LEFT", "RIGHT", "0"],
            &["RPUSH", "q", "a"],
        ),
        (
            &["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "5"],
            &["LPUSH", "q", "1", "2"],
        ),
        (&["BZPOPMIN", "z", "0"], &["ZADD", "z", "1", "a"]),
        (
            &["BZMPOP", "0", "1", "z", "MAX"],
            &["ZADD", "z", "1", "a", "2", "b"],
        ),
        (
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
            &["XADD", "s", "1-0", "f", "v"],
        ),
    ];
    t.step(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    for (block, push) in cases {
        let mut fb = t.f.srv.raw();
        let mut rb = t.r.srv.raw();
        fb.send(block);
        rb.send(block);
        for (side, conn) in [(&t.f.srv, &mut t.f.cmd), (&t.r.srv, &mut t.r.cmd)] {
            let ok = wait_for(Duration::from_secs(5), || {
                info_field(conn, "blocked_clients").as_deref() == Some("1")
            });
            assert!(ok, "{} did not block on {block:?}", side.name);
        }
        t.step(push);
        assert_eq!(
            String::from_utf8_lossy(&rb.read_reply()),
            String::from_utf8_lossy(&fb.read_reply()),
            "served reply to {block:?}"
        );
        t.check();
    }
}

/// RESP3: events arrive as push frames, on a listener and on a connection that subscribes
/// and runs commands itself (the push before the command's reply).
#[test]
fn resp3_push_delivery() {
    let Some(mut t) = Notify::with("KEA", true) else {
        return;
    };
    let ev = t.step(&["SET", "k", "v"]);
    assert!(ev[0].starts_with(">4\r\n"), "{ev:?}");
    t.script(&[&["RPUSH", "l", "a"], &["LPOP", "l"], &["DEL", "k"]]);

    // One connection subscribed to events and issuing commands.
    let mut f = t.f.srv.raw();
    let mut r = t.r.srv.raw();
    for c in [&mut f, &mut r] {
        c.cmd(&["HELLO", "3"]);
        c.cmd(&["SUBSCRIBE", "__keyevent@0__:set", "__keyevent@0__:del"]);
        c.read_reply();
        c.send(&["SET", "self", "1"]);
        c.send(&["DEL", "self"]);
        c.send(&["PING"]);
    }
    for i in 0..5 {
        assert_eq!(
            String::from_utf8_lossy(&r.read_reply()),
            String::from_utf8_lossy(&f.read_reply()),
            "frame {i}"
        );
    }
}

/// With the default configuration nothing is published; CONFIG SET turns events on and off
/// for the commands that follow.
#[test]
fn off_by_default_and_switched_at_runtime() {
    let Some(mut t) = Notify::new("") else {
        return;
    };
    t.script(&[&["SET", "a", "1"], &["DEL", "a"]]);
    assert!(t.check().is_empty());
    t.step(&["CONFIG", "SET", "notify-keyspace-events", "Kl"]);
    assert!(t.step(&["SET", "a", "1"]).is_empty());
    assert_eq!(t.step(&["RPUSH", "b", "1"]).len(), 1);
    t.step(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    assert!(t.step(&["RPUSH", "b", "1"]).is_empty());
}

/// Binary keys and other databases appear verbatim in channels and payloads.
#[test]
fn binary_keys_and_databases() {
    let Some(mut t) = Notify::new("KEA") else {
        return;
    };
    let key = "k\u{0}with\r\nbytes \u{7f}";
    t.script(&[
        &["SET", key, "v"],
        &["SELECT", "5"],
        &["RPUSH", key, "v"],
        &["MOVE", key, "3"],
        &["SELECT", "3"],
        &["COPY", key, "other", "DB", "0"],
        &["DEL", key],
    ]);
}

/// The directive given at startup (command line or file) applies without CONFIG SET.
#[test]
fn flags_from_the_command_line() {
    let Some(rs) = Server::redis(&["--notify-keyspace-events", "Elh"]) else {
        return;
    };
    let fm = Server::ferrymq(&["--notify-keyspace-events", "Elh"]);
    let mut got = Vec::new();
    for srv in [&rs, &fm] {
        let mut lis = srv.raw();
        lis.cmd(&["PSUBSCRIBE", "__key*__:*"]);
        let mut c = srv.raw();
        c.cmd(&["RPUSH", "l", "a"]);
        c.cmd(&["SET", "s", "1"]);
        c.cmd(&["HSET", "h", "f", "v"]);
        c.cmd(&["PUBLISH", "__key__:sync", "end"]);
        let mut frames = Vec::new();
        loop {
            let f = String::from_utf8_lossy(&lis.read_reply()).into_owned();
            if f.contains("__key__:sync") {
                break;
            }
            frames.push(f);
        }
        got.push(frames);
    }
    assert_eq!(got[0].len(), 2, "{:?}", got[0]);
    assert_eq!(got[0], got[1]);
}

/// Writes that meet a key past its TTL (found by their lookup, never by the expiry cycle):
/// `expired` then `new` where the command looks the key up, a plain `del` where Redis deletes
/// without looking (the *STORE commands with an empty result).
#[test]
fn writes_meeting_an_expired_key() {
    let Some(mut t) = Notify::new("KEAn") else {
        return;
    };
    t.step(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let cases: &[(&str, &[&str])] = &[
        ("k", &["HSET", "k", "f", "v"]),
        ("k", &["SADD", "k", "m"]),
        ("k", &["ZADD", "k", "1", "m"]),
        ("k", &["XADD", "k", "1-0", "f", "v"]),
        ("k", &["RPUSH", "k", "a"]),
        ("k", &["LPUSHX", "k", "a"]),
        ("k", &["INCRBYFLOAT", "k", "1"]),
        ("k", &["SETRANGE", "k", "1", "x"]),
        ("k", &["SET", "k", "x", "GET"]),
        ("k", &["SET", "k", "x", "XX"]),
        ("d", &["LMOVE", "src", "d", "LEFT", "RIGHT"]),
        ("d", &["SMOVE", "ssrc", "d", "m"]),
        ("d", &["SINTERSTORE", "d", "ssrc"]),
        ("d", &["SINTERSTORE", "d", "nothing"]),
        ("d", &["SDIFFSTORE", "d", "ssrc", "ssrc"]),
        ("d", &["ZUNIONSTORE", "d", "1", "zsrc"]),
        ("d", &["ZUNIONSTORE", "d", "1", "nothing"]),
        ("d", &["ZRANGESTORE", "d", "zsrc", "5", "6"]),
        ("d", &["COPY", "src", "d"]),
        ("d", &["RENAME", "src", "d"]),
        ("src", &["RENAME", "src", "d"]),
        ("d", &["MSETNX", "d", "1"]),
        ("d", &["HSETNX", "d", "f", "v"]),
        ("k", &["EXPIRE", "k", "100"]),
        ("k", &["GETEX", "k", "PERSIST"]),
        ("k", &["DEL", "k"]),
        ("k", &["MOVE", "k", "1"]),
        ("k", &["XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"]),
        ("k", &["OBJECT", "ENCODING", "k"]),
    ];
    for (key, cmd) in cases {
        t.script(&[
            &["FLUSHALL"],
            &["RPUSH", "src", "a"],
            &["SADD", "ssrc", "m"],
            &["ZADD", "zsrc", "1", "m"],
            &["SET", key, "v", "PX", "1"],
        ]);
        std::thread::sleep(Duration::from_millis(5));
        t.step(cmd);
    }
}
