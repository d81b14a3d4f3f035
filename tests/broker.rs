//! Broker policies on consumer groups (FMQ.GROUPSET): a visibility timeout that delivers an
//! unacknowledged entry again to whoever reads next, waking blocked readers when it passes; a
//! delivery limit that moves an entry to a dead-letter stream instead; FMQ.REDRIVE to move it
//! back; all of it kept through a restart and an AOF rewrite.

mod common;
use common::{DirServer, RawConn, Server, wait_for};
use std::time::{Duration, Instant};

fn s(r: &[u8]) -> String {
    String::from_utf8_lossy(r).into_owned()
}

/// The IDs in an XREADGROUP/XRANGE reply, in order.
fn ids(r: &[u8]) -> Vec<String> {
    s(r).split("\r\n")
        .filter(|l| l.len() > 2 && l.chars().next().unwrap().is_ascii_digit() && l.contains('-'))
        .map(str::to_string)
        .collect()
}

fn int(r: &[u8]) -> i64 {
    s(r).trim().trim_start_matches(':').parse().unwrap()
}

/// (consumer, delivery count) of each pending entry.
fn pending(c: &mut RawConn, key: &str, g: &str) -> Vec<(String, i64)> {
    let t = s(&c.cmd(&["XPENDING", key, g, "-", "+", "100"]));
    let l: Vec<&str> = t.split("\r\n").collect();
    let mut out = Vec::new();
    // Past the outer array's header.
    let mut i = 1;
    while i < l.len() {
        if l[i] == "*4" {
            // *4, $n, id, $n, consumer, :idle, :count
            out.push((l[i + 4].to_string(), l[i + 6][1..].parse().unwrap()));
            i += 7;
        } else {
            i += 1;
        }
    }
    out
}

fn setup(c: &mut RawConn, vis: &str) -> String {
    let id = s(&c.cmd(&["XADD", "q", "*", "job", "1"]));
    c.cmd(&["XGROUP", "CREATE", "q", "g", "0"]);
    assert_eq!(
        c.cmd(&["FMQ.GROUPSET", "q", "g", "VISIBILITY", vis]),
        b"+OK\r\n"
    );
    id.split("\r\n").nth(1).unwrap().to_string()
}

#[test]
fn an_unacknowledged_entry_is_delivered_again_after_its_visibility_timeout() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let id = setup(&mut c, "300");
    assert_eq!(
        ids(&c.cmd(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">"])),
        std::slice::from_ref(&id)
    );
    let start = Instant::now();
    // Before the timeout nobody else gets it.
    let r = c.cmd(&["XREADGROUP", "GROUP", "g", "b", "STREAMS", "q", ">"]);
    if start.elapsed() < Duration::from_millis(250) {
        assert_eq!(r, b"*-1\r\n");
    }
    // After it, the next reader does, with one more delivery, and owns it.
    assert!(wait_for(Duration::from_secs(5), || {
        ids(&c.cmd(&["XREADGROUP", "GROUP", "g", "b", "STREAMS", "q", ">"])) == [id.clone()]
    }));
    assert!(start.elapsed() >= Duration::from_millis(290));
    assert_eq!(pending(&mut c, "q", "g"), [("b".to_string(), 2)]);
    // Acknowledged: never again.
    assert_eq!(int(&c.cmd(&["XACK", "q", "g", &id])), 1);
    assert_eq!(
        c.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "BLOCK",
            "400",
            "STREAMS",
            "q",
            ">"
        ]),
        b"*-1\r\n"
    );
    // Policies read back; a group without one reads as all off.
    let got = s(&c.cmd(&["FMQ.GROUPGET", "q", "g"]));
    assert!(got.contains("visibility\r\n:300\r\n"), "{got:?}");
}

#[test]
fn a_blocked_reader_is_woken_when_a_timeout_passes() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let id = setup(&mut c, "250");
    c.cmd(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">"]);
    let delivered = Instant::now();
    let mut b = srv.raw();
    let r = b.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "b",
        "BLOCK",
        "10000",
        "STREAMS",
        "q",
        ">",
    ]);
    let waited = delivered.elapsed();
    assert_eq!(ids(&r), [id]);
    assert!(waited >= Duration::from_millis(240), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn over_its_delivery_limit_an_entry_goes_to_the_dead_letter_stream_and_can_come_back() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let id = setup(&mut c, "50");
    assert_eq!(
        c.cmd(&[
            "FMQ.GROUPSET",
            "q",
            "g",
            "MAXDELIVERIES",
            "2",
            "DEADLETTER",
            "dlq"
        ]),
        b"+OK\r\n"
    );
    c.cmd(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">"]);
    assert!(wait_for(Duration::from_secs(5), || {
        !ids(&c.cmd(&["XREADGROUP", "GROUP", "g", "b", "STREAMS", "q", ">"])).is_empty()
    }));
    // The third delivery does not happen: the entry is dead-lettered and acknowledged.
    assert!(wait_for(Duration::from_secs(5), || {
        c.cmd(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", ">"]);
        int(&c.cmd(&["XLEN", "dlq"])) == 1
    }));
    assert!(pending(&mut c, "q", "g").is_empty());
    let dl = s(&c.cmd(&["XRANGE", "dlq", "-", "+"]));
    for part in [
        "fmq-source\r\n$1\r\nq",
        "fmq-group\r\n$1\r\ng",
        &format!("fmq-id\r\n${}\r\n{id}", id.len()),
        "fmq-consumer\r\n$1\r\nb",
        "fmq-deliveries\r\n$1\r\n2",
        "fmq-reason\r\n$14\r\nmax-deliveries",
        "job\r\n$1\r\n1",
    ] {
        assert!(dl.contains(part), "{part:?} in {dl:?}");
    }
    // Redrive: back in its stream as a new entry, delivered to the group like any other.
    assert_eq!(int(&c.cmd(&["FMQ.REDRIVE", "dlq"])), 1);
    assert_eq!(int(&c.cmd(&["XLEN", "dlq"])), 0);
    let r = s(&c.cmd(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">"]));
    assert!(r.contains("job\r\n$1\r\n1") && !r.contains(&id), "{r:?}");
}

