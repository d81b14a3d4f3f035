//! In-process tests of the AOF: replay, truncation at every offset, corruption, the error
//! state, and rewrites racing with writers (the result must replay to the same data).

use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::command::dispatch;
use crate::config::Config;
use crate::connection::outbox::Take;
use crate::connection::{ClientHandle, ClientState};
use crate::server::Shared;

fn try_server(dir: &Path, extra: &[&str]) -> std::io::Result<Arc<Shared>> {
    let mut args = vec![
        "--dir".to_string(),
        dir.display().to_string(),
        "--appendonly".into(),
        "yes".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let shared = Shared::new(Config::from_args(&args).expect("config")).expect("server");
    startup(&shared)?;
    Ok(shared)
}

fn server(dir: &Path, extra: &[&str]) -> Arc<Shared> {
    try_server(dir, extra).expect("startup")
}

struct Client {
    shared: Arc<Shared>,
    state: ClientState,
}

impl Client {
    fn new(shared: &Arc<Shared>, id: u64) -> Client {
        let h = Arc::new(ClientHandle::new(id, "test".into(), String::new(), false));
        Client {
            shared: shared.clone(),
            state: ClientState::new(h, true),
        }
    }

    /// Run a command; returns the reply bytes and the AOF offset they wait for.
    fn cmd_hold(&mut self, args: &[&str]) -> (String, u64) {
        let argv = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        dispatch(&self.shared, &mut self.state, argv);
        let mut buf = bytes::BytesMut::new();
        match self.state.handle.outbox.take(&mut buf) {
            Take::Write { hold_until } => {
                self.state.handle.outbox.written();
                (String::from_utf8_lossy(&buf).into_owned(), hold_until)
            }
            _ => (String::new(), 0),
        }
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        self.cmd_hold(args).0
    }
}

/// Every key of every database with its content and TTL, in a canonical order.
fn snapshot(shared: &Shared) -> Vec<String> {
    let store = shared.store.lock();
    let mut out = Vec::new();
    for (i, db) in store.dbs.iter().enumerate() {
        let mut keys: Vec<Bytes> = db.map.keys().map(|k| k.to_bytes()).collect();
        keys.sort();
        for k in keys {
            let mut cmds = Vec::new();
            db.map[&k[..]].value.rewrite(&k, &mut cmds);
            out.push(format!("{i} {cmds:?} ttl={:?}", db.expire_at(&k)));
        }
    }
    out
}

fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

fn aof_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("appendonlydir")
}

#[test]
fn writes_survive_restart_with_ttl_and_databases() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--appendfsync", "always"]);
    let mut c = Client::new(&s, 1);
    assert_eq!(c.cmd(&["SET", "a", "1"]), "+OK\r\n");
    let (r, hold) = c.cmd_hold(&["SET", "b", "2", "EX", "1000"]);
    assert_eq!(r, "+OK\r\n");
    assert!(hold > 0, "an always reply waits for the fsync");
    assert!(wait_for(Duration::from_secs(5), || *s.durable.borrow() >= hold));
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["INCRBY", "n", "5"]);
    c.cmd(&["APPEND", "n", "0"]);
    let before = snapshot(&s);
    shutdown(&s);
    let s2 = server(dir.path(), &[]);
    assert_eq!(snapshot(&s2), before);
    assert_eq!(s2.store.lock().dirty, 0);
    shutdown(&s2);
}

/// Write the files of an AOF directory by hand.
fn write_aof(dir: &Path, base: &[u8], incr: &[u8]) {
    let d = aof_dir(dir);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("appendonly.aof.1.base.aof"), base).unwrap();
    std::fs::write(d.join("appendonly.aof.1.incr.aof"), incr).unwrap();
    std::fs::write(
        d.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
}

fn resp(cmds: &[&[&str]]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cmds {
        let argv: Vec<Bytes> = c
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        encode_command(&argv, &mut out);
    }
    out
}

