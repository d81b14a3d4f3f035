//! Differential tests of SORT and SORT_RO: the same commands against ferrymq and redis-server,
//! replies compared byte for byte; STORE's events, its wake-up of a blocked BLPOP and of a
//! WATCH; random sequences.
//!
//! One Redis quirk shapes the scripts: redis-server 7.0 never clears `errno` before reading a
//! weight with `strtod`, so after a weight out of double range (`1e400`, `1e-310`) every later
//! non-integer weight fails too. Such weights come last on their connection.

mod common;
use common::notify::Events;
use common::{Diff, RawConn, Server, info_field, wait_for};
use proptest::prelude::*;
use std::sync::Mutex;
use std::time::Duration;

#[test]
fn errors_match_redis_exactly() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["SORT"],
        &["SORT_RO"],
        &["RPUSH", "l", "3", "1", "2"],
        &["SORT", "l", "foo"],
        &["SORT", "l", "LIMIT"],
        &["SORT", "l", "LIMIT", "1"],
        &["SORT", "l", "LIMIT", "a", "1"],
        &["SORT", "l", "LIMIT", "1", "a"],
        &["SORT", "l", "LIMIT", "1", "1.5"],
        &["SORT", "l", "BY"],
        &["SORT", "l", "GET"],
        &["SORT", "l", "STORE"],
        &["SORT_RO", "l", "STORE", "d"],
        &["SORT_RO", "l", "STORE"],
        &["SORT", "l", "ASC", "foo", "DESC"],
        // Options are parsed before the key is looked up.
        &["SET", "s", "x"],
        &["SORT", "s", "foo"],
        &["SORT", "s"],
        &["SORT_RO", "s", "BY", "nosort"],
        &["HSET", "h", "f", "v"],
        &["SORT", "h"],
        &["XADD", "x", "1-1", "f", "v"],
        &["SORT", "x", "STORE", "d"],
        &["EXISTS", "d"],
        &["RPUSH", "bad", "1", "x", "2"],
        &["SORT", "bad"],
        &["SORT", "bad", "STORE", "d"],
        &["EXISTS", "d"],
        &["SORT", "bad", "LIMIT", "0", "1"],
        &["SORT", "bad", "ALPHA"],
        &["SORT", "bad", "BY", "nosort"],
        &["SORT", "bad", "BY", "nokey_*"],
        &["RPUSH", "w", "a"],
        &["SET", "w_a", "nan"],
        &["SORT", "w", "BY", "w_*"],
        &["SET", "w_a", "1 "],
        &["SORT", "w", "BY", "w_*"],
        &["SET", "w_a", "   "],
        &["SORT", "w", "BY", "w_*"],
        &["SET", "w_a", "12abc"],
        &["SORT", "w", "BY", "w_*"],
        // The last: a weight out of range leaves Redis's errno set.
        &["SET", "w_a", "1e400"],
        &["SORT", "w", "BY", "w_*"],
    ]);
}

#[test]
fn weights_read_as_strtod() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["RPUSH", "e", "a", "b", "c"]);
    d.cmd(&["SET", "w_b", "0"]);
    d.cmd(&["SET", "w_c", "1"]);
    for w in [
        "",
        " 1",
        "\t-2",
        "0x10",
        "-0x1p3",
        "inf",
        "-inf",
        "Infinity",
        "1e3",
        "1.5e-3",
        ".5",
        "5.",
        "+7",
        "-0",
        "1e308",
        "4.9e-324e",
    ] {
        d.cmd(&["SET", "w_a", w]);
        d.cmd(&["SORT", "e", "BY", "w_*"]);
        d.cmd(&["SORT", "e", "BY", "w_*", "DESC"]);
    }
    d.script(&[&["SET", "w_a", "1e-310"], &["SORT", "e", "BY", "w_*"]]);
}

