//! Differential tests of the introspection commands against redis-server: MONITOR's lines,
//! DEBUG OBJECT, LOLWUT, INFO latencystats, CLIENT LIST's buffer fields.

mod common;
use common::{Diff, RawConn, info_field, wait_for};
use std::time::Duration;

/// A MONITOR line without its timestamp and client port (they differ between the servers).
fn monitor_line(frame: &[u8]) -> String {
    let s = String::from_utf8_lossy(frame).into_owned();
    let s = s
        .split_once(' ')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(s);
    match (s.find(':'), s.find(']')) {
        (Some(c), Some(b)) if c < b && s.starts_with("[") => format!("{}{}", &s[..c], &s[b..]),
        _ => s,
    }
}

fn monitor_lines(conn: &mut RawConn) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(f) = conn.try_read_reply(Duration::from_millis(300)) {
        out.push(monitor_line(&f));
    }
    out
}

/// What MONITOR shows: each command once it has run, in the database it left selected; the
/// commands a script or function runs as `[db lua]`, after the EVAL/FCALL line; EXEC after the
/// commands it ran; no ADMIN command.
#[test]
fn monitor_lines_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    let mut mon_r = d.rs.raw();
    let mut mon_f = d.fm.raw();
    for m in [&mut mon_r, &mut mon_f] {
        assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    }
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mlib\nredis.register_function('mf', function(k, a) \
         return redis.call('ping') end)",
    ]);
    d.script(&[
        &["MULTI"],
        &["SET", "a", "1"],
        &["SELECT", "4"],
        &["GET", "a"],
        &["EXEC"],
        &["CONFIG", "GET", "maxmemory"],
        &["BLPOP", "nolist", "0.01"],
        &["CLIENT", "SETNAME", "x"],
        &[
            "EVAL",
            "redis.call('select',5) redis.call('set','z',1) return redis.call('get','a')",
            "0",
        ],
        &["EVAL", "return redis.call('config','get','maxmemory')", "0"],
        &["EVAL", "return 1", "-1"],
        &["FCALL", "mf", "0"],
        &["SELECT", "9"],
        &["SET", "k\n\"", "\x01"],
        &["MULTI"],
        &["EVAL", "return redis.call('ping')", "0"],
        &["EXEC"],
    ]);
    let r = monitor_lines(&mut mon_r);
    let f = monitor_lines(&mut mon_f);
    assert!(r.iter().any(|l| l.contains("[5 lua] \"set\"")), "{r:?}");
    assert_eq!(r, f);
}

/// DEBUG OBJECT's line with the address and LRU fields blanked (they depend on the process).
fn debug_object_norm(r: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(r);
    s.split(' ')
        .map(|w| {
            for f in ["at:", "lru:", "lru_seconds_idle:"] {
                if let Some(rest) = w.strip_prefix(f) {
                    let tail = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
                    return format!("{f}_{tail}");
                }
            }
            w.to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
}

/// DEBUG OBJECT: refused without enable-debug-command (same text as Redis), then the same
/// fields, encodings, refcounts and (for these small values) serialized lengths and quicklist
/// layout as redis-server.
#[test]
fn debug_object_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["SET", "s", "hello"]);
    d.cmd(&["DEBUG", "OBJECT", "s"]);
    drop(d);
    let Some(mut d) = Diff::with_args(&["--enable-debug-command", "yes"]) else {
        return;
    };
    d.script(&[
        &["SET", "s", "hello"],
        &["SET", "n", "12345"],
        &["SET", "m", "5"],
        &["SET", "raw", &"r".repeat(50)],
        &[
            "RPUSH",
            "l",
            "a",
            "b",
            "1",
            "300",
            "-5000",
            "70000",
            "9999999999",
        ],
        &["HSET", "h", "a", "1", "field", "value"],
        &["SADD", "ints", "1", "2", "-40000"],
        &["SADD", "strs", "a", "b"],
        &["DEBUG", "OBJECT", "nokey"],
        &["DEBUG", "OBJECT"],
        &["DEBUG", "OBJECT", "a", "b"],
        &["OBJECT", "REFCOUNT", "n"],
        &["OBJECT", "REFCOUNT", "m"],
    ]);
    for k in ["s", "n", "m", "l", "h", "ints", "strs"] {
        d.cmd_norm(&["DEBUG", "OBJECT", k], debug_object_norm);
    }
    // A list of several nodes (Redis fixes a list's compression when it creates it).
    d.cmd(&["CONFIG", "SET", "list-compress-depth", "1"]);
    let big = "x".repeat(1000);
    for _ in 0..20 {
        d.cmd(&["RPUSH", "biglist", &big]);
    }
    let r = d.redis.cmd(&["DEBUG", "OBJECT", "biglist"]);
    let f = d.ferry.cmd(&["DEBUG", "OBJECT", "biglist"]);
    let layout = |r: &[u8]| {
        let s = String::from_utf8_lossy(r).into_owned();
        s[s.find("ql_nodes").expect("ql fields")..].to_string()
    };
    assert_eq!(layout(&r), layout(&f));
}

