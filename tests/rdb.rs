//! RDB snapshots between real processes: redis-server 7.0 writes a dump.rdb holding every type
//! and ferrymq starts from it (and the reverse, with redis-check-rdb on ferrymq's file); every
//! key then answers the same type-specific reads on both. Also: a corrupt file stops startup
//! naming the offset, SHUTDOWN / SIGTERM save with save points, and a BGSAVE racing writers
//! is a point-in-time snapshot that redis-server loads.

mod common;

use common::{DirServer, redis_server_path, wait_for};
use redis::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn conn(s: &DirServer) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{}/", s.port))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn long_text(n: usize) -> String {
    (0..n).map(|i| format!("word{} ", i % 17)).collect()
}

/// Every type and encoding Redis 7.0 writes, expiries, several databases, a library.
fn populate(c: &mut redis::Connection) {
    let mut run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        q(c, &a);
    };
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    run(v(&["SET", "str", "hello"]));
    run(v(&["SET", "int", "12345"]));
    run(v(&["SET", "neg", "-7"]));
    run(v(&["SET", "bigint", "12345678901234"]));
    run(v(&["SET", "compressible", &"abc".repeat(300)]));
    run(v(&["SET", "text", &long_text(40)]));
    run(v(&["PFADD", "hll", "a", "b", "c"]));
    run(v(&["RPUSH", "smalllist", "a", "b", "1", "-2", "300000"]));
    let mut big = v(&["RPUSH", "biglist"]);
    big.extend((0..3000).map(|i| format!("item-{i}")));
    run(big);
    run(v(&["RPUSH", "hugeitem", "x", &"y".repeat(20000), "z"]));
    let mut s = v(&["SADD", "intset"]);
    s.extend((0..100).map(|i| (i * 3 - 50).to_string()));
    run(s);
    let mut s = v(&["SADD", "bigintset"]);
    s.extend((0..1000).map(|i| i.to_string()));
    run(s);
    run(v(&["SADD", "strset", "a", "b", "c"]));
    let mut s = v(&["SADD", "bigset"]);
    s.extend((0..700).map(|i| format!("m{i}")));
    run(s);
    run(v(&["HSET", "smallhash", "f1", "v1", "f2", "2", "f3", ""]));
    let mut h = v(&["HSET", "bighash"]);
    for i in 0..600 {
        h.push(format!("field{i}"));
        h.push(format!("value{i}"));
    }
    run(h);
    run(v(&["HSET", "longvalhash", "f", &"v".repeat(100)]));
    run(v(&[
        "ZADD", "smallz", "1", "a", "2.5", "b", "-3", "c", "inf", "d",
    ]));
    let mut z = v(&["ZADD", "bigz"]);
    for i in 0..400 {
        z.push(format!("{}", i as f64 / 7.0));
        z.push(format!("member{i}"));
    }
    run(z);
    for i in 1..=60 {
        run(vec![
            "XADD".into(),
            "stream".into(),
            format!("{i}-1"),
            "f".into(),
            format!("v{i}"),
            if i % 2 == 0 { "even" } else { "odd" }.into(),
            "x".into(),
        ]);
    }
    run(v(&["XDEL", "stream", "5-1"]));
    run(v(&["XGROUP", "CREATE", "stream", "g1", "0"]));
    run(v(&["XGROUP", "CREATE", "stream", "g2", "$"]));
    run(v(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "c1",
        "COUNT",
        "10",
        "STREAMS",
        "stream",
        ">",
    ]));
    run(v(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "c2",
        "COUNT",
        "5",
        "STREAMS",
        "stream",
        ">",
    ]));
    run(v(&["XACK", "stream", "g1", "1-1", "2-1"]));
    run(v(&["XGROUP", "CREATECONSUMER", "stream", "g2", "idle"]));
    run(v(&["XADD", "emptystream", "1-1", "a", "b"]));
    run(v(&["XDEL", "emptystream", "1-1"]));
    run(v(&["SET", "ttl", "v", "EX", "10000"]));
    run(v(&["PEXPIRE", "biglist", "50000000"]));
    run(v(&["SELECT", "3"]));
    run(v(&["SET", "db3", "three"]));
    run(v(&["HSET", "db3hash", "a", "1"]));
    run(v(&["SELECT", "15"]));
    run(v(&["RPUSH", "db15", "x"]));
    run(v(&["SELECT", "0"]));
    run(v(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)",
    ]));
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Array(mut items) => {
            items.sort_by_key(|i| format!("{i:?}"));
            Value::Array(items)
        }
        other => other,
    }
}