#[test]
fn bad_policies_are_refused_and_change_nothing() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    setup(&mut c, "1000");
    c.cmd(&["SET", "str", "v"]);
    for (args, err) in [
        (
            vec!["FMQ.GROUPSET", "q", "g", "VISIBILITY", "-1"],
            "-ERR VISIBILITY must be a non-negative integer",
        ),
        (
            vec!["FMQ.GROUPSET", "q", "g", "VISIBILITY", "x"],
            "-ERR VISIBILITY must be a non-negative integer",
        ),
        (
            vec!["FMQ.GROUPSET", "q", "g", "MAXDELIVERIES", "3"],
            "-ERR MAXDELIVERIES needs a DEADLETTER stream",
        ),
        (
            vec!["FMQ.GROUPSET", "q", "g", "DEADLETTER", "q"],
            "-ERR DEADLETTER must name another key",
        ),
        (
            vec!["FMQ.GROUPSET", "q", "g", "DEADLETTER", "str"],
            "-WRONGTYPE",
        ),
        (
            vec!["FMQ.GROUPSET", "q", "g", "BOGUS", "1"],
            "-ERR syntax error",
        ),
        (
            vec!["FMQ.GROUPSET", "q", "nogroup", "VISIBILITY", "1"],
            "-NOGROUP",
        ),
        (
            vec!["FMQ.GROUPSET", "nokey", "g", "VISIBILITY", "1"],
            "-NOGROUP",
        ),
        (
            vec!["FMQ.GROUPSET", "str", "g", "VISIBILITY", "1"],
            "-WRONGTYPE",
        ),
        (
            vec!["FMQ.REDRIVE", "dlq", "COUNT", "0"],
            "-ERR COUNT must be > 0",
        ),
    ] {
        let r = s(&c.cmd(&args));
        assert!(r.starts_with(err), "{args:?}: {r:?}");
    }
    let got = s(&c.cmd(&["FMQ.GROUPGET", "q", "g"]));
    assert!(
        got.contains("visibility\r\n:1000\r\n") && got.contains("maxdeliveries\r\n:0\r\n"),
        "{got:?}"
    );
    // RESET clears the policy: the group is a plain Redis group again.
    c.cmd(&["FMQ.GROUPSET", "q", "g", "RESET"]);
    let got = s(&c.cmd(&["FMQ.GROUPGET", "q", "g"]));
    assert!(got.contains("visibility\r\n:0\r\n"), "{got:?}");
}

#[test]
fn policies_and_redelivery_state_survive_restart_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    setup(&mut c, "100");
    c.cmd(&[
        "FMQ.GROUPSET",
        "q",
        "g",
        "MAXDELIVERIES",
        "1",
        "DEADLETTER",
        "dlq",
    ]);
    c.cmd(&["XADD", "q", "*", "job", "2"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "COUNT",
        "1",
        "STREAMS",
        "q",
        ">",
    ]);
    // The first job goes to the dead-letter stream once its timeout passes.
    assert!(wait_for(Duration::from_secs(5), || {
        c.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "COUNT",
            "1",
            "STREAMS",
            "q",
            ">",
        ]);
        int(&c.cmd(&["XLEN", "dlq"])) >= 1
    }));
    let state = |c: &mut RawConn| {
        (
            s(&c.cmd(&["FMQ.GROUPGET", "q", "g"]))
                .split("next-redelivery")
                .next()
                .unwrap()
                .to_string(),
            s(&c.cmd(&["XRANGE", "dlq", "-", "+"])),
            s(&c.cmd(&["XPENDING", "q", "g"])),
        )
    };
    let before = state(&mut c);
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(state(&mut c), before);
    c.cmd(&["BGREWRITEAOF"]);
    assert!(wait_for(Duration::from_secs(20), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
            && common::info_field(&mut c, "aof_rewrites").as_deref() == Some("1")
    }));
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(state(&mut c), before);
    srv.shutdown();
}

fn bulk(r: &[u8]) -> String {
    s(r).split("\r\n").nth(1).unwrap_or_default().to_string()
}

