//! Startup with bad configuration files: the real binary must print Redis's fatal error
//! (as redis-server 7.0.15 prints it for the same file), name the file, and exit with status 1
//! without starting to serve.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

/// Run ferrymq with `args`; it must exit on its own within 10 s. Returns (status, stderr+stdout).
fn run(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrymq");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ferrymq {args:?} did not exit on a bad configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn banner(line: usize, shown: &str, msg: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{shown}'\n{msg}\n"
    )
}

#[test]
fn unknown_directive_names_file_line_and_directive() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bad.conf", "port 0\nfoo bar\n");
    let (code, out) = run(&[f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&banner(
            2,
            "foo bar",
            "Bad directive or wrong number of arguments"
        )),
        "{out}"
    );
    assert!(out.contains(f.to_str().unwrap()), "names the file: {out}");
}

#[test]
fn malformed_values_are_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "maxmemory 1xb\n",
            1,
            "maxmemory 1xb",
            "argument must be a memory value",
        ),
        (
            "\n\nappendonly maybe\n",
            3,
            "appendonly maybe",
            "argument must be 'yes' or 'no'",
        ),
        ("port 1 2\n", 1, "port 1 2", "wrong number of arguments"),
        (
            "port \"6379\n",
            1,
            "port \"6379",
            "Unbalanced quotes in configuration line",
        ),
        (
            "appendfsync sometimes\n",
            1,
            "appendfsync sometimes",
            "argument(s) must be one of the following: everysec, always, no",
        ),
        (
            "rename-command NOSUCH x\n",
            1,
            "rename-command NOSUCH x",
            "No such command in rename-command",
        ),
    ];
    for (text, line, shown, msg) in cases {
        let f = write(dir.path(), "bad.conf", text);
        let (code, out) = run(&[f.to_str().unwrap()]);
        assert_eq!(code, 1, "{text}: {out}");
        assert!(out.contains(&banner(line, shown, msg)), "{text}: {out}");
    }
}

#[test]
fn command_line_directives_are_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "ok.conf", "port 0\n");
    let (code, out) = run(&[f.to_str().unwrap(), "--port", "1", "--maxmemory", "lots"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&banner(
            4,
            "maxmemory \"lots\"",
            "argument must be a memory value"
        )),
        "{out}"
    );
    let (code, out) = run(&["--no-such-directive", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&banner(
            2,
            "no-such-directive \"1\"",
            "Bad directive or wrong number of arguments"
        )),
        "{out}"
    );
}

#[test]
fn missing_file_and_include() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.conf");
    let (code, out) = run(&[missing.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "Fatal error, can't open config file '{}': No such file or directory",
            missing.display()
        )),
        "{out}"
    );
    let inc = write(dir.path(), "inc.conf", "timeout -1\n");
    let f = write(
        dir.path(),
        "main.conf",
        &format!("port 0\ninclude {}\n", inc.display()),
    );
    let (code, out) = run(&[f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&banner(
            1,
            "timeout -1",
            "argument must be between 0 and 2147483647 inclusive"
        )),
        "{out}"
    );
    assert!(
        out.contains(inc.to_str().unwrap()),
        "names the included file: {out}"
    );
}

