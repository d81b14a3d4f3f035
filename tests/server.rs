//! Integration tests of the server core over TCP: the `redis` crate (RESP2 and RESP3), raw
//! sockets (pipelining, inline commands, hostile input), client management, shutdown.

mod common;
use common::{RawConn, Server, encode_cmd, info_field, wait_for};
use std::io::Write;
use std::time::Duration;

#[test]
fn redis_crate_round_trip() {
    let s = Server::ferrymq(&[]);
    let mut c = s.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let n: i64 = redis::cmd("INCRBY").arg("n").arg(41).query(&mut c).unwrap();
    assert_eq!(n, 41);
    let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut c).unwrap();
    assert_eq!(missing, None);
    let err = redis::cmd("INCR")
        .arg("k")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("not an integer"), "{err}");
}

#[test]
fn redis_crate_resp3() {
    let s = Server::ferrymq(&[]);
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port)).unwrap();
    let mut c = client.get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let v: Vec<Option<String>> = redis::cmd("MGET").arg("a").arg("b").query(&mut c).unwrap();
    assert_eq!(v, vec![Some("1".to_string()), None]);
    let proto: i64 = {
        let mut raw = s.raw();
        let r = raw.cmd_s(&["HELLO", "3"]);
        assert!(r.starts_with("%7\r\n"), "{r}");
        assert!(r.contains("$5\r\nproto\r\n:3\r\n"), "{r}");
        3
    };
    assert_eq!(proto, 3);
}

#[test]
fn pipelined_commands_get_replies_in_order() {
    let s = Server::ferrymq(&[]);
    let mut raw = s.raw();
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend(encode_cmd(&["SET", &format!("k{i}"), &i.to_string()]));
        batch.extend(encode_cmd(&["GET", &format!("k{i}")]));
    }
    raw.send_raw(&batch);
    for i in 0..1000 {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
        let v = i.to_string();
        assert_eq!(
            raw.read_reply(),
            format!("${}\r\n{}\r\n", v.len(), v).into_bytes()
        );
    }
}

#[test]
fn inline_commands_work() {
    let s = Server::ferrymq(&[]);
    let mut raw = s.raw();
    raw.send_raw(b"PING\r\nSET x \"hello world\"\nGET x\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$11\r\nhello world\r\n");
}

/// Each hostile input gets Redis's error (or is ignored as Redis ignores it), never crashes the
/// server and never disturbs a well-behaved client.
#[test]
fn hostile_input_is_contained() {
    let s = Server::ferrymq(&[]);
    let mut good = s.raw();
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (
            b"*1\r\n+PING\r\n".to_vec(),
            Some("-ERR Protocol error: expected '$', got '+'\r\n"),
        ),
        (
            b"*1\r\n$-3\r\n".to_vec(),
            Some("-ERR Protocol error: invalid bulk length\r\n"),
        ),
        (
            b"*1\r\n$999999999999\r\n".to_vec(),
            Some("-ERR Protocol error: invalid bulk length\r\n"),
        ),
        (
            b"*abc\r\n".to_vec(),
            Some("-ERR Protocol error: invalid multibulk length\r\n"),
        ),
        (
            vec![b'x'; 1024 * 1024],
            Some("-ERR Protocol error: too big inline request\r\n"),
        ),
        (b"*3\r\n$3\r\nSET\r\n$1\r\n".to_vec(), None),
        (
            b"\x00\xff\xfe garbage \x01\r\n".to_vec(),
            Some("-ERR unknown command"),
        ),
    ];
    for (input, expect) in cases {
        let mut bad = s.raw();
        bad.send_raw(&input);
        match expect {
            Some(e) => {
                let r = bad.read_reply();
                let r = String::from_utf8_lossy(&r).into_owned();
                assert!(
                    r.starts_with(e),
                    "input {:?}: got {r:?}",
                    &input[..input.len().min(20)]
                );
            }
            None => {
                // Half a frame then disconnect.
                drop(bad);
            }
        }
        assert_eq!(good.cmd(&["PING"]), b"+PONG\r\n");
    }
    // `*-5` is skipped silently, like Redis.
    let mut c = s.raw();
    c.send_raw(b"*-5\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    // A huge declared multibulk count does not allocate it: the server stays small.
    let mut huge = s.raw();
    huge.send_raw(b"*2147483647\r\n$4\r\nPING\r\n");
    assert_eq!(good.cmd(&["PING"]), b"+PONG\r\n");
    drop(huge);
}

