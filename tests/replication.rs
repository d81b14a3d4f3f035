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

fn info(c: &mut RawConn, field: &str) -> String {
    common::info_field(c, field).unwrap_or_default()
}

fn info_i64(c: &mut RawConn, field: &str) -> i64 {
    info(c, field).parse().unwrap_or(-1)
}

/// Wait until `replica` reports its link up and the offset of `master`.
fn caught_up(master: &mut RawConn, replica: &mut RawConn) -> bool {
    wait_for(Duration::from_secs(30), || {
        info(replica, "master_link_status") == "up"
            && info_i64(replica, "slave_repl_offset") == info_i64(master, "master_repl_offset")
    })
}

/// WAIT counts a redis-server replica once it acknowledged the writes; the offsets of both
/// sides agree; a killed link comes back as a partial resynchronisation.
#[test]
fn wait_offsets_and_partial_resync_with_a_redis_replica() {
    let Some(probe) = Server::redis(&[]) else {
        return;
    };
    drop(probe);
    let fm = Server::ferrymq(&[]);
    let mut m = fm.raw();
    assert_eq!(m.cmd(&["WAIT", "0", "0"]), b":0\r\n");
    assert_eq!(info(&mut m, "repl_backlog_active"), "0");
    let port = fm.port.to_string();
    let replica = Server::redis(&["--replicaof", "127.0.0.1", &port]).expect("redis-server");
    let mut r = replica.raw();
    assert!(
        wait_for(Duration::from_secs(20), || info(
            &mut r,
            "master_link_status"
        ) == "up"),
        "the replica never synchronised"
    );
    for i in 0..100 {
        m.cmd(&["RPUSH", "q", &i.to_string()]);
    }
    assert_eq!(m.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    assert_eq!(r.cmd(&["LLEN", "q"]), b":100\r\n");
    assert_eq!(info(&mut m, "connected_slaves"), "1");
    let line = info(&mut m, "slave0");
    assert!(
        line.starts_with("ip=127.0.0.1,port=") && line.contains(",state=online,offset="),
        "{line}"
    );
    assert!(caught_up(&mut m, &mut r), "offsets never matched");
    assert_eq!(info(&mut r, "master_replid"), info(&mut m, "master_replid"));
    // ROLE on the master lists the replica with its acknowledged offset.
    let role = m.cmd_s(&["ROLE"]);
    assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{role}");
    // Asking for more replicas than there are waits for the timeout, then says how many.
    assert_eq!(m.cmd(&["WAIT", "2", "100"]), b":1\r\n");

    let full = info_i64(&mut m, "sync_full");
    let partial = info_i64(&mut m, "sync_partial_ok");
    r.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
    m.cmd(&["SET", "while-down", "1"]);
    assert!(
        wait_for(Duration::from_secs(20), || info_i64(
            &mut m,
            "sync_partial_ok"
        ) == partial + 1),
        "no partial resynchronisation"
    );
    assert_eq!(info_i64(&mut m, "sync_full"), full);
    assert_eq!(m.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    assert_eq!(r.cmd(&["GET", "while-down"]), b"$1\r\n1\r\n");
    assert!(caught_up(&mut m, &mut r));
}

/// Compare every key of database 0 of two servers by DUMP-independent reads.
fn same_contents(a: &mut RawConn, b: &mut RawConn) {
    let mut keys_a = a.cmd_s(&["KEYS", "*"]);
    let mut keys_b = b.cmd_s(&["KEYS", "*"]);
    let sort = |s: &mut String| {
        let mut lines: Vec<&str> = s.split("\r\n").skip(1).collect();
        lines.sort();
        *s = lines.join("\n");
    };
    sort(&mut keys_a);
    sort(&mut keys_b);
    assert_eq!(keys_a, keys_b, "different key sets");
    for key in keys_a
        .lines()
        .filter(|l| !l.starts_with('$') && !l.is_empty())
    {
        let ty = a.cmd_s(&["TYPE", key]);
        assert_eq!(ty, b.cmd_s(&["TYPE", key]), "type of {key}");
        let read: &[&str] = match ty.as_str() {
            "+string\r\n" => &["GET"],
            "+list\r\n" => &["LRANGE", "", "0", "-1"],
            "+hash\r\n" => &["HGETALL"],
            "+set\r\n" => &["SMEMBERS"],
            "+zset\r\n" => &["ZRANGE", "", "0", "-1", "WITHSCORES"],
            "+stream\r\n" => &["XRANGE", "", "-", "+"],
            other => panic!("unexpected type {other}"),
        };
        let mut argv: Vec<&str> = read.to_vec();
        if argv.len() == 1 {
            argv.push(key);
        } else {
            argv[1] = key;
        }
        let (x, y) = (a.cmd(&argv), b.cmd(&argv));
        if ty == "+hash\r\n" || ty == "+set\r\n" {
            assert_eq!(x.len(), y.len(), "{key}");
        } else {
            assert_eq!(x, y, "{key}");
        }
    }
}

/// ferrymq follows a redis-server master, with the diskless and the disk-based transfer:
/// same contents, writes stream in, WAIT on the master counts ferrymq, writes to ferrymq are
/// refused as on a read-only replica, and REPLICAOF NO ONE makes it a writable master.
#[test]
fn ferrymq_follows_a_redis_master() {
    for diskless in ["yes", "no"] {
        let Some(rs) = Server::redis(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            "0",
        ]) else {
            return;
        };
        let mut m = rs.raw();
        for i in 0..200 {
            let i = i.to_string();
            m.cmd(&["SET", &format!("s{i}"), &i]);
            m.cmd(&["RPUSH", "list", &i]);
            m.cmd(&["HSET", "h", &i, &i]);
            m.cmd(&["SADD", "set", &i]);
            m.cmd(&["ZADD", "z", &i, &i]);
            m.cmd(&["XADD", "st", "*", "n", &i]);
        }
        m.cmd(&["SET", "ttl", "v", "EX", "1000"]);
        let fm = Server::ferrymq(&["--replicaof", "127.0.0.1", &rs.port.to_string()]);
        let mut r = fm.raw();
        assert!(
            wait_for(Duration::from_secs(30), || info(
                &mut r,
                "master_link_status"
            ) == "up"),
            "ferrymq never synchronised (diskless {diskless})"
        );
        assert_eq!(info(&mut r, "role"), "slave");
        m.cmd(&["LPUSH", "list", "after"]);
        m.cmd(&["MULTI"]);
        m.cmd(&["INCR", "n"]);
        m.cmd(&["INCR", "n"]);
        m.cmd(&["EXEC"]);
        m.cmd(&["DEL", "s5"]);
        assert_eq!(m.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
        assert!(caught_up(&mut m, &mut r), "offsets never matched");
        same_contents(&mut m, &mut r);
        let ttl: i64 = r
            .cmd_s(&["TTL", "ttl"])
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap();
        assert!(ttl > 900, "{ttl}");
        assert_eq!(
            r.cmd_s(&["SET", "x", "1"]),
            "-READONLY You can't write against a read only replica.\r\n"
        );
        let role = r.cmd_s(&["ROLE"]);
        assert!(
            role.starts_with("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n"),
            "{role}"
        );
        assert!(role.contains("$9\r\nconnected\r\n"), "{role}");
        assert_eq!(r.cmd_s(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
        assert_eq!(info(&mut r, "role"), "master");
        assert_eq!(r.cmd_s(&["SET", "x", "1"]), "+OK\r\n");
    }
}

/// A ferrymq replica of a ferrymq master: contents, pub/sub through the link, and a failover
/// by hand: the promoted replica continues its sibling with a partial resynchronisation.
#[test]
fn ferrymq_chain_pubsub_and_promotion() {
    let master = Server::ferrymq(&[]);
    let mut m = master.raw();
    m.cmd(&["SET", "k", "v"]);
    m.cmd(&["XADD", "s", "1-1", "f", "v"]);
    m.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    m.cmd(&["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]);
    let mport = master.port.to_string();
    let a = Server::ferrymq(&["--replicaof", "127.0.0.1", &mport]);
    let b = Server::ferrymq(&["--replicaof", "127.0.0.1", &mport]);
    let (mut ra, mut rb) = (a.raw(), b.raw());
    assert!(caught_up(&mut m, &mut ra) && caught_up(&mut m, &mut rb));
    assert_eq!(m.cmd(&["WAIT", "2", "5000"]), b":2\r\n");
    assert_eq!(
        ra.cmd(&["XPENDING", "s", "g"]),
        m.cmd(&["XPENDING", "s", "g"])
    );

    // What is published on the master reaches subscribers of the replica.
    let mut sub = a.raw();
    sub.cmd(&["SUBSCRIBE", "news"]);
    m.cmd(&["PUBLISH", "news", "hello"]);
    let msg = sub.read_reply();
    assert_eq!(
        msg,
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n".to_vec()
    );

    // Promote A, point B at it: B continues from A's backlog (no full resync).
    m.cmd(&["SET", "last", "1"]);
    assert!(caught_up(&mut m, &mut ra) && caught_up(&mut m, &mut rb));
    drop(m);
    drop(master);
    assert_eq!(ra.cmd_s(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    let old_id = info(&mut rb, "master_replid");
    assert_eq!(info(&mut ra, "master_replid2"), old_id);
    assert_eq!(
        rb.cmd_s(&["REPLICAOF", "127.0.0.1", &a.port.to_string()]),
        "+OK\r\n"
    );
    assert!(
        wait_for(Duration::from_secs(20), || info_i64(
            &mut ra,
            "sync_partial_ok"
        ) == 1),
        "the sibling did not continue with a partial resync"
    );
    assert_eq!(info_i64(&mut ra, "sync_full"), 0);
    ra.cmd(&["SET", "after-failover", "1"]);
    assert_eq!(ra.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    assert_eq!(rb.cmd(&["GET", "after-failover"]), b"$1\r\n1\r\n");
    assert_eq!(rb.cmd(&["GET", "last"]), b"$1\r\n1\r\n");
    assert_eq!(
        info(&mut rb, "master_replid"),
        info(&mut ra, "master_replid")
    );
}

/// A redis-server replica attaches to a ferrymq master holding 100k keys of every type while
/// writes of every kind continue (transactions, scripts, SPOP, served blocking pops, consumer
/// groups, expiries): after `WAIT 1` both hold the same data, key by key, and the offsets agree.
#[test]
fn full_sync_under_writes_leaves_equal_datasets() {
    let Some(probe) = Server::redis(&[]) else {
        return;
    };
    drop(probe);
    let fm = Server::ferrymq(&[]);
    let mut m = fm.raw();
    // 100k keys, pipelined in batches.
    let mut batch = Vec::new();
    for i in 0..100_000u32 {
        let k = format!("k{i}");
        let cmd: Vec<String> = match i % 6 {
            0 => vec!["SET".into(), k, i.to_string()],
            1 => vec!["RPUSH".into(), k, "a".into(), i.to_string()],
            2 => vec!["HSET".into(), k, "f".into(), i.to_string()],
            3 => vec!["SADD".into(), k, "x".into(), i.to_string()],
            4 => vec!["ZADD".into(), k, i.to_string(), "m".into()],
            _ => vec!["SET".into(), k, "v".into(), "EX".into(), "10000".into()],
        };
        batch.extend(common::encode_cmd(&cmd));
        if i % 5000 == 4999 {
            m.send_raw(&batch);
            batch.clear();
            for _ in 0..5000 {
                m.read_reply();
            }
        }
    }
    m.cmd(&["XADD", "jobs", "*", "n", "0"]);
    m.cmd(&["XGROUP", "CREATE", "jobs", "g", "0"]);
    let port = fm.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut w = RawConn::connect(port);
            let mut popper = RawConn::connect(port);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = i.to_string();
                w.cmd(&["MULTI"]);
                w.cmd(&["INCR", "counter"]);
                w.cmd(&["RPUSH", "mq", &n]);
                w.cmd(&["EXEC"]);
                w.cmd(&[
                    "EVAL",
                    "redis.call('hset', KEYS[1], ARGV[1], ARGV[1])",
                    "1",
                    "scripted",
                    &n,
                ]);
                w.cmd(&["SADD", "pool", &n, "x", "y"]);
                w.cmd(&["SPOP", "pool"]);
                popper.send(&["BLPOP", "blocked", "5"]);
                w.cmd(&["LPUSH", "blocked", &n]);
                popper.read_reply();
                w.cmd(&["XADD", "jobs", "*", "n", &n]);
                w.cmd(&[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c1",
                    "COUNT",
                    "1",
                    "STREAMS",
                    "jobs",
                    ">",
                ]);
                w.cmd(&["XCLAIM", "jobs", "g", "c2", "0", "0-1"]);
                w.cmd(&["SET", &format!("short{n}"), "v", "PX", "5"]);
                w.cmd(&["DEL", &format!("k{}", i * 7 % 100_000)]);
                i += 1;
            }
            i
        })
    };
    let replica = Server::redis(&["--replicaof", "127.0.0.1", &port.to_string()]).expect("redis");
    let mut r = replica.raw();
    assert!(
        wait_for(Duration::from_secs(60), || info(
            &mut r,
            "master_link_status"
        ) == "up"),
        "the replica never synchronised"
    );
    // Keep writing for a while after the link is up.
    let up_at = info_i64(&mut m, "master_repl_offset");
    assert!(wait_for(Duration::from_secs(30), || info_i64(
        &mut m,
        "master_repl_offset"
    ) > up_at + 20_000));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = writer.join().unwrap();
    assert!(rounds > 0);
    // Let the short TTLs expire on the master so both sides agree on them.
    std::thread::sleep(Duration::from_millis(20));
    assert!(wait_for(Duration::from_secs(20), || {
        m.cmd(&["SCAN", "0", "MATCH", "short*", "COUNT", "1000000"])
            .ends_with(b"*0\r\n")
    }));
    m.cmd(&["SET", "end", "1"]);
    assert_eq!(m.cmd(&["WAIT", "1", "10000"]), b":1\r\n");
    assert!(caught_up(&mut m, &mut r), "offsets never matched");
    assert_eq!(m.cmd(&["DBSIZE"]), r.cmd(&["DBSIZE"]));
    same_contents(&mut m, &mut r);
    // The consumer group's PEL (ids, owners, counts) is the same on both sides.
    assert_eq!(
        m.cmd(&["XPENDING", "jobs", "g"]),
        r.cmd(&["XPENDING", "jobs", "g"])
    );
    let owners = |c: &mut RawConn| {
        let s = c.cmd_s(&["XPENDING", "jobs", "g", "-", "+", "1000000"]);
        // Drop the idle times (they differ by when each side last touched the entry).
        s.split("\r\n")
            .filter(|l| !l.starts_with(':') || l.len() < 3)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(owners(&mut m).len(), owners(&mut r).len());
}

/// A replica that does not read its stream is disconnected at `client-output-buffer-limit
/// replica`, as on Redis, instead of growing the master's memory without bound.
#[test]
fn a_replica_that_does_not_read_hits_its_output_limit() {
    let fm = Server::ferrymq(&["--client-output-buffer-limit", "replica 1mb 0 0"]);
    let mut m = fm.raw();
    let mut lazy = fm.raw();
    lazy.send(&["SYNC"]);
    assert!(wait_for(Duration::from_secs(10), || info(
        &mut m,
        "connected_slaves"
    ) == "1"));
    let value = "x".repeat(100_000);
    let mut i = 0;
    assert!(
        wait_for(Duration::from_secs(30), || {
            for _ in 0..20 {
                m.cmd(&["SET", &format!("big{i}"), &value]);
                i += 1;
            }
            info(&mut m, "connected_slaves") == "0"
        }),
        "the replica was never disconnected"
    );
    assert!(info_i64(&mut m, "client_output_buffer_limit_disconnections") >= 1);
    assert!(
        lazy.closed(Duration::from_secs(10)),
        "its connection stays open"
    );
}

/// FAILOVER from `master` to the replica `replica` (listening on `rport`): the roles swap with
/// a partial resynchronisation, no write is lost, and writes paused during the handover go
/// through on the new master afterwards.
fn coordinated_failover(master: &Server, replica: &Server) {
    let (mut m, mut r) = (master.raw(), replica.raw());
    for i in 0..200 {
        m.cmd(&["RPUSH", "q", &i.to_string()]);
    }
    assert!(caught_up(&mut m, &mut r));
    // redis-server counts a replica online once its first ACK after loading arrived.
    assert!(wait_for(Duration::from_secs(10), || {
        info(&mut m, "slave0").contains("state=online")
    }));
    let rport = replica.port.to_string();
    assert_eq!(
        m.cmd_s(&["FAILOVER", "TO", "127.0.0.1", &rport, "TIMEOUT", "10000"]),
        "+OK\r\n"
    );
    assert_eq!(
        m.cmd_s(&["FAILOVER"]),
        "-ERR FAILOVER already in progress.\r\n"
    );
    assert!(
        wait_for(Duration::from_secs(20), || {
            info(&mut r, "role") == "master"
                && info(&mut m, "role") == "slave"
                && info(&mut m, "master_failover_state") == "no-failover"
                && info(&mut m, "master_link_status") == "up"
        }),
        "roles did not swap: old master {} / {}, target {}",
        info(&mut m, "role"),
        info(&mut m, "master_failover_state"),
        info(&mut r, "role")
    );
    // The old master continued the target's history without a full resynchronisation.
    assert_eq!(info_i64(&mut r, "sync_partial_ok"), 1);
    assert_eq!(r.cmd_s(&["LLEN", "q"]), ":200\r\n");
    assert!(m.cmd_s(&["RPUSH", "q", "x"]).starts_with("-READONLY"));
    assert_eq!(r.cmd_s(&["RPUSH", "q", "after"]), ":201\r\n");
    assert_eq!(r.cmd(&["WAIT", "1", "5000"]), b":1\r\n");
    assert_eq!(m.cmd_s(&["LINDEX", "q", "-1"]), "$5\r\nafter\r\n");
}

#[test]
fn failover_command_swaps_roles() {
    // ferrymq to ferrymq.
    let master = Server::ferrymq(&[]);
    let mport = master.port.to_string();
    let replica = Server::ferrymq(&["--replicaof", "127.0.0.1", &mport]);
    coordinated_failover(&master, &replica);
    let Some(rs) = Server::redis(&[]) else { return };
    // ferrymq handing over to a redis-server replica, and redis-server to a ferrymq one.
    let master = Server::ferrymq(&[]);
    let mut c = rs.raw();
    assert_eq!(
        c.cmd_s(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]),
        "+OK\r\n"
    );
    coordinated_failover(&master, &rs);
    let Some(rmaster) = Server::redis(&[]) else {
        return;
    };
    let replica = Server::ferrymq(&["--replicaof", "127.0.0.1", &rmaster.port.to_string()]);
    coordinated_failover(&rmaster, &replica);
}

/// FAILOVER's errors, and ABORT / TIMEOUT ending a failover that cannot complete, as Redis.
#[test]
fn failover_errors_abort_and_timeout_like_redis() {
    let Some(rs) = Server::redis(&[]) else { return };
    let fm = Server::ferrymq(&[]);
    let mut both = [(rs.raw(), &rs), (fm.raw(), &fm)];
    let mut replies = Vec::new();
    for (c, srv) in both.iter_mut() {
        let mut out = Vec::new();
        for cmd in [
            &["FAILOVER", "ABORT"][..],
            &["FAILOVER"],
            &["FAILOVER", "FOO"],
            &["FAILOVER", "TIMEOUT", "0"],
            &["FAILOVER", "TIMEOUT", "x"],
            &["FAILOVER", "TO", "127.0.0.1"],
            &["FAILOVER", "TO", "127.0.0.1", "x"],
            &["FAILOVER", "FORCE"],
            &["FAILOVER", "ABORT", "TIMEOUT", "10"],
        ] {
            out.push(c.cmd_s(cmd));
        }
        // With a replica (one that does not acknowledge: a bare SYNC client).
        let mut sync = srv.raw();
        attach(&mut sync);
        // Past the offset it can have acknowledged (it never does).
        out.push(c.cmd_s(&["SET", "pre", "1"]));
        for cmd in [
            &["FAILOVER", "FORCE"][..],
            &["FAILOVER", "TO", "127.0.0.1", "1"],
            &["FAILOVER", "TIMEOUT", "200"],
            &["FAILOVER", "TIMEOUT", "200"],
        ] {
            out.push(c.cmd_s(cmd));
        }
        out.push(c.cmd_s(&["REPLICAOF", "127.0.0.1", "1"]));
        let ended = wait_for(Duration::from_secs(10), || {
            info(c, "master_failover_state") == "no-failover"
        });
        out.push(format!("ended: {ended}"));
        // Writes went on paused until the timeout; they run again now.
        out.push(c.cmd_s(&["SET", "k", "v"]));
        out.push(c.cmd_s(&["FAILOVER"]));
        out.push(info(c, "master_failover_state"));
        out.push(c.cmd_s(&["FAILOVER", "ABORT"]));
        out.push(info(c, "master_failover_state"));
        out.push(c.cmd_s(&["FAILOVER", "ABORT"]));
        replies.push(out);
    }
    assert_eq!(replies[1], replies[0], "(ferrymq left, redis right)");
}

/// After a partial resynchronisation the master goes on in the database its stream had
/// selected, without a new SELECT: the replica keeps applying there (from a redis-server master
/// and from a ferrymq one).
#[test]
fn a_partial_resync_continues_in_the_selected_database() {
    let mut masters = vec![Server::ferrymq(&[])];
    masters.extend(Server::redis(&[]));
    for master in &masters {
        let replica = Server::ferrymq(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
        let (mut m, mut r) = (master.raw(), replica.raw());
        m.cmd(&["SELECT", "3"]);
        m.cmd(&["SET", "a", "1"]);
        assert!(caught_up(&mut m, &mut r));
        let partial = info_i64(&mut r, "sync_partial_ok");
        let before = info_i64(&mut m, "sync_partial_ok");
        assert_eq!(r.cmd_s(&["CLIENT", "KILL", "TYPE", "master"]), ":1\r\n");
        assert!(wait_for(Duration::from_secs(20), || {
            info_i64(&mut m, "sync_partial_ok") == before + 1
        }));
        assert_eq!(info_i64(&mut r, "sync_partial_ok"), partial);
        m.cmd(&["SET", "b", "2"]);
        assert!(caught_up(&mut m, &mut r));
        r.cmd(&["SELECT", "3"]);
        assert_eq!(r.cmd_s(&["GET", "b"]), "$1\r\n2\r\n", "{}", master.name);
        r.cmd(&["SELECT", "0"]);
        assert_eq!(r.cmd_s(&["DBSIZE"]), ":0\r\n", "{}", master.name);
    }
}

/// A SAVE records where the data stands in the replication history (the `repl-id`,
/// `repl-offset` and `repl-stream-db` aux fields, as Redis writes them): a replica restarted
/// from its dump.rdb continues with a partial resynchronisation, from a ferrymq master and from
/// a redis-server one, and a restarted master lets its replicas continue too.
#[test]
fn restarts_continue_from_the_rdb_with_a_partial_resync() {
    let mut masters = vec![Server::ferrymq(&[])];
    masters.extend(Server::redis(&[]));
    for master in &masters {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let mport = master.port.to_string();
        let rargs = ["--dir", d.as_str(), "--replicaof", "127.0.0.1", &mport];
        let mut replica = Server::ferrymq(&rargs);
        let rport = replica.port;
        let (mut m, mut r) = (master.raw(), replica.raw());
        m.cmd(&["SELECT", "2"]);
        m.cmd(&["RPUSH", "q", "1", "2"]);
        assert!(caught_up(&mut m, &mut r));
        let partial = info_i64(&mut m, "sync_partial_ok");
        r.send(&["SHUTDOWN", "SAVE"]);
        assert!(replica.wait_exit(Duration::from_secs(10)).is_some());
        drop(replica);
        // Written while the replica is down: it gets them from the backlog.
        m.cmd(&["RPUSH", "q", "3"]);
        let replica = Server::ferrymq_on(rport, &rargs);
        let mut r = replica.raw();
        assert!(caught_up(&mut m, &mut r), "{}", master.name);
        assert_eq!(
            info_i64(&mut m, "sync_partial_ok"),
            partial + 1,
            "{}: the restarted replica did not continue",
            master.name
        );
        r.cmd(&["SELECT", "2"]);
        assert_eq!(r.cmd_s(&["LLEN", "q"]), ":3\r\n", "{}", master.name);
        m.cmd(&["RPUSH", "q", "4"]);
        assert!(caught_up(&mut m, &mut r));
        assert_eq!(r.cmd_s(&["LLEN", "q"]), ":4\r\n", "{}", master.name);
    }

    // A ferrymq master restarted from its dump.rdb: its replica continues.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut master = Server::ferrymq(&["--dir", &d]);
    let mport = master.port;
    let replica = Server::ferrymq(&["--replicaof", "127.0.0.1", &mport.to_string()]);
    let (mut m, mut r) = (master.raw(), replica.raw());
    m.cmd(&["SET", "k", "1"]);
    assert!(caught_up(&mut m, &mut r));
    let old = info(&mut m, "master_replid");
    m.send(&["SHUTDOWN", "SAVE"]);
    assert!(master.wait_exit(Duration::from_secs(10)).is_some());
    drop(master);
    let master = Server::ferrymq_on(mport, &["--dir", &d]);
    let mut m = master.raw();
    assert_eq!(info(&mut m, "master_replid2"), old);
    assert!(caught_up(&mut m, &mut r));
    assert_eq!(info_i64(&mut m, "sync_partial_ok"), 1);
    assert_eq!(info_i64(&mut m, "sync_full"), 0);
    m.cmd(&["SET", "k", "2"]);
    assert!(caught_up(&mut m, &mut r));
    assert_eq!(r.cmd_s(&["GET", "k"]), "$1\r\n2\r\n");
}

/// A consumer's `WAIT` after its BRPOP was served waits for the pop to reach the replicas.
/// The pop is made by the LPUSH that fed the key, on the pusher's connection; the consumer's
/// WAIT used to look only at its own last write (none), and answered 1 while the replica,
/// stopped, had not seen the pop: after a failover the job would be delivered again. (Redis
/// 7.0 answers 1 too; 7.2, which runs the served command again, answers 0 as ferrymq does.)
#[test]
fn wait_after_a_served_blocking_pop_waits_for_the_pop() {
    let master = Server::ferrymq(&[]);
    let replica = Server::ferrymq(&[]);
    let mut m = master.raw();
    let mut r = replica.raw();
    let port = master.port.to_string();
    assert_eq!(r.cmd_s(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
    assert!(caught_up(&mut m, &mut r), "the replica did not sync");
    let mut consumer = master.raw();
    consumer.send(&["BRPOP", "q", "0"]);
    assert!(
        wait_for(Duration::from_secs(10), || info_i64(
            &mut m,
            "blocked_clients"
        ) == 1),
        "the consumer did not block"
    );
    // SAFETY: signals to a child process this test started.
    unsafe { libc::kill(replica.pid() as i32, libc::SIGSTOP) };
    assert_eq!(m.cmd_s(&["LPUSH", "q", "job"]), ":1\r\n");
    assert_eq!(
        consumer.read_reply(),
        b"*2\r\n$1\r\nq\r\n$3\r\njob\r\n".to_vec()
    );
    let stalled = consumer.cmd_s(&["WAIT", "1", "300"]);
    // SAFETY: as above.
    unsafe { libc::kill(replica.pid() as i32, libc::SIGCONT) };
    assert_eq!(stalled, ":0\r\n", "the stopped replica cannot have the pop");
    assert_eq!(consumer.cmd_s(&["WAIT", "1", "10000"]), ":1\r\n");
}
