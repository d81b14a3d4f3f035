//! In-process tests of SAVE / BGSAVE / loading: round trips, the point-in-time property of a
//! BGSAVE racing writers, the save points and the error replies.

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

fn server(dir: &Path, extra: &[&str]) -> Arc<Shared> {
    let mut args = vec![
        "--dir".to_string(),
        dir.display().to_string(),
        "--save".into(),
        "".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let shared = Shared::new(Config::from_args(&args).expect("config")).expect("server");
    load_at_startup(&shared).expect("startup");
    shared
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

    fn cmd(&mut self, args: &[&str]) -> String {
        let argv = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        dispatch(&self.shared, &mut self.state, argv);
        let mut buf = bytes::BytesMut::new();
        match self.state.handle.outbox.take(&mut buf) {
            Take::Write { .. } => {
                self.state.handle.outbox.written();
                String::from_utf8_lossy(&buf).into_owned()
            }
            _ => String::new(),
        }
    }
}

fn contents(dbs: &[crate::store::Db]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, db) in dbs.iter().enumerate() {
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

fn live(shared: &Shared) -> Vec<String> {
    contents(&shared.store.lock().dbs)
}

fn read_dump(dir: &Path) -> rdb::file::Loaded {
    let data = std::fs::read(dir.join("dump.rdb")).expect("dump.rdb");
    rdb::file::read_file(
        &data,
        &LoadOptions {
            enc: rdb::Encodings::default(),
            databases: 16,
            grow: false,
            now: 0,
            skip_expired: false,
            policy: Default::default(),
            checksum: true,
        },
    )
    .expect("a valid file")
}

fn wait_idle(s: &Shared) {
    let t = Instant::now();
    while s.rdb.in_progress.load(SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(60), "BGSAVE never ended");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn save_writes_a_file_that_a_restart_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    let mut c = Client::new(&s, 1);
    c.cmd(&["SET", "s", "v"]);
    c.cmd(&["RPUSH", "l", "a", "b", "c"]);
    c.cmd(&["HSET", "h", "f", "1"]);
    c.cmd(&["ZADD", "z", "1.5", "m"]);
    c.cmd(&["SADD", "set", "1", "2"]);
    c.cmd(&["XADD", "st", "1-1", "f", "v"]);
    c.cmd(&["XGROUP", "CREATE", "st", "g", "0"]);
    c.cmd(&["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "st", ">"]);
    c.cmd(&["SET", "t", "v", "PX", "100000"]);
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["SET", "in5", "x"]);
    let lib = "#!lua name=lib\nredis.register_function('f', function() return 7 end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "$3\r\nlib\r\n");
    let info = c.cmd(&["INFO", "persistence"]);
    assert!(
        !info.contains("rdb_changes_since_last_save:0\r\n"),
        "{info}"
    );
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    let info = c.cmd(&["INFO", "persistence"]);
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
    assert!(
        !std::fs::read_dir(dir.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("temp-")),
        "no temp file left"
    );
    let before = live(&s);
    let s2 = server(dir.path(), &[]);
    assert_eq!(live(&s2), before);
    assert_eq!(s2.rdb.keys_loaded.load(SeqCst), 8);
    let mut c2 = Client::new(&s2, 1);
    assert_eq!(c2.cmd(&["FCALL", "f", "0"]), ":7\r\n");
    let info = c2.cmd(&["INFO", "persistence"]);
    assert!(info.contains("rdb_last_load_keys_loaded:8\r\n"), "{info}");
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
}

#[test]
fn a_corrupt_file_stops_startup_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    let mut c = Client::new(&s, 1);
    for i in 0..50 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["SAVE"]);
    let p = dir.path().join("dump.rdb");
    let data = std::fs::read(&p).unwrap();
    std::fs::write(&p, &data[..data.len() - 30]).unwrap();
    let args = vec!["--dir".to_string(), dir.path().display().to_string()];
    let s2 = Shared::new(Config::from_args(&args).unwrap()).unwrap();
    let e = load_at_startup(&s2).unwrap_err().to_string();
    assert!(e.contains("at offset"), "{e}");
    assert!(e.contains("Unexpected EOF"), "{e}");
    assert!(live(&s2).is_empty());
}

#[test]
fn debug_reload_saves_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--enable-debug-command", "yes"]);
    let mut c = Client::new(&s, 1);
    c.cmd(&["RPUSH", "l", "a", "b"]);
    c.cmd(&["SET", "gone", "x", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    let before = live(&s)
        .into_iter()
        .filter(|k| !k.contains("gone"))
        .collect::<Vec<_>>();
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(live(&s), before);
    assert_eq!(
        c.cmd(&["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        c.cmd(&["DEBUG", "RELOAD", "MERGE"]),
        "-ERR DEBUG RELOAD only supports the NOSAVE option.\r\n"
    );
}

#[test]
fn bgsave_errors_are_redis_s() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    let mut c = Client::new(&s, 1);
    assert_eq!(c.cmd(&["BGSAVE", "x"]), "-ERR syntax error\r\n");
    s.rdb.in_progress.store(true, SeqCst);
    assert_eq!(
        c.cmd(&["BGSAVE"]),
        "-ERR Background save already in progress\r\n"
    );
    assert_eq!(
        c.cmd(&["SAVE"]),
        "-ERR Background save already in progress\r\n"
    );
    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting scheduled\r\n"
    );
    s.aof.core.rewrite.scheduled.store(false, SeqCst);
    s.rdb.in_progress.store(false, SeqCst);
    s.aof.core.rewrite.in_progress.store(true, SeqCst);
    assert_eq!(c.cmd(&["BGSAVE"]), format!("-{CHILD_ACTIVE}\r\n"));
    assert_eq!(
        c.cmd(&["BGSAVE", "SCHEDULE"]),
        "+Background saving scheduled\r\n"
    );
    assert!(s.rdb.scheduled.load(SeqCst));
    s.aof.core.rewrite.in_progress.store(false, SeqCst);
    // The cron starts what was scheduled.
    cron(&s);
    wait_idle(&s);
    assert!(!s.rdb.scheduled.load(SeqCst));
    assert!(dir.path().join("dump.rdb").exists());
    c.cmd(&["MULTI"]);
    c.cmd(&["BGSAVE"]);
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n+Background saving scheduled\r\n");
}

#[test]
fn save_points_start_a_bgsave_and_reset_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--save", "10 3"]);
    let mut c = Client::new(&s, 1);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "1"]);
    s.rdb.last_save.store(now_secs() - 60, SeqCst);
    cron(&s);
    assert!(!s.rdb.in_progress.load(SeqCst), "2 changes < 3");
    c.cmd(&["SET", "c", "1"]);
    let before = c.cmd(&["LASTSAVE"]);
    cron(&s);
    wait_idle(&s);
    let info = c.cmd(&["INFO", "persistence"]);
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
    assert!(info.contains("rdb_saves:1\r\n"), "{info}");
    assert!(info.contains("rdb_last_bgsave_status:ok\r\n"), "{info}");
    assert_ne!(c.cmd(&["LASTSAVE"]), before);
    assert_eq!(read_dump(dir.path()).keys_loaded, 3);
}

