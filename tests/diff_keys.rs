//! Differential tests of the generic keyspace, string basics, connection commands and errors:
//! the same commands against ferrymq and redis-server, replies compared byte for byte.

mod common;
use common::Diff;
use proptest::prelude::*;

#[test]
fn errors_match_redis_exactly() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["GET"],
        &["FOO", "bar", "baz"],
        &["foo"],
        &["SET", "s", "v"],
        &["EXPIRE", "s", "abc"],
        &["EXPIRE", "s", "10", "NX", "XX"],
        &["EXPIRE", "s", "10", "GT", "LT"],
        &["EXPIRE", "s", "10", "foo"],
        &["EXPIRE", "s", "9999999999999999"],
        &["PEXPIRE", "s", "9223372036854775807"],
        &["SELECT", "abc"],
        &["SELECT", "16"],
        &["SELECT", "-1"],
        &["RENAME", "nokey", "x"],
        &["MOVE", "s", "0"],
        &["MOVE", "s", "99"],
        &["SWAPDB", "0", "99"],
        &["SWAPDB", "a", "1"],
        &["SWAPDB", "1", "b"],
        &["SCAN", "abc"],
        &["SCAN", "0", "COUNT", "0"],
        &["SCAN", "0", "FOO"],
        &["FLUSHDB", "foo"],
        &["CONFIG", "foo"],
        &["CONFIG"],
        &["OBJECT", "foo", "x"],
        &["OBJECT", "encoding"],
        &["CLIENT", "foo"],
        &["INCR", "s"],
        &["HELLO", "4"],
        &["HELLO", "abc"],
        &["HELLO", "3", "FOO"],
        &["AUTH", "x"],
        &["AUTH", "a", "b", "c"],
        &["EXEC"],
        &["DISCARD"],
        &["PING", "a", "b"],
        &["ECHO"],
        &["COPY", "s", "s"],
        &["SET", "k", "v", "EX", "0"],
        &["SET", "k", "v", "EX", "abc"],
        &["SET", "k", "v", "NX", "XX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "FOO"],
    ]);
}

#[test]
fn keyspace_commands() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["EXISTS", "a", "b", "c", "a"],
        &["TYPE", "a"],
        &["TYPE", "nokey"],
        &["DEL", "a", "nokey"],
        &["UNLINK", "b", "b"],
        &["DBSIZE"],
        &["SET", "x", "hello"],
        &["RENAME", "x", "y"],
        &["GET", "x"],
        &["GET", "y"],
        &["RENAME", "y", "y"],
        &["RENAMENX", "y", "y"],
        &["SET", "z", "1"],
        &["RENAMENX", "y", "z"],
        &["RENAMENX", "y", "w"],
        &["EXPIRE", "w", "100"],
        &["TTL", "w"],
        &["PERSIST", "w"],
        &["TTL", "w"],
        &["PERSIST", "w"],
        &["TTL", "nokey"],
        &["PTTL", "nokey"],
        &["EXPIRETIME", "w"],
        &["EXPIRETIME", "nokey"],
        &["EXPIRE", "w", "100", "XX"],
        &["EXPIRE", "w", "100", "NX"],
        &["EXPIRE", "w", "200", "NX"],
        &["EXPIRE", "w", "50", "GT"],
        &["EXPIRE", "w", "500", "GT"],
        &["EXPIRE", "w", "600", "LT"],
        &["EXPIRE", "w", "100", "LT"],
        &["TTL", "w"],
        &["EXPIREAT", "w", "1"],
        &["EXISTS", "w"],
        &["EXPIRE", "nokey", "10"],
        &["SET", "m", "v"],
        &["MOVE", "m", "1"],
        &["MOVE", "m", "1"],
        &["EXISTS", "m"],
        &["SELECT", "1"],
        &["GET", "m"],
        &["COPY", "m", "m2"],
        &["COPY", "m", "m2"],
        &["COPY", "m", "m2", "REPLACE"],
        &["COPY", "m", "m", "DB", "0"],
        &["SELECT", "0"],
        &["GET", "m"],
        &["SWAPDB", "0", "1"],
        &["GET", "m2"],
        &["TOUCH", "m", "m2", "x"],
        &["OBJECT", "ENCODING", "m2"],
        &["SET", "n", "12345"],
        &["OBJECT", "ENCODING", "n"],
        &[
            "SET",
            "long",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
        &["OBJECT", "ENCODING", "long"],
        &["OBJECT", "ENCODING", "nokey"],
        &["OBJECT", "REFCOUNT", "nokey"],
        &["OBJECT", "HELP"],
        &["FLUSHDB"],
        &["DBSIZE"],
        &["RANDOMKEY"],
        &["FLUSHALL", "SYNC"],
        &["SELECT", "1"],
        &["DBSIZE"],
    ]);
}