#[test]
fn lists_numeric_and_alpha() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&[
        "RPUSH", "l", "3", "1", "2", "10", "-5", "1.5", "01", "1", "+1", "0", "-0", "1e1",
    ]);
    for extra in [
        &[][..],
        &["DESC"],
        &["ASC"],
        &["DESC", "ASC"],
        &["LIMIT", "1", "2"],
        &["LIMIT", "1", "-1"],
        &["LIMIT", "-5", "2"],
        &["LIMIT", "10", "5"],
        &["LIMIT", "12", "5"],
        &["LIMIT", "100", "5"],
        &["LIMIT", "0", "0"],
        &["LIMIT", "0", "100", "DESC"],
        &["LIMIT", "3", "4", "DESC"],
        &["LIMIT", "3", "4", "LIMIT", "0", "1"],
    ] {
        let mut a = vec!["SORT", "l"];
        a.extend(extra);
        d.cmd(&a);
        a.push("ALPHA");
        d.cmd(&a);
        a[0] = "SORT_RO";
        d.cmd(&a);
    }
    d.script(&[
        &[
            "RPUSH", "words", "banana", "Apple", "apple", "cherry", "Banana", "", "10", "9",
        ],
        &["SORT", "words", "ALPHA"],
        &["SORT", "words", "ALPHA", "DESC", "LIMIT", "2", "3"],
        &["SORT", "nokey"],
        &["SORT", "nokey", "ALPHA", "DESC", "LIMIT", "0", "1"],
        &["SORT", "nokey", "BY", "nosort", "GET", "#"],
    ]);
    // ALPHA compares up to a NUL when replying (strcoll), all bytes when storing (memcmp).
    d.cmd(&[b"RPUSH" as &[u8], b"nul", b"a\0b", b"a\0a", b"a", b"a\0c"]);
    d.script(&[
        &["SORT", "nul", "ALPHA"],
        &["SORT", "nul", "ALPHA", "DESC"],
        &["SORT", "nul", "ALPHA", "STORE", "dst"],
        &["LRANGE", "dst", "0", "-1"],
        &["SORT", "nul", "ALPHA", "DESC", "STORE", "dst"],
        &["LRANGE", "dst", "0", "-1"],
    ]);
}

#[test]
fn by_and_get_patterns() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["RPUSH", "l", "1", "x", "2", "y"],
        &["MSET", "w_1", "3", "w_x", "1", "w_2", "2", "w_y", "10"],
        &["MSET", "n_1", "one", "n_x", "ex", "n_2", "two"],
        &["HSET", "h_1", "f", "9", "g", "a"],
        &["HSET", "h_x", "f", "7", "g", "b"],
        &["HSET", "h_2", "f", "8"],
        &["SORT", "l", "BY", "w_*"],
        &["SORT", "l", "BY", "w_*", "DESC"],
        &["SORT", "l", "BY", "w_*", "ALPHA"],
        &["SORT", "l", "BY", "n_*", "ALPHA"],
        &["SORT", "l", "BY", "n_*", "ALPHA", "DESC"],
        &[
            "SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "n_*",
        ],
        &["SORT", "l", "BY", "w_*", "GET", "nostar", "GET", "#"],
        &["SORT", "l", "BY", "w_*", "GET", "nosuch_*"],
        &["SORT", "l", "BY", "w_*", "LIMIT", "1", "2", "GET", "n_*"],
        &["SORT", "l", "BY", "h_*->f"],
        &[
            "SORT", "l", "BY", "h_*->f", "DESC", "GET", "h_*->g", "GET", "h_*->f",
        ],
        &["SORT", "l", "BY", "h_*->g", "ALPHA"],
        &["SORT", "l", "BY", "h_*->g", "ALPHA", "DESC"],
        &["SORT", "l", "BY", "h_*->nofield"],
        &["SORT", "l", "GET", "h_*->"],
        &["SORT", "l", "GET", "h_*-"],
        &["SORT", "l", "GET", "*->g"],
        &["SORT", "l", "GET", "w_*->f"],
        &["SORT", "l", "GET", "h_*"],
        &["SORT", "l", "GET", "##"],
        &["SORT", "l", "GET", "#", "GET", "#"],
        &["SORT", "l", "BY", "*"],
        &["SORT", "l", "BY", "*", "ALPHA"],
        &["SORT", "l", "BY", "**"],
        &["SET", "1", "100"],
        &["SORT", "l", "BY", "*", "GET", "*"],
        // A constant BY pattern means "do not sort".
        &["SORT", "l", "BY", "nosort"],
        &["SORT", "l", "BY", "nosort", "DESC"],
        &["SORT", "l", "BY", "nosort", "LIMIT", "1", "2"],
        &["SORT", "l", "BY", "nosort", "LIMIT", "1", "2", "DESC"],
        &["SORT", "l", "BY", "nosort", "LIMIT", "3", "10", "DESC"],
        &["SORT", "l", "BY", "nosort", "LIMIT", "5", "10", "DESC"],
        &["SORT", "l", "BY", "nosort", "ALPHA", "DESC", "GET", "n_*"],
        &["SORT", "l", "BY", "w_*", "BY", "nosort"],
        &["SORT", "l", "BY", "nosort", "BY", "w_*"],
    ]);
    d.cmd(&[b"SORT" as &[u8], b"l", b"BY", b"x\0*"]);
    d.cmd(&[b"SORT" as &[u8], b"l", b"GET", b"n_*\0y"]);
    // RESP3: a missing GET is `_`.
    d.resp3();
    d.script(&[
        &["SORT", "l", "BY", "w_*", "GET", "n_*"],
        &["SORT_RO", "l", "GET", "h_*->g", "GET", "#"],
    ]);
}