#[test]
fn truncated_last_command_at_every_offset_is_trimmed() {
    let base = resp(&[&["SELECT", "0"], &["SET", "base", "1"]]);
    let head = resp(&[&["SET", "a", "1"], &["SET", "b", "2"]]);
    let last = resp(&[&["SET", "last", "some value"]]);
    for cut in 1..last.len() {
        let dir = tempfile::tempdir().unwrap();
        let mut incr = head.clone();
        incr.extend_from_slice(&last[..cut]);
        write_aof(dir.path(), &base, &incr);
        let s = server(dir.path(), &[]);
        {
            let mut store = s.store.lock();
            let db = &mut store.dbs[0];
            assert!(db.contains(b"base") && db.contains(b"a") && db.contains(b"b"));
            assert!(!db.contains(b"last"), "cut {cut}");
        }
        let mut c = Client::new(&s, 1);
        c.cmd(&["SET", "after", "x"]);
        shutdown(&s);
        let len = std::fs::metadata(aof_dir(dir.path()).join("appendonly.aof.1.incr.aof"))
            .unwrap()
            .len();
        assert!(
            len > head.len() as u64,
            "the tail was trimmed before appending"
        );
        // The repaired file loads cleanly, with what came after the repair.
        let s = server(dir.path(), &["--aof-load-truncated", "no"]);
        assert!(s.store.lock().dbs[0].contains(b"after"));
        shutdown(&s);
    }
}

#[test]
fn truncated_tail_refused_without_aof_load_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let mut incr = resp(&[&["SET", "a", "1"]]);
    incr.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
    write_aof(dir.path(), b"", &incr);
    let e = try_server(dir.path(), &["--aof-load-truncated", "no"])
        .err()
        .expect("startup must fail");
    let msg = e.to_string();
    assert!(
        msg.contains("appendonly.aof.1.incr.aof") && msg.contains("offset 27"),
        "{msg}"
    );
}

#[test]
fn unfinished_multi_is_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let incr = resp(&[&["SET", "a", "1"], &["MULTI"], &["SET", "b", "2"]]);
    write_aof(dir.path(), b"", &incr);
    let s = server(dir.path(), &[]);
    assert!(s.store.lock().dbs[0].contains(b"a"));
    assert!(!s.store.lock().dbs[0].contains(b"b"));
    shutdown(&s);
}

#[test]
fn mid_file_corruption_stops_startup_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let base = resp(&[&["SET", "a", "1"]]);
    let mut bad = base.clone();
    bad.extend_from_slice(b"garbage");
    bad.extend_from_slice(&resp(&[&["SET", "b", "2"]]));
    write_aof(dir.path(), &bad, &resp(&[&["SET", "c", "3"]]));
    let msg = try_server(dir.path(), &[])
        .err()
        .expect("fails")
        .to_string();
    assert!(
        msg.contains("appendonly.aof.1.base.aof")
            && msg.contains(&format!("offset {}", base.len())),
        "{msg}"
    );
    // A truncated base (not the last file) is corruption too.
    write_aof(
        dir.path(),
        &base[..base.len() - 2],
        &resp(&[&["SET", "c", "3"]]),
    );
    let msg = try_server(dir.path(), &[])
        .err()
        .expect("fails")
        .to_string();
    assert!(msg.contains("not the last file"), "{msg}");
    // An unknown command names itself.
    write_aof(dir.path(), &resp(&[&["NOSUCHCMD", "x"]]), b"");
    let msg = try_server(dir.path(), &[])
        .err()
        .expect("fails")
        .to_string();
    assert!(msg.contains("Unknown command 'NOSUCHCMD'"), "{msg}");
}

