//! MIGRATE against redis-server 7.0: the same MIGRATE sequences run from a ferrymq source and
//! from a redis-server source, each into its own redis-server target, replies compared; what
//! arrives on the targets compared; ferrymq as a MIGRATE target; the IOERR cases against a
//! target that does not answer; the DEL that replaces a MIGRATE in the AOF; the connection
//! cache; MODULE and RESTORE-ASKING.

mod common;

use common::{Diff, DirServer, RawConn, Server, info_field, wait_for};
use std::net::TcpListener;
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A ferrymq and a redis-server source (compared by `Diff`), each with its own redis target.
struct Pair {
    d: Diff,
    tf: Server,
    tr: Server,
}

impl Pair {
    fn new() -> Option<Pair> {
        let d = Diff::new()?;
        let tf = Server::redis(&[])?;
        let tr = Server::redis(&[])?;
        Some(Pair { d, tf, tr })
    }

    /// Run `args` on both sources with `{T}` replaced by each one's target port; the replies
    /// must be equal.
    fn mig(&mut self, args: &[&str]) -> String {
        let with = |port: u16| -> Vec<String> {
            args.iter()
                .map(|a| a.replace("{T}", &port.to_string()))
                .collect()
        };
        let r = self.d.redis.cmd(&with(self.tr.port));
        let f = self.d.ferry.cmd(&with(self.tf.port));
        assert_eq!(text(&r), text(&f), "reply to {args:?}");
        text(&r)
    }

