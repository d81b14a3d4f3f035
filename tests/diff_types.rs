//! Differential tests of strings, hashes, sets and sorted sets: the same commands against
//! ferrymq and redis-server, replies compared byte for byte in RESP2 and RESP3. Replies whose
//! order Redis leaves to chance (hash tables, random picks) are compared after sorting or by
//! shape.

mod common;
use common::{Diff, RawConn};

/// Both protocol versions, on fresh servers each.
fn both(f: impl Fn(&mut Diff)) {
    for resp3 in [false, true] {
        let Some(mut d) = Diff::new() else { return };
        if resp3 {
            d.resp3();
        }
        f(&mut d);
    }
}

/// The bulk strings of a (possibly nested) reply, in order.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < reply.len() {
        if reply[i] == b'$' {
            let end = i + reply[i..].windows(2).position(|w| w == b"\r\n").unwrap();
            let n: i64 = std::str::from_utf8(&reply[i + 1..end])
                .unwrap()
                .parse()
                .unwrap();
            if n < 0 {
                i = end + 2;
                continue;
            }
            let start = end + 2;
            out.push(reply[start..start + n as usize].to_vec());
            i = start + n as usize + 2;
        } else {
            i += 1;
        }
    }
    out
}

/// Reply bytes with the bulk strings sorted (for unordered collections).
fn sorted(reply: &[u8]) -> Vec<u8> {
    let mut b = bulks(reply);
    b.sort();
    let header = reply.split(|&c| c == b'\r').next().unwrap().to_vec();
    let mut out = header;
    for x in b {
        out.extend_from_slice(b"|");
        out.extend_from_slice(&x);
    }
    out
}

/// Reply bytes with (field, value) pairs sorted, pairs kept together.
fn sorted_pairs(reply: &[u8]) -> Vec<u8> {
    let b = bulks(reply);
    let mut pairs: Vec<Vec<u8>> = b
        .chunks(2)
        .map(|c| {
            [
                c[0].clone(),
                b"=".to_vec(),
                c.get(1).cloned().unwrap_or_default(),
            ]
            .concat()
        })
        .collect();
    pairs.sort();
    let mut out = reply.split(|&c| c == b'\r').next().unwrap().to_vec();
    for p in pairs {
        out.extend_from_slice(b"|");
        out.extend_from_slice(&p);
    }
    out
}

fn s(r: &[u8]) -> String {
    String::from_utf8_lossy(r).into_owned()
}

fn fill_big_hash(d: &mut Diff, key: &str, n: usize) {
    for i in 0..n {
        d.cmd(&["HSET", key, &format!("f{i}"), &format!("v{i}")]);
    }
}

#[test]
fn hash_commands() {
    both(|d| {
        d.script(&[
            &["HSET", "h", "a", "1", "b", "2", "c", "3"],
            &["HSET", "h", "a", "10", "d", "4"],
            &["HGET", "h", "a"],
            &["HGET", "h", "zz"],
            &["HGET", "nokey", "a"],
            &["HMGET", "h", "a", "zz", "d"],
            &["HMGET", "nokey", "a", "b"],
            &["HGETALL", "h"],
            &["HGETALL", "nokey"],
            &["HKEYS", "h"],
            &["HVALS", "h"],
            &["HKEYS", "nokey"],
            &["HLEN", "h"],
            &["HLEN", "nokey"],
            &["HEXISTS", "h", "a"],
            &["HEXISTS", "h", "zz"],
            &["HEXISTS", "nokey", "a"],
            &["HSTRLEN", "h", "a"],
            &["HSTRLEN", "h", "zz"],
            &["HSETNX", "h", "a", "x"],
            &["HSETNX", "h", "e", "5"],
            &["HSETNX", "new", "e", "5"],
            &["HMSET", "h", "f", "6", "a", "11"],
            &["HGETALL", "h"],
            &["HDEL", "h", "a", "zz", "b"],
            &["HDEL", "nokey", "a"],
            &["HGETALL", "h"],
            &["HDEL", "h", "c", "d", "e", "f"],
            &["EXISTS", "h"],
            &["HINCRBY", "n", "x", "5"],
            &["HINCRBY", "n", "x", "-7"],
            &["HINCRBY", "n", "x", "abc"],
            &[
                "HSET",
                "n",
                "big",
                "9223372036854775807",
                "str",
                "abc",
                "fl",
                "1.5",
            ],
            &["HINCRBY", "n", "big", "1"],
            &["HINCRBY", "n", "str", "1"],
            &["HINCRBY", "n", "fl", "1"],
            &["HINCRBYFLOAT", "n", "fl", "0.1"],
            &["HINCRBYFLOAT", "n", "x", "1.5"],
            &["HINCRBYFLOAT", "n", "y", "3"],
            &["HINCRBYFLOAT", "n", "y", "-3"],
            &["HINCRBYFLOAT", "n", "y", "1e3"],
            &["HINCRBYFLOAT", "n", "y", "abc"],
            &["HINCRBYFLOAT", "n", "str", "1"],
            &["HINCRBYFLOAT", "n", "y", "inf"],
            &["HINCRBYFLOAT", "n", "y", "nan"],
            &["HSET", "fl2", "a", "1.1"],
            &["HINCRBYFLOAT", "fl2", "a", "0.1"],
            &["HINCRBYFLOAT", "fl2", "a", "0.2"],
            &["HGETALL", "n"],
            &["OBJECT", "ENCODING", "n"],
            &["TYPE", "n"],
            &["SET", "str", "x"],
            &["HSET", "str", "a", "1"],
            &["HGET", "str", "a"],
            &["HGETALL", "str"],
            &["HDEL", "str", "a"],
            &["HLEN", "str"],
            &["HINCRBY", "str", "a", "1"],
            &["HRANDFIELD", "str"],
            &["HSCAN", "str", "0"],
            &["HSET", "h"],
            &["HSET", "h", "a"],
            &["HSET", "h", "a", "1", "b"],
            &["HMSET", "h", "a", "1", "b"],
            &["HGET", "h"],
            &["HSETNX", "h", "a"],
            &["HDEL", "h"],
        ]);
    });
}

