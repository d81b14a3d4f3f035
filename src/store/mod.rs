//! The keyspace: every database behind one lock, the single ordering point for data.
//!
//! API:
//! - [`Store::lock`] gives the [`StoreInner`] guard. Command handlers run inside it (through
//!   `command::Ctx`), mutate [`Db`]s, record their AOF effects with [`StoreInner::propagate`],
//!   and signal keys that blocked clients wait on ([`StoreInner::signal_ready`]).
//! - Dispatch, still under the lock, serves blocked clients whose keys became ready
//!   (`command::serve_ready_keys`) before the guard is dropped, so no wake-up is lost and
//!   waiters are served first-come-first-served.
//! - Expired keys are removed lazily by lookups (recorded as `DEL` effects, before the effect of
//!   the command that noticed them) and by the active expiry cycle ([`StoreInner::active_expire`]).
//! - Keyspace notifications raised by the keyspace itself (`expired`, `new`) are queued on the
//!   [`Db`] when their class is on and published by [`StoreInner::publish_pending`]: before the
//!   next event of the command (`crate::notify`), at the end of the command and after each
//!   active expiry pass, so they keep their place in the order of events.
//!
//! Why one `parking_lot::Mutex` and not a sharded or concurrent map: multi-key commands (LMOVE,
//! RENAME, MULTI/EXEC) must be atomic, the AOF must record effects in execution order, and
//! blocked clients must be served in arrival order. Critical sections are short (no I/O, no
//! `.await`); decoding, encoding and socket I/O happen outside it.

pub mod blocking;
pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
pub mod value;
pub mod watch;
pub mod zset;

use ahash::RandomState;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use value::Value;

use crate::aof::AofSink;
use crate::config::notify;
use crate::engine::effects::EffectsConsumer;
use crate::notify::Notifier;
use blocking::Blocking;

pub type Dict<K, V> = HashMap<K, V, RandomState>;

/// Copy a request argument before keeping it: arguments are slices of a connection's read
/// buffer, and keeping the slice would pin the whole buffer.
#[inline]
pub fn own(b: &Bytes) -> Bytes {
    Bytes::copy_from_slice(b)
}

pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Anchor for turning a monotonic `Instant` into wall-clock time without another clock read:
/// the command path reads the clock once per command and derives the expiry time from it.
/// The cron re-takes the anchor every tick, so a change of the wall clock is followed within
/// one tick.
struct ClockAnchor {
    base: std::time::Instant,
    offset_us: std::sync::atomic::AtomicI64,
}

fn clock_anchor() -> &'static ClockAnchor {
    static ANCHOR: std::sync::OnceLock<ClockAnchor> = std::sync::OnceLock::new();
    ANCHOR.get_or_init(|| ClockAnchor {
        base: std::time::Instant::now(),
        offset_us: std::sync::atomic::AtomicI64::new(unix_us()),
    })
}

/// Re-anchor [`unix_ms_at`] to the wall clock (called by the cron).
pub fn resync_clock() {
    let a = clock_anchor();
    let since = a.base.elapsed().as_micros() as i64;
    a.offset_us
        .store(unix_us() - since, std::sync::atomic::Ordering::Relaxed);
}

/// Unix milliseconds at monotonic time `t` (as of the last [`resync_clock`]).
pub fn unix_ms_at(t: std::time::Instant) -> i64 {
    let a = clock_anchor();
    let since = t.saturating_duration_since(a.base).as_micros() as i64;
    (since + a.offset_us.load(std::sync::atomic::Ordering::Relaxed)) / 1000
}

