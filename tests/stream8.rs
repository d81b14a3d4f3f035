//! The stream commands of Redis 8.4-8.8: XREADGROUP CLAIM (8.4), XADD IDMP / IDMPAUTO and
//! XCFGSET (8.6), XNACK (8.8). Ported from Redis's `tests/unit/type/stream-cgroups.tcl` and
//! `tests/unit/type/stream.tcl`; each test names the Redis test (or tests) it comes from.
//!
//! Adaptations, all of the same kind: where a Redis test sleeps so that pending entries
//! become idle (`after 100` then `CLAIM 50`), these age the entries instead with
//! `XCLAIM ... IDLE ms JUSTID` (which keeps owner and delivery count), or use thresholds no
//! scheduling delay can reach; where it waits for something to happen, these poll for it.
//! Redis's DEBUG RELOAD / restart_server persistence checks become AOF restarts and rewrites.

mod common;
use std::time::Duration;

use common::{DirServer, RawConn, Server, wait_for};

// ---------------------------------------------------------------------------
// A small RESP reader, so tests can look inside nested replies.

#[derive(Clone, Debug, PartialEq)]
enum V {
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<V>),
    Err(String),
    Status(String),
}

impl V {
    fn arr(&self) -> &[V] {
        match self {
            V::Arr(v) => v,
            V::Nil => &[],
            other => panic!("not an array: {other:?}"),
        }
    }
    fn int(&self) -> i64 {
        match self {
            V::Int(i) => *i,
            other => panic!("not an integer: {other:?}"),
        }
    }
    fn s(&self) -> String {
        match self {
            V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            V::Status(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }
    fn err(&self) -> String {
        match self {
            V::Err(e) => e.clone(),
            other => panic!("not an error: {other:?}"),
        }
    }
    /// The value of `name` in a flat `[name, value, ...]` reply (XINFO).
    fn get(&self, name: &str) -> Option<V> {
        self.arr()
            .chunks(2)
            .find(|p| p[0] == V::Bulk(name.as_bytes().to_vec()))
            .map(|p| p[1].clone())
    }
    fn field(&self, name: &str) -> V {
        self.get(name)
            .unwrap_or_else(|| panic!("no field {name} in {self:?}"))
    }
}

fn parse_one(b: &[u8], p: &mut usize) -> V {
    let t = b[*p];
    let end = *p + b[*p..].windows(2).position(|w| w == b"\r\n").unwrap();
    let line = std::str::from_utf8(&b[*p + 1..end]).unwrap().to_string();
    *p = end + 2;
    match t {
        b'+' => V::Status(line),
        b'-' => V::Err(line),
        b':' => V::Int(line.parse().unwrap()),
        b'_' => V::Nil,
        b'$' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return V::Nil;
            }
            let v = b[*p..*p + n as usize].to_vec();
            *p += n as usize + 2;
            V::Bulk(v)
        }
        b'*' | b'%' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return V::Nil;
            }
            let n = if t == b'%' { n * 2 } else { n };
            V::Arr((0..n).map(|_| parse_one(b, p)).collect())
        }
        other => panic!("unexpected RESP type {}", other as char),
    }
}

fn parse(b: &[u8]) -> V {
    let mut p = 0;
    parse_one(b, &mut p)
}

fn q(c: &mut RawConn, args: &[&str]) -> V {
    parse(&c.cmd(args))
}

fn ok(c: &mut RawConn, args: &[&str]) {
    assert_eq!(q(c, args), V::Status("OK".into()), "{args:?}");
}

fn err(c: &mut RawConn, args: &[&str]) -> String {
    q(c, args).err()
}

/// The entries served for the first stream of an XREAD/XREADGROUP reply.
fn first_stream(v: &V) -> (String, Vec<V>) {
    let s = &v.arr()[0];
    (s.arr()[0].s(), s.arr()[1].arr().to_vec())
}

/// IDs of a list of entries.
fn ids(entries: &[V]) -> Vec<String> {
    entries.iter().map(|e| e.arr()[0].s()).collect()
}

/// XPENDING key group - + 100 [consumer] as (id, consumer, idle, count).
fn pel(
    c: &mut RawConn,
    key: &str,
    group: &str,
    consumer: Option<&str>,
) -> Vec<(String, String, i64, i64)> {
    let mut args = vec!["XPENDING", key, group, "-", "+", "100"];
    if let Some(cn) = consumer {
        args.push(cn);
    }
    q(c, &args)
        .arr()
        .iter()
        .map(|r| {
            let r = r.arr();
            (r[0].s(), r[1].s(), r[2].int(), r[3].int())
        })
        .collect()
}

fn pending_count(c: &mut RawConn, key: &str, group: &str) -> i64 {
    q(c, &["XPENDING", key, group]).arr()[0].int()
}

/// Make pending entries idle for `ms` without another delivery (XCLAIM IDLE ... JUSTID keeps
/// the owner and the delivery count).
fn age(c: &mut RawConn, key: &str, group: &str, owner: &str, ids: &[&str], ms: u64) {
    let ms = ms.to_string();
    let mut args = vec!["XCLAIM", key, group, owner, "0"];
    args.extend(ids);
    args.extend(["IDLE", &ms, "JUSTID"]);
    q(c, &args);
}

fn xlen(c: &mut RawConn, key: &str) -> i64 {
    q(c, &["XLEN", key]).int()
}

fn info(c: &mut RawConn, key: &str) -> V {
    q(c, &["XINFO", "STREAM", key])
}

const LLONG_MAX: i64 = i64::MAX;

fn three_entries(c: &mut RawConn) {
    q(c, &["DEL", "mystream"]);
    for (id, v) in [("1-0", "v1"), ("2-0", "v2"), ("3-0", "v3")] {
        q(c, &["XADD", "mystream", id, "f", v]);
    }
    ok(c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
}

// ---------------------------------------------------------------------------
// XREADGROUP CLAIM (stream-cgroups.tcl, Redis 8.4)

/// "XREADGROUP CLAIM field types are correct": the two extra fields are integers.
#[test]
fn claim_field_types_are_correct() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    age(&mut c, "mystream", "group1", "consumer1", &["1-0"], 1000);
    let raw = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer2",
        "CLAIM",
        "50",
        "STREAMS",
        "mystream",
        ">",
    ]);
    let t = String::from_utf8(raw).unwrap();
    let prefix =
        "*1\r\n*2\r\n$8\r\nmystream\r\n*1\r\n*4\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$2\r\nv1\r\n:";
    assert!(t.starts_with(prefix), "{t:?}");
    let tail: Vec<&str> = t[prefix.len() - 1..].split("\r\n").collect();
    assert!(
        tail[0].starts_with(':') && tail[1].starts_with(':'),
        "{t:?}"
    );
    assert_eq!(tail[1], ":1");
}

/// "XREADGROUP CLAIM returns unacknowledged messages" and "... verify ownership transfer and
/// delivery count updates".
#[test]
fn claim_returns_unacknowledged_and_transfers_ownership() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    three_entries(&mut c);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 3);
    assert_eq!(pending_count(&mut c, "mystream", "group1"), 3);
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer1",
        &["1-0", "2-0", "3-0"],
        100,
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let (name, msgs) = first_stream(&r);
    assert_eq!(name, "mystream");
    assert_eq!(ids(&msgs), ["1-0", "2-0", "3-0"]);
    for (m, v) in msgs.iter().zip(["v1", "v2", "v3"]) {
        let m = m.arr();
        assert_eq!(
            m[1],
            V::Arr(vec![V::Bulk(b"f".to_vec()), V::Bulk(v.as_bytes().to_vec())])
        );
        assert!(m[2].int() >= 50, "{m:?}");
        assert_eq!(m[3].int(), 1);
    }
    for (id, owner, _, count) in pel(&mut c, "mystream", "group1", None) {
        assert!(["1-0", "2-0", "3-0"].contains(&id.as_str()));
        assert_eq!((owner.as_str(), count), ("consumer2", 2));
    }
}

/// "XREADGROUP CLAIM respects min-idle-time threshold", "... without messages", "... without
/// pending messages", "... with large min-idle-time".
#[test]
fn claim_threshold_and_empty_cases() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    // Nothing idle for a day, nothing new: no stream served.
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "86400000",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);
    // A deleted entry never read: nothing at all.
    q(&mut c, &["DEL", "other"]);
    q(&mut c, &["XADD", "other", "1-0", "f", "v1"]);
    q(&mut c, &["XDEL", "other", "1-0"]);
    ok(&mut c, &["XGROUP", "CREATE", "other", "group1", "0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "CLAIM",
            "100",
            "STREAMS",
            "other",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);
    // No pending entries: new entries come with idle 0 and delivery count 0.
    q(&mut c, &["DEL", "fresh"]);
    q(&mut c, &["XADD", "fresh", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "fresh", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "fresh", "group1", "0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "CLAIM",
            "100",
            "STREAMS",
            "fresh",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0", "2-0"]);
    for m in &msgs {
        assert_eq!((m.arr()[2].int(), m.arr()[3].int()), (0, 0));
    }
    // The largest min-idle-time: only new entries.
    q(&mut c, &["XADD", "fresh", "3-0", "f", "v3"]);
    age(&mut c, "fresh", "group1", "consumer1", &["1-0", "2-0"], 100);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "CLAIM",
            "9223372036854775807",
            "STREAMS",
            "fresh",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["3-0"]);
    assert_eq!(msgs[0].arr()[3].int(), 0);
}

/// "XREADGROUP CLAIM with COUNT limit" and "XREADGROUP CLAIM message response format".
#[test]
fn claim_count_limit_and_mixed_reply() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    three_entries(&mut c);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer1",
        &["1-0", "2-0", "3-0"],
        100,
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "COUNT",
            "2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0", "2-0"]);
    assert!(
        msgs.iter()
            .all(|m| m.arr()[2].int() >= 50 && m.arr()[3].int() == 1)
    );

    // One pending entry, one new: the claimed one first, then the new one with 0 and 0.
    q(&mut c, &["DEL", "mystream"]);
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            "1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(
        first_stream(&r).1[0].arr().len(),
        2,
        "no extra fields without CLAIM"
    );
    age(&mut c, "mystream", "group1", "consumer1", &["1-0"], 100);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0", "2-0"]);
    assert!(msgs[0].arr()[2].int() >= 50);
    assert_eq!(msgs[0].arr()[3].int(), 1);
    assert_eq!((msgs[1].arr()[2].int(), msgs[1].arr()[3].int()), (0, 0));
}

/// "XREADGROUP CLAIM delivery count" and "XREADGROUP CLAIM idle time".
#[test]
fn claim_delivery_count_and_idle_time() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let claim = |c: &mut RawConn, who: &str| {
        let r = q(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "group1",
                who,
                "CLAIM",
                "0",
                "STREAMS",
                "mystream",
                ">",
            ],
        );
        first_stream(&r).1[0].arr().to_vec()
    };
    assert_eq!(claim(&mut c, "consumer2")[3].int(), 1);
    claim(&mut c, "consumer3");
    claim(&mut c, "consumer3");
    assert_eq!(claim(&mut c, "consumer3")[3].int(), 4);
    claim(&mut c, "consumer4");
    assert_eq!(claim(&mut c, "consumer5")[3].int(), 6);
    // The idle time reported is the time since the last delivery.
    for ms in [50u64, 60, 70, 10] {
        age(&mut c, "mystream", "group1", "consumer5", &["1-0"], ms + 20);
        let r = q(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "group1",
                "consumer5",
                "CLAIM",
                &ms.to_string(),
                "STREAMS",
                "mystream",
                ">",
            ],
        );
        assert!(first_stream(&r).1[0].arr()[2].int() >= ms as i64);
    }
}

/// "XREADGROUP CLAIM with NOACK" and "XREADGROUP CLAIM with NOACK and pending messages": NOACK
/// does not apply to the pending entries a CLAIM read takes.
#[test]
fn claim_with_noack() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "NOACK",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 2);
    assert_eq!(pending_count(&mut c, "mystream", "group1"), 0);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "NOACK",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);

    q(&mut c, &["DEL", "mystream"]);
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            "1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    age(&mut c, "mystream", "group1", "consumer1", &["1-0"], 100);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "NOACK",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 2);
    assert_eq!(pending_count(&mut c, "mystream", "group1"), 1);
    age(&mut c, "mystream", "group1", "consumer1", &["1-0"], 100);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "NOACK",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(ids(&first_stream(&r).1), ["1-0"]);
}

/// "XREADGROUP CLAIM with multiple streams" and "XREADGROUP CLAIM with min-idle-time equal to
/// zero".
#[test]
fn claim_multiple_streams_and_zero_idle() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let keys = ["mystream{t}1", "mystream{t}2", "mystream{t}3"];
    for (i, k) in keys.iter().enumerate() {
        q(&mut c, &["XADD", k, &format!("{}-0", 2 * i + 1), "f", "v1"]);
        q(&mut c, &["XADD", k, &format!("{}-0", 2 * i + 2), "f", "v2"]);
        ok(&mut c, &["XGROUP", "CREATE", k, "group1", "0"]);
    }
    let mut args = vec![
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer1",
        "COUNT",
        "1",
        "STREAMS",
    ];
    args.extend(keys);
    args.extend([">", ">", ">"]);
    q(&mut c, &args);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "CLAIM",
            "0",
            "STREAMS",
            keys[0],
            keys[1],
            keys[2],
            ">",
            ">",
            ">",
        ],
    );
    for (i, s) in r.arr().iter().enumerate() {
        assert_eq!(s.arr()[0].s(), keys[i]);
        let msgs = s.arr()[1].arr();
        assert_eq!(
            ids(msgs),
            [format!("{}-0", 2 * i + 1), format!("{}-0", 2 * i + 2)]
        );
        assert_eq!(msgs[0].arr()[3].int(), 1);
        assert_eq!(msgs[1].arr()[3].int(), 0);
    }
}

