//! Crash test of the broker features under `appendfsync always`: producers, workers (that
//! acknowledge some deliveries and abandon others), scheduled deliveries and a retention
//! policy run while the server is killed with SIGKILL at random moments, 50 times. After
//! every restart: no acknowledged job is lost, nothing is dead-lettered twice, a dead-lettered
//! or acknowledged job is no longer pending, and each acknowledged schedule is either still
//! scheduled or delivered, exactly once. At the end every schedule has been delivered once.

mod common;

use common::{DirServer, RawConn, wait_for};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn start(dir: &Path) -> DirServer {
    DirServer::ferrymq(
        dir,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--auto-aof-rewrite-min-size",
            "64kb",
            "--auto-aof-rewrite-percentage",
            "50",
        ],
    )
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Bulk strings of a reply, in order.
fn bulks(r: &[u8]) -> Vec<String> {
    let t = s(r);
    let lines: Vec<&str> = t.split("\r\n").collect();
    let mut out = Vec::new();
    for w in lines.windows(2) {
        if w[0].starts_with('$') && w[0] != "$-1" {
            out.push(w[1].to_string());
        }
    }
    out
}

#[derive(Default)]
struct Acked {
    /// Job IDs whose XADD got a reply.
    jobs: HashSet<String>,
    /// Job IDs whose XACK answered 1.
    done: HashSet<String>,
    /// Handle -> payload of each FMQ.SCHEDULE that got a reply.
    scheduled: HashMap<String, String>,
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// One thread's load: `role` 0 produces, 1-2 work, 3 schedules.
fn load(port: u16, role: usize, mut rng: u64, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) {
    let Ok(mut c) = RawConn::try_connect(port) else {
        return;
    };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let payload = format!("p{rng}-{n}");
        let Some(r) = c.try_cmd(&match role {
            0 => vec![
                "XADD".to_string(),
                "jobs".into(),
                "*".into(),
                "n".into(),
                n.to_string(),
            ],
            3 => {
                vec![
                    "FMQ.SCHEDULE".into(),
                    "DELAY".into(),
                    (xorshift(&mut rng) % 150).to_string(),
                    "RPUSH".into(),
                    "delivered".into(),
                    payload.clone(),
                ]
            }
            _ => vec![
                "XREADGROUP".into(),
                "GROUP".into(),
                "g".into(),
                format!("w{role}"),
                "COUNT".into(),
                "5".into(),
                "STREAMS".into(),
                "jobs".into(),
                ">".into(),
            ],
        }) else {
            return;
        };
        match role {
            0 => {
                if let Some(id) = bulks(&r).first() {
                    acked.lock().unwrap().jobs.insert(id.clone());
                }
            }
            3 => {
                if let Some(h) = bulks(&r).first() {
                    acked.lock().unwrap().scheduled.insert(h.clone(), payload);
                }
            }
            _ => {
                // Entry IDs are the bulks that look like IDs and are not field names/values.
                let ids: Vec<String> = bulks(&r)
                    .into_iter()
                    .filter(|b| {
                        b.contains('-') && b.chars().next().is_some_and(|c| c.is_ascii_digit())
                    })
                    .collect();
                for id in ids {
                    // Abandon about a third: they come back after the visibility timeout.
                    if xorshift(&mut rng).is_multiple_of(3) {
                        continue;
                    }
                    match c.try_cmd(&["XACK", "jobs", "g", &id]) {
                        Some(a) if a == b":1\r\n" => {
                            acked.lock().unwrap().done.insert(id);
                        }
                        Some(_) => {}
                        None => return,
                    }
                }
            }
        }
    }
}

