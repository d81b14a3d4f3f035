//! The dashboard on the metrics port, in a real browser: Debian's `chromium` in headless mode
//! loads the page, runs its script against the live server and prints the DOM it built (and
//! every console message on stderr), then takes a screenshot. Without chromium the browser test
//! prints a notice and passes, except under `CI=true`, where it fails so CI cannot skip it
//! silently. The JSON and the password check need no browser.

mod common;

use common::{Server, free_port, wait_for};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
}

/// The chromium binary, or None (skip) outside CI when it is not installed.
fn chromium_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not on PATH but CI=true: install it (apt-get install chromium)");
        }
        eprintln!("SKIPPED: chromium not on PATH; the dashboard was not tested in a browser");
    }
    found
}

/// `GET path` on the metrics port with optional Basic credentials: (status, body).
fn http_get(port: u16, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn start() -> (Server, u16) {
    for _ in 0..5 {
        let mport = free_port();
        let server = Server::ferrymq(&["--metrics-port", &mport.to_string()]);
        if wait_for(Duration::from_secs(5), || {
            TcpStream::connect(("127.0.0.1", mport)).is_ok()
        }) {
            return (server, mport);
        }
    }
    panic!("the metrics port did not come up");
}

struct Browser {
    bin: PathBuf,
    profile: tempfile::TempDir,
}

/// What one headless run printed: stdout (the DOM) and stderr (the logs).
struct Run {
    stdout: String,
    stderr: String,
}

impl Browser {
    fn new(bin: PathBuf) -> Self {
        Browser {
            bin,
            profile: tempfile::tempdir().unwrap(),
        }
    }

    /// Load `url`, let the page run for `budget_ms` of virtual time (its polls included), then
    /// do what `action` asks (`--dump-dom`, `--screenshot=...`). Killed after 60 s.
    fn run(&self, url: &str, budget_ms: u32, action: &str) -> Run {
        let mut child = Command::new(&self.bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,1000",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .arg(format!("--virtual-time-budget={budget_ms}"))
            .arg(action)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish in 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Run {
            stdout: t_out.join().unwrap(),
            stderr: t_err.join().unwrap(),
        }
    }
}

/// Messages the page wrote to its console (chromium logs them as `CONSOLE` lines): the page
/// writes none, so any is an error (an exception, a failed fetch, a CSP violation).
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

/// The text of the lag cell in the dashboard row of `group` (of any stream).
fn lag_in_dom(dom: &str, group: &str) -> Option<String> {
    let row = dom.find(&format!("data-group=\"{group}\""))?;
    let rest = &dom[row..];
    let end = rest.find("</tr>")?;
    let row = &rest[..end];
    let cell = row.find("lag")?;
    let text = &row[cell..];
    let open = text.find('>')? + 1;
    let close = text.find("</td>")?;
    Some(text[open..close].to_string())
}

fn xadd(conn: &mut redis::Connection, stream: &str, n: usize) {
    for i in 0..n {
        let _: String = redis::cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("n")
            .arg(i)
            .query(conn)
            .unwrap();
    }
}

fn lag_in_json(mport: u16) -> serde_json::Value {
    let (status, body) = http_get(mport, "/api/overview", None);
    assert_eq!(status, 200, "{body}");
    let o: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    o["queues"]["streams"][0]["groups"][0]["lag"].clone()
}

#[test]
fn dashboard_shows_stream_lag_changing_in_a_browser() {
    let (server, mport) = start();
    let mut conn = server.conn();
    xadd(&mut conn, "orders", 3);
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "orders", "billing", "0"])
        .query(&mut conn)
        .unwrap();
    let _: i64 = redis::cmd("RPUSH")
        .arg(&["jobs", "a", "b"])
        .query(&mut conn)
        .unwrap();
    assert_eq!(lag_in_json(mport), 3);
    // A drained queue: no key, one consumer blocked on it.
    let mut waiter = server.raw();
    waiter.send(&["BLPOP", "jobs:drained", "0"]);
    let mut probe = server.raw();
    assert!(wait_for(Duration::from_secs(10), || {
        common::info_field(&mut probe, "blocked_clients").as_deref() == Some("1")
    }));
    let (_, body) = http_get(mport, "/api/overview", None);
    let o: serde_json::Value = serde_json::from_str(&body).unwrap();
    let drained = o["queues"]["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "jobs:drained")
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    assert_eq!(
        (drained["length"].clone(), drained["blocked"].clone()),
        (0.into(), 1.into())
    );

    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let browser = Browser::new(bin);
    let url = format!("http://127.0.0.1:{mport}/");

    let first = browser.run(&url, 2500, "--dump-dom");
    assert!(
        console_messages(&first.stderr).is_empty(),
        "console errors: {:?}",
        console_messages(&first.stderr)
    );
    assert!(first.stdout.contains("orders"), "{}", first.stdout);
    assert!(first.stdout.contains("jobs"), "{}", first.stdout);
    assert!(first.stdout.contains("jobs:drained"), "{}", first.stdout);
    assert!(first.stdout.contains("live"), "{}", first.stdout);
    assert_eq!(
        lag_in_dom(&first.stdout, "billing").as_deref(),
        Some("3"),
        "{}",
        first.stdout
    );

    xadd(&mut conn, "orders", 5);
    assert_eq!(lag_in_json(mport), 8);
    let second = browser.run(&url, 2500, "--dump-dom");
    assert!(
        console_messages(&second.stderr).is_empty(),
        "console errors: {:?}",
        console_messages(&second.stderr)
    );
    assert_eq!(
        lag_in_dom(&second.stdout, "billing").as_deref(),
        Some("8"),
        "{}",
        second.stdout
    );

    let shots = tempfile::tempdir().unwrap();
    let png = shots.path().join("dashboard.png");
    let shot = browser.run(&url, 2500, &format!("--screenshot={}", png.display()));
    assert!(console_messages(&shot.stderr).is_empty(), "{}", shot.stderr);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 1000);
    // FERRYMQ_SCREENSHOT=path keeps the picture (docs/dashboard.png is made this way).
    if let Ok(keep) = std::env::var("FERRYMQ_SCREENSHOT") {
        std::fs::copy(&png, Path::new(&keep)).unwrap();
    }
}

#[test]
fn dashboard_and_metrics_ask_for_the_password_probes_do_not() {
    let mport = free_port();
    let server = Server::ferrymq(&[
        "--metrics-port",
        &mport.to_string(),
        "--metrics-password",
        "s3cret",
    ]);
    assert!(wait_for(Duration::from_secs(5), || {
        TcpStream::connect(("127.0.0.1", mport)).is_ok()
    }));
    for path in ["/", "/dashboard", "/api/overview", "/metrics"] {
        assert_eq!(http_get(mport, path, None).0, 401, "{path}");
        // "any:wrong" and "any:s3cret" in base64.
        assert_eq!(http_get(mport, path, Some("YW55Ondyb25n")).0, 401, "{path}");
        assert_eq!(
            http_get(mport, path, Some("YW55OnMzY3JldA==")).0,
            200,
            "{path}"
        );
    }
    assert_eq!(http_get(mport, "/healthz", None).0, 200);
    assert_eq!(http_get(mport, "/readyz", None).0, 200);
    // The password is a directive like the others: CONFIG SET clears it.
    let mut conn = server.conn();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "metrics-password", ""])
        .query(&mut conn)
        .unwrap();
    let (status, page) = http_get(mport, "/", None);
    assert_eq!(status, 200);
    assert!(page.contains("ferrymq dashboard"));
}
