//! Load generator for the side-by-side comparison with redis-server (`benches/compare.sh`).
//!
//! Speaks RESP2 over pipelined tokio connections to any Redis-protocol server and prints one
//! result line of `key=value` pairs, so the same run can be pointed at ferrymq and at
//! redis-server in turn:
//!
//! - `pubsub`: 1 publisher, N subscribers on one channel (or on many channels through patterns);
//!   deliveries/s, publish→receive latency, loss and duplicates.
//! - `queue`: producers LPUSH, consumers BRPOP; messages/s, enqueue→dequeue latency, loss and
//!   duplicates.
//! - `stream`: producers XADD, one consumer group of N consumers XREADGROUP COUNT 100 + XACK;
//!   entries/s, latency, exactly-once check, XPENDING 0 at the end.
//! - `timers`: how close to their time the server delivers again what a visibility timeout
//!   released and what FMQ.SCHEDULE delayed, with 100k entries in flight; the server's CPU
//!   while idle with a million of each.
//! - `memory`: RSS growth of the server process per list element, per stream entry, per idle
//!   connection.
//!
//! Every run is bounded: a fixed number of messages and a hard time limit (`--timeout`), after
//! which whatever was not delivered is reported as lost and the exit status is non-zero.
//!
//! Each message carries `<producer>:<seq>:<send time ns>:` padded to `--size` bytes; all
//! timestamps come from one clock in this process, so latencies need no clock sync.

use bytes::BytesMut;
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout_at;

