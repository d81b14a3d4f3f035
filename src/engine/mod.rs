//! The engine: everything behind the store lock — the keyspace, the clients blocked on keys,
//! the watched keys, the effects log and the AOF sink — and the one place where a unit's
//! consequences are carried out.
//!
//! # A write, end to end
//! 1. A connection's reader decodes a request; `command::dispatch` resolves it in the command
//!    table and applies the generic checks; `command::execute` runs the handler in a
//!    `command::Ctx`, which takes the store lock ([`Store::lock`]) on first use.
//! 2. The handler changes [`crate::store::Keyspace`] data and records what follows from it,
//!    once per key, with `ctx.wrote(Write::key(..)...)` (`command::write`): the change count,
//!    the effect to replay (by default the request itself), WATCH, keyspace events, and
//!    whether blocked clients on the key re-check it. Lazy expiry
//!    inside the keyspace is picked up here ([`StoreInner::flush_expired`]): a `DEL` effect, a
//!    watch touch, a signalled key.
//! 3. When the outermost unit ends — a command, an `EXEC` (whose queued commands and scripts
//!    record into one transaction block), a served waiter, an active-expiry pass, an AOF
//!    transaction on replay — [`StoreInner::drain_effects`] hands the unit's effects, in
//!    order, to every [`effects::EffectsConsumer`] (the AOF sink; replicas are one more), then
//!    `command::serve_ready_keys` serves waiters of signalled keys (each a unit of its own),
//!    and the reply barrier holds the reply until the AOF has what it must have.
//! 4. The reply goes to the client's outbox; its writer task sends it.
//!
//! Why one `parking_lot::Mutex` and not a sharded or concurrent map: multi-key commands (LMOVE,
//! RENAME, MULTI/EXEC) must be atomic, the AOF must record effects in execution order, and
//! blocked clients must be served in arrival order. Critical sections are short (no I/O, no
//! `.await`); decoding, encoding and socket I/O happen outside it.
//!
//! - [`effects`]: the effects log and the consumer interface.
//! - [`blocking`]: clients blocked on keys (BLPOP, XREAD BLOCK, ...).
//! - [`watch`]: WATCHed keys and doomed transactions.

pub mod blocking;
pub mod effects;
pub mod replicas;
pub mod schedule;
pub mod timers;
pub mod tracking;
pub mod watch;

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::aof::AofSink;
use crate::config::notify;
use crate::notify::Notifier;
use crate::store::{Keyspace, access, unix_ms};
use blocking::Blocking;
use effects::{EffectsConsumer, EffectsLog};

/// Everything behind the store lock. Derefs to the [`Keyspace`] (`store.dbs[i]`).
pub struct StoreInner {
    pub keyspace: Keyspace,
    /// Served waiters whose command goes into the SLOWLOG after the command that served
    /// them (as Redis logs an unblocked command when it is processed again): the client,
    /// its command, its arguments and how long the re-run took (µs).
    pub served_slowlog: Vec<(
        crate::connection::ClientState,
        &'static crate::command::CommandEntry,
        Vec<bytes::Bytes>,
        u64,
    )>,
    pub blocking: Blocking,
    /// The AOF sink, when persistence is on; it consumes the effects log.
    pub aof: Option<AofSink>,
    /// Replication: the stream, its backlog and the attached replicas (one more consumer of
    /// the same effects).
    pub repl: replicas::Replication,
    /// The RDB snapshot a BGSAVE is building (`crate::snapshot`): one more consumer, which
    /// re-queues the keys each effect touches.
    pub(crate) snapshot: Option<Box<crate::aof::rewrite::Capture>>,
    /// Changes since the last save (Redis's `dirty`), for INFO: what the commands counted
    /// ([`Write::changes`](crate::command::Write::changes), per element where Redis counts
    /// so), added when each command ends.
    pub dirty: u64,
    /// Effects of the running unit, drained when it ends ([`StoreInner::drain_effects`]).
    pub effects: EffectsLog,
    /// Effects recorded in the open transaction block (see [`StoreInner::close_tx`]).
    tx_effects: usize,
    pub watches: watch::Watches,
    /// CLIENT TRACKING: who cached which keys (see [`tracking`]).
    pub tracking: tracking::Tracking,
    /// The notification flags (shared with [`Store::notifier`]).
    pub notify: Arc<Notifier>,
    /// The flags the keyspace's event tracking was set from.
    notify_flags: u32,
    /// DEBUG SET-ACTIVE-EXPIRE: false leaves expired keys to lookups (tests of lazy expiry).
    pub active_expire_enabled: bool,
    /// CLIENT PAUSE (shared with [`Store::pause`]): no key expires while it lasts.
    pub pause: Arc<Pause>,
    /// `maxmemory-policy` and the LFU parameters, packed ([`access::Policy::pack`]); the
    /// config writes it without the lock (shared with [`Store::access_policy`]).
    pub access_policy: Arc<AtomicU64>,
    /// The word the keyspace's access policy was set from.
    access_word: u64,
    /// Keys whose blocked readers are due a re-check at a given time.
    pub timers: timers::Timers,
    /// Delayed deliveries (FMQ.SCHEDULE).
    pub schedule: schedule::Schedule,
    /// Streams whose retention age limit has something to trim at a given time.
    pub retention: timers::Timers,
    /// The eviction pool and the next database of the random policies (see
    /// [`crate::store::evict`]).
    pub evictor: crate::store::evict::Evictor,
    /// Some FMQ.* command has recorded an effect (broker state exists, which an RDB cannot
    /// hold: AOF rewrites then write their base as commands).
    pub broker_state: bool,
}

