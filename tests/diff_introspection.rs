//! Differential tests of the introspection commands against redis-server: MONITOR's lines,
//! DEBUG OBJECT, LOLWUT, INFO latencystats, CLIENT LIST's buffer fields.

mod common;
use common::{Diff, RawConn};
use std::time::Duration;

/// A MONITOR line without its timestamp and client port (they differ between the servers).
fn monitor_line(frame: &[u8]) -> String {
    let s = String::from_utf8_lossy(frame).into_owned();
    let s = s
        .split_once(' ')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(s);
    match (s.find(':'), s.find(']')) {
        (Some(c), Some(b)) if c < b && s.starts_with("[") => format!("{}{}", &s[..c], &s[b..]),
        _ => s,
    }
}

fn monitor_lines(conn: &mut RawConn) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(f) = conn.try_read_reply(Duration::from_millis(300)) {
        out.push(monitor_line(&f));
    }
    out
}

/// What MONITOR shows: each command once it has run, in the database it left selected; the
/// commands a script or function runs as `[db lua]`, after the EVAL/FCALL line; EXEC after the
/// commands it ran; no ADMIN command.
#[test]
fn monitor_lines_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    let mut mon_r = d.rs.raw();
    let mut mon_f = d.fm.raw();
    for m in [&mut mon_r, &mut mon_f] {
        assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    }
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mlib\nredis.register_function('mf', function(k, a) \
         return redis.call('ping') end)",
    ]);
    d.script(&[
        &["MULTI"],
        &["SET", "a", "1"],
        &["SELECT", "4"],
        &["GET", "a"],
        &["EXEC"],
        &["CONFIG", "GET", "maxmemory"],
        &["BLPOP", "nolist", "0.01"],
        &["CLIENT", "SETNAME", "x"],
        &[
            "EVAL",
            "redis.call('select',5) redis.call('set','z',1) return redis.call('get','a')",
            "0",
        ],
        &["EVAL", "return redis.call('config','get','maxmemory')", "0"],
        &["EVAL", "return 1", "-1"],
        &["FCALL", "mf", "0"],
        &["SELECT", "9"],
        &["SET", "k\n\"", "\x01"],
        &["MULTI"],
        &["EVAL", "return redis.call('ping')", "0"],
        &["EXEC"],
    ]);
    let r = monitor_lines(&mut mon_r);
    let f = monitor_lines(&mut mon_f);
    assert!(r.iter().any(|l| l.contains("[5 lua] \"set\"")), "{r:?}");
    assert_eq!(r, f);
}
