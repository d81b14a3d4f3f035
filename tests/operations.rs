//! The directives a service manager or a sidecar relies on: `pidfile`, `daemonize`,
//! `supervised systemd` (sd_notify), `syslog-enabled`, `log-format json`, plain log lines when
//! the output is not a terminal, and `--help`.

mod common;

use common::{RawConn, free_port, wait_for};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ferrymq");

/// A ferrymq child, killed on drop if a test fails before its SHUTDOWN.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ping(port: u16) -> bool {
    RawConn::try_connect(port).is_ok_and(|mut c| c.cmd(&["PING"]) == b"+PONG\r\n")
}

/// Start ferrymq in `dir` with `args`, its stdout into `stdout`, and wait for PING.
fn start(dir: &Path, args: &[&str], stdout: Stdio, env: &[(&str, &str)]) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(["--port", &port.to_string(), "--save", ""])
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Proc(cmd.spawn().expect("spawn"));
    assert!(
        wait_for(Duration::from_secs(20), || ping(port)
            || !matches!(child.0.try_wait(), Ok(None))),
        "did not start"
    );
    assert!(ping(port), "exited early");
    (child, port)
}

fn shutdown(port: u16, child: &mut Proc) {
    let mut c = RawConn::connect(port);
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(
        wait_for(Duration::from_secs(20), || !matches!(
            child.0.try_wait(),
            Ok(None)
        )),
        "no exit after SHUTDOWN"
    );
}

#[test]
fn pidfile_is_written_and_removed_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("ferrymq.pid");
    let (mut child, port) = start(
        dir.path(),
        &["--pidfile", pidfile.to_str().unwrap()],
        Stdio::null(),
        &[],
    );
    let text = std::fs::read_to_string(&pidfile).expect("pid file");
    assert_eq!(text.trim(), child.0.id().to_string());
    shutdown(port, &mut child);
    assert!(!pidfile.exists(), "pid file left behind");
}

#[test]
fn daemonize_returns_and_the_daemon_serves() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("d.pid");
    let port = free_port();
    let status = Command::new(BIN)
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--daemonize",
            "yes",
        ])
        .arg("--dir")
        .arg(dir.path())
        .arg("--pidfile")
        .arg(&pidfile)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert!(status.success(), "{status}");
    // The daemon is no child of ours: if the test fails, kill it by the pid it wrote.
    struct Daemon(std::path::PathBuf);
    impl Drop for Daemon {
        fn drop(&mut self) {
            if let Some(pid) = std::fs::read_to_string(&self.0)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) with a pid read from the daemon's own pid file.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let guard = Daemon(pidfile.clone());
    assert!(wait_for(Duration::from_secs(20), || ping(port)));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut c = RawConn::connect(port);
    assert!(
        String::from_utf8_lossy(&c.cmd(&["INFO", "server"]))
            .contains(&format!("process_id:{pid}\r\n"))
    );
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(wait_for(Duration::from_secs(20), || !pidfile.exists()));
    assert!(wait_for(Duration::from_secs(20), || !Path::new(&format!(
        "/proc/{pid}"
    ))
    .exists()));
    drop(guard);
}

#[test]
fn systemd_is_told_ready_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (mut child, port) = start(
        dir.path(),
        &["--supervised", "systemd"],
        Stdio::null(),
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("READY message");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg}");
    shutdown(port, &mut child);
    let n = sock.recv(&mut buf).expect("STOPPING message");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.lines().any(|l| l == "STOPPING=1"), "{msg}");
}

#[test]
fn supervised_no_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_nonblocking(true).unwrap();
    let (mut child, port) = start(
        dir.path(),
        &[],
        Stdio::null(),
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())],
    );
    shutdown(port, &mut child);
    let mut buf = [0u8; 64];
    assert!(sock.recv(&mut buf).is_err(), "a message without supervised");
}

#[test]
fn redirected_stdout_gets_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stdout.log");
    let f = std::fs::File::create(&log).unwrap();
    let (mut child, port) = start(dir.path(), &[], Stdio::from(f), &[]);
    shutdown(port, &mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Ready to accept connections"), "{text}");
    assert!(!text.contains('\x1b'), "escape codes in:\n{text}");
}