#[test]
fn strings_and_transactions() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["SET", "k", "v", "GET"],
        &["SET", "k", "w", "GET"],
        &["SET", "k", "x", "NX"],
        &["SET", "k", "x", "XX", "GET"],
        &["SET", "new", "x", "XX"],
        &["SET", "k", "y", "NX", "GET"],
        &["SET", "t", "1", "PX", "100000"],
        &["SET", "t", "2", "KEEPTTL"],
        &["MGET", "k", "nokey", "t"],
        &["MSET", "a", "1", "b", "2"],
        &["MSET", "a"],
        &["INCR", "a"],
        &["INCRBY", "a", "10"],
        &["DECR", "a"],
        &["DECRBY", "a", "5"],
        &["INCRBY", "a", "abc"],
        &["SET", "big", "9223372036854775807"],
        &["INCR", "big"],
        &["APPEND", "k", "zz"],
        &["STRLEN", "k"],
        &["STRLEN", "nokey"],
        &["MULTI"],
        &["SET", "q", "1"],
        &["INCR", "q"],
        &["GET", "q"],
        &["EXEC"],
        &["MULTI"],
        &["MULTI"],
        &["SET", "q"],
        &["EXEC"],
        &["MULTI"],
        &["NOSUCH"],
        &["EXEC"],
        &["MULTI"],
        &["INCR", "k"],
        &["SET", "q", "2"],
        &["EXEC"],
        &["MULTI"],
        &["DISCARD"],
        &["WATCH", "q"],
        &["MULTI"],
        &["WATCH", "x"],
        &["EXEC"],
    ]);
}

#[test]
fn watch_is_broken_by_another_client() {
    let Some(mut d) = Diff::new() else { return };
    let mut other_f = d.fm.raw();
    let mut other_r = d.rs.raw();
    d.cmd(&["SET", "w", "1"]);
    d.cmd(&["WATCH", "w"]);
    other_f.cmd(&["SET", "w", "2"]);
    other_r.cmd(&["SET", "w", "2"]);
    d.cmd(&["MULTI"]);
    d.cmd(&["GET", "w"]);
    d.cmd(&["EXEC"]);
    d.cmd(&["WATCH", "w"]);
    d.cmd(&["MULTI"]);
    d.cmd(&["GET", "w"]);
    d.cmd(&["EXEC"]);
}

#[test]
fn connection_commands() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["PING"],
        &["PING", "hello"],
        &["ECHO", "x y"],
        &["CLIENT", "SETNAME", "bad name"],
        &["CLIENT", "SETNAME", "good"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", ""],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "REPLY", "FOO"],
        &["CLIENT", "UNBLOCK", "abc"],
        &["CLIENT", "UNBLOCK", "999999"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "KILL", "ID", "0"],
        &["CLIENT", "KILL", "ID", "999999"],
        &["CLIENT", "KILL", "TYPE", "foo"],
        &["CLIENT", "KILL", "FOO", "bar"],
        &["CLIENT", "NO-EVICT", "maybe"],
        &["CLIENT", "NO-EVICT", "on"],
        &["CLIENT", "PAUSE", "abc"],
        &["SELECT", "3"],
        &["RESET"],
        &["TIME", "x"],
        &["COMMAND", "GETKEYS", "GET", "k"],
        &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
        &["COMMAND", "GETKEYS", "PING"],
        &["COMMAND", "GETKEYS", "NOSUCH"],
        &["COMMAND", "GETKEYS", "GET"],
        &["COMMAND", "INFO", "nosuch"],
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "RESET"],
        &["MEMORY", "USAGE", "nokey"],
        &["MEMORY", "USAGE", "a", "FOO"],
        &["DEBUG", "SLEEP", "0"],
        &["QUIT"],
    ]);
}