/// Equal ALPHA weights: Redis's stable sort without LIMIT, its partial quicksort with one.
#[test]
fn ties_keep_redis_order() {
    let Some(mut d) = Diff::new() else { return };
    let els: Vec<String> = (0..120).map(|i| ((i * 37) % 120).to_string()).collect();
    let mut push = vec!["RPUSH".to_string(), "big".into()];
    push.extend(els.iter().cloned());
    d.cmd(&push);
    for (i, e) in els.iter().enumerate() {
        d.cmd(&["SET", &format!("w_{e}"), ["a", "b", "c"][i * 7 % 3]]);
        if i % 2 == 0 {
            d.cmd(&["HSET", &format!("h_{e}"), "f", &(i % 5).to_string()]);
        }
    }
    for (s, c) in [
        (0, 10),
        (5, 20),
        (50, 3),
        (100, 30),
        (0, 119),
        (1, 200),
        (60, 1),
        (0, 6),
    ] {
        let (s, c) = (s.to_string(), c.to_string());
        d.cmd(&["SORT", "big", "BY", "w_*", "ALPHA", "LIMIT", &s, &c]);
        d.cmd(&["SORT", "big", "BY", "w_*", "ALPHA", "DESC", "LIMIT", &s, &c]);
        d.cmd(&["SORT", "big", "BY", "h_*->f", "LIMIT", &s, &c]);
        d.cmd(&[
            "SORT", "big", "BY", "h_*->f", "ALPHA", "LIMIT", &s, &c, "GET", "#",
        ]);
        d.cmd(&["SORT", "big", "BY", "nokey_*", "ALPHA", "LIMIT", &s, &c]);
    }
    d.script(&[
        &["SORT", "big", "BY", "w_*", "ALPHA"],
        &["SORT", "big", "BY", "w_*", "ALPHA", "DESC"],
        &["SORT", "big", "BY", "w_*", "ALPHA", "STORE", "dst"],
        &["LRANGE", "dst", "0", "-1"],
        &[
            "SORT", "big", "BY", "w_*", "ALPHA", "LIMIT", "10", "20", "STORE", "dst",
        ],
        &["LRANGE", "dst", "0", "-1"],
    ]);
}

