//! CLIENT PAUSE: which commands wait (writes, and whatever may feed replication, judged as
//! Redis judges it before running), that waiting clients count as blocked, that UNPAUSE
//! releases them at once, and that nothing expires while clients are paused. Each behaviour
//! was checked against redis-server 7.0; the replies that do not depend on timing are compared
//! with it directly where the oracle is available.

mod common;
use common::{Diff, RawConn, Server, info_field, wait_for};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(10);
/// How long a held command is watched to stay unanswered.
const HELD: Duration = Duration::from_millis(200);

fn blocked(c: &mut RawConn) -> u64 {
    info_field(c, "blocked_clients").unwrap().parse().unwrap()
}

/// Send `cmd` on a fresh connection while paused and check it is held (no reply), counted as
/// blocked; returns the connection so the caller can read the reply after UNPAUSE.
fn held(srv: &Server, admin: &mut RawConn, cmd: &[&str], already: u64) -> RawConn {
    let mut c = srv.raw();
    c.send(cmd);
    assert!(
        wait_for(LONG, || blocked(admin) == already + 1),
        "{cmd:?} is not counted as blocked"
    );
    assert_eq!(c.try_read_reply(HELD), None, "{cmd:?} ran during the pause");
    c
}

fn runs(srv: &Server, cmd: &[&str]) -> String {
    let mut c = srv.raw();
    c.send(cmd);
    let r = c
        .try_read_reply(LONG)
        .unwrap_or_else(|| panic!("{cmd:?} was held"));
    String::from_utf8_lossy(&r).into_owned()
}

#[test]
fn pause_write_holds_writes_and_what_may_replicate() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    admin.cmd(&["SET", "k", "v"]);
    admin.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function{function_name='ro', callback=function() return 'hello' end, flags={'no-writes'}}\nredis.register_function('rw', function() return 'written' end)",
    ]);
    // A write queued before the pause (queueing one during a pause waits too, as in Redis).
    let mut queued = srv.raw();
    queued.cmd(&["MULTI"]);
    queued.cmd(&["SET", "q", "1"]);
    assert_eq!(
        admin.cmd_s(&["CLIENT", "PAUSE", "100000", "WRITE"]),
        "+OK\r\n"
    );

    // Reads, read-only scripts and read-only transactions run.
    assert_eq!(runs(&srv, &["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(runs(&srv, &["EVAL_RO", "return 1", "0"]), ":1\r\n");
    assert_eq!(
        runs(&srv, &["EVAL", "#!lua flags=no-writes\nreturn 2", "0"]),
        ":2\r\n"
    );
    assert_eq!(runs(&srv, &["FCALL", "ro", "0"]), "$5\r\nhello\r\n");
    let mut tx = srv.raw();
    tx.cmd(&["MULTI"]);
    tx.cmd(&["GET", "k"]);
    tx.send(&["EXEC"]);
    assert_eq!(
        tx.try_read_reply(LONG)
            .map(|r| String::from_utf8_lossy(&r).into_owned()),
        Some("*1\r\n$1\r\nv\r\n".to_string())
    );
    // A command with the wrong arity is answered at once.
    assert!(runs(&srv, &["SET", "k"]).starts_with("-ERR wrong number of arguments"));
    assert_eq!(blocked(&mut admin), 0);

    // Writes, PUBLISH, scripts that declare no flags or may write, and EXEC of a write wait.
    let waiting = [
        (held(&srv, &mut admin, &["SET", "k", "w"], 0), "+OK\r\n"),
        (held(&srv, &mut admin, &["PUBLISH", "ch", "m"], 1), ":0\r\n"),
        (
            held(&srv, &mut admin, &["EVAL", "return 3", "0"], 2),
            ":3\r\n",
        ),
        (
            held(&srv, &mut admin, &["EVAL", "#!lua\nreturn 4", "0"], 3),
            ":4\r\n",
        ),
        (
            held(&srv, &mut admin, &["FCALL", "rw", "0"], 4),
            "$7\r\nwritten\r\n",
        ),
    ];
    queued.send(&["EXEC"]);
    assert!(wait_for(LONG, || blocked(&mut admin) == 6));
    assert_eq!(queued.try_read_reply(HELD), None, "EXEC of a write ran");

    // UNPAUSE releases every one of them without waiting for the timeout.
    assert_eq!(admin.cmd_s(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    for (mut c, want) in waiting {
        let r = c.try_read_reply(LONG).expect("released by UNPAUSE");
        assert_eq!(String::from_utf8_lossy(&r), want);
    }
    let r = queued.try_read_reply(LONG).expect("EXEC released");
    assert_eq!(String::from_utf8_lossy(&r), "*1\r\n+OK\r\n");
    assert!(wait_for(LONG, || blocked(&mut admin) == 0));
    assert_eq!(admin.cmd_s(&["GET", "k"]), "$1\r\nw\r\n");
}

#[test]
fn pause_all_holds_reads_until_it_times_out() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    assert_eq!(admin.cmd_s(&["CLIENT", "PAUSE", "300", "ALL"]), "+OK\r\n");
    let mut c = srv.raw();
    c.send(&["GET", "k"]);
    // Answered once the pause has run out, without an UNPAUSE.
    let r = c
        .try_read_reply(LONG)
        .expect("released when the pause ends");
    assert_eq!(r, b"$-1\r\n");
    // A shorter or weaker pause does not cut one in force short; under ALL even CLIENT
    // UNPAUSE waits for the end (Redis does the same).
    admin.cmd(&["CLIENT", "PAUSE", "1000", "ALL"]);
    let start = std::time::Instant::now();
    admin.cmd(&["CLIENT", "PAUSE", "10", "WRITE"]);
    let mut c = srv.raw();
    c.send(&["GET", "k"]);
    assert_eq!(c.try_read_reply(LONG).unwrap(), b"$-1\r\n");
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "the pause was shortened"
    );
}

#[test]
fn nothing_expires_while_clients_are_paused() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let expired =
        |c: &mut RawConn| -> u64 { info_field(c, "expired_keys").unwrap().parse().unwrap() };
    let before = expired(&mut c);
    // The pause begins when the transaction that asks for it ends.
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1", "PX", "20"]);
    c.cmd(&["SET", "b", "2", "PX", "20"]);
    c.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
    assert_eq!(c.cmd_s(&["EXEC"]), "*3\r\n+OK\r\n+OK\r\n+OK\r\n");
    // Logically gone for readers ...
    assert!(wait_for(LONG, || c.cmd(&["GET", "a"]) == b"$-1\r\n"
        && c.cmd(&["GET", "b"]) == b"$-1\r\n"));
    assert_eq!(c.cmd_s(&["EXISTS", "a", "b"]), ":0\r\n");
    // ... but neither the lookups nor the active cycle removed them.
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(expired(&mut c), before);
    assert_eq!(c.cmd_s(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    c.cmd(&["GET", "a"]);
    c.cmd(&["GET", "b"]);
    assert!(wait_for(LONG, || expired(&mut c) == before + 2));
}

/// PUBLISH (it may feed replication) is refused in read-only scripts, as in Redis, and allowed
/// in scripts that may write.
#[test]
fn read_only_scripts_cannot_publish() {
    let Some(mut d) = Diff::new() else { return };
    d.script(&[
        &["EVAL_RO", "return redis.call('publish','ch','msg')", "0"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('spublish','ch','msg')",
            "0",
        ],
        &["EVAL", "return redis.call('publish','ch','msg')", "0"],
    ]);
}
