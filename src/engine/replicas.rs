//! Replication state behind the store lock: the replication ID and offset, the backlog, the
//! replicas attached with SYNC or PSYNC and the clients waiting in WAIT.
//!
//! # The stream
//! The replication stream is one byte sequence (Redis's): every unit's effects, encoded once,
//! with a `SELECT` where the database changes, fed to the backlog and to every online replica's
//! outbox ([`Replication::feed`]). `master_repl_offset` counts its bytes. A replica that
//! reconnects with `PSYNC replid offset` continues from the backlog when the offset is still in
//! it (`+CONTINUE`); otherwise it gets a full resynchronisation (an RDB, then the stream from the
//! offset the RDB was taken at, decided under the same lock so nothing falls in between).
//!
//! The backlog exists from the first replica's attach on (with a fresh replication ID, as
//! Redis creates one with the backlog) until `repl-backlog-ttl` seconds without replicas: a
//! server that never had a replica encodes nothing for replication.
//!
//! On a replica ([`Replication::proxy`]) its own effects are not fed: the master's stream is,
//! byte for byte, as it was applied (`crate::replica`), so the replica's offsets and backlog are
//! the master's and a sibling can continue from it after a failover (PSYNC2's `replid2`).

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::effects::{Batch, EffectsConsumer};
use crate::connection::ClientHandle;
use crate::protocol::encode_command;

/// One attached replica.
pub struct ReplicaLink {
    pub handle: Arc<ClientHandle>,
    /// `REPLCONF listening-port` / `ip-address` (INFO `slaveN`, ROLE).
    pub port: u16,
    pub ip: Option<String>,
    /// Last offset the replica acknowledged (`REPLCONF ACK`), and when.
    pub ack: u64,
    pub ack_time: Instant,
    /// Stream held back while the replica's RDB is being sent (see [`FullSync`]).
    pub held: Option<Vec<u8>>,
    /// `client-output-buffer-limit replica`, as configured when it attached, and since when
    /// its output has been over the soft limit.
    pub limit: crate::connection::outbox::OutputLimit,
    pub soft_since: Option<Instant>,
}

impl Replication {
    /// Bytes the replicas' output holds (their outboxes and the stream held back during a
    /// full resynchronisation): INFO's `mem_clients_slaves`, and memory eviction does not
    /// count (Redis's freeMemoryGetNotCountedMemory), or evicting would feed the replicas
    /// `DEL`s that grow it further.
    pub fn output_buffers(&self) -> usize {
        // A killed replica's output is being dropped.
        self.links
            .iter()
            .filter(|l| !l.handle.is_killed())
            .map(ReplicaLink::output_memory)
            .sum()
    }

    /// [`Replication::output_buffers`] plus what killed replicas still hold: the eviction
    /// check leaves it out too. CLIENT KILL frees a replica's queue at once, but the chunk
    /// its writer task was sending goes a moment later, on that task; counted meanwhile, it
    /// made the next command evict (Redis frees the whole client before replying).
    pub fn output_buffers_held(&self) -> usize {
        self.links.iter().map(ReplicaLink::output_memory).sum()
    }
}

impl ReplicaLink {
    /// Memory the replica's output holds: its outbox and the stream held back.
    fn output_memory(&self) -> usize {
        self.handle.outbox.memory() + self.held.as_ref().map_or(0, Vec::len)
    }

    /// Whether the replica's unsent stream is over its output-buffer limit (hard, or soft for
    /// longer than allowed): it is then disconnected, as Redis does, and resynchronises.
    fn over_limit(&mut self) -> bool {
        let l = self.limit;
        if l.hard == 0 && l.soft == 0 {
            return false;
        }
        let pending =
            (self.handle.outbox.pending() + self.held.as_ref().map_or(0, Vec::len)) as u64;
        if l.hard > 0 && pending >= l.hard {
            return true;
        }
        if l.soft > 0 && pending >= l.soft {
            let since = *self.soft_since.get_or_insert_with(Instant::now);
            return since.elapsed().as_secs() >= l.soft_secs;
        }
        self.soft_since = None;
        false
    }
}

