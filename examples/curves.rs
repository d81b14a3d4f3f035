//! Cost curves: how the cost of one operation grows with the amount of state, for ferrymq and
//! redis-server side by side. Run by `benches/curves.sh`, which builds this (release), raises
//! the descriptor limit and pins it to the client CPU; see `benches/CURVES.md`.
//!
//!   curves --ferrymq BIN [--redis BIN] [--quick] [--server-cpu N] [--out DIR] [--only a,b,..]
//!
//! Each workload starts a fresh ferrymq and a fresh redis-server (pinned to `--server-cpu` with
//! taskset when given, with persistence off and no pub/sub output limit), then for each point of
//! the sweep measures both, one after the other:
//!
//! - `patterns`: N PSUBSCRIBE patterns `pat:<i>:*` held by one client, PUBLISH (pipelined 50
//!   deep) to `pat:1:x`, which matches one of them: PUBLISH/s.
//! - `scan`: N keys, `SCAN cursor COUNT 10` called back to back along one walk: µs per call,
//!   as the client sees it (round trip) and as the server spends it (INFO commandstats).
//! - `fanout`: N clients SUBSCRIBEd to one channel, PUBLISH in small rounds (the next round
//!   waits until every subscriber received the previous one): deliveries/s.
//! - `brpop`: N clients blocked in BRPOP on their own key, then one LPUSH per key (pipelined):
//!   wake-ups/s until every client has its reply.
//! - `pel`: a consumer group with N pending entries: µs per XPENDING (first 10), XAUTOCLAIM
//!   (COUNT 10) and XACK (each acked entry is put back with XCLAIM FORCE, untimed), round trip
//!   and in the server.
//! - `idle`: N idle connections (each answered one PING), up to 50 000 from several loopback
//!   source addresses: server RSS growth per connection, connections accepted per second (256
//!   in flight) and the PING p50 and p99 of one active client.
//! - `channels`: N channels of one subscriber each, held by connections of 100 000 channels:
//!   bytes per subscription (`used_memory`), and SUBSCRIBE / UNSUBSCRIBE of 1000 more channels
//!   (10 pipelined commands of 100): channels per second.
//! - `groups`: N consumer groups on one stream, one consumer (of the first group) blocked in
//!   XREADGROUP: XADD/s (pipelined 50 deep) and the p50 and p99 from XADD to that
//!   consumer's receipt.
//! - `streamlen`: a stream of N entries: XRANGE COUNT 10 from the middle, XREVRANGE COUNT 10
//!   from the end, XDEL of one middle entry, XTRIM MINID of 5 entries, round trip and in the
//!   server; bytes per entry.
//! - `keys`: N small keys: bytes per key, a whole SCAN (COUNT 1000) and KEYS of a pattern
//!   matching 3 keys, round trip and in the server.
//!
//! Writes `DIR/CURVES.md` (tables), `DIR/curves/curves.csv` and `DIR/curves/<workload>.png`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::Notify;

// ---------------------------------------------------------------------------------------------
// Options

struct Opts {
    quick: bool,
    ferrymq: PathBuf,
    redis: PathBuf,
    server_cpu: Option<String>,
    out: PathBuf,
    only: Option<Vec<String>>,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        quick: false,
        ferrymq: PathBuf::from("target/release/ferrymq"),
        redis: PathBuf::from("redis-server"),
        server_cpu: None,
        out: PathBuf::from("benches"),
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--ferrymq" => o.ferrymq = val().into(),
            "--redis" => o.redis = val().into(),
            "--server-cpu" => o.server_cpu = Some(val()),
            "--out" => o.out = val().into(),
            "--only" => o.only = Some(val().split(',').map(str::to_string).collect()),
            _ => panic!("unknown option {a}"),
        }
    }
    o
}

impl Opts {
    /// How long one point is measured on one server.
    fn window(&self) -> Duration {
        if self.quick {
            Duration::from_millis(400)
        } else {
            Duration::from_millis(1500)
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == name))
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Ferrymq,
    Redis,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ferrymq => "ferrymq",
            Kind::Redis => "redis-server",
        }
    }
}

