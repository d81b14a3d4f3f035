//! Differential tests of the HyperLogLog commands: the same commands against ferrymq and
//! redis-server, replies compared byte for byte — including GET of the HyperLogLog strings,
//! so both encodings, the promotion point and the cardinality cache must match Redis's bytes.

mod common;
use common::notify::Events;
use common::{Diff, DirServer};
use proptest::prelude::*;
use std::time::Duration;

/// The payload of a RESP2 bulk-string reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&c| c == b'\n').expect("header");
    let len: usize = std::str::from_utf8(&reply[1..nl - 1])
        .unwrap()
        .parse()
        .expect("bulk length");
    reply[nl + 1..nl + 1 + len].to_vec()
}

fn elems(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

/// `cmd key elems...` through the diff.
fn with_elems(d: &mut Diff, cmd: &str, key: &str, e: &[String]) -> Vec<u8> {
    let mut args: Vec<&str> = vec![cmd, key];
    args.extend(e.iter().map(String::as_str));
    d.cmd(&args)
}

#[test]
fn errors_and_type_checks_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["PFADD"],
        &["PFCOUNT"],
        &["PFMERGE"],
        &["PFDEBUG", "encoding"],
        &["PFDEBUG", "encoding", "k", "x"],
        &["PFSELFTEST", "x"],
        &["RPUSH", "list", "a"],
        &["PFADD", "list", "a"],
        &["PFCOUNT", "list"],
        &["PFCOUNT", "nokey", "list"],
        &["PFMERGE", "list", "nokey"],
        &["PFMERGE", "nokey", "list"],
        &["PFDEBUG", "encoding", "list"],
        &["SET", "str", "hello"],
        &["SET", "int", "12345"],
        &["SET", "short", "HYLL"],
        &["PFADD", "str", "a"],
        &["PFADD", "int", "a"],
        &["PFADD", "short", "a"],
        &["PFCOUNT", "str"],
        &["PFCOUNT", "nokey", "str"],
        &["PFMERGE", "dest", "str"],
        &["EXISTS", "dest"],
        &["PFDEBUG", "getreg", "str"],
        &["PFDEBUG", "encoding", "nokey"],
        &["PFDEBUG", "nosuch", "nokey"],
        &["PFADD", "h", "a"],
        &["PFDEBUG", "nosuch", "h"],
        &["PFDEBUG", "decode", "h"],
        &["PFDEBUG", "ENCODING", "h"],
        &["PFDEBUG", "todense", "h"],
        &["PFDEBUG", "todense", "h"],
        &["PFDEBUG", "decode", "h"],
        &["PFDEBUG", "encoding", "h"],
    ]);
    // Bad magic, unknown encoding, a dense string of the wrong size; sparse runs that cover
    // too few registers (one XZERO of 100) or too many (two of 16384).
    let bad: [(&str, &[u8]); 5] = [
        ("bad1", b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"),
        ("bad2", b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"),
        ("bad3", b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"),
        ("short1", b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x40\x63"),
        ("long1", b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff\x7f\xff"),
    ];
    for (k, v) in bad {
        d.cmd(&[b"SET".as_slice(), k.as_bytes(), v]);
    }
    d.script(&[
        &["PFADD", "bad1", "x"],
        &["PFCOUNT", "bad2"],
        &["PFMERGE", "bad3", "h"],
        // Sparse runs that cover too few registers (one XZERO of 100) or too many.
        &["PFCOUNT", "short1"],
        &["PFCOUNT", "long1"],
        &["PFCOUNT", "short1", "h"],
        &["PFCOUNT", "h", "long1"],
        &["PFMERGE", "h", "short1"],
        &["PFMERGE", "short1"],
        &["PFDEBUG", "getreg", "short1"],
        &["PFDEBUG", "todense", "long1"],
        &["PFDEBUG", "decode", "long1"],
        &["PFADD", "short1", "a", "b", "c"],
        &["GET", "short1"],
        &["PFADD", "long1", "a"],
        &["GET", "long1"],
    ]);
}

#[test]
fn sparse_values_and_cache_bytes_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["PFADD", "h"],
        &["GET", "h"],
        &["PFADD", "h"],
        &["PFCOUNT", "h"],
        &["GET", "h"],
        &["PFADD", "h", "a"],
        &["GET", "h"],
        &["PFADD", "h", "a"],
        &["PFCOUNT", "h"],
        &["GET", "h"],
        &["PFADD", "h", "b", "c", "d"],
        // The stale bit is set; the old cached count stays in the other bytes.
        &["GET", "h"],
        &["PFCOUNT", "h"],
        &["PFCOUNT", "h"],
        &["GET", "h"],
        &["PFDEBUG", "decode", "h"],
        &["PFDEBUG", "encoding", "h"],
    ]);
    for step in 0..12 {
        let e = elems(&format!("s{step}-"), 0..(step * 7 + 1));
        with_elems(&mut d, "PFADD", "h", &e);
        d.cmd(&["GET", "h"]);
        d.cmd(&["PFDEBUG", "decode", "h"]);
        if step % 3 == 0 {
            d.cmd(&["PFCOUNT", "h"]);
            d.cmd(&["GET", "h"]);
        }
    }
    // Binary and empty elements.
    d.script(&[
        &[
            "PFADD",
            "bin",
            "",
            "\0",
            "\r\n",
            "\u{ff}\u{fe}",
            "a longer element of 23b",
        ],
        &["GET", "bin"],
        &["PFCOUNT", "bin"],
        &["PFCOUNT", "bin", "h", "nokey"],
        &["PFCOUNT", "nokey"],
        &["PFCOUNT", "nokey", "nokey2"],
    ]);
}

#[test]
fn promotion_to_dense_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    // Default limit (3000 bytes): grows sparse, then turns dense.
    for step in 0..40 {
        let e = elems("p", step * 60..(step + 1) * 60);
        with_elems(&mut d, "PFADD", "big", &e);
        d.cmd(&["PFDEBUG", "encoding", "big"]);
        d.cmd(&["STRLEN", "big"]);
    }
    d.script(&[
        &["GET", "big"],
        &["PFCOUNT", "big"],
        &["GET", "big"],
        &["PFDEBUG", "getreg", "big"],
    ]);
    // A small limit promotes early; a larger one later keeps existing values as they are.
    d.script(&[
        &["CONFIG", "SET", "hll-sparse-max-bytes", "40"],
        &["CONFIG", "GET", "hll-sparse-max-bytes"],
    ]);
    for i in 0..30 {
        d.cmd(&["PFADD", "small", &format!("e{i}")]);
        d.cmd(&["PFDEBUG", "encoding", "small"]);
        d.cmd(&["GET", "small"]);
    }
    d.script(&[
        &["CONFIG", "SET", "hll-sparse-max-bytes", "0"],
        &["PFADD", "zero", "a"],
        &["PFDEBUG", "encoding", "zero"],
        &["GET", "zero"],
        &["PFADD", "zero2"],
        &["PFDEBUG", "encoding", "zero2"],
        &["CONFIG", "SET", "hll-sparse-max-bytes", "3000"],
    ]);
    // Counts at several sizes, dense.
    for n in [100usize, 1000, 5000] {
        let key = format!("n{n}");
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let e: Vec<String> = chunk.iter().map(|i| format!("x{i}")).collect();
            with_elems(&mut d, "PFADD", &key, &e);
        }
        d.cmd(&["PFCOUNT", &key]);
        d.cmd(&["GET", &key]);
    }
    d.cmd(&["PFCOUNT", "n100", "n1000", "n5000", "big"]);
}