#[test]
fn hash_encodings_and_order() {
    both(|d| {
        d.cmd(&["HSET", "h", "z", "1", "y", "2", "x", "3"]);
        d.cmd(&["OBJECT", "ENCODING", "h"]);
        d.cmd(&["HSET", "h", "y", "22"]);
        d.cmd(&["HDEL", "h", "z"]);
        d.cmd(&["HSET", "h", "z", "1"]);
        d.cmd(&["HGETALL", "h"]);
        d.cmd(&["HSCAN", "h", "0"]);
        d.cmd(&["HSCAN", "h", "0", "MATCH", "*y*"]);
        d.cmd(&["HSCAN", "h", "0", "COUNT", "1"]);
        d.cmd(&["HSET", "long", "f", &"v".repeat(65)]);
        d.cmd(&["OBJECT", "ENCODING", "long"]);
        d.cmd(&["HSET", "edge", "f", &"v".repeat(64)]);
        d.cmd(&["OBJECT", "ENCODING", "edge"]);
        fill_big_hash(d, "big", 128);
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd(&["HSET", "big", "one", "more"]);
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd(&["HDEL", "big", "one", "f1", "f2"]);
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd(&["HLEN", "big"]);
        d.cmd_norm(&["HGETALL", "big"], sorted_pairs);
        d.cmd_norm(&["HKEYS", "big"], sorted);
        d.cmd_norm(&["HVALS", "big"], sorted);
        d.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
        d.cmd(&["HSET", "small", "a", "1", "b", "2", "c", "3"]);
        d.cmd(&["OBJECT", "ENCODING", "small"]);
        d.cmd(&["CONFIG", "SET", "hash-max-listpack-value", "1"]);
        d.cmd(&["HSET", "small2", "a", "12"]);
        d.cmd(&["OBJECT", "ENCODING", "small2"]);
        d.cmd(&["HSCAN", "h", "abc"]);
        d.cmd(&["HSCAN", "h", "0", "COUNT", "0"]);
        d.cmd(&["HSCAN", "h", "0", "TYPE", "string"]);
        d.cmd(&["HSCAN", "h", "0", "MATCH"]);
        d.cmd(&["HSCAN", "nokey", "0"]);
    });
}