#[test]
fn sets_and_sorted_sets() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["SADD", "is", "5", "3", "9", "1", "-2"],
        &["SORT", "is"],
        &["SORT", "is", "DESC", "LIMIT", "1", "2"],
        &["SORT", "is", "ALPHA"],
        // An intset without sorting keeps its (ascending) order; DESC does not apply.
        &["SORT", "is", "BY", "nosort"],
        &["SORT", "is", "BY", "nosort", "DESC"],
        &["SORT", "is", "BY", "nosort", "LIMIT", "1", "2"],
        // Stored or in a script, a set is sorted (ALPHA) anyway.
        &["SORT", "is", "BY", "nosort", "STORE", "d"],
        &["LRANGE", "d", "0", "-1"],
        &["SORT", "is", "BY", "nosort", "DESC", "STORE", "d"],
        &["LRANGE", "d", "0", "-1"],
        &[
            "EVAL",
            "return redis.call('sort', KEYS[1], 'by', 'nosort')",
            "1",
            "is",
        ],
        &[
            "EVAL",
            "return redis.call('sort_ro', KEYS[1], 'by', 'nosort', 'desc', 'limit', 1, 3)",
            "1",
            "is",
        ],
        &["MULTI"],
        &["SORT", "is", "BY", "nosort"],
        &["EXEC"],
        &["SADD", "ts", "pear", "apple", "fig", "10", "2"],
        &["SORT", "ts", "ALPHA"],
        &["SORT", "ts", "ALPHA", "DESC", "LIMIT", "1", "3"],
        &["SORT", "ts"],
        &["SORT", "ts", "BY", "nosort", "STORE", "d"],
        &["LRANGE", "d", "0", "-1"],
        &[
            "EVAL",
            "return redis.call('sort', KEYS[1], 'by', 'nosort', 'get', '#')",
            "1",
            "ts",
        ],
        &["SADD", "ns", "1.5", "-3", "2e2", "0x10"],
        &["SORT", "ns"],
        &["SORT", "ns", "DESC"],
        &[
            "ZADD", "z", "1", "c", "2", "b", "3", "a", "3", "d", "0", "e",
        ],
        &["SORT", "z", "ALPHA"],
        &["SORT", "z", "ALPHA", "DESC", "LIMIT", "1", "2"],
        &["SORT", "z"],
        // Sorted sets without sorting keep their score order, DESC reverses it.
        &["SORT", "z", "BY", "nosort"],
        &["SORT", "z", "BY", "nosort", "DESC"],
        &["SORT", "z", "BY", "nosort", "LIMIT", "1", "2"],
        &["SORT", "z", "BY", "nosort", "LIMIT", "1", "2", "DESC"],
        &["SORT", "z", "BY", "nosort", "LIMIT", "1", "10", "DESC"],
        &["SORT", "z", "BY", "nosort", "LIMIT", "5", "10"],
        &["SORT", "z", "BY", "nosort", "LIMIT", "0", "0"],
        &["SORT", "z", "BY", "nosort", "LIMIT", "-3", "-1", "DESC"],
        &["SORT", "z", "BY", "nosort", "GET", "#", "GET", "nokey_*"],
        &["SORT", "z", "BY", "nosort", "DESC", "STORE", "d"],
        &["LRANGE", "d", "0", "-1"],
        &["ZADD", "zn", "5", "1", "4", "2", "3", "10"],
        &["SORT", "zn"],
        &["SORT", "zn", "DESC", "LIMIT", "0", "2"],
    ]);
}

#[test]
fn store_destination() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["RPUSH", "l", "3", "1", "2"],
        &["SORT", "l", "STORE", "d"],
        &["TYPE", "d"],
        &["LRANGE", "d", "0", "-1"],
        &["SORT", "l", "DESC", "STORE", "d"],
        &["LRANGE", "d", "0", "-1"],
        // The destination is replaced, whatever its type, and loses its TTL.
        &["SET", "s", "x", "EX", "100"],
        &["SORT", "l", "STORE", "s"],
        &["TYPE", "s"],
        &["TTL", "s"],
        &["HSET", "h", "f", "v"],
        &["SORT", "l", "LIMIT", "0", "1", "STORE", "h"],
        &["LRANGE", "h", "0", "-1"],
        // Missing GET values are stored as empty strings.
        &["SET", "n_1", "one"],
        &["SORT", "l", "GET", "n_*", "GET", "#", "STORE", "g"],
        &["LRANGE", "g", "0", "-1"],
        &["LLEN", "g"],
        // The source itself may be the destination.
        &["SORT", "l", "DESC", "STORE", "l"],
        &["LRANGE", "l", "0", "-1"],
        // An empty result deletes the destination.
        &["SORT", "l", "LIMIT", "0", "0", "STORE", "d"],
        &["EXISTS", "d"],
        &["SORT", "l", "LIMIT", "0", "0", "STORE", "d"],
        &["SORT", "nokey", "STORE", "s"],
        &["EXISTS", "s"],
        &["SORT", "l", "LIMIT", "0", "0", "GET", "#", "STORE", "g"],
        &["EXISTS", "g"],
        &["SORT", "l", "STORE", "d", "STORE", "e"],
        &["EXISTS", "d", "e"],
        &["SORT", "l", "BY", "nosort", "LIMIT", "1", "1", "STORE", "d"],
        &["LRANGE", "d", "0", "-1"],
        &["DBSIZE"],
    ]);
}