/// Why clients are paused. As in Redis, each purpose keeps its own pause, and the one in force
/// is the most restrictive of them (reads too beats writes only), until the furthest end among
/// those of that kind: so CLIENT UNPAUSE does not end a FAILOVER's pause, and a FAILOVER that
/// ends does not end a CLIENT PAUSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PausePurpose {
    ClientCommand = 0,
    Failover = 1,
}

/// CLIENT PAUSE and FAILOVER's pause: until when, and whether reads are paused too. Readable
/// without the store lock (the connections check it before each command).
#[derive(Default)]
pub struct Pause {
    /// Unix ms; 0 = not paused. The combined pause of every purpose.
    until: std::sync::atomic::AtomicI64,
    all: std::sync::atomic::AtomicBool,
    /// Each purpose's own pause: (end in unix ms, reads too).
    purposes: parking_lot::Mutex<[Option<(i64, bool)>; 2]>,
}

impl Pause {
    /// Pause for `purpose` until `until_ms` (writes, or everything with `all`). A pause this
    /// purpose already has is never shortened nor weakened (Redis's pauseClients).
    pub fn pause(&self, purpose: PausePurpose, until_ms: i64, all: bool) {
        let mut p = self.purposes.lock();
        let slot = &mut p[purpose as usize];
        *slot = Some(match *slot {
            Some((u, a)) => (u.max(until_ms), a || all),
            None => (until_ms, all),
        });
        self.publish(&mut p, crate::store::unix_ms());
    }

    /// End `purpose`'s pause; the others stay.
    pub fn unpause(&self, purpose: PausePurpose) {
        let mut p = self.purposes.lock();
        p[purpose as usize] = None;
        self.publish(&mut p, crate::store::unix_ms());
    }

    /// Redis's updateClientPauseTypeAndEndTime: drop what ran out, and publish the most
    /// restrictive pause with the furthest end among those of its kind.
    fn publish(&self, p: &mut [Option<(i64, bool)>; 2], now: i64) {
        use std::sync::atomic::Ordering::SeqCst;
        for slot in p.iter_mut() {
            if slot.is_some_and(|(u, _)| u <= now) {
                *slot = None;
            }
        }
        let all = p.iter().flatten().any(|&(_, a)| a);
        let until = p
            .iter()
            .flatten()
            .filter(|&&(_, a)| a == all)
            .map(|&(u, _)| u)
            .max()
            .unwrap_or(0);
        self.all.store(all, SeqCst);
        self.until.store(until, SeqCst);
    }

    /// Whether a pause was asked for (it may have run out): one atomic load, no clock read.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.until.load(std::sync::atomic::Ordering::Relaxed) != 0
    }

    /// The deadline in unix ms when clients are paused at `now`, and whether reads are too. A
    /// pause found over gives way to what the other purposes still ask for (so
    /// [`Pause::is_set`] is false again when nothing is left).
    #[inline]
    pub fn active(&self, now: i64) -> Option<(i64, bool)> {
        use std::sync::atomic::Ordering::Relaxed;
        let until = self.until.load(Relaxed);
        if until > now {
            return Some((until, self.all.load(Relaxed)));
        }
        if until != 0 {
            let mut p = self.purposes.lock();
            self.publish(&mut p, now);
            let until = self.until.load(Relaxed);
            if until > now {
                return Some((until, self.all.load(Relaxed)));
            }
        }
        None
    }
}

