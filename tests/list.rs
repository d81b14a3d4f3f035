//! List queues under concurrency: producers and blocking consumers moving 100k messages with no
//! loss and no duplicate, waiter fairness, timeouts racing pushes, clients that disappear while
//! blocked, BLMOVE chains, the `redis` crate used as a queue client, and memory per element
//! against redis-server.

mod common;
use common::{RawConn, Server, wait_for};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn blocked_clients(conn: &mut RawConn) -> usize {
    let r = conn.cmd(&["INFO", "clients"]);
    String::from_utf8_lossy(&r)
        .lines()
        .find_map(|l| l.strip_prefix("blocked_clients:")?.trim().parse().ok())
        .expect("blocked_clients field")
}

fn wait_blocked(conn: &mut RawConn, n: usize) {
    assert!(
        wait_for(Duration::from_secs(10), || blocked_clients(conn) == n),
        "blocked_clients never reached {n} (now {})",
        blocked_clients(conn)
    );
}

/// The elements of a RESP2 array of bulk strings (or of a BRPOP reply), as strings.
fn bulks(reply: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(reply);
    let lines: Vec<&str> = s.split("\r\n").collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('$') && lines[i] != "$-1" {
            out.push(lines[i + 1].to_string());
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn producers_and_blocking_consumers_lose_and_duplicate_nothing() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: usize = 25_000;
    const TOTAL: usize = PRODUCERS * PER_PRODUCER;
    let server = Server::ferrymq(&[]);
    let port = server.port;
    let received = Arc::new(AtomicUsize::new(0));
    let done_producing = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(240);

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let received = received.clone();
            let done = done_producing.clone();
            thread::spawn(move || {
                let mut conn = RawConn::connect(port);
                let mut got = Vec::new();
                // Half the consumers pop from the right, half from the left, and some use
                // several keys, so every blocking path is exercised.
                let cmd: Vec<&str> = match c % 4 {
                    0 => vec!["BRPOP", "q", "0.2"],
                    1 => vec!["BLPOP", "other", "q", "0.2"],
                    2 => vec!["BLMPOP", "0.2", "1", "q", "RIGHT", "COUNT", "3"],
                    _ => vec!["BRPOP", "q", "other", "0.2"],
                };
                while Instant::now() < deadline {
                    let r = conn.cmd(&cmd);
                    let items = bulks(&r);
                    if items.is_empty() {
                        if done.load(Ordering::SeqCst) && received.load(Ordering::SeqCst) >= TOTAL {
                            break;
                        }
                        continue;
                    }
                    // Drop the key name(s): BRPOP/BLPOP give [key, value], BLMPOP [key, [v...]].
                    let values: Vec<String> = items.into_iter().skip(1).collect();
                    received.fetch_add(values.len(), Ordering::SeqCst);
                    got.extend(values);
                }
                got
            })
        })
        .collect();

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            thread::spawn(move || {
                let mut conn = RawConn::connect(port);
                let mut i = 0;
                let mut batch = 1;
                while i < PER_PRODUCER {
                    // Batches of 1..=7 elements: a push of N serves up to N waiters.
                    let n = batch.min(PER_PRODUCER - i);
                    let mut args = vec![if p % 2 == 0 { "LPUSH" } else { "RPUSH" }.to_string()];
                    args.push("q".into());
                    for k in 0..n {
                        args.push(format!("p{p}-{}", i + k));
                    }
                    let r = conn.cmd(&args);
                    assert!(r.starts_with(b":"), "{}", String::from_utf8_lossy(&r));
                    i += n;
                    batch = batch % 7 + 1;
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    done_producing.store(true, Ordering::SeqCst);
    let mut all = HashSet::new();
    let mut count = 0;
    for c in consumers {
        for v in c.join().expect("consumer") {
            count += 1;
            assert!(all.insert(v.clone()), "duplicate {v}");
        }
    }
    assert_eq!(count, TOTAL, "messages lost");
    for p in 0..PRODUCERS {
        for i in 0..PER_PRODUCER {
            assert!(all.contains(&format!("p{p}-{i}")), "lost p{p}-{i}");
        }
    }
    let mut c = server.raw();
    assert_eq!(c.cmd(&["EXISTS", "q"]), b":0\r\n");
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let server = Server::ferrymq(&[]);
    let mut ctl = server.raw();
    let mut waiters: Vec<RawConn> = (0..6).map(|_| server.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        // Different commands and key lists, all including "fifo".
        match i % 3 {
            0 => w.send(&["BRPOP", "fifo", "0"]),
            1 => w.send(&["BLPOP", "x", "fifo", "0"]),
            _ => w.send(&["BLMPOP", "0", "2", "fifo", "y", "LEFT"]),
        }
        wait_blocked(&mut ctl, i + 1);
    }
    // One element at a time: each goes to the longest-waiting client.
    for (i, w) in waiters.iter_mut().enumerate().take(3) {
        ctl.cmd(&["RPUSH", "fifo", &format!("m{i}")]);
        let got = bulks(&w.read_reply());
        assert_eq!(got.last().map(String::as_str), Some(&*format!("m{i}")));
    }
    // One push of three elements serves the three remaining waiters, in order.
    ctl.cmd(&["RPUSH", "fifo", "a", "b", "c"]);
    let order: Vec<String> = waiters[3..]
        .iter_mut()
        .map(|w| bulks(&w.read_reply()).pop().expect("value"))
        .collect();
    // BRPOP takes from the right (c), then BLPOP from the left (a), then BLMPOP LEFT (b).
    assert_eq!(order, ["c", "a", "b"]);
    assert_eq!(ctl.cmd(&["EXISTS", "fifo"]), b":0\r\n");
    assert_eq!(blocked_clients(&mut ctl), 0);
}

#[test]
fn timeouts_racing_pushes_deliver_each_element_exactly_once() {
    let server = Server::ferrymq(&[]);
    let port = server.port;
    let mut ctl = server.raw();
    let start = Instant::now();
    let mut served = 0;
    let mut timed_out = 0;
    for round in 0..200 {
        let v = format!("v{round}");
        let pusher = {
            let v = v.clone();
            thread::spawn(move || {
                let mut c = RawConn::connect(port);
                // Vary the moment of the push around the 10 ms timeout.
                thread::sleep(Duration::from_micros((round % 20) * 1000));
                c.cmd(&["RPUSH", "race", &v]);
            })
        };
        let mut w = RawConn::connect(port);
        let r = w.cmd(&["BLPOP", "race", "0.01"]);
        pusher.join().expect("pusher");
        let left = bulks(&ctl.cmd(&["LRANGE", "race", "0", "-1"]));
        if r == b"*-1\r\n" {
            timed_out += 1;
            assert_eq!(
                left,
                std::slice::from_ref(&v),
                "timed out but the element is gone"
            );
        } else {
            served += 1;
            assert_eq!(bulks(&r), ["race".to_string(), v.clone()]);
            assert!(left.is_empty(), "served and still in the list: {left:?}");
        }
        // Nothing more arrives on the waiter's connection: exactly one reply.
        assert_eq!(w.try_read_reply(Duration::from_millis(2)), None);
        ctl.cmd(&["DEL", "race"]);
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "race loop too slow"
        );
    }
    assert_eq!(served + timed_out, 200);
    assert_eq!(blocked_clients(&mut ctl), 0);
}

#[test]
fn clients_gone_while_blocked_take_nothing() {
    let server = Server::ferrymq(&[]);
    let mut ctl = server.raw();
    // Disconnected.
    let mut w = server.raw();
    w.send(&["BLPOP", "gone", "0"]);
    wait_blocked(&mut ctl, 1);
    drop(w);
    wait_blocked(&mut ctl, 0);
    ctl.cmd(&["RPUSH", "gone", "kept"]);
    assert_eq!(bulks(&ctl.cmd(&["LRANGE", "gone", "0", "-1"])), ["kept"]);

    // Killed with CLIENT KILL, with a live waiter behind it that gets the element.
    let mut a = server.raw();
    let id = String::from_utf8_lossy(&a.cmd(&["CLIENT", "ID"]))
        .trim()
        .trim_start_matches(':')
        .to_string();
    a.send(&["BLMOVE", "k2", "dst", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut ctl, 1);
    let mut b = server.raw();
    b.send(&["BRPOP", "k2", "0"]);
    wait_blocked(&mut ctl, 2);
    assert_eq!(ctl.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    wait_blocked(&mut ctl, 1);
    assert!(a.closed(Duration::from_secs(5)));
    ctl.cmd(&["RPUSH", "k2", "x"]);
    assert_eq!(bulks(&b.read_reply()), ["k2", "x"]);
    assert_eq!(ctl.cmd(&["EXISTS", "dst", "k2"]), b":0\r\n");
}

#[test]
fn blmove_chains_hand_over_atomically() {
    const HOPS: usize = 10;
    let server = Server::ferrymq(&[]);
    let mut ctl = server.raw();
    let mut hops: Vec<RawConn> = (0..HOPS).map(|_| server.raw()).collect();
    // Registered from the far end so each hop's destination already has its waiter.
    for (i, c) in hops.iter_mut().enumerate().rev() {
        let (src, dst) = (format!("c{i}"), format!("c{}", i + 1));
        if i % 2 == 0 {
            c.send(&["BLMOVE", &src, &dst, "LEFT", "RIGHT", "0"]);
        } else {
            c.send(&["BRPOPLPUSH", &src, &dst, "0"]);
        }
        wait_blocked(&mut ctl, HOPS - i);
    }
    let mut last = server.raw();
    last.send(&["BLPOP", &format!("c{HOPS}"), "0"]);
    wait_blocked(&mut ctl, HOPS + 1);
    ctl.cmd(&["LPUSH", "c0", "token"]);
    for c in hops.iter_mut() {
        assert_eq!(c.read_reply(), b"$5\r\ntoken\r\n");
    }
    assert_eq!(
        bulks(&last.read_reply()),
        [format!("c{HOPS}"), "token".into()]
    );
    let keys: Vec<String> = (0..=HOPS).map(|i| format!("c{i}")).collect();
    let mut args = vec!["EXISTS".to_string()];
    args.extend(keys);
    assert_eq!(ctl.cmd(&args), b":0\r\n");
    assert_eq!(blocked_clients(&mut ctl), 0);
}

#[test]
fn blocking_commands_in_multi_do_not_block() {
    let server = Server::ferrymq(&[]);
    let mut c = server.raw();
    c.cmd(&["MULTI"]);
    c.cmd(&["BLPOP", "m", "0"]);
    c.cmd(&["RPUSH", "m", "a"]);
    c.cmd(&["BRPOP", "m", "0"]);
    c.cmd(&["BLMOVE", "m", "n", "LEFT", "LEFT", "0"]);
    assert_eq!(
        c.cmd(&["EXEC"]),
        b"*4\r\n*-1\r\n:1\r\n*2\r\n$1\r\nm\r\n$1\r\na\r\n$-1\r\n"
    );
}

#[test]
fn redis_crate_uses_lists_as_queues() {
    use redis::Commands;
    let server = Server::ferrymq(&[]);
    let client = server.client();
    let consumer = thread::spawn(move || {
        let mut conn = client.get_connection().expect("conn");
        let mut got = Vec::new();
        for _ in 0..3 {
            let r: Option<(String, String)> = redis::cmd("BRPOP")
                .arg("jobs")
                .arg(5)
                .query(&mut conn)
                .expect("brpop");
            got.push(r.expect("served").1);
        }
        got
    });
    let mut ctl = server.raw();
    wait_blocked(&mut ctl, 1);
    let mut conn = server.conn();
    let n: i64 = conn.lpush("jobs", "j1").expect("lpush");
    assert_eq!(n, 1);
    let n: i64 = conn.lpush("jobs", &["j2", "j3"]).expect("lpush");
    assert!(n <= 2);
    assert_eq!(consumer.join().expect("consumer"), ["j1", "j2", "j3"]);
    let len: i64 = conn.llen("jobs").expect("llen");
    assert_eq!(len, 0);
    let r: Option<String> = conn.rpoplpush("jobs", "done").expect("rpoplpush");
    assert_eq!(r, None);
}

/// Bytes per element as MEMORY USAGE reports them, ferrymq against redis-server 7.0 for the same
/// list of 100-byte elements.
#[test]
fn memory_per_element_no_more_than_redis() {
    const N: usize = 100_000;
    let fm = Server::ferrymq(&[]);
    let Some(rs) = Server::redis(&[]) else { return };
    let value = "v".repeat(100);
    let mut usage = Vec::new();
    for s in [&fm, &rs] {
        let mut c = s.raw();
        for _ in 0..N / 1000 {
            let mut args = vec!["RPUSH", "mem"];
            args.extend(std::iter::repeat_n(value.as_str(), 1000));
            c.cmd(&args);
        }
        let r = c.cmd_s(&["MEMORY", "USAGE", "mem", "SAMPLES", "0"]);
        let bytes: usize = r.trim().trim_start_matches(':').parse().expect("usage");
        usage.push(bytes as f64 / N as f64);
    }
    eprintln!(
        "bytes per 100-byte element: ferrymq {:.2}, redis {:.2}",
        usage[0], usage[1]
    );
    assert!(
        usage[0] <= usage[1],
        "ferrymq {:.2} > redis {:.2} bytes/element",
        usage[0],
        usage[1]
    );
}

#[test]
fn blocked_client_is_flagged_in_client_list() {
    let server = Server::ferrymq(&[]);
    let mut ctl = server.raw();
    let mut w = server.raw();
    w.send(&["BRPOP", "flagged", "0"]);
    wait_blocked(&mut ctl, 1);
    let list = ctl.cmd_s(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains("cmd=brpop"))
        .expect("blocked client listed");
    assert!(line.contains(" flags=b "), "{line}");
    ctl.cmd(&["LPUSH", "flagged", "x"]);
    assert_eq!(bulks(&w.read_reply()), ["flagged", "x"]);
    let list = ctl.cmd_s(&["CLIENT", "LIST"]);
    assert!(!list.contains("flags=b "), "{list}");
}
