//! Stream family tests: the data structure's real memory cost, and (with the
//! server) command behaviour.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ferrymq::store::stream::{IdSpec, NodeLimits, Stream, StreamId};

/// Counts the bytes held by allocations made on the current thread, so a
/// measurement is not disturbed by tests running in parallel.
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.with(|h| h.set(h.get() + layout.size() as isize));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.with(|h| h.set(h.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.with(|h| h.set(h.get() + new_size as isize - layout.size() as isize));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn held() -> isize {
    HELD.with(|h| h.get())
}

/// redis-server 7.0.15 reports `MEMORY USAGE` = 12305080 bytes for 100k
/// `XADD F * f <100 bytes>` (123 bytes per entry); the requirement is to stay
/// within 1.2x of that. Allocator per-block overhead is not counted here, but
/// there are only ~2.8k blocks (one per node).
#[test]
fn bytes_per_entry_within_redis_budget() {
    let before = held();
    let mut s = Stream::new();
    let value = [b'x'; 100];
    let mut now = 1_700_000_000_000u64;
    for i in 0..100_000u64 {
        if i % 7 == 0 {
            now += 1;
        }
        s.append(
            IdSpec::Auto,
            &[(&b"f"[..], &value[..])],
            now,
            NodeLimits::default(),
        )
        .unwrap();
    }
    let per = (held() - before) as f64 / 100_000.0;
    eprintln!("stream: {per:.1} bytes per entry, {} nodes", s.node_count());
    assert!(per < 123.0 * 1.2, "{per} bytes per entry");
    assert_eq!(s.len(), 100_000);
    assert!(s.last_id() > StreamId::MIN);
}

// ---------------------------------------------------------------------------
// Scenarios against a running server.

mod common;

use common::{RawConn, Server, wait_for};
use redis::Value as V;
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn bulk(v: &V) -> Vec<u8> {
    match v {
        V::BulkString(b) => b.clone(),
        V::SimpleString(s) => s.clone().into_bytes(),
        other => panic!("not a string: {other:?}"),
    }
}

/// IDs of an XREADGROUP / XREAD reply (RESP2): `[[key, [[id, fields]...]]...]`.
fn read_ids(v: &V) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let V::Array(streams) = v {
        for s in streams {
            let V::Array(kv) = s else { panic!("{s:?}") };
            let V::Array(entries) = &kv[1] else {
                panic!("{kv:?}")
            };
            for e in entries {
                let V::Array(pair) = e else { panic!("{e:?}") };
                out.push(bulk(&pair[0]));
            }
        }
    }
    out
}

/// INFO `blocked_clients`. Asks for the clients section only: `INFO everything` (what
/// `common::info_field` sends) deadlocks the server at the moment (its persistence section
/// takes the store lock a second time).
fn blocked(conn: &mut RawConn) -> usize {
    let r = conn.cmd_s(&["INFO", "clients"]);
    r.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn two_consumers_process_100k_entries_exactly_once() {
    const N: usize = 100_000;
    let server = Server::ferrymq(&[]);
    let mut c = server.conn();
    redis::cmd("XGROUP")
        .arg(&["CREATE", "jobs", "workers", "$", "MKSTREAM"])
        .query::<()>(&mut c)
        .unwrap();
    let producer = {
        let client = server.client();
        std::thread::spawn(move || {
            let mut c = client.get_connection().unwrap();
            for chunk in 0..N / 1000 {
                let mut p = redis::pipe();
                for i in 0..1000 {
                    p.cmd("XADD")
                        .arg("jobs")
                        .arg("*")
                        .arg("n")
                        .arg(chunk * 1000 + i)
                        .ignore();
                }
                p.query::<()>(&mut c).unwrap();
            }
        })
    };
    let workers: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|name| {
            let client = server.client();
            std::thread::spawn(move || {
                let mut c = client.get_connection().unwrap();
                let mut seen = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut idle_rounds = 0;
                while Instant::now() < deadline {
                    let r: V = redis::cmd("XREADGROUP")
                        .arg(&["GROUP", "workers", name, "COUNT", "100", "BLOCK", "200"])
                        .arg(&["STREAMS", "jobs", ">"])
                        .query(&mut c)
                        .unwrap();
                    let ids = read_ids(&r);
                    if ids.is_empty() {
                        idle_rounds += 1;
                        // Nothing for a second after the producer finished: done.
                        if idle_rounds >= 5 {
                            break;
                        }
                        continue;
                    }
                    idle_rounds = 0;
                    let acked: i64 = redis::cmd("XACK")
                        .arg("jobs")
                        .arg("workers")
                        .arg(&ids)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(acked as usize, ids.len());
                    seen.extend(ids);
                }
                seen
            })
        })
        .collect();
    producer.join().unwrap();
    let mut all = HashSet::new();
    let mut total = 0;
    let mut per_worker = Vec::new();
    for w in workers {
        let seen = w.join().unwrap();
        per_worker.push(seen.len());
        total += seen.len();
        all.extend(seen);
    }
    assert_eq!(total, N, "per worker: {per_worker:?}");
    assert_eq!(all.len(), N, "an entry was delivered twice");
    assert!(per_worker.iter().all(|&n| n > 0), "{per_worker:?}");
    let pending: V = redis::cmd("XPENDING")
        .arg(&["jobs", "workers"])
        .query(&mut c)
        .unwrap();
    assert_eq!(pending, V::Array(vec![V::Int(0), V::Nil, V::Nil, V::Nil]));
    let len: i64 = redis::cmd("XLEN").arg("jobs").query(&mut c).unwrap();
    assert_eq!(len as usize, N);
}

#[test]
fn dead_consumer_entries_recovered_with_xautoclaim() {
    let server = Server::ferrymq(&[]);
    let mut c = server.raw();
    for i in 1..=5 {
        c.cmd(&["XADD", "q", &format!("{i}-0"), "job", &i.to_string()]);
    }
    c.cmd(&["XGROUP", "CREATE", "q", "g", "0"]);
    // The dying consumer takes everything and never acknowledges.
    let r = c.cmd_s(&["XREADGROUP", "GROUP", "g", "dead", "STREAMS", "q", ">"]);
    assert!(r.contains("5-0"), "{r}");
    c.cmd(&["XACK", "q", "g", "1-0"]);
    // Entries become claimable once idle for 50 ms; poll instead of sleeping.
    let mut claimed = String::new();
    assert!(wait_for(Duration::from_secs(5), || {
        claimed = c.cmd_s(&["XAUTOCLAIM", "q", "g", "rescuer", "50", "0", "COUNT", "10"]);
        claimed.contains("2-0")
    }));
    assert_eq!(
        claimed,
        "*3\r\n$3\r\n0-0\r\n*4\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$3\r\njob\r\n$1\r\n2\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$3\r\njob\r\n$1\r\n3\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$3\r\njob\r\n$1\r\n4\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$3\r\njob\r\n$1\r\n5\r\n*0\r\n"
    );
    // Delivery counts went up, ownership moved.
    let rows = c.cmd_s(&["XPENDING", "q", "g", "-", "+", "10"]);
    assert_eq!(rows.matches("rescuer").count(), 4, "{rows}");
    // Each row is id, consumer, idle ms, deliveries: the count is the field after the idle
    // time (which may itself be 2).
    let deliveries: Vec<&str> = rows
        .split("rescuer\r\n")
        .skip(1)
        .map(|rest| rest.split("\r\n").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(deliveries, vec![":2"; 4], "{rows}");
    assert!(!rows.contains("dead"));
    // A second claim by another consumer counts a third delivery.
    assert!(wait_for(Duration::from_secs(5), || {
        c.cmd_s(&["XCLAIM", "q", "g", "third", "50", "2-0", "JUSTID"])
            .contains("2-0")
    }));
    let rows = c.cmd_s(&["XPENDING", "q", "g", "2-0", "2-0", "1"]);
    assert!(rows.contains("third") && rows.ends_with(":2\r\n"), "{rows}");
    // Deleted entries are reported and dropped from the PEL.
    c.cmd(&["XDEL", "q", "3-0"]);
    let r = c.cmd_s(&["XAUTOCLAIM", "q", "g", "rescuer", "0", "0", "JUSTID"]);
    assert!(r.ends_with("*1\r\n$3\r\n3-0\r\n"), "{r}");
    assert!(c.cmd_s(&["XPENDING", "q", "g"]).starts_with("*4\r\n:3\r\n"));
}

#[test]
fn blocked_group_readers_on_several_streams_are_served_in_order() {
    let server = Server::ferrymq(&[]);
    let mut admin = server.raw();
    for k in ["s1", "s2"] {
        admin.cmd(&["XGROUP", "CREATE", k, "g", "$", "MKSTREAM"]);
    }
    let mut readers: Vec<RawConn> = (0..3).map(|_| server.raw()).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        let name = format!("c{i}");
        r.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            &name,
            "COUNT",
            "1",
            "BLOCK",
            "0",
            "STREAMS",
            "s1",
            "s2",
            ">",
            ">",
        ]);
        // Register one at a time so the arrival order is known.
        assert!(wait_for(Duration::from_secs(5), || blocked(&mut admin) == i + 1));
    }
    admin.cmd(&["XADD", "s2", "1-0", "f", "a"]);
    let first = readers[0].read_reply();
    assert_eq!(
        String::from_utf8_lossy(&first),
        "*1\r\n*2\r\n$2\r\ns2\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\na\r\n"
    );
    assert!(
        readers[1]
            .try_read_reply(Duration::from_millis(100))
            .is_none()
    );
    admin.cmd(&["XADD", "s1", "1-0", "f", "b"]);
    let second = String::from_utf8_lossy(&readers[1].read_reply()).into_owned();
    assert!(
        second.contains("s1") && second.contains("$1\r\nb\r\n"),
        "{second}"
    );
    assert!(
        readers[2]
            .try_read_reply(Duration::from_millis(100))
            .is_none()
    );
    // Destroying the group wakes the last reader with NOGROUP.
    admin.cmd(&["XGROUP", "DESTROY", "s1", "g"]);
    let third = String::from_utf8_lossy(&readers[2].read_reply()).into_owned();
    assert_eq!(
        third,
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    assert!(wait_for(Duration::from_secs(5), || blocked(&mut admin) == 0));
    // Each delivery is pending for the consumer that got it.
    let p = admin.cmd_s(&["XPENDING", "s2", "g", "-", "+", "10"]);
    assert!(p.contains("c0"), "{p}");
}

