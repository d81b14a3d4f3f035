//! Delayed delivery: commands (XADD, LPUSH, RPUSH) that run at a given time. Ordered by due
//! time in one map, so finding what is due costs O(log n) per message, never a scan. Like the
//! function libraries, schedules are server state outside the keyspace: FLUSHALL keeps them;
//! FMQ.CANCEL removes one. Each is known by its handle `<due-ms>-<seq>`.

use bytes::Bytes;
use std::collections::BTreeMap;

/// A handle: due time (unix ms) and a sequence number unique on this server.
pub type Handle = (i64, u64);

#[derive(Clone, Debug)]
pub struct Scheduled {
    pub db: usize,
    /// The command to run (its first argument is the command name).
    pub argv: Vec<Bytes>,
}

#[derive(Default)]
pub struct Schedule {
    by_due: BTreeMap<Handle, Scheduled>,
    next_seq: u64,
    /// Bytes held by the scheduled commands (INFO).
    bytes: usize,
}

impl Schedule {
    /// Add a command due at `due`; `seq` given when replaying (it must be free), otherwise the
    /// next number. None when the handle is taken.
    pub fn add(&mut self, due: i64, seq: Option<u64>, s: Scheduled) -> Option<Handle> {
        let seq = seq.unwrap_or(self.next_seq);
        let h = (due, seq);
        if self.by_due.contains_key(&h) {
            return None;
        }
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
        self.bytes += s.argv.iter().map(|a| a.len() + 32).sum::<usize>();
        self.by_due.insert(h, s);
        Some(h)
    }

    pub fn cancel(&mut self, h: Handle) -> bool {
        match self.by_due.remove(&h) {
            Some(s) => {
                self.bytes -= s.argv.iter().map(|a| a.len() + 32).sum::<usize>();
                true
            }
            None => false,
        }
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<i64> {
        self.by_due.first_key_value().map(|(h, _)| h.0)
    }

    /// Remove and return up to `max` commands due at `now`, earliest first.
    pub fn take_due(&mut self, now: i64, max: usize) -> Vec<(Handle, Scheduled)> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.by_due.first_key_value() {
                Some((h, _)) if h.0 <= now => {
                    let (h, s) = self.by_due.pop_first().expect("non-empty");
                    self.bytes -= s.argv.iter().map(|a| a.len() + 32).sum::<usize>();
                    out.push((h, s));
                }
                _ => break,
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.by_due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_due.is_empty()
    }

    pub fn mem_usage(&self) -> usize {
        self.bytes + self.by_due.len() * 64
    }

    /// Every scheduled command, in due order (AOF rewrite).
    pub fn iter(&self) -> impl Iterator<Item = (&Handle, &Scheduled)> {
        self.by_due.iter()
    }
}

/// `<due>-<seq>`.
pub fn handle_bytes(h: Handle) -> Bytes {
    Bytes::from(format!("{}-{}", h.0, h.1))
}

pub fn parse_handle(b: &[u8]) -> Option<Handle> {
    let s = std::str::from_utf8(b).ok()?;
    let (d, q) = s.split_once('-')?;
    let due = crate::protocol::request::parse_i64(d.as_bytes())?;
    let seq: u64 = q.parse().ok()?;
    (due >= 0 && q.bytes().all(|c| c.is_ascii_digit())).then_some((due, seq))
}

/// The command that recreates scheduled command `s` with its handle (effects, AOF rewrite).
pub fn schedule_command(h: Handle, s: &Scheduled) -> Vec<Bytes> {
    let mut v = vec![
        Bytes::from_static(b"FMQ.SCHEDULE"),
        Bytes::from_static(b"AT"),
        Bytes::from(h.0.to_string()),
        Bytes::from_static(b"HANDLE"),
        handle_bytes(h),
    ];
    v.extend(s.argv.iter().cloned());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(v: &str) -> Scheduled {
        Scheduled {
            db: 0,
            argv: vec![
                Bytes::from_static(b"LPUSH"),
                Bytes::from("k"),
                Bytes::from(v.to_string()),
            ],
        }
    }

    #[test]
    fn due_commands_come_out_in_time_order() {
        let mut s = Schedule::default();
        let a = s.add(300, None, cmd("a")).unwrap();
        let b = s.add(100, None, cmd("b")).unwrap();
        let c = s.add(100, None, cmd("c")).unwrap();
        assert_eq!(s.next_due(), Some(100));
        assert!(s.add(100, Some(b.1), cmd("x")).is_none(), "handle taken");
        assert!(s.cancel(c));
        assert!(!s.cancel(c));
        let due = s.take_due(200, 10);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, b);
        assert_eq!(s.len(), 1);
        assert_eq!(parse_handle(&handle_bytes(a)), Some(a));
        assert_eq!(parse_handle(b"12-x"), None);
        assert_eq!(parse_handle(b"-1-2"), None);
        // Replayed handles push the counter past them.
        s.add(5, Some(100), cmd("r")).unwrap();
        assert_eq!(s.add(5, None, cmd("n")).unwrap().1, 101);
    }
}