/// LOLWUT: Redis 7.0's own version prints only the version (compared byte for byte); the
/// drawings of versions 5 and 6 are random, so their size, their deterministic top rows
/// (version 5) and their captions are compared.
#[test]
fn lolwut_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["COMMAND", "INFO", "LOLWUT"]);
    d.cmd(&["LOLWUT"]);
    // RESP3: a verbatim string.
    d.resp3();
    d.script(&[
        &["LOLWUT"],
        &["LOLWUT", "1", "2", "3"],
        &["LOLWUT", "VERSION", "7"],
        &["LOLWUT", "VERSION"],
        &["LOLWUT", "VERSION", "x"],
        &["LOLWUT", "VERSION", "-1"],
        &["LOLWUT", "VERSION", "4"],
        &["LOLWUT", "VERSION", "5", "x"],
        &["LOLWUT", "VERSION", "6", "10", "x"],
        &["LOLWUT", "VERSION", "5", "0", "0", "0"],
        &["LOLWUT", "VERSION", "6", "1", "1"],
    ]);
    let lines = |r: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(r)
            .lines()
            .map(str::to_string)
            .collect()
    };
    for args in [
        &["LOLWUT", "VERSION", "5"][..],
        &["LOLWUT", "VERSION", "5", "30", "4", "3"],
    ] {
        let r = lines(&d.redis.cmd(args));
        let f = lines(&d.ferry.cmd(args));
        assert_eq!(r.len(), f.len(), "{args:?}");
        // The first rows of squares are neither rotated nor moved.
        assert_eq!(r[..4], f[..4], "{args:?}");
        assert_eq!(r.last(), f.last(), "{args:?}");
    }
    for args in [
        &["LOLWUT", "VERSION", "6"][..],
        &["LOLWUT", "VERSION", "6", "30", "7"],
    ] {
        let r = lines(&d.redis.cmd(args));
        let f = lines(&d.ferry.cmd(args));
        assert_eq!(r.len(), f.len(), "{args:?}");
        let cells = |l: &String| l.matches("\x1b[0m").count();
        for (a, b) in r.iter().zip(&f) {
            assert_eq!(cells(a), cells(b), "{args:?}");
        }
        assert_eq!(r[r.len() - 2..], f[f.len() - 2..], "{args:?}");
    }
}

/// `latency_percentiles_usec_<name>` lines of INFO LATENCYSTATS: name -> [(label, value)].
fn latency_lines(info: &[u8]) -> Vec<(String, Vec<(String, String)>)> {
    String::from_utf8_lossy(info)
        .lines()
        .filter_map(|l| l.strip_prefix("latency_percentiles_usec_"))
        .map(|l| {
            let (name, rest) = l.split_once(':').expect("name:values");
            let values = rest
                .split(',')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').expect("pN=value");
                    (k.to_string(), v.to_string())
                })
                .collect();
            (name.to_string(), values)
        })
        .collect()
}

/// A value Redis's HDR histogram can print: the top of a bucket of 1 ns .. 1 s with two
/// significant digits, in microseconds with three decimals.
fn is_bucket_top(v: &str) -> bool {
    let Some((int, frac)) = v.split_once('.') else {
        return false;
    };
    let Ok(ns) = format!("{int}{frac}").parse::<u64>() else {
        return false;
    };
    let width = if ns < 256 {
        1
    } else {
        1u64 << (63 - (ns | 255).leading_zeros() - 7)
    };
    frac.len() == 3 && (ns + 1) % width == 0
}