#[test]
fn events_and_change_counts() {
    let Some(mut t) = Events::new("KEAn") else {
        return;
    };
    t.script(&[
        &["RPUSH", "l", "3", "1", "2"],
        &["SORT", "l"],
        &["SORT_RO", "l"],
        &["SORT", "l", "STORE", "d"],
        &["SORT", "l", "STORE", "d"],
        &["SORT", "l", "GET", "#", "GET", "x_*", "STORE", "d"],
        &["SORT", "l", "LIMIT", "0", "0", "STORE", "d"],
        &["SORT", "l", "LIMIT", "0", "0", "STORE", "d"],
        &["SORT", "nokey", "STORE", "d"],
        &["SET", "s", "v", "EX", "100"],
        &["SORT", "l", "STORE", "s"],
        &["SORT", "l", "STORE", "l"],
        &["SADD", "set", "b", "a"],
        &["SORT", "set", "BY", "nosort", "STORE", "d"],
        &["RPUSH", "bad", "x"],
        &["SORT", "bad", "STORE", "d"],
    ]);
}

/// `blocked_clients` of INFO clients.
fn blocked(c: &mut RawConn) -> Option<String> {
    info_field(c, "blocked_clients")
}

/// SORT ... STORE into a list a client waits on serves that client, on both servers alike.
#[test]
fn store_serves_a_blocked_blpop() {
    let Some(rs) = Server::redis(&[]) else { return };
    let fm = Server::ferrymq(&[]);
    let mut replies = Vec::new();
    for srv in [&rs, &fm] {
        let mut c = srv.raw();
        let mut waiter = srv.raw();
        c.cmd(&["RPUSH", "src", "c", "a", "b"]);
        waiter.send(&["BLPOP", "dest", "0"]);
        assert!(
            wait_for(Duration::from_secs(5), || blocked(&mut c).as_deref()
                == Some("1")),
            "{}: BLPOP did not block",
            srv.name
        );
        let stored = c.cmd(&["SORT", "src", "ALPHA", "STORE", "dest"]);
        let served = waiter.read_reply();
        assert_eq!(
            served, b"*2\r\n$4\r\ndest\r\n$1\r\na\r\n",
            "{}: the waiter is served the first element",
            srv.name
        );
        let rest = c.cmd(&["LRANGE", "dest", "0", "-1"]);
        assert_eq!(blocked(&mut c).as_deref(), Some("0"));
        replies.push((stored, rest));
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[1].1, b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
}

/// STORE modifies the destination for WATCH; a plain SORT modifies nothing.
#[test]
fn store_touches_a_watched_destination() {
    let Some(mut d) = Diff::new() else { return };
    let (rs, fm) = (d.rs.raw(), d.fm.raw());
    let mut others = [rs, fm];
    d.script(&[
        &["RPUSH", "l", "2", "1"],
        &["WATCH", "dest", "l"],
        &["MULTI"],
    ]);
    for o in &mut others {
        o.cmd(&["SORT", "l"]);
        o.cmd(&["SORT_RO", "l", "BY", "nosort"]);
    }
    d.script(&[&["SET", "x", "1"], &["EXEC"]]);
    d.script(&[&["WATCH", "dest"], &["MULTI"]]);
    for o in &mut others {
        o.cmd(&["SORT", "l", "STORE", "dest"]);
    }
    d.script(&[&["SET", "x", "2"], &["EXEC"], &["GET", "x"]]);
    // Emptying it counts too.
    d.script(&[&["WATCH", "dest"], &["MULTI"]]);
    for o in &mut others {
        o.cmd(&["SORT", "l", "LIMIT", "0", "0", "STORE", "dest"]);
    }
    d.script(&[
        &["SET", "x", "3"],
        &["EXEC"],
        &["GET", "x"],
        &["EXISTS", "dest"],
    ]);
}

/// BY and GET patterns read arbitrary keys: Redis allows them only to users who may read
/// every key. The STORE destination is a key the user must be allowed to write, found as
/// Redis's `sortGetKeys` finds it (COMMAND GETKEYS shows the same positions).
#[test]
fn patterns_need_access_to_all_keys() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["COMMAND", "GETKEYS", "SORT", "l"],
        &["COMMAND", "GETKEYS", "SORT", "l", "STORE", "d"],
        &[
            "COMMAND", "GETKEYS", "SORT", "l", "STORE", "d", "STORE", "e",
        ],
        &[
            "COMMAND", "GETKEYS", "SORT", "l", "LIMIT", "0", "1", "STORE", "d",
        ],
        &[
            "COMMAND", "GETKEYS", "SORT", "l", "GET", "#", "STORE", "d", "BY", "x",
        ],
        &["COMMAND", "GETKEYS", "SORT", "l", "BY", "store", "d"],
        &[
            "COMMAND", "GETKEYS", "SORT", "l", "STORE", "limit", "1", "2",
        ],
        &["COMMAND", "GETKEYS", "SORT", "l", "STORE", "store", "x"],
        &["COMMAND", "GETKEYS", "SORT", "l", "foo", "STORE", "d"],
        &["COMMAND", "GETKEYS", "SORT", "l", "STORE"],
        &["COMMAND", "GETKEYS", "SORT_RO", "l", "STORE", "d"],
        &["RPUSH", "l", "2", "1"],
        &["ACL", "SETUSER", "rd", "on", ">pw", "+@all", "%R~*", "~l"],
        &["ACL", "SETUSER", "wr", "on", ">pw", "+@all", "%W~*", "~l"],
        &["AUTH", "rd", "pw"],
        &["SORT", "l", "STORE", "d"],
        &["SORT", "l", "BY", "w_*"],
        &["AUTH", "wr", "pw"],
        &["SORT", "l", "STORE", "d"],
        &["SORT", "l", "BY", "w_*", "STORE", "d"],
        &["AUTH", "default", ""],
        &["ACL", "SETUSER", "some", "on", ">pw", "+@all", "~l", "~d"],
        &[
            "ACL", "SETUSER", "reader", "on", ">pw", "+@all", "%R~*", "~d",
        ],
        &[
            "ACL", "SETUSER", "writer", "on", ">pw", "+@all", "%W~*", "~l",
        ],
        &["AUTH", "some", "pw"],
        &["SORT", "l"],
        &["SORT", "l", "BY", "nosort", "DESC"],
        &["SORT", "l", "BY", "w_*"],
        &["SORT", "l", "GET", "#"],
        &["SORT_RO", "l", "GET", "w_*"],
        &["SORT", "l", "STORE", "d"],
        &["SORT", "l", "STORE", "other"],
        &["SORT", "l", "STORE", "d", "STORE", "other"],
        &["SORT", "l", "STORE", "other", "STORE", "d"],
        &["SORT", "l", "BY", "w_*", "foo"],
        &["SORT", "l", "foo", "BY", "w_*"],
        &["AUTH", "reader", "pw"],
        &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*"],
        &["SORT", "l", "BY", "w_*", "STORE", "d"],
        &["AUTH", "writer", "pw"],
        &["SORT", "l", "BY", "w_*"],
        &["SORT", "l", "GET", "#"],
        &["AUTH", "default", ""],
    ]);
}