/// Writers move units between counters atomically (MULTI/EXEC) while BGSAVEs run, with noise
/// on other keys (renames, moves, deletes, SWAPDB of other databases, FLUSHDB): every snapshot
/// must hold counters that sum to zero (a point-in-time view), and the last one, taken after
/// the writers stop, must equal the live dataset.
#[test]
fn bgsave_under_concurrent_writes_is_a_point_in_time_snapshot() {
    const COUNTERS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    {
        let mut c = Client::new(&s, 1);
        let mut args = vec!["MSET".to_string()];
        for i in 0..COUNTERS {
            args.push(format!("c{i}"));
            args.push("0".into());
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        c.cmd(&a);
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
            while !stop.load(Ordering::Relaxed) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let a = format!("c{}", rng % COUNTERS as u64);
                let b = format!("c{}", (rng >> 20) % COUNTERS as u64);
                let k = format!("n{}", rng % 500);
                let k2 = format!("n{}", (rng >> 30) % 500);
                match rng % 8 {
                    0..=3 => {
                        c.cmd(&["MULTI"]);
                        c.cmd(&["DECRBY", &a, "3"]);
                        c.cmd(&["INCRBY", &b, "3"]);
                        c.cmd(&["EXEC"]);
                    }
                    4 => {
                        c.cmd(&["RPUSH", &k, "x", "y"]);
                    }
                    5 => {
                        c.cmd(&["RENAME", &k, &k2]);
                    }
                    6 => {
                        c.cmd(&["SELECT", "2"]);
                        c.cmd(&["SET", &k, "v", "EX", "1000"]);
                        if rng % 97 == 0 {
                            c.cmd(&["FLUSHDB"]);
                        }
                        c.cmd(&["SELECT", "0"]);
                        if rng % 89 == 0 {
                            c.cmd(&["SWAPDB", "2", "3"]);
                        }
                    }
                    _ => {
                        c.cmd(&["DEL", &k]);
                    }
                }
                n += 1;
            }
            n
        }));
    }
    let mut max_hold = 0;
    for _ in 0..6 {
        wait_idle(&s);
        bgsave(&s, false).expect("bgsave starts");
        wait_idle(&s);
        assert!(s.rdb.last_ok.load(SeqCst));
        max_hold = max_hold.max(s.rdb.last_max_hold_us.load(SeqCst));
        let l = read_dump(dir.path());
        let d0 = &l.keyspace.dbs[0];
        let mut sum = 0i64;
        let mut n = 0;
        for (k, e) in d0.map.iter() {
            if k.starts_with(b"c") {
                let crate::store::Value::Str(v) = &e.value else {
                    panic!("counter of another type")
                };
                sum += std::str::from_utf8(v).unwrap().parse::<i64>().unwrap();
                n += 1;
            }
        }
        assert_eq!(n, COUNTERS);
        assert_eq!(sum, 0, "not a point-in-time snapshot");
    }
    stop.store(true, Ordering::Relaxed);
    let ops: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(ops > 1000, "{ops} writes only");
    bgsave(&s, false).unwrap();
    wait_idle(&s);
    assert_eq!(contents(&read_dump(dir.path()).keyspace.dbs), live(&s));
    eprintln!("{ops} writes during 6 BGSAVEs; longest lock hold {max_hold} us");
}