/// "XREADGROUP CLAIM with not integer for min-idle-time", "... with negative integer for
/// min-idle-time", "... with different position" and "XREAD with CLAIM option".
#[test]
fn claim_argument_errors_and_positions() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            "1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    for bad in [
        "test", "5.5", "5,5", "10e", "+10", "*10", "10/2", "10*2", "10€", "-0", "-5.5", "(-10)*2",
    ] {
        assert_eq!(
            err(
                &mut c,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "group1",
                    "consumer1",
                    "CLAIM",
                    bad,
                    "STREAMS",
                    "mystream",
                    ">",
                ]
            ),
            "ERR min-idle-time is not an integer",
            "{bad}"
        );
    }
    for neg in ["-10", "-42"] {
        assert_eq!(
            err(
                &mut c,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "group1",
                    "consumer1",
                    "CLAIM",
                    neg,
                    "STREAMS",
                    "mystream",
                    ">",
                ]
            ),
            "ERR min-idle-time must be a positive integer"
        );
    }
    // CLAIM after COUNT, before COUNT, twice, before GROUP: each claims 1-0 once more.
    let forms: [&[&str]; 4] = [
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            "1",
            "CLAIM",
            "50",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "CLAIM",
            "50",
            "COUNT",
            "1",
        ],
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "CLAIM",
            "50",
            "COUNT",
            "1",
            "CLAIM",
            "60",
        ],
        &[
            "XREADGROUP",
            "CLAIM",
            "50",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            "1",
        ],
    ];
    for (n, form) in forms.iter().enumerate() {
        age(&mut c, "mystream", "group1", "consumer1", &["1-0"], 100);
        let mut args = form.to_vec();
        args.extend(["STREAMS", "mystream", ">"]);
        let (_, msgs) = first_stream(&q(&mut c, &args));
        assert_eq!(ids(&msgs), ["1-0"]);
        assert_eq!(msgs[0].arr()[3].int(), n as i64 + 1);
    }
    let e = |c: &mut RawConn, tail: &[&str]| {
        let mut args = vec!["XREADGROUP", "GROUP", "group1", "consumer1"];
        args.extend(tail);
        err(c, &args)
    };
    assert_eq!(
        e(
            &mut c,
            &[
                "CLAIM", "10", "CLAIM", "COUNT", "1", "STREAMS", "mystream", ">"
            ]
        ),
        "ERR min-idle-time is not an integer"
    );
    assert!(
        e(
            &mut c,
            &["COUNT", "1", "STREAMS", "mystream", "CLAIM", "50", ">"]
        )
        .starts_with("NOGROUP No such key")
    );
    assert!(
        e(&mut c, &["COUNT", "1", "STREAMS", "mystream", "CLAIM", ">"])
            .starts_with("ERR Unbalanced")
    );
    assert!(
        e(
            &mut c,
            &["COUNT", "1", "STREAMS", "mystream", ">", "CLAIM", "50"]
        )
        .starts_with("ERR Invalid stream ID")
    );
    assert_eq!(
        e(&mut c, &["CLAIM", "STREAMS", "mystream", ">"]),
        "ERR min-idle-time is not an integer"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "group1",
                "CLAIM",
                "50",
                "consumer1",
                "STREAMS",
                "mystream",
                ">"
            ]
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "XREADGROUP",
                "CLAIM",
                "GROUP",
                "group1",
                "consumer1",
                "STREAMS",
                "mystream",
                ">"
            ]
        ),
        "ERR min-idle-time is not an integer"
    );
    assert_eq!(
        err(
            &mut c,
            &[
                "XREAD", "COUNT", "2", "CLAIM", "10", "STREAMS", "mystream", "0-0"
            ]
        ),
        "ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead."
    );
}

/// "XREADGROUP CLAIM with specific ID", "... on non-existing consumer group", "... on
/// non-existing consumer".
#[test]
fn claim_history_reads_and_missing_group_or_consumer() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    three_entries(&mut c);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer1",
        &["1-0", "2-0", "3-0"],
        2000,
    );
    // CLAIM is ignored for an ID other than `>`: plain two-element entries.
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "CLAIM",
            "1000",
            "STREAMS",
            "mystream",
            "0",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0].arr().len(), 2);
    assert!(
        err(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "not_existing_group",
                "consumer1",
                "CLAIM",
                "50",
                "STREAMS",
                "mystream",
                ">",
            ]
        )
        .starts_with("NOGROUP No such key")
    );
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer1",
        &["1-0", "2-0", "3-0"],
        100,
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 3);
    let consumers = q(&mut c, &["XINFO", "CONSUMERS", "mystream", "group1"]);
    assert_eq!(consumers.arr().len(), 2);
}

/// "XREADGROUP CLAIM verify XACK removes messages from CLAIM pool", "... verify that XCLAIM
/// updates delivery count", "... verify forced entries are claimable".
#[test]
fn claim_after_xack_xclaim_and_forced_entries() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    three_entries(&mut c);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(&mut c, &["XACK", "mystream", "group1", "1-0", "3-0"]);
    age(&mut c, "mystream", "group1", "consumer1", &["2-0"], 100);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(ids(&first_stream(&r).1), ["2-0"]);
    q(&mut c, &["XACK", "mystream", "group1", "2-0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);

    three_entries(&mut c);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut c,
        &[
            "XCLAIM",
            "mystream",
            "group1",
            "consumer3",
            "0",
            "2-0",
            "3-0",
        ],
    );
    age(&mut c, "mystream", "group1", "consumer1", &["1-0"], 300);
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer3",
        &["2-0", "3-0"],
        200,
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0", "2-0", "3-0"]);
    let counts: Vec<i64> = msgs.iter().map(|m| m.arr()[3].int()).collect();
    assert_eq!(counts, [1, 2, 2]);

    three_entries(&mut c);
    q(
        &mut c,
        &[
            "XCLAIM",
            "mystream",
            "group1",
            "consumer3",
            "0",
            "1-0",
            "2-0",
            "FORCE",
            "JUSTID",
        ],
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "COUNT",
            "2",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0", "2-0"]);
    assert!(msgs.iter().all(|m| m.arr()[3].int() == 1));
}

/// "XREADGROUP CLAIM verify claiming order": least recently delivered first.
#[test]
fn claim_order_is_oldest_delivery_first() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    for i in 1..=6 {
        q(
            &mut c,
            &["XADD", "mystream", &format!("{i}-0"), "f", &format!("v{i}")],
        );
    }
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            "10",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    // Delivery times in reverse of the ID order for the first four, to tell the orders apart.
    for (id, ago) in [
        ("1-0", 20000),
        ("2-0", 30000),
        ("3-0", 40000),
        ("4-0", 50000),
        ("5-0", 2000),
        ("6-0", 1000),
    ] {
        age(&mut c, "mystream", "group1", "consumer1", &[id], ago);
    }
    let claim = |c: &mut RawConn, min: &str| {
        let r = q(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "group1",
                "consumer2",
                "CLAIM",
                min,
                "COUNT",
                "10",
                "STREAMS",
                "mystream",
                ">",
            ],
        );
        ids(&first_stream(&r).1)
    };
    assert_eq!(claim(&mut c, "10000"), ["4-0", "3-0", "2-0", "1-0"]);
    assert_eq!(claim(&mut c, "1500"), ["5-0"]);
    assert_eq!(claim(&mut c, "500"), ["6-0"]);
}

/// "XREADGROUP CLAIM after consumer deleted with pending messages", "... after XGROUP SETID
/// moves past pending messages", "... after XGROUP SETID moves before pending messages",
/// "... when pending messages get trimmed".
#[test]
fn claim_after_group_changes() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut c,
        &["XGROUP", "DELCONSUMER", "mystream", "group1", "consumer1"],
    );
    assert!(pel(&mut c, "mystream", "group1", None).is_empty());
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);

    q(&mut c, &["DEL", "mystream"]);
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    ok(&mut c, &["XGROUP", "SETID", "mystream", "group1", "2-0"]);
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer1",
        &["1-0", "2-0"],
        100,
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 2);

    // SETID back to 0: the pending entries are claimed, then delivered again as new ones.
    q(&mut c, &["DEL", "mystream"]);
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    ok(&mut c, &["XGROUP", "SETID", "mystream", "group1", "0"]);
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer2",
        &["1-0", "2-0"],
        100,
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0", "2-0", "1-0", "2-0"]);
    let counts: Vec<i64> = msgs.iter().map(|m| m.arr()[3].int()).collect();
    assert_eq!(counts, [2, 2, 0, 0]);
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer2",
        &["1-0", "2-0"],
        100,
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "50",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0", "2-0"]);
    assert!(msgs.iter().all(|m| m.arr()[3].int() == 1));

    three_entries(&mut c);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(&mut c, &["XTRIM", "mystream", "MAXLEN", "0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);
}

/// "XREADGROUP CLAIM within MULTI/EXEC transaction", "XREADGROUP CLAIM usage stability with
/// repeated claims", "XREADGROUP CLAIM with large number of PEL messages".
#[test]
fn claim_in_multi_repeated_and_large_pel() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    ok(&mut c, &["MULTI"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(&mut c, &["XPENDING", "mystream", "group1"]);
    let r = q(&mut c, &["EXEC"]);
    assert_eq!(r.arr()[1].arr()[0].int(), 1);
    for i in 0..200 {
        let who = format!("consumer{}", i % 10 + 1);
        q(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "group1",
                &who,
                "CLAIM",
                "0",
                "STREAMS",
                "mystream",
                ">",
            ],
        );
    }
    assert_eq!(pending_count(&mut c, "mystream", "group1"), 1);

    q(&mut c, &["DEL", "big"]);
    ok(
        &mut c,
        &["XGROUP", "CREATE", "big", "group1", "0", "MKSTREAM"],
    );
    for i in 0..10000 {
        c.send(&["XADD", "big", "*", "field", &i.to_string()]);
    }
    for _ in 0..10000 {
        c.read_reply();
    }
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "big",
            ">",
        ],
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "COUNT",
            "1000",
            "STREAMS",
            "big",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 1000);
}

/// "XREADGROUP CLAIM with BLOCK zero", "... claims all pending immediately", "... with BLOCK
/// and NOACK", "... block with multiple streams, mixed claimable".
#[test]
fn claim_with_block_served_at_once() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    three_entries(&mut c);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "BLOCK",
            "1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);
    age(
        &mut c,
        "mystream",
        "group1",
        "consumer1",
        &["1-0", "2-0", "3-0"],
        100,
    );
    for block in ["10000", "0"] {
        let r = q(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "group1",
                "consumer1",
                "BLOCK",
                block,
                "CLAIM",
                "50",
                "STREAMS",
                "mystream",
                ">",
            ],
        );
        assert_eq!(first_stream(&r).1.len(), 3);
        age(
            &mut c,
            "mystream",
            "group1",
            "consumer1",
            &["1-0", "2-0", "3-0"],
            100,
        );
    }
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "BLOCK",
            "1000",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 3);
    age(&mut c, "mystream", "group1", "consumer2", &["1-0"], 100);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer3",
            "BLOCK",
            "1000",
            "CLAIM",
            "50",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(ids(&first_stream(&r).1), ["1-0"]);
    assert_eq!(pending_count(&mut c, "mystream", "group1"), 3);

    for k in ["stream{t}1", "stream{t}2"] {
        q(&mut c, &["DEL", k]);
    }
    q(&mut c, &["XADD", "stream{t}1", "1-0", "f", "v1"]);
    q(&mut c, &["XADD", "stream{t}2", "2-0", "f", "v2"]);
    ok(&mut c, &["XGROUP", "CREATE", "stream{t}1", "group1", "0"]);
    ok(&mut c, &["XGROUP", "CREATE", "stream{t}2", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            "1",
            "STREAMS",
            "stream{t}1",
            "stream{t}2",
            ">",
            ">",
        ],
    );
    age(&mut c, "stream{t}1", "group1", "consumer1", &["1-0"], 100);
    age(&mut c, "stream{t}2", "group1", "consumer1", &["2-0"], 100);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "BLOCK",
            "1000",
            "CLAIM",
            "50",
            "STREAMS",
            "stream{t}1",
            "stream{t}2",
            ">",
            ">",
        ],
    );
    assert_eq!(r.arr().len(), 2);
    assert_eq!(r.arr()[0].arr()[1].arr().len(), 1);
    assert_eq!(r.arr()[1].arr()[1].arr().len(), 1);
}

fn blocked_clients(c: &mut RawConn) -> i64 {
    common::info_field(c, "blocked_clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// "XREADGROUP CLAIM messages become claimable during block": a blocked CLAIM read wakes when
/// a pending entry reaches min-idle-time, with no other write; "XREADGROUP CLAIM block times
/// out with no claimable messages".
#[test]
fn claim_block_wakes_when_entry_becomes_idle() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let mut rd = srv.raw();
    rd.send(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer2",
        "BLOCK",
        "20000",
        "CLAIM",
        "300",
        "STREAMS",
        "mystream",
        ">",
    ]);
    let r = rd
        .try_read_reply(Duration::from_secs(10))
        .expect("the blocked CLAIM read was never served");
    let r = parse(&r);
    let (_, msgs) = first_stream(&r);
    assert_eq!(ids(&msgs), ["1-0"]);
    assert!(msgs[0].arr()[2].int() >= 300);

    // Nothing becomes claimable before the timeout: a null reply, after the timeout.
    let start = std::time::Instant::now();
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer3",
            "BLOCK",
            "100",
            "CLAIM",
            "50000",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);
    assert!(start.elapsed() >= Duration::from_millis(100));
}