#[test]
fn resp3_shapes() {
    let Some(mut d) = Diff::new() else { return };
    d.resp3();
    d.script(&[
        &["GET", "nokey"],
        &["SET", "a", "1"],
        &["MGET", "a", "nokey"],
        &["CONFIG", "GET", "maxmemory"],
        &["MULTI"],
        &["GET", "nokey"],
        &["EXEC"],
        &["SCAN", "0", "MATCH", "zzz"],
        &["PING"],
    ]);
}

#[test]
fn inline_and_protocol_errors() {
    let Some(mut d) = Diff::new() else { return };
    d.raw(b"PING\r\n");
    d.raw(b"ECHO \"a b\" \r\n");
    d.raw(b"SET k 'it\\'s'\r\n");
    d.raw(b"GET k\r\n");
    d.raw(b"ECHO \"unterminated\r\n");
    let Some(mut d) = Diff::new() else { return };
    d.raw(b"SET k 'it''s'\r\n");
    let Some(mut d) = Diff::new() else { return };
    d.raw(b"*1\r\n+PING\r\n");
    let Some(mut d) = Diff::new() else { return };
    d.raw(b"*1\r\n$-3\r\n");
    let Some(mut d) = Diff::new() else { return };
    d.raw(b"*abc\r\n");
    let Some(mut d) = Diff::new() else { return };
    d.raw(b"*1\r\n$999999999999\r\n");
    let Some(mut d) = Diff::new() else { return };
    d.raw(b"*-5\r\nPING\r\n");
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8),
    Del(u8),
    Exists(u8),
    Rename(u8, u8),
    Expire(u8, i8),
    Persist(u8),
    Type(u8),
    Incr(u8),
    Append(u8, u8),
    Keys,
    Dbsize,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..6;
    prop_oneof![
        (k.clone(), any::<u8>()).prop_map(|(a, b)| Op::Set(a, b)),
        k.clone().prop_map(Op::Del),
        k.clone().prop_map(Op::Exists),
        (k.clone(), k.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        (k.clone(), -2i8..50).prop_map(|(a, b)| Op::Expire(a, b)),
        k.clone().prop_map(Op::Persist),
        k.clone().prop_map(Op::Type),
        k.clone().prop_map(Op::Incr),
        (k.clone(), any::<u8>()).prop_map(|(a, b)| Op::Append(a, b)),
        Just(Op::Keys),
        Just(Op::Dbsize),
    ]
}

fn key(k: u8) -> String {
    format!("key:{k}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn random_keyspace_sequences(ops in proptest::collection::vec(op(), 1..60)) {
        let Some(mut d) = Diff::new() else { return Ok(()) };
        for o in ops {
            match o {
                Op::Set(k, v) => { d.cmd(&["SET", &key(k), &v.to_string()]); }
                Op::Del(k) => { d.cmd(&["DEL", &key(k)]); }
                Op::Exists(k) => { d.cmd(&["EXISTS", &key(k)]); }
                Op::Rename(a, b) => { d.cmd(&["RENAME", &key(a), &key(b)]); }
                Op::Expire(k, s) => { d.cmd(&["EXPIRE", &key(k), &(s as i64 * 100).to_string()]); }
                Op::Persist(k) => { d.cmd(&["PERSIST", &key(k)]); }
                Op::Type(k) => { d.cmd(&["TYPE", &key(k)]); }
                Op::Incr(k) => { d.cmd(&["INCR", &key(k)]); }
                Op::Append(k, v) => { d.cmd(&["APPEND", &key(k), &v.to_string()]); }
                Op::Keys => {
                    // Order of KEYS is unspecified: compare sorted.
                    let norm = |b: &[u8]| {
                        let s = String::from_utf8_lossy(b).into_owned();
                        let mut parts: Vec<&str> = s.split("\r\n").collect();
                        parts.sort();
                        parts.join("|").into_bytes()
                    };
                    d.cmd_norm(&["KEYS", "*"], norm);
                }
                Op::Dbsize => { d.cmd(&["DBSIZE"]); }
            }
        }
    }
}