    /// Both targets hold the same thing at `key` in `db` (read back with commands whose replies
    /// do not depend on encoding).
    fn same_on_targets(&self, db: &str, key: &str) -> String {
        let read = |port: u16| {
            let mut c = RawConn::connect(port);
            c.cmd(&["SELECT", db]);
            let ty = c.cmd_s(&["TYPE", key]);
            let v = match ty.trim() {
                "+string" => c.cmd_s(&["GET", key]),
                "+list" => c.cmd_s(&["LRANGE", key, "0", "-1"]),
                "+hash" => c.cmd_s(&["HGETALL", key]),
                "+set" => c.cmd_s(&["SORT", key, "ALPHA"]),
                "+zset" => c.cmd_s(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
                // Delivery and seen times are each source's own clock: not compared.
                "+stream" => c
                    .cmd_s(&["XINFO", "STREAM", key, "FULL"])
                    .split("\r\n")
                    .map(|l| {
                        if l.len() >= 14 && l.starts_with(':') {
                            ":<time>"
                        } else {
                            l
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\r\n"),
                _ => String::new(),
            };
            let ttl = c.cmd_s(&["PTTL", key]);
            let has_ttl = !ttl.starts_with(":-");
            format!("{ty} {v} ttl={has_ttl}")
        };
        let (r, f) = (read(self.tr.port), read(self.tf.port));
        assert_eq!(r, f, "{key} in db {db} on the targets");
        r
    }
}

#[test]
fn migrate_moves_copies_and_replaces_like_redis() {
    let Some(mut p) = Pair::new() else { return };
    p.d.script(&[
        &["SET", "s", "hello"],
        &["SET", "n", "12345"],
        &["PEXPIRE", "n", "100000"],
        &["RPUSH", "l", "a", "b", "c"],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["SADD", "st", "x", "y", "z"],
        &["ZADD", "z", "1", "one", "2.5", "two"],
        &["XADD", "x", "1-1", "f", "v"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "1",
            "STREAMS",
            "x",
            ">",
        ],
    ]);
    assert_eq!(
        p.mig(&["MIGRATE", "127.0.0.1", "{T}", "s", "0", "5000"]),
        "+OK\r\n"
    );
    p.d.cmd(&["EXISTS", "s"]);
    assert!(p.same_on_targets("0", "s").contains("hello"));
    // Several keys at once into another database; missing ones are skipped.
    assert_eq!(
        p.mig(&[
            "MIGRATE",
            "127.0.0.1",
            "{T}",
            "",
            "3",
            "5000",
            "KEYS",
            "n",
            "nosuch",
            "l",
            "h",
            "st",
            "z",
            "x",
        ]),
        "+OK\r\n"
    );
    p.d.cmd(&["EXISTS", "n", "l", "h", "st", "z", "x"]);
    for k in ["n", "l", "h", "st", "z", "x"] {
        p.same_on_targets("3", k);
    }
    assert!(p.same_on_targets("3", "n").ends_with("ttl=true"));
    // Nothing left to move.
    assert_eq!(
        p.mig(&["MIGRATE", "127.0.0.1", "{T}", "s", "0", "5000"]),
        "+NOKEY\r\n"
    );
    assert_eq!(
        p.mig(&[
            "MIGRATE",
            "127.0.0.1",
            "{T}",
            "",
            "0",
            "5000",
            "KEYS",
            "a",
            "b"
        ]),
        "+NOKEY\r\n"
    );
    // The target already has the key: its error comes back and the key stays here.
    p.d.cmd(&["SET", "s", "again"]);
    let busy = p.mig(&["MIGRATE", "127.0.0.1", "{T}", "s", "0", "5000"]);
    assert!(
        busy.contains("Target instance replied with error: BUSYKEY"),
        "{busy}"
    );
    p.d.cmd(&["GET", "s"]);
    // COPY keeps it here; REPLACE overwrites there.
    assert_eq!(
        p.mig(&[
            "MIGRATE",
            "127.0.0.1",
            "{T}",
            "s",
            "0",
            "5000",
            "COPY",
            "REPLACE"
        ]),
        "+OK\r\n"
    );
    p.d.cmd(&["GET", "s"]);
    assert!(p.same_on_targets("0", "s").contains("again"));
    assert_eq!(
        p.mig(&["MIGRATE", "127.0.0.1", "{T}", "s", "0", "5000", "REPLACE"]),
        "+OK\r\n"
    );
    p.d.cmd(&["EXISTS", "s"]);
    // A failing AUTH on the target refuses every key.
    p.d.cmd(&["SET", "s", "third"]);
    let auth = p.mig(&[
        "MIGRATE",
        "127.0.0.1",
        "{T}",
        "s",
        "0",
        "5000",
        "REPLACE",
        "AUTH",
        "nopass",
    ]);
    assert!(
        auth.contains("Target instance replied with error"),
        "{auth}"
    );
    p.d.cmd(&["GET", "s"]);
    let auth2 = p.mig(&[
        "MIGRATE",
        "127.0.0.1",
        "{T}",
        "s",
        "0",
        "5000",
        "REPLACE",
        "AUTH2",
        "u",
        "p",
    ]);
    assert!(
        auth2.contains("Target instance replied with error"),
        "{auth2}"
    );
    p.d.cmd(&["GET", "s"]);
    // The connection stays cached for the next MIGRATE.
    assert_eq!(
        info_field(&mut p.d.ferry, "migrate_cached_sockets"),
        info_field(&mut p.d.redis, "migrate_cached_sockets")
    );
}

#[test]
fn migrate_argument_errors_like_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["SET", "k", "v"]);
    for c in [
        &["MIGRATE", "127.0.0.1", "1", "k", "0"][..],
        &["MIGRATE", "127.0.0.1", "1", "k", "0", "100", "FOO"],
        &["MIGRATE", "127.0.0.1", "1", "k", "0", "100", "AUTH"],
        &["MIGRATE", "127.0.0.1", "1", "k", "0", "100", "AUTH2", "u"],
        &["MIGRATE", "127.0.0.1", "1", "k", "0", "100", "KEYS", "k"],
        &["MIGRATE", "127.0.0.1", "1", "k", "x", "100"],
        &["MIGRATE", "127.0.0.1", "1", "k", "0", "x"],
        &["MIGRATE", "127.0.0.1", "1", "k", "x", "y"],
        &["MIGRATE", "127.0.0.1", "1", "nosuch", "0", "100"],
        &[
            "MIGRATE",
            "127.0.0.1",
            "1",
            "",
            "0",
            "100",
            "COPY",
            "KEYS",
            "nosuch",
        ],
        &["COMMAND", "INFO", "migrate", "restore-asking"],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b",
        ],
        &["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "5"],
    ] {
        d.cmd(c);
    }
    // Nothing listens on the port: the connect fails.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    d.cmd(&["MIGRATE", "127.0.0.1", &closed, "k", "0", "500"]);
    d.cmd(&["GET", "k"]);
}

#[test]
fn migrate_to_a_target_that_does_not_answer_times_out() {
    let Some(mut d) = Diff::new() else { return };
    // Accepts connections and never replies.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let hold = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in l.incoming().take(2).flatten() {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    d.cmd(&["SET", "k", "v"]);
    let r = d.cmd(&["MIGRATE", "127.0.0.1", &port, "k", "0", "200"]);
    assert_eq!(
        text(&r),
        "-IOERR error or timeout reading to target instance\r\n"
    );
    d.cmd(&["GET", "k"]);
    hold.join().unwrap();
}

#[test]
fn ferrymq_is_a_migrate_target_and_source() {
    let Some(rs) = Server::redis(&[]) else { return };
    let fm = Server::ferrymq(&[]);
    let fm2 = Server::ferrymq(&[]);
    let mut r = rs.raw();
    r.cmd(&["RPUSH", "q", "1", "2", "3"]);
    r.cmd(&["HSET", "h", "a", "1"]);
    r.cmd(&["PEXPIRE", "h", "60000"]);
    let port = fm.port.to_string();
    assert_eq!(
        r.cmd_s(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "2",
            "5000",
            "KEYS",
            "q",
            "h"
        ]),
        "+OK\r\n"
    );
    let mut f = fm.raw();
    f.cmd(&["SELECT", "2"]);
    assert_eq!(
        f.cmd_s(&["LRANGE", "q", "0", "-1"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    let ttl: i64 = f.cmd_s(&["PTTL", "h"])[1..].trim().parse().unwrap();
    assert!(ttl > 0 && ttl <= 60000, "{ttl}");
    // ferrymq to ferrymq, and back to redis-server.
    let port2 = fm2.port.to_string();
    assert_eq!(
        f.cmd_s(&["MIGRATE", "127.0.0.1", &port2, "q", "0", "5000"]),
        "+OK\r\n"
    );
    let mut f2 = fm2.raw();
    assert_eq!(f2.cmd_s(&["LLEN", "q"]), ":3\r\n");
    let rport = rs.port.to_string();
    assert_eq!(
        f2.cmd_s(&["MIGRATE", "127.0.0.1", &rport, "q", "5", "5000"]),
        "+OK\r\n"
    );
    r.cmd(&["SELECT", "5"]);
    assert_eq!(r.cmd_s(&["LLEN", "q"]), ":3\r\n");
    assert_eq!(f2.cmd_s(&["EXISTS", "q"]), ":0\r\n");
}

/// A moved key is deleted here for good: the AOF records the DEL, so a restart does not bring
/// it back; a copied key stays.
#[test]
fn migrate_is_replayed_as_del() {
    let Some(target) = Server::redis(&[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tport = target.port.to_string();
    {
        let s = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
        let mut c = s.raw();
        c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(
            c.cmd_s(&[
                "MIGRATE",
                "127.0.0.1",
                &tport,
                "",
                "0",
                "5000",
                "KEYS",
                "a",
                "b"
            ]),
            "+OK\r\n"
        );
        assert_eq!(
            c.cmd_s(&["MIGRATE", "127.0.0.1", &tport, "c", "1", "5000", "COPY"]),
            "+OK\r\n"
        );
        s.shutdown();
    }
    let s = DirServer::ferrymq(dir.path(), &["--appendonly", "yes"]);
    let mut c = s.raw();
    assert_eq!(c.cmd_s(&["EXISTS", "a", "b", "c"]), ":1\r\n");
    let mut t = target.raw();
    assert_eq!(t.cmd_s(&["MGET", "a", "b"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

/// The cached connection is closed after 10 s unused, as Redis's is.
#[test]
fn migrate_connection_cache_expires() {
    let Some(target) = Server::redis(&[]) else {
        return;
    };
    let fm = Server::ferrymq(&[]);
    let mut c = fm.raw();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(
        info_field(&mut c, "migrate_cached_sockets").as_deref(),
        Some("0")
    );
    let tport = target.port.to_string();
    assert_eq!(
        c.cmd_s(&["MIGRATE", "127.0.0.1", &tport, "k", "0", "5000"]),
        "+OK\r\n"
    );
    assert_eq!(
        info_field(&mut c, "migrate_cached_sockets").as_deref(),
        Some("1")
    );
    // Reused: the target sees one client for ferrymq.
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(
        c.cmd_s(&["MIGRATE", "127.0.0.1", &tport, "k", "0", "5000", "REPLACE"]),
        "+OK\r\n"
    );
    let mut t = target.raw();
    assert_eq!(
        info_field(&mut t, "connected_clients").as_deref(),
        Some("2")
    );
    assert!(wait_for(Duration::from_secs(20), || {
        info_field(&mut c, "migrate_cached_sockets").as_deref() == Some("0")
    }));
}

#[test]
fn module_and_restore_asking_like_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["MODULE", "LIST"],
        &["MODULE", "HELP"],
        &["MODULE", "LOAD", "/nonexistent.so"],
        &["MODULE", "LOADEX", "/nonexistent.so"],
        &["MODULE", "UNLOAD", "x"],
        &["MODULE", "FOO"],
        &["MODULE", "LIST", "extra"],
        &[
            "COMMAND",
            "INFO",
            "module|list",
            "module|load",
            "module|unload",
        ],
        &["SET", "src", "payload"],
    ]);
    let dump = d.cmd(&["DUMP", "src"]);
    let nl = dump.iter().position(|&b| b == b'\n').unwrap();
    let payload = dump[nl + 1..dump.len() - 2].to_vec();
    let mut args: Vec<&[u8]> = vec![b"RESTORE-ASKING", b"dst", b"0", &payload];
    d.cmd(&args);
    d.cmd(&args);
    args.push(b"REPLACE");
    d.cmd(&args);
    d.cmd(&["GET", "dst"]);
    let mut d = Diff::with_args(&["--enable-module-command", "yes"]).unwrap();
    d.script(&[
        &["MODULE", "LOAD", "/nonexistent.so"],
        &["MODULE", "UNLOAD", "x"],
    ]);
}