const KINDS: [Kind; 2] = [Kind::Ferrymq, Kind::Redis];

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Server {
    async fn start(kind: Kind, o: &Opts) -> Server {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let bin = match kind {
                Kind::Ferrymq => &o.ferrymq,
                Kind::Redis => &o.redis,
            };
            let mut cmd = match &o.server_cpu {
                Some(cpu) => {
                    let mut c = Command::new("taskset");
                    c.arg("-c").arg(cpu).arg(bin);
                    c
                }
                None => Command::new(bin),
            };
            let port_s = port.to_string();
            cmd.args([
                "--port",
                &port_s,
                "--bind",
                "127.0.0.1",
                // `idle` connects from 127.0.0.2.. too, which protected mode refuses (only
                // 127.0.0.1 and ::1 count as local); the bind above keeps it to loopback.
                "--protected-mode",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxclients",
                "60000",
                "--client-output-buffer-limit",
                "pubsub 0 0 0",
                "--loglevel",
                "warning",
                "--dir",
            ])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            let child = cmd.spawn().expect("start server");
            let mut s = Server {
                child,
                port,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(mut c) = Conn::connect(port).await
                    && matches!(c.cmd(&["PING"]).await, Resp::Simple(ref p) if p == b"PONG")
                {
                    return s;
                }
                if s.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(s.child.kill());
        }
        panic!("{} did not start", kind.name());
    }

    /// Resident set size in bytes (the pid is the server's: taskset execs it).
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal pipelining RESP client

#[derive(Debug)]
enum Resp {
    Simple(Vec<u8>),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    fn int(&self) -> i64 {
        match self {
            Resp::Int(i) => *i,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

/// Parse one reply from `b`: Ok(None) when incomplete, Ok(Some((reply, length))) otherwise.
fn parse(b: &[u8]) -> Option<(Resp, usize)> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = &b[1..line_end];
    let rest = line_end + 2;
    let num = || -> i64 {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("number")
    };
    match b[0] {
        b'+' => Some((Resp::Simple(line.to_vec()), rest)),
        b'-' => Some((Resp::Error(String::from_utf8_lossy(line).into()), rest)),
        b':' => Some((Resp::Int(num()), rest)),
        b'$' => {
            let n = num();
            if n < 0 {
                return Some((Resp::Bulk(None), rest));
            }
            let end = rest + n as usize;
            if b.len() < end + 2 {
                return None;
            }
            Some((Resp::Bulk(Some(b[rest..end].to_vec())), end + 2))
        }
        b'*' | b'>' => {
            let n = num();
            if n < 0 {
                return Some((Resp::Array(None), rest));
            }
            let mut items = Vec::with_capacity(n as usize);
            let mut at = rest;
            for _ in 0..n {
                let (item, len) = parse(&b[at..])?;
                items.push(item);
                at += len;
            }
            Some((Resp::Array(Some(items)), at))
        }
        other => panic!("unexpected reply byte {other:#x}"),
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    let _ = write!(Fmt(out), "*{}\r\n", args.len());
    for a in args {
        let _ = write!(Fmt(out), "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// `fmt::Write` into a byte vector.
struct Fmt<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Conn {
    async fn connect(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            start: 0,
            out: Vec::new(),
        })
    }

    fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let parts: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
        encode(&mut self.out, &parts);
    }

    async fn flush(&mut self) {
        self.stream.write_all(&self.out).await.expect("write");
        self.out.clear();
    }

    /// Sends what is queued and reads `n` replies.
    async fn flush_and_read(&mut self, n: u64) {
        self.flush().await;
        for _ in 0..n {
            self.read().await;
        }
    }

    /// The next reply; an error reply stops the bench (every command sent expects success).
    async fn read(&mut self) -> Resp {
        loop {
            if self.start < self.buf.len()
                && let Some((r, n)) = parse(&self.buf[self.start..])
            {
                self.start += n;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                if let Resp::Error(e) = &r {
                    panic!("server error: {e}");
                }
                return r;
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let len = self.buf.len();
            self.buf.resize(len + 64 * 1024, 0);
            let n = self.stream.read(&mut self.buf[len..]).await.expect("read");
            self.buf.truncate(len + n);
            assert!(n > 0, "server closed the connection");
        }
    }

    async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Resp {
        self.queue(args);
        self.flush().await;
        self.read().await
    }

    /// Hand the read half to a task that counts every byte the server sends from now on.
    fn drain_into(self, counter: Arc<AtomicU64>, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
        assert_eq!(self.start, self.buf.len(), "unread replies");
        let (mut rd, _wr): (OwnedReadHalf, _) = self.stream.into_split();
        tokio::spawn(async move {
            let _keep = _wr;
            let mut b = vec![0u8; 64 * 1024];
            loop {
                match rd.read(&mut b).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                        wake.notify_one();
                    }
                }
            }
        })
    }
}

/// Wait until `counter` reaches `target` (woken by the draining tasks).
async fn wait_for(counter: &AtomicU64, wake: &Notify, target: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while counter.load(Ordering::Relaxed) < target {
        if tokio::time::timeout_at(deadline.into(), wake.notified())
            .await
            .is_err()
        {
            return counter.load(Ordering::Relaxed) >= target;
        }
    }
    true
}

/// The length of a RESP2 push of bulk strings.
fn frame_len(parts: &[&[u8]]) -> u64 {
    let mut v = Vec::new();
    encode(&mut v, parts);
    v.len() as u64
}

// ---------------------------------------------------------------------------------------------
// Results

/// One measured series: server -> [(x, y)].
type Series = BTreeMap<Kind, Vec<(u64, f64)>>;

struct Workload {
    name: &'static str,
    title: &'static str,
    x_label: &'static str,
    y_label: &'static str,
    /// Higher is better (throughput) or lower is better (latency, memory).
    higher_better: bool,
    /// Only the series whose name contains this are charted (all when None).
    chart_only: Option<&'static str>,
    /// series name -> server -> [(x, y)]
    series: BTreeMap<&'static str, Series>,
    /// Series measured in another unit than `y_label`: series -> (chart suffix, unit, higher
    /// is better). Each such unit gets its own chart, `<name>-<suffix>.png`.
    units: BTreeMap<&'static str, (&'static str, &'static str, bool)>,
}

impl Workload {
    fn new(
        name: &'static str,
        title: &'static str,
        x_label: &'static str,
        y_label: &'static str,
        higher_better: bool,
    ) -> Self {
        Workload {
            name,
            title,
            x_label,
            y_label,
            higher_better,
            chart_only: None,
            series: BTreeMap::new(),
            units: BTreeMap::new(),
        }
    }

    /// Declare that `series` is measured in `unit` (charted apart, in `<name>-<chart>.png`).
    fn unit(
        &mut self,
        series: &'static str,
        chart: &'static str,
        unit: &'static str,
        higher_better: bool,
    ) {
        self.units.insert(series, (chart, unit, higher_better));
    }

    /// (chart suffix, "" for the main chart; unit; higher is better) of a series.
    fn unit_of(&self, series: &str) -> (&'static str, &'static str, bool) {
        self.units
            .get(series)
            .copied()
            .unwrap_or(("", self.y_label, self.higher_better))
    }

    /// The charts: (file stem suffix, unit, series drawn in it).
    fn charts(&self) -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
        let mut charts: Vec<(&'static str, &'static str, Vec<&'static str>)> = Vec::new();
        for &name in self.series.keys() {
            let (chart, unit, _) = self.unit_of(name);
            if chart.is_empty() && !self.chart_only.is_none_or(|f| name.contains(f)) {
                continue;
            }
            match charts.iter_mut().find(|c| c.0 == chart) {
                Some(c) => c.2.push(name),
                None => charts.push((chart, unit, vec![name])),
            }
        }
        charts.sort_by_key(|c| !c.0.is_empty());
        charts
    }

    fn chart_file(&self, chart: &str) -> String {
        if chart.is_empty() {
            format!("{}.png", self.name)
        } else {
            format!("{}-{chart}.png", self.name)
        }
    }

    fn record(&mut self, series: &'static str, kind: Kind, x: u64, y: f64) {
        eprintln!(
            "  {:<9} {:<14} {:<12} x={:<8} {}",
            self.name,
            series,
            kind.name(),
            x,
            fmt_num(y)
        );
        self.series
            .entry(series)
            .or_default()
            .entry(kind)
            .or_default()
            .push((x, y));
    }
}

fn fmt_num(y: f64) -> String {
    if y >= 100.0 {
        format!("{:.0}", y)
    } else if y >= 10.0 {
        format!("{:.1}", y)
    } else if y >= 0.01 || y <= 0.0 {
        format!("{:.2}", y)
    } else {
        format!("{:.4}", y)
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

/// `pat:<i>:*` patterns (1000 per subscriber connection); PUBLISH to a channel that matches
/// one of them.
async fn patterns(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "patterns",
        "PUBLISH with N pattern subscriptions (1 matching)",
        "pattern subscriptions",
        "PUBLISH/s",
        true,
    );
    let points: &[u64] = if o.quick {
        &[1, 100, 1000, 10_000]
    } else {
        &[1, 10, 100, 1000, 3000, 10_000]
    };
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let counter = Arc::new(AtomicU64::new(0));
        let wake = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        let mut have = 0u64;
        for &n in points {
            // Patterns already held stay: the sweep only adds. Each holder's pmessages are
            // read by a draining task.
            while have < n {
                let batch = (n - have).min(1000);
                let mut sub = Conn::connect(s.port).await.unwrap();
                let mut args: Vec<Vec<u8>> = vec![b"PSUBSCRIBE".to_vec()];
                args.extend((have..have + batch).map(|i| format!("pat:{i}:*").into_bytes()));
                sub.queue(&args);
                sub.flush_and_read(batch).await;
                tasks.push(sub.drain_into(counter.clone(), wake.clone()));
                have += batch;
            }
            let mut p = Conn::connect(s.port).await.unwrap();
            let receivers = p.cmd(&["PUBLISH", "pat:0:x", "m"]).await.int();
            assert_eq!(receivers, 1, "{}", kind.name());
            let rate = publish_rate(&mut p, o.window()).await;
            w.record("PUBLISH", kind, n, rate);
        }
        for t in tasks {
            t.abort();
        }
    }
    w
}

/// PUBLISH pat:0:x pipelined 50 deep for `window`: publishes per second.
async fn publish_rate(p: &mut Conn, window: Duration) -> f64 {
    const DEPTH: usize = 50;
    let t0 = Instant::now();
    let mut done = 0u64;
    while t0.elapsed() < window {
        for _ in 0..DEPTH {
            p.queue(&["PUBLISH", "pat:0:x", "m"]);
        }
        p.flush_and_read(DEPTH as u64).await;
        done += DEPTH as u64;
    }
    done as f64 / t0.elapsed().as_secs_f64()
}

/// SCAN COUNT 10 latency as the keyspace grows.
async fn scan(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "scan",
        "SCAN cursor COUNT 10 with N keys",
        "keys",
        "µs per call",
        false,
    );
    let points: &[u64] = if o.quick {
        &[1, 1000, 100_000, 1_000_000]
    } else {
        &[1, 100, 10_000, 100_000, 300_000, 1_000_000]
    };
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let mut c = Conn::connect(s.port).await.unwrap();
        let mut have = 0u64;
        for &n in points {
            while have < n {
                // 20 MSETs of up to 1000 keys in flight.
                let mut sent = 0;
                for _ in 0..20 {
                    if have >= n {
                        break;
                    }
                    let batch = (n - have).min(1000);
                    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
                    for i in have..have + batch {
                        args.push(format!("key:{i}").into_bytes());
                        args.push(b"v".to_vec());
                    }
                    c.queue(&args);
                    have += batch;
                    sent += 1;
                }
                c.flush_and_read(sent).await;
            }
            let (mut cursor, mut calls, mut returned) = (b"0".to_vec(), 0u64, 0u64);
            c.cmd(&["CONFIG", "RESETSTAT"]).await;
            let t0 = Instant::now();
            while t0.elapsed() < o.window() {
                let args: [&[u8]; 4] = [b"SCAN", &cursor, b"COUNT", b"10"];
                let Resp::Array(Some(r)) = c.cmd(&args).await else {
                    panic!("SCAN reply")
                };
                let mut r = r.into_iter();
                let (Some(Resp::Bulk(Some(next))), Some(Resp::Array(Some(keys)))) =
                    (r.next(), r.next())
                else {
                    panic!("SCAN reply shape")
                };
                cursor = next;
                returned += keys.len() as u64;
                calls += 1;
            }
            let us = t0.elapsed().as_secs_f64() * 1e6 / calls as f64;
            w.record("SCAN round trip", kind, n, us);
            let server = usec_per_call(&mut c, "scan").await;
            w.record("SCAN in server", kind, n, server);
            eprintln!("    ({} keys per call on average)", returned / calls.max(1));
        }
    }
    w
}

/// N subscribers of one channel: deliveries per second.
async fn fanout(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "fanout",
        "PUBLISH to one channel with N subscribers",
        "subscribers",
        "deliveries/s",
        true,
    );
    let points: &[u64] = if o.quick {
        &[1, 100, 1000, 10_000]
    } else {
        &[1, 10, 100, 1000, 3000, 10_000]
    };
    let payload = vec![b'x'; 16];
    let frame = frame_len(&[b"message", b"fan", &payload]);
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let counter = Arc::new(AtomicU64::new(0));
        let wake = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        let mut have = 0u64;
        for &n in points {
            while have < n {
                let batch = (n - have).min(500);
                let mut conns = Vec::new();
                for _ in 0..batch {
                    let mut c = Conn::connect(s.port).await.unwrap();
                    c.queue(&["SUBSCRIBE", "fan"]);
                    c.flush().await;
                    conns.push(c);
                }
                for mut c in conns {
                    c.read().await;
                    tasks.push(c.drain_into(counter.clone(), wake.clone()));
                }
                have += batch;
            }
            let mut p = Conn::connect(s.port).await.unwrap();
            // Rounds small enough that a round is a few thousand deliveries.
            let round = (2000 / n).clamp(1, 100);
            let base = counter.load(Ordering::Relaxed);
            let t0 = Instant::now();
            let mut sent = 0u64;
            while t0.elapsed() < o.window() {
                for _ in 0..round {
                    let args: [&[u8]; 3] = [b"PUBLISH", b"fan", &payload];
                    p.queue(&args);
                }
                p.flush().await;
                for _ in 0..round {
                    assert_eq!(p.read().await.int() as u64, n);
                }
                // One round in flight at most: wait for the previous one.
                let target = base + sent * n * frame;
                assert!(
                    wait_for(&counter, &wake, target, Duration::from_secs(60)).await,
                    "deliveries stalled"
                );
                sent += round;
            }
            let target = base + sent * n * frame;
            assert!(wait_for(&counter, &wake, target, Duration::from_secs(60)).await);
            let rate = (sent * n) as f64 / t0.elapsed().as_secs_f64();
            w.record("deliveries", kind, n, rate);
        }
        for t in tasks {
            t.abort();
        }
    }
    w
}

