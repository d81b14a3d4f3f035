//! Keyspace notifications compared between ferrymq and redis-server: each side has a command
//! connection and a listener in `PSUBSCRIBE __key*__:*`. After each command the command
//! connection publishes a marker on `__key__:sync` (which the pattern matches) and the listener
//! reads up to it, so the events of one command, their order and their framing are compared
//! byte for byte.

use super::{RawConn, Server, info_field};

struct Side {
    _srv: Server,
    cmd: RawConn,
    lis: RawConn,
}

impl Side {
    fn new(srv: Server, flags: &str) -> Side {
        let mut cmd = srv.raw();
        assert_eq!(
            cmd.cmd_s(&["CONFIG", "SET", "notify-keyspace-events", flags]),
            "+OK\r\n"
        );
        let mut lis = srv.raw();
        lis.cmd(&["PSUBSCRIBE", "__key*__:*"]);
        Side {
            _srv: srv,
            cmd,
            lis,
        }
    }

    fn events(&mut self, n: u64) -> Vec<String> {
        let marker = format!("sync-{n}");
        self.cmd.cmd(&["PUBLISH", "__key__:sync", &marker]);
        let mut out = Vec::new();
        loop {
            let s = String::from_utf8_lossy(&self.lis.read_reply()).into_owned();
            if s.contains("__key__:sync") {
                assert!(s.contains(&marker), "out of order marker: {s:?}");
                return out;
            }
            out.push(s);
        }
    }

    fn dirty(&mut self) -> i64 {
        info_field(&mut self.cmd, "rdb_changes_since_last_save")
            .and_then(|v| v.parse().ok())
            .expect("rdb_changes_since_last_save")
    }
}

/// Both servers with `notify-keyspace-events` set to `flags`.
pub struct Events {
    f: Side,
    r: Side,
    n: u64,
    log: Vec<String>,
}

impl Events {
    /// None (skip) without the oracle.
    pub fn new(flags: &str) -> Option<Events> {
        let rs = Server::redis(&[])?;
        let fm = Server::ferrymq(&[]);
        Some(Events {
            f: Side::new(fm, flags),
            r: Side::new(rs, flags),
            n: 0,
            log: vec![],
        })
    }

    /// One command on both: the replies, the events it raised and whether it counted a change
    /// (INFO's `rdb_changes_since_last_save` moved) compared. Returns the events. (ferrymq's
    /// counter moves once per replayed effect, Redis's once per element for some commands, so
    /// only "changed or not" is comparable.)
    pub fn step(&mut self, args: &[&str]) -> Vec<String> {
        self.log.push(args.join(" "));
        let (r0, f0) = (self.r.dirty(), self.f.dirty());
        let r = self.r.cmd.cmd_s(args);
        let f = self.f.cmd.cmd_s(args);
        assert_eq!(r, f, "reply to {args:?} differs (commands: {:?})", self.log);
        self.n += 1;
        let (re, fe) = (self.r.events(self.n), self.f.events(self.n));
        assert_eq!(
            re, fe,
            "events differ (redis left, ferrymq right) after {:?}",
            self.log
        );
        let (r1, f1) = (self.r.dirty(), self.f.dirty());
        assert_eq!(
            r1 > r0,
            f1 > f0,
            "whether {args:?} counted a change differs (redis left, ferrymq right)"
        );
        re
    }

    pub fn script(&mut self, cmds: &[&[&str]]) {
        for c in cmds {
            self.step(c);
        }
    }
}
