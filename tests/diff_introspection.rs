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

/// DEBUG OBJECT's line with the address and LRU fields blanked (they depend on the process).
fn debug_object_norm(r: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(r);
    s.split(' ')
        .map(|w| {
            for f in ["at:", "lru:", "lru_seconds_idle:"] {
                if let Some(rest) = w.strip_prefix(f) {
                    let tail = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
                    return format!("{f}_{tail}");
                }
            }
            w.to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
}

/// DEBUG OBJECT: refused without enable-debug-command (same text as Redis), then the same
/// fields, encodings, refcounts and (for these small values) serialized lengths and quicklist
/// layout as redis-server.
#[test]
fn debug_object_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["SET", "s", "hello"]);
    d.cmd(&["DEBUG", "OBJECT", "s"]);
    drop(d);
    let Some(mut d) = Diff::with_args(&["--enable-debug-command", "yes"]) else {
        return;
    };
    d.script(&[
        &["SET", "s", "hello"],
        &["SET", "n", "12345"],
        &["SET", "m", "5"],
        &["SET", "raw", &"r".repeat(50)],
        &[
            "RPUSH",
            "l",
            "a",
            "b",
            "1",
            "300",
            "-5000",
            "70000",
            "9999999999",
        ],
        &["HSET", "h", "a", "1", "field", "value"],
        &["SADD", "ints", "1", "2", "-40000"],
        &["SADD", "strs", "a", "b"],
        &["DEBUG", "OBJECT", "nokey"],
        &["DEBUG", "OBJECT"],
        &["DEBUG", "OBJECT", "a", "b"],
        &["OBJECT", "REFCOUNT", "n"],
        &["OBJECT", "REFCOUNT", "m"],
    ]);
    for k in ["s", "n", "m", "l", "h", "ints", "strs"] {
        d.cmd_norm(&["DEBUG", "OBJECT", k], debug_object_norm);
    }
    // A list of several nodes (Redis fixes a list's compression when it creates it).
    d.cmd(&["CONFIG", "SET", "list-compress-depth", "1"]);
    let big = "x".repeat(1000);
    for _ in 0..20 {
        d.cmd(&["RPUSH", "biglist", &big]);
    }
    let r = d.redis.cmd(&["DEBUG", "OBJECT", "biglist"]);
    let f = d.ferry.cmd(&["DEBUG", "OBJECT", "biglist"]);
    let layout = |r: &[u8]| {
        let s = String::from_utf8_lossy(r).into_owned();
        s[s.find("ql_nodes").expect("ql fields")..].to_string()
    };
    assert_eq!(layout(&r), layout(&f));
}

/// LOLWUT: Redis 7.0's own version prints only the version (compared byte for byte); the
/// drawings of versions 5 and 6 are random, so their size, their deterministic top rows
/// (version 5) and their captions are compared.
#[test]
fn lolwut_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["COMMAND", "INFO", "LOLWUT"]);
    d.cmd(&["LOLWUT"]);
    // RESP3: a verbatim string.
    d.resp3();
    d.script(&[
        &["LOLWUT"],
        &["LOLWUT", "1", "2", "3"],
        &["LOLWUT", "VERSION", "7"],
        &["LOLWUT", "VERSION"],
        &["LOLWUT", "VERSION", "x"],
        &["LOLWUT", "VERSION", "-1"],
        &["LOLWUT", "VERSION", "4"],
        &["LOLWUT", "VERSION", "5", "x"],
        &["LOLWUT", "VERSION", "6", "10", "x"],
        &["LOLWUT", "VERSION", "5", "0", "0", "0"],
        &["LOLWUT", "VERSION", "6", "1", "1"],
    ]);
    let lines = |r: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(r)
            .lines()
            .map(str::to_string)
            .collect()
    };
    for args in [
        &["LOLWUT", "VERSION", "5"][..],
        &["LOLWUT", "VERSION", "5", "30", "4", "3"],
    ] {
        let r = lines(&d.redis.cmd(args));
        let f = lines(&d.ferry.cmd(args));
        assert_eq!(r.len(), f.len(), "{args:?}");
        // The first rows of squares are neither rotated nor moved.
        assert_eq!(r[..4], f[..4], "{args:?}");
        assert_eq!(r.last(), f.last(), "{args:?}");
    }
    for args in [
        &["LOLWUT", "VERSION", "6"][..],
        &["LOLWUT", "VERSION", "6", "30", "7"],
    ] {
        let r = lines(&d.redis.cmd(args));
        let f = lines(&d.ferry.cmd(args));
        assert_eq!(r.len(), f.len(), "{args:?}");
        let cells = |l: &String| l.matches("\x1b[0m").count();
        for (a, b) in r.iter().zip(&f) {
            assert_eq!(cells(a), cells(b), "{args:?}");
        }
        assert_eq!(r[r.len() - 2..], f[f.len() - 2..], "{args:?}");
    }
}
