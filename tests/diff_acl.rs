//! Differential tests of ACL against redis-server 7.0: ACL subcommand replies and errors, AUTH
//! and HELLO AUTH, NOPERM errors at dispatch, requirepass, the ACL LOG, in RESP2 and RESP3.
//!
//! redis-server describes command rules with categories and single commands in hash-table
//! order, which changes between processes; rule strings are compared with the leading
//! `+@all`/`-@all` in place and the other rules as a set. ACL LOG entries are compared without
//! their age and client details.

mod common;
use common::Diff;

/// Rule strings in any RESP line: keep everything up to `+@all`/`-@all`, sort what follows.
/// Commands ferrymq has beyond Redis 7.0 (Redis 8.2's XDELEX/XACKDEL, 8.6's XCFGSET, 8.8's
/// XNACK, the FMQ.* commands): a rule or a category listing names them where redis-server 7.0
/// cannot.
fn newer(name: &str) -> bool {
    let n = name.trim_start_matches(['+', '-']);
    n.starts_with("fmq.") || ["xdelex", "xackdel", "xcfgset", "xnack"].contains(&n)
}

fn norm_rules(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let mut out = Vec::new();
    for line in text.split("\r\n") {
        // Lengths change with the names left out below.
        if line.starts_with('$') {
            out.push("$*".to_string());
            continue;
        }
        let words: Vec<&str> = line.split(' ').filter(|w| !newer(w)).collect();
        match words.iter().position(|w| *w == "+@all" || *w == "-@all") {
            Some(i) => {
                let mut rest: Vec<&str> = words[i + 1..].to_vec();
                rest.sort_unstable();
                let mut all = words[..=i].to_vec();
                all.extend(rest);
                out.push(all.join(" "));
            }
            None => out.push(line.to_string()),
        }
    }
    out.join("\r\n").into_bytes()
}

/// ACL LOG without the values of `age-seconds` and `client-info`.
fn norm_log(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let mut out = Vec::new();
    let mut skip = 0;
    for line in text.split("\r\n") {
        if skip > 0 {
            skip -= 1;
            if !line.starts_with('$') {
                out.push("<elided>".to_string());
            }
            continue;
        }
        out.push(line.to_string());
        if line == "age-seconds" || line == "client-info" {
            // RESP2: `$len` + value; RESP3 double: one line.
            skip = 2;
        }
    }
    // RESP3 doubles take one line: re-join and drop what was skipped either way.
    out.retain(|l| !l.starts_with(','));
    out.join("\r\n").into_bytes()
}

fn sorted_items(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut v: Vec<String> = text
        .split("\r\n")
        .filter(|l| !l.starts_with('$') && !l.starts_with('*') && !l.is_empty() && !newer(l))
        .map(String::from)
        .collect();
    v.sort();
    v
}

const USERS: &[&[&str]] = &[
    &[
        "ACL", "SETUSER", "alice", "on", ">pw", "~queue:*", "&news.*", "-@all", "+@pubsub",
        "+@list", "-blpop",
    ],
    &[
        "ACL", "SETUSER", "bob", "+get", "+GET", "-get", "+@list", "+@list", "-@list", "+set",
    ],
    &[
        "ACL",
        "SETUSER",
        "carol",
        "+config|get",
        "+select|0",
        "-config",
        "+select|1",
        "+config|set",
    ],
    &[
        "ACL",
        "SETUSER",
        "dave",
        "%R~r:*",
        "%W~w:*",
        "%RW~rw:*",
        "~x",
        "allchannels",
        ">a",
        ">b",
        ">a",
        "nopass",
    ],
    &[
        "ACL",
        "SETUSER",
        "erin",
        "+@all",
        "-@dangerous",
        "+flushdb",
        "allkeys",
        "&a",
        "&b",
    ],
    &[
        "ACL",
        "SETUSER",
        "fred",
        "-@all",
        "+@read",
        "-@string",
        "+get",
        "resetkeys",
        "~k",
    ],
    &[
        "ACL",
        "SETUSER",
        "gina",
        "on",
        "reset",
        ">x",
        "#2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b",
    ],
    &[
        "ACL",
        "SETUSER",
        "hank",
        "sanitize-payload",
        "skip-sanitize-payload",
        "allcommands",
        "-debug",
    ],
    &[
        "ACL",
        "SETUSER",
        "ivan",
        "nocommands",
        "+client|list",
        "+acl",
        "-acl|log",
    ],
    &[
        "ACL",
        "SETUSER",
        "judy",
        "on",
        ">p",
        "<p",
        ">q",
        "resetpass",
        ">r",
        "!4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce",
    ],
];