/// N clients blocked in BRPOP on their own key; rounds of one LPUSH per key (pipelined), the
/// next round once every client has its reply: wake-ups per second. Each client blocks again
/// as soon as it is served.
async fn brpop(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "brpop",
        "LPUSH waking N clients blocked in BRPOP (one key each)",
        "blocked clients",
        "wake-ups/s",
        true,
    );
    let points: &[u64] = if o.quick {
        &[1, 100, 1000, 10_000]
    } else {
        &[1, 10, 100, 1000, 3000, 10_000]
    };
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let mut ctl = Conn::connect(s.port).await.unwrap();
        let served = Arc::new(AtomicU64::new(0));
        let wake = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        let mut have = 0u64;
        for &n in points {
            while have < n {
                let mut c = Conn::connect(s.port).await.unwrap();
                let key = format!("bl:{have}");
                let (served, wake) = (served.clone(), wake.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        c.cmd(&["BRPOP", &key, "0"]).await;
                        served.fetch_add(1, Ordering::Relaxed);
                        wake.notify_one();
                    }
                }));
                have += 1;
            }
            // Poll until every client is blocked.
            let deadline = Instant::now() + Duration::from_secs(30);
            while blocked_clients(&mut ctl).await < n {
                assert!(Instant::now() < deadline, "clients did not block");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let base = served.load(Ordering::Relaxed);
            let (t0, mut rounds) = (Instant::now(), 0u64);
            while t0.elapsed() < o.window() {
                for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
                    for &i in chunk {
                        ctl.queue(&["LPUSH", &format!("bl:{i}"), "x"]);
                    }
                    ctl.flush_and_read(chunk.len() as u64).await;
                }
                rounds += 1;
                let target = base + rounds * n;
                assert!(
                    wait_for(&served, &wake, target, Duration::from_secs(60)).await,
                    "wake-ups stalled"
                );
            }
            let rate = (rounds * n) as f64 / t0.elapsed().as_secs_f64();
            w.record("wake-ups", kind, n, rate);
        }
        for t in tasks {
            t.abort();
        }
    }
    w
}