/// A ferrymq started from a config file on a free port, stopped on drop.
struct Running {
    child: std::process::Child,
    port: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(conf: &Path) -> Running {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
        .args([
            conf.to_str().unwrap(),
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    for out in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let running = Running { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "ferrymq did not start: {}",
            running.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// Send one command and read one reply (enough bytes for the simple replies used here).
fn cmd(port: u16, args: &[&str]) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn ignored_directives_are_reported_once_and_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "redis.conf",
        &format!(
            "always-show-logo no\nsave 60 1\nlist-max-listpack-size -3\nmaxmemory 5mb\ndir {}\n",
            dir.path().display()
        ),
    );
    let srv = start(&f);
    assert_eq!(
        cmd(srv.port, &["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$4\r\n60 1\r\n"
    );
    assert_eq!(
        cmd(srv.port, &["CONFIG", "GET", "list-max-ziplist-size"]),
        "*2\r\n$21\r\nlist-max-ziplist-size\r\n$2\r\n-3\r\n"
    );
    assert_eq!(
        cmd(srv.port, &["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$7\r\n5242880\r\n"
    );
    let log = srv.log.lock().unwrap().clone();
    let ignored: Vec<&str> = log.lines().filter(|l| l.contains("ignored")).collect();
    assert_eq!(ignored.len(), 1, "{log}");
    for name in ["always-show-logo", "list-max-listpack-size"] {
        assert!(ignored[0].contains(name), "{name}: {log}");
    }
    // Save points take effect (RDB snapshots).
    assert!(!ignored[0].contains("save"), "{log}");
    assert!(!ignored[0].contains("maxmemory"), "{log}");
}

#[test]
fn config_rewrite_updates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "ferrymq.conf",
        &format!(
            "# my settings\nmaxmemory 1mb\n\nsave 100 1\nsave 200 2\ndir {}\n",
            dir.path().display()
        ),
    );
    let srv = start(&f);
    assert_eq!(
        cmd(
            srv.port,
            &["CONFIG", "SET", "maxmemory", "2gb", "timeout", "9"]
        ),
        "+OK\r\n"
    );
    assert_eq!(cmd(srv.port, &["CONFIG", "SET", "save", ""]), "+OK\r\n");
    assert_eq!(cmd(srv.port, &["CONFIG", "REWRITE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&f).unwrap();
    let canon = std::fs::canonicalize(dir.path()).unwrap();
    let port = srv.port;
    assert_eq!(
        text,
        format!(
            "# my settings\nmaxmemory 2gb\n\nsave \"\"\n\ndir \"{}\"\n\n\
             # Generated by CONFIG REWRITE\nbind 127.0.0.1\nport {port}\ntimeout 9\n\
             latency-tracking-info-percentiles 50 99 99.9\n",
            canon.display()
        )
    );
    // The rewritten file starts a server with the same settings.
    drop(srv);
    let again = start(&f);
    assert_eq!(
        cmd(again.port, &["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$10\r\n2147483648\r\n"
    );
    assert_eq!(
        cmd(again.port, &["CONFIG", "GET", "timeout"]),
        "*2\r\n$7\r\ntimeout\r\n$1\r\n9\r\n"
    );
}

/// Every directive with values of every shape (missing, empty, one, two, four arguments):
/// ferrymq accepts exactly what redis-server accepts and refuses the rest with the same
/// message. Directives that need root or a daemon (dir, logfile, pidfile, daemonize,
/// supervised, include, loadmodule, unixsocket, aclfile) are left out.
#[test]
fn fatal_errors_match_redis_for_every_directive() {
    let Some(redis) = common::redis_server_path() else {
        if std::env::var("FERRYMQ_REQUIRE_ORACLE").as_deref() == Ok("1") {
            panic!("redis-server is not on PATH but FERRYMQ_REQUIRE_ORACLE=1");
        }
        eprintln!("SKIPPED: redis-server not on PATH");
        return;
    };
    const SKIP: &[&str] = &[
        "dir",
        "logfile",
        "pidfile",
        "daemonize",
        "supervised",
        "unixsocket",
        "aclfile",
    ];
    let cfg = ferrymq::config::Config::default();
    let mut names: Vec<String> = cfg
        .get_matching(&[b"*"])
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    // ferrymq's own directives (the metrics endpoint, log-format) and Redis 8.6's
    // stream-idmp-* are unknown to redis-server 7.0.
    names.retain(|n| {
        !SKIP.contains(&n.as_str())
            && !n.starts_with("metrics-")
            && !n.starts_with("stream-idmp-")
            && n != "log-format"
    });
    for extra in [
        "use-exit-on-panic",
        "watchdog-period",
        "list-max-ziplist-entries",
        "lua-replicate-commands",
        "rename-command",
        "sentinel",
        "mymodule.setting",
        "nosuchdirective",
        "user",
    ] {
        names.push(extra.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("probe.conf");
    let mut differences = Vec::new();
    for name in &names {
        for value in ["", "a b", "\"\"", "0", "1 2 3 4"] {
            let line = format!("{name} {value}");
            std::fs::write(&f, format!("{line}\n")).unwrap();
            // With port 0 and no socket a config Redis accepts makes it exit right after
            // loading ("Configured to not listen anywhere"), without a FATAL banner.
            let out = Command::new(&redis)
                .arg(&f)
                .args(["--port", "0"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let expected = text
                .find("\n*** FATAL")
                .map(|i| text[i..].trim_end().to_string());
            let got = ferrymq::config::Config::from_args(&[f.to_str().unwrap().to_string()])
                .err()
                .map(|e| {
                    e.rsplit_once("\nin file ")
                        .map_or(e.clone(), |(a, _)| a.to_string())
                });
            if expected != got {
                differences.push(format!(
                    "{line:?}\n  redis:   {expected:?}\n  ferrymq: {got:?}"
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Runs `lines` through redis-server and ferrymq and lists the lines where the verdicts differ.
fn compare_with_redis(redis: &Path, lines: &[String]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("probe.conf");
    let mut differences = Vec::new();
    for text in lines {
        std::fs::write(&f, format!("{text}\n")).unwrap();
        let out = Command::new(redis)
            .arg(&f)
            .args(["--port", "0"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        let expected = out
            .find("\n*** FATAL")
            .map(|i| out[i..].trim_end().to_string());
        let got = ferrymq::config::Config::from_args(&[f.to_str().unwrap().to_string()])
            .err()
            .map(|e| {
                e.rsplit_once("\nin file ")
                    .map_or(e.clone(), |(a, _)| a.to_string())
            });
        if expected != got {
            differences.push(format!(
                "{text:?}\n  redis:   {expected:?}\n  ferrymq: {got:?}"
            ));
        }
    }
    differences
}

/// ACL `user` lines: ferrymq has no ACL users but refuses the lines redis-server refuses, with
/// its message (one rule alone, then pairs of rules).
#[test]
fn user_lines_are_checked_like_redis() {
    let Some(redis) = common::redis_server_path() else {
        eprintln!("SKIPPED: redis-server not on PATH");
        return;
    };
    let hash = "a".repeat(64);
    let rules: Vec<String> = [
        "on",
        "off",
        "nopass",
        "resetpass",
        ">p",
        "<p",
        "#abc",
        "~*",
        "~a",
        "%R~a",
        "%W~a",
        "%RW~a",
        "%X~a",
        "%",
        "&*",
        "&a",
        "+get",
        "-get",
        "+@all",
        "-@all",
        "+@read",
        "+@bogus",
        "+config|get",
        "-config|get",
        "+config|bogus",
        "+get|x",
        "+get|",
        "+config|get|x",
        "+bogus",
        "allkeys",
        "resetkeys",
        "allchannels",
        "resetchannels",
        "allcommands",
        "nocommands",
        "reset",
        "clearselectors",
        "(~a +get)",
        "(~a",
        "(~* ~b)",
        "bogus",
        "skip-sanitize-payload",
        "sanitize-payload",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("#{hash}"), format!("!{hash}")])
    .collect();
    let mut lines: Vec<String> = rules.iter().map(|r| format!("user u {r}")).collect();
    let pairable = [
        "~*", "~a", "&*", "&a", ">p", "<p", "reset", "allkeys", "(~a", "+get)",
    ];
    for a in pairable {
        for b in pairable {
            lines.push(format!("user u on {a} {b}"));
        }
    }
    lines.push("user u on\nuser u off".to_string());
    lines.push("user u on\nuser v off".to_string());
    lines.push("acl-pubsub-default allchannels\nuser u &a".to_string());
    let differences = compare_with_redis(&redis, &lines);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn unixsocketperm_is_octal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ferrymq.sock");
    let f = write(
        dir.path(),
        "sock.conf",
        &format!("unixsocket {}\nunixsocketperm 751\n", sock.display()),
    );
    let srv = start(&f);
    // The socket is created, then its mode set: poll until the mode is final.
    let mode = || {
        std::fs::metadata(&sock)
            .map(|m| m.permissions().mode() & 0o777)
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while mode() != Some(0o751) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(mode(), Some(0o751));
    assert_eq!(
        cmd(srv.port, &["CONFIG", "GET", "unixsocketperm"]),
        "*2\r\n$14\r\nunixsocketperm\r\n$3\r\n751\r\n"
    );
}

#[test]
fn relative_paths_live_in_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let f = write(
        dir.path(),
        "rel.conf",
        &format!("dir {}\nlogfile ferrymq.log\n", data.display()),
    );
    let srv = start(&f);
    assert!(
        data.join("ferrymq.log").exists(),
        "the log file is created inside dir"
    );
    let canon = std::fs::canonicalize(&data).unwrap();
    let expected = canon.to_string_lossy().into_owned();
    assert_eq!(
        cmd(srv.port, &["CONFIG", "GET", "dir"]),
        format!("*2\r\n$3\r\ndir\r\n${}\r\n{expected}\r\n", expected.len())
    );
}

/// `port 0` with no TLS port and no unix socket: nobody could connect, so the server exits at
/// startup with redis-server's message and status instead of running unreachable.
#[test]
fn a_server_that_listens_nowhere_exits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out) = run(&["--port", "0", "--dir", d, "--save", ""]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Configured to not listen anywhere, exiting."),
        "{out}"
    );
    if let Some(redis) = common::redis_server_path() {
        let out = Command::new(redis)
            .args(["--port", "0", "--dir", d, "--save", ""])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Configured to not listen anywhere"));
    }
}
