//! Hostile input over raw sockets: garbage, lying length prefixes, nesting, half frames,
//! connection churn, clients that never read, slowloris senders. Each attack runs next to a
//! well-behaved client (`Probe`) that must keep getting correct answers within `LATENCY_BOUND`,
//! and the server must still be alive and within a memory bound afterwards.
//!
//! Everything is bounded in count and time; waits poll a condition instead of sleeping.

mod common;

use common::{RawConn, Server, info_field, wait_for};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Worst reply time tolerated for the well-behaved client (debug build, 2 shared cores).
const LATENCY_BOUND: Duration = Duration::from_millis(1000);

/// Small deterministic PRNG (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Resident memory of a process, from /proc.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// A well-behaved client running SET/GET round trips in the background.
struct Probe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u64, Duration)>,
}

impl Probe {
    fn start(port: u16) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut c = RawConn::connect(port);
            let (mut n, mut worst) = (0u64, Duration::ZERO);
            while !s.load(Ordering::Relaxed) || n == 0 {
                let key = format!("probe:{}", n % 16);
                let val = format!("value-{n}");
                let t = Instant::now();
                assert_eq!(c.cmd_s(&["SET", &key, &val]), "+OK\r\n");
                let got = c.cmd_s(&["GET", &key]);
                worst = worst.max(t.elapsed());
                assert_eq!(got, format!("${}\r\n{val}\r\n", val.len()));
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            (n, worst)
        });
        Probe { stop, thread }
    }

    /// Stop, assert the latency bound, return (round trips, worst latency).
    fn finish(self, what: &str) -> (u64, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let (n, worst) = self.thread.join().expect("probe client failed");
        eprintln!("{what}: probe made {n} round trips, worst {worst:?}");
        assert!(
            worst < LATENCY_BOUND,
            "{what}: well-behaved client waited {worst:?}"
        );
        (n, worst)
    }
}

fn connected_clients(c: &mut RawConn) -> i64 {
    info_field(c, "connected_clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// Poll until only `n` clients remain connected.
fn settle_clients(server: &Server, n: i64) {
    let mut c = server.raw();
    assert!(
        wait_for(Duration::from_secs(15), || connected_clients(&mut c)
            == n + 1),
        "connections not released: {} connected",
        connected_clients(&mut c)
    );
}

/// Read until the peer closes or `timeout`; true when it closed.
fn drain_until_closed(s: &mut TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 65536];
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                return true;
            }
            Err(_) => return false,
        }
    }
}