/// Server-side time per call of `cmd` since the last CONFIG RESETSTAT (INFO commandstats):
/// the cost without the round trip.
async fn usec_per_call(c: &mut Conn, cmd: &str) -> f64 {
    let Resp::Bulk(Some(info)) = c.cmd(&["INFO", "commandstats"]).await else {
        panic!("INFO")
    };
    let prefix = format!("cmdstat_{cmd}:");
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix("usec_per_call="))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn blocked_clients(ctl: &mut Conn) -> u64 {
    let Resp::Bulk(Some(info)) = ctl.cmd(&["INFO", "clients"]).await else {
        panic!("INFO")
    };
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A consumer group whose PEL holds N entries: latency of XPENDING, XAUTOCLAIM and XACK.
async fn pel(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "pel",
        "Consumer-group commands with N pending entries (chart: time in server)",
        "pending entries",
        "µs per call",
        false,
    );
    w.chart_only = Some("in server");
    let points: &[u64] = if o.quick {
        &[1, 1000, 100_000]
    } else {
        &[1, 100, 10_000, 100_000, 1_000_000]
    };
    let window = o.window() / 2;
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let mut c = Conn::connect(s.port).await.unwrap();
        c.cmd(&["XGROUP", "CREATE", "pel", "g", "$", "MKSTREAM"])
            .await;
        let mut have = 0u64;
        let mut ids: Vec<Vec<u8>> = Vec::new();
        for &n in points {
            while have < n {
                let batch = (n - have).min(10_000);
                for i in 0..batch {
                    c.queue(&["XADD", "pel", "*", "f", &(have + i).to_string()]);
                }
                c.flush_and_read(batch).await;
                let r = c
                    .cmd(&[
                        "XREADGROUP",
                        "GROUP",
                        "g",
                        "c1",
                        "COUNT",
                        &batch.to_string(),
                        "STREAMS",
                        "pel",
                        ">",
                    ])
                    .await;
                // [[pel, [[id, fields]...]]]: keep the first ids for XACK.
                if let Resp::Array(Some(streams)) = r
                    && let Some(Resp::Array(Some(s0))) = streams.into_iter().next()
                    && let Some(Resp::Array(Some(entries))) = s0.into_iter().nth(1)
                {
                    for e in entries {
                        if ids.len() >= 10_000 {
                            break;
                        }
                        if let Resp::Array(Some(e)) = e
                            && let Some(Resp::Bulk(Some(id))) = e.into_iter().next()
                        {
                            ids.push(id);
                        }
                    }
                }
                have += batch;
            }
            c.cmd(&["CONFIG", "RESETSTAT"]).await;
            // XPENDING: the first 10 pending entries.
            let (t0, mut calls) = (Instant::now(), 0u64);
            while t0.elapsed() < window {
                c.cmd(&["XPENDING", "pel", "g", "-", "+", "10"]).await;
                calls += 1;
            }
            let rtt = t0.elapsed().as_secs_f64() * 1e6 / calls as f64;
            w.record("XPENDING round trip", kind, n, rtt);
            // XAUTOCLAIM: claims the first 10 (min-idle 0) to c2; the PEL keeps its size.
            let (t0, mut calls) = (Instant::now(), 0u64);
            while t0.elapsed() < window {
                c.cmd(&["XAUTOCLAIM", "pel", "g", "c2", "0", "0-0", "COUNT", "10"])
                    .await;
                calls += 1;
            }
            let rtt = t0.elapsed().as_secs_f64() * 1e6 / calls as f64;
            w.record("XAUTOCLAIM round trip", kind, n, rtt);
            // XACK one entry (timed), then XCLAIM FORCE puts it back (untimed).
            let (mut spent, mut calls, t0) = (Duration::ZERO, 0u64, Instant::now());
            while t0.elapsed() < window {
                let id = &ids[calls as usize % ids.len().min(n as usize)];
                let t = Instant::now();
                let ack: [&[u8]; 4] = [b"XACK", b"pel", b"g", id];
                let acked = c.cmd(&ack).await.int();
                spent += t.elapsed();
                assert_eq!(acked, 1);
                let claim: [&[u8]; 8] = [
                    b"XCLAIM", b"pel", b"g", b"c1", b"0", id, b"FORCE", b"JUSTID",
                ];
                c.cmd(&claim).await;
                calls += 1;
            }
            w.record(
                "XACK round trip",
                kind,
                n,
                spent.as_secs_f64() * 1e6 / calls as f64,
            );
            for cmd in ["XPENDING", "XAUTOCLAIM", "XACK"] {
                let server = usec_per_call(&mut c, &cmd.to_lowercase()).await;
                let series = match cmd {
                    "XPENDING" => "XPENDING in server",
                    "XAUTOCLAIM" => "XAUTOCLAIM in server",
                    _ => "XACK in server",
                };
                w.record(series, kind, n, server);
            }
        }
    }
    w
}

/// One field of INFO `section` as a number (0 when absent).
async fn info_num(c: &mut Conn, section: &str, field: &str) -> f64 {
    let Resp::Bulk(Some(info)) = c.cmd(&["INFO", section]).await else {
        panic!("INFO")
    };
    let prefix = format!("{field}:");
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Bytes the server has allocated (INFO memory `used_memory`: jemalloc's allocated bytes in
/// both servers).
async fn used_memory(c: &mut Conn) -> u64 {
    info_num(c, "memory", "used_memory").await as u64
}

/// Total server-side microseconds spent in `cmd` since the last CONFIG RESETSTAT.
async fn usec_total(c: &mut Conn, cmd: &str) -> f64 {
    let Resp::Bulk(Some(info)) = c.cmd(&["INFO", "commandstats"]).await else {
        panic!("INFO")
    };
    let prefix = format!("cmdstat_{cmd}:");
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').find_map(|kv| kv.strip_prefix("usec=")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The `pct` percentile of `v` (sorted in place).
fn percentile(v: &mut [f64], pct: usize) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() * pct) / 100).min(v.len() - 1)]
}

/// Allocations settle a moment after a burst (freed thread caches, deferred frees).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// SUBSCRIBE (or UNSUBSCRIBE) `prefix<i>` for i in `range` on `c`, 1000 channels per command
/// and 20 commands in flight; every reply read.
async fn subscribe_range(c: &mut Conn, verb: &str, prefix: &str, range: std::ops::Range<u64>) {
    let mut i = range.start;
    while i < range.end {
        let mut replies = 0;
        for _ in 0..20 {
            if i >= range.end {
                break;
            }
            let end = (i + 1000).min(range.end);
            let mut args: Vec<Vec<u8>> = vec![verb.as_bytes().to_vec()];
            args.extend((i..end).map(|j| format!("{prefix}{j}").into_bytes()));
            c.queue(&args);
            replies += end - i;
            i = end;
        }
        c.flush_and_read(replies).await;
    }
}

/// N channels, one subscriber each, held by a few connections (100 000 channels each): memory
/// per subscription, and the rate of SUBSCRIBE and UNSUBSCRIBE of 1000 more channels (10
/// commands of 100 channels, pipelined) on another connection.
async fn channels(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "channels",
        "SUBSCRIBE / UNSUBSCRIBE with N channels of one subscriber each",
        "channels",
        "channels/s",
        true,
    );
    w.unit(
        "memory/subscription",
        "memory",
        "bytes per subscription (used_memory)",
        false,
    );
    let points: &[u64] = if o.quick {
        &[1, 1000, 100_000, 1_000_000]
    } else {
        &[1, 100, 10_000, 100_000, 300_000, 1_000_000]
    };
    const PER_CONN: u64 = 100_000;
    let window = o.window() / 2;
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let mut ctl = Conn::connect(s.port).await.unwrap();
        let mut churn = Conn::connect(s.port).await.unwrap();
        settle().await;
        let base = used_memory(&mut ctl).await;
        let mut holders: Vec<Conn> = Vec::new();
        let mut have = 0u64;
        for &n in points {
            while have < n {
                if have.is_multiple_of(PER_CONN) {
                    holders.push(Conn::connect(s.port).await.unwrap());
                }
                let upto = n.min((have / PER_CONN + 1) * PER_CONN);
                let h = holders.last_mut().unwrap();
                subscribe_range(h, "SUBSCRIBE", "ch:", have..upto).await;
                have = upto;
            }
            settle().await;
            if n >= 1000 {
                let used = used_memory(&mut ctl).await;
                let per = used.saturating_sub(base) as f64 / n as f64;
                w.record("memory/subscription", kind, n, per);
            }
            let (mut sub, mut unsub, mut done, t0) =
                (Duration::ZERO, Duration::ZERO, 0u64, Instant::now());
            while t0.elapsed() < window {
                for (verb, spent) in [("SUBSCRIBE", &mut sub), ("UNSUBSCRIBE", &mut unsub)] {
                    let t = Instant::now();
                    for k in 0..10u64 {
                        let mut args: Vec<Vec<u8>> = vec![verb.as_bytes().to_vec()];
                        args.extend(
                            (k * 100..k * 100 + 100).map(|j| format!("tmp:{j}").into_bytes()),
                        );
                        churn.queue(&args);
                    }
                    churn.flush_and_read(1000).await;
                    *spent += t.elapsed();
                }
                done += 1000;
            }
            w.record("SUBSCRIBE", kind, n, done as f64 / sub.as_secs_f64());
            w.record("UNSUBSCRIBE", kind, n, done as f64 / unsub.as_secs_f64());
        }
    }
    w
}

