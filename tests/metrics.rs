//! The metrics endpoint (`metrics-port`): HTTP routes, the series and their values after
//! commands, the per-key filter, readiness while the AOF loads, and `promtool check metrics`
//! on the output (skipped with a notice when the Debian `prometheus` package is absent).

mod common;

use common::{DirServer, RawConn, Server, free_port, info_field, wait_for};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct Http {
    status: u16,
    content_type: String,
    body: String,
}

/// One HTTP/1.1 request on a fresh connection (Connection: close, so the body ends at EOF).
fn try_request(port: u16, method: &str, path: &str, accept: Option<&str>) -> std::io::Result<Http> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    Ok(Http {
        status,
        content_type,
        body: body.to_string(),
    })
}

fn get(port: u16, path: &str) -> Http {
    try_request(port, "GET", path, None).expect("request")
}

/// The value of the sample `series` (name with its labels, as printed), if present.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[track_caller]
fn assert_sample(body: &str, series: &str, want: f64) {
    assert_eq!(sample(body, series), Some(want), "{series} in:\n{body}");
}

/// TCP ports the process `pid` listens on (from /proc: its socket inodes in LISTEN state).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for l in text.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            // f[1] local address:port (hex), f[3] state (0A = LISTEN), f[9] inode.
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                let port = f[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports.sort();
    ports.dedup();
    ports
}

fn promtool() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("PATH")?;
    std::env::split_paths(&p)
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
}

/// `promtool check metrics` accepts `text` (the Prometheus text format it lints), or a skip
/// notice without promtool.
fn promtool_check(text: &str) {
    let Some(bin) = promtool() else {
        eprintln!(
            "SKIPPED: promtool not on PATH (Debian package `prometheus`); exposition not linted"
        );
        return;
    };
    let mut child = Command::new(bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn endpoint_is_off_by_default() {
    let s = Server::ferrymq(&[]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "metrics-port"]),
        b"*2\r\n$12\r\nmetrics-port\r\n$1\r\n0\r\n"
    );
    assert_eq!(listening_ports(s.pid()), vec![s.port]);

    let mp = free_port();
    let s = Server::ferrymq(&["--metrics-port", &mp.to_string()]);
    let mut want = vec![s.port, mp];
    want.sort();
    assert_eq!(listening_ports(s.pid()), want);
}

