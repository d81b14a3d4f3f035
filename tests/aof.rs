//! AOF through real processes: restart round trips, SHUTDOWN/SIGTERM flushing, the files
//! redis-server 7 writes and reads (both ways), `ferrymq check-aof`, INFO persistence.

mod common;

use common::{DirServer as Proc, RawConn, free_port, wait_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// True when the server knows `cmd` (list and stream commands arrive on their own schedule).
fn supports(c: &mut RawConn, cmd: &str) -> bool {
    text(&c.cmd(&["COMMAND", "INFO", cmd])).contains(cmd)
}

/// Data of every type the server supports, in databases 0 and 2, with TTLs.
fn write_dataset(c: &mut RawConn, tag: &str) {
    let ok = |r: Vec<u8>| assert!(!r.starts_with(b"-"), "{}", text(&r));
    ok(c.cmd(&["SELECT", "0"]));
    ok(c.cmd(&["SET", &format!("s:{tag}"), "plain\r\nbinary\0value"]));
    ok(c.cmd(&["SET", &format!("ttl:{tag}"), "v", "PX", "5000000"]));
    ok(c.cmd(&["SET", &format!("gone:{tag}"), "v"]));
    ok(c.cmd(&["EXPIRE", &format!("gone:{tag}"), "7000"]));
    ok(c.cmd(&["INCRBY", &format!("n:{tag}"), "41"]));
    ok(c.cmd(&["INCR", &format!("n:{tag}")]));
    ok(c.cmd(&["SELECT", "2"]));
    ok(c.cmd(&["SET", &format!("db2:{tag}"), "two"]));
    ok(c.cmd(&["APPEND", &format!("db2:{tag}"), "+"]));
    if supports(c, "rpush") {
        ok(c.cmd(&["RPUSH", &format!("l:{tag}"), "a", "b", "c", "d"]));
        ok(c.cmd(&["LPOP", &format!("l:{tag}")]));
        ok(c.cmd(&["LPUSH", &format!("l:{tag}"), "z"]));
    }
    if supports(c, "xadd") && supports(c, "xreadgroup") {
        let s = format!("st:{tag}");
        ok(c.cmd(&["XADD", &s, "1-1", "f", "v1"]));
        ok(c.cmd(&["XADD", &s, "*", "f", "v2", "g", "w"]));
        ok(c.cmd(&["XADD", &s, "*", "f", "v3"]));
        ok(c.cmd(&["XGROUP", "CREATE", &s, "grp", "0"]));
        ok(c.cmd(&[
            "XREADGROUP",
            "GROUP",
            "grp",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            &s,
            ">",
        ]));
        ok(c.cmd(&["XACK", &s, "grp", "1-1"]));
        ok(c.cmd(&["XGROUP", "CREATECONSUMER", &s, "grp", "bob"]));
        ok(c.cmd(&["XDEL", &s, "1-1"]));
    }
    ok(c.cmd(&["SELECT", "0"]));
}

/// Everything observable about databases 0..3: per key its type, content and absolute expiry.
fn dump(c: &mut RawConn) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..4 {
        c.cmd(&["SELECT", &db.to_string()]);
        let keys = c.cmd(&["KEYS", "*"]);
        let mut names: Vec<String> = text(&keys)
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .map(String::from)
            .collect();
        names.sort();
        for k in names {
            let t = text(&c.cmd(&["TYPE", &k]));
            let content = match t.as_str() {
                "+string\r\n" => text(&c.cmd(&["GET", &k])),
                "+list\r\n" => text(&c.cmd(&["LRANGE", &k, "0", "-1"])),
                "+stream\r\n" => {
                    let mut s = text(&c.cmd(&["XRANGE", &k, "-", "+"]));
                    s += &normalize_xinfo(&text(&c.cmd(&["XINFO", "STREAM", &k, "FULL"])));
                    s
                }
                other => other.to_string(),
            };
            let exp = text(&c.cmd(&["PEXPIRETIME", &k]));
            out.push(format!("{db} {k} {t} {content} {exp}"));
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

/// XINFO STREAM FULL without what no AOF preserves, in Redis either: a consumer's seen-time
/// (reset when loaded) and a group's entries-read after deliveries logged as XCLAIM ... LASTID
/// (Redis 7.0 replays them as unknown).
fn normalize_xinfo(full: &str) -> String {
    let mut out = Vec::new();
    let mut skip = false;
    for line in full.split("\r\n") {
        if skip {
            out.push("?");
            skip = false;
            continue;
        }
        skip = line == "seen-time" || line == "entries-read";
        out.push(line);
    }
    out.join("\r\n")
}

fn aof_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn wait_rewrite_done(c: &mut RawConn) {
    assert!(wait_for(Duration::from_secs(20), || {
        common::info_field(c, "aof_rewrite_in_progress").as_deref() == Some("0")
    }));
}

#[test]
fn restart_round_trip_with_rewrite_in_between() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::ferrymq(
        dir.path(),
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let mut c = s.raw();
    write_dataset(&mut c, "a");
    assert_eq!(
        text(&c.cmd(&["BGREWRITEAOF"])),
        "+Background append only file rewriting started\r\n"
    );
    wait_rewrite_done(&mut c);
    write_dataset(&mut c, "b");
    let before = dump(&mut c);
    assert!(before.len() >= 10, "{before:?}");
    s.shutdown();
    assert_eq!(
        aof_files(dir.path()),
        [
            // An RDB base, as with Redis 7's default aof-use-rdb-preamble yes.
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = s.raw();
    assert_eq!(dump(&mut c), before);
    assert_eq!(
        common::info_field(&mut c, "aof_enabled").as_deref(),
        Some("1")
    );
}

#[test]
fn sigterm_flushes_everysec_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::ferrymq(
        dir.path(),
        &["--appendonly", "yes", "--appendfsync", "everysec"],
    );
    let mut c = s.raw();
    for i in 0..200 {
        c.send(&["SET", &format!("k{i}"), "v"]);
    }
    for _ in 0..200 {
        c.read_reply();
    }
    s.sigterm();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    assert_eq!(text(&s.raw().cmd(&["DBSIZE"])), ":200\r\n");
}

#[test]
fn check_aof_subcommand_reports_and_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    s.raw().cmd(&["SET", "a", "1"]);
    s.shutdown();
    let aofdir: PathBuf = dir.path().join("appendonlydir");
    let incr = aofdir.join("appendonly.aof.1.incr.aof");
    let good = std::fs::metadata(&incr).unwrap().len();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb");
    std::fs::write(&incr, &data).unwrap();
    let run = |fix: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrymq"));
        cmd.arg("check-aof");
        if fix {
            cmd.arg("--fix");
        }
        let o = cmd.arg(&aofdir).output().unwrap();
        (o.status.code(), text(&o.stdout))
    };
    let (code, out) = run(false);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "AOF analyzed: filename=appendonly.aof.1.incr.aof, size={}, ok_up_to={good}",
            data.len()
        )),
        "{out}"
    );
    let (code, out) = run(true);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), good);
    let (code, _) = run(false);
    assert_eq!(code, Some(0));
}

