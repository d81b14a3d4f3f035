//! Differential tests of the list family: the same commands against ferrymq and redis-server,
//! replies compared byte for byte, in RESP2 and RESP3, including blocked clients being served.

mod common;
use common::{Diff, RawConn, wait_for};
use proptest::prelude::*;
use std::time::Duration;

/// Every command of the family with good arguments, edge-case arguments and bad ones.
fn family_script(d: &mut Diff) {
    d.script(&[
        // Pushes and pops.
        &["LPUSH", "l", "a", "b", "c"],
        &["RPUSH", "l", "d", "e"],
        &["LPUSHX", "l", "x"],
        &["RPUSHX", "l", "y", "z"],
        &["LPUSHX", "nokey", "x"],
        &["RPUSHX", "nokey", "x"],
        &["EXISTS", "nokey"],
        &["LRANGE", "l", "0", "-1"],
        &["LLEN", "l"],
        &["LLEN", "nokey"],
        &["LPOP", "l"],
        &["RPOP", "l"],
        &["LPOP", "l", "2"],
        &["RPOP", "l", "0"],
        &["RPOP", "l", "1"],
        &["LPOP", "l", "9223372036854775807"],
        &["EXISTS", "l"],
        &["LPOP", "l"],
        &["LPOP", "l", "3"],
        &["RPOP", "l", "0"],
        &["LPOP", "l", "-1"],
        &["LPOP", "l", "abc"],
        &["LPOP", "l", "1", "2"],
        &["RPOP", "l", "9223372036854775808"],
        &["LPUSH", "l"],
        &["LPUSH"],
        &["LPOP"],
        // Wrong types.
        &["SET", "s", "str"],
        &["LPUSH", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "x"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "l"],
        &["LMPOP", "1", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "nokey", "s", "0"],
        &["BLMOVE", "s", "x", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "x", "0"],
        &["BLMPOP", "0", "2", "nokey", "s", "RIGHT"],
        &["TYPE", "s"],
    ]);
    // Index commands.
    d.script(&[
        &[
            "RPUSH", "n", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
        ],
        &["TYPE", "n"],
        &["OBJECT", "ENCODING", "n"],
        &["LRANGE", "n", "0", "0"],
        &["LRANGE", "n", "-3", "-1"],
        &["LRANGE", "n", "-100", "100"],
        &["LRANGE", "n", "5", "2"],
        &["LRANGE", "n", "10", "20"],
        &["LRANGE", "n", "-9223372036854775808", "9223372036854775807"],
        &["LRANGE", "n", "a", "1"],
        &["LRANGE", "n", "1", "b"],
        &["LRANGE", "nokey", "a", "1"],
        &["LRANGE", "nokey", "0", "-1"],
        &["LINDEX", "n", "0"],
        &["LINDEX", "n", "-1"],
        &["LINDEX", "n", "10"],
        &["LINDEX", "n", "-11"],
        &["LINDEX", "n", "x"],
        &["LINDEX", "nokey", "x"],
        &["LINDEX", "nokey", "0"],
        &["LSET", "n", "0", "zero"],
        &["LSET", "n", "-1", "nine"],
        &["LSET", "n", "10", "x"],
        &["LSET", "n", "-11", "x"],
        &["LSET", "n", "x", "x"],
        &["LSET", "nokey", "x", "x"],
        &["LSET", "nokey", "0", "x"],
        &["LINSERT", "n", "BEFORE", "zero", "first"],
        &["LINSERT", "n", "after", "nine", "last"],
        &["LINSERT", "n", "AFTER", "5", "5b"],
        &["LINSERT", "n", "BEFORE", "missing", "x"],
        &["LINSERT", "n", "MIDDLE", "5", "x"],
        &["LINSERT", "nokey", "BEFORE", "a", "b"],
        &["LINSERT", "nokey", "MIDDLE", "a", "b"],
        &["LRANGE", "n", "0", "-1"],
        &["RPUSH", "r", "a", "b", "a", "c", "a", "b", "a"],
        &["LREM", "r", "2", "a"],
        &["LRANGE", "r", "0", "-1"],
        &["LREM", "r", "-1", "a"],
        &["LRANGE", "r", "0", "-1"],
        &["LREM", "r", "0", "b"],
        &["LREM", "r", "0", "nothing"],
        &["LREM", "r", "x", "a"],
        &["LREM", "nokey", "x", "a"],
        &["LREM", "nokey", "1", "a"],
        &["LREM", "r", "-9223372036854775808", "a"],
        &["LRANGE", "r", "0", "-1"],
        &["LREM", "r", "0", "c"],
        &["EXISTS", "r"],
        &["LTRIM", "n", "1", "-2"],
        &["LRANGE", "n", "0", "-1"],
        &["LTRIM", "n", "-3", "100"],
        &["LRANGE", "n", "0", "-1"],
        &["LTRIM", "n", "0", "-1"],
        &["LTRIM", "n", "x", "1"],
        &["LTRIM", "nokey", "x", "1"],
        &["LTRIM", "nokey", "0", "1"],
        &["LTRIM", "n", "2", "1"],
        &["EXISTS", "n"],
    ]);
    // LPOS.
    d.script(&[
        &["RPUSH", "p", "a", "b", "c", "a", "b", "c", "a"],
        &["LPOS", "p", "a"],
        &["LPOS", "p", "b"],
        &["LPOS", "p", "z"],
        &["LPOS", "p", "a", "RANK", "2"],
        &["LPOS", "p", "a", "RANK", "-1"],
        &["LPOS", "p", "a", "RANK", "-2"],
        &["LPOS", "p", "a", "RANK", "4"],
        &["LPOS", "p", "a", "RANK", "-4"],
        &["LPOS", "p", "a", "COUNT", "0"],
        &["LPOS", "p", "a", "COUNT", "2"],
        &["LPOS", "p", "a", "COUNT", "0", "RANK", "-1"],
        &["LPOS", "p", "a", "COUNT", "2", "RANK", "2"],
        &["LPOS", "p", "z", "COUNT", "2"],
        &["LPOS", "p", "a", "MAXLEN", "1"],
        &["LPOS", "p", "a", "MAXLEN", "3", "COUNT", "0"],
        &["LPOS", "p", "a", "MAXLEN", "4", "COUNT", "0"],
        &["LPOS", "p", "a", "MAXLEN", "1", "RANK", "-1"],
        &["LPOS", "p", "a", "RANK", "0"],
        &["LPOS", "p", "a", "RANK", "x"],
        &["LPOS", "p", "a", "COUNT", "-1"],
        &["LPOS", "p", "a", "COUNT", "x"],
        &["LPOS", "p", "a", "MAXLEN", "-1"],
        &["LPOS", "p", "a", "MAXLEN", "x"],
        &["LPOS", "p", "a", "RANK"],
        &["LPOS", "p", "a", "FOO", "1"],
        &["LPOS", "p", "a", "rank", "-9223372036854775808"],
        &[
            "LPOS",
            "p",
            "a",
            "rank",
            "-9223372036854775808",
            "count",
            "2",
        ],
        &["LPOS", "p", "a", "rank", "9223372036854775807"],
        &[
            "LPOS",
            "p",
            "a",
            "rank",
            "9223372036854775807",
            "count",
            "0",
        ],
        &["LPOS", "nokey", "a"],
        &["LPOS", "nokey", "a", "COUNT", "1"],
        &["LPOS", "nokey", "a", "RANK", "0"],
    ]);
    // LMOVE, RPOPLPUSH, LMPOP.
    d.script(&[
        &["RPUSH", "src", "1", "2", "3"],
        &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
        &["LMOVE", "src", "dst", "right", "left"],
        &["LMOVE", "src", "dst", "LEFT", "LEFT"],
        &["LMOVE", "dst", "dst", "RIGHT", "LEFT"],
        &["LMOVE", "dst", "dst", "LEFT", "RIGHT"],
        &["LRANGE", "dst", "0", "-1"],
        &["EXISTS", "src"],
        &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
        &["LMOVE", "src", "dst", "UP", "RIGHT"],
        &["LMOVE", "src", "dst", "LEFT", "DOWN"],
        &["LMOVE", "dst", "s", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "dst", "s"],
        &["RPOPLPUSH", "dst", "other"],
        &["RPOPLPUSH", "nokey", "other"],
        &["RPUSH", "one", "x"],
        &["RPOPLPUSH", "one", "one"],
        &["LRANGE", "one", "0", "-1"],
        &["LMPOP", "2", "nokey", "dst", "LEFT"],
        &["LMPOP", "2", "nokey", "other", "RIGHT", "COUNT", "10"],
        &["LMPOP", "1", "nokey", "LEFT"],
        &["LMPOP", "0", "k", "LEFT"],
        &["LMPOP", "-1", "k", "LEFT"],
        &["LMPOP", "x", "k", "LEFT"],
        &["LMPOP", "2", "k", "LEFT"],
        &["LMPOP", "1", "k", "MIDDLE"],
        &["LMPOP", "1", "k", "LEFT", "COUNT"],
        &["LMPOP", "1", "k", "LEFT", "COUNT", "0"],
        &["LMPOP", "1", "k", "LEFT", "COUNT", "-1"],
        &["LMPOP", "1", "k", "LEFT", "COUNT", "x"],
        &["LMPOP", "1", "k", "LEFT", "COUNT", "1", "COUNT", "1"],
        &["LMPOP", "1", "k", "LEFT", "FOO"],
        &["LMPOP", "9223372036854775807", "k", "LEFT"],
        &["LMPOP", "1", "k"],
    ]);
    // Blocking commands that do not block: data present, argument errors, small timeouts.
    d.script(&[
        &["RPUSH", "q", "a", "b", "c", "d"],
        &["BLPOP", "nokey", "q", "0"],
        &["BRPOP", "q", "nokey", "1"],
        &["BLMOVE", "q", "q2", "LEFT", "RIGHT", "0"],
        &["BRPOPLPUSH", "q", "q2", "0"],
        &["BLMPOP", "0", "2", "nokey", "q2", "LEFT", "COUNT", "5"],
        &["BLPOP", "q", "-1"],
        &["BLPOP", "q", "abc"],
        &["BLPOP", "q", "inf"],
        &["BLPOP", "q", "nan"],
        &["BLPOP", "q", "1e"],
        &["BLPOP", "q", ""],
        &["BLPOP", "q", "9999999999999999"],
        &["BLMOVE", "q", "x", "LEFT", "RIGHT", "-1"],
        &["BLMOVE", "q", "x", "UP", "RIGHT", "-1"],
        &["BRPOPLPUSH", "q", "x", "x"],
        &["BLMPOP", "x", "1", "q", "LEFT"],
        &["BLMPOP", "-1", "1", "q", "LEFT"],
        &["BLMPOP", "0", "0", "q", "LEFT"],
        &["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "0"],
        &["BLMPOP", "x", "1", "q", "MIDDLE"],
        &["BLPOP", "nokey", "0.01"],
        &["BRPOP", "nokey", "other", "0.01"],
        &["BLMOVE", "nokey", "x", "LEFT", "LEFT", "0.01"],
        &["BRPOPLPUSH", "nokey", "x", "0.01"],
        &["BLMPOP", "0.01", "1", "nokey", "LEFT"],
        &["BLPOP", "nokey", "0x1p-20"],
        // Inside MULTI blocking commands act as their non-blocking forms.
        &["MULTI"],
        &["BLPOP", "nokey", "0"],
        &["BRPOP", "nokey", "0"],
        &["BLMOVE", "nokey", "x", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "nokey", "x", "0"],
        &["BLMPOP", "0", "1", "nokey", "LEFT"],
        &["RPUSH", "mq", "1", "2"],
        &["BLPOP", "mq", "0"],
        &["BLMOVE", "mq", "mq2", "LEFT", "LEFT", "0"],
        &["BLPOP", "mq", "0"],
        &["EXEC"],
        &["LRANGE", "mq2", "0", "-1"],
    ]);
    // Big and binary elements across many chunks.
    let big = "x".repeat(20_000);
    let mid = "m".repeat(300);
    d.cmd(&["RPUSH", "big", &big, "a\r\nb", "", &mid, "\u{0}\u{1}"]);
    for i in 0..300 {
        d.cmd(&["RPUSH", "big", &format!("{i}-{mid}")]);
    }
    d.cmd(&["LRANGE", "big", "0", "-1"]);
    d.cmd(&["LINSERT", "big", "BEFORE", &format!("150-{mid}"), &big]);
    d.cmd(&["LSET", "big", "3", &big]);
    d.cmd(&["LINDEX", "big", "151"]);
    d.cmd(&["LREM", "big", "0", &big]);
    d.cmd(&["LPOS", "big", "", "COUNT", "0"]);
    d.cmd(&["LTRIM", "big", "100", "-100"]);
    d.cmd(&["LRANGE", "big", "0", "-1"]);
    d.cmd(&["LPOP", "big", "50"]);
    d.cmd(&["RPOP", "big", "50"]);
    d.cmd(&["LLEN", "big"]);
}

#[test]
fn family_matches_redis_resp2() {
    let Some(mut d) = Diff::new() else { return };
    family_script(&mut d);
}

#[test]
fn family_matches_redis_resp3() {
    let Some(mut d) = Diff::new() else { return };
    d.resp3();
    family_script(&mut d);
}

/// A second connection to each server, for clients that block.
struct Pair {
    ferry: RawConn,
    redis: RawConn,
}

impl Pair {
    fn new(d: &Diff, resp3: bool) -> Pair {
        let mut p = Pair {
            ferry: d.fm.raw(),
            redis: d.rs.raw(),
        };
        if resp3 {
            p.ferry.cmd(&["HELLO", "3"]);
            p.redis.cmd(&["HELLO", "3"]);
        }
        p
    }

    fn send(&mut self, args: &[&str]) {
        self.ferry.send(args);
        self.redis.send(args);
    }

    /// The next reply on both, asserted equal.
    fn reply(&mut self, what: &str) -> Vec<u8> {
        let r = self.redis.read_reply();
        let f = self.ferry.read_reply();
        assert_eq!(
            String::from_utf8_lossy(&r),
            String::from_utf8_lossy(&f),
            "{what}"
        );
        r
    }

    /// Neither has a reply within `t`.
    fn no_reply(&mut self, t: Duration) {
        assert_eq!(self.redis.try_read_reply(t), None, "redis replied");
        assert_eq!(self.ferry.try_read_reply(t), None, "ferrymq replied");
    }
}

/// `blocked_clients` of INFO clients.
fn blocked_clients(conn: &mut RawConn) -> Option<usize> {
    let r = conn.cmd(&["INFO", "clients"]);
    String::from_utf8_lossy(&r)
        .lines()
        .find_map(|l| l.strip_prefix("blocked_clients:")?.trim().parse().ok())
}

/// Wait until both servers report `n` blocked clients.
fn wait_blocked(d: &mut Diff, n: usize) {
    for conn in [&mut d.ferry, &mut d.redis] {
        assert!(
            wait_for(Duration::from_secs(10), || blocked_clients(conn) == Some(n)),
            "blocked_clients never reached {n}"
        );
    }
}

fn served_clients(resp3: bool) {
    let Some(mut d) = Diff::new() else { return };
    if resp3 {
        d.resp3();
    }
    // Waiters are served in arrival order; a push of two elements serves two of three.
    let mut w: Vec<Pair> = (0..3).map(|_| Pair::new(&d, resp3)).collect();
    for (i, p) in w.iter_mut().enumerate() {
        p.send(&["BLPOP", "nokey", "q", "0"]);
        wait_blocked(&mut d, i + 1);
    }
    d.cmd(&["RPUSH", "q", "m1", "m2"]);
    w[0].reply("first waiter");
    w[1].reply("second waiter");
    w[2].no_reply(Duration::from_millis(100));
    d.cmd(&["EXISTS", "q"]);
    d.cmd(&["LPUSH", "q", "m3"]);
    w[2].reply("third waiter");
    wait_blocked(&mut d, 0);

    // Each blocking form, served.
    let forms: &[(&[&str], &[&str])] = &[
        (&["BRPOP", "a", "b", "0"], &["RPUSH", "b", "x", "y"]),
        (
            &["BLMOVE", "a", "dst", "RIGHT", "LEFT", "0"],
            &["RPUSH", "a", "x", "y"],
        ),
        (&["BRPOPLPUSH", "a", "dst", "0"], &["LPUSH", "a", "z"]),
        (
            &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "3"],
            &["RPUSH", "b", "1", "2"],
        ),
        (
            &["BLMPOP", "0", "1", "a", "LEFT"],
            &["RPUSH", "a", "1", "2"],
        ),
    ];
    for (block, push) in forms {
        d.cmd(&["DEL", "a", "b"]);
        w[0].send(block);
        wait_blocked(&mut d, 1);
        d.cmd(push);
        w[0].reply(&block.join(" "));
        d.cmd(&["LRANGE", "a", "0", "-1"]);
        d.cmd(&["LRANGE", "b", "0", "-1"]);
        d.cmd(&["LRANGE", "dst", "0", "-1"]);
    }

    // Two keys made ready by one transaction: the waiter is served from the key signalled
    // first, not from the first key it named.
    for block in [
        &["BLPOP", "a", "b", "0"][..],
        &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "5"][..],
    ] {
        d.cmd(&["DEL", "a", "b"]);
        w[0].send(block);
        wait_blocked(&mut d, 1);
        d.script(&[
            &["MULTI"],
            &["RPUSH", "b", "x"],
            &["RPUSH", "a", "y"],
            &["EXEC"],
        ]);
        w[0].reply("served from the first ready key");
        d.cmd(&["LRANGE", "a", "0", "-1"]);
        d.cmd(&["LRANGE", "b", "0", "-1"]);
    }
    // The first signalled key was emptied again before the waiter was served: it is served
    // from the other one.
    d.cmd(&["DEL", "a", "b"]);
    w[0].send(&["BLPOP", "a", "b", "0"]);
    wait_blocked(&mut d, 1);
    d.script(&[
        &["MULTI"],
        &["RPUSH", "b", "x"],
        &["RPUSH", "a", "y"],
        &["LPOP", "b"],
        &["EXEC"],
    ]);
    w[0].reply("served from the key still holding data");

    // A push of three elements: a BLMPOP COUNT 2 waiter takes two, the next waiter the third,
    // the last keeps waiting.
    d.cmd(&["DEL", "q3"]);
    w[0].send(&["BLMPOP", "0", "1", "q3", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut d, 1);
    w[1].send(&["BRPOP", "q3", "0"]);
    wait_blocked(&mut d, 2);
    w[2].send(&["BLPOP", "q3", "0"]);
    wait_blocked(&mut d, 3);
    d.cmd(&["LPUSH", "q3", "a", "b", "c"]);
    w[0].reply("count 2");
    w[1].reply("the third element");
    w[2].no_reply(Duration::from_millis(50));
    d.cmd(&["RPUSH", "q3", "d"]);
    w[2].reply("the next push");

    // A blocking timeout.
    w[0].send(&["BLPOP", "empty", "0.05"]);
    w[0].reply("timeout");
    w[0].send(&["BLMOVE", "empty", "x", "LEFT", "LEFT", "0.05"]);
    w[0].reply("blmove timeout");
    w[0].send(&["BLMPOP", "0.05", "1", "empty", "LEFT"]);
    w[0].reply("blmpop timeout");

    // A key that turns into a string, is deleted, then becomes a list again: the waiter keeps
    // waiting until it can be served.
    d.cmd(&["DEL", "k"]);
    w[0].send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut d, 1);
    d.cmd(&["SET", "k", "str"]);
    w[0].no_reply(Duration::from_millis(100));
    d.cmd(&["DEL", "k"]);
    d.cmd(&["RPUSH", "k", "v"]);
    w[0].reply("after type change");

    // BLMOVE whose destination holds a string gets WRONGTYPE; the element stays for the next
    // waiter.
    d.cmd(&["SET", "strdst", "s"]);
    w[0].send(&["BLMOVE", "src2", "strdst", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut d, 1);
    w[1].send(&["BLPOP", "src2", "0"]);
    wait_blocked(&mut d, 2);
    d.cmd(&["RPUSH", "src2", "v"]);
    w[0].reply("blmove wrongtype");
    w[1].reply("next waiter gets the element");
    d.cmd(&["EXISTS", "src2"]);

    // A chain: BLMOVE a->b, BLMOVE b->c, BLPOP c, all served by one push.
    d.cmd(&["DEL", "a", "b", "c"]);
    w[0].send(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut d, 1);
    w[1].send(&["BLMOVE", "b", "c", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut d, 2);
    w[2].send(&["BLPOP", "c", "0"]);
    wait_blocked(&mut d, 3);
    d.cmd(&["RPUSH", "a", "chained"]);
    w[0].reply("chain 1");
    w[1].reply("chain 2");
    w[2].reply("chain 3");
    d.cmd(&["EXISTS", "a", "b", "c"]);

    // CLIENT UNBLOCK with TIMEOUT and ERROR.
    for how in ["TIMEOUT", "ERROR"] {
        w[0].send(&["CLIENT", "ID"]);
        let p = &mut w[0];
        let ids: Vec<String> = [&mut p.ferry, &mut p.redis]
            .into_iter()
            .map(|c| {
                let r = String::from_utf8_lossy(&c.read_reply()).into_owned();
                r.trim().trim_start_matches(':').to_string()
            })
            .collect();
        w[0].send(&["BLPOP", "never", "0"]);
        wait_blocked(&mut d, 1);
        let rf = d.ferry.cmd(&["CLIENT", "UNBLOCK", &ids[0], how]);
        let rr = d.redis.cmd(&["CLIENT", "UNBLOCK", &ids[1], how]);
        assert_eq!(rf, rr);
        w[0].reply(how);
    }
}

#[test]
fn blocked_clients_served_like_redis_resp2() {
    served_clients(false);
}

#[test]
fn blocked_clients_served_like_redis_resp3() {
    served_clients(true);
}

/// WATCH sees only the key a blocking pop took from, not every key it named.
#[test]
fn watch_sees_only_the_popped_key() {
    let Some(mut d) = Diff::new() else { return };
    let mut other = Pair::new(&d, false);
    for (watched, pop) in [
        ("wa", &["BLPOP", "wa", "wb", "0"][..]),
        ("wa", &["BLMPOP", "0", "2", "wa", "wb", "LEFT"][..]),
        ("wa", &["LMPOP", "2", "wa", "wb", "RIGHT"][..]),
        ("wb", &["BRPOP", "wa", "wb", "0"][..]),
    ] {
        d.cmd(&["DEL", "wa", "wb"]);
        d.cmd(&["RPUSH", "wb", "x"]);
        d.cmd(&["WATCH", watched]);
        other.send(pop);
        other.reply("pop");
        d.cmd(&["MULTI"]);
        d.cmd(&["PING"]);
        d.cmd(&["EXEC"]);
    }
}

/// Keys that become lists through keyspace commands (RENAME, COPY, MOVE, SWAPDB) serve the
/// clients waiting on them, as redis-server 7.0 does.
#[test]
fn keyspace_commands_wake_waiters() {
    let Some(mut d) = Diff::new() else { return };
    let mut w = Pair::new(&d, false);
    let cases: &[(&[&str], &[&[&str]])] = &[
        (
            &["BLPOP", "t", "0"],
            &[&["RPUSH", "s", "1"], &["RENAME", "s", "t"]],
        ),
        (
            &["BLPOP", "t", "0"],
            &[&["RPUSH", "s", "2"], &["COPY", "s", "t"]],
        ),
        (
            &["BLPOP", "t", "0"],
            &[
                &["SELECT", "1"],
                &["RPUSH", "t", "3"],
                &["MOVE", "t", "0"],
                &["SELECT", "0"],
            ],
        ),
        (
            &["BRPOP", "t", "0"],
            &[
                &["SELECT", "1"],
                &["RPUSH", "t", "4"],
                &["SELECT", "0"],
                &["SWAPDB", "0", "1"],
            ],
        ),
    ];
    for (block, make) in cases {
        d.cmd(&["FLUSHALL"]);
        w.send(block);
        wait_blocked(&mut d, 1);
        d.script(make);
        w.reply(&format!("{make:?}"));
    }
    // FLUSHALL and DEL leave the waiter waiting.
    d.cmd(&["FLUSHALL"]);
    w.send(&["BLPOP", "t", "0"]);
    wait_blocked(&mut d, 1);
    d.cmd(&["FLUSHALL"]);
    d.cmd(&["DEL", "t"]);
    w.no_reply(Duration::from_millis(50));
    d.cmd(&["RPUSH", "t", "last"]);
    w.reply("after FLUSHALL");
}

#[derive(Debug, Clone)]
enum Op {
    Push(bool, u8, Vec<u8>),
    PushX(bool, u8, u8),
    Pop(bool, u8, Option<u8>),
    Range(u8, i8, i8),
    Index(u8, i8),
    Set(u8, i8, u8),
    Insert(u8, bool, u8, u8),
    Rem(u8, i8, u8),
    Trim(u8, i8, i8),
    Pos(u8, u8, i8, Option<u8>, u8),
    Move(u8, u8, bool, bool),
    Mpop(u8, u8, bool, u8),
    Len(u8),
    SetStr(u8),
    /// DEBUG RELOAD: the lists make a round trip through an RDB file.
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..3;
    let v = 0u8..4;
    prop_oneof![
        4 => (any::<bool>(), k.clone(), proptest::collection::vec(v.clone(), 1..6))
            .prop_map(|(l, k, vs)| Op::Push(l, k, vs)),
        1 => (any::<bool>(), k.clone(), v.clone()).prop_map(|(l, k, v)| Op::PushX(l, k, v)),
        2 => (any::<bool>(), k.clone(), proptest::option::of(0u8..5))
            .prop_map(|(l, k, c)| Op::Pop(l, k, c)),
        1 => (k.clone(), -8i8..8, -8i8..8).prop_map(|(k, a, b)| Op::Range(k, a, b)),
        1 => (k.clone(), -8i8..8).prop_map(|(k, i)| Op::Index(k, i)),
        1 => (k.clone(), -8i8..8, v.clone()).prop_map(|(k, i, v)| Op::Set(k, i, v)),
        1 => (k.clone(), any::<bool>(), v.clone(), v.clone())
            .prop_map(|(k, a, p, v)| Op::Insert(k, a, p, v)),
        1 => (k.clone(), -3i8..3, v.clone()).prop_map(|(k, c, v)| Op::Rem(k, c, v)),
        1 => (k.clone(), -8i8..8, -8i8..8).prop_map(|(k, a, b)| Op::Trim(k, a, b)),
        1 => (k.clone(), v.clone(), -3i8..3, proptest::option::of(0u8..3), 0u8..4)
            .prop_map(|(k, v, r, c, m)| Op::Pos(k, v, r, c, m)),
        2 => (k.clone(), k.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(a, b, f, t)| Op::Move(a, b, f, t)),
        1 => (k.clone(), k.clone(), any::<bool>(), 1u8..4)
            .prop_map(|(a, b, l, c)| Op::Mpop(a, b, l, c)),
        1 => k.clone().prop_map(Op::Len),
        1 => k.prop_map(Op::SetStr),
        1 => Just(Op::Reload),
    ]
}

fn key(k: u8) -> String {
    format!("list:{k}")
}

fn side(left: bool) -> &'static str {
    if left { "LEFT" } else { "RIGHT" }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn random_list_sequences(ops in proptest::collection::vec(op(), 1..80)) {
        let Some(mut d) = Diff::with_args(&["--enable-debug-command", "yes"]) else { return Ok(()) };
        for o in ops {
            match o {
                Op::Push(l, k, vs) => {
                    let mut args = vec![if l { "LPUSH" } else { "RPUSH" }.to_string(), key(k)];
                    args.extend(vs.iter().map(|v| v.to_string()));
                    d.cmd(&args);
                }
                Op::PushX(l, k, v) => {
                    d.cmd(&[if l { "LPUSHX" } else { "RPUSHX" }, &key(k), &v.to_string()]);
                }
                Op::Pop(l, k, c) => {
                    let cmd = if l { "LPOP" } else { "RPOP" };
                    match c {
                        Some(c) => d.cmd(&[cmd, &key(k), &c.to_string()]),
                        None => d.cmd(&[cmd, &key(k)]),
                    };
                }
                Op::Range(k, a, b) => {
                    d.cmd(&["LRANGE", &key(k), &a.to_string(), &b.to_string()]);
                }
                Op::Index(k, i) => { d.cmd(&["LINDEX", &key(k), &i.to_string()]); }
                Op::Set(k, i, v) => { d.cmd(&["LSET", &key(k), &i.to_string(), &v.to_string()]); }
                Op::Insert(k, a, p, v) => {
                    let w = if a { "AFTER" } else { "BEFORE" };
                    d.cmd(&["LINSERT", &key(k), w, &p.to_string(), &v.to_string()]);
                }
                Op::Rem(k, c, v) => { d.cmd(&["LREM", &key(k), &c.to_string(), &v.to_string()]); }
                Op::Trim(k, a, b) => {
                    d.cmd(&["LTRIM", &key(k), &a.to_string(), &b.to_string()]);
                }
                Op::Pos(k, v, r, c, m) => {
                    let mut args = vec!["LPOS".to_string(), key(k), v.to_string()];
                    if r != 0 {
                        args.extend(["RANK".to_string(), r.to_string()]);
                    }
                    if let Some(c) = c {
                        args.extend(["COUNT".to_string(), c.to_string()]);
                    }
                    args.extend(["MAXLEN".to_string(), m.to_string()]);
                    d.cmd(&args);
                }
                Op::Move(a, b, f, t) => {
                    d.cmd(&["LMOVE", &key(a), &key(b), side(f), side(t)]);
                }
                Op::Mpop(a, b, l, c) => {
                    d.cmd(&["LMPOP", "2", &key(a), &key(b), side(l), "COUNT", &c.to_string()]);
                }
                Op::Len(k) => { d.cmd(&["LLEN", &key(k)]); }
                Op::SetStr(k) => { d.cmd(&["SET", &key(k), "s"]); }
                Op::Reload => { d.cmd(&["DEBUG", "RELOAD"]); }
            }
        }
        for k in 0..3 {
            d.cmd(&["TYPE", &key(k)]);
        }
    }
}