#[derive(Parser)]
#[command(about = "Pipelined RESP load generator (pub/sub, queues, streams, timers, memory)")]
struct Cli {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Hard limit for the whole run, in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// 1 publisher, N subscribers.
    Pubsub {
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        /// Channels published to, round robin (`c.<i>`).
        #[arg(long, default_value_t = 1)]
        channels: usize,
        /// Subscribe with patterns: subscriber j uses `c.<j % groups>.*` over channels
        /// `c.<i % groups>.<i>`, so each message reaches subscribers/groups subscribers.
        #[arg(long)]
        patterns: bool,
        #[arg(long, default_value_t = 10)]
        groups: usize,
        #[arg(long, default_value_t = 200_000)]
        messages: u64,
        /// PUBLISH commands in flight per batch.
        #[arg(long, default_value_t = 32)]
        depth: usize,
        /// How far (in messages) the publisher may run ahead of the slowest subscriber; keeps
        /// every subscriber well below the server's pub/sub output-buffer limits.
        #[arg(long, default_value_t = 20_000)]
        max_lag: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
    /// Producers LPUSH, consumers BRPOP.
    Queue {
        #[arg(long, default_value_t = 4)]
        producers: usize,
        #[arg(long, default_value_t = 4)]
        consumers: usize,
        #[arg(long, default_value_t = 200_000)]
        messages: u64,
        /// Commands in flight per connection (LPUSH batches, pipelined BRPOPs).
        #[arg(long, default_value_t = 16)]
        depth: usize,
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Deliver each message this many ms after it is sent (delayed jobs); the latency
        /// reported is then the lateness past that time. Done by the server (FMQ.SCHEDULE)
        /// unless --mover is given.
        #[arg(long, default_value_t = 0)]
        delay: u64,
        /// Delay as a Redis application does it: ZADD to a sorted set scored by due time, and a
        /// mover that runs a Lua script every 5 ms moving what is due to the list.
        #[arg(long)]
        mover: bool,
    },
    /// Producers XADD, a consumer group reads with XREADGROUP COUNT and acknowledges with XACK.
    Stream {
        #[arg(long, default_value_t = 2)]
        producers: usize,
        #[arg(long, default_value_t = 4)]
        consumers: usize,
        #[arg(long, default_value_t = 200_000)]
        messages: u64,
        #[arg(long, default_value_t = 16)]
        depth: usize,
        #[arg(long, default_value_t = 100)]
        count: usize,
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Give the group a visibility timeout of this many ms (ferrymq's FMQ.GROUPSET), so
        /// the server redelivers what is not acknowledged; 0 = a plain group.
        #[arg(long, default_value_t = 0)]
        visibility: u64,
        /// Before each read, XAUTOCLAIM entries idle for 30 s: the client-side redelivery loop
        /// a Redis application runs instead of a visibility timeout.
        #[arg(long)]
        autoclaim: bool,
    },
    /// Timer precision and idle cost of ferrymq's visibility timeouts and delayed delivery:
    /// redelivery and due-time lateness with many entries in flight, and the server's CPU
    /// while it holds a million of each and nobody sends anything.
    Timers {
        /// Which tests, in order: redelivery, delayed, idle.
        #[arg(long, value_delimiter = ',', default_value = "redelivery,delayed,idle")]
        run: Vec<String>,
        /// Entries in flight (redelivery) and messages scheduled (delayed, half to a list and
        /// half to a stream).
        #[arg(long, default_value_t = 100_000)]
        entries: u64,
        /// Visibility timeout of the redelivery test, in ms.
        #[arg(long, default_value_t = 3000)]
        visibility: u64,
        /// First deliveries (redelivery) and due times (delayed) spread over this many ms.
        #[arg(long, default_value_t = 1500)]
        spread: u64,
        /// The first scheduled message is due this many ms after scheduling begins.
        #[arg(long, default_value_t = 2000)]
        lead: u64,
        /// Consumer connections of each kind (BRPOP, XREADGROUP).
        #[arg(long, default_value_t = 4)]
        consumers: usize,
        /// XREADGROUP COUNT.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// BRPOPs in flight per list consumer.
        #[arg(long, default_value_t = 16)]
        depth: usize,
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// The server's process ID (idle test).
        #[arg(long, default_value_t = 0)]
        pid: u32,
        /// Entries in flight and messages scheduled while idle.
        #[arg(long, default_value_t = 1_000_000)]
        idle_entries: u64,
        /// How long the idle server is watched, in seconds.
        #[arg(long, default_value_t = 10.0)]
        idle_secs: f64,
        /// Watch this CPU (the server's) for stalls during the lateness tests: a thread
        /// pinned there sleeps 1 ms at a time and reports its largest oversleep.
        #[arg(long)]
        probe_cpu: Option<usize>,
        /// Idle test with Redis commands only (redis-server): a group with a PEL, no
        /// FMQ.GROUPSET and no FMQ.SCHEDULE.
        #[arg(long)]
        plain: bool,
    },
    /// RSS growth of the server process (`--pid`) per element / entry / idle connection.
    Memory {
        #[arg(long)]
        pid: u32,
        /// list | stream | conns
        #[arg(long)]
        kind: String,
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// Clock and payloads

static START: OnceLock<Instant> = OnceLock::new();

fn now_ns() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// `<producer>:<seq>:<ns>:` padded with 'x' to `size` bytes, `ns` being now.
fn payload(producer: usize, seq: u64, size: usize) -> Vec<u8> {
    payload_at(producer, seq, now_ns(), size)
}

/// `<producer>:<seq>:<ns>:` padded with 'x' to `size` bytes.
fn payload_at(producer: usize, seq: u64, ns: u64, size: usize) -> Vec<u8> {
    let mut p = format!("{producer}:{seq}:{ns}:").into_bytes();
    if p.len() < size {
        p.resize(size, b'x');
    }
    p
}

/// (producer, seq, sent ns) from a payload.
fn parse_payload(p: &[u8]) -> Option<(usize, u64, u64)> {
    let mut it = p.split(|&b| b == b':');
    let a = num(it.next()?)? as usize;
    let b = num(it.next()?)? as u64;
    let c = num(it.next()?)? as u64;
    Some((a, b, c))
}

fn num(s: &[u8]) -> Option<i64> {
    fast_num(s)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

fn record_latency(h: &mut Histogram<u64>, sent_ns: u64) {
    let us = now_ns().saturating_sub(sent_ns) / 1000;
    h.saturating_record(us.max(1));
}

// ---------------------------------------------------------------------------------------------
// A minimal pipelined RESP2 client

enum V<'a> {
    Str(&'a [u8]),
    Err(&'a [u8]),
    Int(i64),
    Bulk(&'a [u8]),
    Nil,
    Arr(Vec<V<'a>>),
}

impl<'a> V<'a> {
    fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            V::Bulk(b) | V::Str(b) => Some(b),
            _ => None,
        }
    }
    fn arr(&self) -> Option<&[V<'a>]> {
        match self {
            V::Arr(a) => Some(a),
            _ => None,
        }
    }
    fn describe(&self) -> String {
        match self {
            V::Str(s) => format!("+{}", String::from_utf8_lossy(s)),
            V::Err(s) => format!("-{}", String::from_utf8_lossy(s)),
            V::Int(i) => format!(":{i}"),
            V::Bulk(b) => format!("${}", String::from_utf8_lossy(b)),
            V::Nil => "nil".into(),
            V::Arr(a) => format!("array of {}", a.len()),
        }
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// The header line of the RESP value at `p` (after its type byte) and the offset after its
/// CRLF, or None while incomplete.
fn header(buf: &[u8], p: usize) -> Option<(&[u8], usize)> {
    let cr = p + buf.get(p..)?.iter().position(|&b| b == b'\r')?;
    let next = cr + 2;
    (next <= buf.len()).then(|| (&buf[p + 1..cr], next))
}

/// Parse one RESP value at `p`: `Ok(None)` when more bytes are needed.
fn parse(buf: &[u8], p: usize) -> io::Result<Option<(V<'_>, usize)>> {
    let Some((line, next)) = header(buf, p) else {
        return Ok(None);
    };
    let n = || num(line).ok_or_else(|| bad("bad number in reply"));
    Ok(Some(match buf[p] {
        b'+' => (V::Str(line), next),
        b'-' => (V::Err(line), next),
        b':' => (V::Int(n()?), next),
        b'$' => {
            let len = n()?;
            if len < 0 {
                (V::Nil, next)
            } else {
                let end = next + len as usize;
                if end + 2 > buf.len() {
                    return Ok(None);
                }
                (V::Bulk(&buf[next..end]), end + 2)
            }
        }
        b'*' => {
            let len = n()?;
            if len < 0 {
                (V::Nil, next)
            } else {
                let mut items = Vec::with_capacity((len as usize).min(1024));
                let mut at = next;
                for _ in 0..len {
                    match parse(buf, at)? {
                        Some((v, e)) => {
                            items.push(v);
                            at = e;
                        }
                        None => return Ok(None),
                    }
                }
                (V::Arr(items), at)
            }
        }
        c => return Err(bad(format!("unexpected reply type byte {c:#x}"))),
    }))
}

/// End of the RESP value at `p` (`None` while incomplete) without allocating; `last_bulk` gets
/// the range of the last bulk string in it (a push's payload).
fn skip_frame(
    buf: &[u8],
    p: usize,
    last_bulk: &mut Option<(usize, usize)>,
) -> io::Result<Option<usize>> {
    let Some((line, next)) = header(buf, p) else {
        return Ok(None);
    };
    let n = || fast_num(line).ok_or_else(|| bad("bad number in reply"));
    Ok(match buf[p] {
        b'+' | b'-' | b':' => Some(next),
        b'$' => match usize::try_from(n()?) {
            Err(_) => Some(next),
            Ok(len) if next + len + 2 > buf.len() => None,
            Ok(len) => {
                *last_bulk = Some((next, next + len));
                Some(next + len + 2)
            }
        },
        b'*' => {
            let mut at = next;
            for _ in 0..n()?.max(0) {
                match skip_frame(buf, at, last_bulk)? {
                    Some(e) => at = e,
                    None => return Ok(None),
                }
            }
            Some(at)
        }
        c => return Err(bad(format!("unexpected reply type byte {c:#x}"))),
    })
}

/// A decimal integer (optional leading '-') without UTF-8 checks.
fn fast_num(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as i64;
    }
    Some(if neg { -v } else { v })
}

struct Conn {
    sock: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
}

impl Conn {
    async fn connect(addr: &str) -> io::Result<Conn> {
        let sock = TcpStream::connect(addr).await?;
        sock.set_nodelay(true)?;
        Ok(Conn {
            sock,
            buf: BytesMut::with_capacity(64 * 1024),
            out: Vec::with_capacity(16 * 1024),
        })
    }

    /// Queue a command (sent by `flush`).
    fn cmd(&mut self, args: &[&[u8]]) {
        let o = &mut self.out;
        o.push(b'*');
        o.extend_from_slice(args.len().to_string().as_bytes());
        o.extend_from_slice(b"\r\n");
        for a in args {
            o.push(b'$');
            o.extend_from_slice(a.len().to_string().as_bytes());
            o.extend_from_slice(b"\r\n");
            o.extend_from_slice(a);
            o.extend_from_slice(b"\r\n");
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.sock.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// The next complete reply frame (cancel-safe: partial input stays buffered).
    async fn frame(&mut self) -> io::Result<BytesMut> {
        loop {
            if let Some((_, end)) = parse(&self.buf, 0)? {
                return Ok(self.buf.split_to(end));
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            if self.sock.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
        }
    }

    /// Read a reply and fail on an error reply.
    async fn ok(&mut self) -> io::Result<BytesMut> {
        let f = self.frame().await?;
        if f.first() == Some(&b'-') {
            return Err(bad(String::from_utf8_lossy(&f).trim_end().to_string()));
        }
        Ok(f)
    }

    async fn call(&mut self, args: &[&[u8]]) -> io::Result<BytesMut> {
        self.cmd(args);
        self.flush().await?;
        self.ok().await
    }
}

// ---------------------------------------------------------------------------------------------
// Results

#[derive(Default)]
struct Report {
    fields: Vec<(String, String)>,
}

impl Report {
    fn put(&mut self, k: &str, v: impl ToString) -> &mut Self {
        self.fields.push((k.to_string(), v.to_string()));
        self
    }
    fn latency(&mut self, h: &Histogram<u64>) -> &mut Self {
        self.put("p50_us", h.value_at_quantile(0.5))
            .put("p99_us", h.value_at_quantile(0.99))
            .put("p999_us", h.value_at_quantile(0.999))
    }
    fn print(&self) {
        let line: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("{}", line.join(" "));
    }
}

fn rate(n: u64, ns: u64) -> u64 {
    if ns == 0 {
        0
    } else {
        (n as f64 * 1e9 / ns as f64) as u64
    }
}

// ---------------------------------------------------------------------------------------------
// pubsub

struct SubResult {
    received: u64,
    dup: u64,
    last_ns: u64,
    hist: Histogram<u64>,
}

#[allow(clippy::too_many_arguments)]
async fn pubsub(
    addr: &str,
    deadline: tokio::time::Instant,
    subscribers: usize,
    channels: usize,
    patterns: bool,
    groups: usize,
    messages: u64,
    depth: usize,
    max_lag: u64,
    size: usize,
) -> io::Result<bool> {
    let channels = if patterns {
        channels.max(1)
    } else {
        channels.clamp(1, subscribers.max(1))
    };
    let groups = groups.clamp(1, channels);
    let chan_name = |i: u64| -> Vec<u8> {
        let i = i as usize % channels;
        if patterns {
            format!("c.{}.{i}", i % groups).into_bytes()
        } else {
            format!("c.{i}").into_bytes()
        }
    };
    // Which subscribers receive message `seq`, as a predicate for subscriber j.
    let receives = move |j: usize, seq: u64| -> bool {
        let i = seq as usize % channels;
        if patterns {
            i % groups == j % groups
        } else {
            i == j % channels
        }
    };
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new((0..subscribers).map(|_| AtomicU64::new(0)).collect());
    let mut subs = Vec::new();
    for j in 0..subscribers {
        let mut c = Conn::connect(addr).await?;
        if patterns {
            c.call(&[b"PSUBSCRIBE", format!("c.{}.*", j % groups).as_bytes()])
                .await?;
        } else {
            c.call(&[b"SUBSCRIBE", format!("c.{}", j % channels).as_bytes()])
                .await?;
        }
        let expected = (0..messages).filter(|&s| receives(j, s)).count() as u64;
        let progress = progress.clone();
        subs.push(tokio::spawn(async move {
            let mut r = SubResult {
                received: 0,
                dup: 0,
                last_ns: 0,
                hist: histogram(),
            };
            let mut last_seq: Option<u64> = None;
            // Scan every complete push in what one read returned, in place (no per-message
            // allocation, one clock read per read): at a million deliveries a second the
            // subscribers' side must cost far less than the server's.
            let Conn {
                mut sock, mut buf, ..
            } = c;
            let mut at = 0;
            r.last_ns = now_ns();
            'read: while r.received + r.dup < expected {
                loop {
                    let mut payload = None;
                    let Ok(Some(end)) = skip_frame(&buf, at, &mut payload) else {
                        break;
                    };
                    at = end;
                    let Some((a, b)) = payload else { continue };
                    let Some((_, seq, sent)) = parse_payload(&buf[a..b]) else {
                        continue;
                    };
                    r.hist
                        .saturating_record((r.last_ns.saturating_sub(sent) / 1000).max(1));
                    if last_seq.is_some_and(|l| seq <= l) {
                        r.dup += 1;
                    } else {
                        r.received += 1;
                        last_seq = Some(seq);
                        progress[j].store(seq + 1, Ordering::Relaxed);
                    }
                    if r.received + r.dup >= expected {
                        break 'read;
                    }
                }
                bytes::Buf::advance(&mut buf, at);
                at = 0;
                if buf.capacity() - buf.len() < 16 * 1024 {
                    buf.reserve(64 * 1024);
                }
                match timeout_at(deadline, sock.read_buf(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => r.last_ns = now_ns(),
                    _ => break,
                }
            }
            (expected, r)
        }));
    }
    let mut p = Conn::connect(addr).await?;
    let start = now_ns();
    let mut receivers_reported = 0i64;
    let mut timed_out = false;
    // Two batches in flight: the next batch is on its way while the replies to the previous
    // one come back, so the publisher's round trips do not cap the rate.
    let (mut sent, mut seq) = (0u64, 0u64);
    let mut in_flight = std::collections::VecDeque::new();
    while seq < messages && !timed_out {
        while sent < messages && in_flight.len() < 2 {
            // Flow control: do not run more than max_lag messages ahead of any subscriber
            // that still expects messages.
            let slowest = progress
                .iter()
                .map(|a| a.load(Ordering::Relaxed))
                .min()
                .unwrap_or(u64::MAX);
            if slowest != u64::MAX && sent >= slowest.saturating_add(max_lag) {
                if !in_flight.is_empty() {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    timed_out = true;
                    break;
                }
                tokio::task::yield_now().await;
                continue;
            }
            let n = (messages - sent).min(depth as u64);
            for s in sent..sent + n {
                p.cmd(&[b"PUBLISH", &chan_name(s), &payload(0, s, size)]);
            }
            p.flush().await?;
            in_flight.push_back(n);
            sent += n;
        }
        let Some(n) = in_flight.pop_front() else {
            continue;
        };
        for _ in 0..n {
            let f = match timeout_at(deadline, p.ok()).await {
                Ok(r) => r?,
                Err(_) => {
                    timed_out = true;
                    break;
                }
            };
            if let Ok(Some((V::Int(i), _))) = parse(&f, 0) {
                receivers_reported += i;
            }
        }
        if !timed_out {
            seq += n;
        }
    }
    let mut expected = 0u64;
    let mut received = 0u64;
    let mut dup = 0u64;
    let mut last = start;
    let mut hist = histogram();
    for s in subs {
        let (e, r) = s.await.map_err(|e| bad(e.to_string()))?;
        expected += e;
        received += r.received;
        dup += r.dup;
        last = last.max(r.last_ns);
        hist.add(&r.hist).expect("same bounds");
    }
    let lost = expected.saturating_sub(received);
    Report::default()
        .put("rate", rate(received, last - start))
        .latency(&hist)
        .put("published", seq)
        .put("delivered", received)
        .put("receivers_reported", receivers_reported)
        .put("lost", lost)
        .put("dup", dup)
        .print();
    Ok(lost == 0 && dup == 0 && !timed_out)
}

// ---------------------------------------------------------------------------------------------
// Producers and consumers shared by queue, stream and timers

/// Send `count` commands built by `build(seq)` in pipelined batches of `depth`.
async fn produce(
    addr: String,
    deadline: tokio::time::Instant,
    count: u64,
    depth: usize,
    build: impl Fn(&mut Conn, u64),
) -> io::Result<u64> {
    produce_with(addr, deadline, count, depth, build, |_| {}).await
}

/// [`produce`], handing each reply to `reply` in order.
async fn produce_with(
    addr: String,
    deadline: tokio::time::Instant,
    count: u64,
    depth: usize,
    build: impl Fn(&mut Conn, u64),
    mut reply: impl FnMut(BytesMut),
) -> io::Result<u64> {
    let mut c = Conn::connect(&addr).await?;
    let mut seq = 0;
    while seq < count {
        let n = (count - seq).min(depth as u64);
        for k in 0..n {
            build(&mut c, seq + k);
        }
        c.flush().await?;
        for _ in 0..n {
            match timeout_at(deadline, c.ok()).await {
                Ok(r) => reply(r?),
                Err(_) => return Ok(seq),
            }
        }
        seq += n;
    }
    Ok(seq)
}

/// Exactly-once bookkeeping: one flag per (producer, seq).
struct Seen {
    per_producer: u64,
    flags: Vec<AtomicBool>,
    unique: AtomicU64,
    dup: AtomicU64,
}

impl Seen {
    fn new(producers: usize, per_producer: u64) -> Seen {
        Seen {
            per_producer,
            flags: (0..producers as u64 * per_producer)
                .map(|_| AtomicBool::new(false))
                .collect(),
            unique: AtomicU64::new(0),
            dup: AtomicU64::new(0),
        }
    }
    /// Returns the number of unique messages seen so far.
    fn mark(&self, producer: usize, seq: u64) -> u64 {
        let i = producer as u64 * self.per_producer + seq;
        match self.flags.get(i as usize) {
            Some(f) if !f.swap(true, Ordering::Relaxed) => {
                self.unique.fetch_add(1, Ordering::Relaxed) + 1
            }
            _ => {
                self.dup.fetch_add(1, Ordering::Relaxed);
                self.unique.load(Ordering::Relaxed)
            }
        }
    }
}

/// How a consumer scores one message: records into its histogram from the payload's
/// (producer, seq, ns).
type Record = Arc<dyn Fn(&mut Histogram<u64>, usize, u64, u64) + Send + Sync>;

/// What the consumers of one run share: the exactly-once bookkeeping, the signal that every
/// message has arrived, the hard deadline and how each message is scored.
#[derive(Clone)]
struct Sink {
    deadline: tokio::time::Instant,
    seen: Arc<Seen>,
    total: u64,
    done: Arc<watch::Sender<bool>>,
    record: Record,
}

impl Sink {
    fn new(deadline: tokio::time::Instant, seen: Arc<Seen>, record: Record) -> Sink {
        Sink {
            deadline,
            total: seen.flags.len() as u64,
            seen,
            done: Arc::new(watch::channel(false).0),
            record,
        }
    }

    /// Score and mark one payload: None if it is not one of ours, else whether every message
    /// has now arrived (and `done` is set).
    fn got(&self, h: &mut Histogram<u64>, payload: &[u8]) -> Option<bool> {
        let (prod, seq, ns) = parse_payload(payload)?;
        (self.record)(h, prod, seq, ns);
        let all = self.seen.mark(prod, seq) >= self.total;
        if all {
            self.done.send_replace(true);
        }
        Some(all)
    }

    fn is_done(&self) -> bool {
        *self.done.borrow()
    }
}

/// `n` consumers popping `key` with pipelined `BRPOP key <block>` (`depth` in flight per
/// connection) until every message has arrived; each task returns its histogram and the time
/// of its last message.
async fn list_consumers(
    addr: &str,
    n: usize,
    key: &'static [u8],
    block: &'static [u8],
    depth: usize,
    sink: &Sink,
) -> io::Result<Vec<tokio::task::JoinHandle<(Histogram<u64>, u64)>>> {
    let mut cons = Vec::new();
    for _ in 0..n {
        let mut c = Conn::connect(addr).await?;
        let sink = sink.clone();
        let mut done = sink.done.subscribe();
        cons.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut last = 0u64;
            'outer: loop {
                for _ in 0..depth {
                    c.cmd(&[b"BRPOP", key, block]);
                }
                if c.flush().await.is_err() {
                    break;
                }
                for _ in 0..depth {
                    let f = tokio::select! {
                        f = timeout_at(sink.deadline, c.frame()) => match f {
                            Ok(Ok(f)) => f,
                            _ => break 'outer,
                        },
                        _ = done.wait_for(|d| *d) => break 'outer,
                    };
                    let Ok(Some((v, _))) = parse(&f, 0) else {
                        break 'outer;
                    };
                    let Some(p) = v.arr().and_then(|a| a.get(1)).and_then(|x| x.bytes()) else {
                        continue;
                    };
                    if let Some(all) = sink.got(&mut h, p) {
                        last = now_ns();
                        if all {
                            break 'outer;
                        }
                    }
                }
            }
            (h, last)
        }));
    }
    Ok(cons)
}

/// How group consumers read: `XREADGROUP GROUP g <name> COUNT <count> BLOCK <block> STREAMS
/// key >`, each after an `XAUTOCLAIM ... 30000` with `autoclaim` (the client-side redelivery
/// loop of a Redis application).
struct GroupRead {
    count: usize,
    block: u64,
    autoclaim: bool,
}

/// The entries of an XREADGROUP/XREAD reply of one stream: `[[key, [entry, ...]]]`.
fn read_entries<'a, 'b>(v: &'b V<'a>) -> &'b [V<'a>] {
    v.arr()
        .and_then(|s| s.first())
        .and_then(|s| s.arr())
        .and_then(|s| s.get(1))
        .and_then(|e| e.arr())
        .unwrap_or(&[])
}

/// An entry `[id, [field, value]]`: its ID and first value (our payload).
fn entry_payload<'a>(e: &V<'a>) -> Option<(&'a [u8], Option<&'a [u8]>)> {
    let e = e.arr()?;
    let id = e.first()?.bytes()?;
    let p = e
        .get(1)
        .and_then(|fv| fv.arr())
        .and_then(|f| f.get(1))
        .and_then(|x| x.bytes());
    Some((id, p))
}

type GroupConsumer = tokio::task::JoinHandle<(Histogram<u64>, u64, Option<String>)>;

/// `n` consumers `c<i>` of group `g` of `key`, each acknowledging what it read along with its
/// next read, until every message has arrived. Returns the tasks (histogram, time of the last
/// message, failure) and the consumers' client IDs: with `BLOCK 0` a consumer still waiting
/// at the end is released by [`unblock_until_finished`].
async fn group_consumers(
    addr: &str,
    n: usize,
    key: &'static [u8],
    read: &GroupRead,
    sink: &Sink,
) -> io::Result<(Vec<GroupConsumer>, Vec<i64>)> {
    let count_s = read.count.to_string();
    let block_s = read.block.to_string();
    let autoclaim = read.autoclaim;
    let mut cons = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let mut c = Conn::connect(addr).await?;
        let f = c.call(&[b"CLIENT", b"ID"]).await?;
        if let Ok(Some((V::Int(id), _))) = parse(&f, 0) {
            ids.push(id);
        }
        let sink = sink.clone();
        let name = format!("c{i}");
        let count_s = count_s.clone();
        let block_s = block_s.clone();
        cons.push(tokio::spawn(async move {
            let deadline = sink.deadline;
            let mut h = histogram();
            let mut last = 0u64;
            let mut acks: Vec<Vec<u8>> = Vec::new();
            let mut failure = None;
            loop {
                let stop = sink.is_done();
                let had_acks = !acks.is_empty();
                if had_acks {
                    let mut args: Vec<&[u8]> = vec![b"XACK", key, b"g"];
                    args.extend(acks.iter().map(|a| a.as_slice()));
                    c.cmd(&args);
                }
                if !stop && autoclaim {
                    c.cmd(&[
                        b"XAUTOCLAIM",
                        key,
                        b"g",
                        name.as_bytes(),
                        b"30000",
                        b"0-0",
                        b"COUNT",
                        count_s.as_bytes(),
                        b"JUSTID",
                    ]);
                }
                if !stop {
                    c.cmd(&[
                        b"XREADGROUP",
                        b"GROUP",
                        b"g",
                        name.as_bytes(),
                        b"COUNT",
                        count_s.as_bytes(),
                        b"BLOCK",
                        block_s.as_bytes(),
                        b"STREAMS",
                        key,
                        b">",
                    ]);
                }
                acks.clear();
                if !had_acks && stop {
                    break;
                }
                if let Err(e) = c.flush().await {
                    failure = Some(e.to_string());
                    break;
                }
                if had_acks {
                    match timeout_at(deadline, c.ok()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            failure = Some(e.to_string());
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if stop {
                    break;
                }
                if autoclaim {
                    match timeout_at(deadline, c.ok()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            failure = Some(e.to_string());
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let f = match timeout_at(deadline, c.ok()).await {
                    Ok(Ok(f)) => f,
                    Ok(Err(e)) => {
                        failure = Some(e.to_string());
                        break;
                    }
                    Err(_) => break,
                };
                let Ok(Some((v, _))) = parse(&f, 0) else {
                    break;
                };
                for e in read_entries(&v) {
                    let Some((id, p)) = entry_payload(e) else {
                        continue;
                    };
                    acks.push(id.to_vec());
                    if let Some(_all) = p.and_then(|p| sink.got(&mut h, p)) {
                        last = now_ns();
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
            (h, last, failure)
        }));
    }
    Ok((cons, ids))
}

/// Once every message has arrived (or at the deadline), release the consumers still blocked
/// in a `BLOCK 0` read with CLIENT UNBLOCK (they then stop), again every 50 ms until every
/// task has finished: a consumer may send its next read just after a round of unblocks.
async fn unblock_until_finished(
    admin: &mut Conn,
    sink: &Sink,
    ids: &[i64],
    tasks: &[GroupConsumer],
) -> io::Result<()> {
    let mut done = sink.done.subscribe();
    let _ = timeout_at(sink.deadline, done.wait_for(|d| *d)).await;
    // Past the deadline the consumers stop by themselves; a little grace for the unblocks.
    let limit = sink.deadline + Duration::from_secs(2);
    while !tasks.iter().all(|t| t.is_finished()) && tokio::time::Instant::now() < limit {
        for id in ids {
            admin
                .call(&[b"CLIENT", b"UNBLOCK", id.to_string().as_bytes()])
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// queue

/// Moves due members of sorted set KEYS[1] (score = due unix ms) to list KEYS[2]: the mover
/// of a Redis delayed-job queue.
const MOVER: &[u8] =
    b"local t = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500) \
for _, m in ipairs(t) do redis.call('LPUSH', KEYS[2], m) redis.call('ZREM', KEYS[1], m) end \
return #t";

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
async fn queue(
    addr: &str,
    deadline: tokio::time::Instant,
    producers: usize,
    consumers: usize,
    messages: u64,
    depth: usize,
    size: usize,
    delay: u64,
    mover: bool,
) -> io::Result<bool> {
    let key: &[u8] = b"loadgen:queue";
    let zkey: &[u8] = b"loadgen:queue:delayed";
    let mut admin = Conn::connect(addr).await?;
    admin.call(&[b"DEL", key]).await?;
    admin.call(&[b"DEL", zkey]).await?;
    let delay_ns = delay * 1_000_000;
    let per = messages / producers as u64;
    let total = per * producers as u64;
    let seen = Arc::new(Seen::new(producers, per));
    let sink = Sink::new(
        deadline,
        seen.clone(),
        Arc::new(move |h, _, _, sent| record_latency(h, sent + delay_ns)),
    );
    let cons = list_consumers(addr, consumers, key, b"1", depth, &sink).await?;
    let start = now_ns();
    let mover_task = if delay > 0 && mover {
        let mut c = Conn::connect(addr).await?;
        let mut done = sink.done.subscribe();
        Some(tokio::spawn(async move {
            loop {
                let now = unix_ms().to_string();
                let moved = match c
                    .call(&[b"EVAL", MOVER, b"2", zkey, key, now.as_bytes()])
                    .await
                {
                    Ok(f) => match parse(&f, 0) {
                        Ok(Some((V::Int(n), _))) => n,
                        _ => 0,
                    },
                    Err(_) => return,
                };
                if *done.borrow() || tokio::time::Instant::now() >= deadline {
                    return;
                }
                if moved < 500 {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                        _ = done.wait_for(|d| *d) => return,
                    }
                }
            }
        }))
    } else {
        None
    };
    let delay_s = delay.to_string();
    let mut prods = Vec::new();
    for p in 0..producers {
        let addr = addr.to_string();
        let delay_s = delay_s.clone();
        prods.push(tokio::spawn(produce(
            addr,
            deadline,
            per,
            depth,
            move |c, s| {
                if delay == 0 {
                    c.cmd(&[b"LPUSH", key, &payload(p, s, size)]);
                } else if mover {
                    let due = (unix_ms() + delay).to_string();
                    c.cmd(&[b"ZADD", zkey, due.as_bytes(), &payload(p, s, size)]);
                } else {
                    c.cmd(&[
                        b"FMQ.SCHEDULE",
                        b"DELAY",
                        delay_s.as_bytes(),
                        b"LPUSH",
                        key,
                        &payload(p, s, size),
                    ]);
                }
            },
        )));
    }
    let mut sent = 0;
    for p in prods {
        sent += p.await.map_err(|e| bad(e.to_string()))??;
    }
    let mut hist = histogram();
    let mut last = start;
    for c in cons {
        let (h, l) = c.await.map_err(|e| bad(e.to_string()))?;
        hist.add(&h).expect("same bounds");
        last = last.max(l);
    }
    if let Some(m) = mover_task {
        sink.done.send_replace(true);
        let _ = m.await;
    }
    let unique = seen.unique.load(Ordering::Relaxed);
    let dup = seen.dup.load(Ordering::Relaxed);
    let lost = total - unique;
    admin.call(&[b"DEL", key]).await?;
    admin.call(&[b"DEL", zkey]).await?;
    Report::default()
        .put("rate", rate(unique, last - start))
        .latency(&hist)
        .put("sent", sent)
        .put("received", unique)
        .put("lost", lost)
        .put("dup", dup)
        .print();
    Ok(lost == 0 && dup == 0)
}

// ---------------------------------------------------------------------------------------------
// stream

#[allow(clippy::too_many_arguments)]
async fn stream(
    addr: &str,
    deadline: tokio::time::Instant,
    producers: usize,
    consumers: usize,
    messages: u64,
    depth: usize,
    count: usize,
    size: usize,
    visibility: u64,
    autoclaim: bool,
) -> io::Result<bool> {
    let key: &[u8] = b"loadgen:stream";
    let mut admin = Conn::connect(addr).await?;
    admin.call(&[b"DEL", key]).await?;
    admin
        .call(&[b"XGROUP", b"CREATE", key, b"g", b"$", b"MKSTREAM"])
        .await?;
    if visibility > 0 {
        let v = visibility.to_string();
        admin
            .call(&[b"FMQ.GROUPSET", key, b"g", b"VISIBILITY", v.as_bytes()])
            .await?;
    }
    let per = messages / producers as u64;
    let total = per * producers as u64;
    let seen = Arc::new(Seen::new(producers, per));
    let sink = Sink::new(
        deadline,
        seen.clone(),
        Arc::new(|h, _, _, sent| record_latency(h, sent)),
    );
    let read = GroupRead {
        count,
        block: 100,
        autoclaim,
    };
    let (cons, _) = group_consumers(addr, consumers, key, &read, &sink).await?;
    let start = now_ns();
    let mut prods = Vec::new();
    for p in 0..producers {
        let addr = addr.to_string();
        prods.push(tokio::spawn(produce(
            addr,
            deadline,
            per,
            depth,
            move |c, s| c.cmd(&[b"XADD", key, b"*", b"d", &payload(p, s, size)]),
        )));
    }
    let mut sent = 0;
    for p in prods {
        sent += p.await.map_err(|e| bad(e.to_string()))??;
    }
    let mut hist = histogram();
    let mut last = start;
    let mut failures = Vec::new();
    for c in cons {
        let (h, l, f) = c.await.map_err(|e| bad(e.to_string()))?;
        hist.add(&h).expect("same bounds");
        last = last.max(l);
        failures.extend(f);
    }
    if let Some(f) = failures.first() {
        return Err(bad(format!("consumer failed: {f}")));
    }
    let f = admin.call(&[b"XPENDING", key, b"g"]).await?;
    let pending = match parse(&f, 0)? {
        Some((v, _)) => match v.arr().and_then(|a| a.first()) {
            Some(V::Int(n)) => *n,
            other => {
                return Err(bad(format!(
                    "unexpected XPENDING reply: {}",
                    other.map(|o| o.describe()).unwrap_or_default()
                )));
            }
        },
        None => -1,
    };
    admin.call(&[b"DEL", key]).await?;
    let unique = seen.unique.load(Ordering::Relaxed);
    let dup = seen.dup.load(Ordering::Relaxed);
    let lost = total - unique;
    Report::default()
        .put("rate", rate(unique, last - start))
        .latency(&hist)
        .put("sent", sent)
        .put("received", unique)
        .put("lost", lost)
        .put("dup", dup)
        .put("pending", pending)
        .print();
    Ok(lost == 0 && dup == 0 && pending == 0)
}

// ---------------------------------------------------------------------------------------------
// timers

/// What `timers` measures and with how much.
struct TimersOpts {
    run: Vec<String>,
    entries: u64,
    visibility: u64,
    spread: u64,
    lead: u64,
    consumers: usize,
    count: usize,
    depth: usize,
    size: usize,
    pid: u32,
    idle_entries: u64,
    idle_secs: f64,
    plain: bool,
    probe_cpu: Option<usize>,
}

/// Unix time in ns (the clock the server reads too: client and server share the machine).
fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The reading of [`now_ns`] at the server's time in a TIME reply (same machine, same clock).
fn server_time_ns(reply: &[u8]) -> io::Result<u64> {
    let Some((v, _)) = parse(reply, 0)? else {
        return Err(bad("incomplete TIME reply"));
    };
    let part = |i: usize| {
        v.arr()
            .and_then(|a| a.get(i))
            .and_then(|x| x.bytes())
            .and_then(fast_num)
    };
    let (Some(sec), Some(us)) = (part(0), part(1)) else {
        return Err(bad(format!("unexpected TIME reply: {}", v.describe())));
    };
    let unix = (sec * 1_000_000 + us) as u64 * 1000;
    Ok((unix + now_ns()).saturating_sub(unix_ns()))
}

/// The reading of [`now_ns`] at unix time `ms`.
fn ns_at_unix_ms(ms: u64) -> u64 {
    (ms * 1_000_000 + now_ns()).saturating_sub(unix_ns())
}

/// The 1-minute load average (/proc/loadavg), for the record of each result.
fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "-".into())
}

/// A [`Record`] of lateness: how long after `target(producer, seq, payload ns)` (a [`now_ns`]
/// reading) each message arrived, in µs. Arriving early cannot go into the histogram; the
/// returned cell keeps the smallest signed lateness seen, in µs (negative = early).
fn lateness(
    target: impl Fn(usize, u64, u64) -> u64 + Send + Sync + 'static,
) -> (Record, Arc<AtomicI64>) {
    let min = Arc::new(AtomicI64::new(i64::MAX));
    let m = min.clone();
    let record: Record = Arc::new(move |h, prod, seq, ns| {
        let t = target(prod, seq, ns);
        let now = now_ns();
        m.fetch_min((now as i64 - t as i64) / 1000, Ordering::Relaxed);
        h.saturating_record((now.saturating_sub(t) / 1000).max(1));
    });
    (record, min)
}

/// p50/p99/max lateness and the earliest arrival, in µs.
fn put_lateness(r: &mut Report, prefix: &str, h: &Histogram<u64>) {
    r.put(&format!("{prefix}p50_us"), h.value_at_quantile(0.5))
        .put(&format!("{prefix}p99_us"), h.value_at_quantile(0.99))
        .put(&format!("{prefix}max_us"), h.max());
}

/// Collect the histograms of group consumers; the first failure, if any, is an error.
async fn join_group_consumers(tasks: Vec<GroupConsumer>) -> io::Result<Histogram<u64>> {
    let mut hist = histogram();
    for t in tasks {
        let (h, _, failure) = t.await.map_err(|e| bad(e.to_string()))?;
        if let Some(f) = failure {
            return Err(bad(format!("consumer failed: {f}")));
        }
        hist.add(&h).expect("same bounds");
    }
    Ok(hist)
}

/// The number of pending entries of group `g` of `key` (XPENDING summary).
async fn pending_count(c: &mut Conn, key: &[u8]) -> io::Result<i64> {
    let f = c.call(&[b"XPENDING", key, b"g"]).await?;
    match parse(&f, 0)? {
        Some((v, _)) => match v.arr().and_then(|a| a.first()) {
            Some(V::Int(n)) => Ok(*n),
            other => Err(bad(format!(
                "unexpected XPENDING reply: {}",
                other.map(|o| o.describe()).unwrap_or_default()
            ))),
        },
        None => Ok(-1),
    }
}

/// Timer precision and idle cost of the broker features (ferrymq's FMQ.GROUPSET VISIBILITY and
/// FMQ.SCHEDULE): runs `o.run` in order, one result line each (`test=...`).
async fn timers(addr: &str, deadline: tokio::time::Instant, o: TimersOpts) -> io::Result<bool> {
    let mut ok = true;
    for t in &o.run {
        ok &= match t.as_str() {
            "redelivery" => redelivery(addr, deadline, &o).await?,
            "delayed" => delayed(addr, deadline, &o).await?,
            "idle" => idle(addr, deadline, &o).await?,
            other => return Err(bad(format!("unknown timers test {other}"))),
        };
    }
    Ok(ok)
}

/// Visibility timeout: `entries` entries are delivered once to consumer `reader` (reads of
/// COUNT `count`, paced evenly over `spread` ms, never acknowledged), so they are all in
/// flight with deadlines spread over `spread` ms; then `consumers` consumers wait in
/// `XREADGROUP ... BLOCK 0 ... >` for the server to deliver them again, acknowledging each.
/// Lateness = arrival - (first delivery + visibility). The first delivery's time is the
/// server's clock read by a TIME sent in the same pipeline just before the read, not the
/// client's send time: on a busy machine a read's round trip (`read_rtt_max_us`) can reach
/// tens of ms, which would otherwise count as lateness. The server keeps delivery times in
/// whole ms, so an entry may come back up to 1 ms before this reference (`min_us` > -1000).
async fn redelivery(
    addr: &str,
    deadline: tokio::time::Instant,
    o: &TimersOpts,
) -> io::Result<bool> {
    let key: &'static [u8] = b"loadgen:timers:redeliver";
    if o.spread + 500 > o.visibility {
        return Err(bad(
            "--spread must be at least 500 ms shorter than --visibility: the consumers must be waiting before the first redelivery",
        ));
    }
    let n = o.entries;
    let mut admin = Conn::connect(addr).await?;
    admin.call(&[b"DEL", key]).await?;
    admin
        .call(&[b"XGROUP", b"CREATE", key, b"g", b"$", b"MKSTREAM"])
        .await?;
    let vis = o.visibility.to_string();
    admin
        .call(&[b"FMQ.GROUPSET", key, b"g", b"VISIBILITY", vis.as_bytes()])
        .await?;
    let size = o.size;
    let added = produce(addr.to_string(), deadline, n, 256, move |c, s| {
        c.cmd(&[b"XADD", key, b"*", b"d", &payload(0, s, size)])
    })
    .await?;
    if added < n {
        return Err(bad("timed out while adding entries"));
    }
    // First deliveries, paced so that their deadlines spread over `spread` ms.
    let first: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let reads = n.div_ceil(o.count as u64).max(1);
    let count_s = o.count.to_string();
    let start = now_ns();
    let (mut rtt_max, mut delivered) = (0u64, 0u64);
    for i in 0..reads {
        let at = start + i * o.spread * 1_000_000 / reads;
        let wait = at.saturating_sub(now_ns());
        if wait > 0 {
            tokio::time::sleep(Duration::from_nanos(wait)).await;
        }
        let sent = now_ns();
        admin.cmd(&[b"TIME"]);
        admin.cmd(&[
            b"XREADGROUP",
            b"GROUP",
            b"g",
            b"reader",
            b"COUNT",
            count_s.as_bytes(),
            b"STREAMS",
            key,
            b">",
        ]);
        admin.flush().await?;
        let time = admin.ok().await?;
        let f = admin.ok().await?;
        let stamp = server_time_ns(&time)?;
        rtt_max = rtt_max.max(now_ns() - sent);
        let Some((v, _)) = parse(&f, 0)? else {
            return Err(bad("incomplete XREADGROUP reply"));
        };
        for e in read_entries(&v) {
            let seq = entry_payload(e)
                .and_then(|(_, p)| parse_payload(p?))
                .and_then(|(_, seq, _)| first.get(seq as usize));
            if let Some(slot) = seq {
                slot.store(stamp, Ordering::Relaxed);
                delivered += 1;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    let spread_ms = (now_ns() - start) / 1_000_000;
    if delivered != n {
        return Err(bad(format!(
            "first reads delivered {delivered} of {n} entries"
        )));
    }
    // The redeliveries, to consumers waiting before the first deadline.
    let vis_ns = o.visibility * 1_000_000;
    let f = first.clone();
    let (record, min) = lateness(move |_, seq, _| {
        f.get(seq as usize)
            .map_or(0, |t| t.load(Ordering::Relaxed) + vis_ns)
    });
    let seen = Arc::new(Seen::new(1, n));
    let sink = Sink::new(deadline, seen.clone(), record);
    let read = GroupRead {
        count: o.count,
        block: 0,
        autoclaim: false,
    };
    let around = Surroundings::start(o);
    let (cons, ids) = group_consumers(addr, o.consumers, key, &read, &sink).await?;
    unblock_until_finished(&mut admin, &sink, &ids, &cons).await?;
    let hist = join_group_consumers(cons).await?;
    let pending = pending_count(&mut admin, key).await?;
    admin.call(&[b"DEL", key]).await?;
    let received = seen.unique.load(Ordering::Relaxed);
    let dup = seen.dup.load(Ordering::Relaxed);
    let mut r = Report::default();
    r.put("test", "redelivery")
        .put("entries", n)
        .put("visibility_ms", o.visibility)
        .put("spread_ms", spread_ms)
        .put("consumers", o.consumers)
        .put("count", o.count);
    put_lateness(&mut r, "", &hist);
    r.put("min_us", min.load(Ordering::Relaxed))
        .put("read_rtt_max_us", rtt_max / 1000)
        .put("received", received)
        .put("lost", n - received)
        .put("dup", dup)
        .put("pending", pending)
        .put("load1", load1());
    around.report(&mut r);
    r.print();
    Ok(received == n && dup == 0 && pending == 0)
}

/// Delayed delivery: `entries` FMQ.SCHEDULE messages due at times spread evenly over `spread`
/// ms, starting `lead` ms after scheduling begins (scheduling must be over by then): half
/// LPUSH to a list that `consumers` connections pop with pipelined `BRPOP key 0` (`depth`
/// each), half XADD to a stream that `consumers` group consumers read with `XREADGROUP ...
/// BLOCK 0 ... >`. Lateness = arrival - due time.
async fn delayed(addr: &str, deadline: tokio::time::Instant, o: &TimersOpts) -> io::Result<bool> {
    let list: &'static [u8] = b"loadgen:timers:list";
    let stream: &'static [u8] = b"loadgen:timers:stream";
    let per = (o.entries / 2).max(1);
    let n = per * 2;
    let mut admin = Conn::connect(addr).await?;
    admin.call(&[b"DEL", list, stream]).await?;
    admin
        .call(&[b"XGROUP", b"CREATE", stream, b"g", b"$", b"MKSTREAM"])
        .await?;
    // Producer 0 schedules the list's messages, producer 1 the stream's; message i overall
    // (seq * 2 + producer) is due at base + i * spread / n.
    let base = unix_ms() + o.lead;
    let spread = o.spread;
    let due = move |prod: u64, seq: u64| base + (seq * 2 + prod) * spread / n;
    let seen = Arc::new(Seen::new(2, per));
    let (record, min) = lateness(|_, _, due_ns| due_ns);
    let sink = Sink::new(deadline, seen.clone(), record);
    let lists = list_consumers(addr, o.consumers, list, b"0", o.depth, &sink).await?;
    let read = GroupRead {
        count: o.count,
        block: 0,
        autoclaim: false,
    };
    let (groups, ids) = group_consumers(addr, o.consumers, stream, &read, &sink).await?;
    let started = unix_ms();
    let size = o.size;
    let mut prods = Vec::new();
    for (prod, key) in [(0u64, list), (1, stream)] {
        prods.push(tokio::spawn(produce(
            addr.to_string(),
            deadline,
            per,
            256,
            move |c, s| {
                let at = due(prod, s);
                let p = payload_at(prod as usize, s, ns_at_unix_ms(at), size);
                let at = at.to_string();
                if prod == 0 {
                    c.cmd(&[b"FMQ.SCHEDULE", b"AT", at.as_bytes(), b"LPUSH", key, &p]);
                } else {
                    c.cmd(&[
                        b"FMQ.SCHEDULE",
                        b"AT",
                        at.as_bytes(),
                        b"XADD",
                        key,
                        b"*",
                        b"d",
                        &p,
                    ]);
                }
            },
        )));
    }
    let mut scheduled = 0;
    for p in prods {
        scheduled += p.await.map_err(|e| bad(e.to_string()))??;
    }
    let schedule_ms = unix_ms() - started;
    // From here until the last message arrives: the deliveries.
    let around = Surroundings::start(o);
    unblock_until_finished(&mut admin, &sink, &ids, &groups).await?;
    let mut list_hist = histogram();
    for c in lists {
        let (h, _) = c.await.map_err(|e| bad(e.to_string()))?;
        list_hist.add(&h).expect("same bounds");
    }
    let stream_hist = join_group_consumers(groups).await?;
    let mut hist = list_hist.clone();
    hist.add(&stream_hist).expect("same bounds");
    let pending = pending_count(&mut admin, stream).await?;
    admin.call(&[b"DEL", list, stream]).await?;
    let received = seen.unique.load(Ordering::Relaxed);
    let dup = seen.dup.load(Ordering::Relaxed);
    // Scheduling still running when the first messages were due would count as lateness.
    let in_time = schedule_ms < o.lead;
    let mut r = Report::default();
    r.put("test", "delayed")
        .put("entries", n)
        .put("spread_ms", o.spread)
        .put("lead_ms", o.lead)
        .put("schedule_ms", schedule_ms)
        .put("brpop_consumers", o.consumers)
        .put("brpop_depth", o.depth)
        .put("xreadgroup_consumers", o.consumers)
        .put("count", o.count);
    put_lateness(&mut r, "", &hist);
    put_lateness(&mut r, "list_", &list_hist);
    put_lateness(&mut r, "stream_", &stream_hist);
    r.put("min_us", min.load(Ordering::Relaxed))
        .put("scheduled", scheduled)
        .put("received", received)
        .put("lost", n - received)
        .put("dup", dup)
        .put("pending", pending)
        .put("load1", load1());
    around.report(&mut r);
    r.print();
    Ok(in_time && received == n && dup == 0 && pending == 0)
}

/// Tells a late delivery the server caused from one the machine caused: a thread pinned to
/// the server's CPU sleeps 1 ms at a time for as long as a test runs and keeps its largest
/// oversleep. When that CPU is taken by other work for 50 ms, the probe oversleeps 50 ms too.
struct StallProbe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl StallProbe {
    fn start(cpu: Option<usize>) -> StallProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            if let Some(cpu) = cpu {
                // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays within it
                // (sched_setaffinity rejects a CPU that does not exist).
                unsafe {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    libc::CPU_SET(cpu, &mut set);
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                }
            }
            let (mut max, mut over_5ms) = (0u64, 0u64);
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                std::thread::sleep(Duration::from_millis(1));
                let over = (t.elapsed().as_micros() as u64).saturating_sub(1000);
                max = max.max(over);
                over_5ms += (over > 5000) as u64;
            }
            (max, over_5ms)
        });
        StallProbe { stop, thread }
    }

    /// The largest oversleep (µs) and how many passed 5 ms.
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}

/// What else was going on during a lateness test: the server's CPU (when its pid is known), the
/// load generator's own, and the stalls seen by a [`StallProbe`] on the server's CPU.
struct Surroundings {
    pid: u32,
    /// Time, the server's CPU ticks, this process's CPU ticks.
    start: (u64, u64, u64),
    probe: StallProbe,
}

impl Surroundings {
    fn start(o: &TimersOpts) -> Surroundings {
        let server = if o.pid > 0 {
            cpu_ticks(o.pid).unwrap_or(0)
        } else {
            0
        };
        let own = cpu_ticks(std::process::id()).unwrap_or(0);
        Surroundings {
            pid: o.pid,
            start: (now_ns(), server, own),
            probe: StallProbe::start(o.probe_cpu),
        }
    }

    fn report(self, r: &mut Report) {
        let secs = (now_ns() - self.start.0) as f64 / 1e9;
        let pct = |ticks: u64| ticks as f64 / clock_ticks_per_sec() / secs * 100.0;
        if self.pid > 0
            && let Ok(t) = cpu_ticks(self.pid)
        {
            r.put("server_cpu_pct", format!("{:.0}", pct(t - self.start.1)));
        }
        // The consumers' side: well under 100% means it kept up.
        if let Ok(t) = cpu_ticks(std::process::id()) {
            r.put("client_cpu_pct", format!("{:.0}", pct(t - self.start.2)));
        }
        let (max, over) = self.probe.finish();
        r.put("probe_stall_max_us", max)
            .put("probe_stalls_over_5ms", over);
    }
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}

/// utime + stime of process `pid`, in clock ticks (/proc/<pid>/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> io::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces and ends with the last ')'.
    let rest = s
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| bad("bad stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> io::Result<u64> {
        f.get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("bad stat field"))
    };
    // `rest` starts at field 3 (state).
    Ok(field(11)? + field(12)?)
}

/// Idle cost: the server's (`pid`) CPU time over `idle_secs` while no client sends anything,
/// holding `idle_entries` stream entries all delivered and unacknowledged (in flight under a
/// 1 h visibility timeout, or only in the PEL with `plain`) and, unless `plain`, as many
/// FMQ.SCHEDULE messages due in 1 h. `plain` uses only Redis commands (for redis-server).
async fn idle(addr: &str, deadline: tokio::time::Instant, o: &TimersOpts) -> io::Result<bool> {
    if o.pid == 0 {
        return Err(bad("the idle test needs the server's --pid"));
    }
    let key: &'static [u8] = b"loadgen:timers:idle";
    let list: &'static [u8] = b"loadgen:timers:idle:list";
    let n = o.idle_entries;
    let mut admin = Conn::connect(addr).await?;
    admin.call(&[b"DEL", key, list]).await?;
    let fill = now_ns();
    let mut handles: Vec<Vec<u8>> = Vec::new();
    if n > 0 {
        admin
            .call(&[b"XGROUP", b"CREATE", key, b"g", b"$", b"MKSTREAM"])
            .await?;
        if !o.plain {
            admin
                .call(&[b"FMQ.GROUPSET", key, b"g", b"VISIBILITY", b"3600000"])
                .await?;
        }
        let size = o.size;
        let added = produce(addr.to_string(), deadline, n, 512, move |c, s| {
            c.cmd(&[b"XADD", key, b"*", b"d", &payload(0, s, size)])
        })
        .await?;
        if added < n {
            return Err(bad("timed out while adding entries"));
        }
        // Everything in flight.
        let mut delivered = 0u64;
        while delivered < n {
            let f = admin
                .call(&[
                    b"XREADGROUP",
                    b"GROUP",
                    b"g",
                    b"idle",
                    b"COUNT",
                    b"10000",
                    b"STREAMS",
                    key,
                    b">",
                ])
                .await?;
            let got = match parse(&f, 0)? {
                Some((v, _)) => read_entries(&v).len() as u64,
                None => 0,
            };
            if got == 0 || tokio::time::Instant::now() >= deadline {
                return Err(bad(format!("delivered {delivered} of {n} entries")));
            }
            delivered += got;
        }
        if !o.plain {
            let at = (unix_ms() + 3_600_000).to_string();
            produce_with(
                addr.to_string(),
                deadline,
                n,
                512,
                move |c, s| {
                    c.cmd(&[
                        b"FMQ.SCHEDULE",
                        b"AT",
                        at.as_bytes(),
                        b"LPUSH",
                        list,
                        &payload(0, s, size),
                    ])
                },
                |f| {
                    if let Ok(Some((V::Bulk(h), _))) = parse(&f, 0) {
                        handles.push(h.to_vec());
                    }
                },
            )
            .await?;
            if handles.len() as u64 != n {
                return Err(bad(format!("scheduled {} of {n}", handles.len())));
            }
        }
    }
    let fill_ms = (now_ns() - fill) / 1_000_000;
    // Let replies drain and the allocator settle, then watch the server do nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = rss_bytes(o.pid)?;
    let t0 = (now_ns(), cpu_ticks(o.pid)?);
    tokio::time::sleep(Duration::from_secs_f64(o.idle_secs)).await;
    let t1 = (now_ns(), cpu_ticks(o.pid)?);
    let load = load1();
    let hz = clock_ticks_per_sec();
    let secs = (t1.0 - t0.0) as f64 / 1e9;
    let ticks = t1.1 - t0.1;
    let pct = ticks as f64 / hz / secs * 100.0;
    // Clean up: the schedules too, or they would fire in an hour.
    for chunk in handles.chunks(1000) {
        let mut args: Vec<&[u8]> = vec![b"FMQ.CANCEL"];
        args.extend(chunk.iter().map(|h| h.as_slice()));
        admin.cmd(&args);
    }
    admin.flush().await?;
    for _ in handles.chunks(1000) {
        admin.ok().await?;
    }
    admin.call(&[b"DEL", key, list]).await?;
    Report::default()
        .put("test", "idle")
        .put("entries", n)
        .put("scheduled", handles.len())
        .put("plain", o.plain)
        .put("fill_ms", fill_ms)
        .put("secs", format!("{secs:.1}"))
        .put("cpu_ticks", ticks)
        .put("cpu_pct", format!("{pct:.2}"))
        .put("rss_mb", rss / (1 << 20))
        .put("load1", load)
        .print();
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// memory

fn rss_bytes(pid: u32) -> io::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| bad("no VmRSS"))
}

async fn memory(
    addr: &str,
    deadline: tokio::time::Instant,
    pid: u32,
    kind: &str,
    count: u64,
    size: usize,
) -> io::Result<bool> {
    let mut admin = Conn::connect(addr).await?;
    let key: &[u8] = b"loadgen:memory";
    admin.call(&[b"DEL", key]).await?;
    // Let the allocator settle before the baseline.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_bytes(pid)?;
    let value = |i: u64| -> Vec<u8> {
        let mut v = format!("{i}:").into_bytes();
        v.resize(size, b'v');
        v
    };
    let mut held = Vec::new();
    let mut done = 0u64;
    match kind {
        "list" => {
            // RPUSH 100 values per command, 8 commands in flight.
            while done < count {
                let mut n_cmds = 0;
                while n_cmds < 8 && done < count {
                    let n = (count - done).min(100);
                    let vals: Vec<Vec<u8>> = (done..done + n).map(value).collect();
                    let mut args: Vec<&[u8]> = vec![b"RPUSH", key];
                    args.extend(vals.iter().map(|v| v.as_slice()));
                    admin.cmd(&args);
                    done += n;
                    n_cmds += 1;
                }
                admin.flush().await?;
                for _ in 0..n_cmds {
                    admin.ok().await?;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(bad("timed out while filling"));
                }
            }
        }
        "stream" => {
            while done < count {
                let n = (count - done).min(256);
                for i in done..done + n {
                    admin.cmd(&[b"XADD", key, b"*", b"f", &value(i)]);
                }
                admin.flush().await?;
                for _ in 0..n {
                    admin.ok().await?;
                }
                done += n;
                if tokio::time::Instant::now() >= deadline {
                    return Err(bad("timed out while filling"));
                }
            }
        }
        "conns" => {
            while done < count {
                let mut c = Conn::connect(addr).await?;
                c.call(&[b"PING"]).await?;
                held.push(c);
                done += 1;
                if tokio::time::Instant::now() >= deadline {
                    return Err(bad("timed out while connecting"));
                }
            }
        }
        other => return Err(bad(format!("unknown memory kind {other}"))),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_bytes(pid)?;
    drop(held);
    admin.call(&[b"DEL", key]).await?;
    Report::default()
        .put("rate", (after.saturating_sub(before)) as f64 / count as f64)
        .put("rss_before", before)
        .put("rss_after", after)
        .put("count", count)
        .print();
    Ok(true)
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let cli = Cli::parse();
    START.get_or_init(Instant::now);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let addr = format!("{}:{}", cli.host, cli.port);
    let limit = Duration::from_secs_f64(cli.timeout);
    let res = rt.block_on(async {
        let deadline = tokio::time::Instant::now() + limit;
        let work = async {
            match cli.cmd {
                Cmd::Pubsub {
                    subscribers,
                    channels,
                    patterns,
                    groups,
                    messages,
                    depth,
                    max_lag,
                    size,
                } => {
                    pubsub(
                        &addr,
                        deadline,
                        subscribers,
                        channels,
                        patterns,
                        groups,
                        messages,
                        depth.max(1),
                        max_lag,
                        size,
                    )
                    .await
                }
                Cmd::Queue {
                    producers,
                    consumers,
                    messages,
                    depth,
                    size,
                    delay,
                    mover,
                } => {
                    queue(
                        &addr,
                        deadline,
                        producers.max(1),
                        consumers.max(1),
                        messages,
                        depth.max(1),
                        size,
                        delay,
                        mover,
                    )
                    .await
                }
                Cmd::Stream {
                    producers,
                    consumers,
                    messages,
                    depth,
                    count,
                    size,
                    visibility,
                    autoclaim,
                } => {
                    stream(
                        &addr,
                        deadline,
                        producers.max(1),
                        consumers.max(1),
                        messages,
                        depth.max(1),
                        count.max(1),
                        size,
                        visibility,
                        autoclaim,
                    )
                    .await
                }
                Cmd::Timers {
                    run,
                    entries,
                    visibility,
                    spread,
                    lead,
                    consumers,
                    count,
                    depth,
                    size,
                    pid,
                    idle_entries,
                    idle_secs,
                    plain,
                    probe_cpu,
                } => {
                    let o = TimersOpts {
                        run,
                        entries: entries.max(1),
                        visibility,
                        spread,
                        lead,
                        consumers: consumers.max(1),
                        count: count.max(1),
                        depth: depth.max(1),
                        size,
                        pid,
                        idle_entries,
                        idle_secs,
                        plain,
                        probe_cpu,
                    };
                    timers(&addr, deadline, o).await
                }
                Cmd::Memory {
                    pid,
                    kind,
                    count,
                    size,
                } => memory(&addr, deadline, pid, &kind, count.max(1), size).await,
            }
        };
        // A little grace beyond the deadline for the final bookkeeping round trips.
        match tokio::time::timeout(limit + Duration::from_secs(5), work).await {
            Ok(r) => r,
            Err(_) => Err(bad("run exceeded its time limit")),
        }
    });
    match res {
        Ok(true) => {}
        Ok(false) => std::process::exit(2),
        Err(e) => {
            println!("error={}", e.to_string().replace(' ', "_"));
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}