/// "XREADGROUP CLAIM with two blocked clients": the first is served the new entry, the second
/// claims it once it has been idle long enough; "XREADGROUP CLAIM BLOCK wakes on new message
/// before min-idle-time reached".
#[test]
fn claim_two_blocked_clients_and_new_entry_wakes() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    q(&mut c, &["XDEL", "mystream", "1-0"]);
    ok(
        &mut c,
        &["XGROUP", "CREATE", "mystream", "group1", "0", "MKSTREAM"],
    );
    let mut rd1 = srv.raw();
    let mut rd2 = srv.raw();
    rd1.send(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer1",
        "BLOCK",
        "0",
        "CLAIM",
        "100",
        "STREAMS",
        "mystream",
        ">",
    ]);
    assert!(wait_for(Duration::from_secs(10), || blocked_clients(
        &mut c
    ) == 1));
    rd2.send(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer2",
        "BLOCK",
        "0",
        "CLAIM",
        "100",
        "STREAMS",
        "mystream",
        ">",
    ]);
    assert!(wait_for(Duration::from_secs(10), || blocked_clients(
        &mut c
    ) == 2));
    q(&mut c, &["XADD", "mystream", "2-0", "f", "v2"]);
    let r1 = parse(&rd1.try_read_reply(Duration::from_secs(10)).expect("rd1"));
    assert_eq!(r1.arr().len(), 1);
    let r2 = parse(&rd2.try_read_reply(Duration::from_secs(10)).expect("rd2"));
    assert_eq!(r2.arr().len(), 1);
    assert_eq!(ids(&first_stream(&r2).1), ["2-0"]);
    assert_eq!(first_stream(&r2).1[0].arr()[3].int(), 1);

    // A new entry wakes a CLAIM reader at once, long before its threshold.
    q(&mut c, &["XACK", "mystream", "group1", "2-0"]);
    let mut rd = srv.raw();
    rd.send(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer2",
        "BLOCK",
        "0",
        "CLAIM",
        "3600000",
        "STREAMS",
        "mystream",
        ">",
    ]);
    assert!(wait_for(Duration::from_secs(10), || blocked_clients(
        &mut c
    ) == 1));
    q(&mut c, &["XADD", "mystream", "3-0", "f", "v3"]);
    let r = parse(
        &rd.try_read_reply(Duration::from_secs(10))
            .expect("woken by XADD"),
    );
    assert_eq!(ids(&first_stream(&r).1), ["3-0"]);
}

/// "XREADGROUP CLAIM state persists across RDB save/load" and "XREADGROUP CLAIM multiple
/// groups persist correctly", through the AOF: the claims replay as XCLAIMs, so a restart
/// ends with the same pending entries, owners and delivery counts.
#[test]
fn claim_state_survives_aof_restart_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    three_entries(&mut c);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group2", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group2",
            "consumer1",
            "COUNT",
            "2",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group2",
            "consumer3",
            "CLAIM",
            "0",
            "COUNT",
            "1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let strip = |v: Vec<(String, String, i64, i64)>| -> Vec<(String, String, i64)> {
        v.into_iter().map(|(i, o, _, n)| (i, o, n)).collect()
    };
    let before1 = strip(pel(&mut c, "mystream", "group1", None));
    let before2 = strip(pel(&mut c, "mystream", "group2", None));
    assert_eq!(before1.iter().map(|r| r.2).collect::<Vec<_>>(), [2, 2, 2]);
    assert!(before1.iter().all(|r| r.1 == "consumer2"));
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(strip(pel(&mut c, "mystream", "group1", None)), before1);
    assert_eq!(strip(pel(&mut c, "mystream", "group2", None)), before2);
    // And after a rewrite of the AOF.
    ok(&mut c, &["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
    q(&mut c, &["BGREWRITEAOF"]);
    assert!(wait_for(Duration::from_secs(20), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
    }));
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(strip(pel(&mut c, "mystream", "group1", None)), before1);
    assert_eq!(strip(pel(&mut c, "mystream", "group2", None)), before2);
}

/// "XREADGROUP CLAIM delivery count increments replicated correctly": the claims reach a
/// replica (here a redis-server 7.0 one) as XCLAIMs it understands.
#[test]
fn claim_replicates_as_xclaim() {
    let Some(probe) = Server::redis(&[]) else {
        return;
    };
    drop(probe);
    let fm = Server::ferrymq(&[]);
    let mut m = fm.raw();
    q(&mut m, &["XADD", "mystream", "1-0", "f", "v1"]);
    ok(&mut m, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    let port = fm.port.to_string();
    let replica = Server::redis(&["--replicaof", "127.0.0.1", &port]).expect("redis-server");
    let mut r = replica.raw();
    assert!(
        wait_for(Duration::from_secs(20), || r.cmd(&["XLEN", "mystream"])
            == b":1\r\n"),
        "the replica never synchronised"
    );
    q(
        &mut m,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    for (n, who) in [(2, "consumer2"), (3, "consumer3")] {
        q(
            &mut m,
            &[
                "XREADGROUP",
                "GROUP",
                "group1",
                who,
                "CLAIM",
                "0",
                "STREAMS",
                "mystream",
                ">",
            ],
        );
        assert!(
            wait_for(Duration::from_secs(10), || {
                let p = pel(&mut r, "mystream", "group1", None);
                p.len() == 1 && p[0].1 == who && p[0].3 == n
            }),
            "the replica did not follow the claim by {who}"
        );
    }
}

/// XNACK replicates as claims by a reserved consumer: a redis-server 7.0 replica (which has no
/// XNACK) takes the entries away from their consumer with the new delivery counts, and a
/// ferrymq replica releases them again, in the same order, so its pending list equals the
/// master's.
#[test]
fn xnack_replicates_to_redis_and_ferrymq_replicas() {
    let fm = Server::ferrymq(&[]);
    let mut m = fm.raw();
    for i in 1..=3 {
        q(&mut m, &["XADD", "mystream", &format!("{i}-0"), "f", "v"]);
    }
    ok(&mut m, &["XGROUP", "CREATE", "mystream", "grp", "0"]);
    let port = fm.port.to_string();
    let ferry_replica = Server::ferrymq(&["--replicaof", "127.0.0.1", &port]);
    let redis_replica = Server::redis(&["--replicaof", "127.0.0.1", &port]);
    let mut fr = ferry_replica.raw();
    let mut rr = redis_replica.as_ref().map(|r| r.raw());
    for c in std::iter::once(&mut fr).chain(rr.as_mut()) {
        assert!(
            wait_for(Duration::from_secs(20), || xlen(c, "mystream") == 3),
            "a replica never synchronised"
        );
    }
    q(
        &mut m,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut m,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "2", "2-0", "1-0"],
    );
    q(
        &mut m,
        &[
            "XNACK",
            "mystream",
            "grp",
            "FATAL",
            "IDS",
            "1",
            "3-0",
            "RETRYCOUNT",
            "7",
        ],
    );
    // Released entries have no owner and idle -1.
    let want = vec![
        row("1-0", "", -1, 1),
        row("2-0", "", -1, 1),
        row("3-0", "", -1, 7),
    ];
    assert_eq!(pel(&mut m, "mystream", "grp", None), want);
    assert!(
        wait_for(Duration::from_secs(20), || pel(
            &mut fr, "mystream", "grp", None
        ) == want),
        "the ferrymq replica did not follow: {:?}",
        pel(&mut fr, "mystream", "grp", None)
    );
    if let Some(rr) = rr.as_mut() {
        let owners_and_counts = |c: &mut RawConn| -> Vec<(String, i64)> {
            pel(c, "mystream", "grp", None)
                .into_iter()
                .map(|(_, owner, _, n)| (owner, n))
                .collect()
        };
        let nacked = "\u{0}fmq-nacked".to_string();
        let want = vec![(nacked.clone(), 1), (nacked.clone(), 1), (nacked, 7)];
        assert!(
            wait_for(Duration::from_secs(20), || owners_and_counts(rr) == want),
            "the redis-server replica did not follow: {:?}",
            owners_and_counts(rr)
        );
    }
    // The release order came through: promoted, the replica hands out 2-0 first, as the
    // master does.
    ok(&mut fr, &["REPLICAOF", "NO", "ONE"]);
    let claim = [
        "XREADGROUP",
        "GROUP",
        "grp",
        "c2",
        "COUNT",
        "1",
        "CLAIM",
        "0",
        "STREAMS",
        "mystream",
        ">",
    ];
    let first = q(&mut m, &claim);
    assert_eq!(q(&mut fr, &claim), first);
    let id = format!("{:?}", b"2-0".to_vec());
    assert!(format!("{first:?}").contains(&id), "{first:?}");
}

// ---------------------------------------------------------------------------
// XADD IDMP / IDMPAUTO and XCFGSET (stream.tcl, Redis 8.6)

/// "XADD IDMP with invalid syntax" and "XADD IDMPAUTO with invalid syntax".
#[test]
fn idmp_invalid_syntax() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let cases: [(&[&str], &str); 11] = [
        (
            &["IDMP", "p1", "*", "f", "v"],
            "ERR Invalid stream ID specified as stream command argument",
        ),
        (
            &["IDMP", "p1", "iid1", "1-1", "f", "v"],
            "ERR IDMP/IDMPAUTO can be used only with auto-generated IDs",
        ),
        (
            &["IDMP", "p1", "iid1", "IDMP", "p2", "iid2", "*", "f", "v"],
            "ERR IDMP/IDMPAUTO specified multiple times",
        ),
        (
            &["IDMPAUTO", "p1", "IDMP", "p2", "iid2", "*", "f", "v"],
            "ERR IDMP/IDMPAUTO specified multiple times",
        ),
        (
            &["IDMP", "", "iid1", "*", "f", "v"],
            "ERR IDMP requires a non-empty producer ID",
        ),
        (
            &["IDMP", "p1", "", "*", "f", "v"],
            "ERR IDMP requires a non-empty idempotent ID",
        ),
        (
            &["IDMPAUTO", "", "*", "f", "v"],
            "ERR IDMPAUTO requires a non-empty producer ID",
        ),
        (
            &["IDMPAUTO", "p1", "IDMPAUTO", "p2", "*", "f", "v"],
            "ERR IDMP/IDMPAUTO specified multiple times",
        ),
        (
            &["IDMPAUTO", "p1", "IDMP", "p2", "iid1", "*", "f", "v"],
            "ERR IDMP/IDMPAUTO specified multiple times",
        ),
        (
            &["IDMP", "p1", "iid1", "IDMPAUTO", "p2", "*", "f", "v"],
            "ERR IDMP/IDMPAUTO specified multiple times",
        ),
        (
            &["IDMPAUTO", "p1", "1-1", "f", "v"],
            "ERR IDMP/IDMPAUTO can be used only with auto-generated IDs",
        ),
    ];
    for (tail, want) in cases {
        let mut args = vec!["XADD", "mystream"];
        args.extend(tail);
        assert_eq!(err(&mut c, &args), want, "{tail:?}");
    }
    assert_eq!(q(&mut c, &["EXISTS", "mystream"]), V::Int(0));
}

/// "XADD IDMP basic addition", "XADD IDMP duplicate request returns same ID", "XADD IDMP
/// multiple different IIDs create multiple entries", "XADD IDMP with binary-safe iid", "XADD
/// IDMP with maximum length iid".
#[test]
fn idmp_basic_dedup() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let long = "x".repeat(65536);
    let iids = [
        "1",
        "A",
        "-",
        "+",
        "*",
        "^",
        "$",
        "#",
        "IDMP",
        "123-456",
        "hello世界",
        "with spaces",
        &long,
    ];
    for iid in iids {
        let id = q(
            &mut c,
            &["XADD", "mystream", "IDMP", "p1", iid, "*", "f", "v"],
        )
        .s();
        assert!(id.contains('-'));
    }
    assert_eq!(xlen(&mut c, "mystream"), iids.len() as i64);

    q(&mut c, &["DEL", "mystream"]);
    let id1 = q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "p1",
            "payment-abc",
            "*",
            "amount",
            "100",
            "currency",
            "USD",
        ],
    );
    let id2 = q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "p1",
            "payment-abc",
            "*",
            "amount",
            "200",
            "currency",
            "EUR",
        ],
    );
    assert_eq!(id1, id2);
    assert_eq!(xlen(&mut c, "mystream"), 1);
    let e = q(&mut c, &["XRANGE", "mystream", "-", "+"]);
    assert_eq!(e.arr()[0].arr()[1].arr()[1].s(), "100");

    let a = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "user", "alice",
        ],
    );
    let b = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-2", "*", "user", "bob",
        ],
    );
    assert_ne!(a, b);
    assert_eq!(xlen(&mut c, "mystream"), 3);

    let bin = "\u{0}\u{1}\u{2}\u{ff}";
    let x = q(
        &mut c,
        &["XADD", "mystream", "IDMP", "p1", bin, "*", "field", "value"],
    );
    let y = q(
        &mut c,
        &["XADD", "mystream", "IDMP", "p1", bin, "*", "field", "dup"],
    );
    assert_eq!(x, y);
}