#[test]
fn check_reports_and_fixes_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let good = resp(&[&["SET", "a", "1"]]);
    let mut incr = good.clone();
    incr.extend_from_slice(b"*2\r\n$3\r\nDEL");
    write_aof(dir.path(), b"", &incr);
    let f = aof_dir(dir.path()).join("appendonly.aof.1.incr.aof");
    let rep = check::check_file(&f).unwrap();
    assert_eq!(rep.ok_up_to, good.len() as u64);
    assert!(rep.problem.is_some());
    let d = aof_dir(dir.path()).display().to_string();
    assert_eq!(check::main(std::slice::from_ref(&d)), 1);
    assert_eq!(check::main(&["--fix".into(), d.clone()]), 0);
    assert_eq!(std::fs::metadata(&f).unwrap().len(), good.len() as u64);
    assert_eq!(check::main(&[d]), 0);
}

#[test]
fn failed_writes_refuse_writes_until_they_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--appendfsync", "always"]);
    let mut c = Client::new(&s, 1);
    s.aof.inject_write_failures(2);
    let (r, hold) = c.cmd_hold(&["SET", "a", "1"]);
    assert_eq!(r, "+OK\r\n");
    assert!(wait_for(Duration::from_secs(5), || refuse_writes(&s).is_some()));
    assert_eq!(
        c.cmd(&["SET", "b", "2"]),
        "-MISCONF Errors writing to the AOF file: No space left on device\r\n"
    );
    assert!(
        *s.durable.borrow() < hold,
        "the failed write is not acknowledged"
    );
    assert!(info_fields(&s).contains("aof_last_write_status:err"));
    // Reads still work; after the retries succeed, writes are accepted again.
    assert_eq!(c.cmd(&["GET", "a"]), "$1\r\n1\r\n");
    assert!(wait_for(Duration::from_secs(10), || refuse_writes(&s).is_none()));
    assert!(wait_for(Duration::from_secs(5), || *s.durable.borrow() >= hold));
    assert_eq!(c.cmd(&["SET", "b", "2"]), "+OK\r\n");
    let before = snapshot(&s);
    shutdown(&s);
    let s2 = server(dir.path(), &[]);
    assert_eq!(
        snapshot(&s2),
        before,
        "nothing lost or doubled by the retries"
    );
    shutdown(&s2);
}

/// Writers keep changing single keys, multi-key and cross-database, while rewrites run one
/// after another; the final AOF must replay to exactly the final data.
/// With the RDB base (the default) and with a RESP base.
#[test]
fn rewrites_under_concurrent_writes_lose_nothing() {
    rewrites_race(&[]);
}

#[test]
fn resp_base_rewrites_under_concurrent_writes_lose_nothing() {
    rewrites_race(&["--aof-use-rdb-preamble", "no"]);
}

