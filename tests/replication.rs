//! ferrymq as a replication master: a real redis-server attached with `replicaof` ends up with
//! the same data and follows the writes, and the stream a SYNC client reads after the RDB is
//! the one redis-server sends for the same commands (both compared byte for byte).

mod common;
use common::{RawConn, Server, wait_for};
use std::time::Duration;

/// Attach `c` with SYNC and skip the RDB payload (`$<len>\r\n` and that many bytes).
fn attach(c: &mut RawConn) {
    c.send(&["SYNC"]);
    let header = c.read_line();
    // redis-server sends newlines to keep the link alive while it prepares the RDB.
    let len: usize = header
        .trim_start_matches('\n')
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an RDB header: {header:?}"));
    c.read_exact_bytes(len);
}

/// The commands the stream carries for a sequence of writes, as seen by a SYNC client.
fn stream_of(srv: &Server, writes: &[&[&str]]) -> Vec<String> {
    let mut repl = srv.raw();
    attach(&mut repl);
    let mut w = srv.raw();
    for cmd in writes {
        w.cmd(cmd);
    }
    // A marker write ends the sequence.
    w.cmd(&["SET", "end-marker", "1"]);
    let mut out = Vec::new();
    loop {
        let f = String::from_utf8(repl.read_reply()).unwrap();
        // redis-server pings its replicas now and then; they are not part of the writes.
        if f == "*1\r\n$4\r\nPING\r\n" {
            continue;
        }
        let done = f.contains("end-marker");
        out.push(f);
        if done {
            return out;
        }
    }
}

#[test]
fn sync_stream_carries_effects_as_redis() {
    let Some(rs) = Server::redis(&[]) else { return };
    let fm = Server::ferrymq(&[]);
    let writes: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["RPUSH", "l", "x", "y"],
        &["LPOP", "l"],
        &["SELECT", "2"],
        &["SET", "b", "2"],
        &["SELECT", "0"],
        &["EXPIRE", "a", "100"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["MULTI"],
        &["SET", "m1", "1"],
        &["SET", "m2", "2"],
        &["EXEC"],
        &[
            "EVAL",
            "redis.call('set','e1','1') redis.call('del','e1')",
            "0",
        ],
        &["DEL", "nokey"],
        &["SET", "g", "v"],
        &["GETDEL", "g"],
        &["SET", "g", "v"],
        &["GETEX", "g"],
        &["GETEX", "g", "PERSIST"],
        &["SADD", "s", "a", "b", "c"],
        &["SPOP", "s", "3"],
        &["RPUSH", "l2", "a", "b", "c"],
        &["LMPOP", "1", "l2", "LEFT", "COUNT", "2"],
        &["BLMPOP", "0", "1", "l2", "RIGHT"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["ZMPOP", "1", "z", "MIN", "COUNT", "2"],
        &["HINCRBYFLOAT", "h", "f", "2.5"],
        &["SETRANGE", "g", "0", "x"],
        &["PFADD", "hll", "a", "b"],
        &["GEOADD", "geo", "13.361389", "38.115556", "Palermo"],
        &["SORT", "l2", "STORE", "dst"],
        &["SETBIT", "bits", "7", "1"],
        &["FLUSHDB"],
    ];
    let (r, f) = (stream_of(&rs, writes), stream_of(&fm, writes));
    // EXPIRE's absolute time differs between the runs: compare its shape only.
    let mask = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|s| {
                if s.contains("PEXPIREAT") {
                    s.rsplit_once("$13\r\n")
                        .map_or(s.clone(), |(h, _)| h.to_string())
                } else {
                    s
                }
            })
            .collect()
    };
    assert_eq!(mask(f), mask(r));
}