#[test]
fn xread_block_waits_for_new_entries_only() {
    let server = Server::ferrymq(&[]);
    let mut admin = server.raw();
    admin.cmd(&["XADD", "s", "1-0", "old", "x"]);
    let mut r = server.raw();
    r.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert!(wait_for(Duration::from_secs(5), || blocked(&mut admin) == 1));
    admin.cmd(&["XADD", "other", "1-0", "f", "v"]);
    assert!(r.try_read_reply(Duration::from_millis(100)).is_none());
    admin.cmd(&["XADD", "s", "2-0", "new", "y"]);
    assert_eq!(
        String::from_utf8_lossy(&r.read_reply()),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$3\r\nnew\r\n$1\r\ny\r\n"
    );
    // A deadline too far to represent waits indefinitely, as redis-server does.
    r.send(&["XREAD", "BLOCK", "9223372036854775807", "STREAMS", "s", "$"]);
    assert!(wait_for(Duration::from_secs(5), || blocked(&mut admin) == 1));
    admin.cmd(&["XADD", "s", "3-0", "k", "v"]);
    assert!(String::from_utf8_lossy(&r.read_reply()).contains("3-0"));
    // A timeout answers a null array (RESP2) / null (RESP3).
    assert_eq!(
        r.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
        b"*-1\r\n"
    );
    r.cmd(&["HELLO", "3"]);
    assert_eq!(
        r.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
        b"_\r\n"
    );
    // Inside MULTI a blocking read does not block.
    r.cmd(&["MULTI"]);
    r.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert_eq!(r.cmd(&["EXEC"]), b"*1\r\n_\r\n");
}