impl ReplicaLink {
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// False once the replica's connection is going away (the link is then dropped).
    pub fn is_connected(&self) -> bool {
        !self.handle.outbox.is_closing() && !self.handle.is_killed()
    }

    /// The address shown for it: the announced one, else the peer's host.
    pub fn host(&self) -> String {
        if let Some(ip) = &self.ip {
            return ip.clone();
        }
        match self.handle.addr.rsplit_once(':') {
            Some((h, _)) => h.to_string(),
            None => self.handle.addr.clone(),
        }
    }
}

/// A full resynchronisation in progress: the snapshot being captured, and the replicas
/// waiting for it. The capture is built in short batches under the store lock by a thread of
/// its own (`command::replication`), consuming the effects meanwhile so it ends equal to the
/// dataset at the moment its last batch is taken: that moment's offset is the one the
/// replicas continue from.
pub(crate) struct FullSync {
    pub(crate) capture: Box<crate::aof::rewrite::Capture>,
    /// (replica, its REPLCONF settings, whether it asked with PSYNC).
    pub(crate) waiting: Vec<(Arc<ClientHandle>, crate::connection::ReplConf, bool)>,
}

/// A client blocked in WAIT.
pub struct WaitReq {
    pub client: u64,
    /// The offset replicas must have acknowledged.
    pub offset: u64,
    pub replicas: i64,
}

/// The last `size` bytes of the stream.
struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
}

pub struct Replication {
    pub replid: String,
    pub replid2: String,
    /// First offset `replid2` is not valid for (-1: none).
    pub second_offset: i64,
    /// `master_repl_offset`: bytes of stream so far.
    pub offset: u64,
    backlog: Option<Backlog>,
    /// `repl-backlog-size`, applied when the backlog is created or resized.
    pub backlog_size: usize,
    /// Database the stream last selected (None: the next effect selects its database).
    selected: Option<usize>,
    pub links: Vec<ReplicaLink>,
    pub waits: Vec<WaitReq>,
    /// This server is a replica: its own effects are not fed (see the module documentation).
    pub proxy: bool,
    /// Since when no replica is attached (the backlog's time to live counts from there).
    pub no_replicas_since: Instant,
    /// The snapshot a full resynchronisation is capturing, if any.
    pub(crate) full_sync: Option<FullSync>,
    /// Replicas disconnected for their output-buffer limit (added to INFO's
    /// `client_output_buffer_limit_disconnections`).
    pub limit_disconnections: u64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            replid: new_replid(),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog: None,
            backlog_size: 1 << 20,
            selected: None,
            links: Vec::new(),
            waits: Vec::new(),
            proxy: false,
            no_replicas_since: Instant::now(),
            full_sync: None,
            limit_disconnections: 0,
        }
    }
}

/// A fresh 40-hex-digit replication ID.
pub fn new_replid() -> String {
    (0..40)
        .map(|_| char::from_digit(rand::random_range(0..16u32), 16).expect("hex digit"))
        .collect()
}

impl Replication {
    /// Whether there is a stream to feed (a backlog exists).
    #[inline]
    pub fn active(&self) -> bool {
        self.backlog.is_some()
    }

    /// Create the backlog if there is none: a new history, with a new replication ID (Redis
    /// does the same when the first replica attaches to a server without a backlog).
    pub fn ensure_backlog(&mut self) {
        if self.backlog.is_none() {
            self.replid = new_replid();
            self.clear_replid2();
            self.create_backlog();
        }
    }

    fn create_backlog(&mut self) {
        self.backlog = Some(Backlog {
            buf: VecDeque::new(),
            size: self.backlog_size.max(16 * 1024),
        });
    }

    pub fn clear_replid2(&mut self) {
        self.replid2 = "0".repeat(40);
        self.second_offset = -1;
    }

    /// Free the backlog (`repl-backlog-ttl` passed without replicas).
    pub fn free_backlog(&mut self) {
        self.backlog = None;
    }

    /// Resize the backlog (`repl-backlog-size` set), keeping its newest bytes.
    pub fn set_backlog_size(&mut self, size: usize) {
        self.backlog_size = size;
        if let Some(b) = self.backlog.as_mut() {
            b.size = size.max(16 * 1024);
            let excess = b.buf.len().saturating_sub(b.size);
            b.buf.drain(..excess);
        }
    }