pub fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A keyspace event raised inside [`Db`] (see [`StoreInner::publish_pending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// Removed because its TTL passed (class `x`).
    Expired,
    /// Created (class `n`).
    New,
}

impl KeyEvent {
    pub fn name(self) -> &'static str {
        match self {
            KeyEvent::Expired => "expired",
            KeyEvent::New => "new",
        }
    }
}

/// [`Db::track`] bits: which [`KeyEvent`]s to queue.
const TRACK_EXPIRED: u8 = 1;
const TRACK_NEW: u8 = 2;

#[derive(Default)]
pub struct Db {
    pub map: Dict<Bytes, Value>,
    /// Absolute expiry in unix milliseconds, for keys that have one.
    expires: Dict<Bytes, i64>,
    /// The same expiries ordered by time, so the active cycle finds due keys without scanning.
    by_time: BTreeSet<(i64, Bytes)>,
    /// Keys removed by lazy expiry since the last flush of effects; they become `DEL` records.
    expired: Vec<Bytes>,
    /// Time used for expiry decisions during the current command (Redis's command time snapshot).
    now: i64,
    pub expired_total: u64,
    pub hits: u64,
    pub misses: u64,
    /// Keyspace events raised here and not yet published, in order.
    events: Vec<(KeyEvent, Bytes)>,
    /// `TRACK_*` bits from the notification flags; 0 when notifications are off.
    track: u8,
}

impl Db {
    fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        match self.expires.get(key) {
            Some(&at) if at <= self.now => {
                let (k, _) = self.expires.remove_entry(key).expect("present");
                self.by_time.remove(&(at, k.clone()));
                self.map.remove(key);
                if self.track & TRACK_EXPIRED != 0 {
                    self.events.push((KeyEvent::Expired, k.clone()));
                }
                self.expired.push(k);
                self.expired_total += 1;
                true
            }
            _ => false,
        }
    }

    /// Look a key up for reading or writing, removing it first if it has expired.
    pub fn get(&mut self, key: &[u8]) -> Option<&Value> {
        if !self.expires.is_empty() {
            self.expire_if_needed(key);
        }
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if !self.expires.is_empty() {
            self.expire_if_needed(key);
        }
        self.map.get_mut(key)
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Insert or overwrite; overwriting clears any TTL (as SET does). The key is copied. An
    /// expired key is expired first (as Redis's lookup in setKey does: `expired`, then `new`).
    pub fn set(&mut self, key: &Bytes, value: Value) {
        if !self.expires.is_empty() && !self.expire_if_needed(key) {
            self.persist(key);
        }
        match self.map.get_mut(&key[..]) {
            Some(v) => *v = value,
            None => self.insert_new(key, value),
        }
    }

    /// Insert or overwrite, keeping an existing TTL.
    pub fn set_keep_ttl(&mut self, key: &Bytes, value: Value) {
        if !self.expires.is_empty() {
            self.expire_if_needed(key);
        }
        match self.map.get_mut(&key[..]) {
            Some(v) => *v = value,
            None => self.insert_new(key, value),
        }
    }

    /// Add a key that is not in the map (copied), raising `new`.
    fn insert_new(&mut self, key: &Bytes, value: Value) {
        let k = own(key);
        if self.track & TRACK_NEW != 0 {
            self.events.push((KeyEvent::New, k.clone()));
        }
        self.map.insert(k, value);
    }

    /// The value at `key`, created with `make` when absent (the key is copied).
    pub fn entry_or_insert_with(
        &mut self,
        key: &Bytes,
        make: impl FnOnce() -> Value,
    ) -> &mut Value {
        if !self.expires.is_empty() {
            self.expire_if_needed(key);
        }
        if !self.map.contains_key(&key[..]) {
            self.insert_new(key, make());
        }
        self.map.get_mut(&key[..]).expect("just inserted")
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        if !self.expires.is_empty() {
            if self.expire_if_needed(key) {
                return None;
            }
            self.persist(key);
        }
        self.map.remove(key)
    }

    /// Remove `key` whatever its TTL (Redis's dbDelete): a key past its TTL is deleted, not
    /// expired, so it raises `del` rather than `expired` (the *STORE commands with an empty
    /// result).
    pub fn delete(&mut self, key: &[u8]) -> Option<Value> {
        if !self.expires.is_empty() {
            self.persist(key);
        }
        self.map.remove(key)
    }

    /// TTL in ms (absolute unix ms) of a live key.
    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) {
        if let Some((k, _)) = self.map.get_key_value(key) {
            let k = k.clone();
            if let Some(old) = self.expires.insert(k.clone(), at_ms) {
                self.by_time.remove(&(old, k.clone()));
            }
            self.by_time.insert((at_ms, k));
        }
    }

    /// Remove the TTL of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        match self.expires.remove_entry(key) {
            Some((k, at)) => {
                self.by_time.remove(&(at, k));
                true
            }
            None => false,
        }
    }

    /// Number of keys with a TTL (INFO keyspace `expires=`).
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn clear(&mut self) {
        self.map = Dict::default();
        self.expires = Dict::default();
        self.by_time = BTreeSet::new();
    }

    pub fn now(&self) -> i64 {
        self.now
    }
}

/// Everything behind the store lock.
pub struct StoreInner {
    pub dbs: Vec<Db>,
    pub blocking: Blocking,
    /// The AOF sink, when persistence is on; effects are appended in execution order.
    pub aof: Option<AofSink>,
    /// Changes since the last save (Redis's `dirty`), for INFO.
    pub dirty: u64,
    /// Effects of the running unit, drained to the AOF when it ends ([`StoreInner::drain_effects`]).
    pub effects: crate::engine::effects::EffectsLog,
    /// Effects recorded in the open transaction block (see [`StoreInner::close_tx`]).
    tx_effects: usize,
    pub watches: watch::Watches,
    /// The notification flags (shared with [`Store::notifier`]).
    pub notify: Arc<Notifier>,
    /// The flags the databases' `track` bits were computed from.
    notify_flags: u32,
    /// DEBUG SET-ACTIVE-EXPIRE: false leaves expired keys to lookups (tests of lazy expiry).
    pub active_expire_enabled: bool,
}

impl StoreInner {
    pub fn new(databases: usize) -> Self {
        StoreInner {
            dbs: (0..databases.max(1)).map(|_| Db::default()).collect(),
            blocking: Blocking::default(),
            aof: None,
            dirty: 0,
            effects: Default::default(),
            tx_effects: 0,
            watches: watch::Watches::default(),
            notify: Arc::default(),
            notify_flags: 0,
            active_expire_enabled: true,
        }
    }

    /// Start a command: fix the time used for expiry decisions.
    pub fn begin_command(&mut self, db: usize, now: i64) {
        if let Some(d) = self.dbs.get_mut(db) {
            d.now = now;
        }
        self.refresh_notify();
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
        let mut track = 0;
        if crate::notify::wanted(f, notify::EXPIRED) {
            track |= TRACK_EXPIRED;
        }
        if crate::notify::wanted(f, notify::NEW) {
            track |= TRACK_NEW;
        }
        for d in &mut self.dbs {
            d.track = track;
            if track == 0 {
                d.events = Vec::new();
            }
        }
    }

    /// Publish the keyspace events queued on the databases (lazy expiry, key creation), in the
    /// order they happened. `crate::notify` calls this before each event of a command.
    pub fn publish_pending(&mut self, shared: Option<&crate::server::Shared>) {
        if self.notify_flags == 0 || self.dbs.iter().all(|d| d.events.is_empty()) {
            return;
        }
        let owned;
        let shared = match shared {
            Some(s) => s,
            None => match self.notify.server() {
                Some(s) => {
                    owned = s;
                    &owned
                }
                None => {
                    self.dbs.iter_mut().for_each(|d| d.events.clear());
                    return;
                }
            },
        };
        let flags = self.notify_flags;
        for (i, d) in self.dbs.iter_mut().enumerate() {
            for (ev, key) in d.events.drain(..) {
                crate::notify::publish(shared, flags, i, ev.name(), &key);
            }
        }
    }

    /// Record the effect of a write, after the `DEL`s of keys that lazy expiry removed while
    /// the command ran (so replay order equals execution order). `tx`: it belongs to the open
    /// transaction block (EXEC, a script; see [`StoreInner::close_tx`]). The argv is copied
    /// only when somebody consumes effects.
    #[inline]
    pub fn propagate(&mut self, db: usize, argv: &[Bytes], tx: bool) {
        self.note_effect(db, tx);
        if self.aof.is_some() {
            self.push_effect(db, argv.to_vec(), tx);
        }
    }

    /// [`StoreInner::propagate`] for an effect the caller built.
    #[inline]
    pub fn propagate_owned(&mut self, db: usize, argv: Vec<Bytes>, tx: bool) {
        self.note_effect(db, tx);
        if self.aof.is_some() {
            self.push_effect(db, argv, tx);
        }
    }

    #[inline]
    fn note_effect(&mut self, db: usize, tx: bool) {
        self.flush_expired(db);
        self.dirty += 1;
        self.tx_effects += tx as usize;
    }

    fn push_effect(&mut self, db: usize, argv: Vec<Bytes>, tx: bool) {
        if tx {
            self.effects.record_tx(db, argv);
        } else {
            self.effects.record(db, argv);
        }
    }

    /// End the open transaction block (the outermost EXEC or script): its effects join the
    /// log, in MULTI/EXEC when there is more than one (which count as two changes, as the
    /// wrapping commands did).
    pub fn close_tx(&mut self) {
        if std::mem::take(&mut self.tx_effects) > 1 {
            self.dirty += 2;
        }
        self.effects.close_tx();
    }

    /// Turn lazily expired keys of `db` into `DEL` effects (and publish pending keyspace events).
    pub fn flush_expired(&mut self, db: usize) {
        if self.notify_flags != 0 {
            self.publish_pending(None);
        }
        let Some(d) = self.dbs.get_mut(db) else {
            return;
        };
        if d.expired.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut d.expired);
        for k in keys {
            self.blocking.signal_deleted(db, &k);
            self.watches.touch(db, &k);
            self.dirty += 1;
            if self.aof.is_some() {
                self.effects.record(db, vec![Bytes::from_static(b"DEL"), k]);
            }
        }
    }

    /// The end of an execution unit: hand its effects to the AOF (and drop them when there is
    /// no AOF). See `crate::engine::effects`.
    #[inline]
    pub fn drain_effects(&mut self) {
        if self.effects.is_empty() {
            return;
        }
        self.tx_effects = 0;
        match self.aof.as_mut() {
            Some(aof) => self.effects.drain(&mut [aof as &mut dyn EffectsConsumer]),
            None => self.effects.clear(),
        }
    }

    pub fn signal_ready(&mut self, db: usize, key: &Bytes) {
        self.blocking.signal_ready(db, key);
    }

    /// One active-expiry pass: remove keys whose TTL has passed, earliest first, at most
    /// `budget` of them so the lock is never held for long (the cycle runs again soon).
    pub fn active_expire(&mut self, budget: usize) -> usize {
        if !self.active_expire_enabled {
            return 0;
        }
        self.refresh_notify();
        let now = unix_ms();
        let mut removed = 0;
        for db in 0..self.dbs.len() {
            let d = &mut self.dbs[db];
            d.now = now;
            while removed < budget {
                let Some((at, k)) = d.by_time.first().cloned() else {
                    break;
                };
                if at > now {
                    break;
                }
                d.expire_if_needed(&k);
                removed += 1;
            }
            self.flush_expired(db);
        }
        self.drain_effects();
        removed
    }
}

/// The store: all databases behind the one lock.
pub struct Store {
    inner: parking_lot::Mutex<StoreInner>,
    /// The keyspace-notification flags, readable without the lock.
    notifier: Arc<Notifier>,
}

impl Store {
    pub fn new(databases: usize) -> Self {
        let inner = StoreInner::new(databases);
        Store {
            notifier: inner.notify.clone(),
            inner: parking_lot::Mutex::new(inner),
        }
    }

    /// The keyspace-notification settings (see `crate::notify`).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
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
mod clock_tests {
    use super::*;

    #[test]
    fn unix_ms_at_follows_the_wall_clock() {
        resync_clock();
        let before = unix_ms();
        let derived = unix_ms_at(std::time::Instant::now());
        let after = unix_ms();
        assert!(
            derived >= before - 1 && derived <= after + 1,
            "{before} <= {derived} <= {after}"
        );
        // Later instants map to later times, one for one.
        let t = std::time::Instant::now();
        let later = unix_ms_at(t + std::time::Duration::from_millis(1500));
        assert_eq!(later - unix_ms_at(t), 1500);
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;
    use crate::config::notify::*;

    fn s(v: &str) -> Value {
        Value::Str(Bytes::copy_from_slice(v.as_bytes()))
    }

    fn events(st: &StoreInner, db: usize) -> Vec<(KeyEvent, &[u8])> {
        st.dbs[db]
            .events
            .iter()
            .map(|(e, k)| (*e, &k[..]))
            .collect()
    }

    #[test]
    fn nothing_is_queued_with_notifications_off() {
        let mut st = StoreInner::new(1);
        st.begin_command(0, unix_ms());
        st.dbs[0].set(&Bytes::from_static(b"k"), s("v"));
        st.dbs[0].set_expire(b"k", 1);
        assert!(st.dbs[0].get(b"k").is_none());
        assert!(events(&st, 0).is_empty());
    }

    #[test]
    fn lazy_expiry_and_creation_are_queued_in_order() {
        let mut st = StoreInner::new(2);
        st.notify.set_flags(ALL | NEW | KEYEVENT);
        st.begin_command(0, unix_ms());
        let k = Bytes::from_static(b"k");
        st.dbs[0].set(&k, s("v"));
        st.dbs[0].set_expire(&k, 1);
        // Overwriting a key past its TTL expires it first, then creates it again.
        st.dbs[0].set(&k, s("w"));
        st.dbs[0].set(&k, s("x"));
        assert_eq!(
            events(&st, 0),
            vec![
                (KeyEvent::New, &b"k"[..]),
                (KeyEvent::Expired, b"k"),
                (KeyEvent::New, b"k")
            ]
        );
        // `delete` removes a key past its TTL without expiring it.
        st.dbs[0].set_expire(&k, 1);
        assert!(st.dbs[0].delete(&k).is_some());
        assert_eq!(events(&st, 0).len(), 3);
        // Without an attached server the queue is dropped, not kept growing.
        st.publish_pending(None);
        assert!(events(&st, 0).is_empty());
    }

    #[test]
    fn only_the_enabled_classes_are_queued() {
        let mut st = StoreInner::new(1);
        st.notify.set_flags(EXPIRED | KEYSPACE);
        st.begin_command(0, unix_ms());
        let k = Bytes::from_static(b"k");
        st.dbs[0].set(&k, s("v"));
        st.dbs[0].set_expire(&k, 1);
        assert!(!st.dbs[0].contains(&k));
        assert_eq!(events(&st, 0), vec![(KeyEvent::Expired, &b"k"[..])]);
        // Switching notifications off drops what was queued.
        st.notify.set_flags(0);
        st.begin_command(0, unix_ms());
        assert!(events(&st, 0).is_empty());
    }
}
