//! Hashes, sets and sorted sets through the AOF: written with `appendonly yes`, the server is
//! restarted on the same directory and the content (HGETALL, SMEMBERS, ZRANGE WITHSCORES,
//! expiry times) must be identical; also across a rewrite, inside MULTI/EXEC, for commands
//! whose effect differs from the request (SPOP, HINCRBYFLOAT, ZINCRBY, served BZPOPMIN), and
//! compared with what redis-server holds after the same writes and its own restart.

mod common;

use common::{DirServer as Proc, RawConn, info_field, wait_for};
use std::path::Path;
use std::time::Duration;

/// ferrymq with `appendfsync always`, so a SIGKILL loses nothing that was acknowledged.
fn ferrymq(dir: &Path) -> Proc {
    Proc::ferrymq(dir, &["--appendonly", "yes", "--appendfsync", "always"])
}

fn redis(dir: &Path) -> Option<Proc> {
    Proc::redis(dir, &["--appendonly", "yes"])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The elements of a RESP2 array of bulk strings (binary-safe).
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    fn line(b: &[u8], at: &mut usize) -> String {
        let end = *at
            + b[*at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("CRLF");
        let s = text(&b[*at + 1..end]);
        *at = end + 2;
        s
    }
    assert_eq!(reply.first(), Some(&b'*'), "not an array: {}", text(reply));
    let mut at = 0;
    let n: i64 = line(reply, &mut at).parse().unwrap();
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let len: usize = line(reply, &mut at).parse().unwrap();
        out.push(reply[at..at + len].to_vec());
        at += len + 2;
    }
    out
}

fn ok(r: Vec<u8>) {
    assert!(!r.starts_with(b"-"), "{}", text(&r));
}