    /// INFO's `repl_backlog_first_byte_offset` and `repl_backlog_histlen`.
    pub fn backlog_range(&self) -> (u64, u64) {
        match &self.backlog {
            Some(b) => (self.offset - b.buf.len() as u64 + 1, b.buf.len() as u64),
            None => (0, 0),
        }
    }

    /// Bytes of the backlog (INFO `mem_replication_backlog`).
    pub fn backlog_memory(&self) -> usize {
        self.backlog.as_ref().map_or(0, |b| b.buf.capacity())
    }

    /// The stream from `from` (a PSYNC offset: the first byte the replica lacks) to now, when
    /// the backlog still has all of it.
    pub fn backlog_from(&self, from: u64) -> Option<Vec<u8>> {
        let b = self.backlog.as_ref()?;
        let (first, len) = self.backlog_range();
        if from < first || from > first + len {
            return None;
        }
        let skip = (from - first) as usize;
        Some(b.buf.iter().skip(skip).copied().collect())
    }

    /// The replication history `replid` continues up to `offset`, as PSYNC asks: ours, or the
    /// one we continued (a promoted replica's former master) up to where we left it.
    pub fn can_continue(&self, replid: &str, offset: u64) -> bool {
        replid == self.replid
            || (replid == self.replid2
                && self.second_offset >= 0
                && offset <= self.second_offset as u64)
    }

    /// Start a new history from here (a replica promoted to master): the old ID stays valid,
    /// as `replid2`, up to the current offset.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replid());
        self.second_offset = self.offset as i64 + 1;
        self.selected = None;
    }

    /// The database the stream has selected, if any.
    pub fn selected_db(&self) -> Option<usize> {
        self.selected
    }

    /// The next effect selects its database again (after a full resynchronisation, or a change
    /// of master).
    pub fn reselect(&mut self) {
        self.selected = None;
    }

    /// Reset to a master's history at `offset` (a replica after a full resynchronisation).
    pub fn reset_to(&mut self, replid: String, offset: u64) {
        self.replid = replid;
        self.clear_replid2();
        self.offset = offset;
        self.create_backlog();
        self.selected = None;
    }

    /// Append `bytes` to the stream: the backlog and every attached replica.
    pub fn feed(&mut self, bytes: &[u8]) {
        let Some(b) = self.backlog.as_mut() else {
            return;
        };
        self.offset += bytes.len() as u64;
        if bytes.len() >= b.size {
            b.buf.clear();
            b.buf.extend(&bytes[bytes.len() - b.size..]);
        } else {
            let excess = (b.buf.len() + bytes.len()).saturating_sub(b.size);
            b.buf.drain(..excess);
            b.buf.extend(bytes);
        }
        let mut dropped = false;
        for l in &mut self.links {
            match l.held.as_mut() {
                Some(h) => h.extend_from_slice(bytes),
                None => {
                    l.handle.outbox.push_bytes(bytes);
                    l.handle.outbox.wake();
                }
            }
            if l.over_limit() {
                tracing::warn!(
                    client = l.handle.id,
                    omem = l.handle.outbox.pending(),
                    "replica scheduled to be closed ASAP for overcoming of output buffer limits"
                );
                l.handle.kill();
                self.limit_disconnections += 1;
                dropped = true;
            }
        }
        if dropped {
            self.prune();
        }
    }

    /// Feed one command outside any database (PING, REPLCONF GETACK), as Redis does.
    pub fn feed_command(&mut self, argv: &[Bytes]) {
        if !self.active() {
            return;
        }
        let mut out = Vec::new();
        encode_command(argv, &mut out);
        self.feed(&out);
    }

    /// Feed one command for database `db` (a PUBLISH).
    pub fn feed_in_db(&mut self, db: usize, argv: &[Bytes]) {
        if !self.active() || self.proxy {
            return;
        }
        let mut out = Vec::new();
        self.select(db, &mut out);
        encode_command(argv, &mut out);
        self.feed(&out);
    }

    fn select(&mut self, db: usize, out: &mut Vec<u8>) {
        if self.selected != Some(db) {
            let select = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
            encode_command(&select, out);
            self.selected = Some(db);
        }
    }

    /// Drop the links whose connection went away.
    pub fn prune(&mut self) {
        let before = self.links.len();
        self.links.retain(|r| r.is_connected());
        if before > 0 && self.links.is_empty() {
            self.no_replicas_since = Instant::now();
        }
    }

    /// Close every replica's connection (they reconnect and ask for the stream again).
    pub fn disconnect_all(&mut self) {
        for l in self.links.drain(..) {
            l.handle.kill();
        }
        if let Some(fs) = self.full_sync.take() {
            for (h, ..) in fs.waiting {
                h.kill();
            }
        }
        self.no_replicas_since = Instant::now();
    }

    /// How many replicas acknowledged `offset`.
    pub fn acked(&self, offset: u64) -> i64 {
        self.links.iter().filter(|l| l.ack >= offset).count() as i64
    }
}