/// COMMAND's view of both families: arity, flags, key positions, ACL categories, and the
/// summary, version and group of COMMAND DOCS.
#[test]
fn command_entries_match_redis() {
    use redis::Value;
    let Some(r) = Server::redis(&[]) else { return };
    let f = Server::ferrymq(&[]);
    fn text(v: &Value) -> String {
        match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Array(a) | Value::Set(a) => {
                let parts: Vec<String> = a.iter().map(text).collect();
                format!("[{}]", parts.join(" "))
            }
            other => format!("{other:?}"),
        }
    }
    let names = [
        "setbit",
        "getbit",
        "bitcount",
        "bitpos",
        "bitop",
        "bitfield",
        "bitfield_ro",
        "sort",
        "sort_ro",
    ];
    let info = |s: &Server, name: &str| -> Vec<String> {
        let mut c = s.conn();
        let v: Value = redis::cmd("COMMAND")
            .arg("INFO")
            .arg(name)
            .query(&mut c)
            .unwrap();
        let Value::Array(entries) = v else {
            panic!("{v:?}")
        };
        let Value::Array(e) = &entries[0] else {
            panic!("{entries:?}")
        };
        let mut fields: Vec<String> = e[..7].iter().map(text).collect();
        let mut c = s.conn();
        let docs: Value = redis::cmd("COMMAND")
            .arg("DOCS")
            .arg(name)
            .query(&mut c)
            .unwrap();
        // RESP2: [name, [key, value, key, value, ...]].
        let Value::Array(outer) = &docs else {
            panic!("{docs:?}")
        };
        let Value::Array(doc) = &outer[1] else {
            panic!("{docs:?}")
        };
        for key in ["summary", "since", "group"] {
            let at = doc.iter().position(|v| text(v) == key).expect(key);
            fields.push(format!("{key}={}", text(&doc[at + 1])));
        }
        fields
    };
    for name in names {
        assert_eq!(info(&f, name), info(&r, name), "COMMAND INFO/DOCS {name}");
    }
}