fn rewrites_race(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--appendfsync", "no"];
    args.extend_from_slice(extra);
    let s = server(dir.path(), &args);
    {
        let mut c = Client::new(&s, 100);
        for chunk in 0..40 {
            let mut args = vec!["MSET".to_string()];
            for i in 0..250 {
                args.push(format!("k{}", chunk * 250 + i));
                args.push(format!("v{i}"));
            }
            let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            c.cmd(&a);
        }
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut threads = Vec::new();
    for t in 0..3u64 {
        let s = s.clone();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut c = Client::new(&s, 10 + t);
            let mut rng = t * 7919 + 1;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) || n < 2000 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let k = format!("k{}", rng % 12000);
                let k2 = format!("k{}", (rng >> 20) % 12000);
                match rng % 11 {
                    0 => c.cmd(&["SET", &k, &n.to_string()]),
                    1 => c.cmd(&["INCR", &format!("ctr{}", rng % 50)]),
                    2 => c.cmd(&["APPEND", &k, "x"]),
                    3 => c.cmd(&["DEL", &k]),
                    4 => c.cmd(&["RENAME", &k, &k2]),
                    5 => c.cmd(&["MSET", &k, "m", &k2, "m2"]),
                    6 => c.cmd(&["EXPIRE", &k, "100000"]),
                    7 => c.cmd(&["MOVE", &k, "1"]),
                    8 => {
                        c.cmd(&["SELECT", "1"]);
                        c.cmd(&["APPEND", &k, "y"]);
                        c.cmd(&["SELECT", "0"])
                    }
                    9 => {
                        c.cmd(&["MULTI"]);
                        c.cmd(&["INCR", &format!("ctr{}", rng % 50)]);
                        c.cmd(&["SET", &k2, "tx"]);
                        c.cmd(&["EXEC"])
                    }
                    _ => c.cmd(&["COPY", &k, &k2, "DB", "2", "REPLACE"]),
                };
                n += 1;
            }
            n
        }));
    }
    let mut rewrites = 0;
    let start = Instant::now();
    while rewrites < 4 && start.elapsed() < Duration::from_secs(20) {
        assert!(wait_for(Duration::from_secs(20), || !s
            .aof
            .rewrite_in_progress()));
        bgrewrite(&s).expect("start rewrite");
        rewrites += 1;
    }
    assert!(wait_for(Duration::from_secs(20), || !s
        .aof
        .rewrite_in_progress()));
    // One more with SWAPDB and FLUSHDB racing it.
    bgrewrite(&s).expect("start rewrite");
    {
        let mut c = Client::new(&s, 200);
        c.cmd(&["SWAPDB", "1", "2"]);
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SET", "x", "y"]);
        c.cmd(&["FLUSHDB"]);
    }
    stop.store(true, Ordering::Relaxed);
    let ops: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(wait_for(Duration::from_secs(20), || !s
        .aof
        .rewrite_in_progress()));
    let info = info_fields(&s);
    assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
    assert!(
        s.aof.core.rewrite.count.load(Ordering::SeqCst) >= 5,
        "{info}"
    );
    let before = snapshot(&s);
    // Each writer runs at least 2000 commands, and keeps going until the rewrites are done.
    assert!(
        before.len() > 1000 && ops >= 6000,
        "{} keys, {ops} ops",
        before.len()
    );
    shutdown(&s);
    let files: Vec<String> = std::fs::read_dir(aof_dir(dir.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "base, incr, manifest only: {files:?}");
    let s2 = server(dir.path(), &[]);
    let after = snapshot(&s2);
    assert_eq!(after.len(), before.len());
    assert!(
        after == before,
        "replayed data differs from the data written"
    );
    shutdown(&s2);
}

#[test]
fn appendonly_turned_on_at_runtime_writes_a_base_first() {
    let dir = tempfile::tempdir().unwrap();
    let args = vec!["--dir".to_string(), dir.path().display().to_string()];
    let s = Shared::new(Config::from_args(&args).unwrap()).unwrap();
    startup(&s).unwrap();
    let mut c = Client::new(&s, 1);
    c.cmd(&["SET", "before", "1"]);
    assert!(!aof_dir(dir.path()).exists());
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    c.cmd(&["SET", "during", "2"]);
    assert!(wait_for(Duration::from_secs(10), || !s
        .aof
        .rewrite_in_progress()));
    c.cmd(&["SET", "after", "3"]);
    let m = std::fs::read_to_string(aof_dir(dir.path()).join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        m,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let base = std::fs::read(aof_dir(dir.path()).join("appendonly.aof.1.base.rdb")).unwrap();
    assert!(base.starts_with(b"REDIS0010"), "an RDB base by default");
    let before = snapshot(&s);
    assert_eq!(before.len(), 3);
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert!(!s.aof.is_enabled());
    c.cmd(&["SET", "off", "4"]);
    shutdown(&s);
    let s2 = server(dir.path(), &[]);
    assert_eq!(snapshot(&s2), before);
    shutdown(&s2);
}

/// `appendonly yes` that cannot start (its directory is a file) fails CONFIG SET and, as in
/// Redis, puts back every parameter of the call, not only `appendonly`.
#[test]
fn appendonly_failure_rolls_back_the_whole_config_set() {
    let dir = tempfile::tempdir().unwrap();
    let args = vec!["--dir".to_string(), dir.path().display().to_string()];
    let s = Shared::new(Config::from_args(&args).unwrap()).unwrap();
    startup(&s).unwrap();
    std::fs::write(aof_dir(dir.path()), "not a directory").unwrap();
    let mut c = Client::new(&s, 1);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "timeout", "77", "appendonly", "yes"]),
        "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "timeout"]),
        "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendonly"]),
        "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    assert!(!s.aof.is_enabled());
    shutdown(&s);
}