/// "XADD IDMP with MAXLEN option", "... with MINID option", "... with NOMKSTREAM option",
/// "... with KEEPREF option", "... with combined options", "... argument order variations".
#[test]
fn idmp_with_other_options() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let a = q(
        &mut c,
        &[
            "XADD", "s1", "IDMP", "p1", "req-1", "MAXLEN", "~", "100", "*", "field", "value1",
        ],
    );
    q(
        &mut c,
        &[
            "XADD", "s1", "IDMP", "p1", "req-2", "MAXLEN", "~", "100", "*", "field", "value2",
        ],
    );
    let d = q(
        &mut c,
        &[
            "XADD", "s1", "IDMP", "p1", "req-1", "MAXLEN", "~", "100", "*", "field", "value3",
        ],
    );
    assert_eq!(a, d);
    assert_eq!(xlen(&mut c, "s1"), 2);

    let a = q(
        &mut c,
        &[
            "XADD",
            "s2",
            "IDMP",
            "p1",
            "req-1",
            "MINID",
            "~",
            "1000000000-0",
            "*",
            "f",
            "v",
        ],
    );
    let d = q(
        &mut c,
        &[
            "XADD",
            "s2",
            "IDMP",
            "p1",
            "req-1",
            "MINID",
            "~",
            "1000000000-0",
            "*",
            "f",
            "v2",
        ],
    );
    assert_eq!(a, d);
    assert_eq!(xlen(&mut c, "s2"), 1);

    assert_eq!(
        q(
            &mut c,
            &[
                "XADD",
                "s3",
                "NOMKSTREAM",
                "IDMP",
                "p1",
                "req-1",
                "*",
                "f",
                "v"
            ]
        ),
        V::Nil
    );
    assert_eq!(q(&mut c, &["EXISTS", "s3"]), V::Int(0));
    q(
        &mut c,
        &["XADD", "s3", "IDMP", "p1", "req-2", "*", "f", "v"],
    );
    assert!(
        q(
            &mut c,
            &[
                "XADD",
                "s3",
                "NOMKSTREAM",
                "IDMP",
                "p1",
                "req-3",
                "*",
                "f",
                "v"
            ]
        )
        .s()
        .contains('-')
    );
    assert_eq!(xlen(&mut c, "s3"), 2);

    let a = q(
        &mut c,
        &[
            "XADD", "s4", "IDMP", "p1", "req-1", "KEEPREF", "MAXLEN", "~", "1000", "LIMIT", "10",
            "*", "field1", "value1", "field2", "value2",
        ],
    );
    let d = q(
        &mut c,
        &[
            "XADD", "s4", "IDMP", "p1", "req-1", "KEEPREF", "MAXLEN", "~", "1000", "LIMIT", "10",
            "*", "field3", "value3",
        ],
    );
    assert_eq!(a, d);
    assert_eq!(xlen(&mut c, "s4"), 1);

    q(
        &mut c,
        &[
            "XADD", "s5", "IDMP", "p1", "req-1", "MAXLEN", "~", "100", "*", "f", "v",
        ],
    );
    q(
        &mut c,
        &[
            "XADD", "s5", "MAXLEN", "~", "100", "IDMP", "p1", "req-2", "*", "f", "v",
        ],
    );
    q(
        &mut c,
        &[
            "XADD",
            "s5",
            "NOMKSTREAM",
            "IDMP",
            "p1",
            "req-3",
            "MAXLEN",
            "~",
            "100",
            "*",
            "f",
            "v",
        ],
    );
    q(
        &mut c,
        &["XADD", "s5", "KEEPREF", "IDMPAUTO", "p1", "*", "f", "v4"],
    );
    q(
        &mut c,
        &["XADD", "s5", "IDMPAUTO", "p1", "KEEPREF", "*", "f", "v5"],
    );
    assert_eq!(xlen(&mut c, "s5"), 5);
}

/// "XADD IDMP pipelined requests" (in MULTI), "XADD IDMP concurrent duplicate requests",
/// "XADD IDMP with consumer groups".
#[test]
fn idmp_in_multi_across_clients_and_with_groups() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    ok(&mut c, &["MULTI"]);
    for (iid, v) in [
        ("req-1", "value1"),
        ("req-2", "value2"),
        ("req-1", "value3"),
        ("req-3", "value4"),
    ] {
        q(
            &mut c,
            &["XADD", "mystream", "IDMP", "p1", iid, "*", "field", v],
        );
    }
    let r = q(&mut c, &["EXEC"]);
    let r = r.arr();
    assert_eq!(r[0], r[2]);
    assert!(r[0] != r[1] && r[1] != r[3] && r[0] != r[3]);
    assert_eq!(xlen(&mut c, "mystream"), 3);

    let mut others: Vec<RawConn> = (0..3).map(|_| srv.raw()).collect();
    let got: Vec<V> = others
        .iter_mut()
        .enumerate()
        .map(|(i, o)| {
            q(
                o,
                &[
                    "XADD",
                    "other",
                    "IDMP",
                    "p1",
                    "concurrent-req",
                    "*",
                    "client",
                    &i.to_string(),
                ],
            )
        })
        .collect();
    assert!(got.iter().all(|g| *g == got[0]));
    assert_eq!(xlen(&mut c, "other"), 1);

    q(&mut c, &["DEL", "cg"]);
    let id1 = q(
        &mut c,
        &["XADD", "cg", "IDMP", "p1", "cg-1", "*", "field", "value1"],
    )
    .s();
    let id2 = q(
        &mut c,
        &["XADD", "cg", "IDMP", "p1", "cg-2", "*", "field", "value2"],
    )
    .s();
    ok(&mut c, &["XGROUP", "CREATE", "cg", "mygroup", "0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "mygroup",
            "consumer1",
            "COUNT",
            "10",
            "STREAMS",
            "cg",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 2);
    assert_eq!(q(&mut c, &["XACK", "cg", "mygroup", &id1, &id2]), V::Int(2));
    assert_eq!(
        q(
            &mut c,
            &["XADD", "cg", "IDMP", "p1", "cg-1", "*", "field", "dup"]
        )
        .s(),
        id1
    );
}

/// redis/redis#14908 ("XADD IDMP after XDEL creates a new entry for same IID"): a retry after
/// its entry was deleted adds a new entry instead of answering with the deleted one.
#[test]
fn idmp_after_xdel_adds_a_new_entry() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let id1 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "v1",
        ],
    )
    .s();
    assert_eq!(q(&mut c, &["XDEL", "mystream", &id1]), V::Int(1));
    let id2 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "v2",
        ],
    )
    .s();
    assert_ne!(id1, id2);
    assert_eq!(xlen(&mut c, "mystream"), 1);
    let e = q(&mut c, &["XRANGE", "mystream", "-", "+"]);
    assert_eq!(e.arr()[0].arr()[0].s(), id2);
    assert_eq!(e.arr()[0].arr()[1].arr()[1].s(), "v2");
    // And the new entry is what later retries get.
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "v3"
            ]
        )
        .s(),
        id2
    );
    // Same after a trim removed the entry.
    q(&mut c, &["XTRIM", "mystream", "MAXLEN", "0"]);
    let id3 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "v4",
        ],
    )
    .s();
    assert_ne!(id3, id2);
    assert_eq!(xlen(&mut c, "mystream"), 1);
}

/// "XADD IDMP multiple producers have isolated namespaces", "... each have their own MAXSIZE
/// limit", "... with binary producer IDs", "... with mixed IDMP and IDMPAUTO", "... stress
/// test".
#[test]
fn idmp_producers_are_isolated() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let a = q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "producer1",
            "req-123",
            "*",
            "field",
            "from-p1",
        ],
    );
    let b = q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "producer2",
            "req-123",
            "*",
            "field",
            "from-p2",
        ],
    );
    assert_ne!(a, b);
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD",
                "mystream",
                "IDMP",
                "producer1",
                "req-123",
                "*",
                "f",
                "d"
            ]
        ),
        a
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD",
                "mystream",
                "IDMP",
                "producer2",
                "req-123",
                "*",
                "f",
                "d"
            ]
        ),
        b
    );
    assert_eq!(xlen(&mut c, "mystream"), 2);

    q(&mut c, &["DEL", "mystream"]);
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "init", "*", "field", "init",
        ],
    );
    ok(
        &mut c,
        &[
            "XCFGSET",
            "mystream",
            "IDMP-MAXSIZE",
            "3",
            "IDMP-DURATION",
            "60",
        ],
    );
    let mut ids = Vec::new();
    for p in ["p1", "p2"] {
        for r in ["req-1", "req-2", "req-3"] {
            ids.push((
                p,
                r,
                q(
                    &mut c,
                    &["XADD", "mystream", "IDMP", p, r, "*", "field", "v"],
                ),
            ));
        }
    }
    for (p, r, id) in &ids {
        assert_eq!(
            &q(
                &mut c,
                &["XADD", "mystream", "IDMP", p, r, "*", "field", "dup"]
            ),
            id
        );
    }
    assert_eq!(info(&mut c, "mystream").field("pids-tracked"), V::Int(2));

    q(&mut c, &["DEL", "mystream"]);
    let x = q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "\u{0}\u{1}\u{2}",
            "req-1",
            "*",
            "f",
            "v1",
        ],
    );
    let y = q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "\u{3}\u{4}\u{5}",
            "req-1",
            "*",
            "f",
            "v2",
        ],
    );
    assert_ne!(x, y);
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD",
                "mystream",
                "IDMP",
                "\u{0}\u{1}\u{2}",
                "req-1",
                "*",
                "f",
                "d"
            ]
        ),
        x
    );

    q(&mut c, &["DEL", "mystream"]);
    let a = q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "p1",
            "explicit-iid",
            "*",
            "field",
            "v1",
        ],
    );
    let b = q(
        &mut c,
        &["XADD", "mystream", "IDMPAUTO", "p2", "*", "field", "v1"],
    );
    q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "p3",
            "another-iid",
            "*",
            "field",
            "v1",
        ],
    );
    q(
        &mut c,
        &["XADD", "mystream", "IDMPAUTO", "p4", "*", "field", "v1"],
    );
    assert_eq!(xlen(&mut c, "mystream"), 4);
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD",
                "mystream",
                "IDMP",
                "p1",
                "explicit-iid",
                "*",
                "field",
                "dup"
            ]
        ),
        a
    );
    assert_eq!(
        q(
            &mut c,
            &["XADD", "mystream", "IDMPAUTO", "p2", "*", "field", "v1"]
        ),
        b
    );
    assert_eq!(info(&mut c, "mystream").field("pids-tracked"), V::Int(4));

    q(&mut c, &["DEL", "mystream"]);
    let ids: Vec<V> = (0..50)
        .map(|i| {
            q(
                &mut c,
                &[
                    "XADD",
                    "mystream",
                    "IDMP",
                    &format!("producer-{i}"),
                    "request-1",
                    "*",
                    "field",
                    "v",
                ],
            )
        })
        .collect();
    let inf = info(&mut c, "mystream");
    assert_eq!(inf.field("pids-tracked"), V::Int(50));
    assert_eq!(inf.field("iids-tracked"), V::Int(50));
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            &q(
                &mut c,
                &[
                    "XADD",
                    "mystream",
                    "IDMP",
                    &format!("producer-{i}"),
                    "request-1",
                    "*",
                    "f",
                    "d"
                ]
            ),
            id
        );
    }
    assert_eq!(xlen(&mut c, "mystream"), 50);
}

/// "XADD IDMPAUTO basic deduplication based on field-value pairs", "... deduplicates
/// regardless of field order", "... different field-value pairs create different entries",
/// "... with binary-safe values", "... with empty string values", "... field names matter",
/// "... multiple producers have isolated namespaces", "... with consumer groups".
#[test]
fn idmpauto_dedups_by_content() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let a = q(
        &mut c,
        &[
            "XADD", "m", "IDMPAUTO", "p1", "*", "amount", "100", "currency", "USD",
        ],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "m", "IDMPAUTO", "p1", "*", "amount", "100", "currency", "USD"
            ]
        ),
        a
    );
    assert_ne!(
        q(
            &mut c,
            &[
                "XADD", "m", "IDMPAUTO", "p1", "*", "amount", "200", "currency", "USD"
            ]
        ),
        a
    );
    assert_eq!(xlen(&mut c, "m"), 2);

    let a = q(
        &mut c,
        &[
            "XADD", "o", "IDMPAUTO", "p1", "*", "field1", "a", "field2", "b", "field3", "c",
        ],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "o", "IDMPAUTO", "p1", "*", "field2", "b", "field3", "c", "field1", "a"
            ]
        ),
        a
    );
    assert_ne!(
        q(
            &mut c,
            &[
                "XADD", "o", "IDMPAUTO", "p1", "*", "field3", "c", "field1", "x", "field2", "b"
            ]
        ),
        a
    );
    assert_eq!(xlen(&mut c, "o"), 2);

    let a = q(
        &mut c,
        &[
            "XADD", "d", "IDMPAUTO", "p1", "*", "user", "alice", "action", "login",
        ],
    );
    let b = q(
        &mut c,
        &[
            "XADD", "d", "IDMPAUTO", "p1", "*", "user", "bob", "action", "login",
        ],
    );
    let e = q(
        &mut c,
        &[
            "XADD", "d", "IDMPAUTO", "p1", "*", "user", "alice", "action", "logout",
        ],
    );
    assert!(a != b && b != e && a != e);
    // Field and value boundaries matter: "ab"+"c" is not "a"+"bc".
    assert_ne!(
        q(&mut c, &["XADD", "d", "IDMPAUTO", "p1", "*", "ab", "c"]),
        q(&mut c, &["XADD", "d", "IDMPAUTO", "p1", "*", "a", "bc"])
    );
    let bin = "\u{0}\u{1}\u{2}\u{ff}";
    let a = q(&mut c, &["XADD", "b", "IDMPAUTO", "p1", "*", "field", bin]);
    assert_eq!(
        q(&mut c, &["XADD", "b", "IDMPAUTO", "p1", "*", "field", bin]),
        a
    );
    let a = q(&mut c, &["XADD", "b", "IDMPAUTO", "p1", "*", "field", ""]);
    assert_eq!(
        q(&mut c, &["XADD", "b", "IDMPAUTO", "p1", "*", "field", ""]),
        a
    );
    assert_ne!(
        q(
            &mut c,
            &["XADD", "b", "IDMPAUTO", "p1", "*", "field1", "value"]
        ),
        q(
            &mut c,
            &["XADD", "b", "IDMPAUTO", "p1", "*", "field2", "value"]
        )
    );
    let x = q(
        &mut c,
        &["XADD", "b", "IDMPAUTO", "producer1", "*", "amount", "100"],
    );
    let y = q(
        &mut c,
        &["XADD", "b", "IDMPAUTO", "producer2", "*", "amount", "100"],
    );
    assert_ne!(x, y);

    q(&mut c, &["XADD", "g", "*", "initial", "value"]);
    ok(&mut c, &["XGROUP", "CREATE", "g", "mygroup", "0"]);
    let a = q(
        &mut c,
        &[
            "XADD", "g", "IDMPAUTO", "p1", "*", "event", "login", "user", "alice",
        ],
    );
    q(
        &mut c,
        &[
            "XADD", "g", "IDMPAUTO", "p1", "*", "event", "logout", "user", "bob",
        ],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "g", "IDMPAUTO", "p1", "*", "event", "login", "user", "alice"
            ]
        ),
        a
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "mygroup",
            "consumer1",
            "COUNT",
            "10",
            "STREAMS",
            "g",
            ">",
        ],
    );
    assert_eq!(first_stream(&r).1.len(), 3);
}

