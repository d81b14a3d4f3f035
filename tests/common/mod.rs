//! Test support: start ferrymq and redis-server on free loopback ports, talk to them with raw
//! RESP or the `redis` crate, and compare replies byte for byte (the differential suite).
//!
//! - `Server::ferrymq(&[...])` starts the built binary with extra `--directive value` args in a
//!   fresh temporary directory; `Server::redis(&[...])` starts the Debian `redis-server` with
//!   persistence off (returns `None` and prints a skip notice when it is not installed, unless
//!   `FERRYMQ_REQUIRE_ORACLE=1`, which makes a missing oracle a failure).
//! - `server.raw()` is a raw RESP connection: `cmd(&["SET","k","v"])` returns the reply's exact
//!   bytes.
//! - `Diff::new()` opens one raw connection to each server (or returns None without an oracle);
//!   `d.cmd(&[...])` sends the same command to both and asserts identical reply bytes.
#![allow(dead_code)]

pub mod notify;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub name: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Servers started by tests die with the thread that started them (Linux's parent-death
/// signal), even when a test process is killed or a thread-local holding one is never
/// dropped: no test server outlives its test.
fn die_with_test(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl, which
    // is async-signal-safe and touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

pub fn free_port() -> u16 {
    // Ask the kernel for a free port; the tiny window before the server binds is covered by
    // retrying the start.
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn redis_server_path() -> Option<PathBuf> {
    let p = std::env::var_os("PATH")?;
    std::env::split_paths(&p)
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}

fn wait_ready(child: &mut Child, port: u16) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok() {
                let mut b = [0u8; 64];
                if let Ok(n) = s.read(&mut b)
                    && n > 0
                    && (b[..n].starts_with(b"+PONG") || b[..n].starts_with(b"-NOAUTH"))
                {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A server process in a directory the test keeps across restarts (persistence tests).
pub struct DirServer {
    child: Child,
    pub port: u16,
}

impl Drop for DirServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DirServer {
    /// Start `bin` in `dir` with extra arguments, after `--save ""` (a test's own `--save`
    /// points add to it); `redis` adds `--daemonize no`.
    pub fn spawn(bin: &std::path::Path, dir: &std::path::Path, args: &[&str], redis: bool) -> Self {
        for _ in 0..5 {
            let port = free_port();
            let port_s = port.to_string();
            let dir_s = dir.display().to_string();
            let mut all: Vec<&str> =
                vec!["--port", &port_s, "--bind", "127.0.0.1", "--dir", &dir_s];
            // No save points unless the test gives its own (they add to these): nothing is
            // saved on shutdown behind a test's back.
            all.extend(["--save", ""]);
            if redis {
                all.extend(["--daemonize", "no"]);
            }
            all.extend(args);
            let mut child = die_with_test(&mut Command::new(bin))
                .args(&all)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .env("RUST_LOG", "warn")
                .spawn()
                .expect("spawn");
            if wait_ready(&mut child, port) {
                return DirServer { child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{} did not start in {}", bin.display(), dir.display());
    }

    pub fn ferrymq(dir: &std::path::Path, args: &[&str]) -> Self {
        Self::spawn(
            std::path::Path::new(env!("CARGO_BIN_EXE_ferrymq")),
            dir,
            args,
            false,
        )
    }

    /// The reference redis-server in `dir`, or None (skip) when it is not installed.
    pub fn redis(dir: &std::path::Path, args: &[&str]) -> Option<Self> {
        match redis_server_path() {
            Some(p) => Some(Self::spawn(&p, dir, args, true)),
            None => {
                if std::env::var("FERRYMQ_REQUIRE_ORACLE").as_deref() == Ok("1") {
                    panic!("redis-server is not on PATH but FERRYMQ_REQUIRE_ORACLE=1");
                }
                eprintln!("SKIPPED: redis-server not on PATH");
                None
            }
        }
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    fn wait_exit(&mut self, what: &str) {
        let exited = wait_for(Duration::from_secs(10), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        assert!(exited, "server did not exit after {what}");
    }

    /// SHUTDOWN (which flushes the AOF) and wait for the exit.
    pub fn shutdown(mut self) {
        self.raw().send(&["SHUTDOWN"]);
        self.wait_exit("SHUTDOWN");
    }

    pub fn sigterm(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait_exit("SIGTERM");
    }

    /// SIGKILL: only what reached the file survives.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn spawn(name: &'static str, bin: &std::path::Path, args: &[&str], redis: bool) -> Server {
        Self::spawn_on(name, bin, args, redis, None, &[])
    }

    fn spawn_on(
        name: &'static str,
        bin: &std::path::Path,
        args: &[&str],
        redis: bool,
        fixed_port: Option<u16>,
        env: &[(&str, &str)],
    ) -> Server {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = fixed_port.unwrap_or_else(free_port);
            let mut cmd = Command::new(bin);
            let port_s = port.to_string();
            let mut all: Vec<&str> = vec!["--port", &port_s, "--bind", "127.0.0.1"];
            let dir_s = dir.path().to_string_lossy().into_owned();
            all.extend(["--dir", &dir_s, "--save", ""]);
            if redis {
                all.extend(["--appendonly", "no", "--daemonize", "no"]);
            }
            all.extend(args);
            cmd.args(&all)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if !redis {
                cmd.env("RUST_LOG", "warn");
            }
            cmd.envs(env.iter().copied());
            let mut child = die_with_test(&mut cmd).spawn().expect("spawn server");
            if wait_ready(&mut child, port) {
                return Server {
                    child,
                    port,
                    dir,
                    name,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{name} did not start");
    }

    /// Start ferrymq with extra `--directive value` arguments.
    pub fn ferrymq(args: &[&str]) -> Server {
        Server::spawn(
            "ferrymq",
            std::path::Path::new(env!("CARGO_BIN_EXE_ferrymq")),
            args,
            false,
        )
    }

    /// Start ferrymq on a given port (a server restarted where it was).
    pub fn ferrymq_on(port: u16, args: &[&str]) -> Server {
        Server::spawn_on(
            "ferrymq",
            std::path::Path::new(env!("CARGO_BIN_EXE_ferrymq")),
            args,
            false,
            Some(port),
            &[],
        )
    }

    /// Start ferrymq with one worker thread (tokio's `TOKIO_WORKER_THREADS`): what its
    /// threads' scheduling decides, and not the machine's timing.
    pub fn ferrymq_one_thread(args: &[&str]) -> Server {
        Server::spawn_on(
            "ferrymq",
            std::path::Path::new(env!("CARGO_BIN_EXE_ferrymq")),
            args,
            false,
            None,
            &[("TOKIO_WORKER_THREADS", "1")],
        )
    }

    /// Start the reference redis-server, or None (skip) when it is not installed.
    pub fn redis(args: &[&str]) -> Option<Server> {
        match redis_server_path() {
            Some(p) => Some(Server::spawn("redis", &p, args, true)),
            None => {
                if std::env::var("FERRYMQ_REQUIRE_ORACLE").as_deref() == Ok("1") {
                    panic!("redis-server is not on PATH but FERRYMQ_REQUIRE_ORACLE=1");
                }
                eprintln!("SKIPPED: redis-server not on PATH; differential checks not run");
                None
            }
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("client")
    }

    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().expect("connection")
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process is alive.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Send SIGKILL and wait for the process.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait for the process to exit by itself (e.g. after SHUTDOWN), up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// Encode a command as a RESP multibulk.
pub fn encode_cmd<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP2/RESP3 value in `buf`, if complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    if buf.is_empty() {
        return None;
    }
    match redis_protocol::resp2::decode::decode(buf) {
        Ok(Some((_, n))) => return Some(n),
        Ok(None) => {
            // RESP2 may call a RESP3 frame incomplete; let the RESP3 decoder decide.
            if !matches!(
                buf[0],
                b'%' | b'~' | b'>' | b'_' | b',' | b'#' | b'=' | b'(' | b'!' | b'|'
            ) {
                return None;
            }
        }
        Err(_) => {}
    }
    match redis_protocol::resp3::decode::complete::decode(buf) {
        Ok(Some((_, n))) => Some(n),
        // The decoder refuses some valid frames (a set of arrays, as COMMAND DOCS sends):
        // measure by the framing alone.
        Err(_) => resp3_len(buf),
        _ => None,
    }
}

/// Length of the first complete RESP3 value in `buf` by its framing only (no decoding).
fn resp3_len(buf: &[u8]) -> Option<usize> {
    let eol = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&buf[1..eol]).ok()?;
    let mut at = eol + 2;
    let children = match buf[0] {
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(at);
            }
            let end = at + n as usize + 2;
            return (buf.len() >= end).then_some(end);
        }
        b'*' | b'~' | b'>' => head.parse::<i64>().ok()?,
        b'%' | b'|' => 2 * head.parse::<i64>().ok()?,
        _ => return Some(at),
    };
    for _ in 0..children.max(0) {
        at += resp3_len(&buf[at..])?;
    }
    Some(at)
}

pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).ok();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connect, or the error (a server that is going away).
    pub fn try_connect(port: u16) -> std::io::Result<RawConn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true).ok();
        Ok(RawConn {
            stream,
            buf: Vec::new(),
        })
    }

    /// Send a command and read its reply; None when the connection fails first (the server
    /// was killed): the command may or may not have run.
    pub fn try_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Option<Vec<u8>> {
        self.stream.write_all(&encode_cmd(args)).ok()?;
        self.try_read_reply(Duration::from_secs(5))
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.stream.write_all(&encode_cmd(args)).expect("write");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Read one complete reply; panics after the read timeout.
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply(Duration::from_secs(10))
            .unwrap_or_else(|| {
                panic!(
                    "no reply; buffered: {:?}",
                    String::from_utf8_lossy(&self.buf)
                )
            })
    }

    /// Read one complete reply, or None if none arrives within `timeout` (or the peer closed).
    pub fn try_read_reply(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Read until `ready(buf)` gives a length, then take that many bytes (10 s at most).
    fn read_until(&mut self, ready: impl Fn(&[u8]) -> Option<usize>) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(n) = ready(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("timed out reading");
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => panic!("connection ended while reading"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// One line, without its CRLF (a replication stream's `$<len>` header).
    pub fn read_line(&mut self) -> String {
        let line = self.read_until(|b| b.windows(2).position(|w| w == b"\r\n").map(|p| p + 2));
        String::from_utf8_lossy(&line[..line.len() - 2]).into_owned()
    }

    /// Exactly `n` raw bytes (an RDB payload, which has no trailing CRLF).
    pub fn read_exact_bytes(&mut self, n: usize) -> Vec<u8> {
        self.read_until(|b| (b.len() >= n).then_some(n))
    }

    /// True when the server closed the connection (within `timeout`) with nothing more to read.
    pub fn closed(&mut self, timeout: Duration) -> bool {
        self.stream.set_read_timeout(Some(timeout)).ok();
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return false,
            }
        }
    }

    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    /// `cmd` returning the reply as (lossy) text, handy in assertions.
    pub fn cmd_s<A: AsRef<[u8]>>(&mut self, args: &[A]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }
}

/// Same commands against ferrymq and redis-server, replies compared byte for byte.
pub struct Diff {
    pub ferry: RawConn,
    pub redis: RawConn,
    pub fm: Server,
    pub rs: Server,
    log: Vec<String>,
}

impl Diff {
    /// Fresh servers (ferrymq with `args`), or None when the oracle is missing.
    pub fn new() -> Option<Diff> {
        Diff::with_args(&[])
    }

    pub fn with_args(args: &[&str]) -> Option<Diff> {
        let rs = Server::redis(args)?;
        let fm = Server::ferrymq(args);
        Some(Diff {
            ferry: fm.raw(),
            redis: rs.raw(),
            fm,
            rs,
            log: vec![],
        })
    }

    /// Switch both connections to RESP3 (the HELLO replies differ in `id`, so they are not
    /// compared).
    pub fn resp3(&mut self) {
        self.ferry.cmd(&["HELLO", "3"]);
        self.redis.cmd(&["HELLO", "3"]);
    }

    /// Send to both, assert equal replies, return the reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.cmd_norm(args, |b| b.to_vec())
    }

    /// Like `cmd`, comparing `norm(reply)` (for time-dependent parts such as IDs).
    pub fn cmd_norm<A: AsRef<[u8]>>(
        &mut self,
        args: &[A],
        norm: impl Fn(&[u8]) -> Vec<u8>,
    ) -> Vec<u8> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect();
        self.log.push(shown.join(" "));
        let r = self.redis.cmd(args);
        let f = self.ferry.cmd(args);
        let (nr, nf) = (norm(&r), norm(&f));
        assert!(
            nr == nf,
            "reply differs for `{}`\n  redis:   {:?}\n  ferrymq: {:?}\n  (commands so far: {:?})",
            shown.join(" "),
            String::from_utf8_lossy(&nr),
            String::from_utf8_lossy(&nf),
            self.log
        );
        r
    }

    /// Run a script of commands, each compared.
    pub fn script(&mut self, cmds: &[&[&str]]) {
        for c in cmds {
            self.cmd(c);
        }
    }

    /// Run a script of commands, each compared, and after each step compare INFO's `field` on
    /// both servers too (read on other connections).
    pub fn script_with_info(&mut self, cmds: &[&[&str]], field: &str) {
        let mut fm = self.fm.raw();
        let mut rs = self.rs.raw();
        for c in cmds {
            self.cmd(c);
            assert_eq!(
                info_field(&mut fm, field),
                info_field(&mut rs, field),
                "{field} after {c:?}"
            );
        }
    }

    /// Compare the raw replies to raw bytes sent to both (protocol-level checks).
    pub fn raw(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.redis.send_raw(bytes);
        self.ferry.send_raw(bytes);
        let r = self.redis.read_reply();
        let f = self.ferry.read_reply();
        assert_eq!(
            String::from_utf8_lossy(&r),
            String::from_utf8_lossy(&f),
            "raw input {:?}",
            String::from_utf8_lossy(bytes)
        );
        r
    }
}

/// Poll `cond` every 5 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// A field of INFO (any section) as a string.
pub fn info_field(conn: &mut RawConn, field: &str) -> Option<String> {
    let r = conn.cmd(&["INFO", "everything"]);
    let text = String::from_utf8_lossy(&r).into_owned();
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}