#[test]
fn unauthenticated_clients_only_get_auth() {
    let s = Server::ferrymq(&["--requirepass", "secret"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd_s(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.cmd_s(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_s(&["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(c.cmd_s(&["GET", "k"]), "$-1\r\n");
    let mut h = s.raw();
    let r = h.cmd_s(&["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me"]);
    assert!(r.starts_with("%7"), "{r}");
    assert_eq!(h.cmd_s(&["CLIENT", "GETNAME"]), "$2\r\nme\r\n");
}

#[test]
fn client_list_kill_and_info_clients() {
    let s = Server::ferrymq(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    b.cmd(&["CLIENT", "SETNAME", "victim"]);
    let id = String::from_utf8(b.cmd(&["CLIENT", "ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    let list = a.cmd_s(&["CLIENT", "LIST"]);
    assert!(list.contains("name=victim"), "{list}");
    // The harness's readiness probe may still be registered for a moment after it closed.
    assert!(wait_for(Duration::from_secs(5), || {
        info_field(&mut a, "connected_clients").as_deref() == Some("2")
    }));
    assert_eq!(a.cmd_s(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    assert!(b.closed(Duration::from_secs(5)));
    assert!(wait_for(Duration::from_secs(5), || {
        info_field(&mut a, "connected_clients").as_deref() == Some("1")
    }));
}

#[test]
fn monitor_sees_other_clients_commands() {
    let s = Server::ferrymq(&[]);
    let mut m = s.raw();
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut c = s.raw();
    c.cmd(&["SET", "mk", "a b"]);
    let line = String::from_utf8(m.read_reply()).unwrap();
    assert!(
        line.starts_with('+') && line.contains("\"SET\" \"mk\" \"a b\""),
        "{line}"
    );
}

#[test]
fn client_reply_off_and_skip() {
    let s = Server::ferrymq(&[]);
    let mut c = s.raw();
    c.send(&["CLIENT", "REPLY", "SKIP"]);
    c.send(&["SET", "a", "1"]);
    c.send(&["GET", "a"]);
    assert_eq!(c.read_reply(), b"$1\r\n1\r\n");
    c.send(&["CLIENT", "REPLY", "OFF"]);
    c.send(&["SET", "a", "2"]);
    c.send(&["CLIENT", "REPLY", "ON"]);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), b"$1\r\n2\r\n");
}

#[test]
fn keys_expire_lazily_and_actively() {
    let s = Server::ferrymq(&["--hz", "100"]);
    let mut c = s.raw();
    for i in 0..200 {
        c.cmd(&["SET", &format!("t{i}"), "v", "PX", "30"]);
    }
    c.cmd(&["SET", "keep", "v"]);
    // Without touching the keys, the active cycle must remove them.
    assert!(wait_for(Duration::from_secs(5), || c.cmd(&["DBSIZE"]) == b":1\r\n"));
    assert_eq!(info_field(&mut c, "expired_keys").as_deref(), Some("200"));
    c.cmd(&["SET", "lazy", "v", "PX", "1"]);
    assert!(wait_for(Duration::from_secs(2), || c.cmd(&["GET", "lazy"])
        == b"$-1\r\n"));
}

#[test]
fn shutdown_command_stops_the_server() {
    let mut s = Server::ferrymq(&[]);
    let mut c = s.raw();
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.closed(Duration::from_secs(5)));
    let status = s.wait_exit(Duration::from_secs(10)).expect("server exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let mut s = Server::ferrymq(&[]);
    let pid = s.pid();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = s.wait_exit(Duration::from_secs(10)).expect("server exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn maxclients_rejects_with_redis_error() {
    let s = Server::ferrymq(&["--maxclients", "2"]);
    // The readiness probe's connection may not be unregistered yet: retry until a slot is free.
    let connect = || {
        let mut conn = None;
        assert!(wait_for(Duration::from_secs(5), || {
            let mut c = s.raw();
            c.send(&["PING"]);
            let ok = c.try_read_reply(Duration::from_secs(2)).as_deref() == Some(b"+PONG\r\n");
            if ok {
                conn = Some(c);
            }
            ok
        }));
        conn.expect("connected")
    };
    let mut a = connect();
    let mut b = connect();
    assert_eq!(a.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&["PING"]), b"+PONG\r\n");
    let mut c = RawConn::connect(s.port);
    c.stream.write_all(&encode_cmd(&["PING"])).ok();
    let r = c.try_read_reply(Duration::from_secs(5)).unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR max number of clients reached\r\n"
    );
}

#[test]
fn unix_socket_serves_clients() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ferrymq.sock");
    let sock_s = sock.to_string_lossy().into_owned();
    let _s = Server::ferrymq(&["--unixsocket", &sock_s]);
    assert!(wait_for(Duration::from_secs(5), || sock.exists()));
    let client = redis::Client::open(format!("redis+unix://{sock_s}")).unwrap();
    let mut c = client.get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn info_has_the_fields_monitoring_tools_read() {
    let s = Server::ferrymq(&[]);
    let mut c = s.raw();
    c.cmd(&["SET", "a", "1"]);
    for f in [
        "redis_version",
        "uptime_in_seconds",
        "connected_clients",
        "blocked_clients",
        "used_memory",
        "used_memory_rss",
        "loading",
        "aof_enabled",
        "total_connections_received",
        "total_commands_processed",
        "keyspace_hits",
        "role",
        "used_cpu_sys",
    ] {
        assert!(info_field(&mut c, f).is_some(), "missing {f}");
    }
    let ks = c.cmd_s(&["INFO", "keyspace"]);
    assert!(ks.contains("db0:keys=1,expires=0,avg_ttl=0"), "{ks}");
    let stats = c.cmd_s(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
}

#[test]
fn maxmemory_refuses_growth_but_allows_draining() {
    let s = Server::ferrymq(&[]);
    let mut c = s.raw();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2"]);
    // A limit far below what the process already uses: every growing write is refused.
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
    assert_eq!(
        c.cmd_s(&["SET", "c", "3"]),
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(c.cmd(&["GET", "a"]), b"$1\r\n1\r\n");
    assert_eq!(c.cmd(&["DEL", "a"]), b":1\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "c", "3"]), b"+OK\r\n");
}

/// Replies that do not fit in the socket at once are finished by the connection's writer, and
/// replies to later commands still come after them, in order, byte for byte.
#[test]
fn replies_stay_in_order_when_the_socket_is_full() {
    let s = Server::ferrymq(&[]);
    let mut admin = s.raw();
    let values: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{i:05}").repeat(1600).into_bytes())
        .collect();
    for chunk in values.chunks(100) {
        let mut args: Vec<&[u8]> = vec![b"RPUSH", b"big"];
        args.extend(chunk.iter().map(|v| v.as_slice()));
        admin.cmd(&args);
    }
    let mut c = s.raw();
    let id = String::from_utf8(c.cmd(&["CLIENT", "ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    // 8 MB of reply that the client does not read yet: the socket fills up.
    c.send(&["LRANGE", "big", "0", "-1"]);
    assert!(wait_for(Duration::from_secs(10), || {
        let list = String::from_utf8(admin.cmd(&["CLIENT", "LIST", "ID", &id])).unwrap();
        list.split(' ')
            .find_map(|f| f.strip_prefix("omem="))
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|v| v > 0)
    }));
    // A second batch while the first is still being written.
    c.send_raw(&[encode_cmd(&["PING"]), encode_cmd(&["ECHO", "after"])].concat());
    c.send(&["LRANGE", "big", "0", "1"]);
    let mut expected = format!("*{}\r\n", values.len()).into_bytes();
    for v in &values {
        expected.extend_from_slice(format!("${}\r\n", v.len()).as_bytes());
        expected.extend_from_slice(v);
        expected.extend_from_slice(b"\r\n");
    }
    assert!(c.read_reply() == expected, "the big reply arrived intact");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    assert_eq!(c.read_reply(), b"$5\r\nafter\r\n");
    let mut head = b"*2\r\n".to_vec();
    for v in &values[..2] {
        head.extend_from_slice(format!("${}\r\n", v.len()).as_bytes());
        head.extend_from_slice(v);
        head.extend_from_slice(b"\r\n");
    }
    assert!(c.read_reply() == head);
}

/// Optimistic check-and-set under contention: N clients each increment one key K times with
/// WATCH / GET / MULTI / SET / EXEC, retrying when EXEC returns nil. Every EXEC that succeeded
/// must be one increment of the final value (no lost update), as on redis-server.
#[test]
fn watch_multi_exec_increments_lose_no_update() {
    const CLIENTS: usize = 6;
    const INCREMENTS: usize = 300;
    let s = Server::ferrymq(&[]);
    let port = s.port;
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
                let mut c = client.get_connection().unwrap();
                let mut committed = 0usize;
                while committed < INCREMENTS {
                    assert!(
                        started.elapsed() < Duration::from_secs(120),
                        "no progress: {committed} increments committed"
                    );
                    let _: () = redis::cmd("WATCH").arg("counter").query(&mut c).unwrap();
                    let v: Option<i64> = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
                    let next = v.unwrap_or(0) + 1;
                    let res: Option<(String,)> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg("counter")
                        .arg(next)
                        .query(&mut c)
                        .unwrap();
                    if res.is_some() {
                        committed += 1;
                    }
                }
                committed
            })
        })
        .collect();
    let committed: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut c = s.conn();
    let v: i64 = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(committed, CLIENTS * INCREMENTS);
    assert_eq!(
        v as usize, committed,
        "successful EXECs must all be in the value"
    );
}

/// Of `rounds` rounds, how many served the first of two requests first: a new connection sends
/// XREADGROUP BLOCK on an existing group, and without waiting another connection sends a SET
/// of that key. Served in that order, the read blocks and the SET unblocks it with "no longer
/// exists"; the other way round, the read meets a string and gets WRONGTYPE.
fn served_in_sending_order(port: u16, rounds: usize) -> usize {
    let mut r = RawConn::connect(port);
    let mut in_order = 0;
    for _ in 0..rounds {
        r.cmd(&["DEL", "s"]);
        r.cmd(&["XADD", "s", "1-1", "f", "v"]);
        r.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
        let mut rd = RawConn::connect(port);
        assert_eq!(rd.cmd(&["PING"]), b"+PONG\r\n");
        rd.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        assert_eq!(r.cmd(&["SET", "s", "x"]), b"+OK\r\n");
        let reply = rd.read_reply();
        if reply.windows(16).any(|w| w == b"no longer exists") {
            in_order += 1;
        } else {
            assert!(
                reply.starts_with(b"-WRONGTYPE"),
                "{}",
                String::from_utf8_lossy(&reply)
            );
        }
    }
    in_order
}

/// Requests that arrive together on two connections are served in arrival order, as Redis
/// serves them (some of Redis's own tests rely on it). They used to be served last-first
/// nearly every time: the runtime ran the last task woken by a poll of the sockets first. On
/// one worker thread the order is the scheduler's alone; on several, two threads may still
/// take one request each (see the README's differences), which is left to timing.
#[test]
fn requests_arriving_together_on_two_connections_are_served_in_order() {
    let rounds = 100;
    // Even on one thread a round now and then comes out of order (98-100 of 100 measured
    // with the other tests running; 48-52 before the change): a bound.
    let bound = rounds * 9 / 10;
    let s = Server::ferrymq_one_thread(&[]);
    let ours = served_in_sending_order(s.port, rounds);
    assert!(ours >= bound, "ferrymq served {ours} of {rounds} in order");
    if let Some(redis) = Server::redis(&[]) {
        let theirs = served_in_sending_order(redis.port, rounds);
        assert!(
            theirs >= bound,
            "redis-server served {theirs} of {rounds} in order"
        );
    }
}