/// "XIDMP entries expire after DURATION seconds" (polling the expiry rather than sleeping a
/// fixed time), "XIDMP set evicts entries when MAXSIZE is reached", "XCFGSET IDMP-MAXSIZE
/// wraparound keeps last 8 entries".
#[test]
fn idmp_expiry_and_eviction() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value1",
        ],
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "1"]);
    let id1 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value1",
        ],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value2"
            ]
        ),
        id1
    );
    assert!(wait_for(Duration::from_secs(10), || {
        info(&mut c, "mystream").field("iids-tracked") == V::Int(0)
    }));
    assert_ne!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value3"
            ]
        ),
        id1
    );

    q(&mut c, &["DEL", "mystream"]);
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "init", "*", "field", "init",
        ],
    );
    ok(
        &mut c,
        &[
            "XCFGSET",
            "mystream",
            "IDMP-MAXSIZE",
            "3",
            "IDMP-DURATION",
            "60",
        ],
    );
    let ids: Vec<V> = ["req-1", "req-2", "req-3"]
        .iter()
        .map(|r| {
            q(
                &mut c,
                &["XADD", "mystream", "IDMP", "p1", r, "*", "field", "v"],
            )
        })
        .collect();
    for (r, id) in ["req-1", "req-2", "req-3"].iter().zip(&ids) {
        assert_eq!(
            &q(
                &mut c,
                &["XADD", "mystream", "IDMP", "p1", r, "*", "field", "dup"]
            ),
            id
        );
    }
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-4", "*", "field", "v4",
        ],
    );
    assert_ne!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "new"
            ]
        ),
        ids[0]
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "req-3", "*", "field", "dup2"
            ]
        ),
        ids[2]
    );
    assert_eq!(xlen(&mut c, "mystream"), 6);

    q(&mut c, &["DEL", "mystream"]);
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "init", "*", "field", "init",
        ],
    );
    ok(
        &mut c,
        &[
            "XCFGSET",
            "mystream",
            "IDMP-MAXSIZE",
            "8",
            "IDMP-DURATION",
            "60",
        ],
    );
    let ids: Vec<V> = (1..=100)
        .map(|i| {
            q(
                &mut c,
                &[
                    "XADD",
                    "mystream",
                    "IDMP",
                    "p1",
                    &format!("req-{i}"),
                    "*",
                    "field",
                    "v",
                ],
            )
        })
        .collect();
    for i in 93..=100 {
        assert_eq!(
            q(
                &mut c,
                &[
                    "XADD",
                    "mystream",
                    "IDMP",
                    "p1",
                    &format!("req-{i}"),
                    "*",
                    "f",
                    "dup"
                ]
            ),
            ids[i - 1]
        );
    }
    for i in 1..=92 {
        assert_ne!(
            q(
                &mut c,
                &[
                    "XADD",
                    "mystream",
                    "IDMP",
                    "p1",
                    &format!("req-{i}"),
                    "*",
                    "f",
                    "new"
                ]
            ),
            ids[i - 1]
        );
    }
    assert_eq!(xlen(&mut c, "mystream"), 193);
}

/// "XCFGSET set IDMP-DURATION successfully", "... IDMP-MAXSIZE successfully", "... both",
/// "XINFO STREAM shows default IDMP parameters", "XCFGSET error on non-existent stream",
/// "XCFGSET IDMP-DURATION / IDMP-MAXSIZE maximum / minimum value validation", "XCFGSET
/// invalid syntax", "XCFGSET multiple configuration changes".
#[test]
fn xcfgset_values_and_errors() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value",
        ],
    );
    let inf = info(&mut c, "mystream");
    assert_eq!(
        (inf.field("idmp-duration"), inf.field("idmp-maxsize")),
        (V::Int(100), V::Int(100))
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "5"]);
    assert_eq!(info(&mut c, "mystream").field("idmp-duration"), V::Int(5));
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", "5000"]);
    assert_eq!(info(&mut c, "mystream").field("idmp-maxsize"), V::Int(5000));
    ok(
        &mut c,
        &[
            "XCFGSET",
            "mystream",
            "IDMP-DURATION",
            "3",
            "IDMP-MAXSIZE",
            "10000",
        ],
    );
    let inf = info(&mut c, "mystream");
    assert_eq!(
        (inf.field("idmp-duration"), inf.field("idmp-maxsize")),
        (V::Int(3), V::Int(10000))
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "86400"]);
    assert_eq!(
        err(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "86401"]),
        "ERR IDMP-DURATION must be between 1 and 86400 seconds"
    );
    for bad in ["0", "-100"] {
        assert!(
            err(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", bad])
                .starts_with("ERR IDMP-DURATION must be between")
        );
    }
    assert_eq!(
        info(&mut c, "mystream").field("idmp-duration"),
        V::Int(86400)
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "1"]);
    assert_eq!(
        err(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", "10001"]),
        "ERR IDMP-MAXSIZE must be between 1 and 10000 entries"
    );
    for bad in ["0", "-50"] {
        assert!(
            err(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", bad])
                .starts_with("ERR IDMP-MAXSIZE must be between")
        );
    }
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", "1"]);
    assert_eq!(info(&mut c, "mystream").field("idmp-maxsize"), V::Int(1));

    assert!(err(&mut c, &["XCFGSET", "mystream"]).starts_with("ERR At least one parameter"));
    for tail in [&["IDMP-DURATION"][..], &["IDMP-MAXSIZE"], &["INVALID"]] {
        let mut args = vec!["XCFGSET", "mystream"];
        args.extend(tail);
        assert_eq!(err(&mut c, &args), "ERR syntax error", "{tail:?}");
    }
    for opt in ["IDMP-DURATION", "IDMP-MAXSIZE"] {
        for bad in ["A", "AAA", "*", "-", "+", "120-5", "3.14", "000000000", opt] {
            assert_eq!(
                err(&mut c, &["XCFGSET", "mystream", opt, bad]),
                "ERR value is not an integer or out of range",
                "{opt} {bad}"
            );
        }
        assert_eq!(
            err(&mut c, &["XCFGSET", "mystream", opt, opt, opt]),
            "ERR value is not an integer or out of range"
        );
    }
    assert_eq!(
        err(
            &mut c,
            &[
                "XCFGSET",
                "mystream",
                "IDMP-DURATION",
                "INVALID",
                "IDMP-MAXSIZE"
            ]
        ),
        "ERR value is not an integer or out of range"
    );

    for d in ["1", "2", "3"] {
        ok(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", d]);
    }
    for m in ["100", "200"] {
        ok(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", m]);
    }
    let inf = info(&mut c, "mystream");
    assert_eq!(
        (inf.field("idmp-duration"), inf.field("idmp-maxsize")),
        (V::Int(3), V::Int(200))
    );

    q(&mut c, &["DEL", "mystream"]);
    assert_eq!(
        err(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "5"]),
        "ERR no such key"
    );
    q(&mut c, &["SET", "str", "x"]);
    assert!(err(&mut c, &["XCFGSET", "str", "IDMP-DURATION", "5"]).starts_with("WRONGTYPE"));
}

/// "XCFGSET changing IDMP-DURATION clears all iids history", "... changing IDMP-MAXSIZE ...",
/// "... history cleared then new deduplication works", "... history cleared preserves stream
/// entries", "... setting same IDMP-DURATION / IDMP-MAXSIZE does not clear iids history",
/// "... repeated same-value calls preserve IDMP history", "... changing value after same-value
/// sets still clears history", "XCFGSET clears all producer histories".
#[test]
fn xcfgset_clears_history_only_on_change() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let id1 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value1", "data", "data1",
        ],
    );
    let id2 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-2", "*", "field", "value2",
        ],
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "100"]);
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", "100"]);
    ok(
        &mut c,
        &[
            "XCFGSET",
            "mystream",
            "IDMP-DURATION",
            "100",
            "IDMP-MAXSIZE",
            "100",
        ],
    );
    assert_eq!(
        q(
            &mut c,
            &["XADD", "mystream", "IDMP", "p1", "req-1", "*", "f", "dup"]
        ),
        id1
    );
    assert_eq!(
        q(
            &mut c,
            &["XADD", "mystream", "IDMP", "p1", "req-2", "*", "f", "dup"]
        ),
        id2
    );
    let inf = info(&mut c, "mystream");
    assert_eq!(
        (inf.field("iids-tracked"), inf.field("iids-added")),
        (V::Int(2), V::Int(2))
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-DURATION", "50"]);
    let inf = info(&mut c, "mystream");
    assert_eq!(inf.field("pids-tracked"), V::Int(0));
    assert_eq!(inf.field("iids-tracked"), V::Int(0));
    assert_eq!(inf.field("iids-added"), V::Int(2));
    assert_eq!(inf.field("iids-duplicates"), V::Int(2));
    let e = q(&mut c, &["XRANGE", "mystream", "-", "+"]);
    assert_eq!(e.arr().len(), 2);
    assert_eq!(e.arr()[0].arr()[1].arr()[3].s(), "data1");
    let n1 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "new1",
        ],
    );
    assert_ne!(n1, id1);
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "dup1"
            ]
        ),
        n1
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", "5000"]);
    assert_ne!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "new2"
            ]
        ),
        n1
    );
    assert_eq!(xlen(&mut c, "mystream"), 4);
}

/// "XINFO STREAM returns iids-tracked and iids-added fields", "XINFO STREAM iids-added is
/// lifetime counter even after eviction", "XINFO STREAM iids-duplicates is lifetime counter",
/// "XINFO STREAM iids-duplicates with multiple producers", "XINFO STREAM returns pids-tracked
/// field", "XINFO STREAM FULL returns pids-tracked field", "XINFO STREAM returns idmp-duration
/// and idmp-maxsize fields".
///
/// DEVIATION(redis): Redis 8.6 shows the IDMP fields (zeros and defaults) on every stream;
/// here a stream that never used IDMP keeps Redis 7.0's exact XINFO STREAM reply, so the first
/// check is that the fields are absent until the first XADD IDMP.
#[test]
fn xinfo_idmp_fields_and_counters() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "*", "field", "value"]);
    let inf = info(&mut c, "mystream");
    for f in [
        "idmp-duration",
        "idmp-maxsize",
        "pids-tracked",
        "iids-tracked",
        "iids-added",
        "iids-duplicates",
    ] {
        assert!(inf.get(f).is_none(), "{f} shown for a stream without IDMP");
    }
    assert_eq!(inf.arr().len(), 20, "Redis 7.0's ten XINFO STREAM fields");
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value1",
        ],
    );
    let inf = info(&mut c, "mystream");
    let names: Vec<String> = inf.arr().chunks(2).map(|p| p[0].s()).collect();
    assert_eq!(
        names,
        [
            "length",
            "radix-tree-keys",
            "radix-tree-nodes",
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "recorded-first-entry-id",
            "idmp-duration",
            "idmp-maxsize",
            "pids-tracked",
            "iids-tracked",
            "iids-added",
            "iids-duplicates",
            "groups",
            "first-entry",
            "last-entry",
        ]
    );
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-2", "*", "field", "value2",
        ],
    );
    q(
        &mut c,
        &[
            "XADD",
            "mystream",
            "IDMP",
            "p1",
            "req-1",
            "*",
            "field",
            "duplicate",
        ],
    );
    q(
        &mut c,
        &["XADD", "mystream", "IDMP", "p2", "req-1", "*", "field", "v"],
    );
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p2", "req-1", "*", "field", "dup",
        ],
    );
    for full in [false, true] {
        let mut args = vec!["XINFO", "STREAM", "mystream"];
        if full {
            args.push("FULL");
        }
        let inf = q(&mut c, &args);
        assert_eq!(inf.field("pids-tracked"), V::Int(2));
        assert_eq!(inf.field("iids-tracked"), V::Int(3));
        assert_eq!(inf.field("iids-added"), V::Int(3));
        assert_eq!(inf.field("iids-duplicates"), V::Int(2));
    }

    q(&mut c, &["DEL", "mystream"]);
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "init", "*", "field", "init",
        ],
    );
    ok(&mut c, &["XCFGSET", "mystream", "IDMP-MAXSIZE", "3"]);
    for r in ["req-1", "req-2", "req-3", "req-4", "req-5"] {
        q(
            &mut c,
            &["XADD", "mystream", "IDMP", "p1", r, "*", "field", "v"],
        );
    }
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-5", "*", "field", "dup",
        ],
    );
    let inf = info(&mut c, "mystream");
    assert_eq!(inf.field("iids-tracked"), V::Int(3));
    assert_eq!(inf.field("iids-added"), V::Int(6));
    assert_eq!(inf.field("iids-duplicates"), V::Int(1));
}

/// "XADD IDMP set in AOF", "XCFGSET configuration in AOF", "XADD IDMP multiple producers
/// persistence in RDB" and "XINFO STREAM iids-added persists in RDB", through the AOF: the
/// state survives a restart, and a rewrite of the AOF (with or without an RDB preamble).
#[test]
fn idmp_state_survives_aof_restart_and_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    let id1 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "aof-1", "*", "field", "value1",
        ],
    );
    let id2 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p2", "aof-1", "*", "field", "value2",
        ],
    );
    let id3 = q(
        &mut c,
        &["XADD", "mystream", "IDMPAUTO", "p3", "*", "field", "value3"],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XADD", "mystream", "IDMP", "p1", "aof-1", "*", "field", "dup"
            ]
        ),
        id1
    );
    ok(
        &mut c,
        &[
            "XCFGSET",
            "mystream",
            "IDMP-DURATION",
            "45",
            "IDMP-MAXSIZE",
            "4500",
        ],
    );
    let id4 = q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "aof-2", "*", "field", "value4",
        ],
    );
    let id5 = q(
        &mut c,
        &["XADD", "mystream", "IDMPAUTO", "p3", "*", "field", "value3"],
    );
    assert_ne!(id5, id3, "history was cleared by XCFGSET");
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "aof-2", "*", "field", "dup",
        ],
    );
    // What every restart must find; each check then answers two duplicates more.
    let check = |c: &mut RawConn, dups: &mut i64| {
        let inf = info(c, "mystream");
        assert_eq!(inf.field("idmp-duration"), V::Int(45));
        assert_eq!(inf.field("idmp-maxsize"), V::Int(4500));
        assert_eq!(inf.field("pids-tracked"), V::Int(2));
        assert_eq!(inf.field("iids-tracked"), V::Int(2));
        assert_eq!(inf.field("iids-added"), V::Int(5));
        assert_eq!(inf.field("iids-duplicates"), V::Int(*dups));
        assert_eq!(xlen(c, "mystream"), 5);
        assert_eq!(
            q(
                c,
                &["XADD", "mystream", "IDMP", "p1", "aof-2", "*", "f", "again"]
            ),
            id4
        );
        assert_eq!(
            q(
                c,
                &["XADD", "mystream", "IDMPAUTO", "p3", "*", "field", "value3"]
            ),
            id5
        );
        *dups += 2;
    };
    let mut dups = 2;
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    check(&mut c, &mut dups);
    let mut srv = srv;
    for preamble in ["yes", "no"] {
        let mut c = srv.raw();
        ok(&mut c, &["CONFIG", "SET", "aof-use-rdb-preamble", preamble]);
        q(&mut c, &["BGREWRITEAOF"]);
        assert!(wait_for(Duration::from_secs(20), || {
            common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
        }));
        srv.shutdown();
        srv = DirServer::ferrymq(dir.path(), &args);
        let mut c = srv.raw();
        check(&mut c, &mut dups);
    }
    let _ = (id2, id3);
}

