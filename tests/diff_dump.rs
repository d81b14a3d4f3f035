//! DUMP and RESTORE against redis-server 7.0: payloads compared byte for byte where Redis's
//! encoding is deterministic, payloads moved both ways between the servers for every type
//! and encoding, every error, the TTL options, blocked clients, keyspace events and AOF replay.

mod common;

use common::{Diff, DirServer, RawConn, Server, wait_for};
use ferrymq::store::rdb::crc64;
use proptest::prelude::*;
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The payload of a bulk-string reply.
fn bulk(r: &[u8]) -> Vec<u8> {
    assert!(r.starts_with(b"$"), "not a bulk: {}", text(r));
    let nl = r.iter().position(|&b| b == b'\n').unwrap();
    let n: usize = text(&r[1..nl - 1]).parse().unwrap();
    r[nl + 1..nl + 1 + n].to_vec()
}

/// The bulk strings of a flat array reply.
fn array(r: &[u8]) -> Vec<Vec<u8>> {
    assert!(r.starts_with(b"*"), "not an array: {}", text(r));
    let mut p = r.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut out = Vec::new();
    while p < r.len() {
        let nl = p + r[p..].iter().position(|&b| b == b'\n').unwrap();
        let n: usize = text(&r[p + 1..nl - 1]).parse().unwrap();
        out.push(r[nl + 1..nl + 1 + n].to_vec());
        p = nl + 1 + n + 2;
    }
    out
}