/// Delayed delivery to a list: a blocked BRPOP gets the message when it is due, not before;
/// a cancelled one never arrives.
#[test]
fn a_scheduled_push_reaches_a_blocked_consumer_when_due() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    let cancelled = bulk(&c.cmd(&["FMQ.SCHEDULE", "DELAY", "100", "LPUSH", "jobs", "never"]));
    assert_eq!(int(&c.cmd(&["FMQ.CANCEL", &cancelled])), 1);
    assert_eq!(int(&c.cmd(&["FMQ.CANCEL", &cancelled])), 0);
    let start = Instant::now();
    let h = bulk(&c.cmd(&["FMQ.SCHEDULE", "DELAY", "300", "LPUSH", "jobs", "due"]));
    let due: i64 = h.split('-').next().unwrap().parse().unwrap();
    let mut b = srv.raw();
    let r = s(&b.cmd(&["BRPOP", "jobs", "10"]));
    let waited = start.elapsed();
    assert!(r.contains("due"), "{r:?}");
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // Delivered at or after its time.
    let now: i64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(now >= due);
    assert_eq!(int(&c.cmd(&["LLEN", "jobs"])), 0);
    assert!(s(&c.cmd(&["FMQ.SCHEDULED"])).starts_with("*2\r\n:0\r\n"));
}

/// Delayed delivery to a stream: the entry gets its ID when it is due, so a consumer group
/// reading `>` sees it then, in time order with the others.
#[test]
fn a_scheduled_xadd_is_appended_when_due() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let h = bulk(&c.cmd(&[
        "FMQ.SCHEDULE",
        "DELAY",
        "200",
        "XADD",
        "s",
        "MAXLEN",
        "100",
        "*",
        "job",
        "x",
    ]));
    let due: u64 = h.split('-').next().unwrap().parse().unwrap();
    let mut b = srv.raw();
    let r = b.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w",
        "BLOCK",
        "10000",
        "STREAMS",
        "s",
        ">",
    ]);
    let got = ids(&r);
    assert_eq!(got.len(), 1, "{:?}", s(&r));
    let ms: u64 = got[0].split('-').next().unwrap().parse().unwrap();
    assert!(ms >= due, "{ms} < {due}");
    for (args, err) in [
        (
            vec!["FMQ.SCHEDULE", "DELAY", "10", "XADD", "s", "1-1", "f", "v"],
            "-ERR a scheduled XADD must let the server choose the ID",
        ),
        (
            vec!["FMQ.SCHEDULE", "DELAY", "10", "XADD", "s", "*", "f"],
            "-ERR wrong number of arguments for 'xadd'",
        ),
        (
            vec!["FMQ.SCHEDULE", "DELAY", "-5", "LPUSH", "l", "v"],
            "-ERR DELAY must be a non-negative integer",
        ),
        (
            vec!["FMQ.SCHEDULE", "AT", "x", "LPUSH", "l", "v"],
            "-ERR AT must be a non-negative integer",
        ),
        (
            vec!["FMQ.SCHEDULE", "SOON", "1", "LPUSH", "l", "v"],
            "-ERR syntax error",
        ),
        (
            vec!["FMQ.SCHEDULE", "DELAY", "1", "SET", "l", "v"],
            "-ERR FMQ.SCHEDULE runs XADD, LPUSH or RPUSH only",
        ),
        (
            vec![
                "FMQ.SCHEDULE",
                "AT",
                "5",
                "HANDLE",
                "6-1",
                "LPUSH",
                "l",
                "v",
            ],
            "-ERR invalid HANDLE",
        ),
    ] {
        let r = s(&c.cmd(&args));
        assert!(r.starts_with(err), "{args:?}: {r:?}");
    }
    assert!(s(&c.cmd(&["FMQ.SCHEDULED"])).starts_with("*2\r\n:0\r\n"));
}

/// Scheduled messages survive a restart (and an AOF rewrite): one due while the server was
/// down arrives once right after it starts; one due later arrives at its time; a delivered one
/// is not delivered again.
#[test]
fn scheduled_messages_survive_restart_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    c.cmd(&[
        "FMQ.SCHEDULE",
        "DELAY",
        "0",
        "RPUSH",
        "l",
        "delivered-before",
    ]);
    assert!(wait_for(Duration::from_secs(5), || int(
        &c.cmd(&["LLEN", "l"])
    ) == 1));
    c.cmd(&[
        "FMQ.SCHEDULE",
        "DELAY",
        "400",
        "RPUSH",
        "l",
        "due-while-down",
    ]);
    c.cmd(&[
        "FMQ.SCHEDULE",
        "DELAY",
        "600000",
        "RPUSH",
        "l",
        "much-later",
    ]);
    c.cmd(&["BGREWRITEAOF"]);
    assert!(wait_for(Duration::from_secs(20), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
            && common::info_field(&mut c, "aof_rewrites").as_deref() == Some("1")
    }));
    srv.kill9();
    std::thread::sleep(Duration::from_millis(450));
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert!(wait_for(Duration::from_secs(5), || int(
        &c.cmd(&["LLEN", "l"])
    ) == 2));
    let l = s(&c.cmd(&["LRANGE", "l", "0", "-1"]));
    assert!(
        l.contains("delivered-before") && l.contains("due-while-down"),
        "{l:?}"
    );
    assert!(s(&c.cmd(&["FMQ.SCHEDULED"])).starts_with("*2\r\n:1\r\n"));
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(int(&c.cmd(&["LLEN", "l"])), 2);
    assert!(s(&c.cmd(&["FMQ.SCHEDULED"])).contains("much-later"));
    srv.shutdown();
}