#[test]
fn bgrewriteaof_with_aof_off_writes_a_base_only() {
    let dir = tempfile::tempdir().unwrap();
    let args = vec![
        "--dir".to_string(),
        dir.path().display().to_string(),
        "--aof-use-rdb-preamble".into(),
        "no".into(),
    ];
    let s = Shared::new(Config::from_args(&args).unwrap()).unwrap();
    startup(&s).unwrap();
    let mut c = Client::new(&s, 1);
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    assert!(wait_for(Duration::from_secs(10), || !s
        .aof
        .rewrite_in_progress()));
    assert!(s.store.lock().aof.is_none());
    let m = std::fs::read_to_string(aof_dir(dir.path()).join("appendonly.aof.manifest")).unwrap();
    assert_eq!(m, "file appendonly.aof.1.base.aof seq 1 type b\n");
    let s2 = server(dir.path(), &[]);
    assert!(s2.store.lock().dbs[0].contains(b"a"));
    shutdown(&s2);
}

/// The rewrite's capture driven step by step: random writes (single-key, multi-key,
/// cross-database) between dump batches, with nothing after the last batch. The base stream
/// alone must replay to the data as it is at the end.
#[test]
fn capture_interleaved_with_random_writes_replays_exactly() {
    for seed in 1..=12u64 {
        let dir = tempfile::tempdir().unwrap();
        let args = vec!["--dir".to_string(), dir.path().display().to_string()];
        let s = Shared::new(Config::from_args(&args).unwrap()).unwrap();
        startup(&s).unwrap();
        let mut c = Client::new(&s, 1);
        for i in 0..300 {
            c.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]);
            if i % 3 == 0 {
                c.cmd(&["MOVE", &format!("k{i}"), "1"]);
            }
        }
        {
            let mut st = s.store.lock();
            let cap = Capture::with_partition_size(16 + seed as usize * 8);
            let mut sink = AofSink::new(s.aof.core.clone(), true);
            sink.capture = Some(Box::new(cap));
            st.aof = Some(sink);
        }
        let mut rng = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut base = Vec::new();
        loop {
            for _ in 0..(next() % 6) {
                let r = next();
                let k = format!("k{}", r % 400);
                let k2 = format!("k{}", (r >> 16) % 400);
                let db = ((r >> 32) % 3).to_string();
                c.cmd(&["SELECT", &((r >> 40) % 2).to_string()]);
                match (r >> 8) % 13 {
                    0 => c.cmd(&["SET", &k, "s"]),
                    1 => c.cmd(&["APPEND", &k, "a"]),
                    2 => c.cmd(&["DEL", &k, &k2]),
                    3 => c.cmd(&["RENAME", &k, &k2]),
                    4 => c.cmd(&["MSET", &k, "m", &k2, "n"]),
                    5 => c.cmd(&["MOVE", &k, &db]),
                    6 => c.cmd(&["COPY", &k, &k2, "DB", &db, "REPLACE"]),
                    7 => c.cmd(&["PEXPIRE", &k, "500000"]),
                    8 => c.cmd(&["PERSIST", &k]),
                    9 => c.cmd(&["SWAPDB", "0", &db]),
                    10 if r % 7 == 0 => c.cmd(&["FLUSHDB"]),
                    11 => {
                        c.cmd(&["MULTI"]);
                        c.cmd(&["APPEND", &k, "t"]);
                        c.cmd(&["RENAME", &k2, &k]);
                        c.cmd(&["EXEC"])
                    }
                    _ => c.cmd(&["INCR", &format!("n{}", r % 5)]),
                };
            }
            if next() % 97 == 0 {
                // An effect whose keys are unknown: the dump starts over.
                let mut st = s.store.lock();
                let cap = st.aof.as_mut().unwrap().capture.as_mut().unwrap();
                cap.on_effect(0, &[Bytes::from_static(b"NOSUCHWRITE")]);
            }
            let mut st = s.store.lock();
            let st = &mut *st;
            let mut cap = st.aof.as_mut().unwrap().capture.take().unwrap();
            let done = cap.dump_batch(&st.dbs);
            base.extend(cap.take_out().into_bytes());
            if done {
                st.aof = None;
                break;
            }
            st.aof.as_mut().unwrap().capture = Some(cap);
        }
        let live = snapshot(&s);
        let dir2 = tempfile::tempdir().unwrap();
        write_aof(dir2.path(), &base, b"");
        let s2 = server(dir2.path(), &[]);
        let replayed = snapshot(&s2);
        assert!(
            replayed == live,
            "seed {seed}: {} keys replayed, {} live",
            replayed.len(),
            live.len()
        );
        shutdown(&s2);
    }
}

