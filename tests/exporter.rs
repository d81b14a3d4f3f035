//! Existing Redis dashboards keep working: Debian's `prometheus-redis-exporter` (it reads INFO,
//! CONFIG GET, SLOWLOG, LATENCY...) pointed at ferrymq yields every series name it yields for
//! redis-server after the same commands, and the same values where both must agree. Without
//! the exporter the test prints a notice and passes, except under `CI=true`.

mod common;

use common::{Server, free_port, wait_for};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Series redis-server yields that ferrymq cannot, each with the reason. Empty today: every
/// INFO field the exporter reads is there.
const CANNOT_EXIST: &[(&str, &str)] = &[];

fn exporter() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .flat_map(|d| {
            ["prometheus-redis-exporter", "redis_exporter"]
                .into_iter()
                .map(move |n| d.join(n))
        })
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("prometheus-redis-exporter is not on PATH but CI=true");
        }
        eprintln!("SKIPPED: prometheus-redis-exporter not on PATH; compatibility not checked");
    }
    found
}

/// An exporter process watching one server; killed on drop.
struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn start(bin: &PathBuf, redis_port: u16) -> Exporter {
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(bin)
                .arg("-redis.addr")
                .arg(format!("redis://127.0.0.1:{redis_port}"))
                .arg("-web.listen-address")
                .arg(format!("127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the exporter");
            if wait_for(Duration::from_secs(10), || {
                matches!(child.try_wait(), Ok(None))
                    && TcpStream::connect(("127.0.0.1", port)).is_ok()
            }) {
                return Exporter { child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the exporter did not start");
    }

    /// One scrape: the samples as (name, labels as printed, value).
    fn scrape(&self) -> Vec<(String, String, f64)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(s, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        // HTTP/1.0: no chunked encoding to undo, the body ends at EOF.
        assert!(head.contains(" 200 "), "{head}");
        body.lines()
            .filter(|l| l.starts_with("redis_"))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let value = value.parse().ok()?;
                let (name, labels) = match series.split_once('{') {
                    Some((n, rest)) => (n.to_string(), format!("{{{rest}")),
                    None => (series.to_string(), String::new()),
                };
                Some((name, labels, value))
            })
            .collect()
    }
}

/// The same commands on each server: keys of several types, a miss, an error, a stream group.
fn workload(server: &Server) {
    let mut c = server.raw();
    for cmd in [
        &["SET", "s", "v"][..],
        &["GET", "s"],
        &["GET", "missing"],
        &["SET", "t", "v", "EX", "100"],
        &["LPUSH", "q", "a", "b"],
        &["XADD", "events", "*", "f", "v"],
        &["XGROUP", "CREATE", "events", "g", "0"],
        &["INCR", "s"],
        &["PUBLISH", "ch", "hi"],
        // Read lookups count as keyspace hits and misses, write lookups do not.
        &["MGET", "s", "missing", "q"],
        &["EXISTS", "s", "nope"],
        &["TYPE", "missing"],
        &["LRANGE", "q", "0", "-1"],
        &["XRANGE", "events", "-", "+"],
        &["STRLEN", "s"],
        &["LPOP", "nothing"],
        &["DEL", "nothing"],
    ] {
        c.cmd(cmd);
    }
}

fn value(samples: &[(String, String, f64)], name: &str, labels: &str) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l == labels)
        .map(|s| s.2)
}

#[test]
fn redis_exporter_sees_the_same_series_as_with_redis_server() {
    let Some(bin) = exporter() else {
        return;
    };
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let ferry = Server::ferrymq(&[]);
    workload(&redis);
    workload(&ferry);
    let (er, ef) = (
        Exporter::start(&bin, redis.port),
        Exporter::start(&bin, ferry.port),
    );
    let (sr, sf) = (er.scrape(), ef.scrape());
    let names = |s: &[(String, String, f64)]| -> BTreeSet<String> {
        s.iter().map(|(n, _, _)| n.clone()).collect()
    };
    let (nr, nf) = (names(&sr), names(&sf));
    assert!(nr.contains("redis_commands_total"), "{nr:?}");
    let missing: Vec<&String> = nr
        .difference(&nf)
        .filter(|n| !CANNOT_EXIST.iter().any(|(c, _)| c == n))
        .collect();
    assert!(
        missing.is_empty(),
        "series the exporter yields for redis-server but not for ferrymq: {missing:?}"
    );

    for (name, labels) in [
        ("redis_up", ""),
        ("redis_exporter_last_scrape_error", "{err=\"\"}"),
        ("redis_db_keys", "{db=\"db0\"}"),
        ("redis_db_keys_expiring", "{db=\"db0\"}"),
        ("redis_keyspace_hits_total", ""),
        ("redis_keyspace_misses_total", ""),
        ("redis_commands_total", "{cmd=\"set\"}"),
        ("redis_commands_total", "{cmd=\"xadd\"}"),
        ("redis_blocked_clients", ""),
        ("redis_pubsub_channels", ""),
        ("redis_aof_enabled", ""),
    ] {
        let (a, b) = (value(&sr, name, labels), value(&sf, name, labels));
        assert!(a.is_some(), "{name}{labels} missing for redis-server");
        assert_eq!(a, b, "{name}{labels}: redis-server {a:?}, ferrymq {b:?}");
    }
    assert_eq!(value(&sf, "redis_up", ""), Some(1.0));
    for name in [
        "redis_connected_clients",
        "redis_commands_processed_total",
        "redis_memory_used_bytes",
    ] {
        assert!(
            value(&sf, name, "").is_some_and(|v| v > 0.0),
            "{name} for ferrymq"
        );
    }
}