/// N consumer groups on one stream; one consumer, of the first group, blocked in XREADGROUP
/// (NOACK); the other groups idle. XADD/s (pipelined 50 deep, the reader keeping up) and the
/// p50 and p99 from XADD to receipt by that consumer (one XADD at a time).
async fn groups(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "groups",
        "XADD to a stream with N consumer groups (one consumer blocked in XREADGROUP)",
        "consumer groups",
        "XADD/s",
        true,
    );
    for p in ["fan-in p50", "fan-in p99"] {
        w.unit(
            p,
            "latency",
            "µs from XADD to receipt by the blocked consumer",
            false,
        );
    }
    let points: &[u64] = if o.quick {
        &[1, 100, 1000]
    } else {
        &[1, 10, 100, 300, 1000]
    };
    let window = o.window() / 2;
    let epoch = Instant::now();
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let mut ctl = Conn::connect(s.port).await.unwrap();
        ctl.cmd(&["XGROUP", "CREATE", "gs", "g0", "$", "MKSTREAM"])
            .await;
        let received = Arc::new(AtomicU64::new(0));
        let wake = Arc::new(Notify::new());
        let lat: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
        let mut reader = Conn::connect(s.port).await.unwrap();
        let task = {
            let (received, wake, lat) = (received.clone(), wake.clone(), lat.clone());
            tokio::spawn(async move {
                let args = [
                    "XREADGROUP",
                    "GROUP",
                    "g0",
                    "c",
                    "COUNT",
                    "1000",
                    "BLOCK",
                    "0",
                    "NOACK",
                    "STREAMS",
                    "gs",
                    ">",
                ];
                loop {
                    let r = reader.cmd(&args).await;
                    let now = epoch.elapsed().as_nanos() as f64;
                    // [[gs, [[id, [t, nanos]]...]]]
                    let Resp::Array(Some(streams)) = r else {
                        continue;
                    };
                    let mut got = 0;
                    for st in streams {
                        let Resp::Array(Some(st)) = st else { continue };
                        let Some(Resp::Array(Some(entries))) = st.into_iter().nth(1) else {
                            continue;
                        };
                        let mut lat = lat.lock().unwrap();
                        for e in entries {
                            got += 1;
                            if let Resp::Array(Some(e)) = e
                                && let Some(Resp::Array(Some(fields))) = e.into_iter().nth(1)
                                && let Some(Resp::Bulk(Some(t))) = fields.into_iter().nth(1)
                                && let Some(t) = std::str::from_utf8(&t)
                                    .ok()
                                    .and_then(|t| t.parse::<f64>().ok())
                            {
                                lat.push((now - t) / 1000.0);
                            }
                        }
                    }
                    received.fetch_add(got, Ordering::Relaxed);
                    wake.notify_one();
                }
            })
        };
        let mut have = 1u64;
        // Warm up (connections, the stream's first nodes) with 5000 entries, untimed.
        for _ in 0..100 {
            for _ in 0..50 {
                ctl.queue(&["XADD", "gs", "*", "t", "0"]);
            }
            ctl.flush_and_read(50).await;
        }
        let mut sent = 5000u64;
        assert!(
            wait_for(&received, &wake, sent, Duration::from_secs(60)).await,
            "the reader fell behind"
        );
        for &n in points {
            while have < n {
                ctl.cmd(&["XGROUP", "CREATE", "gs", &format!("g{have}"), "$"])
                    .await;
                have += 1;
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while blocked_clients(&mut ctl).await < 1 {
                assert!(Instant::now() < deadline, "the reader did not block");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // XADD/s, pipelined 50 deep.
            let t0 = Instant::now();
            let mut added = 0u64;
            while t0.elapsed() < window {
                for _ in 0..50 {
                    let t = epoch.elapsed().as_nanos().to_string();
                    ctl.queue(&["XADD", "gs", "*", "t", &t]);
                }
                ctl.flush_and_read(50).await;
                added += 50;
            }
            let rate = added as f64 / t0.elapsed().as_secs_f64();
            sent += added;
            assert!(
                wait_for(&received, &wake, sent, Duration::from_secs(60)).await,
                "the reader fell behind"
            );
            w.record("XADD", kind, n, rate);
            // Fan-in latency: one XADD at a time, the next once the reader has it.
            lat.lock().unwrap().clear();
            let t0 = Instant::now();
            while t0.elapsed() < window {
                let t = epoch.elapsed().as_nanos().to_string();
                ctl.cmd(&["XADD", "gs", "*", "t", &t]).await;
                sent += 1;
                assert!(
                    wait_for(&received, &wake, sent, Duration::from_secs(10)).await,
                    "entry not received"
                );
            }
            let mut lat = lat.lock().unwrap();
            w.record("fan-in p50", kind, n, percentile(&mut lat, 50));
            w.record("fan-in p99", kind, n, percentile(&mut lat, 99));
        }
        task.abort();
    }
    w
}