/// A full HSCAN of a hash-table hash returns every field exactly once.
#[test]
fn hscan_iterates_everything() {
    let Some(mut d) = Diff::new() else { return };
    fill_big_hash(&mut d, "big", 300);
    let mut conn: RawConn = d.fm.raw();
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let r = conn.cmd(&["HSCAN", "big", &cursor, "COUNT", "17"]);
        let b = bulks(&r);
        cursor = s(&b[0]);
        for pair in b[1..].chunks(2) {
            seen.push((s(&pair[0]), s(&pair[1])));
        }
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    let mut want: Vec<(String, String)> = (0..300)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn hrandfield() {
    both(|d| {
        d.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
        // Counts at least the size return the whole hash, in listpack order.
        d.cmd(&["HRANDFIELD", "h", "3"]);
        d.cmd(&["HRANDFIELD", "h", "10", "WITHVALUES"]);
        d.cmd(&["HRANDFIELD", "h", "0"]);
        d.cmd(&["HRANDFIELD", "h", "0", "WITHVALUES"]);
        d.cmd(&["HRANDFIELD", "nokey"]);
        d.cmd(&["HRANDFIELD", "nokey", "5"]);
        d.cmd(&["HRANDFIELD", "nokey", "-5", "WITHVALUES"]);
        d.cmd(&["HRANDFIELD", "h", "abc"]);
        d.cmd(&["HRANDFIELD", "h", "1", "FOO"]);
        d.cmd(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]);
        d.cmd(&["HRANDFIELD", "h", "-9223372036854775808"]);
        // Random picks: same shape, members from the hash.
        let one = |r: &[u8]| {
            let b = bulks(r);
            assert!(b.iter().all(|x| [&b"a"[..], b"b", b"c"].contains(&&x[..])));
            r.split(|&c| c == b'\r').next().unwrap().to_vec()
        };
        d.cmd_norm(&["HRANDFIELD", "h"], one);
        d.cmd_norm(&["HRANDFIELD", "h", "2"], one);
        d.cmd_norm(&["HRANDFIELD", "h", "-7"], one);
        let pairs = |r: &[u8]| {
            let b = bulks(r);
            for p in b.chunks(2) {
                let want: &[u8] = match &p[0][..] {
                    b"a" => b"1",
                    b"b" => b"2",
                    _ => b"3",
                };
                assert_eq!(p[1], want);
            }
            b.len().to_le_bytes().to_vec()
        };
        d.cmd_norm(&["HRANDFIELD", "h", "-5", "WITHVALUES"], pairs);
        d.cmd_norm(&["HRANDFIELD", "h", "2", "WITHVALUES"], pairs);
    });
}

#[test]
fn set_commands() {
    both(|d| {
        d.script(&[
            &["SADD", "s", "3", "1", "2", "1"],
            &["SMEMBERS", "s"],
            &["OBJECT", "ENCODING", "s"],
            &["SADD", "s", "-5", "100"],
            &["SMEMBERS", "s"],
            &["SISMEMBER", "s", "1"],
            &["SISMEMBER", "s", "01"],
            &["SISMEMBER", "s", "x"],
            &["SISMEMBER", "nokey", "x"],
            &["SMISMEMBER", "s", "1", "x", "3"],
            &["SMISMEMBER", "nokey", "1"],
            &["SCARD", "s"],
            &["SCARD", "nokey"],
            &["SREM", "s", "1", "x", "2"],
            &["SREM", "nokey", "1"],
            &["SMEMBERS", "s"],
            &["SMEMBERS", "nokey"],
            &["SREM", "s", "3", "-5", "100"],
            &["EXISTS", "s"],
            &["SADD", "t", "a"],
            &["OBJECT", "ENCODING", "t"],
            &["SADD", "u", "1", "01"],
            &["OBJECT", "ENCODING", "u"],
            &["TYPE", "u"],
            &["SADD", "i1", "1", "2", "3", "4", "5"],
            &["SADD", "i2", "3", "4", "5", "6"],
            &["SADD", "i3", "5", "4", "9"],
            &["SINTER", "i1", "i2"],
            &["SINTER", "i1", "i2", "i3"],
            &["SINTER", "i1", "nokey"],
            &["SINTER", "nokey"],
            &["SUNION", "i1", "i2", "i3"],
            &["SUNION", "nokey", "i3"],
            &["SDIFF", "i1", "i2"],
            &["SDIFF", "i1", "i2", "i3"],
            &["SDIFF", "nokey", "i1"],
            &["SDIFF", "i1", "nokey"],
            &["SINTERSTORE", "dst", "i1", "i2"],
            &["SMEMBERS", "dst"],
            &["OBJECT", "ENCODING", "dst"],
            &["SINTERSTORE", "dst", "i1", "nokey"],
            &["EXISTS", "dst"],
            &["SUNIONSTORE", "dst", "i1", "i3"],
            &["SMEMBERS", "dst"],
            &["SDIFFSTORE", "dst", "i1", "i2"],
            &["SMEMBERS", "dst"],
            &["SDIFFSTORE", "dst", "i1", "i1"],
            &["EXISTS", "dst"],
            &["SUNIONSTORE", "i1", "i1", "i2"],
            &["SMEMBERS", "i1"],
            &["SINTERCARD", "2", "i1", "i2"],
            &["SINTERCARD", "2", "i1", "i2", "LIMIT", "2"],
            &["SINTERCARD", "2", "i1", "i2", "LIMIT", "0"],
            &["SINTERCARD", "2", "i1", "nokey"],
            &["SINTERCARD", "0", "i1"],
            &["SINTERCARD", "abc", "i1"],
            &["SINTERCARD", "3", "i1", "i2"],
            &["SINTERCARD", "1", "i1", "LIMIT", "-1"],
            &["SINTERCARD", "1", "i1", "LIMIT"],
            &["SINTERCARD", "1", "i1", "FOO", "1"],
            &["SMOVE", "i1", "m", "1"],
            &["SMOVE", "i1", "m", "1"],
            &["SMOVE", "i1", "i1", "2"],
            &["SMOVE", "i1", "i1", "99"],
            &["SMOVE", "nokey", "m", "1"],
            &["SMEMBERS", "m"],
            &["SADD", "one", "x"],
            &["SMOVE", "one", "m", "x"],
            &["EXISTS", "one"],
            &["SCARD", "m"],
            &["SISMEMBER", "m", "x"],
            &["OBJECT", "ENCODING", "m"],
            &["SET", "str", "v"],
            &["SADD", "str", "a"],
            &["SREM", "str", "a"],
            &["SMEMBERS", "str"],
            &["SISMEMBER", "str", "a"],
            &["SMISMEMBER", "str", "a"],
            &["SCARD", "str"],
            &["SPOP", "str"],
            &["SRANDMEMBER", "str"],
            &["SINTER", "i1", "str"],
            &["SINTER", "nokey", "str"],
            &["SUNION", "i1", "str"],
            &["SDIFF", "nokey", "str"],
            &["SINTERSTORE", "dst", "i1", "str"],
            &["SINTERCARD", "2", "i1", "str"],
            &["SMOVE", "str", "m", "a"],
            &["SMOVE", "i2", "str", "3"],
            &["SMOVE", "nokey", "str", "3"],
            &["SSCAN", "str", "0"],
            &["SADD", "s"],
            &["SMOVE", "a", "b"],
            &["SPOP", "i2", "-1"],
            &["SPOP", "i2", "abc"],
            &["SPOP", "i2", "1", "2"],
            &["SPOP", "nokey"],
            &["SPOP", "nokey", "3"],
            &["SPOP", "i2", "0"],
            &["SRANDMEMBER", "i2", "abc"],
            &["SRANDMEMBER", "i2", "1", "2"],
            &["SRANDMEMBER", "nokey"],
            &["SRANDMEMBER", "nokey", "3"],
            &["SRANDMEMBER", "nokey", "-3"],
            &["SRANDMEMBER", "i2", "0"],
            &["SRANDMEMBER", "i2", "100"],
            &["SSCAN", "i2", "0"],
            &["SSCAN", "i2", "0", "MATCH", "*5*"],
            &["SSCAN", "nokey", "0"],
            &["SSCAN", "i2", "x"],
        ]);
    });
}