/// Hashes, sets and sorted sets in databases 0 and 1 with absolute expiries: only commands
/// whose outcome is deterministic, so redis-server ends up with the same content.
fn write_types(c: &mut RawConn) {
    let big: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let nums: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    let script: Vec<Vec<String>> = vec![
        vec!["HSET", "h", "a", "1", "b", "two", "bin\r\nf", "v\0al"],
        vec!["HSETNX", "h", "a", "x"],
        vec!["HSETNX", "h", "c", "3"],
        vec!["HDEL", "h", "b", "nope"],
        vec!["HINCRBY", "h", "a", "41"],
        vec!["HINCRBYFLOAT", "h", "f", "0.1"],
        vec!["HINCRBYFLOAT", "h", "f", "1e3"],
        vec!["HMSET", "h2", "x", "1"],
        vec!["HDEL", "h2", "x"],
        vec!["PEXPIREAT", "h", "99999999999001"],
        vec!["SADD", "s", "a", "b", "c", "bin\0m"],
        vec!["SREM", "s", "b"],
        vec!["SADD", "si", "1", "2", "3"],
        vec!["SADD", "si", "x"],
        vec!["SMOVE", "s", "t", "a"],
        vec!["SMOVE", "s", "si", "c"],
        vec!["SADD", "u", "2", "3", "4"],
        vec!["SINTERSTORE", "inter", "si", "u"],
        vec!["SUNIONSTORE", "union", "si", "u", "t"],
        vec!["SDIFFSTORE", "diff", "si", "u"],
        vec!["SDIFFSTORE", "empty", "u", "u"],
        vec!["EXPIREAT", "union", "99999999999"],
        vec![
            "ZADD", "z", "1", "a", "2.5", "b", "-inf", "lo", "+inf", "hi",
        ],
        vec!["ZADD", "z", "XX", "CH", "3", "a"],
        vec!["ZADD", "z", "NX", "9", "a", "0.1", "c"],
        vec!["ZADD", "z", "GT", "1", "b"],
        vec!["ZADD", "z", "INCR", "0.2", "c"],
        vec!["ZINCRBY", "z", "1e-3", "c"],
        vec!["ZREM", "z", "b"],
        vec!["ZADD", "z2", "1", "x", "2", "y", "3", "w"],
        vec!["ZREMRANGEBYSCORE", "z2", "3", "3"],
        vec!["ZPOPMIN", "z2"],
        vec!["ZUNIONSTORE", "zu", "2", "z", "z2", "WEIGHTS", "2", "3"],
        vec!["ZINTERSTORE", "zi", "2", "z", "zu", "AGGREGATE", "MAX"],
        vec!["ZRANGESTORE", "zr", "z", "0", "1"],
        vec!["ZADD", "zl", "0", "b", "0", "a", "0", "c"],
        vec!["ZREMRANGEBYLEX", "zl", "[c", "+"],
        vec!["PEXPIREAT", "zl", "99999999999002"],
        vec!["SELECT", "1"],
        vec!["HSET", "h", "db", "1"],
        vec!["SADD", "s", "db1"],
        vec!["ZADD", "z", "1", "db1"],
        vec!["SELECT", "0"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for cmd in &script {
        ok(c.cmd(cmd));
    }
    // Containers past the small encodings (listpack / intset limits), then shrunk again.
    let mut hset = vec!["HSET".to_string(), "hbig".into()];
    let mut sadd = vec!["SADD".to_string(), "sbig".into()];
    let mut zadd = vec!["ZADD".to_string(), "zbig".into()];
    for (i, m) in big.iter().enumerate() {
        hset.extend([m.clone(), i.to_string()]);
        sadd.push(m.clone());
        zadd.extend([i.to_string(), m.clone()]);
    }
    ok(c.cmd(&hset));
    ok(c.cmd(&sadd));
    ok(c.cmd(&zadd));
    let mut ints = vec!["SADD".to_string(), "ibig".into()];
    ints.extend(nums.iter().cloned());
    ok(c.cmd(&ints));
    ok(c.cmd(&["ZREMRANGEBYRANK", "zbig", "0", "289"]));
    ok(c.cmd(&["SREM", "ibig", "0", "1", "2"]));
}

/// Everything observable about databases 0..2: per key its type, content (members sorted
/// where the order is a hash table's) and absolute expiry.
fn dump(c: &mut RawConn) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..3 {
        c.cmd(&["SELECT", &db.to_string()]);
        let mut keys = bulks(&c.cmd(&["KEYS", "*"]));
        keys.sort();
        for k in keys {
            let t = text(&c.cmd(&[&b"TYPE"[..], &k[..]]));
            let content = match t.as_str() {
                "+hash\r\n" => {
                    let flat = bulks(&c.cmd(&[&b"HGETALL"[..], &k[..]]));
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = flat
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    pairs.sort();
                    format!("{pairs:?}")
                }
                "+set\r\n" => {
                    let mut m = bulks(&c.cmd(&[&b"SMEMBERS"[..], &k[..]]));
                    m.sort();
                    format!("{m:?}")
                }
                "+zset\r\n" => text(&c.cmd(&[&b"ZRANGE"[..], &k[..], b"0", b"-1", b"WITHSCORES"])),
                "+string\r\n" => text(&c.cmd(&[&b"GET"[..], &k[..]])),
                other => other.to_string(),
            };
            let exp = text(&c.cmd(&[&b"PEXPIRETIME"[..], &k[..]]));
            out.push(format!("{db} {} {t} {content} {exp}", text(&k)));
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

fn wait_rewrite_done(c: &mut RawConn) {
    assert!(wait_for(Duration::from_secs(20), || {
        info_field(c, "aof_rewrite_in_progress").as_deref() == Some("0")
            && info_field(c, "aof_rewrite_scheduled").as_deref() != Some("1")
    }));
}

/// The text of every AOF file of `dir` (base and increments), for checks on what was logged.
fn aof_text(dir: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "aof"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| text(&std::fs::read(p).unwrap()))
        .collect()
}

#[test]
fn hashes_sets_zsets_survive_restart_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrymq(dir.path());
    let mut c = s.raw();
    write_types(&mut c);
    let written = dump(&mut c);
    assert!(written.len() >= 20, "{written:?}");
    s.shutdown();

    let s = ferrymq(dir.path());
    let mut c = s.raw();
    assert_eq!(dump(&mut c), written, "after a restart");
    ok(c.cmd(&["BGREWRITEAOF"]));
    wait_rewrite_done(&mut c);
    // More changes on top of the rewritten base.
    ok(c.cmd(&["HSET", "h", "after", "rewrite"]));
    ok(c.cmd(&["SREM", "sbig", "m7"]));
    ok(c.cmd(&["ZINCRBY", "zbig", "0.5", "m299"]));
    let written = dump(&mut c);
    s.shutdown();

    let s = ferrymq(dir.path());
    let mut c = s.raw();
    assert_eq!(dump(&mut c), written, "after a rewrite and a restart");
}

/// Relative TTLs are logged as absolute times, so the expiry instant survives the restart.
#[test]
fn relative_ttls_replay_as_the_same_instant() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrymq(dir.path());
    let mut c = s.raw();
    ok(c.cmd(&["HSET", "h", "f", "v"]));
    ok(c.cmd(&["EXPIRE", "h", "5000"]));
    ok(c.cmd(&["SADD", "s", "m"]));
    ok(c.cmd(&["PEXPIRE", "s", "7000000"]));
    ok(c.cmd(&["ZADD", "z", "1", "m"]));
    ok(c.cmd(&["EXPIRE", "z", "100"]));
    ok(c.cmd(&["PERSIST", "z"]));
    ok(c.cmd(&["SADD", "gone", "m"]));
    ok(c.cmd(&["PEXPIRE", "gone", "1"]));
    // Past its TTL before the dump: logged as PEXPIREAT, gone after the replay too.
    std::thread::sleep(Duration::from_millis(10));
    let before = dump(&mut c);
    assert!(
        !before.iter().any(|l| l.starts_with("0 gone ")),
        "{before:?}"
    );
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("0 h ") && !l.ends_with(":-1\r\n"))
    );
    s.shutdown();
    let s = ferrymq(dir.path());
    assert_eq!(dump(&mut s.raw()), before);
}

