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
    fn start(bin: &std::path::Path, master_port: u16) -> Sentinel {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 10000\n\
                 sentinel parallel-syncs mymaster 1\n",
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

fn info(c: &mut RawConn, field: &str) -> String {
    info_field(c, field).unwrap_or_default()
}

fn follows(replica: &Server, master_port: u16) -> bool {
    let Ok(mut c) = RawConn::try_connect(replica.port) else {
        return false;
    };
    info(&mut c, "master_port") == master_port.to_string()
        && info(&mut c, "master_link_status") == "up"
}

#[test]
fn sentinel_fails_over_ferrymq_without_losing_acknowledged_writes() {
    let Some(bin) = redis_server_path() else {
        assert!(
            std::env::var("FERRYMQ_REQUIRE_ORACLE").as_deref() != Ok("1"),
            "redis-server is not on PATH but FERRYMQ_REQUIRE_ORACLE=1"
        );
        return;
    };
    let mut master = Server::ferrymq(&[]);
    let mport = master.port;
    let mport_s = mport.to_string();
    let replicas = [
        Server::ferrymq(&["--replicaof", "127.0.0.1", &mport_s]),
        Server::ferrymq(&["--replicaof", "127.0.0.1", &mport_s]),
    ];
    for r in &replicas {
        assert!(
            wait_for(Duration::from_secs(20), || follows(r, mport)),
            "replica never synchronised"
        );
    }
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(&bin, mport)).collect();
    // Every sentinel has found both replicas and the two other sentinels.
    for s in &sentinels {
        assert!(
            wait_for(Duration::from_secs(30), || {
                s.master_field("num-slaves").as_deref() == Some("2")
                    && s.master_field("num-other-sentinels").as_deref() == Some("2")
            }),
            "sentinel did not discover the group"
        );
    }

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
    // replica of the new one; it converges.
    let old = Server::ferrymq_on(mport, &[]);
    let want = nm.cmd(&["LLEN", "jobs"]);
    assert!(
        wait_for(Duration::from_secs(60), || follows(&old, new_port)
            && old.raw().cmd(&["LLEN", "jobs"]) == want),
        "the old master did not come back as a replica"
    );
}