#[test]
fn random_bytes_and_mutated_commands() {
    let mut server = Server::ferrymq(&[]);
    let probe = Probe::start(server.port);
    let port = server.port;
    let valid = common::encode_cmd(&["SET", "key", "some value"]);
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let valid = valid.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(1000 + w);
                for i in 0..40 {
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    s.set_write_timeout(Some(Duration::from_secs(5))).ok();
                    // Alternate pure noise with valid commands whose bytes were flipped, which
                    // reach deeper into the decoder.
                    let payload = if i % 2 == 0 {
                        let n = 1 + rng.below(32 * 1024) as usize;
                        rng.bytes(n)
                    } else {
                        let mut p = valid.repeat(1 + rng.below(50) as usize);
                        for _ in 0..1 + rng.below(8) {
                            let at = rng.below(p.len() as u64) as usize;
                            p[at] = rng.next() as u8;
                        }
                        p
                    };
                    let chunk_len = 1 + rng.below(4096) as usize;
                    for chunk in payload.chunks(chunk_len) {
                        if s.write_all(chunk).is_err() {
                            break;
                        }
                    }
                    // Noise either errors out (server closes) or waits for more bytes.
                    let _ = drain_until_closed(&mut s, Duration::from_millis(50));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    probe.finish("random bytes");
    assert!(server.alive());
    settle_clients(&server, 0);
}

/// Error replies and connection handling for malformed framing, against redis-server.
#[test]
fn malformed_framing_matches_redis() {
    let Some(rs) = Server::redis(&[]) else { return };
    let fm = Server::ferrymq(&[]);
    let mut nested = Vec::new();
    for _ in 0..100_000 {
        nested.extend_from_slice(b"*1\r\n");
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("negative bulk length", b"*1\r\n$-1\r\n".to_vec()),
        ("very negative bulk length", b"*1\r\n$-9999\r\n".to_vec()),
        (
            "bulk over proto-max-bulk-len",
            b"*1\r\n$536870913\r\n".to_vec(),
        ),
        (
            "bulk length overflow",
            b"*1\r\n$99999999999999999999\r\n".to_vec(),
        ),
        ("multibulk over INT_MAX", b"*2147483648\r\n".to_vec()),
        ("multibulk overflow", b"*99999999999999999999\r\n".to_vec()),
        ("multibulk not a number", b"*x\r\n".to_vec()),
        ("bulk not a number", b"*1\r\n$1x\r\n".to_vec()),
        ("nested arrays", nested),
        ("integer instead of bulk", b"*2\r\n:1\r\n:2\r\n".to_vec()),
        ("unbalanced quotes", b"SET \"a b\r\n".to_vec()),
        ("inline header line too long", {
            let mut v = b"*1\r\n$".to_vec();
            v.extend(std::iter::repeat_n(b'1', 70 * 1024));
            v
        }),
        ("inline request too long", vec![b'a'; 70 * 1024]),
    ];
    for (what, bytes) in &cases {
        let mut replies = Vec::new();
        for srv in [&rs, &fm] {
            let mut c = srv.raw();
            c.send_raw(bytes);
            let reply = c.read_reply();
            assert!(
                drain_until_closed(&mut c.stream, Duration::from_secs(10)),
                "{}: {what}: not closed",
                srv.name
            );
            replies.push(String::from_utf8_lossy(&reply).into_owned());
        }
        assert_eq!(replies[0], replies[1], "{what}");
    }
    // Empty and null multibulks are skipped without a reply; the connection carries on.
    for srv in [&rs, &fm] {
        let mut c = srv.raw();
        c.send_raw(b"*0\r\n*-1\r\n*-100\r\n\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(c.read_reply(), b"+PONG\r\n", "{}", srv.name);
    }
}

/// Before AUTH, Redis refuses big multibulks and bulks outright.
#[test]
fn unauthenticated_limits_match_redis() {
    let args = ["--requirepass", "secret"];
    let Some(rs) = Server::redis(&args) else {
        return;
    };
    let fm = Server::ferrymq(&args);
    for bytes in [
        b"*11\r\n".to_vec(),
        b"*2\r\n$3\r\nGET\r\n$16385\r\n".to_vec(),
    ] {
        let mut replies = Vec::new();
        for srv in [&rs, &fm] {
            let mut c = srv.raw();
            c.send_raw(&bytes);
            replies.push(String::from_utf8_lossy(&c.read_reply()).into_owned());
            assert!(
                drain_until_closed(&mut c.stream, Duration::from_secs(10)),
                "{} not closed",
                srv.name
            );
        }
        assert_eq!(replies[0], replies[1]);
    }
}

/// Length prefixes that claim gigabytes get nothing reserved for them: many connections each
/// announcing the largest multibulk and bulk allowed barely move the server's memory.
#[test]
fn huge_declared_lengths_allocate_nothing() {
    let mut server = Server::ferrymq(&[]);
    let probe = Probe::start(server.port);
    let before = rss(server.pid());
    let mut conns = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let head: &[u8] = if i % 2 == 0 {
            b"*2147483647\r\n$536870912\r\n"
        } else {
            b"*2\r\n$3\r\nSET\r\n$536870912\r\n"
        };
        s.write_all(head).unwrap();
        s.write_all(&[b'x'; 1024]).unwrap();
        conns.push(s);
    }
    // Every connection is registered (its header decoded) before memory is read.
    let mut c = server.raw();
    assert!(wait_for(Duration::from_secs(15), || connected_clients(
        &mut c
    ) >= 202));
    let after = rss(server.pid());
    eprintln!(
        "200 connections claiming 512 MiB bulks: RSS {} -> {} KiB",
        before / 1024,
        after / 1024
    );
    assert!(
        after < before + 64 * 1024 * 1024,
        "RSS grew from {before} to {after}"
    );
    drop(conns);
    probe.finish("huge lengths");
    assert!(server.alive());
    settle_clients(&server, 1);
}

#[test]
fn half_frames_then_disconnect() {
    let mut server = Server::ferrymq(&[]);
    let probe = Probe::start(server.port);
    let full = common::encode_cmd(&["SET", "half", "0123456789"]);
    let mut rng = Rng::new(7);
    for _ in 0..500 {
        let cut = 1 + rng.below(full.len() as u64 - 1) as usize;
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.write_all(&full[..cut]).unwrap();
        // Half-close sometimes, plain drop (RST or FIN) otherwise.
        if rng.below(2) == 0 {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }
    probe.finish("half frames");
    assert!(server.alive());
    settle_clients(&server, 0);
    let mut c = server.raw();
    assert_eq!(c.cmd_s(&["EXISTS", "half"]), ":0\r\n");
}

#[test]
fn ten_thousand_connections_open_and_close() {
    let mut server = Server::ferrymq(&[]);
    let probe = Probe::start(server.port);
    let port = server.port;
    let start = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let mut served = 0;
                for i in 0..2500 {
                    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                    if i % 10 == w {
                        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
                        s.write_all(b"PING\r\n").unwrap();
                        let mut b = [0u8; 7];
                        s.read_exact(&mut b).unwrap();
                        assert_eq!(&b, b"+PONG\r\n");
                        served += 1;
                    }
                }
                served
            })
        })
        .collect();
    let served: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let took = start.elapsed();
    eprintln!("10000 connections opened and closed in {took:?} ({served} pinged)");
    assert_eq!(served, 1000);
    probe.finish("connection churn");
    assert!(server.alive());
    settle_clients(&server, 0);
    let mut c = server.raw();
    let total: u64 = info_field(&mut c, "total_connections_received")
        .unwrap()
        .parse()
        .unwrap();
    assert!(total >= 10_000, "total_connections_received {total}");
}

