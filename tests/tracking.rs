//! Client-side caching (CLIENT TRACKING) against redis-server 7.0: each scenario runs on both
//! servers with the same connections (a tracking client, a writer, sometimes a redirect
//! target), and everything each connection receives (replies and invalidation messages, in
//! order) is compared byte for byte. Client ids differ between the servers, so they are
//! replaced by `<id>` before comparing.

mod common;
use common::{RawConn, Server, info_field, wait_for};
use std::time::Duration;

/// What a connection received after a step, read until it has been quiet for a moment (the
/// messages that must come are always already sent when the step's reply is read).
fn drain(c: &mut RawConn) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(f) = c.try_read_reply(Duration::from_millis(60)) {
        out.push(String::from_utf8_lossy(&f).into_owned());
    }
    out
}

/// One side's connections: `a` tracks, `b` writes, `r` is a spare (redirect target).
struct Side {
    srv: Server,
    conns: Vec<RawConn>,
    ids: Vec<String>,
}

impl Side {
    fn new(srv: Server) -> Side {
        let mut conns: Vec<RawConn> = (0..3).map(|_| srv.raw()).collect();
        let ids = conns
            .iter_mut()
            .map(|c| {
                let r = String::from_utf8(c.cmd(&["CLIENT", "ID"])).unwrap();
                r.trim_start_matches(':').trim_end().to_string()
            })
            .collect();
        Side { srv, conns, ids }
    }