#[derive(Debug, Clone)]
struct Case {
    elems: Vec<u8>,
    weights: Vec<Option<u8>>,
    set: bool,
    by: u8,
    limit: Option<(i8, i8)>,
    desc: bool,
    alpha: bool,
    gets: Vec<u8>,
    store: bool,
}

/// Weights that never take a double out of range (see the module documentation).
const WEIGHTS: &[&str] = &["1", "2", "-1", "0.5", "10", "x", "b", "", "a", "1e2", "-0"];
const ELEMS: &[&str] = &[
    "1", "2", "3", "10", "-1", "1.5", "a", "b", "B", "ab", "2", "1",
];

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(0u8..12, 0..14),
        proptest::collection::vec(proptest::option::of(0u8..11), 12),
        any::<bool>(),
        0u8..5,
        proptest::option::of((-2i8..8, -2i8..8)),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(0u8..4, 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(elems, weights, set, by, limit, desc, alpha, gets, store)| Case {
                elems,
                weights,
                set,
                by,
                limit,
                desc,
                alpha,
                gets,
                store,
            },
        )
}

static SERVERS: Mutex<Option<Diff>> = Mutex::new(None);

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    /// Random lists (or sets) and weights, sorted every way: the replies, and the stored list.
    #[test]
    fn random_sorts(c in case()) {
        let mut guard = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            match Diff::new() {
                Some(d) => *guard = Some(d),
                None => return Ok(()),
            }
        }
        let d = guard.as_mut().expect("servers");
        d.cmd(&["FLUSHALL"]);
        let elems: Vec<&str> = c.elems.iter().map(|&i| ELEMS[i as usize]).collect();
        // A set of more than one member in a hash table has an order of its own in Redis:
        // keep sets to integers (an intset, ordered) unless the result does not depend on it.
        let key = if c.set { "s" } else { "l" };
        if !elems.is_empty() {
            let mut a = vec![if c.set { "SADD" } else { "RPUSH" }, key];
            let ints: Vec<&str> = elems.iter().copied().filter(|e| e.parse::<i64>().is_ok()).collect();
            a.extend(if c.set { &ints } else { &elems });
            if a.len() > 2 {
                d.cmd(&a);
            }
        }
        for (i, w) in c.weights.iter().enumerate() {
            if let Some(w) = w {
                d.cmd(&["SET", &format!("w_{}", ELEMS[i]), WEIGHTS[*w as usize]]);
                d.cmd(&["HSET", &format!("h_{}", ELEMS[i]), "f", WEIGHTS[*w as usize]]);
            }
        }
        let mut a: Vec<String> = vec!["SORT".into(), key.into()];
        match c.by {
            1 => a.extend(["BY".into(), "w_*".into()]),
            2 => a.extend(["BY".into(), "h_*->f".into()]),
            3 => a.extend(["BY".into(), "nosort".into()]),
            _ => {}
        }
        if let Some((s, n)) = c.limit {
            a.extend(["LIMIT".into(), s.to_string(), n.to_string()]);
        }
        if c.desc {
            a.push("DESC".into());
        }
        if c.alpha {
            a.push("ALPHA".into());
        }
        for g in &c.gets {
            a.extend(["GET".into(), ["#", "w_*", "h_*->f", "nokey_*"][*g as usize].into()]);
        }
        if c.store {
            a.extend(["STORE".into(), "dst".into()]);
            d.cmd(&a);
            d.cmd(&["LRANGE", "dst", "0", "-1"]);
        } else {
            d.cmd(&a);
            a[0] = "SORT_RO".into();
            d.cmd(&a);
        }
    }
}