// ---------------------------------------------------------------------------
// XNACK (stream-cgroups.tcl, Redis 8.8)

fn nack_setup(c: &mut RawConn, n: usize) {
    q(c, &["DEL", "mystream"]);
    for i in 1..=n {
        q(
            c,
            &["XADD", "mystream", &format!("{i}-0"), "f", &format!("v{i}")],
        );
    }
    ok(c, &["XGROUP", "CREATE", "mystream", "grp", "0"]);
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
}

fn row(id: &str, owner: &str, idle: i64, count: i64) -> (String, String, i64, i64) {
    (id.into(), owner.into(), idle, count)
}

/// "XNACK argument and error validation".
#[test]
fn xnack_argument_errors() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    for args in [
        &["XNACK"][..],
        &["XNACK", "key"],
        &["XNACK", "key", "group"],
        &["XNACK", "key", "group", "SILENT"],
        &["XNACK", "key", "group", "SILENT", "IDS"],
        &["XNACK", "key", "group", "SILENT", "IDS", "1"],
    ] {
        assert_eq!(
            err(&mut c, args),
            "ERR wrong number of arguments for 'xnack' command"
        );
    }
    assert!(
        err(
            &mut c,
            &["XNACK", "nosuchkey", "grp", "SILENT", "IDS", "1", "1-0"]
        )
        .starts_with("NOGROUP")
    );
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v"]);
    assert!(
        err(
            &mut c,
            &["XNACK", "mystream", "nogroup", "SILENT", "IDS", "1", "1-0"]
        )
        .starts_with("NOGROUP")
    );
    q(&mut c, &["SET", "mykey", "not a stream"]);
    assert!(
        err(
            &mut c,
            &["XNACK", "mykey", "grp", "FAIL", "IDS", "1", "1-0"]
        )
        .starts_with("WRONGTYPE")
    );
    nack_setup(&mut c, 2);
    let unrecognized: [&[&str]; 13] = [
        &["FAIL", "BADOPT", "IDS", "1", "1-0"],
        &["FAIL", "IDS", "1", "1-0", "BADOPT"],
        &["SILENT", "BADOPT", "IDS", "1", "1-0", "FORCE"],
        &["SILENT", "FORCE", "BADOPT", "IDS", "1", "1-0"],
        &["FAIL", "RETRYCOUNT", "5", "BADOPT", "IDS", "1", "1-0"],
        &["FAIL", "IDS", "1", "1-0", "RETRYCOUNT", "5", "BADOPT"],
        &[
            "FAIL",
            "FORCE",
            "IDS",
            "1",
            "1-0",
            "BADOPT",
            "RETRYCOUNT",
            "5",
        ],
        &["FAIL", "FATAL", "IDS", "1", "1-0"],
        &["SILENT", "FAIL", "IDS", "1", "1-0"],
        &["FAIL", "SILENT", "FATAL", "IDS", "1", "1-0"],
        &["SILENT", "NOTIDS", "1", "1-0"],
        &["FAIL", "IDS", "1", "1-0", "RETRYCOUNT"],
        &["FAIL", "IDS", "1", "1-0", "2-0"],
    ];
    let x = |c: &mut RawConn, tail: &[&str]| {
        let mut args = vec!["XNACK", "mystream", "grp"];
        args.extend(tail);
        err(c, &args)
    };
    for tail in unrecognized {
        assert!(
            x(&mut c, tail).starts_with("ERR Unrecognized XNACK option"),
            "{tail:?}"
        );
    }
    assert_eq!(
        x(&mut c, &["BADMODE", "IDS", "1", "1-0"]),
        "ERR mode must be SILENT, FAIL, or FATAL"
    );
    assert_eq!(
        x(&mut c, &["SILENT", "FORCE", "RETRYCOUNT", "5"]),
        "ERR syntax error, expected IDS keyword"
    );
    for n in ["abc", "0", "-1"] {
        assert!(
            x(&mut c, &["SILENT", "IDS", n, "1-0"])
                .starts_with("ERR numids must be a positive integer")
        );
    }
    assert_eq!(
        x(&mut c, &["SILENT", "IDS", "2", "1-0"]),
        "ERR number of IDs doesn't match numids"
    );
    assert!(
        x(&mut c, &["FAIL", "IDS", "1", "not-a-valid-id"]).starts_with("ERR Invalid stream ID")
    );
    assert_eq!(
        x(&mut c, &["FAIL", "IDS", "1", "1-0", "RETRYCOUNT", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        x(&mut c, &["FAIL", "IDS", "1", "1-0", "RETRYCOUNT", "-1"]),
        "ERR Invalid RETRYCOUNT value, must be >= 0"
    );
    assert_eq!(
        x(
            &mut c,
            &[
                "FAIL",
                "IDS",
                "1",
                "1-0",
                "RETRYCOUNT",
                "99999999999999999999"
            ]
        ),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        x(&mut c, &["FAIL", "RETRYCOUNT"]),
        "ERR wrong number of arguments for 'xnack' command"
    );
    // Nothing was released by any of these.
    assert!(
        pel(&mut c, "mystream", "grp", None)
            .iter()
            .all(|r| r.1 == "c1")
    );
}

/// "XNACK SILENT mode delivery_count behavior", "XNACK FAIL mode keeps delivery_count
/// unchanged", "XNACK FATAL mode sets delivery_count to max".
#[test]
fn xnack_modes() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    nack_setup(&mut c, 1);
    assert_eq!(pel(&mut c, "mystream", "grp", None)[0].3, 1);
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "SILENT", "IDS", "1", "1-0"]
        ),
        V::Int(1)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 0)]
    );
    q(
        &mut c,
        &[
            "XCLAIM",
            "mystream",
            "grp",
            "c2",
            "0",
            "1-0",
            "RETRYCOUNT",
            "0",
        ],
    );
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "SILENT", "IDS", "1", "1-0"],
    );
    assert_eq!(pel(&mut c, "mystream", "grp", None)[0].3, 0);
    for _ in 0..3 {
        q(&mut c, &["XCLAIM", "mystream", "grp", "c1", "0", "1-0"]);
    }
    assert_eq!(pel(&mut c, "mystream", "grp", None)[0].3, 3);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "SILENT", "IDS", "1", "1-0"],
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 2)]
    );

    nack_setup(&mut c, 1);
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"]
        ),
        V::Int(1)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 1)]
    );

    nack_setup(&mut c, 1);
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FATAL", "IDS", "1", "1-0"]
        ),
        V::Int(1)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, LLONG_MAX)]
    );
}

/// "XNACK releases entries and removes from consumer PEL", "XNACK return count and edge
/// cases", "XNACK on already-NACKed entry: idempotency and mode changes", "XNACK with IDs
/// exceeding STREAMID_STATIC_VECTOR_LEN for heap allocation".
#[test]
fn xnack_release_and_counts() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["DEL", "mystream"]);
    for i in 1..=3 {
        q(&mut c, &["XADD", "mystream", &format!("{i}-0"), "f", "v"]);
    }
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "grp", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c2",
            "COUNT",
            "1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "3-0"]
        ),
        V::Int(1)
    );
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"]
        ),
        V::Int(1)
    );
    let p = pel(&mut c, "mystream", "grp", None);
    assert_eq!(p.len(), 3);
    assert_eq!(
        (p[0].clone(), p[2].clone()),
        (row("1-0", "", -1, 1), row("3-0", "", -1, 1))
    );
    assert_eq!(ids_of(&pel(&mut c, "mystream", "grp", Some("c1"))), ["2-0"]);
    assert!(pel(&mut c, "mystream", "grp", Some("c2")).is_empty());
    let groups = q(&mut c, &["XINFO", "GROUPS", "mystream"]);
    assert_eq!(groups.arr()[0].field("consumers"), V::Int(2));

    nack_setup(&mut c, 3);
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "9-9"]
        ),
        V::Int(0)
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "SILENT", "IDS", "3", "1-0", "2-0", "3-0"
            ]
        ),
        V::Int(3)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [
            row("1-0", "", -1, 0),
            row("2-0", "", -1, 0),
            row("3-0", "", -1, 0)
        ]
    );
    q(
        &mut c,
        &["XCLAIM", "mystream", "grp", "c1", "0", "1-0", "2-0", "3-0"],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "FAIL", "IDS", "5", "1-0", "9-9", "2-0", "8-8", "3-0"
            ]
        ),
        V::Int(3)
    );
    assert!(
        pel(&mut c, "mystream", "grp", None)
            .iter()
            .all(|r| r.1.is_empty())
    );
    q(&mut c, &["XCLAIM", "mystream", "grp", "c1", "0", "1-0"]);
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "2", "1-0", "1-0"]
        ),
        V::Int(2)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None)[0],
        row("1-0", "", -1, 2)
    );
    q(&mut c, &["XACK", "mystream", "grp", "1-0", "2-0", "3-0"]);
    assert_eq!(pending_count(&mut c, "mystream", "grp"), 0);
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"]
        ),
        V::Int(0)
    );

    nack_setup(&mut c, 1);
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"]
        ),
        V::Int(1)
    );
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"]
        ),
        V::Int(1)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 1)]
    );
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "SILENT", "IDS", "1", "1-0"],
    );
    assert_eq!(pel(&mut c, "mystream", "grp", None)[0].3, 0);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FATAL", "IDS", "1", "1-0"],
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, LLONG_MAX)]
    );
    assert_eq!(
        q(
            &mut c,
            &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"]
        ),
        V::Int(1)
    );

    nack_setup(&mut c, 50);
    let ids: Vec<String> = (1..=50).map(|i| format!("{i}-0")).collect();
    let mut args = vec!["XNACK", "mystream", "grp", "FAIL", "IDS", "50"];
    args.extend(ids.iter().map(String::as_str));
    assert_eq!(q(&mut c, &args), V::Int(50));
    let p = pel(&mut c, "mystream", "grp", None);
    assert_eq!(p.len(), 50);
    assert!(p.iter().all(|r| r.1.is_empty()));
}

fn ids_of(rows: &[(String, String, i64, i64)]) -> Vec<String> {
    rows.iter().map(|r| r.0.clone()).collect()
}

/// "XNACK ordering: NACKed entries at head of PEL with FIFO order", "XNACK re-NACK moves
/// entry to end of NACK zone", "XNACK XINFO STREAM FULL nacked-count reflects nack zone size".
#[test]
fn xnack_zone_order_and_nacked_count() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    nack_setup(&mut c, 4);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "3-0"],
    );
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    for r in pel(&mut c, "mystream", "grp", None) {
        if r.0 == "1-0" || r.0 == "3-0" {
            assert_eq!((r.1.as_str(), r.2), ("", -1));
        } else {
            assert_eq!(r.1, "c1");
        }
    }
    let full = q(&mut c, &["XINFO", "STREAM", "mystream", "FULL"]);
    let g = full.field("groups").arr()[0].clone();
    let pending = g.field("pending");
    let p = pending.arr();
    assert_eq!(
        p[0],
        V::Arr(vec![
            V::Bulk(b"1-0".to_vec()),
            V::Bulk(vec![]),
            V::Int(0),
            V::Int(1)
        ])
    );
    assert_eq!(p[1].arr()[1].s(), "c1");
    assert_eq!(
        p[2],
        V::Arr(vec![
            V::Bulk(b"3-0".to_vec()),
            V::Bulk(vec![]),
            V::Int(0),
            V::Int(1)
        ])
    );
    // Claimed in release order: 3-0 then 1-0, before the owned ones.
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c2",
            "COUNT",
            "2",
            "CLAIM",
            "0",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(ids(&first_stream(&r).1), ["3-0", "1-0"]);

    nack_setup(&mut c, 3);
    q(
        &mut c,
        &[
            "XNACK", "mystream", "grp", "FAIL", "IDS", "3", "1-0", "2-0", "3-0",
        ],
    );
    let g = q(&mut c, &["XINFO", "STREAM", "mystream", "FULL"])
        .field("groups")
        .arr()[0]
        .clone();
    assert_eq!(g.field("nacked-count"), V::Int(3));
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    let g = q(&mut c, &["XINFO", "STREAM", "mystream", "FULL"])
        .field("groups")
        .arr()[0]
        .clone();
    assert_eq!(
        (g.field("nacked-count"), g.field("pel-count")),
        (V::Int(3), V::Int(3))
    );
    let mut order = Vec::new();
    for _ in 0..3 {
        let r = q(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "grp",
                "c2",
                "COUNT",
                "1",
                "CLAIM",
                "5",
                "STREAMS",
                "mystream",
                ">",
            ],
        );
        let (_, msgs) = first_stream(&r);
        assert_eq!(msgs[0].arr()[2].int(), -1, "a released entry's idle time");
        order.extend(ids(&msgs));
    }
    assert_eq!(order, ["2-0", "3-0", "1-0"]);

    nack_setup(&mut c, 4);
    let nacked = |c: &mut RawConn, g: usize| -> (V, V) {
        let g = q(c, &["XINFO", "STREAM", "mystream", "FULL"])
            .field("groups")
            .arr()[g]
            .clone();
        (g.field("nacked-count"), g.field("pel-count"))
    };
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    assert_eq!(nacked(&mut c, 0), (V::Int(1), V::Int(4)));
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "2", "2-0", "3-0"],
    );
    assert_eq!(nacked(&mut c, 0), (V::Int(3), V::Int(4)));
    q(&mut c, &["XCLAIM", "mystream", "grp", "c1", "0", "1-0"]);
    assert_eq!(nacked(&mut c, 0), (V::Int(2), V::Int(4)));
    q(&mut c, &["XACK", "mystream", "grp", "2-0"]);
    assert_eq!(nacked(&mut c, 0), (V::Int(1), V::Int(3)));
    q(&mut c, &["XACK", "mystream", "grp", "3-0"]);
    assert_eq!(nacked(&mut c, 0), (V::Int(0), V::Int(2)));
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "grp2", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp2",
            "c2",
            "COUNT",
            "4",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(nacked(&mut c, 0).0, V::Int(1));
    assert_eq!(nacked(&mut c, 1).0, V::Int(0));
}

