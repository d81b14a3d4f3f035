//! Failover by the real redis-sentinel: one ferrymq master, two ferrymq replicas, three
//! sentinels (quorum 2, down-after 1000 ms). Writes count as acknowledged only when
//! `WAIT 2 1000` says both replicas have them. After `kill -9` of the master, Sentinel must
//! promote a replica, point the other one at it, keep every acknowledged write, and turn the
//! restarted old master into a replica that converges.

mod common;
use common::{RawConn, Server, free_port, info_field, redis_server_path, wait_for};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Sentinel {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sentinel {
    /// `extra`: more `sentinel ...` lines (auth-pass).
    fn start_with(bin: &std::path::Path, master_port: u16, extra: &str) -> Sentinel {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {0}\nlogfile {0}/sentinel.log\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 10000\n\
                 sentinel parallel-syncs mymaster 1\n{extra}",
                dir.path().display()
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new(bin)
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-sentinel");
        let s = Sentinel {
            child,
            port,
            _dir: dir,
        };
        assert!(
            wait_for(Duration::from_secs(20), || RawConn::try_connect(port)
                .ok()
                .and_then(|mut c| c.try_cmd(&["PING"]))
                .is_some_and(|r| r == b"+PONG\r\n")),
            "sentinel did not start"
        );
        s
    }

    fn conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// Sentinel's log, for a failure message.
    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("sentinel.log")).unwrap_or_default()
    }

    /// The port Sentinel names as the master's.
    fn master_port(&self) -> Option<u16> {
        let r = self
            .conn()
            .cmd_s(&["SENTINEL", "get-master-addr-by-name", "mymaster"]);
        r.split("\r\n").nth(4).and_then(|p| p.parse().ok())
    }

    /// A field of `SENTINEL MASTER mymaster`.
    fn master_field(&self, name: &str) -> Option<String> {
        let r = self.conn().cmd_s(&["SENTINEL", "MASTER", "mymaster"]);
        let words: Vec<&str> = r
            .split("\r\n")
            .filter(|l| !l.starts_with(['$', '*']))
            .collect();
        words
            .chunks(2)
            .find(|kv| kv[0] == name)
            .and_then(|kv| kv.get(1).map(|v| v.to_string()))
    }
}

/// The Sentinel tests run one at a time: Sentinel's timing (INFO every 10 s, reconnections
/// every second) is what they wait on, and three groups at once on two CPUs stretch it.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// The servers of this test need `AUTH pw`.
    static PASS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn info(c: &mut RawConn, field: &str) -> String {
    info_field(c, field).unwrap_or_default()
}

/// Whether `replica` follows `master_port` with its link up. Sentinel's failover transaction
/// ends with `CLIENT KILL TYPE normal`, which may close this connection mid-request: that
/// counts as "not yet".
fn follows(replica: &Server, master_port: u16) -> bool {
    let Ok(mut c) = RawConn::try_connect(replica.port) else {
        return false;
    };
    if PASS.with(|p| p.get()) && c.try_cmd(&["AUTH", "pw"]).is_none() {
        return false;
    }
    let Some(r) = c.try_cmd(&["INFO", "replication"]) else {
        return false;
    };
    let text = String::from_utf8_lossy(&r);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    field("master_port") == master_port.to_string() && field("master_link_status") == "up"
}

/// After a failover away from `old`: the master Sentinel names once every other node of
/// `nodes` follows it. Sentinel is asked again on every poll, since it may fail over once more
/// (a sentinel whose link the promotion's `CLIENT KILL TYPE normal` closed can see the new
/// master as down for a moment on a loaded machine).
fn settled_master(sentinel: &Sentinel, nodes: &[Server], old: u16, within: Duration) -> u16 {
    let mut seen = None;
    let settled = wait_for(within, || {
        seen = sentinel.master_port();
        seen.is_some_and(|p| {
            p != old && nodes.iter().filter(|n| n.port != p).all(|n| follows(n, p))
        })
    });
    if !settled {
        let states: Vec<String> = nodes
            .iter()
            .map(|n| {
                let mut c = RawConn::connect(n.port);
                if PASS.with(|p| p.get()) {
                    c.try_cmd(&["AUTH", "pw"]);
                }
                let r = c.try_cmd(&["INFO", "replication"]).unwrap_or_default();
                format!("{} on {}:\n{}", n.name, n.port, String::from_utf8_lossy(&r))
            })
            .collect();
        panic!(
            "no settled master within {within:?} (Sentinel names {seen:?}):\n{}\n{}",
            states.join("\n"),
            sentinel.log()
        );
    }
    seen.expect("settled on a master")
}