#[test]
fn set_encodings_and_random() {
    both(|d| {
        let members: Vec<String> = (0..513).map(|i| i.to_string()).collect();
        let mut cmd = vec!["SADD", "big"];
        cmd.extend(members[..512].iter().map(|s| s.as_str()));
        d.cmd(&cmd);
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd(&["SADD", "big", "512"]);
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd_norm(&["SMEMBERS", "big"], sorted);
        d.cmd(&["SADD", "words", "a", "b", "c", "d"]);
        d.cmd_norm(&["SMEMBERS", "words"], sorted);
        d.cmd_norm(&["SUNION", "words", "big"], sorted);
        d.cmd_norm(&["SINTER", "words", "words"], sorted);
        d.cmd_norm(&["SDIFF", "words", "big"], sorted);
        d.cmd(&["SINTERCARD", "2", "words", "big"]);
        d.cmd(&["CONFIG", "SET", "set-max-intset-entries", "2"]);
        d.cmd(&["SADD", "few", "1", "2", "3"]);
        d.cmd(&["OBJECT", "ENCODING", "few"]);
        d.cmd_norm(&["SSCAN", "words", "0", "COUNT", "100"], sorted);
        // Random picks: same shape and count, members from the set.
        let shape = |r: &[u8]| {
            let b = bulks(r);
            assert!(
                b.iter()
                    .all(|x| [&b"a"[..], b"b", b"c", b"d"].contains(&&x[..]))
            );
            let mut u = b.clone();
            u.sort();
            u.dedup();
            let header = r.split(|&c| c == b'\r').next().unwrap().to_vec();
            [header, vec![u.len() as u8]].concat()
        };
        d.cmd_norm(&["SRANDMEMBER", "words"], shape);
        d.cmd_norm(&["SRANDMEMBER", "words", "3"], shape);
        d.cmd_norm(&["SRANDMEMBER", "words", "-20"], |r| {
            let b = bulks(r);
            assert!(
                b.iter()
                    .all(|x| [&b"a"[..], b"b", b"c", b"d"].contains(&&x[..]))
            );
            r.split(|&c| c == b'\r').next().unwrap().to_vec()
        });
        d.cmd_norm(&["SPOP", "words"], shape);
        d.cmd_norm(&["SPOP", "words", "2"], shape);
        d.cmd(&["SCARD", "words"]);
        d.cmd_norm(&["SPOP", "words", "5"], shape);
        d.cmd(&["EXISTS", "words"]);
    });
}