/// Commands whose request would not replay to the same result are logged as their effect:
/// SPOP's random members, float increments, a BZPOPMIN served by a later ZADD.
#[test]
fn effects_not_requests() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrymq(dir.path());
    let mut c = s.raw();
    let members: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let mut sadd = vec!["SADD".to_string(), "s".into()];
    sadd.extend(members);
    ok(c.cmd(&sadd));
    ok(c.cmd(&["SPOP", "s", "7"]));
    ok(c.cmd(&["SPOP", "s"]));
    ok(c.cmd(&["HINCRBYFLOAT", "h", "f", "0.1"]));
    ok(c.cmd(&["HINCRBYFLOAT", "h", "f", "0.2"]));
    ok(c.cmd(&["ZINCRBY", "z", "0.1", "m"]));
    ok(c.cmd(&["ZINCRBY", "z", "0.2", "m"]));
    let mut blocked = s.raw();
    blocked.send(&["BZPOPMIN", "q", "0"]);
    assert!(wait_for(Duration::from_secs(5), || {
        info_field(&mut c, "blocked_clients").as_deref() == Some("1")
    }));
    ok(c.cmd(&["ZADD", "q", "1", "a", "2", "b"]));
    assert!(text(&blocked.read_reply()).contains("a"));
    let before = dump(&mut c);
    s.kill9();
    let log = aof_text(dir.path());
    assert!(!log.contains("SPOP"), "{log}");
    assert!(!log.contains("HINCRBYFLOAT"), "{log}");
    assert!(
        log.contains("ZPOPMIN") && !log.contains("BZPOPMIN"),
        "{log}"
    );
    let s = ferrymq(dir.path());
    assert_eq!(dump(&mut s.raw()), before);
}

/// A transaction over hashes, sets and sorted sets is logged as one MULTI ... EXEC block and
/// replays to the same content.
#[test]
fn transaction_of_types_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrymq(dir.path());
    let mut c = s.raw();
    ok(c.cmd(&["SADD", "pending", "j1", "j2", "j3"]));
    ok(c.cmd(&["WATCH", "pending"]));
    ok(c.cmd(&["MULTI"]));
    for cmd in [
        &["SREM", "pending", "j1"][..],
        &["ZADD", "running", "1700000000", "j1"],
        &["HSET", "job:j1", "status", "running", "tries", "1"],
        &["HINCRBY", "job:j1", "tries", "1"],
        &["SPOP", "pending"],
        &["ZINCRBY", "running", "0.5", "j1"],
        &["PEXPIREAT", "job:j1", "99999999999000"],
        &["HDEL", "job:j1", "missing"],
    ] {
        assert_eq!(c.cmd(cmd), b"+QUEUED\r\n");
    }
    let reply = text(&c.cmd(&["EXEC"]));
    assert!(reply.starts_with("*8\r\n"), "{reply}");
    let before = dump(&mut c);
    s.kill9();
    let log = aof_text(dir.path());
    let multi = log.find("MULTI").expect("MULTI logged");
    let exec = log.rfind("EXEC").expect("EXEC logged");
    assert!(
        multi < exec && log[multi..exec].contains("HINCRBY"),
        "{log}"
    );
    let s = ferrymq(dir.path());
    assert_eq!(dump(&mut s.raw()), before);
}

/// The same writes on redis-server (appendonly yes, restarted on its directory) and on
/// ferrymq end in the same content.
#[test]
fn same_content_as_redis_after_restarts() {
    let rdir = tempfile::tempdir().unwrap();
    let Some(r) = redis(rdir.path()) else {
        return;
    };
    let fdir = tempfile::tempdir().unwrap();
    let f = ferrymq(fdir.path());
    write_types(&mut r.raw());
    write_types(&mut f.raw());
    r.shutdown();
    f.shutdown();
    let r = redis(rdir.path()).expect("redis");
    let f = ferrymq(fdir.path());
    let (rd, fd) = (dump(&mut r.raw()), dump(&mut f.raw()));
    assert!(rd.len() >= 20, "{rd:#?}");
    assert_eq!(rd.len(), fd.len(), "redis {rd:#?}\nferrymq {fd:#?}");
    for (a, b) in rd.iter().zip(&fd) {
        assert_eq!(a, b);
    }
}