#[cfg(test)]
mod pause_tests {
    use super::{Pause, PausePurpose::*};

    #[test]
    fn each_purpose_keeps_its_own_pause() {
        let p = Pause::default();
        let now = crate::store::unix_ms();
        p.pause(Failover, i64::MAX, false);
        p.pause(ClientCommand, now + 60_000, true);
        // Reads too is the stronger kind: its end is the one in force.
        assert_eq!(p.active(now), Some((now + 60_000, true)));
        // CLIENT UNPAUSE leaves the failover's write pause.
        p.unpause(ClientCommand);
        assert_eq!(p.active(now), Some((i64::MAX, false)));
        // A client pause that runs out also gives way to it.
        p.pause(ClientCommand, now + 50, true);
        assert_eq!(p.active(now + 100), Some((i64::MAX, false)));
        // The failover ends: a client pause asked meanwhile stays, never shortened.
        p.pause(ClientCommand, now + 60_000, false);
        p.pause(ClientCommand, now + 10, false);
        p.unpause(Failover);
        assert_eq!(p.active(now), Some((now + 60_000, false)));
        p.unpause(ClientCommand);
        assert_eq!(p.active(now), None);
        assert!(!p.is_set());
    }
}

impl std::ops::Deref for StoreInner {
    type Target = Keyspace;
    #[inline]
    fn deref(&self) -> &Keyspace {
        &self.keyspace
    }
}

impl std::ops::DerefMut for StoreInner {
    #[inline]
    fn deref_mut(&mut self) -> &mut Keyspace {
        &mut self.keyspace
    }
}

impl StoreInner {
    /// An engine whose keyspace events are dropped (see [`Store::new`] for a served one).
    pub fn new(databases: usize) -> Self {
        Self::with_notifier(databases, Arc::default())
    }

    fn with_notifier(databases: usize, notify: Arc<Notifier>) -> Self {
        let timers = timers::Timers::default();
        StoreInner {
            keyspace: Keyspace::new(databases),
            served_slowlog: Vec::new(),
            blocking: Blocking::default(),
            aof: None,
            repl: replicas::Replication::default(),
            snapshot: None,
            dirty: 0,
            effects: EffectsLog::default(),
            tx_effects: 0,
            watches: watch::Watches::default(),
            tracking: tracking::Tracking::default(),
            notify,
            notify_flags: 0,
            active_expire_enabled: true,
            pause: Arc::default(),
            access_policy: Arc::default(),
            access_word: 0,
            retention: timers::Timers::sharing(&timers),
            timers,
            schedule: schedule::Schedule::default(),
            broker_state: false,
            evictor: crate::store::evict::Evictor::default(),
        }
    }

    /// Swap in a keyspace read from an RDB file (startup, DEBUG RELOAD) and return the old
    /// one: the new one takes the access policy and event tracking in force, and blocked
    /// clients re-check their keys.
    pub fn replace_keyspace(&mut self, mut ks: Keyspace) -> Keyspace {
        let w = self.access_policy.load(Relaxed);
        self.access_word = w;
        ks.set_access(access::Policy::unpack(w));
        std::mem::swap(&mut self.keyspace, &mut ks);
        let f = self.notify_flags;
        self.apply_notify_flags(f);
        for db in 0..self.keyspace.dbs.len() {
            self.blocking.signal_db(db);
        }
        ks
    }

    /// Start a command: fix the time used for expiry decisions.
    #[inline]
    pub fn begin_command(&mut self, db: usize, now: i64) {
        let paused = self.pause.active(now).is_some();
        self.keyspace.begin_command(db, now, paused);
        self.refresh_notify();
        let w = self.access_policy.load(Relaxed);
        if w != self.access_word {
            self.access_word = w;
            self.keyspace.set_access(access::Policy::unpack(w));
        }
    }

    /// Pick up a change of `notify-keyspace-events` (one atomic load when nothing changed).
    #[inline]
    fn refresh_notify(&mut self) {
        let f = self.notify.flags();
        if f != self.notify_flags {
            self.apply_notify_flags(f);
        }
    }

