//! CONFIG SET `port` / `bind` move the listening sockets at run time, as in Redis 7.0: the old
//! sockets close, new ones open, established connections stay. An apply failure (a port in
//! use, an address that cannot be bound) gives Redis's error and rolls every parameter of the
//! call back, the old listeners serving again. Every reply is compared with redis-server's for
//! the same sequence. (TLS: `tls-port` in tests/tls.rs.)

mod common;
use common::{Diff, RawConn, Server, free_port, info_field};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Whether a TCP connection to `ip:port` is accepted (a refusal is immediate on loopback; the
/// bound covers an unanswered SYN).
fn accepts(ip: Ipv4Addr, port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(2)).is_ok()
}

/// Whether a new connection to `ip:port` answers PING.
fn pings(ip: Ipv4Addr, port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(2))
    else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = [0u8; 7];
    s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
        && s.read_exact(&mut got).is_ok()
        && &got == b"+PONG\r\n"
}

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// A second loopback address (all of 127/8 is local on Linux).
const LOCAL2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// TEST-NET-1: never assigned to a host, so binding it fails with EADDRNOTAVAIL.
const ABSENT: &str = "192.0.2.1";

fn config_get(c: &mut RawConn, name: &str) -> String {
    let r = c.cmd_s(&["CONFIG", "GET", name]);
    r.lines().nth(4).unwrap_or_default().to_string()
}

#[test]
fn port_change_moves_the_listener_and_keeps_connections() {
    let fm = Server::ferrymq(&[]);
    let p1 = fm.port;
    let mut old = fm.raw();
    let p2 = free_port();
    assert_eq!(
        old.cmd_s(&["CONFIG", "SET", "port", &p2.to_string()]),
        "+OK\r\n"
    );
    assert!(!accepts(LOCAL, p1), "the old port still accepts");
    let mut new = RawConn::connect(p2);
    assert_eq!(new.cmd_s(&["PING"]), "+PONG\r\n");
    assert_eq!(old.cmd_s(&["PING"]), "+PONG\r\n", "old connection");
    assert_eq!(info_field(&mut new, "tcp_port"), Some(p2.to_string()));
    assert_eq!(config_get(&mut new, "port"), p2.to_string());
    let list = new.cmd_s(&["CLIENT", "LIST"]);
    let line = |cmd: &str| {
        list.lines()
            .find(|l| l.contains(cmd))
            .unwrap_or_else(|| panic!("{cmd} in {list}"))
            .to_string()
    };
    assert!(
        line("cmd=client|list").contains(&format!(" laddr=127.0.0.1:{p2} ")),
        "{list}"
    );
    assert!(
        line("cmd=ping").contains(&format!(" laddr=127.0.0.1:{p1} ")),
        "{list}"
    );

    // Back again, from the connection made on the new port.
    assert_eq!(
        new.cmd_s(&["CONFIG", "SET", "port", &p1.to_string()]),
        "+OK\r\n"
    );
    assert!(pings(LOCAL, p1));
    assert!(!accepts(LOCAL, p2));
    assert_eq!(new.cmd_s(&["PING"]), "+PONG\r\n");
}

#[test]
fn port_zero_closes_the_tcp_listener() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["CONFIG", "SET", "port", "0"]);
    assert!(!accepts(LOCAL, d.fm.port) && !accepts(LOCAL, d.rs.port));
    d.cmd(&["PING"]);
    d.cmd(&["CONFIG", "GET", "port"]);
    assert_eq!(info_field(&mut d.ferry, "tcp_port").as_deref(), Some("0"));
    assert_eq!(info_field(&mut d.redis, "tcp_port").as_deref(), Some("0"));
    // Setting it back opens it again.
    let (pf, pr) = (d.fm.port.to_string(), d.rs.port.to_string());
    assert_eq!(d.ferry.cmd_s(&["CONFIG", "SET", "port", &pf]), "+OK\r\n");
    assert_eq!(d.redis.cmd_s(&["CONFIG", "SET", "port", &pr]), "+OK\r\n");
    assert!(pings(LOCAL, d.fm.port) && pings(LOCAL, d.rs.port));
}