/// A stream of N entries (ids 1-1, 2-1, ..): XRANGE COUNT 10 from the middle, XREVRANGE
/// COUNT 10 from the end, XDEL of one entry in the middle and XTRIM MINID removing the 5
/// oldest (each followed, untimed, by XADDs that keep the length), round trip and in the
/// server; memory per entry.
async fn streamlen(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "streamlen",
        "Stream commands on a stream of N entries (chart: time in server)",
        "entries",
        "µs per call",
        false,
    );
    w.chart_only = Some("in server");
    w.unit(
        "memory/entry",
        "memory",
        "bytes per entry (used_memory)",
        false,
    );
    let points: &[u64] = if o.quick {
        &[1, 1000, 100_000, 1_000_000]
    } else {
        &[1, 1000, 100_000, 1_000_000, 10_000_000]
    };
    let window = o.window() / 2;
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let mut c = Conn::connect(s.port).await.unwrap();
        settle().await;
        let base = used_memory(&mut c).await;
        // Entry ids are <ms>-1 with ms = 1, 2, ..; `next` is the next ms to append.
        let mut next = 1u64;
        for &n in points {
            let mut len = if next == 1 {
                0
            } else {
                c.cmd(&["XLEN", "st"]).await.int() as u64
            };
            while len < n {
                let batch = (n - len).min(10_000);
                for i in next..next + batch {
                    let id = format!("{i}-1");
                    let v = i.to_string();
                    c.queue(&["XADD", "st", &id, "f", &v]);
                }
                c.flush_and_read(batch).await;
                next += batch;
                len += batch;
            }
            settle().await;
            if n >= 1000 {
                let used = used_memory(&mut c).await;
                let per = used.saturating_sub(base) as f64 / n as f64;
                w.record("memory/entry", kind, n, per);
            }
            let first = first_ms(&mut c, "-").await;
            let mid = format!("{}-0", first + (next - first) / 2);
            c.cmd(&["CONFIG", "RESETSTAT"]).await;
            for (name, args) in [
                (
                    "XRANGE round trip",
                    ["XRANGE", "st", mid.as_str(), "+", "COUNT", "10"],
                ),
                (
                    "XREVRANGE round trip",
                    ["XREVRANGE", "st", "+", "-", "COUNT", "10"],
                ),
            ] {
                let (t0, mut calls) = (Instant::now(), 0u64);
                while t0.elapsed() < window {
                    c.cmd(&args).await;
                    calls += 1;
                }
                w.record(
                    name,
                    kind,
                    n,
                    t0.elapsed().as_secs_f64() * 1e6 / calls as f64,
                );
            }
            // Read now: the XDEL and XTRIM loops below locate entries with XRANGE.
            for (cmd, series) in [
                ("xrange", "XRANGE in server"),
                ("xrevrange", "XREVRANGE in server"),
            ] {
                let server = usec_per_call(&mut c, cmd).await;
                w.record(series, kind, n, server);
            }
            // XDEL entries from the middle on, one by one, each replaced by one at the end.
            let (mut spent, mut calls, t0) = (Duration::ZERO, 0u64, Instant::now());
            let mut k = first_ms(&mut c, &mid).await;
            while t0.elapsed() < window {
                let id = format!("{k}-1");
                let t = Instant::now();
                let deleted = c.cmd(&["XDEL", "st", &id]).await.int();
                spent += t.elapsed();
                assert_eq!(deleted, 1, "{}", kind.name());
                calls += 1;
                append(&mut c, &mut next, 1).await;
                k = first_ms(&mut c, &format!("({id}")).await;
            }
            w.record(
                "XDEL round trip",
                kind,
                n,
                spent.as_secs_f64() * 1e6 / calls as f64,
            );
            // XTRIM MINID past the few oldest entries, as many appended.
            let few = n.min(5);
            let (mut spent, mut calls, t0) = (Duration::ZERO, 0u64, Instant::now());
            let mut first = first_ms(&mut c, "-").await;
            while t0.elapsed() < window {
                let minid = format!("{}-0", first + few);
                let t = Instant::now();
                c.cmd(&["XTRIM", "st", "MINID", &minid]).await;
                spent += t.elapsed();
                calls += 1;
                append(&mut c, &mut next, few).await;
                first = first_ms(&mut c, "-").await;
            }
            w.record(
                "XTRIM round trip",
                kind,
                n,
                spent.as_secs_f64() * 1e6 / calls as f64,
            );
            for (cmd, series) in [("xdel", "XDEL in server"), ("xtrim", "XTRIM in server")] {
                let server = usec_per_call(&mut c, cmd).await;
                w.record(series, kind, n, server);
            }
        }
    }
    w
}

/// The ms part of the first id of `st` at or after `from` (XRANGE from + COUNT 1).
async fn first_ms(c: &mut Conn, from: &str) -> u64 {
    let r = c.cmd(&["XRANGE", "st", from, "+", "COUNT", "1"]).await;
    if let Resp::Array(Some(entries)) = r
        && let Some(Resp::Array(Some(e))) = entries.into_iter().next()
        && let Some(Resp::Bulk(Some(id))) = e.into_iter().next()
    {
        let id = String::from_utf8_lossy(&id);
        return id.split('-').next().unwrap().parse().unwrap();
    }
    panic!("no entry at or after {from}")
}

/// XADD `count` entries at the end of `st` (pipelined).
async fn append(c: &mut Conn, next: &mut u64, count: u64) {
    for _ in 0..count {
        let (id, v) = (format!("{next}-1"), next.to_string());
        c.queue(&["XADD", "st", &id, "f", &v]);
        *next += 1;
    }
    c.flush_and_read(count).await;
}

/// N small keys (`key:<i>` = "v") and 3 `rare:<i>` keys: memory per key, a whole SCAN (COUNT
/// 1000, every call until the cursor is back at 0) and KEYS rare:* (matches the 3), round
/// trip and in the server.
async fn keys(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "keys",
        "Whole-keyspace commands with N keys (chart: time in server)",
        "keys",
        "ms per whole SCAN or KEYS",
        false,
    );
    w.chart_only = Some("in server");
    w.unit("memory/key", "memory", "bytes per key (used_memory)", false);
    let points: &[u64] = if o.quick {
        &[1, 1000, 100_000, 1_000_000]
    } else {
        &[1, 1000, 100_000, 1_000_000, 3_000_000, 10_000_000]
    };
    let window = o.window() / 2;
    for kind in KINDS {
        let s = Server::start(kind, o).await;
        let mut c = Conn::connect(s.port).await.unwrap();
        c.cmd(&["MSET", "rare:0", "v", "rare:1", "v", "rare:2", "v"])
            .await;
        settle().await;
        let base = used_memory(&mut c).await;
        let mut have = 0u64;
        for &n in points {
            while have < n {
                // 20 MSETs of up to 1000 keys in flight.
                let mut sent = 0;
                let mut args: Vec<Vec<u8>> = Vec::with_capacity(2001);
                for _ in 0..20 {
                    if have >= n {
                        break;
                    }
                    let batch = (n - have).min(1000);
                    args.clear();
                    args.push(b"MSET".to_vec());
                    for i in have..have + batch {
                        args.push(format!("key:{i}").into_bytes());
                        args.push(b"v".to_vec());
                    }
                    c.queue(&args);
                    have += batch;
                    sent += 1;
                }
                c.flush_and_read(sent).await;
            }
            settle().await;
            if n >= 1000 {
                let used = used_memory(&mut c).await;
                let per = used.saturating_sub(base) as f64 / n as f64;
                w.record("memory/key", kind, n, per);
            }
            c.cmd(&["CONFIG", "RESETSTAT"]).await;
            let (mut cursor, mut returned) = (b"0".to_vec(), 0u64);
            let t0 = Instant::now();
            loop {
                let args: [&[u8]; 4] = [b"SCAN", &cursor, b"COUNT", b"1000"];
                let Resp::Array(Some(r)) = c.cmd(&args).await else {
                    panic!("SCAN reply")
                };
                let mut r = r.into_iter();
                let (Some(Resp::Bulk(Some(next))), Some(Resp::Array(Some(keys)))) =
                    (r.next(), r.next())
                else {
                    panic!("SCAN reply shape")
                };
                returned += keys.len() as u64;
                if next == b"0" {
                    break;
                }
                cursor = next;
            }
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            assert!(returned >= n + 3, "SCAN returned {returned} of {}", n + 3);
            w.record("SCAN whole round trip", kind, n, ms);
            let server = usec_total(&mut c, "scan").await / 1e3;
            w.record("SCAN whole in server", kind, n, server);
            let (t0, mut calls) = (Instant::now(), 0u64);
            while calls == 0 || t0.elapsed() < window {
                let Resp::Array(Some(found)) = c.cmd(&["KEYS", "rare:*"]).await else {
                    panic!("KEYS reply")
                };
                assert_eq!(found.len(), 3);
                calls += 1;
            }
            w.record(
                "KEYS rare:* round trip",
                kind,
                n,
                t0.elapsed().as_secs_f64() * 1e3 / calls as f64,
            );
            let server = usec_per_call(&mut c, "keys").await / 1e3;
            w.record("KEYS rare:* in server", kind, n, server);
        }
    }
    w
}

