//! ACL over TCP: permissions per category, key pattern and channel pattern; authentication
//! (requirepass, users, brute force not slowing other clients); user changes reaching
//! connected clients; DELUSER disconnecting; the ACL file (startup, SAVE, LOAD); the ACL LOG.

mod common;
use common::{RawConn, Server, wait_for};
use std::time::{Duration, Instant};

fn ok(c: &mut RawConn, args: &[&str]) {
    assert_eq!(c.cmd_s(args), "+OK\r\n", "{args:?}");
}

fn noperm_cmd(name: &str) -> String {
    format!("-NOPERM this user has no permissions to run the '{name}' command\r\n")
}

const NOPERM_KEY: &str =
    "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";

/// A connection authenticated as a fresh user with `rules` (plus `on >pw`).
fn as_user(srv: &Server, admin: &mut RawConn, name: &str, rules: &[&str]) -> RawConn {
    let mut args = vec!["ACL", "SETUSER", name, "reset", "on", ">pw"];
    args.extend_from_slice(rules);
    ok(admin, &args);
    let mut c = srv.raw();
    ok(&mut c, &["AUTH", name, "pw"]);
    c
}

#[test]
fn categories_allow_and_deny() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    let mut s = as_user(&srv, &mut admin, "strings", &["~*", "+@string"]);
    ok(&mut s, &["SET", "k", "v"]);
    assert_eq!(s.cmd_s(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(s.cmd_s(&["DEL", "k"]), noperm_cmd("del"));
    assert_eq!(
        s.cmd_s(&["CONFIG", "GET", "port"]),
        noperm_cmd("config|get")
    );
    assert_eq!(s.cmd_s(&["PING"]), noperm_cmd("ping"));

    let mut r = as_user(
        &srv,
        &mut admin,
        "reader",
        &["~*", "+@read", "+@connection"],
    );
    assert_eq!(r.cmd_s(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(r.cmd_s(&["EXISTS", "k"]), ":1\r\n");
    assert_eq!(r.cmd_s(&["SET", "k", "w"]), noperm_cmd("set"));
    assert_eq!(r.cmd_s(&["PING"]), "+PONG\r\n");

    // +@all -@dangerous: data commands yes, FLUSHALL / CONFIG SET / DEBUG no.
    let mut d = as_user(&srv, &mut admin, "safe", &["~*", "+@all", "-@dangerous"]);
    ok(&mut d, &["SET", "k", "x"]);
    assert_eq!(d.cmd_s(&["FLUSHALL"]), noperm_cmd("flushall"));
    assert_eq!(
        d.cmd_s(&["CONFIG", "SET", "maxclients", "10"]),
        noperm_cmd("config|set")
    );
    assert_eq!(d.cmd_s(&["ACL", "SETUSER", "x"]), noperm_cmd("acl|setuser"));
    assert_eq!(d.cmd_s(&["ACL", "WHOAMI"]), "$4\r\nsafe\r\n");

    // Subcommand rules and first arguments.
    let mut c = as_user(&srv, &mut admin, "cfg", &["+config|get", "+select|0"]);
    assert!(c.cmd_s(&["CONFIG", "GET", "port"]).starts_with("*2\r\n"));
    assert_eq!(c.cmd_s(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(c.cmd_s(&["SELECT", "1"]), noperm_cmd("select"));
    // AUTH needs no permission.
    assert_eq!(
        c.cmd_s(&["AUTH", "cfg", "bad"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
}

#[test]
fn key_patterns_read_write() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    ok(&mut admin, &["SET", "r:1", "a"]);
    ok(&mut admin, &["SET", "w:1", "b"]);
    let mut c = as_user(
        &srv,
        &mut admin,
        "keys",
        &["+@all", "%R~r:*", "%W~w:*", "~queue:*"],
    );
    assert_eq!(c.cmd_s(&["GET", "r:1"]), "$1\r\na\r\n");
    assert_eq!(c.cmd_s(&["GET", "w:1"]), NOPERM_KEY);
    assert_eq!(c.cmd_s(&["SET", "r:1", "x"]), NOPERM_KEY);
    ok(&mut c, &["SET", "queue:a", "x"]);
    assert_eq!(c.cmd_s(&["GET", "queue:a"]), "$1\r\nx\r\n");
    assert_eq!(c.cmd_s(&["GET", "other"]), NOPERM_KEY);
    // DEL needs write access only.
    assert_eq!(c.cmd_s(&["DEL", "w:1"]), ":1\r\n");
    assert_eq!(c.cmd_s(&["DEL", "r:1"]), NOPERM_KEY);
    // Every key of a multi-key command is checked.
    assert_eq!(c.cmd_s(&["MGET", "r:1", "queue:a", "nope"]), NOPERM_KEY);
    assert!(c.cmd_s(&["MGET", "r:1", "queue:a"]).starts_with("*2\r\n"));
    // Patterns added later apply to the connected client at its next command.
    ok(&mut admin, &["ACL", "SETUSER", "keys", "~other"]);
    assert_eq!(c.cmd_s(&["GET", "other"]), "$-1\r\n");
    ok(
        &mut admin,
        &["ACL", "SETUSER", "keys", "resetkeys", "~only"],
    );
    assert_eq!(c.cmd_s(&["GET", "queue:a"]), NOPERM_KEY);
}

#[test]
fn channel_permissions() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "sub", "on", "nopass", "+@all", "allkeys", "&news.*", "&alerts",
        ],
    );
    let dry = |a: &mut RawConn, args: &[&str]| {
        let mut full = vec!["ACL", "DRYRUN", "sub"];
        full.extend_from_slice(args);
        a.cmd_s(&full)
    };
    assert_eq!(dry(&mut admin, &["PUBLISH", "news.eu", "m"]), "+OK\r\n");
    assert_eq!(dry(&mut admin, &["PUBLISH", "alerts", "m"]), "+OK\r\n");
    assert_eq!(
        dry(&mut admin, &["PUBLISH", "sports", "m"]),
        "$59\r\nThis user has no permissions to access the 'sports' channel\r\n"
    );
    assert_eq!(
        dry(&mut admin, &["SUBSCRIBE", "news.a", "alerts"]),
        "+OK\r\n"
    );
    assert!(dry(&mut admin, &["SUBSCRIBE", "news.a", "alertsx"]).contains("'alertsx' channel"));
    // PSUBSCRIBE: the pattern must be one of the user's patterns, literally.
    assert_eq!(dry(&mut admin, &["PSUBSCRIBE", "news.*"]), "+OK\r\n");
    assert!(dry(&mut admin, &["PSUBSCRIBE", "news.e*"]).contains("'news.e*' channel"));
    assert!(dry(&mut admin, &["PSUBSCRIBE", "*"]).contains("'*' channel"));
    // Unsubscribing is never refused; new users start with no channels.
    assert_eq!(dry(&mut admin, &["UNSUBSCRIBE", "x"]), "+OK\r\n");
    ok(
        &mut admin,
        &["ACL", "SETUSER", "fresh", "on", "nopass", "+@all"],
    );
    assert!(
        admin
            .cmd_s(&["ACL", "DRYRUN", "fresh", "PUBLISH", "any", "m"])
            .contains("'any' channel")
    );
    assert!(
        admin
            .cmd_s(&["ACL", "GETUSER", "fresh"])
            .contains("channels\r\n$0\r\n")
    );
    ok(&mut admin, &["ACL", "SETUSER", "fresh", "allchannels"]);
    assert_eq!(
        admin.cmd_s(&["ACL", "DRYRUN", "fresh", "PUBLISH", "any", "m"]),
        "+OK\r\n"
    );
}

#[test]
fn requirepass_and_unauthenticated_clients() {
    let srv = Server::ferrymq(&["--requirepass", "s3cret"]);
    let mut c = srv.raw();
    assert_eq!(
        c.cmd_s(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd_s(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd_s(&["AUTH", "nope"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd_s(&["RESET"]), "+RESET\r\n");
    ok(&mut c, &["AUTH", "s3cret"]);
    assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
    // CONFIG SET requirepass changes the default user's password for new logins.
    ok(&mut c, &["CONFIG", "SET", "requirepass", "n3w"]);
    let mut d = srv.raw();
    assert!(d.cmd_s(&["AUTH", "s3cret"]).starts_with("-WRONGPASS"));
    ok(&mut d, &["AUTH", "default", "n3w"]);
    // RESET logs the connection out again.
    assert_eq!(d.cmd_s(&["RESET"]), "+RESET\r\n");
    assert_eq!(
        d.cmd_s(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    // HELLO AUTH authenticates and switches protocol in one step.
    let r = d.cmd_s(&["HELLO", "3", "AUTH", "default", "n3w"]);
    assert!(r.starts_with("%7\r\n"), "{r}");
    assert_eq!(d.cmd_s(&["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
    // QUIT is allowed before authenticating.
    let mut q = srv.raw();
    ok(&mut q, &["QUIT"]);
    assert!(q.closed(Duration::from_secs(5)));
}

#[test]
fn deluser_disconnects_its_clients() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    let mut a = as_user(&srv, &mut admin, "temp", &["+@all", "~*"]);
    let mut b = as_user(&srv, &mut admin, "keep", &["+@all", "~*"]);
    let list = admin.cmd_s(&["CLIENT", "LIST"]);
    assert!(list.contains("user=temp"), "{list}");
    assert_eq!(admin.cmd_s(&["ACL", "DELUSER", "temp"]), ":1\r\n");
    assert!(a.closed(Duration::from_secs(5)));
    assert_eq!(b.cmd_s(&["PING"]), "+PONG\r\n");
    assert_eq!(admin.cmd_s(&["ACL", "DELUSER", "temp"]), ":0\r\n");
    // Deleting one's own user: the reply arrives, then the connection closes.
    assert_eq!(b.cmd_s(&["ACL", "DELUSER", "keep"]), ":1\r\n");
    assert!(b.closed(Duration::from_secs(5)));
    // A disabled user cannot log in; one already logged in keeps its session.
    let mut c = as_user(&srv, &mut admin, "later", &["+@all", "~*"]);
    ok(&mut admin, &["ACL", "SETUSER", "later", "off"]);
    assert_eq!(c.cmd_s(&["PING"]), "+PONG\r\n");
    assert!(
        srv.raw()
            .cmd_s(&["AUTH", "later", "pw"])
            .starts_with("-WRONGPASS")
    );
}

#[test]
fn acl_log_records_denials() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    let mut c = as_user(&srv, &mut admin, "logged", &["+get", "~k"]);
    assert_eq!(c.cmd_s(&["GET", "x"]), NOPERM_KEY);
    assert_eq!(c.cmd_s(&["GET", "x"]), NOPERM_KEY);
    assert_eq!(c.cmd_s(&["SET", "k", "v"]), noperm_cmd("set"));
    assert!(
        srv.raw()
            .cmd_s(&["AUTH", "logged", "bad"])
            .starts_with("-WRONGPASS")
    );
    let log = admin.cmd_s(&["ACL", "LOG"]);
    let entries: Vec<&str> = log.split("$5\r\ncount\r\n").skip(1).collect();
    assert_eq!(entries.len(), 3, "{log}");
    // Newest first; the repeated key denial is one entry counted twice.
    assert!(entries[0].starts_with(":1\r\n") && entries[0].contains("auth\r\n"));
    assert!(entries[1].contains("command\r\n") && entries[1].contains("$3\r\nset\r\n"));
    assert!(entries[2].starts_with(":2\r\n") && entries[2].contains("$3\r\nkey\r\n"));
    assert!(entries[2].contains("user=logged"));
    ok(&mut admin, &["CONFIG", "SET", "acllog-max-len", "1"]);
    assert_eq!(c.cmd_s(&["GET", "y"]), NOPERM_KEY);
    assert!(admin.cmd_s(&["ACL", "LOG"]).starts_with("*1\r\n"));
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    assert_eq!(admin.cmd_s(&["ACL", "LOG"]), "*0\r\n");
}

#[test]
fn aclfile_startup_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.acl");
    std::fs::write(
        &path,
        "user default on nopass ~* &* +@all\nuser app on >apppw ~app:* resetchannels -@all +get +set\n",
    )
    .unwrap();
    let p = path.to_string_lossy().into_owned();
    let srv = Server::ferrymq(&["--aclfile", &p]);
    let mut admin = srv.raw();
    assert_eq!(
        admin.cmd_s(&["ACL", "USERS"]),
        "*2\r\n$3\r\napp\r\n$7\r\ndefault\r\n"
    );
    let mut app = srv.raw();
    ok(&mut app, &["AUTH", "app", "apppw"]);
    ok(&mut app, &["SET", "app:1", "v"]);
    assert_eq!(app.cmd_s(&["SET", "x", "v"]), NOPERM_KEY);

    ok(
        &mut admin,
        &["ACL", "SETUSER", "ops", "on", ">o", "+@all", "~*"],
    );
    ok(&mut admin, &["ACL", "SAVE"]);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(saved.lines().count(), 3, "{saved}");
    assert!(saved.contains("user ops on #"), "{saved}");

    // Edit the file and load it: ops is gone, app changed, app's clients are disconnected.
    std::fs::write(
        &path,
        "user app on >apppw ~other:* resetchannels -@all +get\n",
    )
    .unwrap();
    ok(&mut admin, &["ACL", "LOAD"]);
    assert!(app.closed(Duration::from_secs(5)));
    assert_eq!(
        admin.cmd_s(&["ACL", "USERS"]),
        "*2\r\n$3\r\napp\r\n$7\r\ndefault\r\n"
    );
    // Without a default line, default is the built-in unrestricted user.
    assert_eq!(admin.cmd_s(&["PING"]), "+PONG\r\n");
    // A bad file changes nothing.
    std::fs::write(&path, "user app on bogus\n").unwrap();
    assert!(admin.cmd_s(&["ACL", "LOAD"]).starts_with("-ERR "));
    assert_eq!(
        admin.cmd_s(&["ACL", "USERS"]),
        "*2\r\n$3\r\napp\r\n$7\r\ndefault\r\n"
    );
}

/// A client hammering AUTH with wrong passwords does not slow down others: every AUTH is one
/// SHA-256 outside the store lock, with no added delay.
#[test]
fn auth_brute_force_does_not_slow_others() {
    let srv = Server::ferrymq(&["--requirepass", "right"]);
    let port = srv.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut tries = 0u64;
                let batch: Vec<u8> = (0..100)
                    .flat_map(|i| common::encode_cmd(&["AUTH", &format!("guess{i}")]))
                    .collect();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && tries < 200_000 {
                    c.send_raw(&batch);
                    for _ in 0..100 {
                        let r = c.read_reply();
                        assert!(r.starts_with(b"-WRONGPASS"));
                    }
                    tries += 100;
                }
                tries
            })
        })
        .collect();
    let mut good = srv.raw();
    ok(&mut good, &["AUTH", "right"]);
    let mut lat = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        assert_eq!(good.cmd_s(&["PING"]), "+PONG\r\n");
        lat.push(t.elapsed());
    }
    lat.sort();
    let n = lat.len();
    let (median, p95) = (lat[n / 2], lat[n * 95 / 100]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let tries: u64 = attackers.into_iter().map(|t| t.join().unwrap()).sum();
    eprintln!(
        "{tries} wrong AUTHs while {n} PINGs ran: median {median:?}, p95 {p95:?}, worst {:?}",
        lat[n - 1]
    );
    assert!(tries >= 1000, "the attack did run ({tries})");
    assert!(n >= 100, "the good client kept being served ({n} PINGs)");
    // Bounds loose enough for a loaded 2-core machine, far below what a per-attempt delay or
    // a lock held across attempts would cause.
    assert!(median < Duration::from_millis(20), "median PING {median:?}");
    assert!(p95 < Duration::from_millis(150), "p95 PING {p95:?}");
    assert!(wait_for(Duration::from_secs(5), || {
        good.cmd_s(&["ACL", "LOG", "1"]).contains("auth")
    }));
}

/// The reply Redis 7.0 gives in EXEC's array for a queued command the user may no longer run.
fn exec_noperm(reason: &str) -> String {
    format!(
        "-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}\r\n"
    )
}

/// EXEC re-checks each queued command against the user's rules as they are when it runs
/// (replies taken from redis-server 7.0.15); the denial is logged with context `multi`.
#[test]
fn exec_rechecks_permissions_changed_after_queueing() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    let mut c = as_user(&srv, &mut admin, "tx", &["+@all", "~*", "&*"]);
    ok(&mut c, &["MULTI"]);
    assert_eq!(c.cmd_s(&["SET", "k", "v"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_s(&["GET", "k"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_s(&["PUBLISH", "ch", "x"]), "+QUEUED\r\n");
    ok(
        &mut admin,
        &["ACL", "SETUSER", "tx", "-set", "resetchannels"],
    );
    assert_eq!(
        c.cmd_s(&["EXEC"]),
        format!(
            "*3\r\n{}$-1\r\n{}",
            exec_noperm("no permission to execute the command or subcommand"),
            exec_noperm("no permission to access one of the channels used as arguments")
        )
    );
    assert_eq!(admin.cmd_s(&["EXISTS", "k"]), ":0\r\n", "SET did not run");
    let log = admin.cmd_s(&["ACL", "LOG"]);
    assert!(log.starts_with("*2\r\n"), "{log}");
    assert!(
        log.contains(
            "$7\r\nchannel\r\n$7\r\ncontext\r\n$5\r\nmulti\r\n$6\r\nobject\r\n$2\r\nch\r\n"
        )
    );
    assert!(log.contains(
        "$7\r\ncommand\r\n$7\r\ncontext\r\n$5\r\nmulti\r\n$6\r\nobject\r\n$3\r\nset\r\n"
    ));

    ok(&mut c, &["MULTI"]);
    assert_eq!(c.cmd_s(&["GET", "k"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_s(&["PING"]), "+QUEUED\r\n");
    ok(&mut admin, &["ACL", "SETUSER", "tx", "resetkeys"]);
    assert_eq!(
        c.cmd_s(&["EXEC"]),
        format!(
            "*2\r\n{}+PONG\r\n",
            exec_noperm("no permission to touch the specified keys")
        )
    );
    // Unchanged rules: the transaction runs as usual.
    ok(&mut c, &["MULTI"]);
    assert_eq!(c.cmd_s(&["PING"]), "+QUEUED\r\n");
    assert_eq!(c.cmd_s(&["EXEC"]), "*1\r\n+PONG\r\n");
}

/// `redis.call` / `redis.pcall` run with the permissions of the user running the script
/// (errors taken from redis-server 7.0.15); denials are logged with context `lua`.
#[test]
fn scripts_run_commands_with_the_callers_permissions() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    let mut c = as_user(&srv, &mut admin, "lua", &["+@all", "-set", "~k*", "&ch"]);
    assert_eq!(
        c.cmd_s(&["EVAL", "return redis.call('set','k','v')", "0"]),
        "-ERR The user executing the script can't run this command or subcommand script: d223ed8c7345b684e8ed044ed472601f536fa58b, on @user_script:1.\r\n"
    );
    assert_eq!(
        c.cmd_s(&["EVAL", "return redis.pcall('set','k','v')", "0"]),
        "-ERR The user executing the script can't run this command or subcommand\r\n"
    );
    assert_eq!(
        c.cmd_s(&["EVAL", "return redis.call('get','zz')", "0"]),
        "-ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: e1865e627da33038e4f491368970810aeb17c8bb, on @user_script:1.\r\n"
    );
    assert_eq!(
        c.cmd_s(&["EVAL", "return redis.call('publish','other','m')", "0"]),
        "-ERR The user executing the script can't publish to the channel mentioned in the command script: 4c1f66b3c45d0e2ab3ad154a5693aa863023564c, on @user_script:1.\r\n"
    );
    assert_eq!(
        c.cmd_s(&["EVAL", "return redis.call('get','k')", "0"]),
        "$-1\r\n"
    );
    assert_eq!(c.cmd_s(&["EXISTS", "k"]), ":0\r\n", "SET never ran");
    let log = admin.cmd_s(&["ACL", "LOG"]);
    assert!(log.starts_with("*3\r\n"), "{log}");
    assert!(
        log.contains(
            "$5\r\ncount\r\n:2\r\n$6\r\nreason\r\n$7\r\ncommand\r\n$7\r\ncontext\r\n$3\r\nlua\r\n"
        ),
        "{log}"
    );
    assert!(
        log.contains("$3\r\nkey\r\n$7\r\ncontext\r\n$3\r\nlua\r\n$6\r\nobject\r\n$2\r\nzz\r\n"),
        "{log}"
    );
    // Permissions come before the read-only-script check (redis-server 7.0.15).
    assert_eq!(
        c.cmd_s(&["EVAL_RO", "return redis.call('set','k','v')", "0"]),
        "-ERR The user executing the script can't run this command or subcommand script: d223ed8c7345b684e8ed044ed472601f536fa58b, on @user_script:1.\r\n"
    );
    assert_eq!(
        c.cmd_s(&["EVAL_RO", "return redis.call('lpush','zz','v')", "0"]),
        "-ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: 25fbd3019f287ac10a2acfca0117154bde7e5807, on @user_script:1.\r\n"
    );
    assert_eq!(
        c.cmd_s(&["EVAL_RO", "return redis.call('lpush','k','v')", "0"]),
        "-ERR Write commands are not allowed from read-only scripts. script: 6d25130e7f044694f7b8de0d3bc0024007f143a9, on @user_script:1.\r\n"
    );
}

/// Is `c` still served? (A subscriber in RESP2 answers PING with a pong array.)
fn served(c: &mut RawConn) -> bool {
    c.send(&["PING"]);
    c.try_read_reply(Duration::from_secs(5)).is_some()
}

fn subscriber(srv: &Server, user: &str, cmd: &[&str]) -> RawConn {
    let mut c = srv.raw();
    ok(&mut c, &["AUTH", user, "pw"]);
    c.send(cmd);
    for _ in 1..cmd.len() {
        c.read_reply();
    }
    c
}

/// ACL SETUSER that takes channel permissions away closes the user's connections subscribed
/// to what is no longer allowed, and only those (cases checked on redis-server 7.0.15).
#[test]
fn revoking_channels_disconnects_affected_subscribers() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    // allchannels -> resetchannels.
    as_user(&srv, &mut admin, "v1", &["+@all", "~*", "allchannels"]);
    let mut s = subscriber(&srv, "v1", &["SUBSCRIBE", "foo"]);
    ok(&mut admin, &["ACL", "SETUSER", "v1", "resetchannels"]);
    assert!(s.closed(Duration::from_secs(5)));

    // &a &b -> &a: the subscriber of b goes; the one of a and a plain connection stay.
    let mut plain = as_user(
        &srv,
        &mut admin,
        "v2",
        &["+@all", "~*", "resetchannels", "&a", "&b"],
    );
    let mut sb = subscriber(&srv, "v2", &["SUBSCRIBE", "b"]);
    let mut sa = subscriber(&srv, "v2", &["SUBSCRIBE", "a"]);
    ok(&mut admin, &["ACL", "SETUSER", "v2", "resetchannels", "&a"]);
    assert!(sb.closed(Duration::from_secs(5)));
    assert!(served(&mut sa));
    assert_eq!(plain.cmd_s(&["PING"]), "+PONG\r\n");

    // Pattern subscriptions must still equal an allowed pattern; channel subscriptions only
    // need to match one.
    as_user(
        &srv,
        &mut admin,
        "v3",
        &["+@all", "~*", "resetchannels", "&n*", "&m*"],
    );
    let mut pn = subscriber(&srv, "v3", &["PSUBSCRIBE", "n*"]);
    let mut pm = subscriber(&srv, "v3", &["PSUBSCRIBE", "m*"]);
    let mut cn = subscriber(&srv, "v3", &["SUBSCRIBE", "nx"]);
    let mut shard = subscriber(&srv, "v3", &["SSUBSCRIBE", "mx"]);
    ok(
        &mut admin,
        &["ACL", "SETUSER", "v3", "resetchannels", "&n*"],
    );
    assert!(pm.closed(Duration::from_secs(5)));
    assert!(shard.closed(Duration::from_secs(5)));
    assert!(served(&mut pn));
    assert!(served(&mut cn));

    // Adding channels or disabling the user closes nobody; `reset` does.
    as_user(
        &srv,
        &mut admin,
        "v4",
        &["+@all", "~*", "resetchannels", "&a"],
    );
    let mut s4 = subscriber(&srv, "v4", &["SUBSCRIBE", "a"]);
    ok(&mut admin, &["ACL", "SETUSER", "v4", "&b"]);
    ok(&mut admin, &["ACL", "SETUSER", "v4", "off"]);
    assert!(served(&mut s4));
    ok(&mut admin, &["ACL", "SETUSER", "v4", "reset"]);
    assert!(s4.closed(Duration::from_secs(5)));

    // Another user's subscribers are not affected.
    assert!(served(&mut sa));
}