#[test]
fn pfmerge_of_mixed_encodings_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    with_elems(&mut d, "PFADD", "s1", &elems("a", 0..20));
    with_elems(&mut d, "PFADD", "s2", &elems("a", 10..40));
    with_elems(&mut d, "PFADD", "dense", &elems("b", 0..3000));
    d.script(&[
        &["PFDEBUG", "encoding", "dense"],
        &["PFMERGE", "m1", "s1", "s2"],
        &["GET", "m1"],
        &["PFCOUNT", "m1"],
        &["PFDEBUG", "encoding", "m1"],
        &["PFMERGE", "m2", "s1", "dense"],
        &["GET", "m2"],
        &["PFDEBUG", "encoding", "m2"],
        &["PFCOUNT", "m2"],
        // Destination among the sources, existing, with a TTL that stays.
        &["EXPIRE", "s1", "1000"],
        &["PFMERGE", "s1", "s2", "s1"],
        &["GET", "s1"],
        &["TTL", "s1"],
        &["PFMERGE", "s1"],
        &["GET", "s1"],
        &["PFMERGE", "empty"],
        &["GET", "empty"],
        &["PFMERGE", "empty2", "nokey"],
        &["GET", "empty2"],
        &["PFMERGE", "s2", "dense"],
        &["GET", "s2"],
        &["PFCOUNT", "s1", "s2", "m1", "m2", "dense"],
    ]);
    // A merge that grows a sparse destination past the limit promotes it.
    d.cmd(&["CONFIG", "SET", "hll-sparse-max-bytes", "60"]);
    with_elems(&mut d, "PFADD", "t1", &elems("c", 0..12));
    with_elems(&mut d, "PFADD", "t2", &elems("d", 0..12));
    d.script(&[
        &["PFDEBUG", "encoding", "t1"],
        &["PFMERGE", "t3", "t1", "t2"],
        &["PFDEBUG", "encoding", "t3"],
        &["GET", "t3"],
    ]);
}