/// One idle connection from `src` (a loopback address: each has ~28 000 ephemeral ports
/// towards one server port), after one PING answered; no buffers kept.
async fn idle_conn(port: u16, src: std::net::Ipv4Addr) -> std::io::Result<TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind((src, 0).into())?;
    let mut s = sock.connect(([127, 0, 0, 1], port).into()).await?;
    s.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
    let mut pong = [0u8; 7];
    s.read_exact(&mut pong).await?;
    assert_eq!(&pong, b"+PONG\r\n");
    Ok(s)
}

/// N idle connections (each answered one PING): server RSS growth per connection, the rate
/// at which they were connected (256 connects in flight, each with its PING), and the PING
/// p50 and p99 of one active client meanwhile.
async fn idle(o: &Opts) -> Workload {
    let mut w = Workload::new(
        "idle",
        "N idle connections",
        "idle connections",
        "RSS bytes per connection",
        false,
    );
    w.unit(
        "accepts/s",
        "accept",
        "connections/s (connect + PING; 256 in flight)",
        true,
    );
    for p in ["PING p50", "PING p99"] {
        w.unit(p, "ping", "µs per PING of one active client", false);
    }
    let wanted: &[u64] = if o.quick {
        &[1000, 10_000]
    } else {
        &[1000, 2000, 5000, 10_000, 20_000, 50_000]
    };
    // The driver holds every connection and each server accepts them: both need descriptors.
    // Where the limit is lower (a hard limit that cannot be raised), the sweep stops at the
    // largest thousand that fits.
    let fits = nofile_limit().saturating_sub(1000) / 1000 * 1000;
    let mut points: Vec<u64> = wanted.iter().copied().filter(|&n| n <= fits).collect();
    if points.len() < wanted.len() {
        eprintln!(
            "  idle: descriptor limit {}: the sweep stops at {fits}",
            nofile_limit()
        );
        if points.last().is_some_and(|&l| l < fits) {
            points.push(fits);
        }
    }
    for (ki, kind) in KINDS.into_iter().enumerate() {
        let s = Server::start(kind, o).await;
        let mut active = Conn::connect(s.port).await.unwrap();
        let mut conns: Vec<TcpStream> = Vec::new();
        // Settle the allocator with one connection in and out first.
        active.cmd(&["PING"]).await;
        settle().await;
        let base = s.rss();
        for &n in &points {
            let t0 = Instant::now();
            let from = conns.len() as u64;
            let mut set = tokio::task::JoinSet::new();
            // Below the listen backlog of both servers (tcp-backlog 511).
            const IN_FLIGHT: usize = 256;
            for i in from..n {
                // 10 000 connections per source address, apart for each server.
                let src = std::net::Ipv4Addr::new(127, 0, 0, 2 + 8 * ki as u8 + (i / 10_000) as u8);
                let port = s.port;
                set.spawn(idle_conn(port, src));
                if set.len() >= IN_FLIGHT
                    && let Some(r) = set.join_next().await
                {
                    conns.push(r.expect("task").expect("connect"));
                }
            }
            while let Some(r) = set.join_next().await {
                conns.push(r.expect("task").expect("connect"));
            }
            let rate = (n - from) as f64 / t0.elapsed().as_secs_f64();
            settle().await;
            let per = s.rss().saturating_sub(base) as f64 / n as f64;
            w.record("RSS/conn", kind, n, per);
            w.record("accepts/s", kind, n, rate);
            let (t0, mut lat) = (Instant::now(), Vec::new());
            while t0.elapsed() < o.window() {
                let t = Instant::now();
                active.cmd(&["PING"]).await;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            w.record("PING p50", kind, n, percentile(&mut lat, 50));
            w.record("PING p99", kind, n, percentile(&mut lat, 99));
        }
        // The server goes first, so the TIME_WAIT sockets are on its side, not on the source
        // ports of the next server's connections.
        drop(s);
        drop(conns);
    }
    w
}

/// RLIMIT_NOFILE (soft) of this process, which the servers inherit.
fn nofile_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    r.rlim_cur
}