#[test]
fn truncated_tail_is_trimmed_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = s.raw();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "last", "value"]);
    s.shutdown();
    let incr = dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let len = std::fs::metadata(&incr).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
    f.set_len(len - 4).unwrap();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = s.raw();
    assert_eq!(text(&c.cmd(&["GET", "a"])), "$1\r\n1\r\n");
    assert_eq!(text(&c.cmd(&["EXISTS", "last"])), ":0\r\n");
}

#[test]
fn corrupt_aof_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    s.raw().cmd(&["SET", "a", "1"]);
    s.shutdown();
    let incr = dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut data = std::fs::read(&incr).unwrap();
    let at = data.len();
    data.extend_from_slice(b"!!!!*1\r\n$4\r\nPING\r\n");
    std::fs::write(&incr, &data).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"])
        .args([
            "--dir",
            &dir.path().display().to_string(),
            "--appendonly",
            "yes",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let log = text(&o.stdout) + &text(&o.stderr);
    assert!(
        log.contains("appendonly.aof.1.incr.aof") && log.contains(&format!("offset {at}")),
        "{log}"
    );
}

#[test]
fn info_persistence_fields_match_redis() {
    let dir = tempfile::tempdir().unwrap();
    let Some(r) = Proc::redis(
        dir.path(),
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    ) else {
        return;
    };
    let dir2 = tempfile::tempdir().unwrap();
    let f = Proc::ferrymq(dir2.path(), &["--appendonly", "yes"]);
    let names = |c: &mut RawConn| -> Vec<String> {
        text(&c.cmd(&["INFO", "persistence"]))
            .lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .filter(|k| k.starts_with("aof_") || k == "loading")
            .collect()
    };
    assert_eq!(names(&mut f.raw()), names(&mut r.raw()));
    for cmd in [
        &["BGSAVE", "x"][..],
        &["BGSAVE", "SCHEDULE", "x"],
        &["SAVE", "x"],
    ] {
        assert_eq!(text(&f.raw().cmd(cmd)), text(&r.raw().cmd(cmd)), "{cmd:?}");
    }
}

/// ferrymq writes (base after BGREWRITEAOF, then incr); redis-server 7 loads the directory.
#[test]
fn redis_loads_a_ferrymq_aof_directory() {
    let dir = tempfile::tempdir().unwrap();
    let f = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = f.raw();
    write_dataset(&mut c, "a");
    c.cmd(&["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    write_dataset(&mut c, "b");
    let expected = dump(&mut c);
    assert!(expected.len() >= 10, "{expected:?}");
    f.shutdown();
    let Some(r) = Proc::redis(
        dir.path(),
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    ) else {
        return;
    };
    let mut c = r.raw();
    assert_eq!(
        common::info_field(&mut c, "aof_enabled").as_deref(),
        Some("1")
    );
    assert_eq!(dump(&mut c), expected);
}

/// redis-server 7 writes with `aof-use-rdb-preamble no` (base then incr); ferrymq loads it.
#[test]
fn ferrymq_loads_a_redis_aof_directory() {
    let dir = tempfile::tempdir().unwrap();
    let Some(r) = Proc::redis(
        dir.path(),
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    ) else {
        return;
    };
    // The dataset uses only what this ferrymq build supports.
    let f0dir = tempfile::tempdir().unwrap();
    let f0 = Proc::ferrymq(f0dir.path(), &[]);
    let mut probe = f0.raw();
    let mut c = r.raw();
    let lists = supports(&mut probe, "rpush");
    let streams = supports(&mut probe, "xadd") && supports(&mut probe, "xreadgroup");
    drop(f0);
    let ok = |r: Vec<u8>| assert!(!r.starts_with(b"-"), "{}", text(&r));
    for tag in ["a", "b"] {
        ok(c.cmd(&["SET", &format!("s:{tag}"), "plain\r\nbinary\0value"]));
        ok(c.cmd(&["SET", &format!("ttl:{tag}"), "v", "PX", "5000000"]));
        ok(c.cmd(&["INCRBY", &format!("n:{tag}"), "41"]));
        ok(c.cmd(&["SELECT", "2"]));
        ok(c.cmd(&["SET", &format!("db2:{tag}"), "two"]));
        ok(c.cmd(&["SELECT", "0"]));
        if lists {
            ok(c.cmd(&["RPUSH", &format!("l:{tag}"), "a", "b", "c"]));
            ok(c.cmd(&["LPOP", &format!("l:{tag}")]));
        }
        if streams {
            let s = format!("st:{tag}");
            ok(c.cmd(&["XADD", &s, "1-1", "f", "v1"]));
            ok(c.cmd(&["XADD", &s, "2-1", "f", "v2"]));
            ok(c.cmd(&["XGROUP", "CREATE", &s, "grp", "0"]));
            ok(c.cmd(&[
                "XREADGROUP",
                "GROUP",
                "grp",
                "alice",
                "COUNT",
                "1",
                "STREAMS",
                &s,
                ">",
            ]));
        }
        if tag == "a" {
            c.cmd(&["BGREWRITEAOF"]);
            wait_rewrite_done(&mut c);
        }
    }
    let expected = dump(&mut c);
    assert!(expected.len() >= 8, "{expected:?}");
    r.shutdown();
    let base = std::fs::read(dir.path().join("appendonlydir/appendonly.aof.2.base.aof")).unwrap();
    assert!(base.starts_with(b"*"), "a RESP base, not RDB");
    let f = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    assert_eq!(dump(&mut f.raw()), expected);
}

/// Several clients write while BGREWRITEAOF runs again and again; after a clean restart the
/// data is exactly what it was.
#[test]
fn rewrite_under_concurrent_clients_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Proc::ferrymq(
        dir.path(),
        &["--appendonly", "yes", "--appendfsync", "everysec"],
    );
    let mut c = s.raw();
    let lists = supports(&mut c, "rpush");
    for i in 0..2000 {
        c.send(&["SET", &format!("pre{i}"), &i.to_string()]);
    }
    for _ in 0..2000 {
        c.read_reply();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            let port = s.port;
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 300 {
                    n += 1;
                    let k = format!("pre{}", (n * 7 + t * 13) % 2500);
                    match n % 5 {
                        0 => c.cmd(&["INCR", &format!("ctr{t}")]),
                        1 => c.cmd(&["APPEND", &k, "x"]),
                        2 => c.cmd(&["RENAME", &k, &format!("pre{}", (n * 3) % 2500)]),
                        3 if lists => c.cmd(&["RPUSH", &format!("q{t}"), &n.to_string()]),
                        _ => c.cmd(&["SET", &format!("new{t}:{}", n % 500), &n.to_string()]),
                    };
                }
            })
        })
        .collect();
    for _ in 0..3 {
        wait_rewrite_done(&mut c);
        assert_eq!(
            text(&c.cmd(&["BGREWRITEAOF"])),
            "+Background append only file rewriting started\r\n"
        );
    }
    wait_rewrite_done(&mut c);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        common::info_field(&mut c, "aof_last_bgrewrite_status").as_deref(),
        Some("ok")
    );
    let before = dump(&mut c);
    s.shutdown();
    let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let after = dump(&mut s.raw());
    assert_eq!(after.len(), before.len());
    assert!(after == before, "replayed data differs");
}