/// A ferrymq master and two ferrymq replicas that follow it.
fn ferrymq_group() -> (Server, [Server; 2]) {
    let master = Server::ferrymq(&[]);
    let mport = master.port.to_string();
    let replicas = [
        Server::ferrymq(&["--replicaof", "127.0.0.1", &mport]),
        Server::ferrymq(&["--replicaof", "127.0.0.1", &mport]),
    ];
    wait_following(&replicas, master.port);
    (master, replicas)
}

fn wait_following(replicas: &[Server], master_port: u16) {
    for r in replicas {
        assert!(
            wait_for(Duration::from_secs(30), || follows(r, master_port)),
            "replica never synchronised"
        );
    }
}

/// Three sentinels watching `master_port` (quorum 2), once each has found both replicas and
/// the two other sentinels.
fn sentinels_for(bin: &std::path::Path, master_port: u16, extra: &str) -> Vec<Sentinel> {
    let sentinels: Vec<Sentinel> = (0..3)
        .map(|_| Sentinel::start_with(bin, master_port, extra))
        .collect();
    for s in &sentinels {
        assert!(
            wait_for(Duration::from_secs(30), || {
                s.master_field("num-slaves").as_deref() == Some("2")
                    && s.master_field("num-other-sentinels").as_deref() == Some("2")
            }),
            "sentinel did not discover the group"
        );
    }
    sentinels
}

#[test]
fn sentinel_fails_over_ferrymq_without_losing_acknowledged_writes() {
    let _serial = serial();
    let Some(bin) = redis_server_path() else {
        assert!(
            std::env::var("FERRYMQ_REQUIRE_ORACLE").as_deref() != Ok("1"),
            "redis-server is not on PATH but FERRYMQ_REQUIRE_ORACLE=1"
        );
        return;
    };
    let (mut master, replicas) = ferrymq_group();
    let mport = master.port;
    let sentinels = sentinels_for(&bin, mport, "");

    let mut m = master.raw();
    let mut acked = Vec::new();
    for i in 0..200 {
        let job = format!("job-{i}");
        m.cmd(&["LPUSH", "jobs", &job]);
        if m.cmd(&["WAIT", "2", "1000"]) == b":2\r\n" {
            acked.push(job);
        }
    }
    assert!(
        !acked.is_empty(),
        "no write was acknowledged by both replicas"
    );

    let killed_at = Instant::now();
    drop(m);
    master.kill9();
    let new_port = (|| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(p) = sentinels[0].master_port()
                && p != mport
            {
                return Some(p);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    })()
    .expect("Sentinel did not fail over within 30 s");
    let promoted = replicas
        .iter()
        .position(|r| r.port == new_port)
        .expect("the new master is one of the replicas");
    let other = &replicas[1 - promoted];
    let mut nm = replicas[promoted].raw();
    assert!(
        wait_for(Duration::from_secs(20), || info(&mut nm, "role")
            == "master"),
        "the promoted replica is not a master"
    );
    assert!(
        wait_for(Duration::from_secs(30), || follows(other, new_port)),
        "the other replica does not follow the new master"
    );
    let failover = killed_at.elapsed();
    eprintln!("failover took {failover:?}");
    let jobs = nm.cmd_s(&["LRANGE", "jobs", "0", "-1"]);
    for job in &acked {
        assert!(jobs.contains(&format!("\r\n{job}\r\n")), "{job} was lost");
    }
    // The new master takes writes and its replica gets them.
    nm.cmd(&["LPUSH", "jobs", "after-failover"]);
    assert_eq!(nm.cmd(&["WAIT", "1", "5000"]), b":1\r\n");

    // The old master comes back (empty: it had no persistence) and Sentinel makes it a
    // replica of the master; it converges. Sentinel may legitimately fail over once more
    // meanwhile (a sentinel whose links the promotion's CLIENT KILL closed can see the new
    // master as down for a moment on a loaded machine), so "the master" is whichever node
    // Sentinel names when asked, and it must still hold every acknowledged write.
    let old = Server::ferrymq_on(mport, &[]);
    let ask = |port: u16, cmd: &[&str]| {
        RawConn::try_connect(port)
            .ok()
            .and_then(|mut c| c.try_cmd(cmd))
            .map(|r| String::from_utf8_lossy(&r).into_owned())
    };
    let converged = || {
        let Some(current) = sentinels[0].master_port() else {
            return false;
        };
        let (Some(theirs), Some(jobs)) = (
            ask(current, &["LLEN", "jobs"]),
            ask(current, &["LRANGE", "jobs", "0", "-1"]),
        ) else {
            return false;
        };
        current != mport
            && jobs.contains("\r\nafter-failover\r\n")
            && acked.iter().all(|j| jobs.contains(&format!("\r\n{j}\r\n")))
            && follows(&old, current)
            && ask(old.port, &["LLEN", "jobs"]).is_some_and(|n| n == theirs)
    };
    if !wait_for(Duration::from_secs(120), converged) {
        for (i, s) in sentinels.iter().enumerate() {
            eprintln!("--- sentinel {i} ---\n{}", s.log());
        }
        let current = sentinels[0].master_port();
        panic!(
            "the old master did not come back as a converged replica of the master \
             (first promoted: {new_port}, now: {current:?}): master's LLEN {:?}, old \
             master's LLEN {:?}, {:?}",
            current.and_then(|p| ask(p, &["LLEN", "jobs"])),
            ask(old.port, &["LLEN", "jobs"]),
            ask(old.port, &["INFO", "replication"]),
        );
    }
}