#[test]
fn maxlen_approx_keeps_the_stream_bounded() {
    let server = Server::ferrymq(&[]);
    let mut c = server.conn();
    let mut max_seen = 0;
    for round in 0..20 {
        let mut p = redis::pipe();
        for i in 0..1000 {
            p.cmd("XADD")
                .arg(&["log", "MAXLEN", "~", "1000", "*", "i"])
                .arg(round * 1000 + i)
                .ignore();
        }
        p.query::<()>(&mut c).unwrap();
        let len: usize = redis::cmd("XLEN").arg("log").query(&mut c).unwrap();
        max_seen = max_seen.max(len);
        assert!(len >= 1000, "{len}");
    }
    // `~` only drops whole nodes (at most 100 entries each).
    assert!(max_seen < 1100, "{max_seen}");
    let info: V = redis::cmd("XINFO")
        .arg(&["STREAM", "log"])
        .query(&mut c)
        .unwrap();
    let V::Array(kv) = info else { panic!() };
    let added = kv
        .iter()
        .position(|v| *v == V::BulkString(b"entries-added".to_vec()))
        .unwrap();
    assert_eq!(kv[added + 1], V::Int(20_000));
}

#[test]
fn waiters_when_the_stream_key_is_replaced() {
    // redis-server 7.0.15: `SET s x` over a stream unblocks a group reader with UNBLOCKED,
    // while a plain XREAD reader keeps waiting.
    let server = Server::ferrymq(&[]);
    let mut admin = server.raw();
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    admin.cmd(&["XADD", "t", "1-0", "f", "v"]);
    let mut group_reader = server.raw();
    group_reader.send(&[
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
    assert!(wait_for(Duration::from_secs(5), || blocked(&mut admin) == 1));
    let mut plain_reader = server.raw();
    plain_reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "t", "$"]);
    assert!(wait_for(Duration::from_secs(5), || blocked(&mut admin) == 2));
    admin.cmd(&["SET", "s", "x"]);
    assert_eq!(
        group_reader.read_reply(),
        b"-UNBLOCKED the stream key no longer exists\r\n"
    );
    admin.cmd(&["SET", "t", "x"]);
    assert!(
        plain_reader
            .try_read_reply(Duration::from_millis(100))
            .is_none()
    );
    assert_eq!(blocked(&mut admin), 1);
    admin.cmd(&["DEL", "t"]);
    admin.cmd(&["XADD", "t", "5-0", "f", "new"]);
    let r = String::from_utf8_lossy(&plain_reader.read_reply()).into_owned();
    assert!(r.contains("5-0") && r.contains("new"), "{r}");
}

