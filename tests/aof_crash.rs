//! Crash tests: a ferrymq child process under load from several clients is killed with
//! SIGKILL at random moments (also while rewrites run), restarted on the same directory, and
//! every write that got a reply must be there. With `appendfsync always` none may be missing;
//! with `everysec` the loss is reported (a SIGKILL loses only what was not yet written, far
//! less than the one second of fsync lag a power loss could cost).

mod common;

use common::{DirServer, RawConn};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn start(dir: &Path, fsync: &str) -> DirServer {
    // Small rewrite thresholds so automatic rewrites run (and get killed) during the test.
    DirServer::ferrymq(
        dir,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            fsync,
            "--auto-aof-rewrite-min-size",
            "256kb",
            "--auto-aof-rewrite-percentage",
            "60",
        ],
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn supports(c: &mut RawConn, cmd: &str) -> bool {
    text(&c.cmd(&["COMMAND", "INFO", cmd])).contains(cmd)
}

/// What the clients got replies for.
#[derive(Default)]
struct Acked {
    /// `SET w:<client>:<n> <n>`
    sets: Vec<(usize, u64, Instant)>,
    /// highest `INCR c:<client>` reply per client
    incr: HashMap<usize, i64>,
    /// `RPUSH q:<client> <n>`, in order
    pushes: HashMap<usize, Vec<u64>>,
    /// `XADD s:<client> * n <n>` → id
    xadds: HashMap<usize, Vec<String>>,
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// One client: pipelines of a few commands; what gets a reply is recorded as acknowledged.
fn client(
    port: u16,
    id: usize,
    start_n: u64,
    lists: bool,
    streams: bool,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut n = start_n;
    let mut buf = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut sent = Vec::new();
        let mut out = Vec::new();
        for _ in 0..4 {
            n += 1;
            let kind = n % 4;
            let cmd: Vec<String> = match kind {
                0 => vec!["SET".into(), format!("w:{id}:{n}"), n.to_string()],
                1 => vec!["INCR".into(), format!("c:{id}")],
                2 if lists => vec!["RPUSH".into(), format!("q:{id}"), n.to_string()],
                3 if streams => vec![
                    "XADD".into(),
                    format!("s:{id}"),
                    "*".into(),
                    "n".into(),
                    n.to_string(),
                ],
                _ => vec!["SET".into(), format!("w:{id}:{n}"), n.to_string()],
            };
            out.extend_from_slice(&common::encode_cmd(&cmd));
            sent.push((cmd[0].clone(), n));
        }
        if s.write_all(&out).is_err() {
            return;
        }
        for (cmd, n) in sent {
            let reply = loop {
                if let Some(len) = common::frame_len(&buf) {
                    break buf.drain(..len).collect::<Vec<u8>>();
                }
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            };
            let r = text(&reply);
            assert!(!r.starts_with('-'), "{cmd}: {r}");
            let mut a = acked.lock().unwrap();
            match cmd.as_str() {
                "SET" => a.sets.push((id, n, Instant::now())),
                "INCR" => {
                    let v: i64 = r.trim_start_matches(':').trim().parse().unwrap();
                    let e = a.incr.entry(id).or_insert(0);
                    *e = (*e).max(v);
                }
                "RPUSH" => a.pushes.entry(id).or_default().push(n),
                _ => {
                    let idv = r.split("\r\n").nth(1).unwrap_or_default().to_string();
                    a.xadds.entry(id).or_default().push(idv)
                }
            }
        }
    }
}

/// Acknowledged writes missing after the restart.
fn missing(c: &mut RawConn, a: &Acked) -> (usize, Vec<Instant>) {
    let mut lost = 0;
    let mut when = Vec::new();
    for chunk in a.sets.chunks(500) {
        let mut args = vec!["MGET".to_string()];
        args.extend(chunk.iter().map(|(id, n, _)| format!("w:{id}:{n}")));
        let r = text(&c.cmd(&args));
        let vals: Vec<&str> = r.split("\r\n").skip(1).collect();
        let mut i = 0;
        for (_, n, t) in chunk {
            // Each value is `$len` `value`, or `$-1`.
            if vals[i] == "$-1" {
                lost += 1;
                when.push(*t);
                i += 1;
            } else {
                assert_eq!(vals[i + 1], n.to_string());
                i += 2;
            }
        }
    }
    for (id, v) in &a.incr {
        let r = text(&c.cmd(&["GET", &format!("c:{id}")]));
        let got: i64 = r
            .split("\r\n")
            .nth(1)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        if got < *v {
            lost += (*v - got) as usize;
        }
    }
    for (id, pushed) in &a.pushes {
        let r = text(&c.cmd(&["LRANGE", &format!("q:{id}"), "0", "-1"]));
        let have: std::collections::HashSet<&str> = r.split("\r\n").collect();
        lost += pushed
            .iter()
            .filter(|n| !have.contains(n.to_string().as_str()))
            .count();
    }
    for (id, ids) in &a.xadds {
        let r = text(&c.cmd(&["XRANGE", &format!("s:{id}"), "-", "+"]));
        let have: std::collections::HashSet<&str> = r.split("\r\n").collect();
        lost += ids.iter().filter(|x| !have.contains(x.as_str())).count();
    }
    (lost, when)
}

fn crash_rounds(fsync: &str, rounds: usize, seed: u64) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut rng = seed;
    let mut next_n = 0u64;
    for round in 0..rounds {
        let p = start(dir.path(), fsync);
        let mut c = RawConn::connect(p.port);
        let (lost, _) = missing(&mut c, &acked.lock().unwrap());
        if lost > 0 {
            eprintln!(
                "appendfsync {fsync}: after kill {round}: {lost} acknowledged writes missing"
            );
            panic!("acknowledged writes lost with appendfsync {fsync} (seed {seed})");
        }
        let lists = supports(&mut c, "rpush");
        let streams = supports(&mut c, "xadd");
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|id| {
                let acked = acked.clone();
                let stop = stop.clone();
                let port = p.port;
                let start_n = next_n + 1_000_000 * id as u64;
                std::thread::spawn(move || client(port, id, start_n, lists, streams, acked, stop))
            })
            .collect();
        next_n += 100_000;
        let run = Duration::from_millis(150 + xorshift(&mut rng) % 500);
        std::thread::sleep(run / 2);
        if xorshift(&mut rng).is_multiple_of(2) {
            c.send(&["BGREWRITEAOF"]);
        }
        std::thread::sleep(run / 2);
        p.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
    }
    let p = start(dir.path(), fsync);
    let mut c = RawConn::connect(p.port);
    let a = acked.lock().unwrap();
    let (total_lost, _) = missing(&mut c, &a);
    let acks = a.sets.len()
        + a.incr.len()
        + a.pushes.values().map(Vec::len).sum::<usize>()
        + a.xadds.values().map(Vec::len).sum::<usize>();
    (total_lost, acks)
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_write_with_always() {
    let seed = (std::process::id() as u64) << 16 | 0x9e37;
    let (lost, acks) = crash_rounds("always", 6, seed);
    eprintln!("appendfsync always: {acks} acknowledged, {lost} missing (seed {seed})");
    assert!(acks > 500, "the load did not run");
    assert_eq!(
        lost, 0,
        "acknowledged writes lost with appendfsync always (seed {seed})"
    );
}

#[test]
fn sigkill_under_load_with_everysec_loses_nothing_acknowledged() {
    let seed = (std::process::id() as u64) << 16 | 0x7f4a;
    let (lost, acks) = crash_rounds("everysec", 3, seed);
    eprintln!(
        "appendfsync everysec: {acks} acknowledged, {lost} missing after SIGKILL (seed {seed})"
    );
    assert!(acks > 500, "the load did not run");
    // Replies wait until their effects are written (not fsynced): the kernel keeps what was
    // written when the process is killed, so nothing acknowledged is lost.
    assert_eq!(lost, 0, "{lost} of {acks} acknowledged writes lost");
}