/// COMMAND GETKEYS follows the key specs: key counts (EVAL, FCALL, ZUNIONSTORE, LMPOP),
/// keywords (XREAD/XREADGROUP STREAMS), steps (MSET), ranges to the end or before the last
/// argument (DEL, BLPOP, SINTERSTORE), subcommands, and Redis's errors in Redis's order.
#[test]
fn command_getkeys_follows_the_key_specs() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"],
        &["COMMAND", "GETKEYS", "EVAL", "return 1", "0", "a"],
        &["COMMAND", "GETKEYS", "EVAL", "return 1", "5", "a"],
        &["COMMAND", "GETKEYS", "EVALSHA_RO", "abc", "1", "k", "v"],
        &["COMMAND", "GETKEYS", "FCALL", "f", "1", "a", "b"],
        &["COMMAND", "GETKEYS", "FCALL_RO", "f", "0"],
        &[
            "COMMAND",
            "GETKEYS",
            "ZUNIONSTORE",
            "d",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "2",
        ],
        &["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "3", "a"],
        &["COMMAND", "GETKEYS", "ZINTER", "2", "a", "b"],
        &["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"],
        &["COMMAND", "GETKEYS", "BLMPOP", "0", "1", "a", "RIGHT"],
        &[
            "COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0",
        ],
        &[
            "COMMAND",
            "GETKEYS",
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "STREAMS",
            "s1",
            ">",
        ],
        &["COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "0"],
        &["COMMAND", "GETKEYS", "DEL", "a", "b", "c"],
        &["COMMAND", "GETKEYS", "BLPOP", "a", "b", "0"],
        &["COMMAND", "GETKEYS", "SINTERSTORE", "d", "a", "b"],
        &["COMMAND", "GETKEYS", "LMOVE", "a", "b", "LEFT", "RIGHT"],
        &["COMMAND", "GETKEYS", "RENAME", "a", "b"],
        &["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"],
        &["COMMAND", "GETKEYS", "MEMORY", "USAGE", "k"],
        &["COMMAND", "GETKEYS", "XINFO", "STREAM", "s"],
        &["COMMAND", "GETKEYS", "PUBLISH", "ch", "m"],
        &["COMMAND", "GETKEYS", "MSET", "a", "1", "b"],
        &["COMMAND", "GETKEYS", "SET", "k"],
        &["COMMAND", "GETKEYS", "PING", "x", "y"],
    ]);
}

/// INFO errorstats counts error replies by code, as Redis does (commands that fail, commands
/// refused before running, EXECABORT, codes chosen by scripts); INFO cluster says there is no
/// cluster (clients probe `cluster_enabled`); both are in the default INFO.
#[test]
fn info_errorstats_and_cluster_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["CONFIG", "RESETSTAT"],
        &["SET", "s", "x"],
        &["LPUSH", "s", "a"],
        &["INCR", "s"],
        &["NOSUCH"],
        &["GET"],
        &["EVAL", "return redis.error_reply('MY x')", "0"],
        &["MULTI"],
        &["NOSUCH"],
        &["EXEC"],
        &["INFO", "errorstats"],
        &["INFO", "cluster"],
        &["CONFIG", "RESETSTAT"],
        &["INFO", "errorstats"],
    ]);
    let sections = |reply: &[u8]| -> Vec<u8> {
        reply
            .split(|&c| c == b'\n')
            .filter(|l| l.starts_with(b"#"))
            .flat_map(|l| l.to_vec())
            .collect()
    };
    d.cmd_norm(&["INFO"], sections);
}