/// A server-independent picture of the value at `key` (unordered types sorted).
fn value_of(c: &mut RawConn, key: &str) -> (String, Vec<Vec<u8>>) {
    let ty = c.cmd_s(&["TYPE", key]);
    let v = match ty.trim_end() {
        "+string" => vec![bulk(&c.cmd(&["GET", key]))],
        "+list" => array(&c.cmd(&["LRANGE", key, "0", "-1"])),
        "+set" => {
            let mut m = array(&c.cmd(&["SMEMBERS", key]));
            m.sort();
            m
        }
        "+hash" => {
            let flat = array(&c.cmd(&["HGETALL", key]));
            let mut pairs: Vec<Vec<u8>> = flat.chunks(2).map(|p| p.concat()).collect();
            pairs.sort();
            pairs
        }
        "+zset" => array(&c.cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        "+stream" => vec![
            c.cmd(&["XRANGE", key, "-", "+"]),
            c.cmd(&["XINFO", "STREAM", key, "FULL"]),
        ],
        other => panic!("unexpected type {other}"),
    };
    (ty, v)
}

/// The same data on both servers: one key per type and encoding.
fn build(d: &mut Diff) -> Vec<String> {
    let mut keys = Vec::new();
    let mut run = |d: &mut Diff, key: &str, cmds: Vec<Vec<String>>| {
        for c in cmds {
            let r = d.cmd(&c);
            assert!(!r.starts_with(b"-"), "{c:?}: {}", text(&r));
        }
        keys.push(key.to_string());
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let many = |cmd: &str, key: &str, items: Vec<String>| {
        let mut c = vec![cmd.to_string(), key.to_string()];
        c.extend(items);
        c
    };
    // Strings: every integer width, text, compressible and incompressible long strings.
    for (k, v) in [
        ("s:i8", "-12".to_string()),
        ("s:i16", "30000".into()),
        ("s:i32", "-2000000000".into()),
        ("s:i64", "9223372036854775807".into()),
        ("s:lead0", "007".into()),
        ("s:short", "hello".into()),
        ("s:empty", "".into()),
        ("s:lzf", "abcabcabcabcabcabcabcabcabcabc".into()),
        ("s:long", "x".repeat(5000)),
        ("s:noise", "q8Zt1LmX0aP3vBn7cD9eF2gH4iJ6kK5l".into()),
        (
            "s:text",
            "The quick brown fox jumps over the lazy dog, and the lazy dog sleeps on".repeat(40),
        ),
    ] {
        run(d, k, vec![s(&["SET", k, &v])]);
    }
    run(d, "s:incr", vec![s(&["INCRBY", "s:incr", "123456789012"])]);
    // Lists: one node, several nodes, big elements, integers of every listpack width.
    run(
        d,
        "l:small",
        vec![s(&["RPUSH", "l:small", "a", "b", "1", "-5"])],
    );
    let ints: Vec<String> = [
        "0",
        "127",
        "128",
        "-1",
        "-4096",
        "4095",
        "4096",
        "-32768",
        "32767",
        "40000",
        "-8388608",
        "8388607",
        "9000000",
        "2147483647",
        "-2147483648",
        "2147483648",
        "-9223372036854775808",
        "9223372036854775807",
        "00",
        "-0",
        "+1",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    run(d, "l:ints", vec![many("RPUSH", "l:ints", ints.clone())]);
    run(
        d,
        "l:nodes",
        vec![many(
            "RPUSH",
            "l:nodes",
            (0..3000).map(|i| format!("element-{i}")).collect(),
        )],
    );
    run(
        d,
        "l:big",
        vec![many(
            "RPUSH",
            "l:big",
            (0..7).map(|i| format!("{i}").repeat(3000 + i)).collect(),
        )],
    );
    run(
        d,
        "l:str",
        vec![many(
            "RPUSH",
            "l:str",
            vec![
                "x".repeat(63),
                "y".repeat(64),
                "z".repeat(4095),
                "w".repeat(4096),
            ],
        )],
    );
    // Sets: intsets of each width, then hash tables.
    run(
        d,
        "i:16",
        vec![many(
            "SADD",
            "i:16",
            (0..50).map(|i| (i * 7 - 100).to_string()).collect(),
        )],
    );
    run(d, "i:32", vec![s(&["SADD", "i:32", "1", "70000", "-3"])]);
    run(d, "i:64", vec![s(&["SADD", "i:64", "1", "5000000000"])]);
    run(
        d,
        "set:ht",
        vec![s(&["SADD", "set:ht", "a", "b", "c", "1"])],
    );
    run(
        d,
        "set:big",
        vec![many(
            "SADD",
            "set:big",
            (0..600).map(|i| i.to_string()).collect(),
        )],
    );
    // Hashes.
    run(
        d,
        "h:lp",
        vec![s(&[
            "HSET", "h:lp", "f", "v", "n", "12", "neg", "-70000", "e", "",
        ])],
    );
    run(
        d,
        "h:ht",
        vec![s(&["HSET", "h:ht", "f", &"v".repeat(100), "g", "1"])],
    );
    run(
        d,
        "h:many",
        vec![many(
            "HSET",
            "h:many",
            (0..600)
                .flat_map(|i| [format!("f{i}"), format!("{i}")])
                .collect(),
        )],
    );
    // Sorted sets: listpack scores as integers and as text, skiplists.
    run(
        d,
        "z:lp",
        vec![s(&[
            "ZADD",
            "z:lp",
            "1",
            "a",
            "-2",
            "b",
            "0.5",
            "c",
            "inf",
            "d",
            "-inf",
            "e",
            "1e300",
            "f",
            "3.0000000000000004",
            "g",
            "-0",
            "h",
            "4611686018427387904",
            "i",
            "123456789",
            "j",
        ])],
    );
    run(
        d,
        "z:sl",
        vec![many(
            "ZADD",
            "z:sl",
            (0..300)
                .flat_map(|i| [format!("{}", i as f64 / 7.0), format!("m{i}")])
                .collect(),
        )],
    );
    run(
        d,
        "z:long",
        vec![s(&["ZADD", "z:long", "1", &"m".repeat(70), "2", "b"])],
    );
    keys
}

/// Keys whose DUMP cannot match when built on each server (hash-table iteration order; the
/// delivery and seen times of consumer groups).
fn unordered(key: &str) -> bool {
    key == "set:ht" || key == "set:big" || key == "h:ht" || key == "h:many" || key == "x:groups"
}

/// Keys whose DUMP differs even after both servers restored the same payload.
fn hash_ordered(key: &str) -> bool {
    unordered(key) && key != "x:groups"
}

#[test]
fn dump_payloads_equal_redis_byte_for_byte() {
    let Some(mut d) = Diff::new() else { return };
    for key in build(&mut d) {
        if !unordered(&key) {
            d.cmd(&["DUMP", &key]);
        }
    }
    d.cmd(&["DUMP", "nokey"]);
}

#[test]
fn dump_follows_the_encoding_limits() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["CONFIG", "SET", "list-max-listpack-size", "5"],
        &["CONFIG", "SET", "set-max-intset-entries", "3"],
        &["CONFIG", "SET", "hash-max-listpack-entries", "2"],
        &["CONFIG", "SET", "zset-max-listpack-entries", "2"],
        &[
            "RPUSH", "l", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
        ],
        &["DUMP", "l"],
        &["CONFIG", "SET", "list-max-listpack-size", "-1"],
        &["RPUSH", "l1", "a", "b"],
        &["DUMP", "l1"],
        &["SADD", "s", "1", "2", "3"],
        &["DUMP", "s"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["DUMP", "z"],
        &["CONFIG", "SET", "list-max-listpack-size", "-2"],
        &["CONFIG", "SET", "list-compress-depth", "1"],
        &["RPUSH", "lc", "a", "b"],
        &["DUMP", "lc"],
        &["CONFIG", "SET", "rdbcompression", "no"],
        &["SET", "t", "abcabcabcabcabcabcabcabcabcabc"],
        &["DUMP", "t"],
    ]);
}

#[test]
fn payloads_cross_between_the_servers() {
    let Some(mut d) = Diff::new() else { return };
    for key in build(&mut d) {
        let from_redis = bulk(&d.redis.cmd(&["DUMP", &key]));
        let from_ferry = bulk(&d.ferry.cmd(&["DUMP", &key]));
        let expect = value_of(&mut d.redis, &key);
        assert_eq!(
            value_of(&mut d.ferry, &key),
            expect,
            "{key} differs before DUMP"
        );
        for (name, payload) in [("r", &from_redis), ("f", &from_ferry)] {
            let target = format!("{name}:{key}");
            let t: &str = &target;
            d.cmd(&[b"RESTORE".as_slice(), t.as_bytes(), b"0", payload]);
            assert_eq!(value_of(&mut d.redis, t), expect, "redis restoring {t}");
            assert_eq!(value_of(&mut d.ferry, t), expect, "ferrymq restoring {t}");
            d.cmd(&["OBJECT", "ENCODING", t]);
            if !hash_ordered(&key) {
                d.cmd(&["DUMP", t]);
            }
        }
    }
}

#[test]
fn restored_values_take_this_servers_encoding() {
    let Some(mut d) = Diff::new() else { return };
    build(&mut d);
    d.script(&[
        &["HSET", "h:wide", "f", "a value longer than ten bytes"],
        &["ZADD", "z:wide", "1", "a member longer than ten bytes"],
        &["CONFIG", "SET", "hash-max-listpack-value", "10"],
        &["CONFIG", "SET", "zset-max-listpack-value", "10"],
    ]);
    for key in ["h:wide", "z:wide"] {
        let p = bulk(&d.redis.cmd(&["DUMP", key]));
        let t = format!("x:{key}");
        d.cmd(&[b"RESTORE".as_slice(), t.as_bytes(), b"0", &p]);
        d.cmd(&["OBJECT", "ENCODING", &t]);
    }
    d.script(&[
        &["CONFIG", "SET", "set-max-intset-entries", "10"],
        &["CONFIG", "SET", "hash-max-listpack-entries", "2"],
        &["CONFIG", "SET", "zset-max-listpack-entries", "3"],
    ]);
    for key in ["i:16", "h:lp", "z:lp", "set:big", "h:many", "z:sl"] {
        let p = bulk(&d.redis.cmd(&["DUMP", key]));
        let t = format!("x:{key}");
        d.cmd(&[b"RESTORE".as_slice(), t.as_bytes(), b"0", &p]);
        d.cmd(&["OBJECT", "ENCODING", &t]);
    }
}

/// A payload with a correct trailer around `body`.
fn seal(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn errors_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["SET", "k", "v"]);
    let good = bulk(&d.redis.cmd(&["DUMP", "k"]));
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut new_version = good[..good.len() - 10].to_vec();
    new_version.extend_from_slice(&11u16.to_le_bytes());
    let crc = crc64(0, &new_version);
    new_version.extend_from_slice(&crc.to_le_bytes());
    let g: &[u8] = &good;
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"DUMP"],
        vec![b"DUMP", b"a", b"b"],
        vec![b"RESTORE", b"k", b"0"],
        vec![b"RESTORE", b"k", b"0", g],
        vec![b"RESTORE", b"new", b"0", &bad_crc],
        vec![b"RESTORE", b"new", b"0", &new_version],
        vec![b"RESTORE", b"new", b"0", b"short"],
        vec![b"RESTORE", b"new", b"0", b""],
        vec![b"RESTORE", b"new", b"-1", g],
        vec![b"RESTORE", b"new", b"abc", g],
        vec![b"RESTORE", b"k", b"abc", g],
        vec![b"RESTORE", b"k", b"-1", g, b"REPLACE"],
        vec![b"RESTORE", b"new", b"0", g, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"new", b"0", g, b"IDLETIME", b"x"],
        vec![b"RESTORE", b"new", b"0", g, b"IDLETIME"],
        vec![b"RESTORE", b"new", b"0", g, b"FREQ", b"256"],
        vec![b"RESTORE", b"new", b"0", g, b"FREQ", b"-1"],
        vec![b"RESTORE", b"new", b"0", g, b"FREQ", b"y"],
        vec![
            b"RESTORE",
            b"new",
            b"0",
            g,
            b"FREQ",
            b"1",
            b"IDLETIME",
            b"1",
        ],
        vec![
            b"RESTORE",
            b"new",
            b"0",
            g,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1",
        ],
        vec![b"RESTORE", b"new", b"0", g, b"BOGUS"],
        vec![b"RESTORE", b"new", b"0", &bad_crc, b"BOGUS"],
        vec![b"RESTORE", b"k", b"0", &bad_crc, b"REPLACE"],
    ];
    for c in &cases {
        d.cmd(c);
    }
    // Well-sealed payloads with bad contents: unknown type, truncated, empty collections,
    // duplicates, an intset that is not sorted.
    let bodies: Vec<Vec<u8>> = vec![
        vec![],
        vec![99, 1, b'a'],
        vec![0, 5, b'a'],
        vec![18, 0],
        vec![2, 0],
        vec![4, 0],
        vec![5, 0],
        vec![2, 2, 1, b'a', 1, b'a'],
        vec![0, 0xc3, 2, 10, 0, b'a'],
        vec![15, 0],
        vec![19, 0],
    ];
    for b in bodies {
        let p = seal(&b);
        d.cmd(&[b"RESTORE".as_slice(), b"new", b"0", &p]);
        d.cmd(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]);
    }
    d.cmd(&["GET", "k"]);
    d.cmd(&["EXISTS", "new"]);
    // Without deep sanitization Redis stores these as they come (a small hash with a
    // duplicate field, an unsorted intset: corrupt values); ferrymq refuses them.
    for body in [
        &[4u8, 2, 1, b'a', 1, b'1', 1, b'a', 1, b'2'][..],
        &[11, 12, 2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0],
    ] {
        assert_eq!(
            text(
                &d.ferry
                    .cmd(&[b"RESTORE".as_slice(), b"fresh", b"0", &seal(body)])
            ),
            "-ERR Bad data format\r\n"
        );
    }
}

