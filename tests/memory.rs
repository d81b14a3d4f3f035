//! Memory that goes back: idle connections give their buffers back, deleted keys give their
//! table back, MEMORY PURGE, and the INFO memory figures that show it.

mod common;

use common::{RawConn, Server, info_field, wait_for};
use std::time::Duration;

fn client_field(list: &str, name: &str, field: &str) -> Option<String> {
    list.lines()
        .find(|l| l.contains(&format!(" name={name} ")))?
        .split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")).map(str::to_string))
}

/// A client idle for more than two seconds holds no query buffer: CLIENT LIST shows
/// `qbuf=0 qbuf-free=0`, on redis-server (clientsCronResizeQueryBuffer) as on ferrymq. Its
/// next request is served as usual.
#[test]
fn an_idle_connection_gives_its_query_buffer_back() {
    let mut servers = vec![Server::ferrymq(&[])];
    servers.extend(Server::redis(&[]));
    for s in &servers {
        let mut idle = s.raw();
        assert_eq!(idle.cmd_s(&["CLIENT", "SETNAME", "sleeper"]), "+OK\r\n");
        assert_eq!(idle.cmd_s(&["PING"]), "+PONG\r\n");
        let mut admin = s.raw();
        let list = || String::from_utf8(admin.cmd(&["CLIENT", "LIST"])).unwrap();
        let mut admin_list = list;
        assert!(
            wait_for(Duration::from_secs(10), || {
                let l = admin_list();
                client_field(&l, "sleeper", "qbuf-free").as_deref() == Some("0")
                    && client_field(&l, "sleeper", "qbuf").as_deref() == Some("0")
            }),
            "{}: {}",
            s.name,
            admin_list()
        );
        assert_eq!(idle.cmd_s(&["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(idle.cmd_s(&["GET", "k"]), "$1\r\nv\r\n");
        // A request bigger than the few bytes an idle connection waits with.
        let big = "x".repeat(100_000);
        assert_eq!(idle.cmd_s(&["SET", "big", &big]), "+OK\r\n");
        assert_eq!(idle.cmd_s(&["STRLEN", "big"]), ":100000\r\n");
    }
}

fn used_memory(c: &mut RawConn) -> i64 {
    info_field(c, "used_memory").unwrap().parse().unwrap()
}

/// Pipeline `cmds` and read every reply.
fn pipeline(c: &mut RawConn, cmds: impl Iterator<Item = Vec<String>>) {
    let mut n = 0;
    let mut bytes = Vec::new();
    for cmd in cmds {
        bytes.extend(common::encode_cmd(&cmd));
        n += 1;
    }
    c.send_raw(&bytes);
    for _ in 0..n {
        c.read_reply();
    }
}

/// 100 000 keys written then deleted one by one: the keyspace gives its table back (used
/// memory returns near where it started), and MEMORY PURGE answers OK.
#[test]
fn deleted_keys_give_their_memory_back() {
    let s = Server::ferrymq(&[]);
    let mut c = s.raw();
    let base = used_memory(&mut c);
    let n = 100_000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        pipeline(
            &mut c,
            chunk
                .iter()
                .map(|i| vec!["SET".into(), format!("key:{i}"), format!("value:{i}")]),
        );
    }
    let full = used_memory(&mut c);
    assert!(full - base > 5 << 20, "{base} -> {full}");
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        pipeline(
            &mut c,
            chunk.iter().map(|i| vec!["DEL".into(), format!("key:{i}")]),
        );
    }
    assert_eq!(c.cmd_s(&["DBSIZE"]), ":0\r\n");
    let after = used_memory(&mut c);
    assert!(
        after - base < (full - base) / 10,
        "base {base}, full {full}, after deleting {after}"
    );
    assert_eq!(c.cmd_s(&["MEMORY", "PURGE"]), "+OK\r\n");
    for f in [
        "allocator_frag_ratio",
        "allocator_rss_ratio",
        "rss_overhead_ratio",
        "mem_fragmentation_ratio",
    ] {
        let v: f64 = info_field(&mut c, f).unwrap().parse().unwrap();
        assert!(v > 0.0, "{f}={v}");
    }
}

/// The query buffer's size as CLIENT LIST shows it (`qbuf + qbuf-free`), on both servers: the
/// basic 16 KiB read buffer after a small request; after a 400 KB request it is still big
/// (Redis shrinks it in its cron, from the peak), and a smaller request brings it back down.
#[test]
fn query_buffer_size_follows_the_requests() {
    let mut servers = vec![Server::ferrymq(&[])];
    servers.extend(Server::redis(&[]));
    for s in &servers {
        let mut c = s.raw();
        assert_eq!(c.cmd_s(&["CLIENT", "SETNAME", "qb"]), "+OK\r\n");
        let mut admin = s.raw();
        let mut size = || {
            let l = String::from_utf8(admin.cmd(&["CLIENT", "LIST"])).unwrap();
            let n = |f| -> usize { client_field(&l, "qb", f).unwrap().parse().unwrap() };
            n("qbuf") + n("qbuf-free")
        };
        let first = size();
        assert!((16384..32768).contains(&first), "{}: {first}", s.name);
        assert_eq!(c.cmd_s(&["SET", "x", &"A".repeat(400_000)]), "+OK\r\n");
        let big = size();
        assert!(big > 32768, "{}: {big}", s.name);
        assert!(
            wait_for(Duration::from_secs(5), || {
                assert_eq!(c.cmd_s(&["SET", "x", "small"]), "+OK\r\n");
                let now = size();
                now > 0 && now < big
            }),
            "{}",
            s.name
        );
    }
}