#[test]
fn setuser_getuser_list_users() {
    let Some(mut d) = Diff::new() else { return };
    for resp3 in [false, true] {
        if resp3 {
            d.resp3();
        }
        for u in USERS {
            d.cmd(u);
        }
        d.cmd_norm(&["ACL", "LIST"], norm_rules);
        d.cmd(&["ACL", "USERS"]);
        for name in [
            "default", "alice", "bob", "carol", "dave", "erin", "fred", "gina", "hank", "ivan",
            "judy", "nosuch",
        ] {
            d.cmd_norm(&["ACL", "GETUSER", name], norm_rules);
        }
        d.cmd(&["ACL", "DELUSER", "alice", "nosuch", "bob"]);
        d.cmd(&["ACL", "USERS"]);
        d.cmd(&["ACL", "WHOAMI"]);
    }
}

#[test]
fn setuser_errors_and_subcommand_errors() {
    let Some(mut d) = Diff::new() else { return };
    for args in [
        &["ACL", "SETUSER", "u", "foo"][..],
        &["ACL", "SETUSER", "u", "on", ">x", "bogus"],
        &["ACL", "SETUSER", "u", "+nosuch"],
        &["ACL", "SETUSER", "u", "+@nosuch"],
        &["ACL", "SETUSER", "u", "-@nosuch"],
        &["ACL", "SETUSER", "u", "#abc"],
        &["ACL", "SETUSER", "u", "!abc"],
        &["ACL", "SETUSER", "u", "<nope"],
        &["ACL", "SETUSER", "u", "~*", "~x"],
        &["ACL", "SETUSER", "u", "allkeys", "%R~x"],
        &["ACL", "SETUSER", "u", "&*", "&x"],
        &["ACL", "SETUSER", "u", "%X~a"],
        &["ACL", "SETUSER", "u", "%~a"],
        &["ACL", "SETUSER", "u", "+config|get|x"],
        &["ACL", "SETUSER", "u", "+get|"],
        &["ACL", "SETUSER", "u", "+config|nosuch"],
        &["ACL", "SETUSER", "u", "-config|nosuch"],
        &["ACL", "SETUSER", "u", "~a b"],
        &["ACL", "SETUSER", "bad name"],
        &["ACL", "SETUSER"],
        &["ACL", "GETUSER"],
        &["ACL", "GETUSER", "u"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "DELUSER", "u", "default"],
        &["ACL", "DELUSER", "nosuch"],
        &["ACL", "CAT", "nosuch"],
        &["ACL", "CAT", "a", "b"],
        &["ACL", "DRYRUN", "nosuch", "get", "x"],
        &["ACL", "DRYRUN", "default", "nosuchcmd"],
        &["ACL", "DRYRUN", "default", "get"],
        &["ACL", "DRYRUN", "default", "config", "nosuch"],
        &["ACL", "DRYRUN", "default", "get", "x"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "GENPASS", "4097"],
        &["ACL", "GENPASS", "-1"],
        &["ACL", "GENPASS", "x"],
        &["ACL", "GENPASS", "1", "2"],
        &["ACL", "LOG", "x"],
        &["ACL", "LOG", "2", "x"],
        &["ACL", "LOG", "-5"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE"],
        &["ACL", "NOSUCH"],
        &["ACL", "WHOAMI", "x"],
        &["ACL", "USERS", "x"],
        &["ACL", "HELP"],
        &["ACL"],
        &["ACL", "CAT"],
    ] {
        d.cmd(args);
    }
    // The failed SETUSERs created nothing.
    d.cmd(&["ACL", "USERS"]);
}

#[test]
fn cat_lists_redis_commands() {
    let Some(mut d) = Diff::new() else { return };
    for cat in [
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "geo",
        "stream",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "scripting",
        "LIST",
    ] {
        let r = d.redis.cmd(&["ACL", "CAT", cat]);
        let f = d.ferry.cmd(&["ACL", "CAT", cat]);
        assert_eq!(sorted_items(&r), sorted_items(&f), "ACL CAT {cat}");
    }
}

#[test]
fn genpass_lengths() {
    let Some(mut d) = Diff::new() else { return };
    for bits in ["1", "4", "5", "255", "256", "4096"] {
        let r = d.redis.cmd(&["ACL", "GENPASS", bits]);
        let f = d.ferry.cmd(&["ACL", "GENPASS", bits]);
        assert_eq!(r.len(), f.len(), "GENPASS {bits}");
        assert!(
            f.iter()
                .skip(4)
                .all(|c| c.is_ascii_hexdigit() || *c == b'\r' || *c == b'\n')
        );
    }
    let a = d.ferry.cmd(&["ACL", "GENPASS"]);
    let b = d.ferry.cmd(&["ACL", "GENPASS"]);
    assert_ne!(a, b);
}

#[test]
fn dryrun_commands_keys_channels() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&[
        "ACL",
        "SETUSER",
        "u",
        "on",
        "nopass",
        "-@all",
        "+@list",
        "+get",
        "+set",
        "+publish",
        "+subscribe",
        "+psubscribe",
        "+xread",
        "+config|get",
        "+select|0",
        "%R~r:*",
        "%W~w:*",
        "~rw:*",
        "&news.*",
        "&exact",
    ]);
    for args in [
        &["get", "r:1"][..],
        &["get", "w:1"],
        &["set", "r:1", "v"],
        &["set", "rw:1", "v"],
        &["lpush", "w:1", "v"],
        &["lpop", "w:1"],
        &["lmove", "rw:a", "w:b", "LEFT", "RIGHT"],
        &["lmove", "w:b", "rw:a", "LEFT", "RIGHT"],
        &["blpop", "r:1", "rw:1", "0"],
        &["del", "rw:1"],
        &["xread", "COUNT", "1", "STREAMS", "r:1", "x", "0", "0"],
        &["xread", "STREAMS", "rw:1", "0"],
        &["config", "get", "x"],
        &["config", "set", "x", "y"],
        &["select", "0"],
        &["select", "1"],
        &["publish", "news.a", "m"],
        &["publish", "other", "m"],
        &["subscribe", "news.a", "exact"],
        &["subscribe", "news.a", "exactly"],
        &["psubscribe", "news.*"],
        &["psubscribe", "news.a"],
        &["psubscribe", "news.*", "exact", "n*"],
        &["unsubscribe", "zz"],
        &["auth", "a", "b"],
        &["ping"],
    ] {
        let mut full = vec!["ACL", "DRYRUN", "u"];
        full.extend_from_slice(args);
        d.cmd(&full);
    }
}