fn sorted_pairs(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut pairs: Vec<Vec<Value>> = items.chunks(2).map(|c| c.to_vec()).collect();
            pairs.sort_by_key(|p| format!("{p:?}"));
            Value::Array(pairs.into_iter().flatten().collect())
        }
        other => other,
    }
}

/// What a client can read of every key of every database, in a canonical form.
fn view(c: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..16 {
        q(c, &["SELECT", &db.to_string()]);
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        keys.sort();
        for k in keys {
            let ty: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            let body = match ty.as_str() {
                "string" => q(c, &["GET", &k]),
                "list" => q(c, &["LRANGE", &k, "0", "-1"]),
                "set" => sorted(q(c, &["SMEMBERS", &k])),
                "hash" => sorted_pairs(q(c, &["HGETALL", &k])),
                "zset" => q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]),
                "stream" => q(c, &["XINFO", "STREAM", &k, "FULL"]),
                other => panic!("type {other}"),
            };
            let enc = q(c, &["OBJECT", "ENCODING", &k]);
            // A string written in place (APPEND, SETRANGE, PFADD...) is `raw` until it is
            // loaded again, when Redis re-encodes it as any new string: between a live server
            // and one started from its file only `raw` against `embstr` may differ.
            let enc = match &enc {
                Value::BulkString(b) if ty == "string" && b.as_slice() == b"raw" => {
                    Value::BulkString(b"embstr-or-raw".to_vec())
                }
                Value::BulkString(b) if ty == "string" && b.as_slice() == b"embstr" => {
                    Value::BulkString(b"embstr-or-raw".to_vec())
                }
                _ => enc,
            };
            // Absolute: both servers hold the expiry the file holds.
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap();
            out.push(format!("db{db} {k} {ty} {enc:?} expires={at} {body:?}"));
        }
    }
    q(c, &["SELECT", "0"]);
    out.push(format!("{:?}", q(c, &["FUNCTION", "LIST", "WITHCODE"])));
    out.push(format!("{:?}", q(c, &["FCALL", "myfunc", "0", "ok"])));
    out
}

fn assert_same(a: &[String], b: &[String]) {
    assert_eq!(a.len(), b.len(), "key counts differ");
    for (x, y) in a.iter().zip(b) {
        assert!(
            x == y,
            "differs:\n ferrymq/first: {}\n other:         {}",
            &x[..x.len().min(600)],
            &y[..y.len().min(600)]
        );
    }
}

fn copy_dump(from: &Path, to: &Path) {
    std::fs::copy(from.join("dump.rdb"), to.join("dump.rdb")).expect("dump.rdb written");
}

#[test]
fn ferrymq_starts_from_a_redis_dump_with_every_type() {
    let rdir = tempfile::tempdir().unwrap();
    let Some(r) = DirServer::redis(rdir.path(), &[]) else {
        return;
    };
    let mut rc = conn(&r);
    populate(&mut rc);
    assert_eq!(q(&mut rc, &["SAVE"]), Value::Okay);
    let fdir = tempfile::tempdir().unwrap();
    copy_dump(rdir.path(), fdir.path());
    let f = DirServer::ferrymq(fdir.path(), &[]);
    let mut fc = conn(&f);
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut fc)
        .unwrap();
    assert!(info.contains("rdb_last_load_keys_loaded:25\r\n"), "{info}");
    // The oracle is a redis-server started from the same file (a string PFADD wrote is `raw`
    // in the server that wrote it, `embstr` once loaded, in Redis as in ferrymq).
    let r2dir = tempfile::tempdir().unwrap();
    copy_dump(rdir.path(), r2dir.path());
    let r2 = DirServer::redis(r2dir.path(), &[]).unwrap();
    assert_same(&view(&mut fc), &view(&mut conn(&r2)));
}