/// COMMAND's ACL categories (field 7 of each entry) are the ones ACL rules use, in Redis's
/// order, for every command and subcommand both servers have: `-@dangerous` users and tools
/// that read COMMAND must see FLUSHALL, KEYS, INFO, ... where Redis puts them.
#[test]
fn command_categories_match_redis() {
    use redis::Value;
    let Some(r) = common::Server::redis(&[]) else {
        return;
    };
    let f = common::Server::ferrymq(&[]);
    fn categories(s: &common::Server) -> std::collections::BTreeMap<String, Vec<String>> {
        fn text(v: &Value) -> String {
            match v {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                Value::SimpleString(s) => s.clone(),
                other => format!("{other:?}"),
            }
        }
        fn list(v: &Value) -> Vec<Value> {
            match v {
                Value::Array(a) | Value::Set(a) => a.clone(),
                _ => vec![],
            }
        }
        fn walk(entry: &Value, out: &mut std::collections::BTreeMap<String, Vec<String>>) {
            let e = list(entry);
            out.insert(text(&e[0]), list(&e[6]).iter().map(text).collect());
            for sub in e.get(9).map(list).unwrap_or_default() {
                walk(&sub, out);
            }
        }
        let mut c = s.conn();
        let all: Value = redis::cmd("COMMAND").query(&mut c).unwrap();
        let mut out = std::collections::BTreeMap::new();
        for e in list(&all) {
            walk(&e, &mut out);
        }
        out
    }
    let (rc, fc) = (categories(&r), categories(&f));
    let mut compared = 0;
    for (name, cats) in &fc {
        if let Some(want) = rc.get(name) {
            assert_eq!(cats, want, "categories of {name}");
            compared += 1;
        }
    }
    assert!(compared > 200, "only {compared} commands in common");
}

/// WAIT on a server without replicas: 0 at once when no replica is asked for or inside MULTI,
/// else 0 when the timeout expires; its argument errors. CLIENT KILL USER of an unknown user,
/// and the one LIMIT error of SINTERCARD / ZINTERCARD.
#[test]
fn wait_client_kill_user_and_intercard_limits_match_redis() {
    let Some(mut d) = Diff::new() else { return };
    // The connection that probed the server at start-up may still be listed for a moment; a
    // CLIENT KILL USER would count it.
    for conn in [&mut d.redis, &mut d.ferry] {
        assert!(common::wait_for(std::time::Duration::from_secs(5), || {
            conn.cmd_s(&["CLIENT", "LIST"]).matches("id=").count() == 1
        }));
    }
    d.script(&[
        &["WAIT", "0", "0"],
        &["WAIT", "-1", "0"],
        &["WAIT", "x", "0"],
        &["WAIT", "0", "-1"],
        &["WAIT", "0", "x"],
        &["WAIT", "0"],
        &["MULTI"],
        &["WAIT", "1", "0"],
        &["EXEC"],
        &["CLIENT", "KILL", "USER", "nosuch"],
        &["CLIENT", "KILL", "USER", "default", "SKIPME", "yes"],
        &["SINTERCARD", "1", "a", "LIMIT", "-1"],
        &["SINTERCARD", "1", "a", "LIMIT", "x"],
        &["ZINTERCARD", "1", "a", "LIMIT", "x"],
    ]);
    // Both answer 0 once the 50 ms have passed, not before (checked on ferrymq alone).
    let started = std::time::Instant::now();
    assert_eq!(d.ferry.cmd(&["WAIT", "1", "50"]), b":0\r\n");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(50),
        "WAIT 1 50 returned before its timeout"
    );
    d.cmd(&["WAIT", "1", "50"]);
}