/// A HyperLogLog written by redis-server (its exact bytes, SET on both) reads and updates the
/// same way here.
#[test]
fn values_written_by_redis_are_read_correctly() {
    let Some(mut d) = Diff::new() else { return };
    let mut oracle = d.rs.raw();
    let mut args: Vec<String> = vec!["PFADD".into(), "src".into()];
    args.extend(elems("r", 0..50));
    oracle.cmd(&args);
    let sparse = bulk(&oracle.cmd(&["GET", "src"]));
    args[1] = "srcd".into();
    args.extend(elems("q", 0..2000));
    oracle.cmd(&args);
    let dense = bulk(&oracle.cmd(&["GET", "srcd"]));
    assert_eq!(dense.len(), 12304);
    for (key, value) in [("sp", &sparse), ("de", &dense)] {
        d.cmd(&[b"SET".as_slice(), key.as_bytes(), value.as_slice()]);
        d.script(&[
            &["PFCOUNT", key],
            &["GET", key],
            &["PFADD", key, "new1", "new2", "r1"],
            &["GET", key],
            &["PFCOUNT", key, "nokey"],
            &["PFDEBUG", "encoding", key],
        ]);
    }
    d.cmd(&["PFMERGE", "both", "sp", "de"]);
    d.cmd(&["GET", "both"]);
}

#[test]
fn resp3_and_transactions_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.resp3();
    d.script(&[
        &["PFADD", "h", "a", "b"],
        &["PFCOUNT", "h"],
        &["PFDEBUG", "encoding", "h"],
        &["PFDEBUG", "decode", "h"],
        &["MULTI"],
        &["PFADD", "h", "c"],
        &["PFCOUNT", "h"],
        &["PFMERGE", "h2", "h"],
        &["PFCOUNT", "h", "h2"],
        &["EXEC"],
        &["GET", "h"],
    ]);
}

/// PFSELFTEST passes (it takes seconds in an unoptimised build: Redis's sizes).
#[test]
fn pfselftest_passes_as_in_redis() {
    let Some(mut d) = Diff::new() else { return };
    let slow = std::time::Duration::from_secs(300);
    for c in [&mut d.redis, &mut d.ferry] {
        c.send(&["PFSELFTEST"]);
        assert_eq!(c.try_read_reply(slow).as_deref(), Some(&b"+OK\r\n"[..]));
    }
}

/// PFCOUNT may write its cache, so read-only scripts refuse it as Redis 7.0 does.
#[test]
fn pfcount_is_refused_in_read_only_scripts() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["PFADD", "h", "a"],
        &["EVAL_RO", "return redis.call('pfcount', KEYS[1])", "1", "h"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('pfcount', KEYS[1])",
            "1",
            "h",
        ],
        &["EVAL", "return redis.call('pfcount', KEYS[1])", "1", "h"],
        &[
            "EVAL_RO",
            "return redis.call('pfcount', KEYS[1], 'x')",
            "1",
            "h",
        ],
    ]);
}

/// Keyspace events as Redis raises them — `pfadd` for PFADD and PFMERGE, nothing for PFCOUNT —
/// and which commands count as a change (PFCOUNT does when it refreshes the cache).
#[test]
fn keyspace_events_and_changes_match_redis() {
    let Some(mut e) = Events::new("KEAn") else {
        return;
    };
    e.script(&[
        &["PFADD", "h", "a", "b", "c"],
        &["PFADD", "h", "a"],
        &["PFADD", "h"],
        &["PFCOUNT", "h"],
        &["PFCOUNT", "h"],
        &["PFCOUNT", "h", "nokey"],
        &["PFMERGE", "m", "h"],
        &["PFMERGE", "m"],
        &["PFADD", "new"],
        &["PFDEBUG", "todense", "h"],
        &["PFDEBUG", "todense", "h"],
        &["PFDEBUG", "getreg", "m"],
        &["SET", "s", "x"],
        &["PFADD", "s", "a"],
    ]);
}