/// FMQ.LEAVE: a consumer that leaves hands its pending entries back; the next `>` reader gets
/// them first (a blocked one at once), with one more delivery each; nothing is dropped, even
/// across a restart and an AOF rewrite.
#[test]
fn a_leaving_consumer_hands_its_work_back() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    let mut all = Vec::new();
    for i in 0..4 {
        all.push(bulk(&c.cmd(&["XADD", "q", "*", "job", &i.to_string()])));
    }
    c.cmd(&["XGROUP", "CREATE", "q", "g", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "COUNT",
        "3",
        "STREAMS",
        "q",
        ">",
    ]);
    assert_eq!(int(&c.cmd(&["FMQ.LEAVE", "q", "g", "a"])), 3);
    assert_eq!(int(&c.cmd(&["FMQ.LEAVE", "q", "g", "a"])), 0);
    assert!(!s(&c.cmd(&["XINFO", "CONSUMERS", "q", "g"])).contains("\r\na\r\n"));
    // Still pending (nothing lost) until someone reads.
    assert_eq!(pending(&mut c, "q", "g").len(), 3);
    let check = |c: &mut RawConn| {
        // The handed-back entries first, then the new one.
        let r = c.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "COUNT",
            "10",
            "STREAMS",
            "q",
            ">",
        ]);
        assert_eq!(ids(&r), all);
        let p = pending(c, "q", "g");
        assert_eq!(
            p,
            [
                ("b".to_string(), 2),
                ("b".to_string(), 2),
                ("b".to_string(), 2),
                ("b".to_string(), 1)
            ]
        );
    };
    // Through a rewrite and a restart.
    c.cmd(&["BGREWRITEAOF"]);
    assert!(wait_for(Duration::from_secs(20), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
            && common::info_field(&mut c, "aof_rewrites").as_deref() == Some("1")
    }));
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(pending(&mut c, "q", "g").len(), 3);
    check(&mut c);
    // A blocked reader is served as soon as a consumer leaves.
    let mut w = srv.raw();
    w.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w",
        "BLOCK",
        "10000",
        "STREAMS",
        "q",
        ">",
    ]);
    assert!(wait_for(Duration::from_secs(5), || {
        common::info_field(&mut c, "blocked_clients").as_deref() == Some("1")
    }));
    let start = Instant::now();
    assert_eq!(int(&c.cmd(&["FMQ.LEAVE", "q", "g", "b"])), 4);
    assert_eq!(ids(&w.read_reply()), all);
    assert!(start.elapsed() < Duration::from_secs(5));
    srv.shutdown();
}

/// FMQ.RETENTION: the server trims by count as the stream grows and by age on its own (an
/// idle stream too), optionally only what every group has acknowledged; the policy and the
/// trims it made survive a restart.
#[test]
fn retention_trims_by_count_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    for i in 1..=5 {
        c.cmd(&["XADD", "s", &format!("{i}-0"), "n", &i.to_string()]);
    }
    assert_eq!(c.cmd(&["FMQ.RETENTION", "s", "MAXLEN", "3"]), b"+OK\r\n");
    assert_eq!(int(&c.cmd(&["XLEN", "s"])), 3);
    c.cmd(&["XADD", "s", "*", "n", "6"]);
    assert_eq!(int(&c.cmd(&["XLEN", "s"])), 3);
    // ACKED: what a group still needs stays, past the limit.
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    c.cmd(&["FMQ.RETENTION", "s", "MAXLEN", "1", "ACKED"]);
    assert_eq!(int(&c.cmd(&["XLEN", "s"])), 1);
    c.cmd(&["XADD", "s", "*", "n", "7"]);
    c.cmd(&["XADD", "s", "*", "n", "8"]);
    assert_eq!(int(&c.cmd(&["XLEN", "s"])), 2, "undelivered entries stay");
    c.cmd(&["XREADGROUP", "GROUP", "g", "w", "STREAMS", "s", ">"]);
    let r = c.cmd(&["XRANGE", "s", "-", "+"]);
    let got = ids(&r);
    c.cmd(&["XACK", "s", "g", &got[0]]);
    c.cmd(&["XADD", "s", "*", "n", "9"]);
    // 7 was acknowledged and goes; 8 (pending) and 9 (undelivered) stay.
    let left = s(&c.cmd(&["XRANGE", "s", "-", "+"]));
    assert!(
        !left.contains("\r\n7\r\n") && left.contains("\r\n8\r\n") && left.contains("\r\n9\r\n"),
        "{left:?}"
    );
    let read = s(&c.cmd(&["FMQ.RETENTION", "s"]));
    assert!(
        read.contains("maxlen\r\n:1\r\n") && read.contains("ACKED"),
        "{read:?}"
    );

    // Age: an idle stream is trimmed by the server when its entries pass the age.
    c.cmd(&["XADD", "aged", "*", "n", "1"]);
    c.cmd(&["FMQ.RETENTION", "aged", "MAXAGE", "300"]);
    assert_eq!(int(&c.cmd(&["XLEN", "aged"])), 1);
    let start = Instant::now();
    assert!(wait_for(Duration::from_secs(5), || int(
        &c.cmd(&["XLEN", "aged"])
    ) == 0));
    assert!(start.elapsed() >= Duration::from_millis(250));
    c.cmd(&["XADD", "aged", "*", "n", "2"]);
    let before = (
        s(&c.cmd(&["XRANGE", "s", "-", "+"])),
        s(&c.cmd(&["XRANGE", "aged", "-", "+"])),
    );
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(s(&c.cmd(&["XRANGE", "s", "-", "+"])), before.0);
    // The age limit is timed again after a restart.
    assert!(wait_for(Duration::from_secs(5), || int(
        &c.cmd(&["XLEN", "aged"])
    ) == 0));
    for (args, err) in [
        (
            vec!["FMQ.RETENTION", "s", "MAXLEN", "-1"],
            "-ERR MAXLEN must be a non-negative integer",
        ),
        (
            vec!["FMQ.RETENTION", "s", "MAXAGE", "x"],
            "-ERR MAXAGE must be a non-negative integer",
        ),
        (vec!["FMQ.RETENTION", "s", "BOGUS"], "-ERR syntax error"),
        (
            vec!["FMQ.RETENTION", "nokey", "MAXLEN", "1"],
            "-ERR no such key",
        ),
    ] {
        let r = s(&c.cmd(&args));
        assert!(r.starts_with(err), "{args:?}: {r:?}");
    }
    srv.shutdown();
}