#[test]
fn port_in_use_fails_as_in_redis_and_changes_nothing() {
    let Some(mut d) = Diff::new() else { return };
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port().to_string();
    // Redis's own test (unit/introspection "CONFIG SET rollback on apply error").
    let before: Vec<Vec<u8>> = ["maxmemory", "client-query-buffer-limit"]
        .iter()
        .map(|n| d.cmd(&["CONFIG", "GET", n]))
        .collect();
    let err = d.cmd(&[
        "CONFIG",
        "SET",
        "maxmemory",
        "10000001",
        "port",
        &busy,
        "client-query-buffer-limit",
        "10m",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&err),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
    let after: Vec<Vec<u8>> = ["maxmemory", "client-query-buffer-limit"]
        .iter()
        .map(|n| d.cmd(&["CONFIG", "GET", n]))
        .collect();
    assert_eq!(before, after);
    assert_eq!(config_get(&mut d.ferry, "port"), d.fm.port.to_string());
    assert_eq!(
        info_field(&mut d.ferry, "tcp_port"),
        Some(d.fm.port.to_string())
    );
    // The old listener serves; the holder of the busy port was not disturbed.
    assert!(pings(LOCAL, d.fm.port) && pings(LOCAL, d.rs.port));
    d.cmd(&["PING"]);
    assert_eq!(held.local_addr().unwrap().port().to_string(), busy);
    drop(held);
}

#[test]
fn failing_apply_rolls_back_every_parameter() {
    let Some(mut d) = Diff::new() else { return };
    let free = free_port().to_string();
    let two = format!("127.0.0.1 {ABSENT}");
    let scripts: [&[&str]; 4] = [
        // `port` applies first: the new port on the new addresses fails.
        &[
            "CONFIG", "SET", "timeout", "77", "port", &free, "bind", &two,
        ],
        // `bind` first: its own error.
        &[
            "CONFIG", "SET", "bind", &two, "port", &free, "timeout", "77",
        ],
        &["CONFIG", "SET", "bind", &two, "maxmemory", "1mb"],
        // An address twice: the second bind finds the first.
        &[
            "CONFIG",
            "SET",
            "maxclients",
            "50",
            "bind",
            "127.0.0.1 127.0.0.1",
        ],
    ];
    for cmd in scripts {
        d.cmd(cmd);
        for name in ["timeout", "bind", "maxmemory", "maxclients"] {
            d.cmd(&["CONFIG", "GET", name]);
        }
        assert_eq!(config_get(&mut d.ferry, "port"), d.fm.port.to_string());
        assert!(pings(LOCAL, d.fm.port), "after {cmd:?}");
        assert!(!accepts(LOCAL, free.parse().unwrap()), "after {cmd:?}");
    }
}

#[test]
fn bind_change_moves_the_listener() {
    let Some(mut d) = Diff::new() else { return };
    let words = [
        // Unavailable address: an error, unless it is optional.
        format!("127.0.0.1 {ABSENT}"),
        format!("127.0.0.1 -{ABSENT}"),
        // Names are resolved; the same address twice fails; an empty word does not resolve.
        "127.0.0.1 localhost".to_string(),
        "127.0.0.1  127.0.0.2".to_string(),
        "-nosuchhost.invalid 127.0.0.1".to_string(),
        // The same addresses again: closed, then bound again.
        "127.0.0.1 -192.0.2.1".to_string(),
    ];
    for w in &words {
        d.cmd(&["CONFIG", "SET", "bind", w]);
        d.cmd(&["CONFIG", "GET", "bind"]);
        assert!(pings(LOCAL, d.fm.port), "after bind {w:?}");
    }

    // To another address: the old one refuses, the connection stays.
    d.cmd(&["CONFIG", "SET", "bind", "127.0.0.2"]);
    assert!(!accepts(LOCAL, d.fm.port) && !accepts(LOCAL, d.rs.port));
    assert!(pings(LOCAL2, d.fm.port) && pings(LOCAL2, d.rs.port));
    d.cmd(&["PING"]);

    // No address at all: no TCP listener.
    d.cmd(&["CONFIG", "SET", "bind", ""]);
    d.cmd(&["CONFIG", "GET", "bind"]);
    assert!(!accepts(LOCAL2, d.fm.port) && !accepts(LOCAL2, d.rs.port));

    // Both addresses, each serving.
    d.cmd(&["CONFIG", "SET", "bind", "127.0.0.2 127.0.0.1"]);
    assert!(pings(LOCAL, d.fm.port) && pings(LOCAL2, d.fm.port));
    d.cmd(&["CONFIG", "SET", "bind", "127.0.0.1"]);
    assert!(!accepts(LOCAL2, d.fm.port));
    assert!(pings(LOCAL, d.fm.port));
}

#[test]
fn bind_and_port_together() {
    let Some(mut d) = Diff::new() else { return };
    let (pf, pr) = (free_port(), free_port());
    assert_eq!(
        d.ferry.cmd_s(&[
            "CONFIG",
            "SET",
            "bind",
            "127.0.0.2",
            "port",
            &pf.to_string()
        ]),
        "+OK\r\n"
    );
    assert_eq!(
        d.redis.cmd_s(&[
            "CONFIG",
            "SET",
            "bind",
            "127.0.0.2",
            "port",
            &pr.to_string()
        ]),
        "+OK\r\n"
    );
    assert!(pings(LOCAL2, pf) && pings(LOCAL2, pr));
    assert!(!accepts(LOCAL, pf) && !accepts(LOCAL, d.fm.port));
    d.cmd(&["CONFIG", "GET", "bind"]);
    // Unchanged values run no apply function.
    assert_eq!(
        d.ferry.cmd_s(&["CONFIG", "SET", "port", &pf.to_string()]),
        "+OK\r\n"
    );
    assert!(pings(LOCAL2, pf));
}