#[test]
fn probes_and_routes() {
    let mp = free_port();
    let s = Server::ferrymq(&["--metrics-port", &mp.to_string()]);
    let r = get(mp, "/healthz");
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    assert_eq!(r.content_type, "text/plain; charset=utf-8");
    let r = get(mp, "/readyz");
    assert_eq!((r.status, r.body.as_str()), (200, "ready\n"));
    assert_eq!(get(mp, "/nope").status, 404);
    assert_eq!(get(mp, "/metrics/extra").status, 404);
    let r = try_request(mp, "POST", "/metrics", None).unwrap();
    assert_eq!(r.status, 405);
    let r = try_request(mp, "HEAD", "/metrics", None).unwrap();
    assert_eq!((r.status, r.content_type.as_str()), (200, PROMETHEUS_TEXT));
    // The broker is unaffected by the HTTP traffic.
    assert_eq!(s.raw().cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn series_follow_commands() {
    let mp = free_port();
    let s = Server::ferrymq(&[
        "--metrics-port",
        &mp.to_string(),
        "--metrics-key-patterns",
        "queue:* jobs:*",
    ]);
    let mut c = s.raw();
    c.cmd(&["LPUSH", "queue:a", "x", "y", "z"]);
    c.cmd(&["LPUSH", "other:list", "1"]);
    for _ in 0..3 {
        c.cmd(&["XADD", "jobs:s", "*", "f", "v"]);
    }
    c.cmd(&["XGROUP", "CREATE", "jobs:s", "g", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "2",
        "STREAMS",
        "jobs:s",
        ">",
    ]);
    c.cmd(&["XADD", "other:s", "*", "f", "v"]);
    c.cmd(&["XGROUP", "CREATE", "other:s", "g2", "0"]);
    c.cmd(&["SET", "jobs:str", "not a queue"]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["LPUSH", "queue:a", "in db 1"]);
    c.cmd(&["SELECT", "0"]);
    // Errors: an arity error (rejected) and a WRONGTYPE (failed).
    assert!(c.cmd(&["GET"]).starts_with(b"-ERR wrong number"));
    assert!(c.cmd(&["LPUSH", "jobs:s", "x"]).starts_with(b"-WRONGTYPE"));
    // Pub/sub and a blocked client.
    let mut sub = s.raw();
    sub.cmd(&["SUBSCRIBE", "news"]);
    sub.cmd(&["PSUBSCRIBE", "news.*"]);
    let mut blocked = s.raw();
    blocked.send(&["BLPOP", "queue:empty", "0"]);
    assert!(wait_for(Duration::from_secs(5), || {
        info_field(&mut c, "blocked_clients").as_deref() == Some("1")
    }));

    let r = get(mp, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, PROMETHEUS_TEXT);
    let b = &r.body;
    // Per key, for the matching keys only, with their database.
    assert_sample(b, r#"ferrymq_list_length{db="0",key="queue:a"}"#, 3.0);
    assert_sample(b, r#"ferrymq_list_length{db="1",key="queue:a"}"#, 1.0);
    assert_sample(b, r#"ferrymq_stream_length{db="0",key="jobs:s"}"#, 3.0);
    assert_sample(b, r#"ferrymq_stream_groups{db="0",key="jobs:s"}"#, 1.0);
    let g = r#"{db="0",key="jobs:s",group="g"}"#;
    assert_sample(b, &format!("ferrymq_stream_group_pending{g}"), 2.0);
    assert_sample(b, &format!("ferrymq_stream_group_lag{g}"), 1.0);
    assert_sample(b, &format!("ferrymq_stream_group_consumers{g}"), 1.0);
    let age = sample(
        b,
        &format!("ferrymq_stream_group_oldest_pending_age_seconds{g}"),
    )
    .unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    for absent in ["other:list", "other:s", "jobs:str", "queue:empty"] {
        assert!(
            !b.contains(&format!("key=\"{absent}\"")),
            "{absent} must have no series:\n{b}"
        );
    }
    // No broker policy set: no policy series.
    assert!(!b.contains("ferrymq_stream_group_visibility_timeout_seconds"));
    // Server-wide figures.
    assert_sample(b, r#"ferrymq_db_keys{db="0"}"#, 5.0);
    assert_sample(b, r#"ferrymq_db_keys{db="1"}"#, 1.0);
    assert_sample(b, r#"ferrymq_db_expiring_keys{db="0"}"#, 0.0);
    assert_sample(b, "ferrymq_connected_clients", 3.0);
    assert_sample(b, "ferrymq_blocked_clients", 1.0);
    assert_sample(b, "ferrymq_pubsub_channels", 1.0);
    assert_sample(b, "ferrymq_pubsub_patterns", 1.0);
    assert_sample(b, "ferrymq_rejected_connections_total", 0.0);
    assert_sample(b, "ferrymq_output_limit_disconnections_total", 0.0);
    assert_sample(b, "ferrymq_expired_keys_total", 0.0);
    assert!(sample(b, "ferrymq_net_input_bytes_total").unwrap() > 100.0);
    assert!(sample(b, "ferrymq_net_output_bytes_total").unwrap() > 10.0);
    assert!(sample(b, "ferrymq_keyspace_hits_total").is_some());
    assert!(sample(b, "ferrymq_keyspace_misses_total").is_some());
    assert!(sample(b, "ferrymq_connections_received_total").unwrap() >= 3.0);
    assert!(sample(b, "ferrymq_commands_processed_total").unwrap() >= 15.0);
    assert_sample(b, r#"ferrymq_command_calls_total{cmd="lpush"}"#, 4.0);
    assert_sample(b, r#"ferrymq_command_failed_calls_total{cmd="lpush"}"#, 1.0);
    assert_sample(b, r#"ferrymq_command_rejected_calls_total{cmd="get"}"#, 1.0);
    assert_sample(
        b,
        r#"ferrymq_command_calls_total{cmd="xgroup|create"}"#,
        2.0,
    );
    assert!(sample(b, r#"ferrymq_command_duration_seconds_total{cmd="xadd"}"#).unwrap() > 0.0);
    // The latency histogram counts every call (latency-tracking is on by default).
    assert_sample(
        b,
        r#"ferrymq_command_latency_seconds_count{cmd="xadd"}"#,
        4.0,
    );
    assert_sample(
        b,
        r#"ferrymq_command_latency_seconds_bucket{cmd="xadd",le="+Inf"}"#,
        4.0,
    );
    assert_sample(
        b,
        r#"ferrymq_command_latency_seconds_bucket{cmd="xadd",le="1"}"#,
        4.0,
    );
    assert!(sample(b, r#"ferrymq_command_latency_seconds_sum{cmd="xadd"}"#).unwrap() > 0.0);
    assert_sample(b, r#"ferrymq_errors_total{error="ERR"}"#, 1.0);
    assert_sample(b, r#"ferrymq_errors_total{error="WRONGTYPE"}"#, 1.0);
    assert_sample(b, "ferrymq_aof_enabled", 0.0);
    assert_sample(b, "ferrymq_aof_last_write_ok", 1.0);
    assert_sample(b, "ferrymq_aof_rewrite_in_progress", 0.0);
    assert_sample(b, "ferrymq_aof_rewrites_total", 0.0);
    assert_sample(b, "ferrymq_loading", 0.0);
    assert!(sample(b, "ferrymq_memory_used_bytes").unwrap() > 0.0);
    assert!(sample(b, "ferrymq_memory_rss_bytes").unwrap() > 0.0);
    assert!(
        sample(b, "ferrymq_memory_peak_bytes").unwrap()
            >= sample(b, "ferrymq_memory_used_bytes").unwrap()
    );
    assert!(sample(b, "ferrymq_uptime_seconds").unwrap() >= 0.0);
    promtool_check(b);

    // The figures are read at each scrape: ack one, add two, set a broker policy.
    let reply = c.cmd(&["XRANGE", "jobs:s", "-", "+", "COUNT", "1"]);
    let first = String::from_utf8_lossy(&reply)
        .lines()
        .nth(3)
        .unwrap()
        .to_string();
    c.cmd(&["XACK", "jobs:s", "g", &first]);
    c.cmd(&["XADD", "jobs:s", "*", "f", "v"]);
    c.cmd(&["XADD", "jobs:s", "*", "f", "v"]);
    c.cmd(&["RPOP", "queue:a"]);
    c.cmd(&["XADD", "jobs:dead", "*", "f", "v"]);
    assert_eq!(
        c.cmd(&[
            "FMQ.GROUPSET",
            "jobs:s",
            "g",
            "VISIBILITY",
            "1500",
            "MAXDELIVERIES",
            "3",
            "DEADLETTER",
            "jobs:dead"
        ]),
        b"+OK\r\n"
    );
    let b = get(mp, "/metrics").body;
    assert_sample(&b, &format!("ferrymq_stream_group_pending{g}"), 1.0);
    assert_sample(&b, &format!("ferrymq_stream_group_lag{g}"), 3.0);
    assert_sample(&b, r#"ferrymq_stream_length{db="0",key="jobs:s"}"#, 5.0);
    assert_sample(&b, r#"ferrymq_list_length{db="0",key="queue:a"}"#, 2.0);
    assert_sample(
        &b,
        &format!("ferrymq_stream_group_visibility_timeout_seconds{g}"),
        1.5,
    );
    assert_sample(&b, &format!("ferrymq_stream_group_max_deliveries{g}"), 3.0);
    // With a visibility timeout the age comes from the group's time index.
    let age = sample(
        &b,
        &format!("ferrymq_stream_group_oldest_pending_age_seconds{g}"),
    )
    .unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_sample(
        &b,
        r#"ferrymq_stream_group_dead_letter_length{db="0",key="jobs:s",group="g",dead_letter="jobs:dead"}"#,
        1.0,
    );
    promtool_check(&b);

    // The patterns are read by every scrape (CONFIG SET takes effect at once).
    c.cmd(&["CONFIG", "SET", "metrics-key-patterns", "other:*"]);
    let b = get(mp, "/metrics").body;
    assert_sample(&b, r#"ferrymq_list_length{db="0",key="other:list"}"#, 1.0);
    assert!(!b.contains("key=\"queue:a\""));
    assert_sample(
        &b,
        r#"ferrymq_stream_group_lag{db="0",key="other:s",group="g2"}"#,
        1.0,
    );
    c.cmd(&["CONFIG", "SET", "metrics-key-patterns", ""]);
    let b = get(mp, "/metrics").body;
    assert!(
        !b.contains("key=\""),
        "no per-key series without patterns:\n{b}"
    );
    drop(blocked);
}

#[test]
fn openmetrics_when_asked() {
    let mp = free_port();
    let s = Server::ferrymq(&["--metrics-port", &mp.to_string()]);
    s.raw().cmd(&["LPUSH", "q", "a"]);
    let r = try_request(
        mp,
        "GET",
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .unwrap();
    assert_eq!((r.status, r.content_type.as_str()), (200, OPENMETRICS));
    assert!(r.body.ends_with("# EOF\n"), "{}", r.body);
    // OpenMetrics names a counter family without `_total`; its sample has it.
    assert!(
        r.body
            .contains("# TYPE ferrymq_commands_processed counter\n")
    );
    assert!(r.body.contains("# UNIT ferrymq_memory_used_bytes bytes\n"));
    assert_sample(&r.body, r#"ferrymq_command_calls_total{cmd="lpush"}"#, 1.0);

    let r = try_request(mp, "GET", "/metrics", Some("text/plain")).unwrap();
    assert_eq!(r.content_type, PROMETHEUS_TEXT);
    assert!(!r.body.contains("# EOF"));
    assert!(
        r.body
            .contains("# TYPE ferrymq_commands_processed_total counter\n")
    );
}

/// A ferrymq process started without waiting for its client port (which opens only after the
/// AOF is loaded); killed on drop.
struct Loading(Child);

impl Drop for Loading {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn readyz_is_503_while_the_aof_loads() {
    let dir = tempfile::tempdir().unwrap();
    const COMMANDS: usize = 1500;
    {
        let s = DirServer::ferrymq(
            dir.path(),
            &["--appendonly", "yes", "--appendfsync", "always"],
        );
        let mut c = RawConn::connect(s.port);
        for i in 0..COMMANDS {
            c.send(&["RPUSH", "queue:load", &i.to_string()]);
        }
        for _ in 0..COMMANDS {
            c.read_reply();
        }
    }
    let (port, mp) = (free_port(), free_port());
    // 2 ms per replayed command: about 3 s of loading.
    let child = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", &dir.path().display().to_string()])
        .args(["--appendonly", "yes", "--key-load-delay", "2000"])
        .args(["--metrics-port", &mp.to_string()])
        .args(["--metrics-key-patterns", "queue:*"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let _guard = Loading(child);
    let mut seen = None;
    assert!(wait_for(Duration::from_secs(10), || {
        seen = try_request(mp, "GET", "/readyz", None).ok();
        seen.is_some()
    }));
    // The endpoint is up before the load starts: not ready from the first answer.
    let r = seen.unwrap();
    assert_eq!((r.status, r.body.as_str()), (503, "loading\n"));
    assert_eq!(get(mp, "/healthz").status, 200);
    assert!(wait_for(Duration::from_secs(10), || {
        sample(&get(mp, "/metrics").body, "ferrymq_loading") == Some(1.0)
    }));
    let r = get(mp, "/readyz");
    assert_eq!((r.status, r.body.as_str()), (503, "loading\n"));
    assert!(wait_for(Duration::from_secs(30), || get(mp, "/readyz")
        .status
        == 200));
    let b = get(mp, "/metrics").body;
    assert_sample(&b, "ferrymq_loading", 0.0);
    assert_sample(&b, "ferrymq_aof_enabled", 1.0);
    assert_sample(
        &b,
        r#"ferrymq_list_length{db="0",key="queue:load"}"#,
        COMMANDS as f64,
    );
    assert!(sample(&b, "ferrymq_aof_current_size_bytes").unwrap() > 0.0);
    assert_eq!(
        RawConn::connect(port).cmd(&["LLEN", "queue:load"]),
        format!(":{COMMANDS}\r\n").as_bytes()
    );
}
