//! TLS: `tls-port` with certificates generated here (rcgen), exercised with the `redis` crate
//! (`rediss://`) and with Debian's `redis-cli --tls` (OpenSSL), with and without client
//! certificates.

mod common;

use common::{Server, wait_for};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use redis::{ClientTlsConfig, TlsCertificates};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, written as PEM
/// files into a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    client_cert: String,
    client_key: String,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ferrymq test CA");
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");

        let server_key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("params")
            .signed_by(&server_key, &ca)
            .expect("server cert");

        let client_key = KeyPair::generate().expect("key");
        let mut cp = CertificateParams::new(vec!["client".to_string()]).expect("params");
        cp.distinguished_name
            .push(rcgen::DnType::CommonName, "client");
        let client = cp.signed_by(&client_key, &ca).expect("client cert");

        let pki = Pki {
            dir,
            ca_pem: ca.pem(),
            client_cert: client.pem(),
            client_key: client_key.serialize_pem(),
        };
        pki.write("ca.crt", &pki.ca_pem);
        pki.write("server.crt", &server.pem());
        pki.write("server.key", &server_key.serialize_pem());
        pki.write("client.crt", &pki.client_cert);
        pki.write("client.key", &pki.client_key);
        pki
    }

    fn write(&self, name: &str, pem: &str) {
        std::fs::write(self.path(name), pem).expect("write pem");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// ferrymq with a TLS port as well as its plain one; returns (server, tls port).
fn tls_server(pki: &Pki, auth_clients: &str) -> (Server, u16) {
    let port = free_port();
    let port_s = port.to_string();
    let (cert, key, ca) = (pki.p("server.crt"), pki.p("server.key"), pki.p("ca.crt"));
    let server = Server::ferrymq(&[
        "--tls-port",
        &port_s,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        auth_clients,
    ]);
    (server, port)
}

fn client(port: u16, pki: &Pki, with_client_cert: bool) -> redis::Client {
    redis::Client::build_with_tls(
        format!("rediss://localhost:{port}/"),
        TlsCertificates {
            client_tls: with_client_cert.then(|| ClientTlsConfig {
                client_cert: pki.client_cert.clone().into_bytes(),
                client_key: pki.client_key.clone().into_bytes(),
            }),
            root_cert: Some(pki.ca_pem.clone().into_bytes()),
        },
    )
    .expect("tls client")
}

#[test]
fn redis_crate_round_trip_over_tls() {
    let pki = Pki::new();
    let (server, port) = tls_server(&pki, "no");
    let mut c = client(port, &pki, false)
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("tls connection");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");

    // A reply much larger than one TLS record and than the socket buffer: every byte must
    // arrive (the writer flushes what the TLS layer keeps buffered).
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert!(back == big, "large value corrupted over TLS");
    // Same, with a reader that lets the socket fill up first: the end of the reply must not
    // stay behind in the TLS layer once the server has nothing more to send.
    c.send_packed_command(&redis::cmd("GET").arg("big").get_packed_command())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let back = c.recv_response().expect("whole reply after a slow start");
    assert!(
        back == redis::Value::BulkString(big.clone()),
        "slow reader lost the tail"
    );

    // Pipelined commands come back in order.
    let mut p = redis::pipe();
    for _ in 0..500 {
        p.cmd("INCR").arg("n");
    }
    let counts: Vec<i64> = p.query(&mut c).unwrap();
    assert_eq!(counts, (1..=500).collect::<Vec<i64>>());

    // The same data is visible over the plain port: one server behind both listeners.
    let mut plain = server.raw();
    assert_eq!(plain.cmd_s(&["GET", "n"]), "$3\r\n500\r\n");

    // A plaintext client on the TLS port is dropped without disturbing anyone.
    let mut wrong = common::RawConn::connect(port);
    wrong.send_raw(b"*1\r\n$4\r\nPING\r\n");
    assert!(wrong.closed(Duration::from_secs(15)));
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn client_certificate_required() {
    let pki = Pki::new();
    let (_server, port) = tls_server(&pki, "yes");
    // Without a certificate the handshake (or the first command) fails.
    let failed =
        match client(port, &pki, false).get_connection_with_timeout(Duration::from_secs(10)) {
            Err(_) => true,
            Ok(mut c) => redis::cmd("PING").query::<String>(&mut c).is_err(),
        };
    assert!(failed, "a client without certificate was served");
    // With a certificate signed by the CA it works.
    let mut c = client(port, &pki, true)
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("mutual tls");
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");

    // A certificate from another CA is refused.
    let other = Pki::new();
    let foreign = redis::Client::build_with_tls(
        format!("rediss://localhost:{port}/"),
        TlsCertificates {
            client_tls: Some(ClientTlsConfig {
                client_cert: other.client_cert.clone().into_bytes(),
                client_key: other.client_key.clone().into_bytes(),
            }),
            root_cert: Some(pki.ca_pem.clone().into_bytes()),
        },
    )
    .unwrap();
    let refused = match foreign.get_connection_with_timeout(Duration::from_secs(10)) {
        Err(_) => true,
        Ok(mut c) => redis::cmd("PING").query::<String>(&mut c).is_err(),
    };
    assert!(refused, "a certificate from an unknown CA was accepted");
}

#[test]
fn client_certificate_optional() {
    let pki = Pki::new();
    let (_server, port) = tls_server(&pki, "optional");
    for with_cert in [false, true] {
        let mut c = client(port, &pki, with_cert)
            .get_connection_with_timeout(Duration::from_secs(10))
            .expect("tls connection");
        let pong: String = redis::cmd("PING").query(&mut c).unwrap();
        assert_eq!(pong, "PONG");
    }
}

/// True when this redis-cli was built with TLS (Debian's is).
fn redis_cli_with_tls() -> Option<PathBuf> {
    let out = Command::new("redis-cli").arg("--help").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("--tls") {
        Some(PathBuf::from("redis-cli"))
    } else {
        eprintln!("SKIPPED: redis-cli without TLS support");
        None
    }
}

fn cli(bin: &Path, port: u16, extra: &[&str], args: &[&str]) -> (bool, String) {
    let port_s = port.to_string();
    let out = Command::new(bin)
        .args(["--tls", "-h", "127.0.0.1", "-p", &port_s])
        .args(extra)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn redis_cli_tls_round_trip() {
    let Some(bin) = redis_cli_with_tls() else {
        return;
    };
    let pki = Pki::new();
    let (_server, port) = tls_server(&pki, "yes");
    let ca = pki.p("ca.crt");
    let (cert, key) = (pki.p("client.crt"), pki.p("client.key"));
    let mutual = ["--cacert", &ca, "--cert", &cert, "--key", &key];
    let (ok, out) = cli(&bin, port, &mutual, &["SET", "k", "hello tls"]);
    assert!(ok && out.trim() == "OK", "{out}");
    let (ok, out) = cli(&bin, port, &mutual, &["GET", "k"]);
    assert!(ok && out.trim() == "hello tls", "{out}");
    // Without a client certificate the server refuses the session.
    let (_, out) = cli(&bin, port, &["--cacert", &ca], &["GET", "k"]);
    assert!(
        out.trim() != "hello tls",
        "served without a client certificate: {out}"
    );
}

#[test]
fn bad_tls_configuration_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let tls_port = free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrymq"))
        .args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--tls-port",
            &tls_port,
        ])
        .args(["--tls-cert-file", "/nonexistent/server.crt"])
        .args(["--tls-key-file", "/nonexistent/server.key"])
        .args(["--tls-auth-clients", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = None;
    assert!(
        wait_for(Duration::from_secs(20), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
        "server started with unreadable certificates"
    );
    assert!(!status.unwrap().success());
}

/// Garbage and handshakes that never finish on the TLS port do not stop other TLS clients.
#[test]
fn tls_port_survives_garbage_and_stalled_handshakes() {
    use std::io::Write;
    let pki = Pki::new();
    let (mut server, port) = tls_server(&pki, "no");
    let mut stalled = Vec::new();
    for i in 0..100u32 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        if i % 2 == 0 {
            // A TLS record header announcing a handshake, then silence.
            s.write_all(&[0x16, 0x03, 0x01, 0x40, 0x00]).unwrap();
        } else {
            let noise: Vec<u8> = (0..4096u32).map(|j| (j * 7 + i) as u8).collect();
            let _ = s.write_all(&noise);
        }
        stalled.push(s);
    }
    let mut c = client(port, &pki, false)
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("tls connection next to stalled ones");
    let start = std::time::Instant::now();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    assert!(start.elapsed() < Duration::from_secs(1));
    drop(stalled);
    assert!(server.alive());
}

fn tls_ping(port: u16, pki: &Pki) -> bool {
    client(port, pki, false)
        .get_connection_with_timeout(Duration::from_secs(10))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok_and(|p| p == "PONG")
}

fn refused(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// CONFIG SET tls-port moves the TLS listener (and 0 closes it); a TLS connection made before
/// keeps working; a port in use fails as in Redis and leaves the old one serving.
#[test]
fn config_set_tls_port_rebinds() {
    let pki = Pki::new();
    let (server, p1) = tls_server(&pki, "no");
    let mut plain = server.raw();
    let mut before = client(p1, &pki, false)
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("tls connection");
    let p2 = free_port();
    assert_eq!(
        plain.cmd_s(&["CONFIG", "SET", "tls-port", &p2.to_string()]),
        "+OK\r\n"
    );
    assert!(tls_ping(p2, &pki));
    assert!(refused(p1));
    let pong: String = redis::cmd("PING").query(&mut before).unwrap();
    assert_eq!(pong, "PONG");

    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port().to_string();
    assert_eq!(
        plain.cmd_s(&["CONFIG", "SET", "timeout", "9", "tls-port", &busy]),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(
        plain.cmd_s(&["CONFIG", "GET", "timeout"]),
        "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
    );
    assert!(tls_ping(p2, &pki));

    // `bind` rebinds the TLS port too.
    assert_eq!(
        plain.cmd_s(&["CONFIG", "SET", "bind", "127.0.0.1"]),
        "+OK\r\n"
    );
    assert!(tls_ping(p2, &pki));

    assert_eq!(plain.cmd_s(&["CONFIG", "SET", "tls-port", "0"]), "+OK\r\n");
    assert!(refused(p2));
    assert_eq!(plain.cmd_s(&["PING"]), "+PONG\r\n");
}

/// TLS configured at run time: without certificates `tls-port` fails with Redis's error; with
/// them it opens the port.
#[test]
fn config_set_tls_port_configures_tls() {
    let pki = Pki::new();
    let server = Server::ferrymq(&["--tls-auth-clients", "no"]);
    let mut c = server.raw();
    let port = free_port().to_string();
    let err = "-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to update TLS configuration. Check server logs.\r\n";
    assert_eq!(c.cmd_s(&["CONFIG", "SET", "tls-port", &port]), err);
    assert_eq!(
        c.cmd_s(&["CONFIG", "GET", "tls-port"]),
        "*2\r\n$8\r\ntls-port\r\n$1\r\n0\r\n"
    );
    if let Some(redis) = Server::redis(&[]) {
        assert_eq!(
            redis.raw().cmd_s(&["CONFIG", "SET", "tls-port", &port]),
            err
        );
    }
    let (cert, key) = (pki.p("server.crt"), pki.p("server.key"));
    assert_eq!(
        c.cmd_s(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &cert,
            "tls-key-file",
            &key,
            "tls-port",
            &port
        ]),
        "+OK\r\n"
    );
    assert!(tls_ping(port.parse().unwrap(), &pki));
}

/// The directives that make a server a TLS master (on `tls_port`, clients must present a
/// certificate of the test CA) or a TLS replica (its own certificate is the client one).
fn tls_args(pki: &Pki, tls_port: u16) -> Vec<String> {
    [
        "--tls-port".to_string(),
        tls_port.to_string(),
        "--tls-cert-file".to_string(),
        pki.p("server.crt"),
        "--tls-key-file".to_string(),
        pki.p("server.key"),
        "--tls-ca-cert-file".to_string(),
        pki.p("ca.crt"),
        "--tls-auth-clients".to_string(),
        "yes".to_string(),
    ]
    .to_vec()
}

/// A TLS server (certificates of `pki`) that replicates over TLS from 127.0.0.1:`master_port`.
fn tls_replica_args(pki: &Pki, master_port: u16) -> Vec<String> {
    let mut args = tls_args(pki, free_port());
    args.extend(
        [
            "--tls-replication",
            "yes",
            "--replicaof",
            "127.0.0.1",
            &master_port.to_string(),
        ]
        .map(String::from),
    );
    args
}

fn start(redis: bool, args: &[String]) -> Option<Server> {
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    if redis {
        Server::redis(&args)
    } else {
        Some(Server::ferrymq(&args))
    }
}

/// `tls-replication yes`: the replica reaches its master's TLS port, presents its certificate
/// and checks the master's against the CA, in every pairing with redis-server 7.0 (OpenSSL on
/// its side). The full sync and the command stream that follows both arrive; a replica whose
/// CA does not know the master's certificate never links.
#[test]
fn replication_over_tls_in_both_directions() {
    let pki = Pki::new();
    for (master_redis, replica_redis) in [(false, false), (true, false), (false, true)] {
        let mport = free_port();
        let Some(master) = start(master_redis, &tls_args(&pki, mport)) else {
            return;
        };
        let mut m = master.raw();
        assert_eq!(m.cmd_s(&["SET", "before", "1"]), "+OK\r\n");
        let Some(replica) = start(replica_redis, &tls_replica_args(&pki, mport)) else {
            return;
        };
        let mut r = replica.raw();
        let pair = format!("master redis={master_redis}, replica redis={replica_redis}");
        assert!(
            wait_for(Duration::from_secs(20), || {
                common::info_field(&mut r, "master_link_status").as_deref() == Some("up")
            }),
            "{pair}: the link did not come up"
        );
        assert_eq!(r.cmd_s(&["GET", "before"]), "$1\r\n1\r\n", "{pair}");
        assert_eq!(m.cmd_s(&["RPUSH", "q", "a", "b"]), ":2\r\n");
        assert!(
            wait_for(Duration::from_secs(10), || r.cmd_s(&["LLEN", "q"])
                == ":2\r\n"),
            "{pair}: the stream did not arrive"
        );
    }

    // A CA that did not sign the master's certificate: no link.
    let other = Pki::new();
    let mport = free_port();
    let master = start(false, &tls_args(&pki, mport)).unwrap();
    let replica = start(false, &tls_replica_args(&other, mport)).unwrap();
    let mut r = replica.raw();
    // It tries (and fails) more than once: the state goes back to `connect` between tries.
    assert!(wait_for(Duration::from_secs(10), || {
        common::info_field(&mut r, "master_link_down_since_seconds")
            .is_some_and(|s| s.parse::<i64>().unwrap_or(0) >= 2)
    }));
    assert_eq!(
        common::info_field(&mut r, "master_link_status").as_deref(),
        Some("down")
    );
    drop(master);
}

/// CONFIG SET of a `tls-*` file while TLS is in use builds the configuration at once (Redis's
/// applyTlsCfg): a file that cannot be read fails the call with Redis's error, names the
/// call's first TLS parameter, and puts every parameter of the call back. With TLS off the
/// value is only stored. Replies compared with redis-server's.
#[test]
fn config_set_tls_files_are_checked_while_tls_is_on() {
    let pki = Pki::new();
    let missing = pki.p("missing.pem");
    let steps: Vec<Vec<String>> = vec![
        vec!["CONFIG", "SET", "tls-cert-file", &missing],
        vec!["CONFIG", "GET", "tls-cert-file"],
        vec![
            "CONFIG",
            "SET",
            "maxmemory-policy",
            "allkeys-lru",
            "tls-protocols",
            "TLSv1.3",
            "tls-key-file",
            &missing,
        ],
        vec!["CONFIG", "GET", "maxmemory-policy"],
        vec!["CONFIG", "GET", "tls-protocols"],
        vec!["CONFIG", "SET", "tls-protocols", "TLSv1.2 TLSv1.3"],
        vec!["CONFIG", "SET", "tls-cert-file", &pki.p("server.crt")],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    let replies = |server: &Server| -> Vec<String> {
        let mut c = server.raw();
        steps.iter().map(|a| c.cmd_s(a)).collect()
    };
    let args = tls_args(&pki, free_port());
    let ferrymq = replies(&start(false, &args).unwrap());
    assert!(
        ferrymq[0].starts_with(
            "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration"
        ),
        "{ferrymq:?}"
    );
    assert!(ferrymq[2].contains("'tls-protocols'"), "{ferrymq:?}");
    assert!(ferrymq[3].contains("noeviction"), "{ferrymq:?}");
    if let Some(redis) = start(true, &tls_args(&pki, free_port())) {
        // Both read the same files, so even CONFIG GET of a path agrees.
        assert_eq!(ferrymq, replies(&redis));
    }
    // TLS not in use: nothing to check.
    let plain = Server::ferrymq(&[]);
    assert_eq!(
        plain
            .raw()
            .cmd_s(&["CONFIG", "SET", "tls-cert-file", &missing]),
        "+OK\r\n"
    );
}
