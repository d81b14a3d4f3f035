//! The per-key access clock: OBJECT IDLETIME grows while a key is left alone, only real
//! accesses reset it (not TTL, TYPE, EXISTS, OBJECT or MEMORY USAGE), RESTORE's IDLETIME and
//! FREQ set it under the matching policy, and OBJECT FREQ counts accesses under LFU. Each check
//! runs on ferrymq and on redis-server (when present), with the same expectations.

mod common;
use common::{RawConn, Server, wait_for};
use std::time::Duration;

fn int(r: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(r);
    s.trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("not an integer reply: {s:?}"))
}

fn idle(c: &mut RawConn, key: &str) -> i64 {
    int(&c.cmd(&["OBJECT", "IDLETIME", key]))
}

fn servers() -> Vec<(&'static str, Server)> {
    let mut v = vec![("ferrymq", Server::ferrymq(&[]))];
    if let Some(r) = Server::redis(&[]) {
        v.push(("redis", r));
    }
    v
}

/// Redis's introspection-2 "TTL, TYPE and EXISTS do not alter the last access time of a key"
/// and "TOUCH alters the last access time of a key".
#[test]
fn only_real_accesses_reset_the_idle_time() {
    for (name, s) in servers() {
        let mut c = s.raw();
        c.cmd(&["SET", "foo", "bar"]);
        c.cmd(&["SET", "other", "x"]);
        assert!(
            wait_for(Duration::from_secs(6), || idle(&mut c, "foo") >= 2),
            "{name}: idle time never grew"
        );
        c.cmd(&["TTL", "foo"]);
        c.cmd(&["PTTL", "foo"]);
        c.cmd(&["TYPE", "foo"]);
        c.cmd(&["EXISTS", "foo"]);
        c.cmd(&["OBJECT", "ENCODING", "foo"]);
        c.cmd(&["MEMORY", "USAGE", "foo"]);
        assert!(
            idle(&mut c, "foo") >= 2,
            "{name}: a no-touch lookup reset it"
        );
        assert_eq!(c.cmd(&["TOUCH", "foo", "nokey"]), b":1\r\n");
        assert!(idle(&mut c, "foo") < 2, "{name}: TOUCH did not reset it");
        // `other` was set just after `foo`: its idle time may reach 2 one clock tick later.
        assert!(
            wait_for(Duration::from_secs(3), || idle(&mut c, "other") >= 2),
            "{name}: idle time of other never grew"
        );
        c.cmd(&["GET", "other"]);
        assert!(idle(&mut c, "other") < 2, "{name}: GET did not reset it");
        // DEBUG OBJECT reports the same age.
        c.cmd(&["CONFIG", "SET", "lfu-log-factor", "10"]);
        assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "nokey"]), b"$-1\r\n");
    }
}

/// Redis's dump.tcl "RESTORE can set LRU" / "RESTORE can set LFU", and OBJECT FREQ under LFU.
#[test]
fn restore_sets_idle_time_and_frequency_under_their_policies() {
    for (name, s) in servers() {
        let mut c = s.raw();
        c.cmd(&["SET", "foo", "bar"]);
        let dump = c.cmd(&["DUMP", "foo"]);
        let payload = {
            // $<len>\r\n<payload>\r\n
            let start = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
            dump[start..dump.len() - 2].to_vec()
        };
        // Under noeviction as under an LRU policy, IDLETIME applies; FREQ is ignored.
        c.cmd(&["DEL", "foo"]);
        let r = c.cmd(&[
            b"RESTORE".as_slice(),
            b"foo",
            b"0",
            &payload,
            b"IDLETIME",
            b"500",
        ]);
        assert_eq!(r, b"+OK\r\n", "{name}");
        let i = idle(&mut c, "foo");
        assert!((500..510).contains(&i), "{name}: idle {i}");

        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
        c.cmd(&["DEL", "foo"]);
        c.cmd(&[
            b"RESTORE".as_slice(),
            b"foo",
            b"0",
            &payload,
            b"IDLETIME",
            b"1000",
        ]);
        let i = idle(&mut c, "foo");
        assert!((1000..1010).contains(&i), "{name}: idle {i}");
        assert!(
            String::from_utf8_lossy(&c.cmd(&["OBJECT", "FREQ", "foo"]))
                .starts_with("-ERR An LFU maxmemory policy is not selected"),
            "{name}"
        );

        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
        c.cmd(&["DEL", "foo"]);
        c.cmd(&[
            b"RESTORE".as_slice(),
            b"foo",
            b"0",
            &payload,
            b"FREQ",
            b"100",
        ]);
        assert_eq!(int(&c.cmd(&["OBJECT", "FREQ", "foo"])), 100, "{name}");
        assert!(
            String::from_utf8_lossy(&c.cmd(&["OBJECT", "IDLETIME", "foo"]))
                .starts_with("-ERR An LFU maxmemory policy is selected, idle time not tracked"),
            "{name}"
        );
        // A new key starts at 5; with log factor 0 every access counts.
        c.cmd(&["CONFIG", "SET", "lfu-log-factor", "0"]);
        c.cmd(&["SET", "hot", "v"]);
        assert_eq!(int(&c.cmd(&["OBJECT", "FREQ", "hot"])), 5, "{name}");
        for _ in 0..10 {
            c.cmd(&["GET", "hot"]);
        }
        // EXISTS and OBJECT do not count.
        c.cmd(&["EXISTS", "hot"]);
        assert_eq!(int(&c.cmd(&["OBJECT", "FREQ", "hot"])), 15, "{name}");
    }
}