/// An error handed to a blocked client when it is woken (XGROUP DESTROY sends -NOGROUP to an
/// XREADGROUP waiter) counts in INFO errorstats, as on redis-server.
#[test]
fn errors_served_to_woken_clients_are_counted() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
        &["CONFIG", "RESETSTAT"],
    ]);
    let mut waiters = [d.fm.raw(), d.rs.raw()];
    for w in &mut waiters {
        w.send(&[
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
    }
    for c in [&mut d.ferry, &mut d.redis] {
        assert!(common::wait_for(std::time::Duration::from_secs(10), || {
            common::info_field(c, "blocked_clients").as_deref() == Some("1")
        }));
    }
    d.cmd(&["XGROUP", "DESTROY", "s", "g"]);
    let [f, r] = &mut waiters;
    assert_eq!(
        String::from_utf8_lossy(&f.read_reply()),
        String::from_utf8_lossy(&r.read_reply())
    );
    d.cmd(&["INFO", "errorstats"]);
    // A command that blocked counts as one call, whether it is served (BLPOP fed by LPUSH),
    // times out (BLPOP 0.05) or gets an error on waking (the XREADGROUP above).
    for w in &mut waiters {
        w.send(&["BLPOP", "l", "0"]);
    }
    for c in [&mut d.ferry, &mut d.redis] {
        assert!(common::wait_for(std::time::Duration::from_secs(10), || {
            common::info_field(c, "blocked_clients").as_deref() == Some("1")
        }));
    }
    d.cmd(&["LPUSH", "l", "x"]);
    for w in &mut waiters {
        w.read_reply();
        assert_eq!(w.cmd(&["BLPOP", "l", "0.05"]), b"*-1\r\n");
    }
    // Times vary: calls and failures are compared.
    let calls = |r: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(r)
            .lines()
            .filter(|l| l.starts_with("cmdstat_blpop") || l.starts_with("cmdstat_xreadgroup"))
            .map(|l| {
                l.split(',')
                    .filter(|f| !f.contains("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<std::collections::BTreeSet<String>>()
            .into_iter()
            .collect::<Vec<_>>()
    };
    let (f, r) = (
        calls(&d.ferry.cmd(&["INFO", "commandstats"])),
        calls(&d.redis.cmd(&["INFO", "commandstats"])),
    );
    assert_eq!(f, r);
    assert_eq!(f.len(), 2, "{f:?}");
}

/// COMMAND INFO of the commands whose keys are found by parsing their arguments carries the
/// `movablekeys` flag (and everything else) exactly as Redis's.
#[test]
fn movablekeys_commands_in_command_info() {
    let Some(mut d) = Diff::new() else { return };
    for c in [
        "lmpop",
        "blmpop",
        "zmpop",
        "bzmpop",
        "zunion",
        "zinter",
        "zdiff",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zintercard",
        "sintercard",
        "xread",
        "xreadgroup",
        "eval",
        "evalsha",
        "eval_ro",
        "evalsha_ro",
        "fcall",
        "fcall_ro",
        "sort",
        "sort_ro",
    ] {
        d.cmd(&["COMMAND", "INFO", c]);
    }
}

/// COMMAND INFO of every command ferrymq has (flags, key positions, categories, tips, key
/// specs with their notes) as redis-server 7.0 replies it. Left out: containers (Redis lists
/// their subcommands in its hash table's random order; each subcommand is compared alone)
/// and commands newer than 7.0.
#[test]
fn command_info_of_every_command_matches_redis() {
    let Some(mut d) = Diff::new() else { return };
    let list = d.fm.raw().cmd(&["COMMAND", "LIST"]);
    let text = String::from_utf8_lossy(&list).into_owned();
    let names: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
        .collect();
    assert!(names.len() > 150, "{names:?}");
    let mut compared = 0;
    for name in names {
        let info = d.fm.raw().cmd(&["COMMAND", "DOCS", name]);
        let container = String::from_utf8_lossy(&info).contains("subcommands");
        // Subcommands of Redis 7.2 that ferrymq also has (CLIENT SETINFO, CLIENT NO-TOUCH).
        let newer = d.rs.raw().cmd(&["COMMAND", "INFO", name]) == b"*1\r\n$-1\r\n";
        if container || newer {
            continue;
        }
        d.cmd(&["COMMAND", "INFO", name]);
        compared += 1;
    }
    for sub in [
        "xgroup|create",
        "xgroup|setid",
        "xinfo|stream",
        "object|freq",
        "config|set",
        "client|kill",
        "client|list",
        "function|load",
        "script|load",
        "acl|setuser",
        "pubsub|numsub",
        "memory|usage",
        "slowlog|get",
        "command|getkeys",
    ] {
        d.cmd(&["COMMAND", "INFO", sub]);
    }
    assert!(compared > 150, "{compared}");
}

/// INFO's `rdb_changes_since_last_save` moves as Redis's `dirty` does: per element for the
/// commands that count so (pushes, pops with a count, SADD, HSET fields, ZADD, trims ...),
/// once per write otherwise, not for expired keys or MULTI/EXEC themselves.
#[test]
fn change_counter_moves_as_redis() {
    let Some(mut d) = Diff::new() else { return };
    let steps: &[&[&str]] = &[
        &["RPUSH", "l", "a", "b", "c", "d", "e"],
        &["LPOP", "l", "2"],
        &["RPOP", "l"],
        &["LREM", "l", "0", "c"],
        &["LTRIM", "l", "0", "0"],
        &["SADD", "s", "a", "b", "c", "d"],
        &["SREM", "s", "a", "x", "b"],
        &["SADD", "t", "a"],
        &["SMOVE", "s", "t", "c"],
        &["SMOVE", "s", "t", "d"],
        &["HSET", "h", "a", "1", "b", "2"],
        &["HSET", "h", "a", "1"],
        &["HDEL", "h", "a", "b", "x"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "z", "1", "a", "5", "b"],
        &["ZREM", "z", "a", "x"],
        &["ZADD", "z", "1", "q", "2", "r"],
        &["ZREMRANGEBYRANK", "z", "0", "1"],
        &["ZPOPMIN", "z", "2"],
        &["XADD", "x", "1-1", "a", "1"],
        &["XADD", "x", "MAXLEN", "1", "1-2", "a", "2"],
        &["XTRIM", "x", "MAXLEN", "0"],
        &["MSET", "a", "1", "b", "2"],
        &["SET", "e", "v", "PX", "1"],
        &["DEBUG", "SLEEP", "0.01"],
        &["GET", "e"],
        &["MULTI"],
        &["SET", "a", "2"],
        &["INCR", "b"],
        &["EXEC"],
        &[
            "EVAL",
            "redis.call('set','x1','1') redis.call('del','x1','nokey')",
            "0",
        ],
        &["DEL", "a", "nokey"],
        &["FLUSHALL"],
        &["FLUSHALL"],
    ];
    d.script_with_info(steps, "rdb_changes_since_last_save");
}

/// SWAPDB dooms a transaction watching a key that exists in either database (a key that
/// appears counts as much as one that goes) and leaves it alone when only expired keys are
/// involved, as Redis 7.0 decides.
#[test]
fn swapdb_touches_watched_keys_as_redis() {
    let Some(mut d) = Diff::with_args(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let exec: &[&[&str]] = &[&["MULTI"], &["PING"], &["EXEC"]];
    let scenarios: &[&[&[&str]]] = &[
        // Exists in the watched database, swapped away.
        &[&["SELECT", "0"], &["SET", "x", "30"], &["WATCH", "x"]],
        // Missing in the watched database, swapped in.
        &[
            &["SELECT", "1"],
            &["SET", "x", "30"],
            &["SELECT", "0"],
            &["WATCH", "x"],
        ],
        // Expired key replaced by nothing.
        &[
            &["SELECT", "1"],
            &["SET", "x", "foo", "PX", "1"],
            &["DEBUG", "SLEEP", "0.01"],
            &["WATCH", "x"],
        ],
        // Nothing replaced by an expired key.
        &[
            &["SELECT", "0"],
            &["SET", "x", "foo", "PX", "1"],
            &["DEBUG", "SLEEP", "0.01"],
            &["SELECT", "1"],
            &["WATCH", "x"],
        ],
        // An expired key replaced by another expired key.
        &[
            &["SELECT", "1"],
            &["SET", "x", "foo", "PX", "1"],
            &["SELECT", "0"],
            &["SET", "x", "bar", "PX", "1"],
            &["DEBUG", "SLEEP", "0.01"],
            &["SELECT", "1"],
            &["WATCH", "x"],
        ],
        // A watched key of the other database that exists in neither.
        &[&["SELECT", "1"], &["WATCH", "nothing"]],
    ];
    for s in scenarios {
        d.cmd(&["FLUSHALL"]);
        d.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        d.script(s);
        d.cmd(&["SWAPDB", "0", "1"]);
        d.script(exec);
        d.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
        d.cmd(&["SELECT", "0"]);
    }
    // A key watched when already expired: its deletion by expiry is no change.
    d.script(&[
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["SET", "x", "foo", "PX", "1"],
        &["DEBUG", "SLEEP", "0.01"],
        &["WATCH", "x"],
        &["GET", "x"],
        &["MULTI"],
        &["PING"],
        &["EXEC"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    ]);
}

/// COMMAND GETKEYSANDFLAGS: each key with its key-spec flags, RESP2 and RESP3, and the errors.
#[test]
fn command_getkeysandflags_as_redis() {
    let Some(mut d) = Diff::new() else { return };
    let cmds: &[&[&str]] = &[
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "a", "b", "GET"],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "BITFIELD",
            "a",
            "GET",
            "u8",
            "0",
        ],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "BITFIELD",
            "a",
            "SET",
            "u8",
            "0",
            "1",
        ],
        &["COMMAND", "GETKEYSANDFLAGS", "GET", "a"],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "LMOVE",
            "a",
            "b",
            "LEFT",
            "RIGHT",
        ],
        &["COMMAND", "GETKEYSANDFLAGS", "SORT", "l", "STORE", "d"],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "ZUNIONSTORE",
            "d",
            "2",
            "a",
            "b",
        ],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "XREAD",
            "STREAMS",
            "s1",
            "s2",
            "0",
            "0",
        ],
        &["COMMAND", "GETKEYSANDFLAGS", "EVAL", "x", "0"],
        &["COMMAND", "GETKEYSANDFLAGS", "EVAL", "x", "2", "k1", "k2"],
        &["COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2"],
        &["COMMAND", "GETKEYSANDFLAGS", "PING", "x"],
        &["COMMAND", "GETKEYSANDFLAGS", "NOPE", "x"],
        &["COMMAND", "GETKEYSANDFLAGS", "GET", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "GET"],
    ];
    d.script(cmds);
    d.resp3();
    d.script(cmds);
}