#[test]
fn redis_starts_from_a_ferrymq_dump_with_every_type() {
    let Some(redis_bin) = redis_server_path() else {
        return;
    };
    let fdir = tempfile::tempdir().unwrap();
    let f = DirServer::ferrymq(fdir.path(), &[]);
    let mut fc = conn(&f);
    populate(&mut fc);
    assert_eq!(q(&mut fc, &["SAVE"]), Value::Okay);
    let check = redis_bin.with_file_name("redis-check-rdb");
    if check.exists() {
        let out = Command::new(&check)
            .arg(fdir.path().join("dump.rdb"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("RDB looks OK"), "{text}");
        assert!(text.contains("[info] 25 keys read"), "{text}");
    }
    let rdir = tempfile::tempdir().unwrap();
    copy_dump(fdir.path(), rdir.path());
    let r = DirServer::redis(rdir.path(), &[]).unwrap();
    let mut rc = conn(&r);
    assert_same(&view(&mut fc), &view(&mut rc));
    // And ferrymq's own check agrees.
    let out = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
        .args([
            "check-rdb",
            &fdir.path().join("dump.rdb").display().to_string(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[info] 25 keys read"), "{text}");
}

#[test]
fn a_truncated_or_corrupt_dump_stops_startup_naming_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = DirServer::ferrymq(dir.path(), &[]);
        let mut c = conn(&s);
        for i in 0..100 {
            q(&mut c, &["SET", &format!("key{i}"), &"v".repeat(i)]);
        }
        assert_eq!(q(&mut c, &["SAVE"]), Value::Okay);
    }
    let p = dir.path().join("dump.rdb");
    let good = std::fs::read(&p).unwrap();
    let start = |expect: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
            .args([
                "--port",
                &common::free_port().to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &dir.path().display().to_string(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "started on a bad file: {text}");
        assert!(text.contains("at offset"), "{text}");
        assert!(text.contains(expect), "{expect}: {text}");
    };
    std::fs::write(&p, &good[..good.len() / 2]).unwrap();
    start("Unexpected EOF");
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 0xff;
    std::fs::write(&p, &bad).unwrap();
    start("RDB CRC error (expected");
    std::fs::write(&p, b"REDIS0013\xff").unwrap();
    start("Can't handle RDB format version 13");
}

#[test]
fn shutdown_and_sigterm_save_when_save_points_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let s = DirServer::ferrymq(dir.path(), &["--save", "3600 1"]);
    let mut c = conn(&s);
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "save"]),
        Value::Array(vec![
            Value::BulkString(b"save".to_vec()),
            Value::BulkString(b"3600 1".to_vec())
        ])
    );
    q(&mut c, &["SET", "a", "1"]);
    drop(c);
    s.shutdown();
    let s = DirServer::ferrymq(dir.path(), &[]);
    let mut c = conn(&s);
    assert_eq!(q(&mut c, &["GET", "a"]), Value::BulkString(b"1".to_vec()));
    q(&mut c, &["SET", "b", "2"]);
    // No save points: SIGTERM does not save.
    drop(c);
    s.sigterm();
    let s = DirServer::ferrymq(dir.path(), &["--save", "3600 1"]);
    let mut c = conn(&s);
    assert_eq!(q(&mut c, &["GET", "b"]), Value::Nil);
    q(&mut c, &["SET", "c", "3"]);
    drop(c);
    s.sigterm();
    let s = DirServer::ferrymq(dir.path(), &["--save", "3600 1"]);
    let mut c = conn(&s);
    assert_eq!(q(&mut c, &["GET", "c"]), Value::BulkString(b"3".to_vec()));
    q(&mut c, &["SET", "d", "4"]);
    // SHUTDOWN NOSAVE skips the save; the raw reply is none (the connection closes).
    let mut raw = s.raw();
    raw.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(raw.closed(Duration::from_secs(10)));
    drop(c);
    drop(s);
    let s = DirServer::ferrymq(dir.path(), &[]);
    let mut c = conn(&s);
    assert_eq!(q(&mut c, &["GET", "d"]), Value::Nil);
    assert_eq!(q(&mut c, &["GET", "c"]), Value::BulkString(b"3".to_vec()));
}