/// Big lists and streams are copied in the capture and encoded after it: the file still holds
/// every element, with the stream's group and pending entries, and a transaction that grows
/// the big list while BGSAVEs run is in each snapshot entirely or not at all.
#[test]
fn bgsave_of_big_keys_written_meanwhile_is_a_point_in_time_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    let mut c = Client::new(&s, 1);
    for i in 0..5000 {
        c.cmd(&["RPUSH", "big", &format!("e{i}")]);
        c.cmd(&["XADD", "st", "*", "f", &format!("v{i}")]);
    }
    c.cmd(&["XGROUP", "CREATE", "st", "g", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "10",
        "STREAMS",
        "st",
        ">",
    ]);
    for i in 0..3000 {
        c.cmd(&["SET", &format!("small{i}"), "v"]);
    }
    c.cmd(&["SET", "cnt", "0"]);
    bgsave(&s, false).expect("bgsave starts");
    wait_idle(&s);
    assert_eq!(contents(&read_dump(dir.path()).keyspace.dbs), live(&s));

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = Client::new(&s, 2);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                c.cmd(&["MULTI"]);
                c.cmd(&["RPUSH", "big", "x"]);
                c.cmd(&["INCR", "cnt"]);
                c.cmd(&["EXEC"]);
                n += 1;
            }
            n
        })
    };
    for _ in 0..5 {
        wait_idle(&s);
        bgsave(&s, false).expect("bgsave starts");
        wait_idle(&s);
        assert!(s.rdb.last_ok.load(SeqCst));
        let l = read_dump(dir.path());
        let d0 = &l.keyspace.dbs[0];
        let crate::store::Value::List(big) = &d0.map[&b"big"[..]].value else {
            panic!("big is a list")
        };
        let crate::store::Value::Str(cnt) = &d0.map[&b"cnt"[..]].value else {
            panic!("cnt is a string")
        };
        let cnt: usize = std::str::from_utf8(cnt).unwrap().parse().unwrap();
        assert_eq!(big.len(), 5000 + cnt, "not a point-in-time snapshot");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    bgsave(&s, false).unwrap();
    wait_idle(&s);
    assert_eq!(contents(&read_dump(dir.path()).keyspace.dbs), live(&s));
}

/// Lock hold of a BGSAVE of many keys (run by hand: `cargo test --release --lib
/// snapshot::tests::bgsave_lock_hold -- --ignored --nocapture`).
#[test]
#[ignore]
fn bgsave_lock_hold_of_a_million_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &[]);
    let mut c = Client::new(&s, 1);
    for chunk in 0..1000 {
        let mut args = vec!["MSET".to_string()];
        for i in 0..1000 {
            args.push(format!("key:{}", chunk * 1000 + i));
            args.push(format!("value-{i}"));
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        c.cmd(&a);
    }
    let t = Instant::now();
    bgsave(&s, false).unwrap();
    wait_idle(&s);
    let bg = t.elapsed();
    let t = Instant::now();
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    let sync = t.elapsed();
    eprintln!(
        "1M keys: BGSAVE {bg:?} with the longest lock hold {} us; SAVE {sync:?} (all under the lock)",
        s.rdb.last_max_hold_us.load(SeqCst)
    );
}

#[test]
fn a_failed_bgsave_refuses_writes_while_save_points_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--save", "3600 1"]);
    // A non-empty directory where the file should go: the rename fails.
    std::fs::create_dir_all(dir.path().join("dump.rdb/x")).unwrap();
    let mut c = Client::new(&s, 1);
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    wait_idle(&s);
    let info = c.cmd(&["INFO", "persistence"]);
    assert!(info.contains("rdb_last_bgsave_status:err\r\n"), "{info}");
    assert_eq!(c.cmd(&["SET", "b", "1"]), format!("-{MISCONF}\r\n"));
    assert_eq!(c.cmd(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(c.cmd(&["SAVE"]), "-ERR\r\n");
    c.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    assert_eq!(c.cmd(&["SET", "b", "1"]), "+OK\r\n");
}

#[test]
fn flushall_saves_the_empty_dataset_when_save_points_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), &["--save", "3600 1"]);
    let mut c = Client::new(&s, 1);
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(c.cmd(&["FLUSHALL"]), "+OK\r\n");
    let info = c.cmd(&["INFO", "persistence"]);
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
    assert!(info.contains("rdb_saves:0\r\n"), "{info}");
    assert_eq!(read_dump(dir.path()).keys_loaded, 0);
    // Without save points nothing is written and the changes count.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = server(dir2.path(), &[]);
    let mut c2 = Client::new(&s2, 1);
    c2.cmd(&["SET", "b", "1"]);
    c2.cmd(&["FLUSHALL"]);
    let info = c2.cmd(&["INFO", "persistence"]);
    assert!(info.contains("rdb_changes_since_last_save:2\r\n"), "{info}");
    assert!(!dir2.path().join("dump.rdb").exists());
}