    #[cold]
    #[inline(never)]
    fn apply_notify_flags(&mut self, f: u32) {
        self.notify_flags = f;
        self.keyspace.track_events(
            crate::notify::wanted(f, notify::EXPIRED),
            crate::notify::wanted(f, notify::NEW),
        );
    }

    /// Publish the keyspace events queued by the keyspace (lazy expiry, key creation), in the
    /// order they happened. `crate::notify` calls this before each event of a command.
    pub fn publish_pending(&mut self) {
        if self.notify_flags == 0 || !self.keyspace.has_events() {
            return;
        }
        let flags = self.notify_flags;
        let hub = self.notify.hub();
        self.keyspace.take_events(|db, ev, key| {
            if let Some(hub) = hub {
                crate::notify::publish(hub, flags, db, ev.name(), &key);
            }
        });
    }

    /// Record the effect of a write, after the `DEL`s of keys that lazy expiry removed while
    /// the command ran (so replay order equals execution order). `tx`: it belongs to the open
    /// transaction block (EXEC, a script; see [`StoreInner::close_tx`]). It is encoded only
    /// when somebody consumes effects.
    #[inline]
    pub fn propagate(&mut self, db: usize, argv: &[Bytes], tx: bool) {
        // FMQ.* state, and Redis 8.6's idempotent production settings (XCFGSET), have no place
        // in a Redis 7 RDB: AOF bases are written as commands from then on.
        if argv.first().is_some_and(|n| {
            n.len() > 4 && n[..4].eq_ignore_ascii_case(b"fmq.")
                || n.eq_ignore_ascii_case(b"xcfgset")
        }) {
            self.broker_state = true;
        }
        self.note_effect(db, tx);
        if self.has_consumers() {
            self.push_effect(db, argv, tx);
        }
    }

    #[inline]
    fn note_effect(&mut self, db: usize, tx: bool) {
        self.flush_expired(db);
        self.tx_effects += tx as usize;
    }

    fn push_effect(&mut self, db: usize, argv: &[Bytes], tx: bool) {
        if tx {
            self.effects.record_tx(db, argv);
        } else {
            self.effects.record(db, argv);
        }
    }

    /// End the open transaction block (the outermost EXEC or script): its effects join the
    /// log, in MULTI/EXEC when there is more than one.
    pub fn close_tx(&mut self) {
        self.tx_effects = 0;
        self.effects.close_tx();
    }

    /// Carry out what lazy expiry did in `db`: each removed key becomes a `DEL` effect, touches
    /// its watchers and wakes its waiters (an XREADGROUP waiter learns its group is gone).
    /// Pending keyspace events are published first.
    pub fn flush_expired(&mut self, db: usize) {
        if self.notify_flags != 0 {
            self.publish_pending();
        }
        let keys = self.keyspace.take_expired(db);
        for k in keys {
            self.blocking.signal_deleted(db, &k);
            self.watches.touch_expired(db, &k);
            if !self.tracking.is_off() {
                self.tracking.invalidate(&k, None);
            }
            // Not a change for `dirty`: Redis 7.0 does not count expired keys there.
            if self.has_consumers() {
                self.effects.record(db, &[Bytes::from_static(b"DEL"), k]);
            }
        }
    }

    /// The end of an execution unit: hand its effects to the consumers (the AOF), in order, and
    /// empty the log (dropped when nobody consumes them). See [`effects`].
    #[inline]
    pub fn drain_effects(&mut self) {
        // A block a panic left open is closed by the drain: its count goes with it.
        self.tx_effects = 0;
        if !self.tracking.is_off() {
            // A client's own command took its BCAST messages before this drain (they follow
            // its reply); for waiters, expiry and replay there is no reply to wait for.
            self.tracking.flush_broadcasts(None);
        }
        if self.effects.is_empty() {
            return;
        }
        if self.repl.active() || self.snapshot.is_some() {
            return self.drain_to_replicas();
        }
        match self.aof.as_mut() {
            Some(aof) => self.effects.drain(&mut [aof as &mut dyn EffectsConsumer]),
            None => self.effects.clear(),
        }
    }

    /// Whether effects are wanted at all (encoded and kept until the unit's drain).
    #[inline]
    fn has_consumers(&self) -> bool {
        self.aof.is_some() || self.repl.active() || self.snapshot.is_some()
    }