/// redis-server 7.0.15: delivering 100k entries to one consumer raises `used_memory` by
/// 84 bytes per pending entry (group PEL + consumer PEL). We store 16-byte pending entries
/// in two B-trees; entry plus pending entry together stay below Redis's 123 + 84.
#[test]
fn bytes_per_pending_entry() {
    use ferrymq::store::stream::INVALID_ENTRIES_READ;
    let mut s = Stream::new();
    for i in 1..=100_000u64 {
        s.append(
            IdSpec::Exact(StreamId::new(i, 0)),
            &[(&b"f"[..], &b"v"[..])],
            0,
            NodeLimits::default(),
        )
        .unwrap();
    }
    s.create_group(b"g", StreamId::MIN, INVALID_ENTRIES_READ);
    let ids: Vec<StreamId> = s
        .range(StreamId::MIN, StreamId::MAX)
        .map(|e| e.id)
        .collect();
    let before = held();
    s.deliver_new(b"g", b"consumer", &ids, 1, false);
    let per = (held() - before) as f64 / 100_000.0;
    eprintln!("pending: {per:.1} bytes per entry");
    assert!(per < 84.0 * 1.2, "{per} bytes per pending entry");
    assert_eq!(s.group(b"g").unwrap().pending_len(), 100_000);
}