/// The values of field `f` in an XREADGROUP reply, in order.
fn values_of(r: &[u8], f: &str) -> Vec<String> {
    let t = s(r);
    let l: Vec<&str> = t.split("\r\n").collect();
    let mut out = Vec::new();
    for i in 0..l.len().saturating_sub(2) {
        if l[i] == f {
            out.push(l[i + 2].to_string());
        }
    }
    out
}

/// Ordered message groups (FMQ.GROUPSET ... ORDERBY field): entries with the same value are
/// delivered one at a time and in order, different values go to different consumers at once;
/// an acknowledgement frees the next entry of its group (waking a blocked reader); parked
/// entries survive a restart.
#[test]
fn ordered_message_groups_deliver_one_at_a_time_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    c.cmd(&["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"]);
    assert_eq!(
        c.cmd(&["FMQ.GROUPSET", "q", "g", "ORDERBY", "account"]),
        b"+OK\r\n"
    );
    let mut ids = std::collections::HashMap::new();
    for (acct, n) in [("A", 1), ("A", 2), ("B", 1), ("A", 3), ("B", 2), ("-", 0)] {
        let id = if acct == "-" {
            bulk(&c.cmd(&["XADD", "q", "*", "job", "free"]))
        } else {
            bulk(&c.cmd(&[
                "XADD",
                "q",
                "*",
                "account",
                acct,
                "job",
                &format!("{acct}{n}"),
            ]))
        };
        ids.insert(format!("{acct}{n}"), id);
    }
    // One per account, plus the entry without an account.
    let r = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w1",
        "COUNT",
        "10",
        "STREAMS",
        "q",
        ">",
    ]);
    assert_eq!(values_of(&r, "job"), ["A1", "B1", "free"]);
    // Nothing else can go while A1 and B1 are in flight.
    let r = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w2",
        "COUNT",
        "10",
        "STREAMS",
        "q",
        ">",
    ]);
    assert_eq!(r, b"*-1\r\n");
    // A blocked reader gets A2 as soon as A1 is acknowledged.
    let mut w2 = srv.raw();
    w2.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w2",
        "COUNT",
        "10",
        "BLOCK",
        "10000",
        "STREAMS",
        "q",
        ">",
    ]);
    assert!(wait_for(Duration::from_secs(5), || {
        common::info_field(&mut c, "blocked_clients").as_deref() == Some("1")
    }));
    c.cmd(&["XACK", "q", "g", &ids["A1"]]);
    assert_eq!(values_of(&w2.read_reply(), "job"), ["A2"]);
    // Through a restart: A3 and B2 still wait their turn.
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    let r = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w3",
        "COUNT",
        "10",
        "STREAMS",
        "q",
        ">",
    ]);
    assert_eq!(r, b"*-1\r\n");
    c.cmd(&["XACK", "q", "g", &ids["B1"], &ids["A2"]]);
    let r = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w3",
        "COUNT",
        "10",
        "STREAMS",
        "q",
        ">",
    ]);
    assert_eq!(values_of(&r, "job"), ["A3", "B2"]);
    // Parked entries were never delivered before: this is their first delivery.
    assert!(pending(&mut c, "q", "g").iter().all(|(_, n)| *n <= 1));
    let got = s(&c.cmd(&["FMQ.GROUPGET", "q", "g"]));
    assert!(got.contains("orderby\r\n$7\r\naccount"), "{got:?}");
    srv.shutdown();
}