    /// Send `args` on connection `c` (`{r}` stands for the spare connection's id), then read
    /// what every connection received, ids masked.
    fn step(&mut self, c: usize, args: &[&str]) -> Vec<Vec<String>> {
        if args == [BLOCKED] {
            // Wait (on a connection of its own) until a client is blocked.
            let mut probe = self.srv.raw();
            assert!(wait_for(Duration::from_secs(10), || {
                info_field(&mut probe, "blocked_clients").as_deref() == Some("1")
            }));
            return Vec::new();
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{r}", &self.ids[2]))
            .collect();
        self.conns[c].send(&args);
        // Only replies that carry client ids are masked (other integers stay as they are).
        let upper: Vec<String> = args.iter().map(|a| a.to_ascii_uppercase()).collect();
        let carries_id = upper[0] == "HELLO"
            || (upper[0] == "CLIENT"
                && upper
                    .get(1)
                    .is_some_and(|s| s == "GETREDIR" || s == "TRACKINGINFO"));
        let mut out = Vec::new();
        for (i, conn) in self.conns.iter_mut().enumerate() {
            let mut got = drain(conn);
            if i == c && got.is_empty() {
                got.push("<no reply>".into());
            }
            for g in &mut got {
                if i == c && upper[0] == "HELLO" {
                    for id in &self.ids {
                        *g = g.replace(&format!("id\r\n:{id}\r\n"), "id\r\n:<id>\r\n");
                    }
                } else if (i == c && carries_id) || g.contains("tracking-redir-broken") {
                    for id in &self.ids {
                        *g = g.replace(&format!(":{id}\r\n"), ":<id>\r\n");
                    }
                }
            }
            out.push(got);
        }
        out
    }
}

/// Run `steps` (connection, command) on both servers; everything received must match.
fn scenario(steps: &[(usize, &[&str])]) {
    let Some(rs) = Server::redis(&[]) else { return };
    let mut r = Side::new(rs);
    let mut f = Side::new(Server::ferrymq(&[]));
    let mut log = Vec::new();
    for (c, args) in steps {
        log.push(format!("{c}: {}", args.join(" ")));
        let (gr, gf) = (r.step(*c, args), f.step(*c, args));
        assert_eq!(gf, gr, "after {log:?}\n  (ferrymq left, redis right)");
    }
}

/// A step that waits until one client is blocked.
const BLOCKED: &str = "<wait until blocked>";

const A: usize = 0;
const B: usize = 1;
const R: usize = 2;

#[test]
fn default_mode_invalidates_once_per_read() {
    scenario(&[
        (A, &["HELLO", "3"]),
        (A, &["CLIENT", "TRACKING", "ON"]),
        (B, &["SET", "k", "1"]),
        (A, &["GET", "k"]),
        (A, &["MGET", "k2", "k3"]),
        (B, &["SET", "k", "2"]),
        // Told once: a second write is not announced until A reads again.
        (B, &["SET", "k", "3"]),
        (B, &["DEL", "k2", "k3"]),
        (B, &["MSET", "k2", "a", "k3", "b"]),
        (A, &["GET", "k"]),
        (B, &["INCR", "k"]),
        // A's own write of a key it read: the reply first, then the message.
        (A, &["GET", "k"]),
        (A, &["SET", "k", "4"]),
        // Writes that change nothing announce nothing; LPUSH on a read list does.
        (A, &["LRANGE", "l", "0", "-1"]),
        (B, &["LPUSH", "l", "x"]),
        (A, &["HGET", "h", "f"]),
        (B, &["HSET", "h", "f", "v"]),
        (A, &["CLIENT", "GETREDIR"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "TRACKING", "OFF"]),
        (A, &["GET", "k"]),
        (B, &["SET", "k", "5"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "GETREDIR"]),
    ]);
}

#[test]
fn noloop_optin_optout() {
    scenario(&[
        (A, &["HELLO", "3"]),
        (A, &["CLIENT", "TRACKING", "ON", "NOLOOP"]),
        (A, &["GET", "k"]),
        (A, &["SET", "k", "1"]),
        (B, &["SET", "k", "2"]),
        (A, &["GET", "k"]),
        (B, &["SET", "k", "3"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "TRACKING", "OFF"]),
        (A, &["CLIENT", "TRACKING", "ON", "OPTIN"]),
        (A, &["GET", "a"]),
        (B, &["SET", "a", "1"]),
        (A, &["CLIENT", "CACHING", "YES"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["GET", "a"]),
        (A, &["GET", "b"]),
        (B, &["MSET", "a", "2", "b", "2"]),
        (A, &["CLIENT", "CACHING", "NO"]),
        (A, &["CLIENT", "TRACKING", "ON", "OPTOUT"]),
        (A, &["CLIENT", "TRACKING", "OFF"]),
        (A, &["CLIENT", "TRACKING", "ON", "OPTOUT"]),
        (A, &["CLIENT", "CACHING", "NO"]),
        (A, &["GET", "c"]),
        (A, &["GET", "d"]),
        (B, &["MSET", "c", "1", "d", "1"]),
        (A, &["CLIENT", "CACHING", "YES"]),
    ]);
}

#[test]
fn broadcast_prefixes() {
    scenario(&[
        (A, &["HELLO", "3"]),
        (
            A,
            &[
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "job:",
            ],
        ),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (B, &["MSET", "user:1", "a", "job:7", "b", "other", "c"]),
        (B, &["SET", "user:2", "x"]),
        (B, &["SET", "misc", "x"]),
        (A, &["SET", "user:3", "y"]),
        (A, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "use"]),
        (
            A,
            &[
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab",
            ],
        ),
        (A, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "mail:"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (A, &["CLIENT", "TRACKING", "ON"]),
        (A, &["CLIENT", "TRACKING", "OFF"]),
        (A, &["CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP"]),
        (A, &["SET", "mine", "1"]),
        (B, &["SET", "theirs", "1"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        // RESET turns tracking off.
        (A, &["RESET"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (B, &["SET", "theirs", "2"]),
    ]);
}

#[test]
fn redirect_to_a_resp2_subscriber_and_to_a_resp3_client() {
    scenario(&[
        (R, &["SUBSCRIBE", "__redis__:invalidate"]),
        (A, &["CLIENT", "TRACKING", "ON", "REDIRECT", "{r}"]),
        (A, &["CLIENT", "GETREDIR"]),
        (A, &["GET", "k"]),
        (B, &["SET", "k", "1"]),
        (A, &["GET", "k"]),
        (B, &["FLUSHALL"]),
        (A, &["CLIENT", "TRACKINGINFO"]),
        (R, &["UNSUBSCRIBE"]),
        (R, &["HELLO", "3"]),
        (A, &["GET", "k"]),
        (B, &["SET", "k", "1"]),
        // A RESP2 client without redirection cannot be told anything.
        (A, &["CLIENT", "TRACKING", "OFF"]),
        (A, &["CLIENT", "TRACKING", "ON"]),
        (A, &["GET", "k"]),
        (B, &["SET", "k", "2"]),
    ]);
}

#[test]
fn flush_and_expiry_invalidate() {
    scenario(&[
        (A, &["HELLO", "3"]),
        (A, &["CLIENT", "TRACKING", "ON"]),
        (A, &["GET", "k"]),
        (B, &["FLUSHDB"]),
        (A, &["FLUSHALL"]),
        (B, &["SET", "t", "v", "PX", "1"]),
        (A, &["GET", "t"]),
        (B, &["DEBUG", "SLEEP", "0.05"]),
        // The writer's lookup finds the key expired: the tracking client hears of it.
        (B, &["GET", "t"]),
        (A, &["GET", "x"]),
        (
            B,
            &[
                "EVAL",
                "redis.call('set','x','1') return redis.call('get','x')",
                "0",
            ],
        ),
        (A, &["GET", "x"]),
        (B, &["MULTI"]),
        (B, &["SET", "x", "2"]),
        (B, &["EXEC"]),
    ]);
}

#[test]
fn errors_as_redis() {
    scenario(&[
        (A, &["CLIENT", "TRACKING", "MAYBE"]),
        (A, &["CLIENT", "TRACKING", "ON", "FOO"]),
        (A, &["CLIENT", "TRACKING", "ON", "REDIRECT"]),
        (A, &["CLIENT", "TRACKING", "ON", "REDIRECT", "abc"]),
        (A, &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"]),
        (
            A,
            &[
                "CLIENT", "TRACKING", "ON", "REDIRECT", "{r}", "REDIRECT", "{r}",
            ],
        ),
        (A, &["CLIENT", "TRACKING", "ON", "PREFIX", "a"]),
        (A, &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"]),
        (A, &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"]),
        (
            A,
            &[
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a",
            ],
        ),
        (A, &["CLIENT", "TRACKING"]),
        (A, &["CLIENT", "CACHING", "YES"]),
        (A, &["CLIENT", "TRACKING", "ON"]),
        (A, &["CLIENT", "CACHING", "YES"]),
        (A, &["CLIENT", "CACHING", "NO"]),
        (A, &["CLIENT", "TRACKING", "ON", "OPTIN"]),
        (A, &["CLIENT", "CACHING", "MAYBE"]),
        (A, &["CLIENT", "TRACKING", "ON", "OPTOUT"]),
        (A, &["CLIENT", "TRACKING", "ON", "BCAST"]),
        (A, &["CLIENT", "GETREDIR", "x"]),
        (A, &["CLIENT", "TRACKINGINFO", "x"]),
    ]);
}

/// INFO counts the tracking clients, the keys in the table, the ids across them and the
/// BCAST prefixes.
#[test]
fn info_counts_tracking() {
    let srv = Server::ferrymq(&[]);
    let (mut a, mut b, mut c) = (srv.raw(), srv.raw(), srv.raw());
    a.cmd(&["HELLO", "3"]);
    a.cmd(&["CLIENT", "TRACKING", "ON"]);
    b.cmd(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p", "PREFIX", "q",
    ]);
    a.cmd(&["MGET", "x", "y"]);
    let field = |c: &mut RawConn, f: &str| common::info_field(c, f).unwrap();
    assert_eq!(field(&mut c, "tracking_clients"), "2");
    assert_eq!(field(&mut c, "tracking_total_keys"), "2");
    assert_eq!(field(&mut c, "tracking_total_items"), "2");
    assert_eq!(field(&mut c, "tracking_total_prefixes"), "2");
    c.cmd(&["SET", "x", "1"]);
    assert_eq!(field(&mut c, "tracking_total_keys"), "1");
    let list = String::from_utf8(c.cmd(&["CLIENT", "LIST"])).unwrap();
    assert!(list.contains("flags=t "), "{list}");
    assert!(list.contains("flags=tB "), "{list}");
    drop(b);
    assert!(common::wait_for(Duration::from_secs(10), || {
        field(&mut c, "tracking_total_prefixes") == "0"
    }));
    assert_eq!(field(&mut c, "tracking_clients"), "1");
}

/// A script caches the keys it declared, and only when it runs a read-only command.
#[test]
fn scripts_cache_their_declared_keys() {
    scenario(&[
        (A, &["HELLO", "3"]),
        (A, &["CLIENT", "TRACKING", "ON"]),
        (B, &["MSET", "k2", "1", "k1", "1"]),
        (
            A,
            &["EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2"],
        ),
        (B, &["MSET", "k2", "2", "k1", "2"]),
        (A, &["EVAL", "redis.call('get', 'k3')", "2", "k1", "k2"]),
        (B, &["MSET", "k2", "2", "k1", "2"]),
        (A, &["EVAL_RO", "redis.call('ping')", "2", "k1", "k2"]),
        (B, &["MSET", "k2", "2", "k1", "2"]),
        (A, &["EVAL_RO", "redis.call('get', 'k1')", "2", "k1", "k2"]),
        (B, &["MSET", "k2", "3", "k1", "3"]),
        (A, &["PING"]),
        // NOLOOP: a script's own write of a key it cached tells the client nothing.
        (B, &["HELLO", "3"]),
        (B, &["CLIENT", "TRACKING", "ON", "NOLOOP"]),
        (B, &["GET", "k1"]),
        (
            B,
            &["EVAL", "return redis.call('set', 'k1', '2')", "1", "k1"],
        ),
        (B, &["GET", "k1"]),
    ]);
}

/// A served BLMOVE's reply comes before the invalidation of the key it pushed to.
#[test]
fn served_blocking_move_replies_before_invalidating() {
    scenario(&[
        (B, &["RPUSH", "list2", "a"]),
        (A, &["HELLO", "3"]),
        (A, &["CLIENT", "TRACKING", "on"]),
        (A, &["LRANGE", "list2", "0", "-1"]),
        (A, &["BLMOVE", "list1", "list2", "LEFT", "LEFT", "0"]),
        (B, &[BLOCKED]),
        (B, &["RPUSH", "list1", "foo"]),
        (A, &["LRANGE", "list2", "0", "-1"]),
    ]);
}

/// `tracking-table-max-keys`: when more keys are tracked than allowed, the server forgets some,
/// telling their clients they were invalidated, until the table fits (on both servers).
#[test]
fn the_tracking_table_is_kept_under_its_limit() {
    let mut servers = vec![Server::ferrymq(&[])];
    servers.extend(Server::redis(&[]));
    for s in &servers {
        let mut r = s.raw();
        r.cmd(&["HELLO", "3"]);
        let rid = String::from_utf8(r.cmd(&["CLIENT", "ID"])).unwrap();
        let rid = rid.trim_start_matches(':').trim_end().to_string();
        let mut a = s.raw();
        assert_eq!(
            a.cmd_s(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid]),
            "+OK\r\n"
        );
        a.cmd(&["MSET", "key1", "1", "key2", "2"]);
        a.cmd(&["MGET", "key1", "key2"]);
        assert_eq!(
            info_field(&mut a, "tracking_total_keys").as_deref(),
            Some("2")
        );
        assert_eq!(
            a.cmd_s(&["CONFIG", "SET", "tracking-table-max-keys", "1"]),
            "+OK\r\n"
        );
        let msg = r
            .try_read_reply(Duration::from_secs(5))
            .map(|m| String::from_utf8_lossy(&m).into_owned())
            .unwrap_or_default();
        assert!(
            msg.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nkey"),
            "{}: {msg:?}",
            s.name
        );
        assert!(wait_for(Duration::from_secs(5), || {
            info_field(&mut a, "tracking_total_keys").as_deref() == Some("1")
        }));
    }
}

/// FLUSHALL empties the tracking table even when no client tracks any more: keys read by a
/// client that then turned tracking off stop being counted (on both servers).
#[test]
fn flushall_empties_the_tracking_table() {
    let mut servers = vec![Server::ferrymq(&[])];
    servers.extend(Server::redis(&[]));
    for s in &servers {
        let mut a = s.raw();
        a.cmd(&["HELLO", "3"]);
        a.cmd(&["CLIENT", "TRACKING", "on"]);
        a.cmd(&["MGET", "x", "y"]);
        a.cmd(&["CLIENT", "TRACKING", "off"]);
        assert_eq!(
            info_field(&mut a, "tracking_total_keys").as_deref(),
            Some("2"),
            "{}",
            s.name
        );
        a.cmd(&["FLUSHALL"]);
        for f in ["tracking_total_keys", "tracking_total_items"] {
            assert_eq!(
                info_field(&mut a, f).as_deref(),
                Some("0"),
                "{} {f}",
                s.name
            );
        }
    }
}
