//! Redis 8.2's reference-aware deletion for streams: XDELEX, XACKDEL, and the KEEPREF / DELREF
//! / ACKED options of XADD and XTRIM. Specified by the redis.io pages of these commands (the
//! 8.x test suite is not available here); each test names the behaviour it pins.

mod common;
use common::{DirServer, RawConn, Server};

fn s(r: &[u8]) -> String {
    String::from_utf8_lossy(r).into_owned()
}

/// `*N` of integer replies as a Vec.
fn ints(r: &[u8]) -> Vec<i64> {
    let t = s(r);
    let mut lines = t.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*'), "not an array: {t:?}");
    lines
        .filter(|l| l.starts_with(':'))
        .map(|l| l[1..].parse().unwrap())
        .collect()
}

fn setup(c: &mut RawConn) {
    for id in ["1-0", "2-0", "3-0", "4-0"] {
        c.cmd(&["XADD", "s", id, "f", id]);
    }
    c.cmd(&["XGROUP", "CREATE", "s", "g1", "0"]);
    c.cmd(&["XGROUP", "CREATE", "s", "g2", "0"]);
    // g1 has 1-0..3-0 pending; g2 has 1-0 pending.
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "c",
        "COUNT",
        "3",
        "STREAMS",
        "s",
        ">",
    ]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g2",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
}

fn pending(c: &mut RawConn, g: &str) -> i64 {
    let r = s(&c.cmd(&["XPENDING", "s", g]));
    r.split("\r\n").nth(1).unwrap()[1..].parse().unwrap()
}

fn xlen(c: &mut RawConn) -> i64 {
    s(&c.cmd(&["XLEN", "s"])).trim()[1..].parse().unwrap()
}

/// XDELEX: -1 for a missing ID, 1 deleted, 2 kept by ACKED because a group still needs it
/// (pending somewhere, or not yet delivered to some group).
#[test]
fn xdelex_codes_per_id() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    setup(&mut c);
    // 1-0 pending in both, 4-0 undelivered: both kept; 9-0 missing.
    assert_eq!(
        ints(&c.cmd(&["XDELEX", "s", "ACKED", "IDS", "3", "1-0", "4-0", "9-0"])),
        [2, 2, -1]
    );
    assert_eq!(xlen(&mut c), 4);
    // KEEPREF (the default) deletes and leaves the pending lists alone.
    assert_eq!(ints(&c.cmd(&["XDELEX", "s", "IDS", "1", "2-0"])), [1]);
    assert_eq!(pending(&mut c, "g1"), 3);
    // DELREF deletes and removes the entry from every pending list.
    assert_eq!(
        ints(&c.cmd(&["XDELEX", "s", "DELREF", "IDS", "1", "1-0"])),
        [1]
    );
    assert_eq!(pending(&mut c, "g1"), 2);
    assert_eq!(pending(&mut c, "g2"), 0);
    // DELREF on an ID already gone still clears dangling references, and answers -1.
    assert_eq!(
        ints(&c.cmd(&["XDELEX", "s", "DELREF", "IDS", "1", "2-0"])),
        [-1]
    );
    assert_eq!(pending(&mut c, "g1"), 1);
    // A missing key answers -1 per ID.
    assert_eq!(
        ints(&c.cmd(&["XDELEX", "nokey", "IDS", "2", "1-0", "2-0"])),
        [-1, -1]
    );
    // The IDS block may come before the option.
    assert_eq!(
        ints(&c.cmd(&["XDELEX", "s", "IDS", "1", "3-0", "ACKED"])),
        [2]
    );
}

/// XACKDEL: -1 when the ID is not pending in the group, 1 acknowledged and deleted, 2
/// acknowledged but kept by ACKED for another group.
#[test]
fn xackdel_acknowledges_then_deletes_by_policy() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    setup(&mut c);
    // 1-0 is still pending in g2: acknowledged in g1, kept.
    assert_eq!(
        ints(&c.cmd(&["XACKDEL", "s", "g1", "ACKED", "IDS", "2", "1-0", "4-0"])),
        [2, -1]
    );
    assert_eq!(pending(&mut c, "g1"), 2);
    assert_eq!(xlen(&mut c), 4);
    // Once g2 acknowledges it too, ACKED deletes it.
    assert_eq!(
        ints(&c.cmd(&["XACKDEL", "s", "g2", "ACKED", "IDS", "1", "1-0"])),
        [1]
    );
    assert_eq!(xlen(&mut c), 3);
    // KEEPREF: 2-0 deleted although g2 has not read it.
    assert_eq!(
        ints(&c.cmd(&["XACKDEL", "s", "g1", "IDS", "1", "2-0"])),
        [1]
    );
    assert_eq!(xlen(&mut c), 2);
    // Unknown group or key: -1 per ID.
    assert_eq!(
        ints(&c.cmd(&["XACKDEL", "s", "nogroup", "IDS", "1", "3-0"])),
        [-1]
    );
    assert_eq!(
        ints(&c.cmd(&["XACKDEL", "nokey", "g1", "IDS", "1", "3-0"])),
        [-1]
    );
}