/// Pieces an AOF file can be made of: whole commands and hostile fragments (huge or negative
/// length prefixes, annotations, MULTI without EXEC, random bytes).
fn aof_piece() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let cmd = prop_oneof![
        Just(vec!["SET", "k", "v"]),
        Just(vec!["RPUSH", "q", "a", "b"]),
        Just(vec!["LPOP", "q"]),
        Just(vec!["XADD", "s", "1-1", "f", "v"]),
        Just(vec!["SELECT", "1"]),
        Just(vec!["SELECT", "99"]),
        Just(vec!["MULTI"]),
        Just(vec!["EXEC"]),
        Just(vec!["PEXPIREAT", "k", "1"]),
        Just(vec!["INCR", "k"]),
        Just(vec!["SETRANGE", "k", "100", "x"]),
        Just(vec!["BLPOP", "q", "0"]),
        Just(vec!["NOSUCH", "x"]),
        Just(vec!["GET"]),
    ]
    .prop_map(|c| resp(&[c.as_slice()]));
    prop_oneof![
        4 => cmd,
        1 => prop_oneof![
            Just(b"*2147483647\r\n".to_vec()),
            Just(b"*1\r\n$536870912\r\n".to_vec()),
            Just(b"*1\r\n$536870913\r\nab\r\n".to_vec()),
            Just(b"*9223372036854775807\r\n".to_vec()),
            Just(b"*1\r\n$-1\r\n".to_vec()),
            Just(b"*-3\r\n".to_vec()),
            Just(b"#TS:1\r\n".to_vec()),
            Just(b"$3\r\nset\r\n".to_vec()),
        ],
        1 => proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

    /// Whatever an AOF file contains, replaying it returns (no panic, no hang, nothing sized by
    /// a length prefix the data does not back), and when it reports truncation the prefix it
    /// would keep loads cleanly. The libFuzzer target `fuzz/fuzz_targets/aof_loader.rs` runs
    /// the same check on unstructured bytes.
    #[test]
    fn any_aof_content_loads_or_is_refused(
        pieces in proptest::collection::vec(aof_piece(), 0..12),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
        do_cut in proptest::prelude::any::<bool>(),
    ) {
        let mut data: Vec<u8> = pieces.concat();
        if do_cut && !data.is_empty() {
            data.truncate(cut.index(data.len()));
        }
        let dir = tempfile::tempdir().unwrap();
        let fresh = || {
            let args = ["--dir".to_string(), dir.path().display().to_string()];
            Shared::new(Config::from_args(&args).unwrap()).unwrap()
        };
        let start = Instant::now();
        let first = loader::replay_bytes(&fresh(), &data, "t.aof");
        if let Ok(Some(keep)) = first {
            proptest::prop_assert!(keep as usize <= data.len());
            let again = loader::replay_bytes(&fresh(), &data[..keep as usize], "t.aof");
            proptest::prop_assert_eq!(again, Ok(None));
        }
        proptest::prop_assert!(start.elapsed() < Duration::from_secs(5));
    }
}