/// A client that pipelines large replies and never reads is disconnected once its pending
/// output passes the `normal` class limit, and the server's memory stays bounded meanwhile.
#[test]
fn client_that_never_reads_is_disconnected_at_its_output_limit() {
    let mut server = Server::ferrymq(&["--client-output-buffer-limit", "normal 1mb 512kb 1"]);
    let probe = Probe::start(server.port);
    let mut c = server.raw();
    let value = "v".repeat(64 * 1024);
    assert_eq!(c.cmd_s(&["SET", "big", &value]), "+OK\r\n");
    let base = rss(server.pid());

    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).ok();
    let batch = common::encode_cmd(&["GET", "big"]).repeat(1000);
    let pid = server.pid();
    let mut peak = base;
    let mut sent = 0usize;
    let start = Instant::now();
    // Up to 200k GETs (about 13 GB of replies) or 30 s; the server must cut us off first.
    let closed = loop {
        if sent >= 200_000 || start.elapsed() > Duration::from_secs(30) {
            break false;
        }
        match s.write_all(&batch) {
            Ok(()) => sent += 1000,
            Err(e) => {
                break matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                );
            }
        }
        peak = peak.max(rss(pid));
    };
    peak = peak.max(rss(pid));
    eprintln!(
        "non-reading client: cut off after {sent} GETs of 64 KiB, server RSS {} -> peak {} KiB",
        base / 1024,
        peak / 1024
    );
    assert!(
        closed,
        "server never disconnected the client ({sent} GETs sent)"
    );
    assert!(peak < base + 64 * 1024 * 1024, "server RSS grew to {peak}");
    assert_eq!(
        info_field(&mut c, "client_output_buffer_limit_disconnections").as_deref(),
        Some("1")
    );
    probe.finish("non-reading client");
    assert!(server.alive());
}