/// A mixed group (redis-server master, a ferrymq and a redis-server replica, all behind a
/// password the replicas give with `masterauth`) through twenty failovers in a row by
/// `SENTINEL FAILOVER`: each time every write both replicas acknowledged is on the new master
/// and both other nodes follow it, whichever server kind holds which role.
#[test]
fn mixed_group_survives_failovers_in_a_row() {
    let _serial = serial();
    let Some(bin) = redis_server_path() else {
        assert!(
            std::env::var("FERRYMQ_REQUIRE_ORACLE").as_deref() != Ok("1"),
            "redis-server is not on PATH but FERRYMQ_REQUIRE_ORACLE=1"
        );
        return;
    };
    PASS.with(|p| p.set(true));
    let auth = ["--requirepass", "pw", "--masterauth", "pw"];
    let master = Server::redis(&auth).expect("redis-server");
    let mport = master.port.to_string();
    let mut replica_args = auth.to_vec();
    replica_args.extend(["--replicaof", "127.0.0.1", &mport]);
    let nodes = [
        master,
        Server::ferrymq(&replica_args),
        Server::redis(&replica_args).expect("redis-server"),
    ];
    wait_following(&nodes[1..], nodes[0].port);
    let sentinels = sentinels_for(&bin, nodes[0].port, "sentinel auth-pass mymaster pw\n");
    let mut current = nodes[0].port;
    let mut acked: Vec<String> = Vec::new();
    let mut kinds = Vec::new();
    for round in 0..20 {
        // Sentinel's transactions end with CLIENT KILL TYPE normal: a write whose connection
        // is closed is simply not acknowledged, and the next one reconnects.
        let connect = || {
            let mut m = RawConn::connect(current);
            m.try_cmd(&["AUTH", "pw"]);
            m
        };
        let mut m = connect();
        for i in 0..20 {
            let job = format!("job-{round}-{i}");
            if m.try_cmd(&["RPUSH", "jobs", &job]).is_none() {
                m = connect();
                continue;
            }
            match m.try_cmd(&["WAIT", "2", "1000"]) {
                Some(r) if r == b":2\r\n" => acked.push(job),
                Some(_) => {}
                None => m = connect(),
            }
        }
        // Sentinel only picks replicas it has seen recently and in sync: wait for that.
        assert!(
            wait_for(Duration::from_secs(30), || {
                sentinels[0]
                    .conn()
                    .cmd(&["SENTINEL", "FAILOVER", "mymaster"])
                    == b"+OK\r\n"
            }),
            "round {round}: Sentinel refused to fail over"
        );
        let next = settled_master(&sentinels[0], &nodes, current, Duration::from_secs(60));
        let new_master = nodes.iter().find(|n| n.port == next).unwrap();
        kinds.push(new_master.name);
        let mut nm = RawConn::connect(next);
        nm.try_cmd(&["AUTH", "pw"]);
        let jobs = nm
            .try_cmd(&["LRANGE", "jobs", "0", "-1"])
            .map(|r| String::from_utf8_lossy(&r).into_owned())
            .expect("the new master answers");
        for job in &acked {
            assert!(
                jobs.contains(&format!("\r\n{job}\r\n")),
                "round {round}: {job} was lost"
            );
        }
        current = next;
    }
    assert!(
        acked.len() >= 200,
        "too few acknowledged writes: {}",
        acked.len()
    );
    eprintln!("masters in turn: {kinds:?}");
}