/// Writers move units between counters in MULTI/EXEC while a BGSAVE runs; redis-server loads
/// the file and the counters still sum to zero.
#[test]
fn bgsave_under_concurrent_writes_is_consistent_and_loads_in_redis() {
    const COUNTERS: usize = 5000;
    let dir = tempfile::tempdir().unwrap();
    let s = DirServer::ferrymq(dir.path(), &[]);
    let mut c = conn(&s);
    let mut mset = redis::cmd("MSET");
    for i in 0..COUNTERS {
        mset.arg(format!("c{i}")).arg(0);
    }
    mset.query::<()>(&mut c).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = s.port;
    let writers: Vec<_> = (0..3u64)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let mut rng = t * 7919 + 3;
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let a = format!("c{}", rng % COUNTERS as u64);
                    let b = format!("c{}", (rng >> 20) % COUNTERS as u64);
                    redis::pipe()
                        .atomic()
                        .cmd("DECRBY")
                        .arg(&a)
                        .arg(5)
                        .cmd("INCRBY")
                        .arg(&b)
                        .arg(5)
                        .query::<()>(&mut c)
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let status: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(status, "Background saving started");
    let err = redis::cmd("BGSAVE").query::<String>(&mut c);
    let in_progress = |c: &mut redis::Connection| {
        let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
        info.contains("rdb_bgsave_in_progress:1")
    };
    if in_progress(&mut c) {
        // Still running: a second one is refused as Redis refuses it.
        if let Err(e) = err {
            assert!(
                e.to_string()
                    .contains("Background save already in progress"),
                "{e}"
            );
        }
    }
    assert!(wait_for(Duration::from_secs(60), || !in_progress(&mut c)));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ops: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("rdb_last_bgsave_status:ok"), "{info}");
    assert!(ops > 100, "{ops} transfers only");
    let Some(_) = redis_server_path() else {
        return;
    };
    let rdir = tempfile::tempdir().unwrap();
    copy_dump(dir.path(), rdir.path());
    let r = DirServer::redis(rdir.path(), &[]).unwrap();
    let mut rc = conn(&r);
    let sum: i64 = redis::cmd("EVAL")
        .arg("local s = 0 for i = 0, tonumber(ARGV[1]) - 1 do s = s + tonumber(redis.call('GET', 'c' .. i)) end return s")
        .arg(0)
        .arg(COUNTERS)
        .query(&mut rc)
        .unwrap();
    assert_eq!(sum, 0, "not a point-in-time snapshot");
    let n: usize = redis::cmd("DBSIZE").query(&mut rc).unwrap();
    assert_eq!(n, COUNTERS);
}

fn wait_rewrite(c: &mut redis::Connection) {
    assert!(wait_for(Duration::from_secs(30), || {
        let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
        info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
    }));
}