/// Handed-back entries go through an RDB (SAVE + DEBUG RELOAD, and DUMP/RESTORE): the format
/// has no owner-less pending entry, so they travel as owned by a reserved consumer and come
/// back handed back.
#[test]
fn handed_back_entries_survive_an_rdb_round_trip() {
    let srv = Server::ferrymq(&["--enable-debug-command", "yes"]);
    let mut c = srv.raw();
    for i in 0..3 {
        c.cmd(&["XADD", "q", "*", "n", &i.to_string()]);
    }
    c.cmd(&["XGROUP", "CREATE", "q", "g", "0"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "COUNT",
        "2",
        "STREAMS",
        "q",
        ">",
    ]);
    assert_eq!(int(&c.cmd(&["FMQ.LEAVE", "q", "g", "a"])), 2);
    let dump = c.cmd(&["DUMP", "q"]);
    let payload = dump[dump.iter().position(|&b| b == b'\n').unwrap() + 1..dump.len() - 2].to_vec();
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), b"+OK\r\n");
    let consumers = s(&c.cmd(&["XINFO", "CONSUMERS", "q", "g"]));
    assert!(!consumers.contains("fmq-handback"), "{consumers:?}");
    let r = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "b",
        "COUNT",
        "10",
        "STREAMS",
        "q",
        ">",
    ]);
    assert_eq!(ids(&r).len(), 3);
    assert_eq!(
        pending(&mut c, "q", "g")
            .iter()
            .map(|p| p.1)
            .collect::<Vec<_>>(),
        [2, 2, 1]
    );
    c.cmd(&[b"RESTORE".as_slice(), b"q2", b"0", &payload]);
    let r = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "b",
        "COUNT",
        "10",
        "STREAMS",
        "q2",
        ">",
    ]);
    assert_eq!(ids(&r).len(), 3);
}

/// A timer that fires while a script is BUSY does not take a runtime thread waiting for the
/// store the script holds: other clients still get -BUSY at once, and PONG after SCRIPT KILL.
#[test]
fn timers_firing_during_a_busy_script_do_not_stall_the_server() {
    let srv = Server::ferrymq(&["--busy-reply-threshold", "10"]);
    let mut c = srv.raw();
    setup(&mut c, "50");
    c.cmd(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">"]);
    c.cmd(&["FMQ.SCHEDULE", "DELAY", "80", "LPUSH", "l", "x"]);
    let mut script = srv.raw();
    script.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    // Past both timers, while the script still runs.
    let mut others: Vec<RawConn> = (0..3).map(|_| srv.raw()).collect();
    assert!(wait_for(Duration::from_secs(10), || {
        s(&others[0].cmd(&["PING"])).starts_with("-BUSY")
    }));
    std::thread::sleep(Duration::from_millis(200));
    for o in &mut others {
        let r = o.try_cmd(&["PING"]).expect("an answer while BUSY");
        assert!(s(&r).starts_with("-BUSY"), "{}", s(&r));
    }
    assert_eq!(others[1].cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert!(wait_for(Duration::from_secs(5), || others[2]
        .cmd(&["PING"])
        == b"+PONG\r\n"));
    // The timers ran once the script was gone.
    assert!(wait_for(Duration::from_secs(5), || int(
        &c.cmd(&["LLEN", "l"])
    ) == 1));
}

/// XINFO shows the broker policies, only where one is set: a plain stream and group keep
/// Redis's exact replies (compared with redis-server), a stream with a retention policy and a
/// group with a policy list them after Redis's fields, and a reset takes them away again.
#[test]
fn xinfo_shows_policies_only_where_set() {
    let Some(mut d) = common::Diff::new() else {
        return;
    };
    d.script(&[
        &["XADD", "q", "1-1", "f", "v"],
        &["XGROUP", "CREATE", "q", "g", "0"],
        &["XINFO", "GROUPS", "q"],
        &["XINFO", "STREAM", "q"],
        &["XINFO", "STREAM", "q", "FULL"],
    ]);
    let c = &mut d.ferry;
    let plain_groups = s(&c.cmd(&["XINFO", "GROUPS", "q"]));
    let plain_stream = s(&c.cmd(&["XINFO", "STREAM", "q"]));
    c.cmd(&[
        "FMQ.GROUPSET",
        "q",
        "g",
        "VISIBILITY",
        "5000",
        "MAXDELIVERIES",
        "3",
        "DEADLETTER",
        "dlq",
    ]);
    // No age limit: the entry's ID is from 1970.
    c.cmd(&["FMQ.RETENTION", "q", "MAXLEN", "100"]);
    let groups = s(&c.cmd(&["XINFO", "GROUPS", "q"]));
    // Redis's fields first, unchanged.
    assert!(groups.starts_with("*1\r\n*20\r\n"), "{groups}");
    assert!(
        groups.contains(&plain_groups["*1\r\n*12\r\n".len()..]),
        "{groups}"
    );
    for f in [
        "visibility-ms\r\n:5000",
        "max-deliveries\r\n:3",
        "dead-letter\r\n$3\r\ndlq",
        "order-by",
    ] {
        assert!(groups.contains(f), "{f} in {groups}");
    }
    let stream = s(&c.cmd(&["XINFO", "STREAM", "q"]));
    for f in [
        "retention-maxlen\r\n:100",
        "retention-maxage-ms\r\n:0",
        "retention-refs",
    ] {
        assert!(stream.contains(f), "{f} in {stream}");
    }
    let full = s(&c.cmd(&["XINFO", "STREAM", "q", "FULL"]));
    assert!(
        full.contains("visibility-ms") && full.contains("retention-maxlen"),
        "{full}"
    );
    c.cmd(&["FMQ.GROUPSET", "q", "g", "RESET"]);
    c.cmd(&["FMQ.RETENTION", "q", "RESET"]);
    assert_eq!(s(&c.cmd(&["XINFO", "GROUPS", "q"])), plain_groups);
    assert_eq!(s(&c.cmd(&["XINFO", "STREAM", "q"])), plain_stream);
}