/// Argument errors, checked before anything changes.
#[test]
fn ids_block_errors() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    setup(&mut c);
    for (args, err) in [
        (
            vec!["XDELEX", "s", "IDS", "0", "1-0"],
            "-ERR Number of IDs must be a positive integer",
        ),
        (
            vec!["XDELEX", "s", "IDS", "-1", "1-0"],
            "-ERR Number of IDs must be a positive integer",
        ),
        (
            vec!["XDELEX", "s", "IDS", "x", "1-0"],
            "-ERR Number of IDs must be a positive integer",
        ),
        (
            vec!["XDELEX", "s", "IDS", "3", "1-0"],
            "-ERR The `numids` parameter must match the number of arguments",
        ),
        (
            vec!["XDELEX", "s", "FOO", "IDS", "1", "1-0"],
            "-ERR syntax error",
        ),
        (
            vec!["XDELEX", "s", "ACKED", "DELREF", "x", "y"],
            "-ERR syntax error",
        ),
        (
            vec!["XDELEX", "s", "IDS", "1", "bad"],
            "-ERR Invalid stream ID specified as stream command argument",
        ),
        (
            vec!["XACKDEL", "s", "g1", "IDS", "2", "1-0"],
            "-ERR The `numids` parameter must match the number of arguments",
        ),
        (
            vec!["XDELEX", "s", "IDS"],
            "-ERR wrong number of arguments for 'xdelex' command",
        ),
        (
            vec!["XACKDEL", "s", "g", "IDS", "1"],
            "-ERR wrong number of arguments for 'xackdel' command",
        ),
    ] {
        let r = s(&c.cmd(&args));
        assert!(r.starts_with(err), "{args:?}: {r:?}");
    }
    assert_eq!(xlen(&mut c), 4);
    assert_eq!(pending(&mut c, "g1"), 3);
    c.cmd(&["SET", "str", "v"]);
    assert!(s(&c.cmd(&["XDELEX", "str", "IDS", "1", "1-0"])).starts_with("-WRONGTYPE"));
}

/// XTRIM / XADD with DELREF drop the trimmed entries' references; with ACKED they trim only
/// entries no group needs, passing over the others.
#[test]
fn trimming_with_reference_policies() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    setup(&mut c);
    // g2 has delivered only 1-0, so nothing past it is free; 1-0 itself is pending.
    assert_eq!(s(&c.cmd(&["XTRIM", "s", "MAXLEN", "0", "ACKED"])), ":0\r\n");
    c.cmd(&["XACK", "s", "g2", "1-0"]);
    c.cmd(&["XREADGROUP", "GROUP", "g2", "c", "STREAMS", "s", ">"]);
    c.cmd(&["XACK", "s", "g2", "2-0", "3-0", "4-0"]);
    c.cmd(&["XACK", "s", "g1", "2-0"]);
    // Free now: 2-0 (acked by both); 1-0 and 3-0 are pending in g1, 4-0 undelivered to g1.
    assert_eq!(s(&c.cmd(&["XTRIM", "s", "MAXLEN", "0", "ACKED"])), ":1\r\n");
    let ids = s(&c.cmd(&["XRANGE", "s", "-", "+"]));
    assert!(ids.contains("1-0") && !ids.contains("2-0") && ids.contains("3-0"));
    // DELREF through XADD: trimming to 1 removes 1-0, 3-0, 4-0 and g1's references.
    assert_eq!(
        s(&c.cmd(&["XADD", "s", "DELREF", "MAXLEN", "1", "5-0", "f", "v"])),
        "$3\r\n5-0\r\n"
    );
    assert_eq!(xlen(&mut c), 1);
    assert_eq!(pending(&mut c, "g1"), 0);
    // KEEPREF keeps references (the 7.0 behaviour).
    c.cmd(&["XREADGROUP", "GROUP", "g1", "c", "STREAMS", "s", ">"]);
    c.cmd(&["XTRIM", "s", "MAXLEN", "0", "KEEPREF"]);
    assert_eq!(xlen(&mut c), 0);
    assert_eq!(pending(&mut c, "g1"), 1);
}

/// Everything is an effect: the state after a restart from the AOF equals the state before.
#[test]
fn reference_policies_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    setup(&mut c);
    c.cmd(&["XDELEX", "s", "DELREF", "IDS", "1", "2-0"]);
    c.cmd(&["XACKDEL", "s", "g2", "ACKED", "IDS", "1", "1-0"]);
    c.cmd(&["XACKDEL", "s", "g1", "IDS", "1", "1-0"]);
    c.cmd(&["XTRIM", "s", "MINID", "~", "9-0", "DELREF"]);
    c.cmd(&["XADD", "s", "ACKED", "MAXLEN", "0", "5-0", "f", "v"]);
    let state = |c: &mut RawConn| {
        (
            s(&c.cmd(&["XRANGE", "s", "-", "+"])),
            s(&c.cmd(&["XPENDING", "s", "g1"])),
            s(&c.cmd(&["XPENDING", "s", "g2"])),
        )
    };
    let before = state(&mut c);
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(state(&mut c), before);
    srv.shutdown();
}