/// "XNACK NACKed entries persist after XDEL and XTRIM", "XNACK XCLAIM/XAUTOCLAIM of deleted
/// NACKed entries cleans PEL".
#[test]
fn xnack_entries_and_deleted_stream_entries() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    nack_setup(&mut c, 2);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    q(&mut c, &["XDEL", "mystream", "1-0"]);
    let p = pel(&mut c, "mystream", "grp", None);
    assert_eq!((p.len(), p[0].clone()), (2, row("1-0", "", -1, 1)));
    nack_setup(&mut c, 3);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    q(&mut c, &["XTRIM", "mystream", "MAXLEN", "1"]);
    let p = pel(&mut c, "mystream", "grp", None);
    assert_eq!((p.len(), p[0].clone()), (3, row("1-0", "", -1, 1)));

    nack_setup(&mut c, 3);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "2", "1-0", "3-0"],
    );
    q(&mut c, &["XDEL", "mystream", "1-0"]);
    q(&mut c, &["XDEL", "mystream", "3-0"]);
    assert_eq!(
        q(&mut c, &["XCLAIM", "mystream", "grp", "c2", "0", "1-0"]),
        V::Arr(vec![])
    );
    let p = pel(&mut c, "mystream", "grp", None);
    assert_eq!(p.len(), 2);
    assert_eq!((p[0].0.as_str(), p[0].1.as_str(), p[0].3), ("2-0", "c1", 1));
    assert_eq!(p[1], row("3-0", "", -1, 1));
    let r = q(&mut c, &["XAUTOCLAIM", "mystream", "grp", "c2", "0", "0-0"]);
    assert_eq!(ids(r.arr()[1].arr()), ["2-0"]);
    assert_eq!(r.arr()[2], V::Arr(vec![V::Bulk(b"3-0".to_vec())]));
    let p = pel(&mut c, "mystream", "grp", None);
    assert_eq!((p.len(), p[0].1.as_str(), p[0].3), (1, "c2", 2));
}

/// "XNACK RETRYCOUNT overrides delivery_count", "XNACK FORCE behavior", "XNACK FORCE +
/// RETRYCOUNT combination", "XNACK flexible IDS position - options accepted before and after
/// IDS block".
#[test]
fn xnack_retrycount_and_force() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    nack_setup(&mut c, 1);
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK",
                "mystream",
                "grp",
                "FATAL",
                "IDS",
                "1",
                "1-0",
                "RETRYCOUNT",
                "42"
            ]
        ),
        V::Int(1)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 42)]
    );
    q(&mut c, &["XCLAIM", "mystream", "grp", "c1", "0", "1-0"]);
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp",
            "SILENT",
            "IDS",
            "1",
            "1-0",
            "RETRYCOUNT",
            "10",
        ],
    );
    assert_eq!(pel(&mut c, "mystream", "grp", None)[0].3, 10);
    q(&mut c, &["XCLAIM", "mystream", "grp", "c1", "0", "1-0"]);
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp",
            "FAIL",
            "IDS",
            "1",
            "1-0",
            "RETRYCOUNT",
            "0",
        ],
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 0)]
    );
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp",
            "FAIL",
            "IDS",
            "1",
            "1-0",
            "RETRYCOUNT",
            "99",
        ],
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 99)]
    );

    q(&mut c, &["DEL", "mystream"]);
    for i in 1..=3 {
        q(&mut c, &["XADD", "mystream", &format!("{i}-0"), "f", "v"]);
    }
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "grp", "0"]);
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0", "FORCE"
            ]
        ),
        V::Int(1)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 0)]
    );
    assert_eq!(
        ids(q(&mut c, &["XCLAIM", "mystream", "grp", "c1", "0", "1-0"]).arr()),
        ["1-0"]
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "FAIL", "IDS", "1", "9-9", "FORCE"
            ]
        ),
        V::Int(0)
    );
    q(&mut c, &["XACK", "mystream", "grp", "1-0"]);
    q(
        &mut c,
        &[
            "XNACK", "mystream", "grp", "FATAL", "IDS", "1", "1-0", "FORCE",
        ],
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, LLONG_MAX)]
    );
    q(&mut c, &["XACK", "mystream", "grp", "1-0"]);
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "SILENT", "IDS", "2", "1-0", "2-0", "FORCE"
            ]
        ),
        V::Int(2)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 0), row("2-0", "", -1, 0)]
    );
    q(&mut c, &["XACK", "mystream", "grp", "1-0", "2-0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "FAIL", "IDS", "3", "1-0", "2-0", "3-0", "FORCE"
            ]
        ),
        V::Int(3)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [
            row("1-0", "", -1, 1),
            row("2-0", "", -1, 1),
            row("3-0", "", -1, 1)
        ]
    );
    assert!(pel(&mut c, "mystream", "grp", Some("c1")).is_empty());
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0", "FORCE"
            ]
        ),
        V::Int(1)
    );
    assert_eq!(pel(&mut c, "mystream", "grp", None).len(), 3);
    q(&mut c, &["DEL", "mystream"]);
    ok(
        &mut c,
        &["XGROUP", "CREATE", "mystream", "grp", "$", "MKSTREAM"],
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0", "FORCE"
            ]
        ),
        V::Int(0)
    );
    assert_eq!(pending_count(&mut c, "mystream", "grp"), 0);

    q(&mut c, &["DEL", "mystream"]);
    for i in 1..=3 {
        q(&mut c, &["XADD", "mystream", &format!("{i}-0"), "f", "v"]);
    }
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "grp", "0"]);
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp",
            "FAIL",
            "IDS",
            "1",
            "1-0",
            "RETRYCOUNT",
            "7",
            "FORCE",
        ],
    );
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp",
            "SILENT",
            "IDS",
            "1",
            "2-0",
            "RETRYCOUNT",
            "5",
            "FORCE",
        ],
    );
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp",
            "FATAL",
            "IDS",
            "1",
            "3-0",
            "RETRYCOUNT",
            "99",
            "FORCE",
        ],
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [
            row("1-0", "", -1, 7),
            row("2-0", "", -1, 5),
            row("3-0", "", -1, 99)
        ]
    );

    q(&mut c, &["XACK", "mystream", "grp", "1-0", "2-0", "3-0"]);
    let forms: [&[&str]; 6] = [
        &["FAIL", "FORCE", "IDS", "1", "1-0"],
        &["FAIL", "FORCE", "RETRYCOUNT", "42", "IDS", "1", "1-0"],
        &["FAIL", "RETRYCOUNT", "5", "IDS", "1", "1-0", "FORCE"],
        &["FAIL", "FORCE", "IDS", "1", "1-0", "RETRYCOUNT", "3"],
        &[
            "FAIL",
            "RETRYCOUNT",
            "10",
            "IDS",
            "3",
            "1-0",
            "2-0",
            "3-0",
            "FORCE",
        ],
        &["FAIL", "IDS", "1", "1-0", "RETRYCOUNT", "20", "FORCE"],
    ];
    for form in forms {
        let mut args = vec!["XNACK", "mystream", "grp"];
        args.extend(form);
        let n = q(&mut c, &args).int();
        assert!(n == 1 || n == 3, "{form:?}");
        q(&mut c, &["XACK", "mystream", "grp", "1-0", "2-0", "3-0"]);
    }
}

/// "XNACK NACKed entries claimable via XCLAIM, XAUTOCLAIM, and XREADGROUP CLAIM", "XNACK
/// XREADGROUP pending read excludes NACKed entries", "XNACK effect on consumer state and XINFO
/// CONSUMERS", "XNACK XGROUP DESTROY cleans up NACKed entries", "XNACK XGROUP DELCONSUMER
/// works when group PEL has NACKed entries".
#[test]
fn xnack_entries_with_other_commands() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    nack_setup(&mut c, 2);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    assert_eq!(
        ids(q(&mut c, &["XCLAIM", "mystream", "grp", "c2", "99999", "1-0"]).arr()),
        ["1-0"]
    );
    assert_eq!(ids_of(&pel(&mut c, "mystream", "grp", Some("c2"))), ["1-0"]);
    nack_setup(&mut c, 2);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    let r = q(
        &mut c,
        &["XAUTOCLAIM", "mystream", "grp", "c2", "99999", "0-0"],
    );
    assert_eq!(ids(r.arr()[1].arr()), ["1-0"]);
    nack_setup(&mut c, 1);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c2",
            "CLAIM",
            "86400000",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(ids_of(&pel(&mut c, "mystream", "grp", Some("c2"))), ["1-0"]);

    nack_setup(&mut c, 3);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "2", "1-0", "3-0"],
    );
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c1",
            "STREAMS",
            "mystream",
            "0-0",
        ],
    );
    assert_eq!(ids(&first_stream(&r).1), ["2-0"]);
    let cons = q(&mut c, &["XINFO", "CONSUMERS", "mystream", "grp"]);
    assert_eq!(cons.arr()[0].field("pending"), V::Int(1));
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "2-0"],
    );
    assert!(pel(&mut c, "mystream", "grp", Some("c1")).is_empty());
    assert_eq!(
        q(&mut c, &["XINFO", "GROUPS", "mystream"]).arr()[0].field("consumers"),
        V::Int(1)
    );

    nack_setup(&mut c, 2);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "2", "1-0", "2-0"],
    );
    assert_eq!(pending_count(&mut c, "mystream", "grp"), 2);
    q(&mut c, &["XGROUP", "DESTROY", "mystream", "grp"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "grp2", "0"]);
    assert_eq!(pending_count(&mut c, "mystream", "grp2"), 0);

    nack_setup(&mut c, 2);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    assert_eq!(
        q(&mut c, &["XGROUP", "DELCONSUMER", "mystream", "grp", "c1"]),
        V::Int(1)
    );
    assert_eq!(
        pel(&mut c, "mystream", "grp", None),
        [row("1-0", "", -1, 1)]
    );
    let g = q(&mut c, &["XINFO", "STREAM", "mystream", "FULL"])
        .field("groups")
        .arr()[0]
        .clone();
    assert_eq!(g.field("nacked-count"), V::Int(1));
    assert_eq!(
        q(&mut c, &["XCLAIM", "mystream", "grp", "c2", "0", "1-0"])
            .arr()
            .len(),
        1
    );
}

/// "XNACK XREADGROUP BLOCK CLAIM wakes up on NACKed entries".
#[test]
fn xnack_wakes_blocked_claim_reader() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    nack_setup(&mut c, 2);
    let mut rd = srv.raw();
    rd.send(&[
        "XREADGROUP",
        "GROUP",
        "grp",
        "c2",
        "BLOCK",
        "0",
        "CLAIM",
        "3600000",
        "STREAMS",
        "mystream",
        ">",
    ]);
    assert!(wait_for(Duration::from_secs(10), || blocked_clients(
        &mut c
    ) == 1));
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "2", "1-0", "2-0"],
    );
    let r = parse(
        &rd.try_read_reply(Duration::from_secs(10))
            .expect("woken by XNACK"),
    );
    assert_eq!(r.arr().len(), 1);
    assert_eq!(ids(&first_stream(&r).1), ["1-0", "2-0"]);
    assert_eq!(
        ids_of(&pel(&mut c, "mystream", "grp", Some("c2"))),
        ["1-0", "2-0"]
    );
}

/// "XNACK RDB save and load preserves NACKed entries" (DEBUG RELOAD), "XNACK NACKed entries
/// survive DUMP and RESTORE", "XNACK COPY preserves NACKed entries".
#[test]
fn xnack_survives_rdb_dump_and_copy() {
    let srv = Server::ferrymq(&["--enable-debug-command", "yes"]);
    let mut c = srv.raw();
    nack_setup(&mut c, 4);
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FATAL", "IDS", "1", "2-0"],
    );
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "SILENT", "IDS", "1", "3-0"],
    );
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "grp2", "0"]);
    q(
        &mut c,
        &[
            "XNACK", "mystream", "grp2", "FAIL", "IDS", "1", "1-0", "FORCE",
        ],
    );
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp2",
            "FATAL",
            "IDS",
            "1",
            "2-0",
            "RETRYCOUNT",
            "77",
            "FORCE",
        ],
    );
    ok(&mut c, &["DEBUG", "RELOAD"]);
    let p = pel(&mut c, "mystream", "grp", None);
    assert_eq!(
        p[..3],
        [
            row("1-0", "", -1, 1),
            row("2-0", "", -1, LLONG_MAX),
            row("3-0", "", -1, 0)
        ]
    );
    assert_eq!((p[3].0.as_str(), p[3].1.as_str(), p[3].3), ("4-0", "c1", 1));
    assert_eq!(
        pel(&mut c, "mystream", "grp2", None),
        [row("1-0", "", -1, 0), row("2-0", "", -1, 77)]
    );
    // The zone order survives too.
    let claim_one = |c: &mut RawConn, key: &str| {
        let r = q(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "grp",
                "c2",
                "COUNT",
                "1",
                "CLAIM",
                "0",
                "STREAMS",
                key,
                ">",
            ],
        );
        ids(&first_stream(&r).1)[0].clone()
    };
    q(
        &mut c,
        &["XNACK", "mystream", "grp", "FAIL", "IDS", "1", "1-0"],
    );
    let dump = q(&mut c, &["DUMP", "mystream"]);
    let V::Bulk(dump) = dump else { panic!() };
    q(&mut c, &["DEL", "mystream{t}"]);
    c.send_raw(&common::encode_cmd(&[
        &b"RESTORE"[..],
        b"mystream{t}",
        b"0",
        &dump,
    ]));
    assert_eq!(parse(&c.read_reply()), V::Status("OK".into()));
    assert_eq!(q(&mut c, &["COPY", "mystream", "copy"]), V::Int(1));
    for key in ["mystream", "mystream{t}", "copy"] {
        let g = q(&mut c, &["XINFO", "STREAM", key, "FULL"])
            .field("groups")
            .arr()[0]
            .clone();
        assert_eq!(g.field("nacked-count"), V::Int(3), "{key}");
        assert_eq!(claim_one(&mut c, key), "2-0", "{key}");
        assert_eq!(claim_one(&mut c, key), "3-0", "{key}");
        assert_eq!(claim_one(&mut c, key), "1-0", "{key}");
    }
}