/// Redis 7's default AOF: a multi-part directory whose base is an RDB file
/// (`aof-use-rdb-preamble yes`), then commands in the incr file. ferrymq loads it, and
/// check-aof accepts it.
#[test]
fn ferrymq_loads_a_redis_aof_directory_with_an_rdb_base() {
    let dir = tempfile::tempdir().unwrap();
    let Some(r) = DirServer::redis(dir.path(), &["--appendonly", "yes"]) else {
        return;
    };
    let mut rc = conn(&r);
    populate(&mut rc);
    q(&mut rc, &["BGREWRITEAOF"]);
    wait_rewrite(&mut rc);
    q(&mut rc, &["SET", "after", "rewrite"]);
    q(&mut rc, &["RPUSH", "smalllist", "tail"]);
    q(&mut rc, &["DEL", "str"]);
    drop(rc);
    r.shutdown();
    let base = dir.path().join("appendonlydir/appendonly.aof.2.base.rdb");
    assert!(std::fs::read(&base).unwrap().starts_with(b"REDIS"));
    let out = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
        .args([
            "check-aof",
            &dir.path().join("appendonlydir").display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir(copy.path().join("appendonlydir")).unwrap();
    for e in std::fs::read_dir(dir.path().join("appendonlydir")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(
            e.path(),
            copy.path().join("appendonlydir").join(e.file_name()),
        )
        .unwrap();
    }
    let f = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let r2 = DirServer::redis(copy.path(), &["--appendonly", "yes"]).unwrap();
    let (mut fc, mut rc2) = (conn(&f), conn(&r2));
    let v = view(&mut fc);
    assert!(v.iter().any(|l| l.contains(" after ")), "incr replayed");
    assert_same(&v, &view(&mut rc2));
}

/// ferrymq's own rewrite writes an RDB base by default (as Redis 7 does): ferrymq restarts
/// from it, and redis-server loads ferrymq's directory with every key answering the same.
#[test]
fn ferrymq_rdb_base_restarts_and_loads_in_redis() {
    let dir = tempfile::tempdir().unwrap();
    let s = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    // As Redis, the first start creates an empty base, already an RDB.
    let first = std::fs::read(dir.path().join("appendonlydir/appendonly.aof.1.base.rdb")).unwrap();
    assert!(first.starts_with(b"REDIS0010"));
    let mut c = conn(&s);
    populate(&mut c);
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite(&mut c);
    q(&mut c, &["SET", "after", "rewrite"]);
    q(&mut c, &["DEL", "str"]);
    let before = view(&mut c);
    drop(c);
    s.shutdown();
    let base = dir.path().join("appendonlydir/appendonly.aof.2.base.rdb");
    assert!(std::fs::read(&base).unwrap().starts_with(b"REDIS0010"));
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir(copy.path().join("appendonlydir")).unwrap();
    for e in std::fs::read_dir(dir.path().join("appendonlydir")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(
            e.path(),
            copy.path().join("appendonlydir").join(e.file_name()),
        )
        .unwrap();
    }
    let s = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    assert_same(&view(&mut conn(&s)), &before);
    let Some(r) = DirServer::redis(copy.path(), &["--appendonly", "yes"]) else {
        return;
    };
    assert_same(&view(&mut conn(&r)), &before);
}

/// Save points set at runtime are checked by the server cron: a BGSAVE starts on its own,
/// LASTSAVE moves and the changes are reset.
#[test]
fn the_cron_saves_when_a_save_point_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    let s = DirServer::ferrymq(dir.path(), &[]);
    let mut c = conn(&s);
    let before: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert_eq!(q(&mut c, &["CONFIG", "SET", "save", "1 2"]), Value::Okay);
    q(&mut c, &["SET", "a", "1"]);
    q(&mut c, &["SET", "b", "2"]);
    let info = |c: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("persistence").query(c).unwrap()
    };
    assert!(
        wait_for(Duration::from_secs(10), || info(&mut c)
            .contains("rdb_saves:1\r\n")),
        "{}",
        info(&mut c)
    );
    assert!(wait_for(Duration::from_secs(10), || {
        info(&mut c).contains("rdb_bgsave_in_progress:0")
    }));
    let text = info(&mut c);
    assert!(text.contains("rdb_changes_since_last_save:0\r\n"), "{text}");
    assert!(text.contains("rdb_last_bgsave_status:ok\r\n"), "{text}");
    let after: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(after > before, "{before} -> {after}");
    assert!(dir.path().join("dump.rdb").exists());
}

/// Under an LRU (LFU) policy each key's idle time (counter) travels in the file, both ways.
#[test]
fn idle_time_and_frequency_travel_under_lru_and_lfu_policies() {
    for (policy, opt, value, read) in [
        ("allkeys-lru", "IDLETIME", 1000i64, "IDLETIME"),
        ("allkeys-lfu", "FREQ", 42, "FREQ"),
    ] {
        let args = ["--maxmemory-policy", policy];
        let fdir = tempfile::tempdir().unwrap();
        let rdir = tempfile::tempdir().unwrap();
        let f = DirServer::ferrymq(fdir.path(), &args);
        let Some(r) = DirServer::redis(rdir.path(), &args) else {
            return;
        };
        let (mut fc, mut rc) = (conn(&f), conn(&r));
        for c in [&mut fc, &mut rc] {
            q(c, &["SET", "src", "v"]);
            let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(c).unwrap();
            redis::cmd("RESTORE")
                .arg("k")
                .arg(0)
                .arg(payload)
                .arg(opt)
                .arg(value)
                .query::<()>(c)
                .unwrap();
            assert_eq!(q(c, &["SAVE"]), Value::Okay);
        }
        drop((fc, rc, f, r));
        // Each server starts from the other's file.
        let fdir2 = tempfile::tempdir().unwrap();
        let rdir2 = tempfile::tempdir().unwrap();
        copy_dump(rdir.path(), fdir2.path());
        copy_dump(fdir.path(), rdir2.path());
        let f = DirServer::ferrymq(fdir2.path(), &args);
        let r = DirServer::redis(rdir2.path(), &args).unwrap();
        for s in [&f, &r] {
            let got: i64 = redis::cmd("OBJECT")
                .arg(read)
                .arg("k")
                .query(&mut conn(s))
                .unwrap();
            assert!(
                (value..=value + 3).contains(&got),
                "{policy}: OBJECT {read} {got}"
            );
        }
    }
}