    #[cold]
    #[inline(never)]
    fn drain_to_replicas(&mut self) {
        self.repl.prune();
        let mut consumers: Vec<&mut dyn EffectsConsumer> = Vec::with_capacity(3);
        if let Some(aof) = self.aof.as_mut() {
            consumers.push(aof);
        }
        if let Some(s) = self.snapshot.as_mut() {
            consumers.push(s.as_mut());
        }
        consumers.push(&mut self.repl);
        self.effects.drain(&mut consumers);
    }

    pub fn signal_ready(&mut self, db: usize, key: &Bytes) {
        self.blocking.signal_ready(db, key);
    }

    /// Empty database `db` (FLUSHDB, FLUSHALL): its waiters re-check their keys; watchers of
    /// keys that existed find them gone at EXEC.
    /// Returns how many keys it held.
    pub fn flush_db(&mut self, db: usize) -> usize {
        let n = self.keyspace.dbs[db].len();
        self.keyspace.dbs[db].clear();
        self.blocking.signal_db(db);
        n
    }

    /// SWAPDB: exchange two databases; the waiters of both re-check their keys. A watched key
    /// of either database is modified when it exists (unexpired) in either of them, as Redis's
    /// `touchAllWatchedKeysInDb` decides: a key that appears counts as much as one that goes,
    /// and an expired key replaced by nothing (or by another expired key) changes nothing.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        if !self.watches.is_empty() {
            let now = unix_ms();
            for (db, other) in [(a, b), (b, a)] {
                for k in self.watches.keys_in(db) {
                    let live = |d: usize| self.keyspace.dbs[d].exists_unexpired(&k, now);
                    if live(db) || live(other) {
                        self.watches.touch(db, &k);
                    }
                }
            }
        }
        self.keyspace.dbs.swap(a, b);
        self.blocking.signal_db(a);
        self.blocking.signal_db(b);
    }

    /// The next key `policy` evicts (sampling `samples` keys per database), left in place:
    /// the caller removes it (measuring what that frees) and records it with
    /// [`StoreInner::evicted`].
    pub fn pick_victim(
        &mut self,
        policy: crate::store::evict::Policy,
        samples: usize,
    ) -> Option<(usize, Bytes)> {
        let mut ev = std::mem::take(&mut self.evictor);
        let r = self.keyspace.pick_victim(&mut ev, policy, samples);
        self.evictor = ev;
        r
    }

    /// Carry out the eviction of `key` from `db`, as a deletion (Redis's performEvictions):
    /// the keyspace event `evicted`, watchers and tracking clients told, waiters re-check
    /// the key, and a `DEL` effect (`UNLINK` with `lazyfree-lazy-eviction`), in its own
    /// unit, before the command that caused it. Not a change for `dirty`, as in Redis.
    pub fn evicted(&mut self, db: usize, key: Bytes, unlink: bool) {
        self.refresh_notify();
        // Effects of lazy expiry and pending events first, in execution order.
        self.flush_expired(db);
        self.watches.touch(db, &key);
        if !self.tracking.is_off() {
            self.tracking.invalidate(&key, None);
        }
        self.blocking.signal_deleted(db, &key);
        let flags = self.notify_flags;
        if crate::notify::wanted(flags, notify::EVICTED)
            && let Some(hub) = self.notify.hub()
        {
            crate::notify::publish(hub, flags, db, "evicted", &key);
        }
        if self.has_consumers() {
            let name: &'static [u8] = if unlink { b"UNLINK" } else { b"DEL" };
            self.effects.record(db, &[Bytes::from_static(name), key]);
        }
    }

    /// One active-expiry pass, as Redis's activeExpireCycle: per database, walk the keys that
    /// have a TTL from where the last pass stopped and remove the due ones. A pass looks at
    /// [`EXPIRE_PASS_CHECKS`] keys (every key of a smaller table, so there a key goes within one
    /// cron period of its time), then goes on in slices while more than a tenth of a slice was
    /// due, until `deadline`, so the lock is never held for long. One unit: its `DEL`s are
    /// drained at the end.
    pub fn active_expire(&mut self, deadline: std::time::Instant) -> usize {
        let now = unix_ms();
        // Nothing expires while clients are paused (Redis's pause keeps the dataset static).
        if !self.active_expire_enabled || self.pause.active(now).is_some() {
            return 0;
        }
        self.refresh_notify();
        let mut removed = 0;
        for db in 0..self.keyspace.dbs.len() {
            let (checked, r) = self.keyspace.expire_scan(db, now, EXPIRE_PASS_CHECKS);
            removed += r;
            let mut busy = checked > 0 && r * 10 > checked;
            while busy && std::time::Instant::now() < deadline {
                let (checked, r) = self.keyspace.expire_scan(db, now, EXPIRE_SLICE);
                removed += r;
                busy = r * 10 > checked;
            }
            self.flush_expired(db);
        }
        self.drain_effects();
        removed
    }
}