#[test]
fn auth_and_noperm_at_dispatch() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&[
        "ACL",
        "SETUSER",
        "carl",
        "on",
        ">pw",
        "~k*",
        "&ch*",
        "+get",
        "+set",
        "+multi",
        "+acl|whoami",
        "+ping",
        "+config",
    ]);
    d.cmd(&["ACL", "SETUSER", "off1", "off", ">pw", "+@all"]);
    for args in [
        &["AUTH", "carl", "bad"][..],
        &["AUTH", "nouser", "bad"],
        &["AUTH", "off1", "pw"],
        &["AUTH", "pw"],
        &["AUTH", "a", "b", "c"],
        &["HELLO", "2", "AUTH", "carl", "bad"],
        &["AUTH", "carl", "pw"],
        &["ACL", "WHOAMI"],
        &["GET", "x"],
        &["GET", "kx"],
        &["SET", "kk"],
        &["SET", "kk", "1"],
        &["DEL", "k"],
        &["CONFIG", "GET", "maxclients"],
        &["ACL", "LIST"],
        &["MULTI"],
        &["GET", "x"],
        &["DEL", "k"],
        &["GET", "kk"],
        &["EXEC"],
        &["EXEC"],
        &["AUTH", "default", "nopass-anything"],
        &["ACL", "WHOAMI"],
        &["RESET"],
        &["ACL", "WHOAMI"],
    ] {
        d.cmd(args);
    }
    d.cmd_norm(&["ACL", "LOG"], norm_log);
    d.cmd_norm(&["ACL", "LOG", "2"], norm_log);
    d.cmd(&["ACL", "LOG", "0"]);
    d.resp3();
    d.cmd_norm(&["ACL", "LOG", "3"], norm_log);
    d.cmd(&["ACL", "LOG", "RESET"]);
    d.cmd(&["ACL", "LOG"]);
}