/// INFO LATENCYSTATS: the same section, commands, percentile labels and value format as
/// redis-server (the durations themselves differ); `latency-tracking no` leaves the header
/// alone; CONFIG RESETSTAT forgets the commands called before.
#[test]
fn latencystats_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&["CONFIG", "RESETSTAT"]);
    for i in 0..50 {
        d.cmd(&["SET", "k", &i.to_string()]);
        d.cmd(&["GET", "k"]);
    }
    d.cmd(&["CONFIG", "GET", "maxmemory"]);
    d.cmd(&["EVAL", "return redis.call('incr','n')", "0"]);
    let names = |lines: &[(String, Vec<(String, String)>)]| {
        let mut v: Vec<String> = lines.iter().map(|l| l.0.clone()).collect();
        v.sort();
        v
    };
    let r = latency_lines(&d.redis.cmd(&["INFO", "latencystats"]));
    let f = latency_lines(&d.ferry.cmd(&["INFO", "latencystats"]));
    assert_eq!(names(&r), names(&f));
    assert!(names(&f).contains(&"incr".to_string()), "{f:?}");
    for (_, values) in f.iter().chain(&r) {
        let labels: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(labels, ["p50", "p99", "p99.9"]);
        for (_, v) in values {
            assert!(is_bucket_top(v), "{v} in {values:?}");
        }
    }
    d.cmd(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "0 50.5 100",
    ]);
    let r = latency_lines(&d.redis.cmd(&["INFO", "everything"]));
    let f = latency_lines(&d.ferry.cmd(&["INFO", "everything"]));
    assert_eq!(names(&r), names(&f));
    for (_, values) in f.iter().chain(&r) {
        let labels: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(labels, ["p0", "p50.5", "p100"]);
    }
    d.cmd(&["CONFIG", "SET", "latency-tracking", "no"]);
    d.cmd(&["INFO", "latencystats"]);
    d.cmd(&["CONFIG", "SET", "latency-tracking", "yes"]);
    d.cmd(&["CONFIG", "RESETSTAT"]);
    let r = latency_lines(&d.redis.cmd(&["INFO", "latencystats"]));
    let f = latency_lines(&d.ferry.cmd(&["INFO", "latencystats"]));
    assert_eq!(names(&r), ["config|resetstat"]);
    assert_eq!(names(&r), names(&f));
}