#[test]
fn ttl_replace_and_absttl() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["RPUSH", "l", "a", "b"]);
    let p = bulk(&d.redis.cmd(&["DUMP", "l"]));
    let r = |d: &mut Diff, args: &[&[u8]]| {
        let mut a: Vec<&[u8]> = vec![b"RESTORE"];
        a.extend_from_slice(args);
        d.cmd(&a)
    };
    let far = "4102444800000"; // 2100-01-01
    r(&mut d, &[b"a", far.as_bytes(), &p, b"ABSTTL"]);
    d.cmd(&["PEXPIRETIME", "a"]);
    r(&mut d, &[b"b", b"100000", &p]);
    let ttl = |d: &mut Diff| {
        d.cmd_norm(&["PTTL", "b"], |r| {
            let v: i64 = text(&r[1..r.len() - 2]).parse().unwrap();
            ((90_000..=100_000).contains(&v) as u8)
                .to_string()
                .into_bytes()
        })
    };
    ttl(&mut d);
    // Already expired: nothing is created, and REPLACE still removes the old value.
    r(&mut d, &[b"c", b"1000", &p, b"ABSTTL"]);
    d.cmd(&["EXISTS", "c"]);
    d.cmd(&["SET", "e", "old"]);
    r(&mut d, &[b"e", b"1000", &p, b"ABSTTL", b"REPLACE"]);
    d.cmd(&["EXISTS", "e"]);
    d.cmd(&["SET", "e", "old"]);
    r(&mut d, &[b"e", b"0", &p, b"REPLACE", b"IDLETIME", b"100"]);
    d.cmd(&["LRANGE", "e", "0", "-1"]);
    d.cmd(&["TTL", "e"]);
    r(
        &mut d,
        &[b"f", b"0", &p, b"replace", b"absttl", b"freq", b"5"],
    );
    d.cmd(&["TYPE", "f"]);
}