/// Inside EXEC the transaction holds the store that a rewrite and the AOF switch need: the
/// server used to wait for itself there and stop answering everyone. As redis-server does,
/// BGREWRITEAOF is scheduled (the cron starts it) and CONFIG SET appendonly takes effect;
/// the replies are compared with redis-server's, and the data written in the transaction
/// survives a restart.
#[test]
fn aof_switch_and_rewrite_inside_exec_answer_as_redis() {
    let steps: &[&[&str]] = &[
        &["MULTI"],
        &["SET", "before", "1"],
        &["BGREWRITEAOF"],
        &["EXEC"],
    ];
    let on: &[&[&str]] = &[
        &["MULTI"],
        &["CONFIG", "SET", "appendonly", "yes"],
        &["SET", "k", "v"],
        &["RPUSH", "l", "a", "b"],
        &["EXEC"],
    ];
    let off: &[&[&str]] = &[
        &["MULTI"],
        &["CONFIG", "SET", "appendonly", "no"],
        &["EXEC"],
    ];
    let run = |c: &mut RawConn, cmds: &[&[&str]]| -> Vec<String> {
        cmds.iter().map(|a| text(&c.cmd(a))).collect()
    };
    let mut replies = Vec::new();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, dir) in dirs.iter().enumerate() {
        let s = if i == 0 {
            Proc::ferrymq(dir.path(), &["--appendonly", "no"])
        } else {
            match Proc::redis(dir.path(), &["--appendonly", "no"]) {
                Some(s) => s,
                None => return,
            }
        };
        let mut c = s.raw();
        let mut r = run(&mut c, steps);
        // The scheduled rewrite runs and ends.
        assert!(wait_for(Duration::from_secs(20), || {
            common::info_field(&mut c, "aof_rewrite_scheduled").as_deref() == Some("0")
                && common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
        }));
        assert_eq!(
            common::info_field(&mut c, "aof_rewrites").as_deref(),
            Some("1")
        );
        r.extend(run(&mut c, on));
        wait_rewrite_done(&mut c);
        assert_eq!(
            common::info_field(&mut c, "aof_enabled").as_deref(),
            Some("1")
        );
        r.extend(run(&mut c, &[&["SET", "after", "2"]]));
        if i == 0 {
            // Everything the transaction wrote, and what came after, is in the AOF.
            s.shutdown();
            let s = Proc::ferrymq(dir.path(), &["--appendonly", "yes"]);
            let mut c = s.raw();
            assert_eq!(text(&c.cmd(&["GET", "k"])), "$1\r\nv\r\n");
            assert_eq!(text(&c.cmd(&["LLEN", "l"])), ":2\r\n");
            assert_eq!(text(&c.cmd(&["GET", "after"])), "$1\r\n2\r\n");
            r.extend(run(&mut c, off));
            assert_eq!(
                common::info_field(&mut c, "aof_enabled").as_deref(),
                Some("0")
            );
            assert_eq!(text(&c.cmd(&["PING"])), "+PONG\r\n");
        } else {
            r.extend(run(&mut c, off));
        }
        replies.push(r);
    }
    assert_eq!(replies[0], replies[1]);
}