#[test]
fn requirepass_is_the_default_users_password() {
    let Some(mut d) = Diff::with_args(&["--requirepass", "s3cret"]) else {
        return;
    };
    for args in [
        &["GET", "x"][..],
        &["ACL", "WHOAMI"],
        &["AUTH", "wrong"],
        &["AUTH", "default", "wrong"],
        &["HELLO", "3"],
        &["AUTH", "s3cret"],
        &["ACL", "WHOAMI"],
        &["ACL", "GETUSER", "default"],
        &["CONFIG", "SET", "requirepass", "other"],
        &["ACL", "GETUSER", "default"],
        &["ACL", "LIST"],
        &["AUTH", "s3cret"],
        &["AUTH", "default", "other"],
        &["CONFIG", "SET", "requirepass", ""],
        &["ACL", "GETUSER", "default"],
        &["AUTH", "x"],
        &["ACL", "SETUSER", "default", ">p2"],
        &["CONFIG", "SET", "maxclients", "100"],
        &["ACL", "GETUSER", "default"],
        &["RESET"],
        &["GET", "x"],
        &["AUTH", "p2"],
        &["GET", "x"],
    ] {
        d.cmd_norm(args, norm_rules);
    }
}

#[test]
fn user_directives_at_startup() {
    let Some(mut d) = Diff::with_args(&[
        "--user",
        "worker",
        "on",
        ">w",
        "~queue:*",
        "&jobs",
        "-@all",
        "+@list",
        "+@connection",
        "+get",
        "--user",
        "default",
        "on",
        "nopass",
        "~*",
        "&*",
        "+@all",
        "-flushall",
    ]) else {
        return;
    };
    d.cmd_norm(&["ACL", "LIST"], norm_rules);
    d.cmd(&["AUTH", "worker", "w"]);
    d.cmd(&["GET", "queue:1"]);
    d.cmd(&["AUTH", "default", "x"]);
    d.cmd(&["FLUSHALL"]);
    d.cmd(&["SET", "k", "v"]);
    d.cmd(&["ACL", "WHOAMI"]);
}

#[test]
fn acl_load_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.acl");
    std::fs::write(&path, "user default on nopass ~* &* +@all\n").unwrap();
    let p = path.to_string_lossy().into_owned();
    let Some(mut d) = Diff::with_args(&["--aclfile", &p]) else {
        return;
    };
    for content in [
        "user app on bogus\n",
        "user app on +nosuch +@nosuch bogus %X~a\nuser app off\n",
        "foo app on\n",
        "user\n",
        "\n# comment\nuser app on\n",
        "user app on\nuser app off\n",
        "user app on \"unbalanced\n",
        "user a\"b on ~x +get\r\n\n   \nuser c off\n",
        "user app on >pw ~k* &ch -@all +get\nuser default on nopass ~* &* +@all -flushall\n",
    ] {
        std::fs::write(&path, content).unwrap();
        d.cmd(&["ACL", "LOAD"]);
        d.cmd_norm(&["ACL", "LIST"], norm_rules);
    }
    std::fs::remove_file(&path).unwrap();
    d.cmd(&["ACL", "LOAD"]);
    d.cmd_norm(&["ACL", "LIST"], norm_rules);
}