#[test]
fn restore_serves_a_blocked_pop_touches_watchers_and_raises_restore_events() {
    for srv in [Server::redis(&[]), Some(Server::ferrymq(&[]))]
        .into_iter()
        .flatten()
    {
        let mut c = srv.raw();
        c.cmd(&["RPUSH", "src", "x", "y"]);
        let p = bulk(&c.cmd(&["DUMP", "src"]));
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEg"]);
        let mut sub = srv.raw();
        sub.cmd(&["SUBSCRIBE", "__keyspace@0__:q"]);
        let mut waiter = srv.raw();
        waiter.send(&["BLPOP", "q", "0"]);
        assert!(wait_for(Duration::from_secs(5), || {
            common::info_field(&mut c, "blocked_clients").as_deref() == Some("1")
        }));
        assert_eq!(c.cmd(&[b"RESTORE".as_slice(), b"q", b"0", &p]), b"+OK\r\n");
        assert_eq!(text(&waiter.read_reply()), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
        assert_eq!(
            text(&sub.read_reply()),
            "*3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:q\r\n$7\r\nrestore\r\n"
        );
        assert_eq!(c.cmd_s(&["LRANGE", "q", "0", "-1"]), "*1\r\n$1\r\ny\r\n");
        // A WATCHed key restored by another client aborts the transaction.
        let mut w = srv.raw();
        w.cmd(&["WATCH", "q"]);
        c.cmd(&[b"RESTORE".as_slice(), b"q", b"0", &p, b"REPLACE"]);
        w.cmd(&["MULTI"]);
        w.cmd(&["PING"]);
        assert_eq!(w.cmd_s(&["EXEC"]), "*-1\r\n");
    }
}

#[test]
fn restore_replays_from_the_aof_with_an_absolute_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let s = DirServer::ferrymq(
        dir.path(),
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let mut c = s.raw();
    c.cmd(&["SADD", "src", "a", "b", "3"]);
    let p = bulk(&c.cmd(&["DUMP", "src"]));
    assert_eq!(
        c.cmd(&[b"RESTORE".as_slice(), b"k", b"100000000", &p]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&[b"RESTORE".as_slice(), b"k2", b"0", &p]), b"+OK\r\n");
    let at = c.cmd_s(&["PEXPIRETIME", "k"]);
    s.shutdown();
    let incr = std::fs::read(dir.path().join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let aof = text(&incr);
    assert!(aof.contains("ABSTTL"), "{aof}");
    assert!(aof.contains(at.trim_start_matches(':').trim_end()), "{aof}");
    let s = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = s.raw();
    assert_eq!(c.cmd_s(&["PEXPIRETIME", "k"]), at);
    assert_eq!(c.cmd_s(&["SCARD", "k2"]), ":3\r\n");
    assert_eq!(c.cmd_s(&["TTL", "k2"]), ":-1\r\n");
}

fn sample_payloads(c: &mut RawConn) -> Vec<Vec<u8>> {
    c.cmd(&["RPUSH", "pl", "a", "bb", "123", &"c".repeat(40)]);
    c.cmd(&["HSET", "ph", "f", "v", "g", "1"]);
    c.cmd(&["ZADD", "pz", "1.5", "a", "2", "b"]);
    c.cmd(&["SADD", "ps", "1", "2", "300000"]);
    c.cmd(&["SET", "pstr", &"xyz".repeat(20)]);
    c.cmd(&["XADD", "px", "1-1", "f", "v"]);
    c.cmd(&["XADD", "px", "1-2", "g", "w"]);
    c.cmd(&["XGROUP", "CREATE", "px", "grp", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "grp",
        "c1",
        "COUNT",
        "1",
        "STREAMS",
        "px",
        ">",
    ]);
    ["pl", "ph", "pz", "ps", "pstr", "px"]
        .iter()
        .map(|k| bulk(&c.cmd(&["DUMP", k])))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Mutated payloads (resealed so they reach the parser) never take the server down.
    #[test]
    fn corrupt_payloads_are_refused_cleanly(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..5),
        cut in any::<prop::sample::Index>(),
    ) {
        thread_local! {
            static SRV: (Server, std::cell::RefCell<RawConn>, Vec<Vec<u8>>) = {
                let s = Server::ferrymq(&[]);
                let mut c = s.raw();
                let p = sample_payloads(&mut c);
                (s, std::cell::RefCell::new(c), p)
            };
        }
        SRV.with(|(_, c, payloads)| {
            let mut c = c.borrow_mut();
            let p = &payloads[which];
            let mut body = p[..p.len() - 10].to_vec();
            for (at, byte) in &edits {
                let i = at.index(body.len());
                body[i] = *byte;
            }
            body.truncate(cut.index(body.len() + 1).max(body.len() / 2));
            let r = c.cmd(&[b"RESTORE".as_slice(), b"fz", b"0", &seal(&body), b"REPLACE"]);
            assert!(r == b"+OK\r\n" || r == b"-ERR Bad data format\r\n", "{}", text(&r));
            assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        });
    }
}

/// A ziplist (the container of RDB types before 7.0) holding `items`: integers in every
/// ziplist integer encoding, strings in the three string encodings.
fn ziplist(items: &[&[u8]]) -> Vec<u8> {
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut prev = 0usize;
    for it in items {
        let mut e = Vec::new();
        if prev < 254 {
            e.push(prev as u8);
        } else {
            e.push(0xfe);
            e.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        let as_int = std::str::from_utf8(it)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|v| v.to_string().as_bytes() == *it);
        match as_int {
            Some(v) if (0..=12).contains(&v) => e.push(0xf1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => e.extend_from_slice(&[0xfe, v as i8 as u8]),
            Some(v) if i16::try_from(v).is_ok() => {
                e.push(0xc0);
                e.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                e.push(0xf0);
                e.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                e.push(0xd0);
                e.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                e.push(0xe0);
                e.extend_from_slice(&v.to_le_bytes());
            }
            None if it.len() <= 63 => {
                e.push(it.len() as u8);
                e.extend_from_slice(it);
            }
            None if it.len() <= 16383 => {
                e.extend_from_slice(&[0x40 | (it.len() >> 8) as u8, it.len() as u8]);
                e.extend_from_slice(it);
            }
            None => {
                e.push(0x80);
                e.extend_from_slice(&(it.len() as u32).to_be_bytes());
                e.extend_from_slice(it);
            }
        }
        prev = e.len();
        entries.push(e);
    }
    let body: usize = entries.iter().map(Vec::len).sum();
    let total = 10 + body + 1;
    let tail = 10 + body - entries.last().map_or(0, Vec::len);
    let mut z = Vec::with_capacity(total);
    z.extend_from_slice(&(total as u32).to_le_bytes());
    z.extend_from_slice(&(tail as u32).to_le_bytes());
    z.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
    for e in entries {
        z.extend_from_slice(&e);
    }
    z.push(0xff);
    z
}

/// An RDB string of `b` (plain length encoding).
fn rdb_str(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

#[test]
fn older_rdb_layouts_load_as_in_redis() {
    let Some(mut d) = Diff::new() else { return };
    let long = "l".repeat(300);
    let items: Vec<&[u8]> = vec![
        b"a",
        b"0",
        b"12",
        b"-5",
        b"300",
        b"-70000",
        b"9000000",
        b"3000000000",
        b"007",
        long.as_bytes(),
        b"",
    ];
    let pairs: Vec<&[u8]> = vec![b"f1", b"v", b"f2", b"12", b"f3", long.as_bytes()];
    let zpairs: Vec<&[u8]> = vec![b"c", b"-3", b"a", b"1", b"b", b"2.5", b"d", b"inf"];
    let mut bodies: Vec<(&str, Vec<u8>)> = Vec::new();
    // RDB_TYPE_LIST: plain strings.
    let mut b = vec![1u8, 3];
    for s in [&b"x"[..], b"17", b"y"] {
        rdb_str(&mut b, s);
    }
    bodies.push(("list", b));
    // RDB_TYPE_LIST_ZIPLIST.
    let mut b = vec![10u8];
    rdb_str(&mut b, &ziplist(&items));
    bodies.push(("list-ziplist", b));
    // RDB_TYPE_LIST_QUICKLIST: ziplist nodes.
    let mut b = vec![14u8, 2];
    rdb_str(&mut b, &ziplist(&items));
    rdb_str(&mut b, &ziplist(&[b"tail"]));
    bodies.push(("list-quicklist", b));
    // RDB_TYPE_ZSET: scores as text.
    let mut b = vec![3u8, 3];
    for (m, sc) in [(&b"a"[..], &b"1.5"[..]), (b"b", b"-2"), (b"c", b"10")] {
        rdb_str(&mut b, m);
        rdb_str(&mut b, sc);
    }
    b.extend_from_slice(&[1, b'i', 254]);
    b[1] = 4;
    bodies.push(("zset", b));
    // RDB_TYPE_ZSET_ZIPLIST, RDB_TYPE_HASH_ZIPLIST.
    let mut b = vec![12u8];
    rdb_str(&mut b, &ziplist(&zpairs));
    bodies.push(("zset-ziplist", b));
    let mut b = vec![13u8];
    rdb_str(&mut b, &ziplist(&pairs));
    bodies.push(("hash-ziplist", b));
    // A 7.2 set listpack is unknown to 7.0.
    bodies.push(("set-listpack", vec![20u8, 0]));
    for (name, body) in bodies {
        let p = seal(&body);
        let key = format!("old:{name}");
        d.cmd(&[b"RESTORE".as_slice(), key.as_bytes(), b"0", &p]);
        if name != "set-listpack" {
            assert_eq!(
                value_of(&mut d.ferry, &key),
                value_of(&mut d.redis, &key),
                "{name}"
            );
            d.cmd(&["OBJECT", "ENCODING", &key]);
            // Redis keeps a loaded list's nodes; ferrymq re-splits it as RPUSH would.
            if name != "list-quicklist" {
                d.cmd(&["DUMP", &key]);
            }
        }
    }
}

/// A stream in the layout of Redis 5 and 6 (`RDB_TYPE_STREAM_LISTPACKS`: no first ID,
/// tombstone ID, entries-added or group read counters) loads as in Redis 7.0, which derives
/// the missing counters.
#[test]
fn version_one_streams_load_as_in_redis() {
    use ferrymq::store::rdb::listpack::ListpackWriter;
    let Some(mut d) = Diff::new() else { return };
    let raw = |ms: u64, seq: u64| {
        let mut k = ms.to_be_bytes().to_vec();
        k.extend_from_slice(&seq.to_be_bytes());
        k
    };
    let mut b = vec![15u8, 1];
    rdb_str(&mut b, &raw(1, 1));
    let mut w = ListpackWriter::new();
    for i in [2, 1, 1] {
        w.push_int(i); // live, deleted, master field count
    }
    w.push(b"f");
    w.push_int(0);
    // 1-1 (same fields), 1-2 deleted, 2-0 with its own fields.
    for (flags, ms, seq) in [(2, 0, 0), (3, 0, 1)] {
        w.push_int(flags);
        w.push_int(ms);
        w.push_int(seq);
        w.push(b"v");
        w.push_int(4);
    }
    w.push_int(0);
    w.push_int(1);
    w.push_int(-1);
    w.push_int(2);
    for s in [&b"a"[..], b"1", b"b", b"2"] {
        w.push(s);
    }
    w.push_int(8);
    rdb_str(&mut b, &w.finish());
    b.extend_from_slice(&[2, 2, 0]); // length 2, last ID 2-0
    b.push(1); // one group
    rdb_str(&mut b, b"grp");
    b.extend_from_slice(&[1, 1]); // last delivered 1-1
    b.push(1); // its pending list
    b.extend_from_slice(&raw(1, 1));
    b.extend_from_slice(&1_700_000_000_000u64.to_le_bytes());
    b.push(3);
    b.push(1); // one consumer
    rdb_str(&mut b, b"alice");
    b.extend_from_slice(&1_700_000_000_500u64.to_le_bytes());
    b.push(1);
    b.extend_from_slice(&raw(1, 1));
    let p = seal(&b);
    d.cmd(&[b"RESTORE".as_slice(), b"s1", b"0", &p]);
    assert_eq!(value_of(&mut d.ferry, "s1"), value_of(&mut d.redis, "s1"));
    d.cmd(&["XINFO", "GROUPS", "s1"]);
    d.cmd(&["DUMP", "s1"]);
}

#[test]
fn compressed_quicklist_nodes_dump_as_in_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["CONFIG", "SET", "list-compress-depth", "1"]);
    let mut cmd = vec!["RPUSH".to_string(), "l".to_string()];
    cmd.extend((0..3000).map(|i| format!("element-{i}")));
    d.cmd(&cmd);
    let mut cmd = vec!["RPUSH".to_string(), "r".to_string()];
    cmd.extend((0..3000u64).map(|i| format!("{:x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))));
    d.cmd(&cmd);
    d.cmd(&["DUMP", "l"]);
    d.cmd(&["DUMP", "r"]);
}