/// A user may only make the server write where the user may write: FMQ.GROUPSET's DEADLETTER
/// stream, FMQ.SCHEDULE's command and FMQ.REDRIVE's source streams are checked against the
/// user's ACL, and a refusal changes nothing.
#[test]
fn broker_targets_are_checked_against_the_users_acl() {
    let srv = Server::ferrymq(&[]);
    let mut admin = srv.raw();
    admin.cmd(&["XADD", "q", "1-1", "job", "1"]);
    admin.cmd(&["XGROUP", "CREATE", "q", "g", "0"]);
    let dead = |source: &str| {
        vec![
            "XADD",
            "q-dlq",
            "*",
            "fmq-source",
            source,
            "fmq-group",
            "g",
            "fmq-id",
            "1-1",
            "fmq-consumer",
            "c",
            "fmq-deliveries",
            "3",
            "fmq-reason",
            "maxdeliveries",
            "job",
            "1",
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    admin.cmd(&dead("other"));
    assert_eq!(
        admin.cmd_s(&["ACL", "SETUSER", "w", "on", ">p", "+@all", "~q*"]),
        "+OK\r\n"
    );
    let mut c = srv.raw();
    assert_eq!(c.cmd_s(&["AUTH", "w", "p"]), "+OK\r\n");
    let noperm =
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    assert_eq!(
        c.cmd_s(&[
            "FMQ.GROUPSET",
            "q",
            "g",
            "MAXDELIVERIES",
            "3",
            "DEADLETTER",
            "other"
        ]),
        noperm
    );
    let policy = s(&c.cmd(&["FMQ.GROUPGET", "q", "g"]));
    assert!(policy.contains("maxdeliveries\r\n:0\r\n"), "{policy}");
    assert_eq!(
        c.cmd_s(&[
            "FMQ.GROUPSET",
            "q",
            "g",
            "MAXDELIVERIES",
            "3",
            "DEADLETTER",
            "q-dlq"
        ]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd_s(&["FMQ.SCHEDULE", "DELAY", "10", "LPUSH", "other", "x"]),
        noperm
    );
    assert!(
        c.cmd_s(&["FMQ.SCHEDULE", "DELAY", "10", "LPUSH", "qlist", "x"])
            .starts_with('$')
    );
    // The dead-lettered entry came from a stream this user may not write.
    assert_eq!(c.cmd_s(&["FMQ.REDRIVE", "q-dlq"]), noperm);
    assert_eq!(c.cmd_s(&["XLEN", "q-dlq"]), ":1\r\n");
    assert_eq!(admin.cmd_s(&["EXISTS", "other"]), ":0\r\n");
    admin.cmd(&dead("q"));
    assert_eq!(admin.cmd_s(&["FMQ.REDRIVE", "q-dlq"]), ":2\r\n");
    assert!(wait_for(Duration::from_secs(5), || {
        admin.cmd_s(&["LLEN", "qlist"]) == ":1\r\n"
    }));
}

/// FMQ.RETENTION MAXBYTES: the stream keeps at most that many bytes of entry data, dropping
/// the oldest entries as new ones come (never the newest), with ACKED keeping what a group
/// still needs; the trims survive a restart and a rewrite.
#[test]
fn retention_trims_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    let payload = "x".repeat(100);
    c.cmd(&["XADD", "s", "*", "p", &payload]);
    assert_eq!(
        c.cmd(&["FMQ.RETENTION", "s", "MAXBYTES", "20000"]),
        b"+OK\r\n"
    );
    let mut last = String::new();
    for i in 0..2000 {
        let r = s(&c.cmd(&["XADD", "s", "*", "p", &payload, "i", &i.to_string()]));
        last = r.split("\r\n").nth(1).unwrap().to_string();
    }
    let len = int(&c.cmd(&["XLEN", "s"]));
    // ~110 bytes per entry: about 180 fit, and never more than the limit allows.
    assert!(len > 50 && len < 200, "{len}");
    let newest = ids(&c.cmd(&["XREVRANGE", "s", "+", "-", "COUNT", "1"]));
    assert_eq!(newest, vec![last]);
    let read = s(&c.cmd(&["FMQ.RETENTION", "s"]));
    assert!(read.contains("maxbytes\r\n:20000\r\n"), "{read}");
    assert!(s(&c.cmd(&["XINFO", "STREAM", "s"])).contains("retention-maxbytes\r\n:20000"));
    // ACKED: entries a group has not acknowledged stay past the limit.
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    c.cmd(&["FMQ.RETENTION", "s", "ACKED"]);
    for _ in 0..500 {
        c.cmd(&["XADD", "s", "*", "p", &payload]);
    }
    assert!(int(&c.cmd(&["XLEN", "s"])) >= 500);
    c.cmd(&["XREADGROUP", "GROUP", "g", "w", "STREAMS", "s", ">"]);
    let pending = ids(&c.cmd(&["XRANGE", "s", "-", "+"]));
    for id in &pending {
        c.cmd(&["XACK", "s", "g", id]);
    }
    c.cmd(&["XADD", "s", "*", "p", &payload]);
    let after = int(&c.cmd(&["XLEN", "s"]));
    assert!(after > 50 && after < 200, "{after}");
    for (a, err) in [
        (
            vec!["FMQ.RETENTION", "s", "MAXBYTES", "-1"],
            "-ERR MAXBYTES must be a non-negative integer",
        ),
        (vec!["FMQ.RETENTION", "s", "MAXBYTES"], "-ERR syntax error"),
    ] {
        let r = s(&c.cmd(&a));
        assert!(r.starts_with(err), "{a:?}: {r:?}");
    }
    let before = s(&c.cmd(&["XRANGE", "s", "-", "+"]));
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(s(&c.cmd(&["XRANGE", "s", "-", "+"])), before);
    assert_eq!(c.cmd(&["BGREWRITEAOF"])[0], b'+');
    assert!(wait_for(Duration::from_secs(10), || {
        common::info_field(&mut c, "aof_rewrite_in_progress").as_deref() == Some("0")
    }));
    srv.shutdown();
    let srv = DirServer::ferrymq(dir.path(), &args);
    let mut c = srv.raw();
    assert_eq!(s(&c.cmd(&["XRANGE", "s", "-", "+"])), before);
    let read = s(&c.cmd(&["FMQ.RETENTION", "s"]));
    assert!(read.contains("maxbytes\r\n:20000\r\n"), "{read}");
    srv.shutdown();
}

/// XACKDEL (Redis 8.2) frees the next entry of an ordered message group as XACK does: a
/// reader blocked on the group gets it at once.
#[test]
fn xackdel_frees_the_next_entry_of_an_ordered_group() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    c.cmd(&["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"]);
    c.cmd(&["FMQ.GROUPSET", "q", "g", "ORDERBY", "account"]);
    let a1 = bulk(&c.cmd(&["XADD", "q", "*", "account", "A", "job", "A1"]));
    c.cmd(&["XADD", "q", "*", "account", "A", "job", "A2"]);
    let r = c.cmd(&["XREADGROUP", "GROUP", "g", "w1", "STREAMS", "q", ">"]);
    assert_eq!(values_of(&r, "job"), ["A1"]);
    let mut w2 = srv.raw();
    w2.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "w2",
        "BLOCK",
        "10000",
        "STREAMS",
        "q",
        ">",
    ]);
    assert!(wait_for(Duration::from_secs(5), || {
        common::info_field(&mut c, "blocked_clients").as_deref() == Some("1")
    }));
    assert_eq!(
        c.cmd_s(&["XACKDEL", "q", "g", "IDS", "1", &a1]),
        "*1\r\n:1\r\n"
    );
    let got = w2.try_read_reply(Duration::from_secs(5)).expect("woken");
    assert_eq!(values_of(&got, "job"), ["A2"]);
}