/// CLIENT LIST / CLIENT INFO up to `resp=` with the process-dependent values blanked, keeping
/// `qbuf` (the query buffer: the whole read batch while it runs) and `argv-mem`.
fn client_norm(r: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(r);
    let keep = [
        "flags",
        "db",
        "sub",
        "psub",
        "ssub",
        "multi",
        "qbuf",
        "argv-mem",
        "multi-mem",
    ];
    let keep = keep
        .iter()
        .chain(&["obl", "oll", "omem", "events", "cmd", "redir", "resp"]);
    let keep: Vec<&str> = keep.copied().collect();
    s.lines()
        .map(|l| {
            let l = l.trim_start_matches(|c: char| !c.is_ascii_lowercase());
            let mut out = Vec::new();
            for w in l.split(' ') {
                let (k, v) = w.split_once('=').unwrap_or((w, ""));
                out.push(if keep.contains(&k) {
                    format!("{k}={v}")
                } else {
                    format!("{k}=*")
                });
                if k == "resp" {
                    break;
                }
            }
            out.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

/// CLIENT LIST/INFO: `qbuf` is 26 for `CLIENT LIST` sent alone (the test of Redis's
/// introspection suite), grows with the commands pipelined before it, and is 0 for an idle
/// client; `argv-mem` counts the running command's arguments.
#[test]
fn client_list_buffers_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    // The connection that probed the server at start-up may still be listed for a moment.
    for conn in [&mut d.redis, &mut d.ferry] {
        assert!(wait_for(Duration::from_secs(5), || {
            conn.cmd_s(&["CLIENT", "LIST"]).matches("id=").count() == 1
        }));
    }
    d.cmd_norm(&["CLIENT", "LIST"], client_norm);
    d.cmd_norm(&["CLIENT", "INFO"], client_norm);
    let mut idle_r = d.rs.raw();
    let mut idle_f = d.fm.raw();
    for c in [&mut idle_r, &mut idle_f] {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
    // ferrymq accounts a written reply just after the write that the client may already have
    // read: wait until the idle client's output buffer shows empty.
    assert!(wait_for(Duration::from_secs(5), || {
        let l = d.ferry.cmd_s(&["CLIENT", "LIST", "TYPE", "normal"]);
        l.lines()
            .filter(|l| l.contains("cmd=ping"))
            .all(|l| l.contains(" obl=0 "))
    }));
    d.cmd_norm(&["CLIENT", "LIST", "TYPE", "normal"], |r| {
        let mut v = String::from_utf8_lossy(&client_norm(r)).into_owned();
        // Both list the idle client after this one (ids ascending).
        v.push('\n');
        v.into_bytes()
    });
    let pipelined = b"*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n";
    d.redis.send_raw(pipelined);
    d.ferry.send_raw(pipelined);
    for conn in [&mut d.redis, &mut d.ferry] {
        assert_eq!(conn.read_reply(), b"+PONG\r\n");
    }
    let r = client_norm(&d.redis.read_reply());
    let f = client_norm(&d.ferry.read_reply());
    assert_eq!(String::from_utf8_lossy(&r), String::from_utf8_lossy(&f));
    assert!(String::from_utf8_lossy(&f).contains("qbuf=40 "), "{f:?}");
}

/// Secrets never reach MONITOR or SLOWLOG: AUTH's arguments, HELLO's AUTH pair, ACL SETUSER's
/// arguments and the value of CONFIG SET masterauth/requirepass are shown as `(redacted)`,
/// as Redis shows them.
#[test]
fn secrets_are_redacted_in_monitor_and_slowlog() {
    let Some(mut d) = Diff::new() else { return };
    let mut mon_r = d.rs.raw();
    let mut mon_f = d.fm.raw();
    for m in [&mut mon_r, &mut mon_f] {
        assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    }
    d.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    d.cmd(&["SLOWLOG", "RESET"]);
    d.script(&[
        &["ACL", "SETUSER", "slowlog test user", "+get", "+set"],
        &["CONFIG", "SET", "masterauth", ""],
        &["ACL", "SETUSER", "slowlog-test-user", "+get", "+set"],
        &["AUTH", "not-real"],
        &["AUTH", "not-real", "not-a-password"],
        &["HELLO", "2", "AUTH", "not-real", "not-a-password"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
    ]);
    // The argument lists of the slowlog entries (ids, times and clients differ).
    let args = |reply: redis::Value| -> Vec<redis::Value> {
        match reply {
            redis::Value::Array(entries) => entries
                .into_iter()
                .map(|e| match e {
                    redis::Value::Array(f) => f[3].clone(),
                    other => other,
                })
                .collect(),
            other => vec![other],
        }
    };
    let get = |s: &common::Server| -> redis::Value {
        redis::cmd("SLOWLOG")
            .arg("GET")
            .query(&mut s.conn())
            .unwrap()
    };
    // MONITOR first: the client that reads SLOWLOG below announces itself with CLIENT
    // SETINFO, which only ferrymq (like Redis 7.2) accepts and shows.
    let (r, f) = (monitor_lines(&mut mon_r), monitor_lines(&mut mon_f));
    assert!(r.iter().any(|l| l.contains("(redacted)")), "{r:?}");
    assert_eq!(f, r);
    let (r, f) = (args(get(&d.rs)), args(get(&d.fm)));
    assert!(format!("{r:?}").contains("redacted"), "{r:?}");
    assert_eq!(f, r);
}

/// COMMAND INFO and COMMAND DOCS of every command ferrymq has, in RESP2 and RESP3, byte for
/// byte as redis-server (RESP3 shows flags, ACL categories, tips, key specs, subcommands and
/// docs' history and argument flags as sets). A container is compared through each of its
/// subcommands: Redis lists a container's subcommands in its dictionary's (random) order.
#[test]
fn command_info_and_docs_match_redis_in_both_protocols() {
    let Some(mut d) = Diff::new() else { return };
    let list = String::from_utf8(d.ferry.cmd(&["COMMAND", "LIST"])).unwrap();
    let names: Vec<String> = list
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with(['*', '$']))
        .map(str::to_string)
        .collect();
    assert!(names.len() > 100, "{list}");
    let containers: Vec<&str> = names
        .iter()
        .filter_map(|n| n.split_once('|').map(|(c, _)| c))
        .collect();
    for resp3 in [false, true] {
        if resp3 {
            d.resp3();
        }
        for n in names.iter().filter(|n| !containers.contains(&n.as_str())) {
            // Commands of later Redis versions (CLIENT NO-TOUCH, CLIENT SETINFO) that 7.0 does
            // not know.
            let r = d.redis.cmd(&["COMMAND", "INFO", n]);
            if r == b"*1\r\n$-1\r\n" || r == b"*1\r\n_\r\n" {
                continue;
            }
            d.cmd(&["COMMAND", "INFO", n]);
            d.cmd(&["COMMAND", "DOCS", n]);
        }
        d.cmd(&["COMMAND", "INFO", "get", "nosuch", "set"]);
        d.cmd(&["COMMAND", "DOCS", "get", "nosuch", "set"]);
        d.cmd(&["COMMAND", "DOCS", "nosuch"]);
    }
}

/// The names in a COMMAND LIST reply, sorted.
fn sorted_names(reply: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(reply)
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with(['*', '$']))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// CLUSTER (every subcommand of Redis 7.0), READONLY, READWRITE and ASKING as a redis-server
/// without cluster support answers them: the generic errors first, then "cluster support
/// disabled"; their COMMAND INFO/DOCS, and their place in COMMAND COUNT and COMMAND LIST.
#[test]
fn cluster_commands_match_a_server_without_cluster_support() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["CLUSTER"],
        &["CLUSTER", "HELP"],
        &["CLUSTER", "INFO"],
        &["CLUSTER", "INFO", "x"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "MYID"],
        &["CLUSTER", "KEYSLOT", "foo"],
        &["CLUSTER", "KEYSLOT"],
        &["CLUSTER", "COUNTKEYSINSLOT", "1"],
        &["CLUSTER", "GETKEYSINSLOT", "1", "10"],
        &["CLUSTER", "ADDSLOTS", "1", "2"],
        &["CLUSTER", "ADDSLOTSRANGE", "1", "2"],
        &["CLUSTER", "ADDSLOTSRANGE", "1"],
        &["CLUSTER", "SETSLOT", "1", "NODE", "x"],
        &["CLUSTER", "RESET", "HARD"],
        &["CLUSTER", "FAILOVER", "FORCE"],
        &["CLUSTER", "MEET", "127.0.0.1", "7000"],
        &["CLUSTER", "nosuch"],
        &["cluster", "Info"],
        &["READONLY"],
        &["READONLY", "x"],
        &["READWRITE"],
        &["ASKING"],
        &["ASKING", "x"],
        &[
            "COMMAND",
            "INFO",
            "cluster|info",
            "readonly",
            "asking",
            "readwrite",
        ],
        &[
            "COMMAND",
            "INFO",
            "cluster|reset",
            "cluster|setslot",
            "cluster|help",
        ],
        &[
            "COMMAND",
            "DOCS",
            "cluster|info",
            "readonly",
            "asking",
            "readwrite",
        ],
        &[
            "COMMAND",
            "DOCS",
            "cluster|setslot",
            "cluster|addslotsrange",
        ],
        &["COMMAND", "GETKEYS", "cluster", "countkeysinslot", "1"],
        &["COMMAND", "GETKEYSANDFLAGS", "cluster", "info"],
    ]);
    let sub_names = |r: &[u8]| {
        let s = String::from_utf8_lossy(r).into_owned();
        let mut v: Vec<String> = s
            .split("\r\n")
            .filter(|l| l.starts_with("cluster|"))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    // Subcommands in Redis's dictionary order: compared as sets of names.
    assert_eq!(
        sub_names(&d.ferry.cmd(&["COMMAND", "INFO", "cluster"])),
        sub_names(&d.redis.cmd(&["COMMAND", "INFO", "cluster"]))
    );
    assert_eq!(
        sorted_names(
            &d.ferry
                .cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "clu*"])
        ),
        sorted_names(
            &d.redis
                .cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "clu*"])
        )
    );
    // Every other difference of the command lists is a command ferrymq does not have yet (or
    // one newer than 7.0): COMMAND COUNT differs by exactly those.
    let missing = ["script|debug"];
    // Newer than 7.0 (7.2's CLIENT subcommands, 8.2's XDELEX/XACKDEL, 8.6's XCFGSET, 8.8's
    // XNACK) or ferrymq's own FMQ.*.
    let newer = [
        "client|no-touch",
        "client|setinfo",
        "xdelex",
        "xackdel",
        "xcfgset",
        "xnack",
    ];
    let known = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|n| {
                !missing.contains(&n.as_str())
                    && !newer.contains(&n.as_str())
                    && !n.starts_with("fmq.")
            })
            .collect()
    };
    let filters: &[&[&str]] = &[
        &[],
        &["FILTERBY", "ACLCAT", "admin"],
        &["FILTERBY", "ACLCAT", "slow"],
        &["FILTERBY", "ACLCAT", "fast"],
        &["FILTERBY", "ACLCAT", "connection"],
        &["FILTERBY", "ACLCAT", "dangerous"],
        &["FILTERBY", "PATTERN", "*a*"],
        &["FILTERBY", "PATTERN", "re*"],
    ];
    for f in filters {
        let args: Vec<&str> = ["COMMAND", "LIST"]
            .iter()
            .chain(f.iter())
            .copied()
            .collect();
        assert_eq!(
            known(sorted_names(&d.ferry.cmd(&args))),
            known(sorted_names(&d.redis.cmd(&args))),
            "{args:?}"
        );
    }
    let count = |r: Vec<u8>| -> i64 { String::from_utf8(r).unwrap()[1..].trim().parse().unwrap() };
    let top_missing = missing.iter().filter(|n| !n.contains('|')).count() as i64;
    let top_extra = sorted_names(&d.ferry.cmd(&["COMMAND", "LIST"]))
        .iter()
        .filter(|n| n.starts_with("fmq.") || newer.contains(&n.as_str()) && !n.contains('|'))
        .count() as i64;
    assert_eq!(
        count(d.ferry.cmd(&["COMMAND", "COUNT"])) + top_missing - top_extra,
        count(d.redis.cmd(&["COMMAND", "COUNT"]))
    );
}