/// "XNACK entries survive AOF rewrite", "XNACK AOF rewrite batch split -- 65 NACKed entries
/// with owned tail", "XNACK AOF rewrite with mixed delivery_counts batches correctly", "XNACK
/// FORCE-created entries survive AOF rewrite"; and "XNACK replication of modes and FORCE"
/// through the AOF restart (the effects a replica would get).
#[test]
fn xnack_survives_aof_restart_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    nack_setup(&mut c, 66);
    let nack_ids: Vec<String> = (1..=65).map(|i| format!("{i}-0")).collect();
    let mut a = vec!["XNACK", "mystream", "grp", "FAIL", "IDS", "65"];
    a.extend(nack_ids.iter().map(String::as_str));
    assert_eq!(q(&mut c, &a), V::Int(65));
    q(
        &mut c,
        &[
            "XNACK", "mystream", "grp", "FATAL", "IDS", "2", "1-0", "2-0",
        ],
    );
    q(
        &mut c,
        &[
            "XNACK", "mystream", "grp", "SILENT", "IDS", "2", "3-0", "4-0",
        ],
    );
    q(
        &mut c,
        &[
            "XNACK",
            "mystream",
            "grp",
            "FAIL",
            "IDS",
            "1",
            "5-0",
            "RETRYCOUNT",
            "42",
        ],
    );
    q(&mut c, &["DEL", "forced"]);
    for i in 1..=3 {
        q(&mut c, &["XADD", "forced", &format!("{i}-0"), "f", "v"]);
    }
    ok(&mut c, &["XGROUP", "CREATE", "forced", "grp", "0"]);
    q(
        &mut c,
        &["XNACK", "forced", "grp", "FAIL", "IDS", "1", "1-0", "FORCE"],
    );
    q(
        &mut c,
        &[
            "XNACK", "forced", "grp", "FATAL", "IDS", "1", "2-0", "FORCE",
        ],
    );
    q(
        &mut c,
        &[
            "XNACK",
            "forced",
            "grp",
            "SILENT",
            "IDS",
            "1",
            "3-0",
            "RETRYCOUNT",
            "33",
            "FORCE",
        ],
    );
    let strip = |v: Vec<(String, String, i64, i64)>| -> Vec<(String, String, i64, i64)> {
        v.into_iter()
            .map(|(i, o, idle, n)| (i, o.clone(), if o.is_empty() { idle } else { 0 }, n))
            .collect()
    };
    let before = strip(pel(&mut c, "mystream", "grp", None));
    let before_forced = pel(&mut c, "forced", "grp", None);
    assert_eq!(
        before_forced,
        [
            row("1-0", "", -1, 0),
            row("2-0", "", -1, LLONG_MAX),
            row("3-0", "", -1, 33)
        ]
    );
    assert_eq!(before.len(), 66);
    assert_eq!(before[0].3, LLONG_MAX);
    assert_eq!(before[65].1, "c1");
    // The claim order: the zone in release order.
    let order = |c: &mut RawConn| -> Vec<String> {
        let r = q(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "grp",
                "probe",
                "COUNT",
                "6",
                "CLAIM",
                "0",
                "STREAMS",
                "mystream",
                ">",
            ],
        );
        ids(&first_stream(&r).1)
    };
    let restart = |srv: DirServer| -> DirServer {
        srv.shutdown();
        DirServer::ferrymq(dir.path(), &args)
    };
    let srv = restart(srv);
    let mut c = srv.raw();
    assert_eq!(strip(pel(&mut c, "mystream", "grp", None)), before);
    assert_eq!(pel(&mut c, "forced", "grp", None), before_forced);
    q(&mut c, &["BGREWRITEAOF"]);
    assert!(wait_for(Duration::from_secs(20), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
    }));
    let srv = restart(srv);
    let mut c = srv.raw();
    assert_eq!(strip(pel(&mut c, "mystream", "grp", None)), before);
    assert_eq!(pel(&mut c, "forced", "grp", None), before_forced);
    assert_eq!(order(&mut c), ["6-0", "7-0", "8-0", "9-0", "10-0", "11-0"]);
    assert_eq!(
        q(
            &mut c,
            &["XCLAIM", "forced", "grp", "c1", "0", "1-0", "2-0", "3-0"]
        )
        .arr()
        .len(),
        3
    );
}

// ---------------------------------------------------------------------------
// The command table

/// COMMAND INFO / COMMAND DOCS / ACL categories of the new commands (from their redis.io
/// pages: arity, flags, key positions, summary, since).
#[test]
fn command_table_entries() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let infos = q(&mut c, &["COMMAND", "INFO", "xcfgset", "xnack"]);
    let xcfgset = infos.arr()[0].arr();
    assert_eq!((xcfgset[0].s(), xcfgset[1].int()), ("xcfgset".into(), -2));
    let flags: Vec<String> = xcfgset[2].arr().iter().map(V::s).collect();
    assert_eq!(flags, ["write", "fast"]);
    assert_eq!(
        (xcfgset[3].int(), xcfgset[4].int(), xcfgset[5].int()),
        (1, 1, 1)
    );
    let cats: Vec<String> = xcfgset[6].arr().iter().map(V::s).collect();
    assert_eq!(cats, ["@write", "@stream", "@fast"]);
    let xnack = infos.arr()[1].arr();
    assert_eq!((xnack[0].s(), xnack[1].int()), ("xnack".into(), -7));
    let cats: Vec<String> = xnack[6].arr().iter().map(V::s).collect();
    assert_eq!(cats, ["@write", "@stream", "@fast"]);
    let docs = q(&mut c, &["COMMAND", "DOCS", "xnack", "xcfgset"]);
    let xnack_docs = docs.field("xnack");
    assert_eq!(xnack_docs.field("since").s(), "8.8.0");
    assert_eq!(xnack_docs.field("arguments").arr().len(), 6);
    assert_eq!(docs.field("xcfgset").field("since").s(), "8.6.0");
    let cat = q(&mut c, &["ACL", "CAT", "stream"]);
    let names: Vec<String> = cat.arr().iter().map(V::s).collect();
    assert!(names.contains(&"xnack".to_string()) && names.contains(&"xcfgset".to_string()));
}

/// The keyspace events of the new commands, in order. XADD IDMP raises `xadd` only when it
/// adds an entry; a CLAIM read raises only `xgroup-createconsumer` for a consumer it creates
/// (claims raise none, as XCLAIM's do); XCFGSET raises `xcfgset` and XNACK `xnack` when it
/// releases something (the names follow Redis's one-event-per-command style).
#[test]
fn keyspace_events() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    ok(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut lis = srv.raw();
    lis.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    let mut n = 0;
    let mut events = |c: &mut RawConn, args: &[&str]| -> Vec<String> {
        q(c, args);
        n += 1;
        let marker = format!("sync-{n}");
        q(c, &["PUBLISH", "__keyevent@0__:sync", &marker]);
        let mut out = Vec::new();
        loop {
            let m = parse(&lis.read_reply());
            let channel = m.arr()[2].s();
            if channel.ends_with(":sync") {
                assert_eq!(m.arr()[3].s(), marker);
                return out;
            }
            out.push(channel.trim_start_matches("__keyevent@0__:").to_string());
        }
    };
    assert_eq!(
        events(&mut c, &["XADD", "s", "IDMP", "p", "i", "*", "f", "v"]),
        ["xadd"]
    );
    assert!(events(&mut c, &["XADD", "s", "IDMP", "p", "i", "*", "f", "v"]).is_empty());
    assert_eq!(
        events(&mut c, &["XCFGSET", "s", "IDMP-DURATION", "5"]),
        ["xcfgset"]
    );
    assert_eq!(
        events(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]),
        ["xgroup-create"]
    );
    assert_eq!(
        events(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]
        ),
        ["xgroup-createconsumer"]
    );
    assert_eq!(
        events(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c2",
                "CLAIM",
                "0",
                "STREAMS",
                "s",
                ">"
            ]
        ),
        ["xgroup-createconsumer"]
    );
    assert!(
        events(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c2",
                "CLAIM",
                "0",
                "STREAMS",
                "s",
                ">"
            ]
        )
        .is_empty()
    );
    assert!(events(&mut c, &["XNACK", "s", "g", "FAIL", "IDS", "1", "9-9"]).is_empty());
    let id = q(&mut c, &["XRANGE", "s", "-", "+"]).arr()[0].arr()[0].s();
    assert_eq!(
        events(&mut c, &["XNACK", "s", "g", "FAIL", "IDS", "1", &id]),
        ["xnack"]
    );
}

/// A blocked CLAIM read with the largest min-idle-time (its wake-up time is past what the
/// timers count in) still ends at its timeout with a null reply.
#[test]
fn claim_block_with_largest_min_idle_times_out() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    q(&mut c, &["XADD", "mystream", "1-0", "f", "v1"]);
    ok(&mut c, &["XGROUP", "CREATE", "mystream", "group1", "0"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    let start = std::time::Instant::now();
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "BLOCK",
            "300",
            "CLAIM",
            "9223372036854775807",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(r, V::Nil);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(pel(&mut c, "mystream", "group1", None)[0].1 == "consumer1");
}

/// Beyond "XREADGROUP CLAIM when pending messages get trimmed": a pending entry deleted from
/// the stream leaves the pending list when a CLAIM read meets it, and does not count against
/// COUNT (the read takes the next claimable entry instead).
#[test]
fn claim_skips_deleted_entries_without_counting_them() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    three_entries(&mut c);
    q(&mut c, &["XADD", "mystream", "4-0", "f", "v4"]);
    q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    for (id, ms) in [("1-0", 4000), ("2-0", 3000), ("3-0", 2000), ("4-0", 1000)] {
        age(&mut c, "mystream", "group1", "consumer1", &[id], ms);
    }
    q(&mut c, &["XDEL", "mystream", "1-0", "2-0"]);
    let r = q(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer2",
            "COUNT",
            "2",
            "CLAIM",
            "500",
            "STREAMS",
            "mystream",
            ">",
        ],
    );
    assert_eq!(ids(&first_stream(&r).1), ["3-0", "4-0"]);
    assert_eq!(
        ids_of(&pel(&mut c, "mystream", "group1", None)),
        ["3-0", "4-0"]
    );
}

/// "CONFIG SET stream-idmp-duration and stream-idmp-maxsize validation" and "XINFO STREAM
/// returns idmp-duration and idmp-maxsize fields" (the defaults a stream starts with come from
/// the server's configuration); and the AOF replays the settings a stream started with, not
/// the replaying server's defaults.
#[test]
fn idmp_server_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    for (name, bad) in [
        ("stream-idmp-duration", "86401"),
        ("stream-idmp-duration", "100000"),
        ("stream-idmp-duration", "0"),
        ("stream-idmp-duration", "-1"),
        ("stream-idmp-maxsize", "10001"),
        ("stream-idmp-maxsize", "0"),
        ("stream-idmp-maxsize", "-100"),
    ] {
        let e = err(&mut c, &["CONFIG", "SET", name, bad]);
        assert!(e.contains("must be between"), "{name} {bad}: {e}");
    }
    for (name, v) in [
        ("stream-idmp-duration", "86400"),
        ("stream-idmp-maxsize", "10000"),
        ("stream-idmp-duration", "1"),
        ("stream-idmp-maxsize", "1"),
        ("stream-idmp-duration", "100"),
        ("stream-idmp-maxsize", "100"),
    ] {
        ok(&mut c, &["CONFIG", "SET", name, v]);
        assert_eq!(q(&mut c, &["CONFIG", "GET", name]).arr()[1].s(), v);
    }
    ok(&mut c, &["CONFIG", "SET", "stream-idmp-duration", "50"]);
    ok(&mut c, &["CONFIG", "SET", "stream-idmp-maxsize", "7"]);
    q(
        &mut c,
        &[
            "XADD", "mystream", "IDMP", "p1", "req-1", "*", "field", "value1",
        ],
    );
    q(&mut c, &["XADD", "other", "*", "f", "v"]);
    ok(&mut c, &["XCFGSET", "other", "IDMP-MAXSIZE", "9"]);
    let check = |c: &mut RawConn| {
        let inf = info(c, "mystream");
        assert_eq!(
            (inf.field("idmp-duration"), inf.field("idmp-maxsize")),
            (V::Int(50), V::Int(7))
        );
        let inf = info(c, "other");
        assert_eq!(
            (inf.field("idmp-duration"), inf.field("idmp-maxsize")),
            (V::Int(50), V::Int(9))
        );
    };
    check(&mut c);
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "stream-idmp-duration"]).arr()[1].s(),
        "100"
    );
    check(&mut c);
}