/// `shutdown-on-sigterm save|nosave` override the save points for SIGTERM, as in Redis 7.0.
#[test]
fn shutdown_on_sigterm_decides_the_final_save() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        sigterm_leaves_a_dump(dir.path(), &["--shutdown-on-sigterm", "save"]),
        "saved without save points"
    );
    std::fs::remove_file(dir.path().join("dump.rdb")).unwrap();
    assert!(
        !sigterm_leaves_a_dump(
            dir.path(),
            &["--save", "3600 1", "--shutdown-on-sigterm", "nosave"],
        ),
        "nosave wins"
    );
}

/// A ferrymq in `dir` with `args`, one write, SIGTERM as soon as it is acknowledged: whether
/// the server left a dump.rdb.
fn sigterm_leaves_a_dump(dir: &std::path::Path, args: &[&str]) -> bool {
    let s = DirServer::ferrymq(dir, args);
    q(&mut conn(&s), &["SET", "a", "1"]);
    s.sigterm();
    dir.join("dump.rdb").exists()
}

/// A SIGTERM sent as soon as the server has answered its first request is caught: the final
/// save happens every time. The handler used to be registered by a task that could run after
/// the first client was served, and such a SIGTERM then ended the process unsaved.
#[test]
fn sigterm_right_after_the_first_reply_still_saves() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            sigterm_leaves_a_dump(dir.path(), &["--shutdown-on-sigterm", "save"]),
            "round {round}: no final save"
        );
    }
}

/// The replies around a BGSAVE in progress, compared with redis-server's (both slowed down by
/// `rdb-key-save-delay` so the save is still running).
#[test]
fn bgsave_in_progress_replies_match_redis() {
    let Some(mut d) = common::Diff::with_args(&["--rdb-key-save-delay", "100000"]) else {
        return;
    };
    for i in 0..10 {
        d.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    d.cmd(&["BGSAVE"]);
    d.cmd(&["BGSAVE"]);
    d.cmd(&["BGSAVE", "SCHEDULE"]);
    d.cmd(&["SAVE"]);
    d.cmd(&["BGREWRITEAOF"]);
    d.cmd(&["BGSAVE", "NOW"]);
}

/// `rdbchecksum no` writes a zero checksum, as redis-server does: the file ends the same way
/// as redis-server's, and redis-server and ferrymq both load it.
#[test]
fn rdbchecksum_no_writes_a_zero_checksum_that_both_servers_load() {
    let Some(rdir) = tempfile::tempdir().ok() else {
        return;
    };
    let Some(r) = DirServer::redis(rdir.path(), &["--rdbchecksum", "no"]) else {
        return;
    };
    let fdir = tempfile::tempdir().unwrap();
    let f = DirServer::ferrymq(fdir.path(), &["--rdbchecksum", "no"]);
    let (mut fc, mut rc) = (conn(&f), conn(&r));
    for c in [&mut fc, &mut rc] {
        q(c, &["RPUSH", "l", "a", "b"]);
        q(c, &["SET", "s", "v"]);
        assert_eq!(q(c, &["SAVE"]), Value::Okay);
    }
    let tail = |d: &Path| {
        let data = std::fs::read(d.join("dump.rdb")).unwrap();
        data[data.len() - 9..].to_vec()
    };
    assert_eq!(tail(fdir.path()), vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(tail(fdir.path()), tail(rdir.path()));
    // Loaded by redis-server (with checksums on: a zero checksum means none) and by ferrymq.
    let other = tempfile::tempdir().unwrap();
    copy_dump(fdir.path(), other.path());
    let r2 = DirServer::redis(other.path(), &[]).unwrap();
    assert_eq!(
        q(&mut conn(&r2), &["LRANGE", "l", "0", "-1"]),
        q(&mut fc, &["LRANGE", "l", "0", "-1"])
    );
    drop(f);
    let f2 = DirServer::ferrymq(fdir.path(), &[]);
    assert_eq!(
        q(&mut conn(&f2), &["GET", "s"]),
        Value::BulkString(b"v".to_vec())
    );
}

/// `rdb-key-save-delay` slows SAVE as it slows BGSAVE (microseconds per key).
#[test]
fn rdb_key_save_delay_slows_save() {
    let dir = tempfile::tempdir().unwrap();
    let f = DirServer::ferrymq(dir.path(), &["--rdb-key-save-delay", "100000"]);
    let mut c = conn(&f);
    for i in 0..5 {
        q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    let t = std::time::Instant::now();
    assert_eq!(q(&mut c, &["SAVE"]), Value::Okay);
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}