/// Raise RLIMIT_NOFILE for the bench (this process and the servers it starts) to 120 000
/// descriptors, or as close as allowed: the hard limit too when privileged, else the soft up
/// to the hard.
fn raise_nofile() {
    const WANT: u64 = 120_000;
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 || r.rlim_cur >= WANT {
            return;
        }
        let raised = libc::rlimit {
            rlim_cur: WANT,
            rlim_max: r.rlim_max.max(WANT),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            let soft = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn ratio_note(higher_better: bool, ferry: f64, redis: f64) -> String {
    if ferry <= 0.0 || redis <= 0.0 {
        return "-".into();
    }
    let r = if higher_better {
        ferry / redis
    } else {
        redis / ferry
    };
    format!("{:.2}×", r)
}

fn write_markdown(o: &Opts, ws: &[Workload], started: Instant) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Cost curves: ferrymq vs redis-server\n");
    let _ = writeln!(
        md,
        "Regenerate (tables, `benches/curves/curves.csv` and the charts `benches/curves/*.png`):\n\n```\nbash benches/curves.sh            # whole sweep, under 20 minutes\nbash benches/curves.sh --quick    # fewer points, shorter windows, under 5 minutes\n```\n"
    );
    let redis_version = Command::new(&o.redis)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    // The machine's CPUs (this process is pinned to one, so not available_parallelism).
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    let _ = writeln!(
        md,
        "Run: {} mode, {} s per point and server, {} CPUs, servers {}, the client on the other CPU; {}; ferrymq release build. The sweep took {:.0} s. Both servers are fresh for each workload, persistence off, `client-output-buffer-limit pubsub 0 0 0`. \"ratio\" is how many times better ferrymq is (higher throughput, or lower latency/memory): above 1 ferrymq is better.\n",
        if o.quick { "quick" } else { "full" },
        o.window().as_secs_f64(),
        cpus,
        o.server_cpu
            .as_ref()
            .map_or("unpinned".to_string(), |c| format!(
                "pinned to CPU {c} (taskset)"
            )),
        redis_version,
        started.elapsed().as_secs_f64()
    );
    md.push_str(NOTES);
    for w in ws {
        let _ = writeln!(md, "## {} ({})\n", w.title, w.name);
        for (chart, _, _) in w.charts() {
            let _ = writeln!(md, "![{}](curves/{})\n", w.name, w.chart_file(chart));
        }
        for (series, by_kind) in &w.series {
            let (_, unit, higher_better) = w.unit_of(series);
            let _ = writeln!(md, "**{series}** — {unit}\n");
            let _ = writeln!(md, "| {} | ferrymq | redis-server | ratio |", w.x_label);
            let _ = writeln!(md, "|---:|---:|---:|---:|");
            let f = by_kind.get(&Kind::Ferrymq).cloned().unwrap_or_default();
            let r = by_kind.get(&Kind::Redis).cloned().unwrap_or_default();
            for (x, fy) in &f {
                let ry = r.iter().find(|(rx, _)| rx == x).map(|p| p.1).unwrap_or(0.0);
                let _ = writeln!(
                    md,
                    "| {x} | {} | {} | {} |",
                    fmt_num(*fy),
                    fmt_num(ry),
                    ratio_note(higher_better, *fy, ry)
                );
            }
            md.push('\n');
        }
    }
    md
}

/// How to read the tables (the same for every run; the numbers are in the tables).
const NOTES: &str = "\
How to read them:

- The charts are log-log. A flat line is a cost that does not grow with the state; a line that
  falls by a decade per decade of N is a cost proportional to N.
- `patterns` is the curve this bench was written for: Redis matches every PUBLISH against every
  pattern (O(patterns)); ferrymq indexes patterns by literal prefix and tests only those that
  can match, so its line stays flat. At the first points both are bound by the per-command cost
  and the shared machine.
- `scan` and `pel` show two costs: *in server* (INFO commandstats `usec_per_call`, the work the
  command does) and *round trip* (as the client sees it, dominated by loopback latency on this
  machine). Before the reverse-binary cursor, one ferrymq SCAN call read and sorted the whole
  keyspace, O(keys) per call.
- `fanout`, `brpop` and `idle` use up to 10 000 (`idle`: 50 000) client connections served
  by one client thread on one CPU: at the largest points the client, not the server, may set
  the pace (both servers see the same client). `idle` connects from 127.0.0.2, 127.0.0.3, ..
  (10 000 connections per source address: one address has about 28 000 ephemeral ports
  towards a server port). 50 000 connections need a descriptor limit above 51 000 (the
  driver raises it when allowed); below, the sweep stops at the largest thousand that fits.
- Memory per item (`channels`, `streamlen`, `keys`) is the growth of INFO `used_memory` (the
  allocator's allocated bytes, in both servers) since the empty server, divided by N, from
  1000 items on; `idle` uses the growth of the process's RSS, since connection buffers are
  partly kernel memory and partly pages touched once.
- `channels`: the subscriptions are held by connections of 100 000 channels each (SUBSCRIBE
  of 1000 channels per command, 20 commands in flight); the rates are those of one more
  connection subscribing and unsubscribing 1000 other channels (10 pipelined commands of 100)
  next to the N.
- `groups`: one consumer, in the first group, is blocked in XREADGROUP (COUNT 1000, NOACK);
  the other N - 1 groups have no reader. The latency runs from just before XADD is sent to
  the consumer's parsing of the entry, one XADD at a time. `groups` and `idle` give the p50
  next to the p99: on a machine shared with other work, the p99 of a loopback round trip
  shows the scheduler (milliseconds) more than the server.
- `streamlen`: entries `<i>-1` with one field; XDEL and XTRIM are each followed (untimed) by
  as many XADDs, so the length stays N. `keys`: a whole SCAN is every call from cursor 0 back
  to 0 (COUNT 1000), its time summed; KEYS `rare:*` matches 3 keys among the N + 3.

";

fn write_csv(ws: &[Workload]) -> String {
    let mut csv = String::from("workload,series,server,x,y,unit\n");
    for w in ws {
        for (series, by_kind) in &w.series {
            for (kind, pts) in by_kind {
                for (x, y) in pts {
                    let _ = writeln!(
                        csv,
                        "{},{},{},{},{},{}",
                        w.name,
                        series,
                        kind.name(),
                        x,
                        y,
                        w.unit_of(series).1
                    );
                }
            }
        }
    }
    csv
}

/// One chart of `w`: the series `names`, all in `unit`.
fn draw(
    w: &Workload,
    chart: &str,
    unit: &str,
    names: &[&str],
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let charted = |name: &str| names.contains(&name);
    let caption = if chart.is_empty() {
        w.title.to_string()
    } else {
        // "bytes per key (..)" -> "Bytes per key (..)"
        let mut c = unit.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    };
    let pts = || {
        w.series
            .iter()
            .filter(|(name, _)| charted(name))
            .flat_map(|(_, m)| m.values())
            .flatten()
    };
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, 0f64, f64::MAX, 0f64);
    for &(x, y) in pts() {
        x0 = x0.min(x as f64);
        x1 = x1.max(x as f64);
        if y > 0.0 {
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x1 <= 0.0 || y1 <= 0.0 {
        return Ok(());
    }
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (x0.max(1.0) * 0.8..x1 * 1.25).log_scale(),
            // Down to the decade below the lowest point, so that the axis has a labelled line
            // even when every point is within one decade.
            ((y0 * 0.5).min(10f64.powf(y0.log10().floor()) * 0.9)..y1 * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc(w.x_label)
        .y_desc(unit)
        .label_style(("sans-serif", 14))
        .y_label_formatter(&|v| fmt_num(*v))
        .x_label_formatter(&|v| format!("{:.0}", v))
        .draw()?;
    let palette = [
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0x8c, 0x56, 0x4b),
    ];
    let mut i = 0;
    for (series, by_kind) in w.series.iter().filter(|(name, _)| charted(name)) {
        for (kind, data) in by_kind {
            let color = palette[i % palette.len()];
            i += 1;
            let style = ShapeStyle::from(&color).stroke_width(2);
            let label = if names.len() > 1 {
                format!("{} {}", kind.name(), series)
            } else {
                kind.name().to_string()
            };
            let data: Vec<(f64, f64)> = data
                .iter()
                .filter(|p| p.1 > 0.0)
                .map(|&(x, y)| (x as f64, y))
                .collect();
            chart
                .draw_series(LineSeries::new(data.clone(), style))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            chart.draw_series(data.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let o = parse_opts();
    raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let ws = rt.block_on(async {
        let mut ws = Vec::new();
        if o.wants("patterns") {
            eprintln!("patterns...");
            ws.push(patterns(&o).await);
        }
        if o.wants("scan") {
            eprintln!("scan...");
            ws.push(scan(&o).await);
        }
        if o.wants("fanout") {
            eprintln!("fanout...");
            ws.push(fanout(&o).await);
        }
        if o.wants("brpop") {
            eprintln!("brpop...");
            ws.push(brpop(&o).await);
        }
        if o.wants("pel") {
            eprintln!("pel...");
            ws.push(pel(&o).await);
        }
        if o.wants("idle") {
            eprintln!("idle...");
            ws.push(idle(&o).await);
        }
        if o.wants("channels") {
            eprintln!("channels...");
            ws.push(channels(&o).await);
        }
        if o.wants("groups") {
            eprintln!("groups...");
            ws.push(groups(&o).await);
        }
        if o.wants("streamlen") {
            eprintln!("streamlen...");
            ws.push(streamlen(&o).await);
        }
        if o.wants("keys") {
            eprintln!("keys...");
            ws.push(keys(&o).await);
        }
        ws
    });
    let dir = o.out.join("curves");
    std::fs::create_dir_all(&dir).expect("output dir");
    std::fs::write(o.out.join("CURVES.md"), write_markdown(&o, &ws, started)).expect("CURVES.md");
    std::fs::write(dir.join("curves.csv"), write_csv(&ws)).expect("csv");
    for w in &ws {
        for (chart, unit, names) in w.charts() {
            if let Err(e) = draw(w, chart, unit, &names, &dir.join(w.chart_file(chart))) {
                eprintln!("chart {} {chart}: {e}", w.name);
            }
        }
    }
    eprintln!(
        "done in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        o.out.join("CURVES.md").display()
    );
}