/// EXEC is refused when the server's state changed after the commands were queued: a write
/// when `min-replicas-to-write` is no longer met (NOREPLICAS), and anything not allowed on a
/// replica whose master link is down with `replica-serve-stale-data no` (MASTERDOWN, PING
/// included); both abort the transaction, and a transaction queued before REPLICAOF NO ONE runs.
#[test]
fn exec_aborts_when_the_replication_state_changed_after_queueing() {
    let Some(mut d) = Diff::new() else { return };
    let (mut f2, mut r2) = (d.fm.raw(), d.rs.raw());
    let mut other = |args: &[&str]| {
        assert_eq!(r2.cmd_s(args), f2.cmd_s(args), "{args:?}");
    };
    d.script(&[&["SET", "xx", "1"], &["MULTI"], &["INCR", "xx"]]);
    other(&["CONFIG", "SET", "min-replicas-to-write", "2"]);
    d.script(&[&["EXEC"], &["GET", "xx"], &["MULTI"], &["GET", "xx"]]);
    d.cmd(&["EXEC"]);
    other(&["CONFIG", "SET", "min-replicas-to-write", "0"]);
    d.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    // A master that is not there: the link stays down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    for queued in ["GET", "PING"] {
        d.cmd(&["MULTI"]);
        if queued == "GET" {
            d.cmd(&["GET", "xx"]);
        } else {
            d.cmd(&["PING"]);
        }
        other(&["REPLICAOF", "127.0.0.1", &closed]);
        d.cmd(&["EXEC"]);
        d.script(&[&["GET", "xx"], &["PING"], &["MULTI"]]);
        d.script(&[
            &["GET", "xx"],
            &["EXEC"],
            &["CONFIG", "GET", "replica-serve-stale-data"],
        ]);
        other(&["REPLICAOF", "NO", "ONE"]);
    }
    d.cmd(&["MULTI"]);
    other(&["REPLICAOF", "127.0.0.1", &closed]);
    d.cmd(&["GET", "xx"]);
    other(&["REPLICAOF", "NO", "ONE"]);
    d.script(&[&["EXEC"], &["INFO", "errorstats"]]);
}