#[test]
fn json_log_lines_parse() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ferrymq.log");
    let (mut child, port) = start(
        dir.path(),
        &["--log-format", "json", "--logfile", log.to_str().unwrap()],
        Stdio::null(),
        &[],
    );
    shutdown(port, &mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let ready = lines
        .iter()
        .find(|v| v["fields"]["message"] == "Ready to accept connections")
        .unwrap_or_else(|| panic!("no ready line in:\n{text}"));
    assert_eq!(ready["level"], "INFO");
    assert_eq!(ready["fields"]["port"], port);
    assert!(ready["timestamp"].is_string());
}

#[test]
fn syslog_enabled_starts_and_keeps_the_log_file() {
    // Where no syslog daemon listens (containers), syslog(3) drops the lines: the server runs
    // and its own log is unchanged.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ferrymq.log");
    let (mut child, port) = start(
        dir.path(),
        &[
            "--syslog-enabled",
            "yes",
            "--syslog-ident",
            "ferrymq-test",
            "--syslog-facility",
            "local3",
            "--logfile",
            log.to_str().unwrap(),
        ],
        Stdio::null(),
        &[],
    );
    shutdown(port, &mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Ready to accept connections"), "{text}");
    assert!(!text.contains("ignored"), "{text}");
}

#[test]
fn help_lists_subcommands_and_directives() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "check-aof",
        "check-rdb",
        "--port",
        "--appendonly",
        "--metrics-port",
        "--daemonize",
        "--pidfile",
        "--supervised",
        "--log-format",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}

/// The state letter of a process in /proc (`T` = stopped by a signal).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the command name's closing parenthesis.
    stat.rsplit_once(") ")?.1.chars().next()
}

/// `supervised upstart` under upstart (`UPSTART_JOB` set): once it accepts connections the
/// server stops itself with SIGSTOP, upstart's `expect stop` sign of readiness, and serves
/// when continued; `daemonize yes` is ignored then, as in Redis. Without `UPSTART_JOB` it
/// only warns and runs.
#[test]
fn upstart_is_told_ready_by_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("log.txt");
    let mut child = Proc(
        Command::new(BIN)
            .args(["--port", &port.to_string(), "--save", ""])
            .args(["--supervised", "upstart", "--daemonize", "yes"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .arg("--pidfile")
            .arg(dir.path().join("p.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env("UPSTART_JOB", "ferrymq")
            .env_remove("NOTIFY_SOCKET")
            .spawn()
            .expect("spawn"),
    );
    let pid = child.0.id();
    // Not forked away: the process upstart started is the one that stops.
    assert!(
        wait_for(Duration::from_secs(20), || proc_state(pid) == Some('T')),
        "no SIGSTOP: state {:?}",
        proc_state(pid)
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("supervised by upstart, will stop to signal readiness."),
        "{text}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGCONT,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(10), || ping(port)));
    shutdown(port, &mut child);

    let (mut child, port) = start(
        dir.path(),
        &[
            "--supervised",
            "upstart",
            "--logfile",
            log.to_str().unwrap(),
        ],
        Stdio::null(),
        &[],
    );
    assert!(ping(port));
    shutdown(port, &mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("upstart supervision requested, but UPSTART_JOB not found!"),
        "{text}"
    );
}

/// `syslog-enabled yes` lines reach the system log socket with the configured identity and
/// facility. Where no syslog daemon owns /dev/log (containers, CI), the test listens there
/// itself for the time of the test; where one does, it cannot be intercepted and the test
/// says so and stops.
#[test]
fn syslog_lines_reach_the_log_socket_with_ident_and_facility() {
    let path = Path::new("/dev/log");
    if path.exists() {
        eprintln!("SKIPPED: /dev/log belongs to a running syslog daemon");
        return;
    }
    let sock = match UnixDatagram::bind(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: cannot listen on /dev/log: {e}");
            return;
        }
    };
    struct Remove;
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file("/dev/log");
        }
    }
    let _remove = Remove;
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start(
        dir.path(),
        &[
            "--syslog-enabled",
            "yes",
            "--syslog-ident",
            "fmq-syslog-probe",
            "--syslog-facility",
            "local3",
        ],
        Stdio::null(),
        &[],
    );
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    let ready = loop {
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) => panic!("no syslog line with the identity: {e}; got {seen:?}"),
        };
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains("fmq-syslog-probe") && line.contains("Ready to accept connections") {
            break line;
        }
        seen.push(line);
    };
    // "<PRI>...": facility local3 is 19, so PRI / 8 == 19 whatever the severity.
    let pri: u32 = ready[1..ready.find('>').expect("a priority")]
        .parse()
        .expect("a numeric priority");
    assert_eq!(pri / 8, 19, "{ready}");
    shutdown(port, &mut child);
}