/// redis-py's `Sentinel` client keeps a job queue (LPUSH/BRPOP and XADD/XREADGROUP/XACK)
/// running while the ferrymq master is killed: no job that WAIT acknowledged is lost
/// (tests/sentinel_client.py). Skipped when redis-py is not installed.
#[test]
fn redis_py_sentinel_client_keeps_a_queue_across_a_failover() {
    let _serial = serial();
    let Some(bin) = redis_server_path() else {
        return;
    };
    // The first Python that has redis-py (Debian's python3-redis is in /usr/bin's).
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import redis.sentinel"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let Some(python) = python else {
        eprintln!("SKIPPED: redis-py not installed (.ci/run installs python3-redis)");
        return;
    };
    let (master, _replicas) = ferrymq_group();
    let sentinels = sentinels_for(&bin, master.port, "");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sentinel_client.py");
    let mut args = vec![script.to_string(), master.pid().to_string()];
    args.extend(sentinels.iter().map(|s| s.port.to_string()));
    let out = Command::new(python)
        .args(&args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    drop(master);
}

/// Sentinel logging in as a user with only the commands Redis documents for it
/// (`sentinel auth-user` / `auth-pass`), and replicas that authenticate to their master as a
/// user that may only replicate (`masteruser` / `masterauth`): a failover goes through, the
/// old master comes back as a replica, and no key is lost.
#[test]
fn sentinel_with_a_minimal_acl_user_and_masteruser() {
    let _serial = serial();
    let Some(bin) = redis_server_path() else {
        return;
    };
    PASS.with(|p| p.set(true));
    let sentinel_rules = "on >spw allchannels +multi +slaveof +ping +exec +subscribe \
                          +config|rewrite +role +publish +info +client|setname +client|kill \
                          +script|kill";
    let mut args: Vec<&str> = vec!["--requirepass", "pw", "--user", "repl", "on", ">rpw"];
    args.extend(["+psync", "+replconf", "+ping"]);
    args.extend(["--user", "sentinel"]);
    args.extend(sentinel_rules.split(' '));
    args.extend(["--masteruser", "repl", "--masterauth", "rpw"]);
    let master = Server::ferrymq(&args);
    let mport = master.port.to_string();
    let mut replica_args = args.clone();
    replica_args.extend(["--replicaof", "127.0.0.1", &mport]);
    let nodes = [
        master,
        Server::ferrymq(&replica_args),
        Server::ferrymq(&replica_args),
    ];
    wait_following(&nodes[1..], nodes[0].port);
    let mut m = RawConn::connect(nodes[0].port);
    m.cmd(&["AUTH", "pw"]);
    m.cmd(&["SET", "kept", "1"]);
    assert_eq!(m.cmd_s(&["WAIT", "2", "5000"]), ":2\r\n");
    let sentinels = sentinels_for(
        &bin,
        nodes[0].port,
        "sentinel auth-user mymaster sentinel\nsentinel auth-pass mymaster spw\n",
    );
    assert!(
        wait_for(Duration::from_secs(30), || {
            sentinels[0]
                .conn()
                .cmd(&["SENTINEL", "FAILOVER", "mymaster"])
                == b"+OK\r\n"
        }),
        "Sentinel refused to fail over"
    );
    let next = settled_master(
        &sentinels[0],
        &nodes,
        nodes[0].port,
        Duration::from_secs(60),
    );
    let mut nm = RawConn::connect(next);
    nm.cmd(&["AUTH", "pw"]);
    assert_eq!(nm.cmd_s(&["GET", "kept"]), "$1\r\n1\r\n");
    // Sentinel's own user could do nothing else.
    let mut s = RawConn::connect(next);
    assert_eq!(s.cmd_s(&["AUTH", "sentinel", "spw"]), "+OK\r\n");
    assert!(s.cmd_s(&["GET", "kept"]).starts_with("-NOPERM"));
}