/// keyspace_hits / keyspace_misses count the lookups of read-only commands (Redis's
/// lookupKeyRead), not those of write commands, with the same totals as redis-server.
#[test]
fn keyspace_hits_and_misses_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    for cmd in [
        &["SET", "s", "v"][..],
        &["GET", "s"],
        &["GET", "missing"],
        &["MGET", "s", "missing", "q"],
        &["LPUSH", "q", "a"],
        &["LRANGE", "q", "0", "-1"],
        &["LPOP", "nothing"],
        &["EXISTS", "s", "nope"],
        &["TYPE", "missing"],
        &["STRLEN", "s"],
        &["INCR", "counter"],
        &["DEL", "nothing"],
    ] {
        d.cmd(cmd);
    }
    for field in ["keyspace_hits", "keyspace_misses"] {
        assert_eq!(
            info_field(&mut d.ferry, field),
            info_field(&mut d.redis, field),
            "{field}"
        );
    }
}

/// SLOWLOG shows commands as the client sent them (SPOP, GEOADD, GETSET, INCRBYFLOAT, though
/// they are replicated as other commands), and a blocked BLPOP served by a transaction is
/// logged after the EXEC that served it, with its own arguments.
#[test]
fn slowlog_logs_commands_as_sent_and_served_waiters_after() {
    let Some(mut d) = Diff::new() else { return };
    let (mut bf, mut br) = (d.fm.raw(), d.rs.raw());
    let (mut pf, mut pr) = (d.fm.raw(), d.rs.raw());
    d.script(&[
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        &["SADD", "set", "a", "b", "c"],
        &["SLOWLOG", "RESET"],
    ]);
    // Popped in each server's own order.
    d.ferry.cmd(&["SPOP", "set", "10"]);
    d.redis.cmd(&["SPOP", "set", "10"]);
    d.script(&[
        &["GEOADD", "cities", "-122.33207", "47.60621", "Seattle"],
        &["GETSET", "a", "5"],
        &["INCRBYFLOAT", "f", "1.0"],
    ]);
    bf.send(&["BLPOP", "l", "0"]);
    br.send(&["BLPOP", "l", "0"]);
    for p in [&mut pf, &mut pr] {
        assert!(wait_for(Duration::from_secs(5), || {
            common::info_field(p, "blocked_clients").as_deref() == Some("1")
        }));
    }
    d.script(&[
        &["MULTI"],
        &["LPUSH", "l", "foo"],
        &["SLOWLOG", "RESET"],
        &["EXEC"],
    ]);
    assert_eq!(bf.read_reply(), br.read_reply());
    let args = |c: &mut common::RawConn| -> Vec<String> {
        let r = String::from_utf8(c.cmd(&["SLOWLOG", "GET", "10"])).unwrap();
        // The argument bulks of each entry (numbers, client addresses and names differ).
        r.split("\r\n")
            .filter(|l| !l.starts_with(['*', ':', '$']) && !l.contains(':') && !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (f, r) = (args(&mut pf), args(&mut pr));
    assert_eq!(f, r);
    assert_eq!(r.first().map(String::as_str), Some("BLPOP"));
}