impl EffectsConsumer for Replication {
    fn consume(&mut self, effects: Batch<'_>) {
        if let Some(fs) = self.full_sync.as_mut() {
            fs.capture.consume(effects);
        }
        if self.proxy || !self.active() {
            return;
        }
        let mut out = Vec::new();
        for (db, command) in effects.iter() {
            // Broker state (FMQ.* policies and schedules) means nothing to a Redis replica,
            // which would refuse the command: it receives only what that state produces (the
            // XADD of a due message, the XCLAIM of a redelivery, the XTRIM of a retention).
            if is_broker_effect(command) {
                continue;
            }
            self.select(db, &mut out);
            out.extend_from_slice(command);
        }
        if !out.is_empty() {
            self.feed(&out);
        }
    }
}

/// Whether an encoded command (`*N\r\n$L\r\nNAME...`) is one of the `FMQ.*` commands.
fn is_broker_effect(encoded: &[u8]) -> bool {
    let mut lines = encoded.splitn(3, |&b| b == b'\n');
    let (Some(_), Some(_), Some(name)) = (lines.next(), lines.next(), lines.next()) else {
        return false;
    };
    name.len() >= 4 && name[..4].eq_ignore_ascii_case(b"FMQ.")
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_backlog_keeps_the_newest_bytes_and_answers_offsets_inside_it() {
        let mut r = super::Replication::default();
        r.feed(b"ignored: no backlog yet");
        assert_eq!(r.offset, 0);
        r.backlog_size = 0; // clamped to the minimum
        r.ensure_backlog();
        let chunk = vec![b'x'; 10_000];
        r.feed(&chunk);
        r.feed(&chunk);
        assert_eq!(r.offset, 20_000);
        let (first, len) = r.backlog_range();
        assert_eq!((first, len), (20_000 - 16 * 1024 + 1, 16 * 1024));
        assert!(r.backlog_from(first - 1).is_none(), "before the backlog");
        assert_eq!(r.backlog_from(first).unwrap().len(), 16 * 1024);
        assert_eq!(r.backlog_from(20_001).unwrap().len(), 0, "nothing missing");
        assert!(r.backlog_from(20_002).is_none(), "past the end");
        let id = r.replid.clone();
        r.shift_replid();
        assert!(r.can_continue(&id, 20_001));
        assert!(!r.can_continue(&id, 20_002));
        assert!(r.can_continue(&r.replid.clone(), 20_002));
    }

    #[test]
    fn broker_effects_are_recognised_by_name() {
        let enc = |argv: &[&str]| {
            let v: Vec<bytes::Bytes> = argv
                .iter()
                .map(|a| bytes::Bytes::from(a.to_string()))
                .collect();
            let mut out = Vec::new();
            crate::protocol::encode_command(&v, &mut out);
            out
        };
        assert!(super::is_broker_effect(&enc(&["FMQ.SCHEDULE", "AT", "1"])));
        assert!(super::is_broker_effect(&enc(&["fmq.cancel", "1-1"])));
        assert!(!super::is_broker_effect(&enc(&[
            "XADD", "fmq.x", "*", "a", "b"
        ])));
        assert!(!super::is_broker_effect(&enc(&["FMQ"])));
    }
}