/// Arbitrary argument lists for every stream command never crash or wedge the server.
#[test]
fn random_arguments_never_break_the_server() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let server = Server::ferrymq(&[]);
    let conn = std::cell::RefCell::new(server.raw());
    let words = prop_oneof![
        Just("s".to_string()),
        Just("g".to_string()),
        Just("c".to_string()),
        Just("*".to_string()),
        Just("$".to_string()),
        Just(">".to_string()),
        Just("-".to_string()),
        Just("+".to_string()),
        Just("(".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551615-18446744073709551615".to_string()),
        Just("9223372036854775807".to_string()),
        Just("~".to_string()),
        Just("=".to_string()),
        prop_oneof![
            Just("MAXLEN"),
            Just("MINID"),
            Just("LIMIT"),
            Just("NOMKSTREAM"),
            Just("COUNT"),
            Just("BLOCK"),
            Just("STREAMS"),
            Just("GROUP"),
            Just("NOACK"),
            Just("IDLE"),
            Just("TIME"),
            Just("RETRYCOUNT"),
            Just("FORCE"),
            Just("JUSTID"),
            Just("LASTID"),
            Just("MKSTREAM"),
            Just("ENTRIESREAD"),
            Just("ENTRIESADDED"),
            Just("MAXDELETEDID"),
            Just("FULL"),
            Just("CREATE"),
            Just("SETID"),
            Just("DESTROY"),
            Just("CREATECONSUMER"),
            Just("DELCONSUMER"),
            Just("STREAM"),
            Just("GROUPS"),
            Just("CONSUMERS"),
            Just("HELP"),
            Just("CLAIM"),
            Just("IDMP"),
            Just("IDMPAUTO"),
            Just("IDMP-DURATION"),
            Just("IDMP-MAXSIZE"),
            Just("SILENT"),
            Just("FAIL"),
            Just("FATAL"),
            Just("IDS"),
            Just("CONFIG"),
            Just("LOAD"),
            Just("ADD"),
            Just("DUP"),
        ]
        .prop_map(|s| s.to_string()),
        (0u64..20, 0u64..3).prop_map(|(a, b)| format!("{a}-{b}")),
        "[ -~]{0,6}",
    ];
    let cmd = prop_oneof![
        Just("XADD"),
        Just("XLEN"),
        Just("XRANGE"),
        Just("XREVRANGE"),
        Just("XDEL"),
        Just("XTRIM"),
        Just("XSETID"),
        Just("XREAD"),
        Just("XREADGROUP"),
        Just("XACK"),
        Just("XPENDING"),
        Just("XCLAIM"),
        Just("XAUTOCLAIM"),
        Just("XGROUP"),
        Just("XINFO"),
        Just("XCFGSET"),
        Just("XNACK"),
        Just("FMQ.IDMP"),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (cmd, proptest::collection::vec(words, 0..9));
    runner
        .run(&strategy, |(name, args)| {
            let mut argv = vec![name.to_string()];
            argv.extend(args);
            // A blocking read could legitimately wait forever: never block here.
            for a in argv.iter_mut() {
                if a.eq_ignore_ascii_case("BLOCK") {
                    *a = "COUNT".into();
                }
            }
            let mut c = conn.borrow_mut();
            let reply = c.cmd(&argv);
            prop_assert!(!reply.is_empty());
            Ok(())
        })
        .unwrap();
    let mut c = conn.borrow_mut();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn flushall_unblocks_group_readers_only() {
    // redis-server 7.0.15: FLUSHALL answers a blocked XREADGROUP with UNBLOCKED; a blocked
    // XREAD keeps waiting.
    let server = Server::ferrymq(&[]);
    let mut admin = server.raw();
    admin.cmd(&["XGROUP", "CREATE", "fs", "g", "$", "MKSTREAM"]);
    let mut group_reader = server.raw();
    group_reader.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "fs",
        ">",
    ]);
    let mut plain_reader = server.raw();
    plain_reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "fs2", "$"]);
    assert!(wait_for(Duration::from_secs(5), || blocked(&mut admin) == 2));
    admin.cmd(&["FLUSHALL"]);
    assert_eq!(
        group_reader.read_reply(),
        b"-UNBLOCKED the stream key no longer exists\r\n"
    );
    assert!(
        plain_reader
            .try_read_reply(Duration::from_millis(100))
            .is_none()
    );
    assert_eq!(blocked(&mut admin), 1);
}