#[test]
fn list_queue_permissions() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&[
        "ACL", "SETUSER", "q", "on", ">pw", "-@all", "+@list", "-blpop", "%R~r:*", "%W~w:*",
        "~rw:*",
    ]);
    d.cmd(&["RPUSH", "r:1", "a", "b"]);
    d.cmd(&["AUTH", "q", "pw"]);
    for args in [
        &["LPUSH", "w:1", "x"][..],
        &["LPUSH", "r:1", "x"],
        &["LRANGE", "r:1", "0", "-1"],
        &["LRANGE", "w:1", "0", "-1"],
        &["LPOP", "w:1"],
        &["LPOP", "rw:1"],
        &["RPUSH", "rw:1", "a", "b"],
        &["LMOVE", "rw:1", "w:2", "LEFT", "RIGHT"],
        &["LMOVE", "rw:1", "r:2", "LEFT", "RIGHT"],
        &["LMOVE", "r:1", "rw:2", "LEFT", "RIGHT"],
        &["BLPOP", "rw:1", "0.01"],
        &["BRPOP", "r:1", "0.01"],
        &["BRPOP", "rw:1", "rw:9", "0.01"],
        &["BLMPOP", "0.01", "2", "rw:1", "w:1", "LEFT"],
        &["LLEN", "r:1"],
        &["GET", "rw:1"],
        &["MULTI"],
        &["LPUSH", "rw:1", "z"],
        &["LPUSH", "r:1", "z"],
        &["EXEC"],
    ] {
        d.cmd(args);
    }
    d.cmd_norm(&["ACL", "LOG"], norm_log);
}

#[test]
fn denials_inside_multi() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&[
        "ACL",
        "SETUSER",
        "m",
        "on",
        ">pw",
        "-@all",
        "+@list",
        "+@transaction",
        "~rw:*",
    ]);
    d.cmd(&["AUTH", "m", "pw"]);
    for args in [
        &["MULTI"][..],
        &["LPUSH", "rw:1", "z"],
        &["LPUSH", "x", "z"],
        &["GET", "rw:1"],
        &["EXEC"],
        &["MULTI"],
        &["LPUSH", "rw:1", "z"],
        &["AUTH", "m", "bad"],
        &["EXEC"],
        &["LRANGE", "rw:1", "0", "-1"],
    ] {
        d.cmd(args);
    }
    d.cmd_norm(&["ACL", "LOG"], norm_log);
}

#[test]
fn pubsub_channel_permissions() {
    let Some(mut d) = Diff::new() else { return };
    d.cmd(&[
        "ACL",
        "SETUSER",
        "ps",
        "on",
        ">pw",
        "-@all",
        "+@pubsub",
        "+@connection",
        "&news.*",
        "&alerts",
    ]);
    d.cmd(&["AUTH", "ps", "pw"]);
    for args in [
        &["PUBLISH", "news.eu", "m"][..],
        &["PUBLISH", "sports", "m"],
        &["SPUBLISH", "sports", "m"],
        &["PSUBSCRIBE", "news.e*"],
        &["SUBSCRIBE", "news.a", "sports"],
        &["SUBSCRIBE", "news.a", "alerts"],
        &["PSUBSCRIBE", "news.*"],
        &["PSUBSCRIBE", "*"],
        &["UNSUBSCRIBE", "sports"],
        &["PUNSUBSCRIBE"],
        &["UNSUBSCRIBE", "news.a"],
        &["UNSUBSCRIBE", "alerts"],
    ] {
        d.cmd(args);
    }
    d.cmd_norm(&["ACL", "LOG", "3"], norm_log);
}