/// The invariants, checked on a freshly restarted server.
fn check(c: &mut RawConn, a: &Acked, round: usize) {
    let stream: HashSet<String> = bulks(&c.cmd(&["XRANGE", "jobs", "-", "+"]))
        .into_iter()
        .filter(|b| b.contains('-'))
        .collect();
    for id in &a.jobs {
        assert!(
            stream.contains(id),
            "round {round}: acknowledged job {id} lost"
        );
    }
    let pending: HashSet<String> = {
        let r = s(&c.cmd(&["XPENDING", "jobs", "g", "-", "+", "1000000"]));
        r.split("\r\n")
            .filter(|l| l.contains('-') && l.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    };
    for id in &a.done {
        assert!(
            !pending.contains(id),
            "round {round}: acknowledged {id} still pending"
        );
    }
    let dead = bulks(&c.cmd(&["XRANGE", "dead", "-", "+"]));
    let mut dead_ids = HashSet::new();
    for w in dead.windows(2) {
        if w[0] == "fmq-id" {
            assert!(
                dead_ids.insert(w[1].clone()),
                "round {round}: {} dead-lettered twice",
                w[1]
            );
            assert!(
                !pending.contains(&w[1]),
                "round {round}: dead-lettered {} still pending",
                w[1]
            );
            assert!(
                !a.done.contains(&w[1]),
                "round {round}: acknowledged {} dead-lettered",
                w[1]
            );
        }
    }
    // Both read in one transaction: the timer task may run what is due in between otherwise.
    c.cmd(&["MULTI"]);
    c.cmd(&["LRANGE", "delivered", "0", "-1"]);
    c.cmd(&["FMQ.SCHEDULED", "COUNT", "1000000"]);
    let both = s(&c.cmd(&["EXEC"]));
    let (delivered, still) = both
        .split_once("\r\n*2\r\n:")
        .map(|(d, st)| (bulks(d.as_bytes()), st.to_string()))
        .expect("EXEC reply");
    let mut seen = HashSet::new();
    for p in &delivered {
        assert!(
            seen.insert(p.clone()),
            "round {round}: schedule {p} delivered twice"
        );
    }
    for (h, p) in &a.scheduled {
        let waiting = still.contains(h.as_str());
        assert!(
            waiting != seen.contains(p),
            "round {round}: schedule {h} is {}",
            if waiting {
                "both waiting and delivered"
            } else {
                "neither waiting nor delivered"
            }
        );
    }
}

#[test]
fn sigkill_during_redelivery_deadletter_and_schedules_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut rng = (std::process::id() as u64) << 16 | 0x51ed;
    {
        let p = start(dir.path());
        let mut c = p.raw();
        c.cmd(&["XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM"]);
        c.cmd(&[
            "FMQ.GROUPSET",
            "jobs",
            "g",
            "VISIBILITY",
            "30",
            "MAXDELIVERIES",
            "2",
            "DEADLETTER",
            "dead",
        ]);
        c.cmd(&["FMQ.RETENTION", "jobs", "MAXLEN", "100000", "ACKED"]);
        p.kill9();
    }
    const ROUNDS: usize = 50;
    for round in 0..ROUNDS {
        let p = start(dir.path());
        let mut c = p.raw();
        check(&mut c, &acked.lock().unwrap(), round);
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|role| {
                let (acked, stop, port) = (acked.clone(), stop.clone(), p.port);
                let seed = xorshift(&mut rng);
                std::thread::spawn(move || load(port, role, seed, acked, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(40 + xorshift(&mut rng) % 120));
        p.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
    }
    let p = start(dir.path());
    let mut c = p.raw();
    let a = acked.lock().unwrap();
    check(&mut c, &a, ROUNDS);
    assert!(
        a.jobs.len() > 100 && a.scheduled.len() > 50,
        "the load did not run: {} jobs, {} schedules",
        a.jobs.len(),
        a.scheduled.len()
    );
    // Every schedule is delivered in the end, once.
    assert!(wait_for(Duration::from_secs(10), || {
        s(&c.cmd(&["FMQ.SCHEDULED"])).starts_with("*2\r\n:0\r\n")
    }));
    let delivered: HashSet<String> = bulks(&c.cmd(&["LRANGE", "delivered", "0", "-1"]))
        .into_iter()
        .collect();
    for p in a.scheduled.values() {
        assert!(delivered.contains(p), "schedule {p} never delivered");
    }
    eprintln!(
        "{} jobs, {} acknowledged, {} dead-lettered, {} schedules over {ROUNDS} kills",
        a.jobs.len(),
        a.done.len(),
        s(&c.cmd(&["XLEN", "dead"])).trim(),
        a.scheduled.len()
    );
    p.shutdown();
}