/// Slowloris: many clients trickle commands byte by byte; they are answered when complete and
/// nobody else waits for them.
#[test]
fn slowloris_senders() {
    let mut server = Server::ferrymq(&[]);
    let probe = Probe::start(server.port);
    let n = 200;
    let cmds: Vec<Vec<u8>> = (0..n)
        .map(|i| common::encode_cmd(&["SET", &format!("slow:{i}"), &format!("v{i}")]))
        .collect();
    let mut conns: Vec<TcpStream> = (0..n)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            s.set_nodelay(true).ok();
            s
        })
        .collect();
    let longest = cmds.iter().map(|c| c.len()).max().unwrap();
    // One byte per connection every 10 ms: each command takes about half a second to arrive.
    for pos in 0..longest {
        for (s, cmd) in conns.iter_mut().zip(&cmds) {
            if pos < cmd.len() {
                s.write_all(&cmd[pos..pos + 1]).unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for s in conns.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut b = [0u8; 5];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"+OK\r\n");
    }
    probe.finish("slowloris");
    let mut c = server.raw();
    for i in [0, n / 2, n - 1] {
        let v = format!("v{i}");
        assert_eq!(
            c.cmd_s(&["GET", &format!("slow:{i}")]),
            format!("${}\r\n{v}\r\n", v.len())
        );
    }
    assert!(server.alive());
}

/// A bulk larger than `client-query-buffer-limit` closes the connection instead of being
/// buffered.
#[test]
fn query_buffer_limit_closes_the_connection() {
    let mut server = Server::ferrymq(&["--client-query-buffer-limit", "1mb"]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\n")
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < 10_000_000 {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        drain_until_closed(&mut s, Duration::from_secs(10)),
        "not closed"
    );
    assert!(sent < 10_000_000 || server.alive());
    let mut c = server.raw();
    assert_eq!(c.cmd_s(&["EXISTS", "k"]), ":0\r\n");
    assert!(server.alive());
}

/// A client announcing the largest multibulk and then streaming empty arguments never grows
/// the read buffer, but the decoded arguments are charged to its query buffer limit.
#[test]
fn endless_multibulk_of_tiny_arguments_is_cut_off() {
    let mut server = Server::ferrymq(&["--client-query-buffer-limit", "1mb"]);
    let probe = Probe::start(server.port);
    let base = rss(server.pid());
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(b"*2147483647\r\n").unwrap();
    let chunk = b"$0\r\n\r\n".repeat(20_000);
    let mut sent = 0usize;
    let closed = loop {
        if sent >= 60_000_000 {
            break false;
        }
        match s.write_all(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(_) => break true,
        }
    } || drain_until_closed(&mut s, Duration::from_secs(10));
    let after = rss(server.pid());
    eprintln!(
        "tiny-argument flood: cut off after {} KiB sent, RSS {} -> {} KiB",
        sent / 1024,
        base / 1024,
        after / 1024
    );
    assert!(closed, "never disconnected ({sent} bytes sent)");
    assert!(after < base + 64 * 1024 * 1024, "RSS grew to {after}");
    probe.finish("tiny-argument flood");
    assert!(server.alive());
}

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

fn used_memory(c: &mut RawConn) -> i64 {
    info_field(c, "used_memory")
        .and_then(|v| v.parse().ok())
        .expect("INFO used_memory")
}

/// maxmemory with noeviction: a producer filling a queue gets the exact OOM error soon after
/// the limit (what commands allocate is counted at once), reads keep working, a consumer
/// drains, writes resume, and the process's resident memory stays within a bound. INFO memory
/// reports allocated bytes, RSS and the peak.
#[test]
fn maxmemory_producer_is_refused_consumer_drains_writes_resume() {
    const LIMIT_ABOVE_BASE: i64 = 16 << 20;
    const VALUE: usize = 1024;
    let mut srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    let base = used_memory(&mut admin);
    let rss_base = rss(srv.pid());
    let max = base + LIMIT_ABOVE_BASE;
    assert_eq!(
        admin.cmd_s(&["CONFIG", "SET", "maxmemory", &max.to_string()]),
        "+OK\r\n"
    );
    let mut p = srv.raw();
    let value = "v".repeat(VALUE);
    let (mut pushed, mut refused) = (0usize, None);
    // Batches of 64 pipelined pushes until one is refused (bounded: 4x the room there is).
    'fill: for _ in 0..(4 * LIMIT_ABOVE_BASE as usize / VALUE / 64) {
        for _ in 0..64 {
            p.send(&["RPUSH", "q", &value]);
        }
        for _ in 0..64 {
            let r = String::from_utf8_lossy(&p.read_reply()).into_owned();
            if r.starts_with(':') {
                pushed += 1;
            } else {
                refused = Some(r);
                // Drain the rest of this batch.
                continue;
            }
        }
        if refused.is_some() {
            break 'fill;
        }
    }
    assert_eq!(refused.as_deref(), Some(OOM), "after {pushed} pushes");
    let data = (pushed * VALUE) as i64;
    eprintln!(
        "maxmemory: {pushed} pushes of {VALUE} B accepted ({data} B of values) for {LIMIT_ABOVE_BASE} B of room"
    );
    // Refused close to the limit: not long before it, nor far after it.
    assert!(data > LIMIT_ABOVE_BASE / 2, "refused early: {data} B");
    assert!(
        data < LIMIT_ABOVE_BASE + (2 << 20),
        "refused late: {data} B"
    );
    assert!(used_memory(&mut admin) > max - (1 << 20));
    // Still refused, as long as nothing is freed; reads and pops work.
    assert_eq!(p.cmd_s(&["SET", "x", "y"]), OOM);
    assert_eq!(p.cmd_s(&["LLEN", "q"]), format!(":{pushed}\r\n"));
    let peak: i64 = info_field(&mut admin, "used_memory_peak")
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(peak >= max - (1 << 20), "peak {peak}");
    let info_rss: i64 = info_field(&mut admin, "used_memory_rss")
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(info_rss > 0);
    let rss_full = rss(srv.pid());
    // The consumer drains the queue; writes are accepted again.
    let mut c = srv.raw();
    let mut popped = 0;
    loop {
        let r = c.cmd(&["LPOP", "q", "500"]);
        if r.starts_with(b"*-1") {
            break;
        }
        popped += String::from_utf8_lossy(&r)
            .split("\r\n")
            .next()
            .and_then(|h| h[1..].parse::<usize>().ok())
            .unwrap();
    }
    assert_eq!(popped, pushed);
    assert!(
        wait_for(Duration::from_secs(5), || p.cmd_s(&["SET", "x", "y"])
            == "+OK\r\n"),
        "writes did not resume after draining"
    );
    assert!(used_memory(&mut admin) < base + LIMIT_ABOVE_BASE / 2);
    eprintln!(
        "maxmemory: rss base {rss_base} B, full {rss_full} B, after draining {} B",
        rss(srv.pid())
    );
    // Resident memory tracks the limit: the data plus allocator slack, not a multiple of it.
    assert!(
        (rss_full as i64) < rss_base as i64 + 3 * LIMIT_ABOVE_BASE,
        "rss {rss_full} B for a {LIMIT_ABOVE_BASE} B limit above {rss_base} B"
    );
    assert!(srv.alive());
}