#[test]
fn a_redis_replica_follows_ferrymq() {
    let Some(probe) = Server::redis(&[]) else {
        return;
    };
    drop(probe);
    let fm = Server::ferrymq(&[]);
    let mut m = fm.raw();
    m.cmd(&["SET", "before", "1"]);
    m.cmd(&["RPUSH", "list", "a", "b", "c"]);
    m.cmd(&["HSET", "hash", "f", "v"]);
    m.cmd(&["ZADD", "z", "1", "one", "2", "two"]);
    m.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    m.cmd(&["SADD", "set", "1", "2", "3"]);
    m.cmd(&["SADD", "words", "a", "b"]);
    m.cmd(&["XADD", "stream", "1-1", "f", "v"]);
    m.cmd(&["XGROUP", "CREATE", "stream", "g", "0"]);
    m.cmd(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "stream", ">"]);
    m.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function{function_name='f', callback=function() return 'hi' end, flags={'no-writes'}}",
    ]);
    m.cmd(&["SELECT", "5"]);
    m.cmd(&["SET", "in5", "x"]);
    m.cmd(&["SELECT", "0"]);
    let port = fm.port.to_string();
    let replica = Server::redis(&["--replicaof", "127.0.0.1", &port]).expect("redis-server");
    let mut r = replica.raw();
    assert!(
        wait_for(Duration::from_secs(20), || r.cmd(&["GET", "before"])
            == b"$1\r\n1\r\n"),
        "the replica never synchronised"
    );
    assert_eq!(
        r.cmd(&["LRANGE", "list", "0", "-1"]),
        m.cmd(&["LRANGE", "list", "0", "-1"])
    );
    assert_eq!(r.cmd(&["HGETALL", "hash"]), m.cmd(&["HGETALL", "hash"]));
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        m.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])
    );
    assert_eq!(r.cmd(&["SMEMBERS", "set"]), m.cmd(&["SMEMBERS", "set"]));
    assert_eq!(r.cmd(&["SCARD", "words"]), b":2\r\n");
    assert_eq!(
        r.cmd(&["XRANGE", "stream", "-", "+"]),
        m.cmd(&["XRANGE", "stream", "-", "+"])
    );
    assert_eq!(
        r.cmd(&["XPENDING", "stream", "g"]),
        m.cmd(&["XPENDING", "stream", "g"])
    );
    assert_eq!(r.cmd(&["FCALL_RO", "f", "0"]), b"$2\r\nhi\r\n");
    let ttl = String::from_utf8(r.cmd(&["TTL", "ttl"])).unwrap();
    let secs: i64 = ttl.trim_start_matches(':').trim_end().parse().unwrap();
    assert!(secs > 900 && secs <= 1000, "{ttl:?}");
    r.cmd(&["SELECT", "5"]);
    assert_eq!(r.cmd(&["GET", "in5"]), b"$1\r\nx\r\n");
    r.cmd(&["SELECT", "0"]);
    // Writes after the synchronisation follow, transactions and scripts included.
    m.cmd(&["LPUSH", "list", "z"]);
    m.cmd(&["MULTI"]);
    m.cmd(&["INCR", "counter"]);
    m.cmd(&["INCR", "counter"]);
    m.cmd(&["EXEC"]);
    m.cmd(&["EVAL", "redis.call('set','scripted','yes')", "0"]);
    m.cmd(&["DEL", "hash"]);
    m.cmd(&["SET", "after", "1"]);
    assert!(wait_for(Duration::from_secs(20), || r
        .cmd(&["GET", "after"])
        == b"$1\r\n1\r\n"));
    assert_eq!(
        r.cmd(&["LRANGE", "list", "0", "-1"]),
        m.cmd(&["LRANGE", "list", "0", "-1"])
    );
    assert_eq!(r.cmd(&["GET", "counter"]), b"$1\r\n2\r\n");
    assert_eq!(r.cmd(&["GET", "scripted"]), b"$3\r\nyes\r\n");
    assert_eq!(r.cmd(&["EXISTS", "hash"]), b":0\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), m.cmd(&["DBSIZE"]));
}

#[test]
fn replconf_and_psync_errors_as_redis() {
    let Some(mut d) = common::Diff::new() else {
        return;
    };
    d.script(&[
        &["REPLCONF", "foo", "bar"],
        &["REPLCONF", "listening-port"],
        &["REPLCONF", "listening-port", "abc"],
        &[
            "REPLCONF",
            "listening-port",
            "6380",
            "capa",
            "eof",
            "capa",
            "psync2",
        ],
        &["REPLCONF", "ip-address", "127.0.0.1"],
        &["PSYNC", "?"],
        &["PSYNC", "?", "abc"],
        &["SYNC", "extra"],
    ]);
}