/// The scheduler's FMQ.RUNDUE is timed from its own start: the quiet time since its previous
/// run is not part of it, so SLOWLOG and INFO commandstats show what delivering cost, not how
/// far apart the due times were.
#[test]
fn a_scheduled_run_is_timed_from_its_own_start() {
    let srv = Server::ferrymq(&[]);
    let mut c = srv.raw();
    // 200 ms: far more than one LPUSH takes, far less than the 700 ms between the two runs.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "200000"]),
        b"+OK\r\n"
    );
    c.cmd(&["FMQ.SCHEDULE", "DELAY", "50", "LPUSH", "jobs", "a"]);
    c.cmd(&["FMQ.SCHEDULE", "DELAY", "750", "LPUSH", "jobs", "b"]);
    assert!(wait_for(Duration::from_secs(10), || int(
        &c.cmd(&["LLEN", "jobs"])
    ) == 2));
    let slow = s(&c.cmd(&["SLOWLOG", "GET", "-1"])).to_lowercase();
    assert!(!slow.contains("fmq.rundue"), "{slow}");
    let stats = common::info_field(&mut c, "cmdstat_fmq.rundue").unwrap_or_default();
    let usec: u64 = stats
        .split(',')
        .find_map(|f| f.strip_prefix("usec="))
        .and_then(|v| v.parse().ok())
        .expect("commandstats of FMQ.RUNDUE");
    assert!(usec < 200_000, "{stats}");
}