/// Writes replay from the AOF to the same bytes (also after a rewrite), and redis-server loads
/// ferrymq's AOF to the same bytes too.
#[test]
fn aof_replays_hyperloglog_writes() {
    let dir = tempfile::tempdir().unwrap();
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    let mut args: Vec<String> = vec!["PFADD".into(), "a".into()];
    args.extend(elems("x", 0..100));
    assert_eq!(c.cmd(&args), b":1\r\n");
    args[1] = "b".into();
    args.extend(elems("y", 0..3000));
    assert_eq!(c.cmd(&args), b":1\r\n");
    assert!(c.cmd(&["PFCOUNT", "a"]).starts_with(b":"));
    c.cmd(&["PFMERGE", "m", "a", "b"]);
    c.cmd(&["PFADD", "small", "one"]);
    c.cmd(&["PFDEBUG", "todense", "small"]);
    c.cmd(&["PFCOUNT", "small"]);
    let keys = ["a", "b", "m", "small"];
    let before: Vec<Vec<u8>> = keys.iter().map(|k| c.cmd(&["GET", k])).collect();
    assert!(before.iter().all(|v| v.starts_with(b"$")));
    f.shutdown();
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    let after: Vec<Vec<u8>> = keys.iter().map(|k| c.cmd(&["GET", k])).collect();
    assert_eq!(before, after);
    // A rewrite keeps the values as they are (SET of the bytes), and later writes append.
    assert!(c.cmd(&["BGREWRITEAOF"]).starts_with(b"+"));
    assert!(common::wait_for(Duration::from_secs(20), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
    }));
    c.cmd(&["PFADD", "a", "after-rewrite"]);
    c.cmd(&["PFCOUNT", "a"]);
    let before: Vec<Vec<u8>> = keys.iter().map(|k| c.cmd(&["GET", k])).collect();
    f.shutdown();
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    let after: Vec<Vec<u8>> = keys.iter().map(|k| c.cmd(&["GET", k])).collect();
    assert_eq!(before, after);
    f.shutdown();
    let Some(r) = DirServer::redis(
        dir.path(),
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    ) else {
        return;
    };
    let mut c = r.raw();
    let replayed: Vec<Vec<u8>> = keys.iter().map(|k| c.cmd(&["GET", k])).collect();
    assert_eq!(before, replayed);
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8, Vec<u16>),
    Count(Vec<u8>),
    Merge(u8, Vec<u8>),
    Get(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..4;
    prop_oneof![
        4 => (key.clone(), proptest::collection::vec(0u16..3000, 0..40)).prop_map(|(k, e)| Op::Add(k, e)),
        2 => proptest::collection::vec(0u8..5, 1..4).prop_map(Op::Count),
        1 => (key.clone(), proptest::collection::vec(0u8..5, 0..3)).prop_map(|(k, s)| Op::Merge(k, s)),
        1 => key.prop_map(Op::Get),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Random PFADD/PFCOUNT/PFMERGE sequences (with a small sparse limit so promotions happen)
    /// give the same replies and the same bytes as redis-server.
    #[test]
    fn random_sequences_match_redis(ops in proptest::collection::vec(op(), 1..40), limit in prop_oneof![Just(3000u32), 20u32..400]) {
        let Some(mut d) = Diff::new() else { return Ok(()) };
        d.cmd(&["CONFIG", "SET", "hll-sparse-max-bytes", &limit.to_string()]);
        let k = |i: u8| format!("k{i}");
        for op in ops {
            match op {
                Op::Add(key, e) => {
                    let e: Vec<String> = e.iter().map(|i| format!("e{i}")).collect();
                    with_elems(&mut d, "PFADD", &k(key), &e);
                }
                Op::Count(keys) => {
                    let mut args = vec!["PFCOUNT".to_string()];
                    args.extend(keys.into_iter().map(k));
                    d.cmd(&args);
                }
                Op::Merge(dest, srcs) => {
                    let mut args = vec!["PFMERGE".to_string(), k(dest)];
                    args.extend(srcs.into_iter().map(k));
                    d.cmd(&args);
                }
                Op::Get(key) => {
                    d.cmd(&["GET", &k(key)]);
                }
            }
        }
        for i in 0..5 {
            d.cmd(&["GET", &k(i)]);
        }
    }
}

#[derive(Debug, Clone)]
enum Opcode {
    Zero(u16),
    Xzero(u16),
    Val(u8, u8),
}

fn opcode() -> impl Strategy<Value = Opcode> {
    prop_oneof![
        (1u16..=64).prop_map(Opcode::Zero),
        (1u16..=16384).prop_map(Opcode::Xzero),
        (1u8..=32, 1u8..=4).prop_map(|(v, l)| Opcode::Val(v, l)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Sparse strings made of arbitrary opcodes — covering too few or too many registers, or
    /// (topped up) exactly all of them in a non-canonical way: the same errors, counts and
    /// bytes as redis-server after PFCOUNT, PFADD, PFMERGE and PFDEBUG.
    #[test]
    fn arbitrary_sparse_opcodes_match_redis(
        ops in proptest::collection::vec(opcode(), 0..12),
        top_up in any::<bool>(),
        elements in proptest::collection::vec(0u16..500, 0..6),
    ) {
        let Some(mut d) = Diff::new() else { return Ok(()) };
        let mut value = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
        let mut covered = 0usize;
        let xzero = |v: &mut Vec<u8>, len: usize| {
            v.push(0x40 | ((len - 1) >> 8) as u8);
            v.push(((len - 1) & 0xff) as u8);
        };
        for op in &ops {
            match *op {
                Opcode::Zero(l) => {
                    value.push((l - 1) as u8);
                    covered += l as usize;
                }
                Opcode::Xzero(l) => {
                    xzero(&mut value, l as usize);
                    covered += l as usize;
                }
                Opcode::Val(v, l) => {
                    value.push(0x80 | ((v - 1) << 2) | (l - 1));
                    covered += l as usize;
                }
            }
        }
        if top_up && covered < 16384 {
            xzero(&mut value, 16384 - covered);
        }
        d.cmd(&[b"SET".as_slice(), b"h", &value]);
        d.cmd(&["PFCOUNT", "h"]);
        d.cmd(&["PFDEBUG", "decode", "h"]);
        d.cmd(&["PFCOUNT", "h", "nokey"]);
        let e: Vec<String> = elements.iter().map(|i| format!("e{i}")).collect();
        with_elems(&mut d, "PFADD", "h", &e);
        d.cmd(&["GET", "h"]);
        d.cmd(&["PFCOUNT", "h"]);
        d.cmd(&["PFMERGE", "m", "h"]);
        d.cmd(&["GET", "m"]);
        d.cmd(&["PFDEBUG", "todense", "h"]);
        d.cmd(&["GET", "h"]);
    }
}

/// INFO's change counter moves as Redis's dirty: PFADD counts the key it created plus each
/// register it raised, PFCOUNT one when it refreshes the cache, PFMERGE one, PFDEBUG one per
/// conversion.
#[test]
fn change_counter_moves_as_redis() {
    let Some(mut d) = Diff::new() else { return };
    let steps: &[&[&str]] = &[
        &["PFADD", "h", "a", "b", "c", "d"],
        &["PFADD", "h", "a", "e"],
        &["PFADD", "h"],
        &["PFADD", "empty"],
        &["PFCOUNT", "h"],
        &["PFCOUNT", "h"],
        &["PFCOUNT", "h", "empty"],
        &["PFMERGE", "m", "h", "empty"],
        &["PFMERGE", "m"],
        &["PFDEBUG", "todense", "m"],
        &["PFDEBUG", "todense", "m"],
        &["PFDEBUG", "getreg", "h"],
        &["PFDEBUG", "encoding", "empty"],
        &["SET", "s", "x"],
        &["PFADD", "s", "a"],
    ];
    d.script_with_info(steps, "rdb_changes_since_last_save");
}

/// WATCH sees a HyperLogLog modified when Redis does: PFADD that raised a register, PFCOUNT
/// that refreshed the cache, PFMERGE; not a PFADD that changed nothing or a cached PFCOUNT.
#[test]
fn watch_sees_the_writes_redis_signals() {
    let Some(d) = Diff::new() else { return };
    let cases: &[(&[&str], &[&str])] = &[
        (&["PFADD", "h", "a"], &["PFADD", "h", "b"]),
        (&["PFADD", "h", "a"], &["PFADD", "h", "a"]),
        (&["PFADD", "h", "c"], &["PFCOUNT", "h"]),
        (&["PFCOUNT", "h"], &["PFCOUNT", "h"]),
        (&["PFCOUNT", "h"], &["PFCOUNT", "h", "x"]),
        (&["PFCOUNT", "h"], &["PFMERGE", "h"]),
        (&["DEL", "m"], &["PFMERGE", "m", "h"]),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (setup, write) in cases {
        let mut replies = Vec::new();
        for srv in [&d.rs, &d.fm] {
            let (mut a, mut b) = (srv.raw(), srv.raw());
            b.cmd(setup);
            a.cmd(&["WATCH", write[1]]);
            b.cmd(write);
            a.cmd(&["MULTI"]);
            a.cmd(&["PING"]);
            replies.push(a.cmd_s(&["EXEC"]));
        }
        seen.insert(replies[0].clone());
        assert_eq!(replies[0], replies[1], "WATCH then {write:?}");
    }
    // Both outcomes occur: aborted (`*-1`) and executed.
    assert_eq!(seen.len(), 2, "{seen:?}");
}