/// Keys with a TTL an active-expiry pass looks at in each database before it decides whether
/// to go on (looking at one is reading 32 bytes of a dense array).
pub const EXPIRE_PASS_CHECKS: usize = 10_000;
/// Keys per further slice of a pass (Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP is 20).
const EXPIRE_SLICE: usize = 200;

/// The store: the engine behind the one lock.
pub struct Store {
    inner: parking_lot::Mutex<StoreInner>,
    /// The keyspace-notification flags, readable without the lock.
    notifier: Arc<Notifier>,
    /// CLIENT PAUSE, readable without the lock.
    pause: Arc<Pause>,
    /// The packed access policy, writable without the lock.
    access_policy: Arc<AtomicU64>,
    /// Wakes the timer task when an earlier timer is added.
    timer_notify: Arc<tokio::sync::Notify>,
}

impl Store {
    /// `hub`: where keyspace notifications are published.
    pub fn new(databases: usize, hub: Option<Arc<crate::pubsub::hub::Hub>>) -> Self {
        let inner = StoreInner::with_notifier(databases, Arc::new(Notifier::with_hub(hub)));
        Store {
            notifier: inner.notify.clone(),
            pause: inner.pause.clone(),
            access_policy: inner.access_policy.clone(),
            timer_notify: inner.timers.notifier(),
            inner: parking_lot::Mutex::new(inner),
        }
    }

    /// The keyspace-notification settings (see `crate::notify`).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Set how keys keep their access word (from `maxmemory-policy` and the LFU parameters);
    /// the store picks it up at its next command.
    pub fn set_access_policy(&self, p: crate::store::access::Policy) {
        self.access_policy.store(p.pack(), Relaxed);
    }

    /// Notified when a timer earlier than all others is added (see [`timers`]).
    pub fn timer_notify(&self) -> &Arc<tokio::sync::Notify> {
        &self.timer_notify
    }

    /// CLIENT PAUSE state.
    pub fn pause(&self) -> &Pause {
        &self.pause
    }

    /// Take the store lock. Never hold the guard across an `.await`.
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, StoreInner> {
        self.inner.lock()
    }

    /// Take the lock if it becomes free within `d` (background work that may skip a turn).
    pub fn try_lock_for(
        &self,
        d: std::time::Duration,
    ) -> Option<parking_lot::MutexGuard<'_, StoreInner>> {
        self.inner.try_lock_for(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::notify::*;
    use crate::store::Value;

    #[test]
    fn events_follow_the_notification_flags_and_drop_without_a_server() {
        let mut st = StoreInner::new(1);
        st.notify.set_flags(ALL | NEW | KEYEVENT);
        st.begin_command(0, unix_ms());
        let k = Bytes::from_static(b"k");
        st.dbs[0].set(&k, Value::Str(crate::store::CompactBytes::new(b"v")));
        assert!(st.keyspace.has_events());
        // Without an attached server the queue is dropped, not kept growing.
        st.publish_pending();
        assert!(!st.keyspace.has_events());
        st.notify.set_flags(0);
        st.begin_command(0, unix_ms());
        st.dbs[0].set(
            &Bytes::from_static(b"k2"),
            Value::Str(crate::store::CompactBytes::new(b"v")),
        );
        assert!(!st.keyspace.has_events());
    }

    #[test]
    fn lazy_expiry_touches_watchers_without_counting_a_change() {
        let mut st = StoreInner::new(1);
        let now = unix_ms();
        st.begin_command(0, now);
        let k = Bytes::from_static(b"k");
        st.dbs[0].set(&k, Value::Str(crate::store::CompactBytes::new(b"v")));
        st.dbs[0].set_expire(&k, now - 1);
        st.watches.watch(7, 0, &k, false);
        assert!(st.dbs[0].get(&k).is_none());
        st.flush_expired(0);
        // Redis 7.0 does not count an expired key in `dirty`.
        assert_eq!(st.dirty, 0);
        assert!(st.watches.is_doomed(7));
        // No AOF: nothing is kept in the log.
        assert!(st.effects.is_empty());
    }
}
