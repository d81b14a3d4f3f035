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

#[test]
fn zset_basics() {
    both(|d| {
        d.script(&[
            &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
            &["ZADD", "z", "1.5", "a", "2", "b", "4", "d"],
            &["ZADD", "z", "CH", "1", "a", "2", "b", "5", "e"],
            &["ZADD", "z", "NX", "9", "a", "6", "f"],
            &["ZADD", "z", "XX", "CH", "9", "a", "7", "g"],
            &["ZADD", "z", "GT", "CH", "1", "a", "10", "b"],
            &["ZADD", "z", "LT", "CH", "100", "a", "0.5", "c"],
            &["ZADD", "z", "INCR", "1", "a"],
            &["ZADD", "z", "NX", "INCR", "1", "a"],
            &["ZADD", "z", "XX", "INCR", "1", "new"],
            &["ZADD", "z", "GT", "INCR", "-1", "a"],
            &["ZADD", "z", "LT", "INCR", "-1", "a"],
            &["ZADD", "nokey", "XX", "1", "a"],
            &["ZADD", "nokey", "XX", "INCR", "1", "a"],
            &["EXISTS", "nokey"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["ZADD", "z", "XX", "NX", "1", "a"],
            &["ZADD", "z", "GT", "LT", "1", "a"],
            &["ZADD", "z", "GT", "NX", "1", "a"],
            &["ZADD", "z", "INCR", "1", "a", "2", "b"],
            &["ZADD", "z", "abc", "a"],
            &["ZADD", "z", "nan", "a"],
            &["ZADD", "z", "1e400", "a"],
            &["ZADD", "z", "1", "a", "2"],
            &["ZADD", "z", "NX"],
            &["ZADD", "z", "FOO", "1", "a"],
            &[
                "ZADD", "inf", "inf", "a", "-inf", "b", "+inf", "c", "0", "d", "-0", "e",
            ],
            &["ZRANGE", "inf", "0", "-1", "WITHSCORES"],
            &["ZINCRBY", "inf", "-inf", "a"],
            &["ZADD", "inf", "INCR", "-inf", "c"],
            &["ZSCORE", "inf", "e"],
            &["ZINCRBY", "inf", "1.1", "d"],
            &["ZINCRBY", "inf", "0.1", "d"],
            &["ZINCRBY", "inf", "1e20", "x"],
            &["ZINCRBY", "inf", "1.5e-7", "y"],
            &["ZINCRBY", "inf", "abc", "y"],
            &["ZINCRBY", "newz", "3", "m"],
            &["ZSCORE", "z", "a"],
            &["ZSCORE", "z", "nope"],
            &["ZSCORE", "nokey", "a"],
            &["ZMSCORE", "z", "a", "nope", "b"],
            &["ZMSCORE", "nokey", "a"],
            &["ZCARD", "z"],
            &["ZCARD", "nokey"],
            &["ZRANK", "z", "a"],
            &["ZREVRANK", "z", "a"],
            &["ZRANK", "z", "nope"],
            &["ZRANK", "nokey", "a"],
            &["ZREM", "z", "a", "nope", "b"],
            &["ZREM", "nokey", "a"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["ZREM", "z", "c", "d", "e", "f"],
            &["EXISTS", "z"],
            &["TYPE", "inf"],
            &["OBJECT", "ENCODING", "inf"],
            &["SET", "str", "x"],
            &["ZADD", "str", "1", "a"],
            &["ZINCRBY", "str", "1", "a"],
            &["ZREM", "str", "a"],
            &["ZSCORE", "str", "a"],
            &["ZMSCORE", "str", "a"],
            &["ZCARD", "str"],
            &["ZRANK", "str", "a"],
            &["ZRANGE", "str", "0", "-1"],
            &["ZRANGEBYSCORE", "str", "0", "1"],
            &["ZRANGEBYLEX", "str", "-", "+"],
            &["ZCOUNT", "str", "0", "1"],
            &["ZLEXCOUNT", "str", "-", "+"],
            &["ZPOPMIN", "str"],
            &["BZPOPMIN", "str", "0"],
            &["ZMPOP", "1", "str", "MIN"],
            &["ZRANDMEMBER", "str"],
            &["ZSCAN", "str", "0"],
            &["ZREMRANGEBYRANK", "str", "0", "1"],
            &["ZUNIONSTORE", "d", "1", "str"],
            &["ZRANGESTORE", "d", "str", "0", "-1"],
            &["ZINTERCARD", "2", "nokey", "str"],
            &["ZUNION", "2", "nokey", "str"],
        ]);
    });
}

#[test]
fn zset_ranges() {
    both(|d| {
        d.cmd(&[
            "ZADD", "z", "1", "a", "2", "b", "2", "bb", "3", "c", "4", "d", "5", "e", "-1.5", "neg",
        ]);
        d.cmd(&[
            "ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "ab",
        ]);
        d.script(&[
            &["ZRANGE", "z", "0", "-1"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["ZRANGE", "z", "2", "3", "WITHSCORES"],
            &["ZRANGE", "z", "-3", "-1"],
            &["ZRANGE", "z", "-100", "100"],
            &["ZRANGE", "z", "5", "2"],
            &["ZRANGE", "z", "50", "60"],
            &["ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"],
            &["ZRANGE", "z", "0", "1", "REV"],
            &["ZREVRANGE", "z", "0", "2", "WITHSCORES"],
            &["ZRANGE", "z", "(1", "3", "BYSCORE", "WITHSCORES"],
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE"],
            &["ZRANGE", "z", "2", "(4", "BYSCORE"],
            &["ZRANGE", "z", "(2", "(2", "BYSCORE"],
            &["ZRANGE", "z", "3", "1", "BYSCORE"],
            &["ZRANGE", "z", "4", "2", "BYSCORE", "REV", "WITHSCORES"],
            &[
                "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "3",
            ],
            &[
                "ZRANGE",
                "z",
                "-inf",
                "+inf",
                "BYSCORE",
                "LIMIT",
                "2",
                "2",
                "WITHSCORES",
            ],
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "-1"],
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
            &[
                "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "100", "2",
            ],
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "0"],
            &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1"],
            &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES", "LIMIT", "0", "1"],
            &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
            &["ZRANGE", "z", "0", "1", "REV", "REV"],
            &["ZRANGE", "z", "0", "1", "FOO"],
            &["ZRANGE", "z", "0", "1", "LIMIT", "0"],
            &["ZRANGE", "z", "a", "1"],
            &["ZRANGE", "z", "a", "1", "BYSCORE"],
            &["ZRANGE", "z", "(a", "1", "BYSCORE"],
            &["ZRANGE", "z", "nan", "1", "BYSCORE"],
            &["ZRANGE", "lex", "-", "+", "BYLEX"],
            &["ZRANGE", "lex", "[a", "(c", "BYLEX"],
            &["ZRANGE", "lex", "(a", "[c", "BYLEX", "LIMIT", "1", "2"],
            &["ZRANGE", "lex", "+", "-", "BYLEX", "REV"],
            &["ZRANGE", "lex", "[d", "(ab", "BYLEX", "REV"],
            &["ZRANGE", "lex", "-", "+", "BYLEX", "REV"],
            &["ZRANGE", "lex", "[c", "[a", "BYLEX"],
            &["ZRANGE", "lex", "a", "[c", "BYLEX"],
            &["ZRANGE", "lex", "[a", "c", "BYLEX"],
            &["ZRANGE", "lex", "--", "+", "BYLEX"],
            &["ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"],
            &["ZRANGEBYSCORE", "z", "1", "3"],
            &[
                "ZRANGEBYSCORE",
                "z",
                "1",
                "3",
                "WITHSCORES",
                "LIMIT",
                "1",
                "2",
            ],
            &["ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "1"],
            &["ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "a", "b"],
            &["ZRANGEBYSCORE", "z", "1", "3", "REV"],
            &["ZRANGEBYSCORE", "z", "abc", "3"],
            &["ZREVRANGEBYSCORE", "z", "3", "1", "WITHSCORES"],
            &["ZREVRANGEBYSCORE", "z", "+inf", "(2", "LIMIT", "0", "2"],
            &["ZRANGEBYLEX", "lex", "-", "[b"],
            &["ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "2", "3"],
            &["ZRANGEBYLEX", "lex", "a", "b"],
            &["ZRANGEBYLEX", "lex", "-", "+", "WITHSCORES"],
            &["ZREVRANGEBYLEX", "lex", "+", "-"],
            &["ZREVRANGEBYLEX", "lex", "[c", "(a", "LIMIT", "0", "2"],
            &["ZRANGE", "nokey", "0", "-1"],
            &["ZRANGEBYSCORE", "nokey", "0", "1"],
            &["ZCOUNT", "z", "-inf", "+inf"],
            &["ZCOUNT", "z", "(2", "4"],
            &["ZCOUNT", "z", "2", "(2"],
            &["ZCOUNT", "z", "x", "4"],
            &["ZCOUNT", "nokey", "0", "1"],
            &["ZLEXCOUNT", "lex", "-", "+"],
            &["ZLEXCOUNT", "lex", "[ab", "(d"],
            &["ZLEXCOUNT", "lex", "a", "(d"],
            &["ZRANK", "z", "bb"],
            &["ZREVRANK", "z", "bb"],
            &["ZRANGESTORE", "dst", "z", "0", "2"],
            &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
            &["OBJECT", "ENCODING", "dst"],
            &[
                "ZRANGESTORE",
                "dst",
                "z",
                "(1",
                "4",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "2",
            ],
            &[
                "ZRANGESTORE",
                "dst",
                "z",
                "4",
                "(1",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "2",
            ],
            &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
            &["ZRANGESTORE", "dst2", "lex", "[b", "[d", "BYLEX"],
            &["ZRANGE", "dst2", "0", "-1"],
            &["ZRANGESTORE", "dst", "z", "10", "20"],
            &["EXISTS", "dst"],
            &["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"],
            &["ZRANGESTORE", "dst", "nokey", "0", "-1"],
            &["ZREMRANGEBYSCORE", "z", "(4", "+inf"],
            &["ZREMRANGEBYSCORE", "z", "x", "1"],
            &["ZREMRANGEBYRANK", "z", "0", "0"],
            &["ZREMRANGEBYRANK", "z", "-1", "-1"],
            &["ZREMRANGEBYRANK", "z", "a", "1"],
            &["ZREMRANGEBYLEX", "lex", "[a", "[b"],
            &["ZREMRANGEBYLEX", "lex", "a", "[b"],
            &["ZRANGE", "lex", "0", "-1"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["ZREMRANGEBYRANK", "z", "0", "-1"],
            &["EXISTS", "z"],
            &["ZREMRANGEBYSCORE", "nokey", "0", "1"],
        ]);
    });
}

#[test]
fn zset_pops_and_setops() {
    both(|d| {
        d.script(&[
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
            &["ZPOPMIN", "z"],
            &["ZPOPMAX", "z"],
            &["ZPOPMIN", "z", "1"],
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
            &["ZPOPMAX", "z", "2"],
            &["ZPOPMIN", "z", "0"],
            &["ZPOPMIN", "z", "-1"],
            &["ZPOPMIN", "z", "abc"],
            &["ZPOPMIN", "z", "1", "2"],
            &["ZPOPMIN", "z", "10"],
            &["EXISTS", "z"],
            &["ZPOPMIN", "nokey"],
            &["ZPOPMIN", "nokey", "2"],
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
            &["ZMPOP", "1", "z", "MIN"],
            &["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2"],
            &["ZMPOP", "1", "z", "MAX", "COUNT", "10"],
            &["ZMPOP", "1", "z", "MAX"],
            &["ZMPOP", "0", "z", "MIN"],
            &["ZMPOP", "1", "z", "FOO"],
            &["ZMPOP", "1", "z", "MIN", "COUNT", "0"],
            &["ZMPOP", "1", "z", "MIN", "COUNT", "-1"],
            &["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"],
            &["ZMPOP", "2", "z", "MIN"],
            &["ZMPOP", "abc", "z", "MIN"],
            &["BZPOPMIN", "z", "abc"],
            &["BZPOPMIN", "z", "-1"],
            &["BZMPOP", "abc", "1", "z", "MIN"],
            &["BZMPOP", "0", "0", "z", "MIN"],
            &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
            &["BZPOPMIN", "nokey", "z", "0"],
            &["BZPOPMAX", "nokey", "z", "0"],
            &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"],
            &["EXISTS", "z"],
            &["ZADD", "z1", "1", "a", "2", "b", "3", "c"],
            &["ZADD", "z2", "10", "b", "20", "c", "30", "d"],
            &["SADD", "s1", "a", "d", "x"],
            &["ZUNIONSTORE", "u", "2", "z1", "z2"],
            &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
            &[
                "ZUNIONSTORE",
                "u",
                "3",
                "z1",
                "z2",
                "s1",
                "WEIGHTS",
                "1",
                "2",
                "3",
            ],
            &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
            &["ZUNIONSTORE", "u", "2", "z1", "z2", "AGGREGATE", "MAX"],
            &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
            &[
                "ZUNIONSTORE",
                "u",
                "2",
                "z1",
                "z2",
                "AGGREGATE",
                "min",
                "WEIGHTS",
                "-1",
                "0.5",
            ],
            &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
            &["ZINTERSTORE", "i", "2", "z1", "z2"],
            &["ZRANGE", "i", "0", "-1", "WITHSCORES"],
            &["ZINTERSTORE", "i", "2", "z1", "s1"],
            &["ZRANGE", "i", "0", "-1", "WITHSCORES"],
            &["ZINTERSTORE", "i", "2", "z1", "nokey"],
            &["EXISTS", "i"],
            &["ZDIFFSTORE", "df", "2", "z1", "z2"],
            &["ZRANGE", "df", "0", "-1", "WITHSCORES"],
            &["ZUNION", "2", "z1", "z2", "WITHSCORES"],
            &["ZINTER", "2", "z1", "z2"],
            &["ZINTER", "2", "z1", "z2", "WITHSCORES", "AGGREGATE", "MAX"],
            &["ZDIFF", "2", "z2", "z1", "WITHSCORES"],
            &["ZUNIONSTORE", "u", "0", "z1"],
            &["ZUNIONSTORE", "u", "3", "z1"],
            &["ZUNIONSTORE", "u", "1", "z1", "WEIGHTS", "1", "2"],
            &["ZUNIONSTORE", "u", "1", "z1", "WEIGHTS", "a"],
            &["ZUNIONSTORE", "u", "1", "z1", "AGGREGATE", "foo"],
            &["ZUNIONSTORE", "u", "1", "z1", "WITHSCORES"],
            &["ZUNIONSTORE", "u", "abc", "z1"],
            &["ZINTERSTORE", "u", "1", "z1", "nokey"],
            &["ZDIFF", "1", "z1", "WEIGHTS", "1"],
            &["ZINTERCARD", "2", "z1", "z2"],
            &["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"],
            &["ZINTERCARD", "3", "z1", "z2", "s1"],
            &["ZINTERCARD", "0", "z1"],
            &["ZINTERCARD", "abc", "z1"],
            &["ZINTERCARD", "3", "z1"],
            &["ZINTERCARD", "1", "z1", "LIMIT", "-1"],
            &["ZINTERCARD", "1", "z1", "FOO"],
            &["ZINTERCARD", "2", "z1", "nokey"],
            &["ZADD", "infs", "inf", "a"],
            &["ZADD", "ninfs", "-inf", "a"],
            &["ZUNIONSTORE", "nan", "2", "infs", "ninfs"],
            &["ZSCORE", "nan", "a"],
            &["ZUNIONSTORE", "nan", "1", "infs", "WEIGHTS", "0"],
            &["ZSCORE", "nan", "a"],
            &["ZSCAN", "z1", "0"],
            &["ZSCAN", "z1", "0", "MATCH", "b*"],
            &["ZSCAN", "nokey", "0"],
            &["ZRANDMEMBER", "z1", "3", "WITHSCORES"],
            &["ZRANDMEMBER", "z1", "5"],
            &["ZRANDMEMBER", "z1", "0"],
            &["ZRANDMEMBER", "nokey"],
            &["ZRANDMEMBER", "nokey", "3"],
            &["ZRANDMEMBER", "z1", "1", "FOO"],
            &["ZRANDMEMBER", "z1", "abc"],
        ]);
        let shape = |r: &[u8]| r.split(|&c| c == b'\r').next().unwrap().to_vec();
        d.cmd_norm(&["ZRANDMEMBER", "z1"], shape);
        d.cmd_norm(&["ZRANDMEMBER", "z1", "-5", "WITHSCORES"], shape);
        d.cmd_norm(&["ZRANDMEMBER", "z1", "2", "WITHSCORES"], shape);
    });
}

#[test]
fn zset_encodings() {
    both(|d| {
        for i in 0..128 {
            d.cmd(&["ZADD", "big", &i.to_string(), &format!("m{i}")]);
        }
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd(&["ZADD", "big", "1000", "one-more"]);
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd(&["ZRANGE", "big", "100", "110", "WITHSCORES"]);
        d.cmd(&["ZRANK", "big", "m77"]);
        d.cmd(&["ZRANGESTORE", "small", "big", "0", "9"]);
        d.cmd(&["OBJECT", "ENCODING", "small"]);
        d.cmd(&["ZUNIONSTORE", "small2", "1", "small"]);
        d.cmd(&["OBJECT", "ENCODING", "small2"]);
        d.cmd(&["ZADD", "long", "1", &"m".repeat(65)]);
        d.cmd(&["OBJECT", "ENCODING", "long"]);
        d.cmd(&["ZADD", "long2", "1", "a"]);
        d.cmd(&["ZADD", "long2", "1", &"m".repeat(65)]);
        d.cmd(&["OBJECT", "ENCODING", "long2"]);
        d.cmd_norm(&["ZSCAN", "big", "0", "COUNT", "1000"], sorted);
    });
}

/// `blocked_clients` from INFO clients (only that section, which needs no other state).
fn blocked_clients(conn: &mut RawConn) -> usize {
    let r = s(&conn.cmd(&["INFO", "clients"]));
    r.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Run one blocking scenario on a server: `waiters` block in order, then `push` runs on another
/// connection; returns every waiter's reply.
fn blocking_run(
    server: &common::Server,
    waiters: &[&[&str]],
    push: &[&[&str]],
    resp3: bool,
) -> Vec<Vec<u8>> {
    let mut conns: Vec<RawConn> = Vec::new();
    let mut admin = server.raw();
    for (i, w) in waiters.iter().enumerate() {
        let mut c = server.raw();
        if resp3 {
            c.cmd(&["HELLO", "3"]);
        }
        c.send(w);
        assert!(
            common::wait_for(std::time::Duration::from_secs(5), || {
                blocked_clients(&mut admin) == i + 1
            }),
            "{} did not block",
            server.name
        );
        conns.push(c);
    }
    for p in push {
        admin.cmd(p);
    }
    conns.iter_mut().map(|c| c.read_reply()).collect()
}

#[test]
fn blocking_pops_match_redis() {
    let Some(d) = Diff::new() else { return };
    type Scenario<'a> = (&'a [&'a [&'a str]], &'a [&'a [&'a str]]);
    let scenarios: &[Scenario] = &[
        (
            &[&["BZPOPMIN", "k1", "k2", "0"], &["BZPOPMAX", "k2", "0"]],
            &[&["ZADD", "k2", "1", "a", "2", "b", "3", "c"]],
        ),
        (
            &[
                &["BZMPOP", "0", "2", "m1", "m2", "MAX", "COUNT", "2"],
                &["BZPOPMIN", "m2", "0"],
                &["BZPOPMIN", "m2", "0"],
            ],
            &[&["ZADD", "m2", "1", "a", "2", "b", "3", "c", "4", "d"]],
        ),
        (
            &[&["BZPOPMIN", "t", "0"]],
            &[
                &["SET", "t", "str"],
                &["DEL", "t"],
                &["ZADD", "src", "5", "x"],
                &["ZUNIONSTORE", "t", "1", "src"],
            ],
        ),
        (
            // Served from the key that became ready first, not the first key named.
            &[
                &["BZPOPMIN", "a", "b", "0"],
                &["BZMPOP", "0", "2", "a", "b", "MIN"],
            ],
            &[
                &["MULTI"],
                &["ZADD", "b", "1", "x"],
                &["ZADD", "a", "1", "y"],
                &["EXEC"],
            ],
        ),
    ];
    for resp3 in [false, true] {
        for (waiters, push) in scenarios {
            let got_r = blocking_run(&d.rs, waiters, push, resp3);
            let got_f = blocking_run(&d.fm, waiters, push, resp3);
            assert_eq!(
                got_r.iter().map(|r| s(r)).collect::<Vec<_>>(),
                got_f.iter().map(|r| s(r)).collect::<Vec<_>>(),
                "{waiters:?} then {push:?}"
            );
            d.rs.raw().cmd(&["FLUSHALL"]);
            d.fm.raw().cmd(&["FLUSHALL"]);
        }
    }
}

#[test]
fn blocking_pop_timeouts_and_multi() {
    both(|d| {
        d.cmd(&["BZPOPMIN", "none", "0.05"]);
        d.cmd(&["BZPOPMAX", "none", "0.05"]);
        d.cmd(&["BZMPOP", "0.05", "1", "none", "MIN"]);
        d.cmd(&["MULTI"]);
        d.cmd(&["BZPOPMIN", "none", "0"]);
        d.cmd(&["BZMPOP", "0", "1", "none", "MIN"]);
        d.cmd(&["ZADD", "none", "1", "a"]);
        d.cmd(&["BZPOPMIN", "none", "0"]);
        d.cmd(&["EXEC"]);
    });
}

#[test]
fn string_commands() {
    both(|d| {
        d.script(&[
            &["SETEX", "k", "100", "v"],
            &["TTL", "k"],
            &["GET", "k"],
            &["SETEX", "k", "0", "v"],
            &["SETEX", "k", "-1", "v"],
            &["SETEX", "k", "abc", "v"],
            &["SETEX", "k", "9223372036854775807", "v"],
            &["PSETEX", "k", "100000", "v2"],
            &["GET", "k"],
            &["PSETEX", "k", "0", "v"],
            &["PSETEX", "k", "9223372036854775807", "v"],
            &["SETNX", "k", "x"],
            &["SETNX", "n", "x"],
            &["GET", "n"],
            &["GETSET", "n", "y"],
            &["GETSET", "nokey", "y"],
            &["GET", "nokey"],
            &["GETDEL", "n"],
            &["GETDEL", "n"],
            &["EXISTS", "n"],
            &["SET", "g", "v"],
            &["GETEX", "g"],
            &["GETEX", "g", "EX", "100"],
            &["TTL", "g"],
            &["GETEX", "g", "PERSIST"],
            &["TTL", "g"],
            &["GETEX", "g", "PX", "100000"],
            &["GETEX", "g", "EXAT", "99999999999"],
            &["GETEX", "g", "PXAT", "99999999999000"],
            &["TTL", "g"],
            &["GETEX", "g", "EX", "0"],
            &["GETEX", "g", "EX", "abc"],
            &["GETEX", "g", "EX", "10", "PX", "10"],
            &["GETEX", "g", "PERSIST", "EX", "10"],
            &["GETEX", "g", "EX", "10", "PERSIST"],
            &["GETEX", "g", "FOO"],
            &["GETEX", "g", "EX"],
            &["GETEX", "g", "PX", "9223372036854775807"],
            &["GETEX", "nokey", "EX", "10"],
            &["GETEX", "g", "EXAT", "1"],
            &["EXISTS", "g"],
            &["MSETNX", "a", "1", "b", "2"],
            &["MSETNX", "b", "3", "c", "4"],
            &["MGET", "a", "b", "c"],
            &["MSETNX", "a", "1", "b"],
            &["SET", "f", "10.5"],
            &["INCRBYFLOAT", "f", "0.1"],
            &["INCRBYFLOAT", "f", "-5"],
            &["INCRBYFLOAT", "f", "1e3"],
            &["INCRBYFLOAT", "f2", "3"],
            &["INCRBYFLOAT", "f2", "-3"],
            &["SET", "f3", "1.1"],
            &["INCRBYFLOAT", "f3", "0.1"],
            &["SET", "f4", "0.1"],
            &["INCRBYFLOAT", "f4", "0.2"],
            &["INCRBYFLOAT", "f", "abc"],
            &["INCRBYFLOAT", "f", "inf"],
            &["INCRBYFLOAT", "f", "nan"],
            &["SET", "s", "abc"],
            &["INCRBYFLOAT", "s", "1"],
            &["SET", "r", "Hello World"],
            &["GETRANGE", "r", "0", "4"],
            &["GETRANGE", "r", "-5", "-1"],
            &["GETRANGE", "r", "-1", "-5"],
            &["GETRANGE", "r", "5", "2"],
            &["GETRANGE", "r", "3", "100"],
            &["GETRANGE", "r", "-100", "-50"],
            &["GETRANGE", "r", "100", "200"],
            &["GETRANGE", "nokey", "0", "-1"],
            &["GETRANGE", "r", "a", "1"],
            &["SUBSTR", "r", "0", "2"],
            &["SET", "num", "12345"],
            &["GETRANGE", "num", "1", "2"],
            &["SETRANGE", "r", "6", "Redis"],
            &["GET", "r"],
            &["SETRANGE", "r", "20", "!"],
            &["GET", "r"],
            &["SETRANGE", "r", "0", ""],
            &["SETRANGE", "new", "3", "x"],
            &["GET", "new"],
            &["SETRANGE", "new2", "3", ""],
            &["EXISTS", "new2"],
            &["SETRANGE", "r", "-1", "x"],
            &["SETRANGE", "r", "abc", "x"],
            &["SETRANGE", "r", "536870912", "x"],
            &["SETRANGE", "nokey", "536870912", ""],
            &["HSET", "h", "a", "1"],
            &["SETEX", "h", "10", "v"],
            &["TYPE", "h"],
            &["SETNX", "h", "v"],
            &["GETSET", "h", "v"],
            &["GETDEL", "h"],
            &["GETEX", "h"],
            &["INCRBYFLOAT", "h", "1"],
            &["GETRANGE", "h", "0", "1"],
            &["SETRANGE", "h", "0", "x"],
            &["APPEND", "h", "x"],
            &["STRLEN", "h"],
            &["INCR", "h"],
            &["GET", "h"],
            &["MGET", "h", "a"],
            &["SET", "l1", "ohmytext"],
            &["SET", "l2", "mynewtext"],
            &["LCS", "l1", "l2"],
            &["LCS", "l1", "l2", "LEN"],
            &["LCS", "l1", "l2", "IDX"],
            &["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4"],
            &["LCS", "l1", "l2", "IDX", "WITHMATCHLEN"],
            &["LCS", "l1", "l2", "LEN", "IDX"],
            &["LCS", "l1", "l2", "FOO"],
            &["LCS", "l1", "nokey"],
            &["LCS", "l1", "h"],
            &["LCS", "l1", "l2", "MINMATCHLEN", "abc"],
        ]);
        // The LCS table would exceed proto-max-bulk-len: refused before allocating.
        let long_a = "a".repeat(12000);
        let long_b = "b".repeat(12000);
        d.cmd(&["SET", "la", &long_a]);
        d.cmd(&["SET", "lb", &long_b]);
        d.cmd(&["LCS", "la", "lb", "LEN"]);
    });
}

mod random_ops {
    use super::*;
    use proptest::prelude::*;

    /// Scores that exercise rounding, signs, infinities and exponents.
    fn score() -> impl Strategy<Value = String> {
        prop_oneof![
            (-20i32..20).prop_map(|i| i.to_string()),
            (-2000i32..2000, 1u32..4)
                .prop_map(|(i, d)| format!("{}", i as f64 / 10f64.powi(d as i32))),
            Just("inf".to_string()),
            Just("-inf".to_string()),
            Just("1e20".to_string()),
            Just("1.5e-7".to_string()),
            Just("0.1".to_string()),
        ]
    }

    fn member() -> impl Strategy<Value = String> {
        prop_oneof!["[a-e]{1,2}", (0i32..12).prop_map(|i| i.to_string())]
    }

    fn bound() -> impl Strategy<Value = String> {
        (any::<bool>(), score()).prop_map(|(ex, s)| if ex { format!("({s}") } else { s })
    }

    fn lex() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("-".to_string()),
            Just("+".to_string()),
            "[a-e]{1,2}".prop_map(|s| format!("[{s}")),
            "[a-e]{1,2}".prop_map(|s| format!("({s}")),
        ]
    }

    fn cmd() -> impl Strategy<Value = Vec<String>> {
        let k = prop_oneof![Just("z1"), Just("z2"), Just("h"), Just("s1"), Just("s2")]
            .prop_map(|s| s.to_string());
        prop_oneof![
            (k.clone(), score(), member(), score(), member()).prop_map(|(k, a, m, b, n)| vec![
                "ZADD".into(),
                k,
                a,
                m,
                b,
                n
            ]),
            (
                k.clone(),
                prop::sample::select(vec!["NX", "XX", "GT", "LT", "CH", "INCR"]),
                score(),
                member()
            )
                .prop_map(|(k, f, s, m)| vec!["ZADD".into(), k, f.into(), s, m]),
            (k.clone(), score(), member()).prop_map(|(k, s, m)| vec!["ZINCRBY".into(), k, s, m]),
            (k.clone(), member()).prop_map(|(k, m)| vec!["ZREM".into(), k, m]),
            (k.clone(), bound(), bound(), any::<bool>()).prop_map(|(k, a, b, rev)| {
                let mut c = vec![
                    "ZRANGE".into(),
                    k,
                    a,
                    b,
                    "BYSCORE".into(),
                    "WITHSCORES".into(),
                ];
                if rev {
                    c.push("REV".into());
                }
                c
            }),
            (k.clone(), lex(), lex(), 0i32..3, -1i32..3).prop_map(|(k, a, b, o, l)| vec![
                "ZRANGEBYLEX".into(),
                k,
                a,
                b,
                "LIMIT".into(),
                o.to_string(),
                l.to_string()
            ]),
            (k.clone(), -5i32..5, -5i32..5).prop_map(|(k, a, b)| vec![
                "ZRANGE".into(),
                k,
                a.to_string(),
                b.to_string(),
                "WITHSCORES".into()
            ]),
            (k.clone(), bound(), bound()).prop_map(|(k, a, b)| vec!["ZCOUNT".into(), k, a, b]),
            (k.clone(), bound(), bound()).prop_map(|(k, a, b)| vec![
                "ZREMRANGEBYSCORE".into(),
                k,
                a,
                b
            ]),
            (k.clone(), member()).prop_map(|(k, m)| vec!["ZRANK".into(), k, m]),
            (k.clone(), 0i32..3).prop_map(|(k, n)| vec!["ZPOPMIN".into(), k, n.to_string()]),
            (k.clone(), 0i32..3).prop_map(|(k, n)| vec!["ZPOPMAX".into(), k, n.to_string()]),
            k.clone().prop_map(|k| vec![
                "ZUNIONSTORE".into(),
                "z2".into(),
                "2".into(),
                k,
                "z1".into()
            ]),
            (k.clone(), member(), score()).prop_map(|(k, f, v)| vec!["HSET".into(), k, f, v]),
            (k.clone(), member(), score()).prop_map(|(k, f, v)| vec![
                "HINCRBYFLOAT".into(),
                k,
                f,
                v
            ]),
            (k.clone(), member()).prop_map(|(k, f)| vec!["HDEL".into(), k, f]),
            k.clone().prop_map(|k| vec!["HGETALL".into(), k]),
            (k.clone(), member(), member()).prop_map(|(k, a, b)| vec!["SADD".into(), k, a, b]),
            (k.clone(), member()).prop_map(|(k, m)| vec!["SREM".into(), k, m]),
            k.clone()
                .prop_map(|k| vec!["SINTER".into(), k, "s1".into()]),
            k.clone()
                .prop_map(|k| vec!["SDIFFSTORE".into(), "s2".into(), k, "s1".into()]),
            (score(), score()).prop_map(|(a, b)| vec!["EVALFREE".into(), a, b]),
            // Save the dataset, empty it and load the file back: every value goes through
            // an RDB file and must come back the same.
            Just(vec!["DEBUG".into(), "RELOAD".into()]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        /// Random command sequences give byte-identical replies (sets compared sorted), also
        /// across DEBUG RELOAD (a round trip through an RDB file).
        #[test]
        fn random_sequences_match_redis(cmds in proptest::collection::vec(cmd(), 1..60), resp3: bool) {
            let Some(mut d) = Diff::with_args(&["--enable-debug-command", "yes"]) else { return Ok(()) };
            if resp3 {
                d.resp3();
            }
            for c in cmds {
                if c[0] == "EVALFREE" {
                    // INCRBYFLOAT chain: set, then add.
                    d.cmd(&["SET", "f", &c[1]]);
                    d.cmd(&["INCRBYFLOAT", "f", &c[2]]);
                    continue;
                }
                let set_reply = c[0] == "SINTER" || (c[0] == "HGETALL");
                if set_reply {
                    d.cmd_norm(&c, sorted);
                } else {
                    d.cmd(&c);
                }
            }
            for k in ["z1", "z2"] {
                d.cmd(&["ZRANGE", k, "0", "-1", "WITHSCORES"]);
            }
        }
    }
}

/// The generic keyspace commands see the new types like Redis does.
#[test]
fn keyspace_sees_new_types() {
    both(|d| {
        d.script(&[
            &["HSET", "h", "a", "1"],
            &["SADD", "s", "1", "x"],
            &["ZADD", "z", "1", "a"],
            &["SET", "str", "x"],
            &["TYPE", "h"],
            &["TYPE", "s"],
            &["TYPE", "z"],
            &["OBJECT", "ENCODING", "s"],
            &["RENAME", "h", "h2"],
            &["HGETALL", "h2"],
            &["EXISTS", "h"],
            &["COPY", "z", "z3"],
            &["ZRANGE", "z3", "0", "-1", "WITHSCORES"],
            &["ZADD", "z3", "2", "b"],
            &["ZCARD", "z"],
            &["EXPIRE", "s", "100"],
            &["TTL", "s"],
            &["DBSIZE"],
            &["MOVE", "z3", "1"],
            &["DEL", "h2", "s", "z"],
            &["DBSIZE"],
            &["SET", "h2", "x"],
            &["HGET", "h2", "a"],
        ]);
        d.cmd(&["HSET", "h", "a", "1"]);
        d.cmd(&["SADD", "s", "1"]);
        d.cmd(&["ZADD", "z", "1", "a"]);
        for t in ["hash", "set", "zset", "string"] {
            d.cmd_norm(&["SCAN", "0", "TYPE", t, "COUNT", "100"], sorted);
        }
        d.cmd(&["PEXPIRE", "z", "30"]);
        d.cmd(&["PEXPIRE", "h", "30"]);
        assert!(common::wait_for(std::time::Duration::from_secs(3), || {
            d.ferry.cmd(&["EXISTS", "z", "h"]) == b":0\r\n"
        }));
        assert!(common::wait_for(std::time::Duration::from_secs(3), || {
            d.redis.cmd(&["EXISTS", "z", "h"]) == b":0\r\n"
        }));
        d.cmd(&["HGET", "h", "a"]);
        d.cmd(&["ZSCORE", "z", "a"]);
    });
}

#[test]
fn memory_usage_grows_with_content() {
    let fm = common::Server::ferrymq(&[]);
    let mut c = fm.raw();
    let usage = |c: &mut RawConn, k: &str| -> i64 {
        let r = s(&c.cmd(&["MEMORY", "USAGE", k]));
        r.trim_start_matches(':').trim().parse().unwrap()
    };
    for (add, key) in [("HSET", "h"), ("SADD", "s"), ("ZADD", "z")] {
        let mk = |i: usize| -> Vec<String> {
            let m = format!("member-{i}-{}", "x".repeat(50));
            match add {
                "HSET" => vec![add.into(), key.into(), m, "value".into()],
                "SADD" => vec![add.into(), key.into(), m],
                _ => vec![add.into(), key.into(), i.to_string(), m],
            }
        };
        c.cmd(&mk(0));
        let small = usage(&mut c, key);
        for i in 1..500 {
            c.cmd(&mk(i));
        }
        let big = usage(&mut c, key);
        assert!(
            small > 0 && big > small + 500 * 50,
            "{key}: {small} -> {big}"
        );
    }
}

/// A write of each family by another client makes a WATCHing transaction fail, as in Redis.
#[test]
fn watch_sees_writes_of_every_family() {
    let Some(mut d) = Diff::new() else { return };
    let mut other_r = d.rs.raw();
    let mut other_f = d.fm.raw();
    let setup: &[&[&str]] = &[
        &["HSET", "h", "a", "1"],
        &["SADD", "s", "a"],
        &["SADD", "s2", "a"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["SET", "f", "1.5"],
    ];
    let writes: &[&[&str]] = &[
        &["HSET", "h", "a", "2"],
        &["HDEL", "h", "a"],
        &["HINCRBYFLOAT", "h", "n", "1.5"],
        &["SADD", "s", "b"],
        &["SPOP", "s"],
        &["SMOVE", "s", "s2", "a"],
        &["ZADD", "z", "5", "a"],
        &["ZINCRBY", "z", "1", "a"],
        &["ZPOPMIN", "z"],
        &["ZMPOP", "1", "z", "MAX"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["INCRBYFLOAT", "f", "1"],
        &["SETRANGE", "f", "0", "9"],
        &["GETDEL", "f"],
    ];
    for w in writes {
        d.cmd(&["FLUSHALL"]);
        d.script(setup);
        let key = w[1];
        d.cmd(&["WATCH", key]);
        assert_eq!(s(&other_r.cmd(w)), s(&other_f.cmd(w)), "{w:?}");
        d.cmd(&["MULTI"]);
        d.cmd(&["PING"]);
        d.cmd(&["EXEC"]);
    }
    // Store commands modify only their destination, blocking pops only the key they took from,
    // DEL only the keys it deleted, COPY only its destination.
    let untouched: &[(&str, &[&str])] = &[
        ("nokey", &["DEL", "nokey", "f"]),
        ("s", &["COPY", "s", "s3"]),
        ("h", &["MOVE", "f", "1"]),
        // SMOVE of a member the destination already has leaves the destination alone.
        ("s2", &["SMOVE", "s", "s2", "a"]),
        ("z", &["ZUNIONSTORE", "dst", "1", "z"]),
        ("z", &["ZRANGESTORE", "dst", "z", "0", "-1"]),
        ("s", &["SINTERSTORE", "dst", "s", "s"]),
        ("nokey", &["BZPOPMIN", "nokey", "z", "0"]),
        ("nokey", &["ZMPOP", "2", "nokey", "z", "MIN"]),
    ];
    for (key, w) in untouched {
        d.cmd(&["FLUSHALL"]);
        d.script(setup);
        d.cmd(&["WATCH", key]);
        assert_eq!(s(&other_r.cmd(w)), s(&other_f.cmd(w)), "{w:?}");
        d.cmd(&["MULTI"]);
        d.cmd(&["PING"]);
        d.cmd(&["EXEC"]);
    }
    // A write that changes nothing does not touch the key.
    d.cmd(&["FLUSHALL"]);
    d.script(setup);
    d.cmd(&["WATCH", "z"]);
    other_r.cmd(&["ZADD", "z", "NX", "7", "a"]);
    other_f.cmd(&["ZADD", "z", "NX", "7", "a"]);
    d.cmd(&["MULTI"]);
    d.cmd(&["PING"]);
    d.cmd(&["EXEC"]);
}

/// Full SSCAN and ZSCAN iterations of hash-table/skiplist encodings return every element
/// exactly once, with the right scores.
#[test]
fn sscan_and_zscan_iterate_everything() {
    let fm = common::Server::ferrymq(&[]);
    let mut c = fm.raw();
    for i in 0..700 {
        c.cmd(&["SADD", "s", &format!("m{i}")]);
        c.cmd(&["ZADD", "z", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(
        s(&c.cmd(&["OBJECT", "ENCODING", "s"])),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(
        s(&c.cmd(&["OBJECT", "ENCODING", "z"])),
        "$8\r\nskiplist\r\n"
    );
    for (cmd, key, per) in [("SSCAN", "s", 1), ("ZSCAN", "z", 2)] {
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        let mut calls = 0;
        loop {
            let r = c.cmd(&[cmd, key, &cursor, "COUNT", "33"]);
            let b = bulks(&r);
            cursor = s(&b[0]);
            for item in b[1..].chunks(per) {
                let m = s(&item[0]);
                if per == 2 {
                    assert_eq!(s(&item[1]), m.trim_start_matches('m'), "score of {m}");
                }
                seen.push(m);
            }
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert!(calls > 10, "{cmd} returned everything in {calls} calls");
        seen.sort();
        let mut want: Vec<String> = (0..700).map(|i| format!("m{i}")).collect();
        want.sort();
        assert_eq!(seen, want, "{cmd}");
    }
}

/// Numbers as Redis's `util.c` reads them, one rule per kind (crate::num): hexadecimal floats
/// and the `strtod` range bounds of ZRANGEBYSCORE (leading blanks, saturation, empty string).
#[test]
fn numbers_are_read_as_redis_reads_them() {
    both(|d| {
        d.script(&[
            &["ZADD", "z", "0x10", "m"],
            &["ZADD", "z", "0x1p-2", "p", "+5", "n", "0x1.8p1", "q"],
            &["ZADD", "z", "0x", "bad"],
            &["ZADD", "z", "1e-400", "bad"],
            &["ZADD", "z", " 5", "bad"],
            &["ZINCRBY", "z", "0x1", "m"],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["ZRANGEBYSCORE", "z", " 0", "100"],
            &["ZRANGEBYSCORE", "z", "0", "1e400"],
            &["ZRANGEBYSCORE", "z", "(0x1", "0x20"],
            &["ZRANGEBYSCORE", "z", "1e-400", "5"],
            &["ZRANGEBYSCORE", "z", "", "5"],
            &["ZRANGEBYSCORE", "z", " ", "5"],
            &["ZRANGEBYSCORE", "z", "nan", "5"],
            &["ZCOUNT", "z", "-inf", "+inf"],
            &["SET", "f", "0x10"],
            &["INCRBYFLOAT", "f", "0x1p-2"],
            &["INCRBYFLOAT", "g", "0x1.8p1"],
            &["INCRBYFLOAT", "g", "0x"],
            &["HINCRBYFLOAT", "h", "f", "0xAp0"],
            &["BZPOPMIN", "empty", "0x1p-6"],
            &["BLPOP", "empty", "0x1p-6"],
            &["BZPOPMIN", "empty", "1e400"],
            &["BZPOPMIN", "empty", "abc"],
        ]);
    });
}

/// OBJECT ENCODING (and OBJECT REFCOUNT) of strings as Redis tracks them: the content decides
/// after SET, GETSET, MSET, SETNX, SETEX, INCR/DECR, APPEND to a new key; a value modified in
/// place stays raw whatever it holds (APPEND to an existing key, SETRANGE, SETBIT, BITFIELD
/// writes, the HyperLogLog commands), as does a BITOP destination; INCRBYFLOAT's result is
/// never an integer; RENAME, COPY and MOVE keep the encoding; a rewrite by SET, GETSET, MSET,
/// SETEX or INCR goes back to the content's.
#[test]
fn string_encodings_follow_how_the_value_was_written() {
    let Some(mut d) = Diff::with_args(&["--enable-debug-command", "yes"]) else {
        return;
    };
    d.script(&[
        &["FLUSHALL"],
        &["SET", "k", "1"],
        &["APPEND", "k", "2"],
        &["OBJECT", "ENCODING", "k"],
        &["OBJECT", "REFCOUNT", "k"],
        &["GET", "k"],
        &["APPEND", "new", "12"],
        &["OBJECT", "ENCODING", "new"],
        &["APPEND", "new", ""],
        &["OBJECT", "ENCODING", "new"],
        &["SET", "e", "12"],
        &["APPEND", "e", ""],
        &["OBJECT", "ENCODING", "e"],
        &["SET", "k", "12"],
        &["SETRANGE", "k", "0", "3"],
        &["OBJECT", "ENCODING", "k"],
        &["SET", "k", "12"],
        &["SETRANGE", "k", "0", ""],
        &["OBJECT", "ENCODING", "k"],
        &["SETRANGE", "r", "0", "5"],
        &["OBJECT", "ENCODING", "r"],
        &["SETRANGE", "r2", "3", "ab"],
        &["OBJECT", "ENCODING", "r2"],
        &["SETRANGE", "none", "0", ""],
        &["EXISTS", "none"],
        &["SET", "b", "1"],
        &["SETBIT", "b", "1", "0"],
        &["OBJECT", "ENCODING", "b"],
        &["SETBIT", "nb", "7", "1"],
        &["OBJECT", "ENCODING", "nb"],
        &["SET", "bf", "100"],
        &["BITFIELD", "bf", "GET", "u8", "0"],
        &["OBJECT", "ENCODING", "bf"],
        &["BITFIELD", "bf", "SET", "u8", "0", "49"],
        &["OBJECT", "ENCODING", "bf"],
        &["BITFIELD", "nbf", "INCRBY", "u2", "0", "1"],
        &["OBJECT", "ENCODING", "nbf"],
        &["BITFIELD", "nbf2", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10"],
        &["EXISTS", "nbf2"],
        &["OBJECT", "ENCODING", "nbf2"],
        &["SET", "x", "1"],
        &["SET", "y", "2"],
        &["BITOP", "OR", "d", "x", "y"],
        &["OBJECT", "ENCODING", "d"],
        &["BITOP", "AND", "d2", "nosuch"],
        &["EXISTS", "d2"],
        &["SET", "f", "1.5"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["OBJECT", "ENCODING", "f"],
        &["INCRBYFLOAT", "nf", "3"],
        &["OBJECT", "ENCODING", "nf"],
        &["INCRBYFLOAT", "nf", "1e40"],
        &["OBJECT", "ENCODING", "nf"],
        &["SET", "i", "5"],
        &["APPEND", "i", "0"],
        &["OBJECT", "ENCODING", "i"],
        &["INCR", "i"],
        &["OBJECT", "ENCODING", "i"],
        &["OBJECT", "REFCOUNT", "i"],
        &["APPEND", "i", "1"],
        &["INCRBY", "i", "1"],
        &["OBJECT", "ENCODING", "i"],
        &["DECR", "i"],
        &["OBJECT", "ENCODING", "i"],
        &["SET", "s", "123"],
        &["APPEND", "s", "4"],
        &["SET", "s", "123"],
        &["OBJECT", "ENCODING", "s"],
        &["APPEND", "s", "4"],
        &["GETSET", "s", "9"],
        &["OBJECT", "ENCODING", "s"],
        &["APPEND", "s", "4"],
        &["MSET", "s", "7", "t", "8"],
        &["OBJECT", "ENCODING", "s"],
        &["APPEND", "s", "4"],
        &["SETNX", "s", "1"],
        &["OBJECT", "ENCODING", "s"],
        &["SETEX", "s", "100", "5"],
        &["OBJECT", "ENCODING", "s"],
        &["APPEND", "s", "4"],
        &["RENAME", "s", "s2"],
        &["OBJECT", "ENCODING", "s2"],
        &["COPY", "s2", "s3"],
        &["OBJECT", "ENCODING", "s3"],
        &["MOVE", "s3", "1"],
        &["SELECT", "1"],
        &["OBJECT", "ENCODING", "s3"],
        &["SELECT", "0"],
        &["DUMP", "s2"],
        &["PFADD", "h", "a", "b", "c"],
        &["OBJECT", "ENCODING", "h"],
        &["PFADD", "h"],
        &["OBJECT", "ENCODING", "h"],
        &["SET", "h2", "foo"],
        &["PFCOUNT", "h", "h2"],
        &["PFMERGE", "m", "h"],
        &["OBJECT", "ENCODING", "m"],
        &["GET", "h"],
        &["SET", "hcopy", "placeholder"],
        &["EXPIRE", "s2", "1000"],
        &["APPEND", "s2", "x"],
        &["OBJECT", "ENCODING", "s2"],
        &["TTL", "s2"],
        &["GETEX", "s2", "PERSIST"],
        &["OBJECT", "ENCODING", "s2"],
        &["GETDEL", "s2"],
        &["SET", "big", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        &["OBJECT", "ENCODING", "big"],
        &["SET", "short", "abc"],
        &["OBJECT", "ENCODING", "short"],
        &["SET", "k", "1"],
        &["APPEND", "k", "2"],
        &["SET", "k", "3", "KEEPTTL"],
        &["OBJECT", "ENCODING", "k"],
        &["SET", "k", "1"],
        &["APPEND", "k", "2"],
        &["SET", "k", "3", "GET"],
        &["OBJECT", "ENCODING", "k"],
        &["SET", "k", "1"],
        &["APPEND", "k", "2"],
        &["SET", "k", "4", "XX"],
        &["OBJECT", "ENCODING", "k"],
        &["SET", "k", "1"],
        &["APPEND", "k", "2"],
        &["SET", "k", "4", "NX"],
        &["OBJECT", "ENCODING", "k"],
        &["RPUSH", "l", "3", "1", "2"],
        &["SORT", "l", "STORE", "dst"],
        &["OBJECT", "ENCODING", "dst"],
        &["EVAL", "redis.call('set','lk','1'); redis.call('append','lk','2'); return redis.call('object','encoding','lk')", "0"],
        &["MULTI"],
        &["SET", "mk", "1"],
        &["SETRANGE", "mk", "0", "2"],
        &["OBJECT", "ENCODING", "mk"],
        &["EXEC"],
        &["SET", "k", "1"],
        &["APPEND", "k", "2"],
    ]);
    // DEBUG OBJECT names the encoding too (its address and idle time differ).
    let enc = |r: &[u8]| {
        let s = String::from_utf8_lossy(r).into_owned();
        s.split(' ')
            .find(|w| w.starts_with("encoding:"))
            .map(str::to_string)
    };
    let (r, f) = (
        d.redis.cmd(&["DEBUG", "OBJECT", "k"]),
        d.ferry.cmd(&["DEBUG", "OBJECT", "k"]),
    );
    assert_eq!(enc(&r), enc(&f));
    assert_eq!(enc(&f).as_deref(), Some("encoding:raw"));
    // A HyperLogLog written by SET is a short string (embstr) until a HyperLogLog command
    // reads it: PFCOUNT of that one key, or PFDEBUG, unshare it (raw).
    let hll = d.redis.cmd(&["GET", "h"]);
    let body = &hll[hll.iter().position(|&c| c == b'\n').unwrap() + 1..hll.len() - 2];
    for key in ["h3", "h4", "h5"] {
        d.cmd(&[b"SET".as_slice(), key.as_bytes(), body]);
        d.cmd(&["OBJECT", "ENCODING", key]);
    }
    d.script(&[
        &["PFCOUNT", "h3", "h4"],
        &["OBJECT", "ENCODING", "h3"],
        &["PFCOUNT", "h3"],
        &["OBJECT", "ENCODING", "h3"],
        &["PFDEBUG", "ENCODING", "h4"],
        &["OBJECT", "ENCODING", "h4"],
        &["PFADD", "h5"],
        &["OBJECT", "ENCODING", "h5"],
    ]);
}