/// A command that fails with a bug (DEBUG PANIC stands in for one) costs only that command:
/// its client gets an error and carries on, other clients are not disturbed, and the server
/// keeps serving. (Redis crashes on DEBUG PANIC; ferrymq contains the failure.)
#[test]
fn a_panicking_command_does_not_take_the_server_down() {
    let mut srv = Server::ferrymq(&["--enable-debug-command", "yes"]);
    let probe = Probe::start(srv.port);
    let mut c = srv.raw();
    let mut waiter = srv.raw();
    waiter.send(&["BLPOP", "jobs", "0"]);
    let err = "-ERR internal error while running 'debug': the command was aborted\r\n";
    for _ in 0..20 {
        assert_eq!(c.cmd_s(&["DEBUG", "PANIC"]), err);
        assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
    }
    // Pipelined behind a panic, the next commands are answered in order.
    c.send_raw(
        b"*2\r\n$5\r\nDEBUG\r\n$5\r\nPANIC\r\n*3\r\n$5\r\nRPUSH\r\n$4\r\njobs\r\n$1\r\na\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), err);
    assert_eq!(String::from_utf8_lossy(&c.read_reply()), ":1\r\n");
    // The blocked client was served as usual.
    assert_eq!(
        String::from_utf8_lossy(&waiter.read_reply()),
        "*2\r\n$4\r\njobs\r\n$1\r\na\r\n"
    );
    probe.finish("panicking command");
    assert!(srv.alive());
}
