//! The keyspace: the databases, their values and expiry. Pure data: it imports nothing from the
//! layers above (`engine`, `command`, `aof`, `notify`, ...).
//!
//! API:
//! - [`Keyspace`] holds the [`Db`]s. The engine (`crate::engine::StoreInner`) owns it behind the
//!   store lock and derefs to it, so handlers write `store.dbs[i]`.
//! - Lookups remove keys whose TTL has passed (lazy expiry) and remember them
//!   ([`Keyspace::take_expired`]); the active cycle walks the keys that have a TTL in slices
//!   and expires the due ones ([`Keyspace::expire_scan`]). The engine turns each into a `DEL` effect, a watch touch and a
//!   woken waiter.
//! - Events raised by the keyspace itself (`expired`, `new`) are queued on the [`Db`] when the
//!   engine asked for them ([`Keyspace::track_events`]) and taken in order
//!   ([`Keyspace::take_events`]) to be published as keyspace notifications.

pub mod access;
pub mod compact;
pub mod debug_object;
pub mod evict;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod list;
pub mod rdb;
pub mod scan_map;
pub mod set;
pub mod stream;
pub mod value;
pub mod zset;

use ahash::RandomState;
use bytes::Bytes;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub use compact::CompactBytes;
pub use scan_map::{ScanMap, Walk};
pub use value::Value;

pub type Dict<K, V> = HashMap<K, V, RandomState>;

/// Asked before a keyspace table allocates more room for itself: see [`set_growth_check`].
pub type GrowthCheck = std::sync::Arc<dyn Fn(usize) -> bool + Send + Sync>;

static GROWTH_CHECK: std::sync::RwLock<Option<GrowthCheck>> = std::sync::RwLock::new(None);

/// Install the check the keys and expiry tables of every database ask before they grow by
/// more than an element ([`ScanMap::insert_checked`]): the server refuses growth that would
/// take used memory over `maxmemory`. One per process (the server's); without one, tables
/// always grow.
pub fn set_growth_check(check: GrowthCheck) {
    *GROWTH_CHECK.write().unwrap_or_else(|e| e.into_inner()) = Some(check);
}

/// Whether a keyspace table may allocate `bytes` more (rare: once per 1024 keys, or when the
/// index doubles).
fn may_grow(bytes: usize) -> bool {
    GROWTH_CHECK
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_none_or(|check| check(bytes))
}

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
    access::refresh();
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

/// The access word after an access, the string-form bits kept.
#[inline]
fn touched(p: access::Policy, word: u32) -> u32 {
    word & !string_form::ACCESS_BITS | p.touched(word & string_form::ACCESS_BITS)
}

/// [`Db::track`] bits: which [`KeyEvent`]s to queue.
const TRACK_EXPIRED: u8 = 1;
const TRACK_NEW: u8 = 2;

/// A key's value and its access word (see [`access`]).
///
/// `lru` holds the access clock in its low 24 bits ([`string_form::ACCESS_BITS`], as Redis's
/// `lru` field) and, in its spare high bits, how a string value was last written
/// ([`string_form`]): a flag costs no memory per key, and every write that replaces the value
/// builds a new entry, which clears it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    pub lru: u32,
}

/// How a string value was last written, for OBJECT ENCODING: Redis gives a value set by SET,
/// MSET, INCR, RESTORE, ... the encoding its content allows (`int`, `embstr`, `raw`: see
/// [`Value::encoding`]), but keeps a value it modified in place (APPEND to an existing key,
/// SETRANGE, SETBIT, BITFIELD writes, the HyperLogLog commands) or built whole (BITOP) RAW,
/// and a value INCRBYFLOAT made is never an integer.
pub mod string_form {
    /// The access clock's bits of [`super::Entry::lru`].
    pub const ACCESS_BITS: u32 = (1 << 24) - 1;
    /// The string is `raw` whatever it holds.
    pub const RAW: u32 = 1 << 31;
    /// The string is `embstr` up to 44 bytes, `raw` above, never `int`.
    pub const NO_INT: u32 = 1 << 30;
    /// An integer written while integers were not shared (see
    /// [`super::access::Policy::no_shared_integers`]), or copied by COPY (Redis duplicates
    /// the object): its own object, refcount 1.
    pub const UNSHARED: u32 = 1 << 29;
}

impl Entry {
    /// The access word (LRU clock or LFU counter), without the string-form bits.
    #[inline]
    pub fn access_word(&self) -> u32 {
        self.lru & string_form::ACCESS_BITS
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.value {
            Value::Str(_) if self.lru & string_form::RAW != 0 => "raw",
            Value::Str(b) if self.lru & string_form::NO_INT != 0 => {
                if b.len() <= value::EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
            v => v.encoding(),
        }
    }

    /// OBJECT REFCOUNT: only an integer-encoded value written while integers were shared
    /// can be a shared integer.
    pub fn refcount(&self) -> i64 {
        if self.lru & string_form::UNSHARED == 0 && self.encoding() == "int" {
            self.value.refcount()
        } else {
            1
        }
    }
}

#[derive(Default)]
pub struct Db {
    pub map: ScanMap<CompactBytes, Entry>,
    /// Absolute expiry in unix milliseconds, for keys that have one.
    expires: ScanMap<CompactBytes, i64>,
    /// Where the active expiry cycle resumes its walk of `expires` (a position in its dense
    /// array). As Redis's `expires_cursor`, the cycle samples the keys with a TTL instead of
    /// keeping them ordered by time: an index by time cost ~70 bytes more per key.
    expire_cursor: usize,
    /// Keys removed by lazy expiry since the last flush of effects; they become `DEL` records.
    expired: Vec<Bytes>,
    /// Time used for expiry decisions during the current command (Redis's command time snapshot).
    now: i64,
    pub expired_total: u64,
    /// INFO `keyspace_hits` / `keyspace_misses`: lookups by read-only commands (Redis counts
    /// lookupKeyRead, not the lookups of write commands).
    pub hits: u64,
    pub misses: u64,
    /// The running command is read-only: its lookups count as hits or misses.
    reading: bool,
    /// Keyspace events raised here and not yet published, in order.
    events: Vec<(KeyEvent, Bytes)>,
    /// `TRACK_*` bits from the notification flags; 0 when notifications are off.
    track: u8,
    /// Clients are paused (CLIENT PAUSE): reads treat expired keys as missing but leave them
    /// in place, as Redis does, so nothing is deleted (nor propagated) during a pause.
    keep_expired: bool,
    /// How access words are kept (LRU clock or LFU counter).
    access: access::Policy,
}

impl Db {
    fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        match self.expires.get(key) {
            Some(&at) if at <= self.now => {
                let (name, _) = self.expires.remove_entry(key).expect("present");
                let k = name.to_bytes();
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

    /// Look a key up for reading or writing, removing it first if it has expired. Records the
    /// access (Redis's lookupKey); [`Db::peek`] does not.
    pub fn get(&mut self, key: &[u8]) -> Option<&Value> {
        self.get_mut(key).map(|v| &*v)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if !self.expires.is_empty() && self.lookup_expired(key) {
            self.count_lookup(false);
            return None;
        }
        let p = self.access;
        let found = self.map.get_mut(key).map(|e| {
            e.lru = touched(p, e.lru);
            &mut e.value
        });
        if self.reading {
            if found.is_some() {
                self.hits += 1;
            } else {
                self.misses += 1;
            }
        }
        found
    }

    #[inline]
    fn count_lookup(&mut self, hit: bool) {
        if self.reading {
            if hit {
                self.hits += 1;
            } else {
                self.misses += 1;
            }
        }
    }

    /// Look a key up without recording an access (Redis's LOOKUP_NOTOUCH: TYPE, TTL, EXISTS,
    /// OBJECT, MEMORY USAGE); an expired key is still removed.
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        if !self.expires.is_empty() && self.lookup_expired(key) {
            self.count_lookup(false);
            return None;
        }
        let hit = self.map.contains_key(key);
        self.count_lookup(hit);
        self.map.get(key)
    }

    /// The access policy in force (OBJECT FREQ / IDLETIME, RESTORE).
    pub fn access(&self) -> access::Policy {
        self.access
    }

    /// Set the access word of a live key (RESTORE's IDLETIME/FREQ).
    pub fn set_lru(&mut self, key: &[u8], word: u32) {
        if let Some(e) = self.map.get_mut(key) {
            e.lru = e.lru & !string_form::ACCESS_BITS | word & string_form::ACCESS_BITS;
        }
    }

    /// How the string at `key` was written ([`string_form`] bits; 0 when its content decides).
    pub fn string_form(&self, key: &[u8]) -> u32 {
        self.map
            .get(key)
            .map_or(0, |e| e.lru & !string_form::ACCESS_BITS)
    }

    /// Record how the string at `key` was written (after the write; no access is recorded).
    pub fn set_string_form(&mut self, key: &[u8], form: u32) {
        if let Some(e) = self.map.get_mut(key) {
            e.lru = e.lru & string_form::ACCESS_BITS | form & !string_form::ACCESS_BITS;
        }
    }

    /// A lookup's expiry check: true when `key` has expired and stays in place because clients
    /// are paused (otherwise an expired key is removed here and the lookup finds nothing).
    #[inline]
    fn lookup_expired(&mut self, key: &[u8]) -> bool {
        if self.keep_expired {
            return self.expires.get(key).is_some_and(|&at| at <= self.now);
        }
        self.expire_if_needed(key);
        false
    }

    /// Whether `key` exists (expiring it first), without recording an access.
    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.peek(key).is_some()
    }

    /// Whether `key` holds a value that has not expired at `now`, without expiring anything.
    pub fn exists_unexpired(&self, key: &[u8], now: i64) -> bool {
        self.map.contains_key(key) && self.expires.get(key).is_none_or(|&at| at > now)
    }

    /// Insert or overwrite; overwriting clears any TTL (as SET does). The key is copied. An
    /// expired key is expired first (as Redis's lookup in setKey does: `expired`, then `new`).
    pub fn set(&mut self, key: &Bytes, value: Value) {
        if !self.expires.is_empty() && !self.expire_if_needed(key) {
            self.persist(key);
        }
        let lru = self.fresh_word();
        match self.map.get_mut(&key[..]) {
            Some(e) => *e = Entry { value, lru },
            None => self.insert_new(key, value),
        }
    }

    /// Insert or overwrite, keeping an existing TTL.
    pub fn set_keep_ttl(&mut self, key: &Bytes, value: Value) {
        if !self.expires.is_empty() {
            self.expire_if_needed(key);
        }
        let lru = self.fresh_word();
        match self.map.get_mut(&key[..]) {
            Some(e) => *e = Entry { value, lru },
            None => self.insert_new(key, value),
        }
    }

    /// Add a key that is not in the map (copied), raising `new`.
    fn insert_new(&mut self, key: &Bytes, value: Value) {
        if self.track & TRACK_NEW != 0 {
            self.events.push((KeyEvent::New, own(key)));
        }
        let lru = self.fresh_word();
        self.map
            .insert_checked(CompactBytes::new(key), Entry { value, lru }, may_grow);
    }

    /// The `lru` word of a value written now: a fresh access word, and
    /// [`string_form::UNSHARED`] while integers are not shared.
    #[inline]
    fn fresh_word(&self) -> u32 {
        let unshared = if self.access.no_shared_integers {
            string_form::UNSHARED
        } else {
            0
        };
        self.access.fresh() | unshared
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
            return &mut self.map.get_mut(&key[..]).expect("just inserted").value;
        }
        let p = self.access;
        let e = self.map.get_mut(&key[..]).expect("present");
        e.lru = touched(p, e.lru);
        &mut e.value
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        if !self.expires.is_empty() {
            if self.expire_if_needed(key) {
                return None;
            }
            self.persist(key);
        }
        self.map.remove(key).map(|e| e.value)
    }

    /// Remove `key` whatever its TTL (Redis's dbDelete): a key past its TTL is deleted, not
    /// expired, so it raises `del` rather than `expired` (the *STORE commands with an empty
    /// result).
    pub fn delete(&mut self, key: &[u8]) -> Option<Value> {
        if !self.expires.is_empty() {
            self.persist(key);
        }
        self.map.remove(key).map(|e| e.value)
    }

    /// TTL in ms (absolute unix ms) of a live key.
    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) {
        if !self.map.contains_key(key) {
            return;
        }
        self.expires
            .insert_checked(CompactBytes::new(key), at_ms, may_grow);
    }

    /// Remove the TTL of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.remove_entry(key).is_some()
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
        self.map = ScanMap::default();
        self.expires = ScanMap::default();
        self.expire_cursor = 0;
    }

    pub fn now(&self) -> i64 {
        self.now
    }
}

/// The databases, and the events and expirations they raised that the engine has not taken yet.
/// Depends on nothing above it: the engine (`crate::engine`) decides what an expired key or a
/// queued event becomes (a `DEL` effect, a notification, a woken waiter).
pub struct Keyspace {
    pub dbs: Vec<Db>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases.max(1)).map(|_| Db::default()).collect(),
        }
    }

    /// Start a command in `db`: fix the time used for expiry decisions. `paused`: clients are
    /// paused, so lookups leave expired keys in place.
    #[inline]
    pub fn begin_command(&mut self, db: usize, now: i64, paused: bool) {
        if let Some(d) = self.dbs.get_mut(db) {
            d.now = now;
            d.keep_expired = paused;
            d.reading = false;
        }
    }

    /// The command begun in `db` is read-only: its lookups count in `keyspace_hits/misses`.
    #[inline]
    pub fn count_reads(&mut self, db: usize) {
        if let Some(d) = self.dbs.get_mut(db) {
            d.reading = true;
        }
    }

    /// How the databases keep access words from now on.
    pub fn set_access(&mut self, p: access::Policy) {
        for d in &mut self.dbs {
            d.access = p;
        }
    }

    /// Which [`KeyEvent`]s the databases queue from now on (none: nothing is kept).
    pub fn track_events(&mut self, expired: bool, new: bool) {
        let track = if expired { TRACK_EXPIRED } else { 0 } | if new { TRACK_NEW } else { 0 };
        for d in &mut self.dbs {
            d.track = track;
            if track == 0 {
                d.events = Vec::new();
            }
        }
    }

    /// True when some database queued an event.
    pub fn has_events(&self) -> bool {
        self.dbs.iter().any(|d| !d.events.is_empty())
    }

    /// Take the queued events, database by database, each in the order it was raised.
    pub fn take_events(&mut self, mut f: impl FnMut(usize, KeyEvent, Bytes)) {
        for (i, d) in self.dbs.iter_mut().enumerate() {
            for (ev, key) in d.events.drain(..) {
                f(i, ev, key);
            }
        }
    }

    /// Keys of `db` that lazy expiry removed since the last call (empty: no allocation).
    #[inline]
    pub fn take_expired(&mut self, db: usize) -> Vec<Bytes> {
        match self.dbs.get_mut(db) {
            Some(d) if !d.expired.is_empty() => std::mem::take(&mut d.expired),
            _ => Vec::new(),
        }
    }

    /// One slice of the active expiry cycle (Redis's activeExpireCycle walk): look at up to
    /// `checks` keys of `db` that have a TTL, from where the last slice stopped, wrapping
    /// around, and expire those whose TTL passed by `now`; they are then in
    /// [`Keyspace::take_expired`]. Returns (keys looked at, keys expired).
    pub fn expire_scan(&mut self, db: usize, now: i64, checks: usize) -> (usize, usize) {
        let d = &mut self.dbs[db];
        d.now = now;
        let (mut checked, mut removed) = (0, 0);
        while checked < checks.min(d.expires.len()) {
            if d.expire_cursor >= d.expires.len() {
                d.expire_cursor = 0;
            }
            let (k, &at) = d
                .expires
                .at(d.expire_cursor)
                .expect("cursor within the table");
            checked += 1;
            // An expired key's place is taken by the table's last element: look there again.
            if at <= now {
                let k = k.clone();
                if d.expire_if_needed(&k) {
                    removed += 1;
                    continue;
                }
            }
            d.expire_cursor += 1;
        }
        (checked, removed)
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

    fn s(v: &str) -> Value {
        Value::Str(CompactBytes::new(v.as_bytes()))
    }

    fn events(ks: &Keyspace, db: usize) -> Vec<(KeyEvent, &[u8])> {
        ks.dbs[db]
            .events
            .iter()
            .map(|(e, k)| (*e, &k[..]))
            .collect()
    }

    #[test]
    fn nothing_is_queued_without_tracking() {
        let mut ks = Keyspace::new(1);
        ks.begin_command(0, unix_ms(), false);
        ks.dbs[0].set(&Bytes::from_static(b"k"), s("v"));
        ks.dbs[0].set_expire(b"k", 1);
        assert!(ks.dbs[0].get(b"k").is_none());
        assert!(events(&ks, 0).is_empty());
        assert_eq!(ks.take_expired(0), vec![Bytes::from_static(b"k")]);
        assert!(ks.take_expired(0).is_empty());
    }

    #[test]
    fn lazy_expiry_and_creation_are_queued_in_order() {
        let mut ks = Keyspace::new(2);
        ks.track_events(true, true);
        ks.begin_command(0, unix_ms(), false);
        let k = Bytes::from_static(b"k");
        ks.dbs[0].set(&k, s("v"));
        ks.dbs[0].set_expire(&k, 1);
        // Overwriting a key past its TTL expires it first, then creates it again.
        ks.dbs[0].set(&k, s("w"));
        ks.dbs[0].set(&k, s("x"));
        assert_eq!(
            events(&ks, 0),
            vec![
                (KeyEvent::New, &b"k"[..]),
                (KeyEvent::Expired, b"k"),
                (KeyEvent::New, b"k")
            ]
        );
        // `delete` removes a key past its TTL without expiring it.
        ks.dbs[0].set_expire(&k, 1);
        assert!(ks.dbs[0].delete(&k).is_some());
        assert_eq!(events(&ks, 0).len(), 3);
        let mut taken = Vec::new();
        ks.take_events(|db, ev, key| taken.push((db, ev, key)));
        assert_eq!(taken.len(), 3);
        assert!(!ks.has_events());
    }

    #[test]
    fn only_the_tracked_kinds_are_queued() {
        let mut ks = Keyspace::new(1);
        ks.track_events(true, false);
        ks.begin_command(0, unix_ms(), false);
        let k = Bytes::from_static(b"k");
        ks.dbs[0].set(&k, s("v"));
        ks.dbs[0].set_expire(&k, 1);
        assert!(!ks.dbs[0].contains(&k));
        assert_eq!(events(&ks, 0), vec![(KeyEvent::Expired, &b"k"[..])]);
        // Tracking nothing drops what was queued.
        ks.track_events(false, false);
        assert!(events(&ks, 0).is_empty());
    }

    #[test]
    fn active_expiry_walks_every_key_with_a_ttl_in_slices() {
        let mut ks = Keyspace::new(1);
        let now = unix_ms();
        ks.begin_command(0, now, false);
        for i in 0..100 {
            let k = Bytes::from(format!("k{i}"));
            ks.dbs[0].set(&k, s("v"));
            // Every third key is due; the others expire in a minute.
            let at = if i % 3 == 0 { now - 1 } else { now + 60_000 };
            ks.dbs[0].set_expire(&k, at);
        }
        let mut expired = Vec::new();
        let mut looked = 0;
        // Slices of 7 keys: each due key is found once, whatever moved into the holes.
        while looked < 66 {
            let (checked, removed) = ks.expire_scan(0, now, 7);
            assert!(checked <= 7 && removed <= checked);
            looked += checked - removed;
            expired.extend(ks.take_expired(0));
        }
        expired.sort();
        let mut due: Vec<Bytes> = (0..100)
            .step_by(3)
            .map(|i| Bytes::from(format!("k{i}")))
            .collect();
        due.sort();
        assert_eq!(expired, due);
        assert_eq!(ks.dbs[0].len(), 100 - 34);
        assert_eq!(ks.dbs[0].expires_len(), 100 - 34);
        // Nothing else is due: a whole pass expires nothing.
        assert_eq!(ks.expire_scan(0, now, 1000), (66, 0));
        // An empty table is looked at for nothing.
        assert_eq!(Keyspace::new(1).expire_scan(0, now, 10), (0, 0));
    }
}

#[cfg(test)]
mod string_form_tests {
    use super::*;

    #[test]
    fn accesses_keep_the_string_form_and_writes_clear_it() {
        let mut db = Db {
            access: access::Policy {
                lfu: true,
                log_factor: 10,
                decay_time: 1,
                no_shared_integers: false,
            },
            ..Db::default()
        };
        let k = Bytes::from_static(b"k");
        db.set(&k, Value::Str(CompactBytes::new(b"12")));
        assert_eq!(db.peek(&k).unwrap().encoding(), "int");
        db.set_string_form(&k, string_form::RAW);
        let before = db.peek(&k).unwrap().access_word();
        db.get(&k);
        let e = db.peek(&k).unwrap();
        assert_eq!(e.encoding(), "raw");
        assert_eq!(e.refcount(), 1);
        // The access counted (the counter grew) and stayed within the access bits.
        assert!(e.access_word() > before && e.access_word() <= string_form::ACCESS_BITS);
        db.set_lru(&k, 7);
        assert_eq!(db.peek(&k).unwrap().access_word(), 7);
        assert_eq!(db.string_form(&k), string_form::RAW);
        db.set(&k, Value::Str(CompactBytes::new(b"12")));
        assert_eq!(db.peek(&k).unwrap().encoding(), "int");
        db.set_string_form(&k, string_form::NO_INT);
        assert_eq!(db.peek(&k).unwrap().encoding(), "embstr");
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// What a key costs in the keyspace table, besides what a long name or value allocates:
    /// the name and a string value (each inline up to 22 bytes), the access word, in one
    /// element of the table's dense array.
    #[test]
    fn a_key_costs_one_small_element() {
        use std::mem::size_of;
        eprintln!(
            "Value {} Entry {} element {}",
            size_of::<Value>(),
            size_of::<Entry>(),
            size_of::<(CompactBytes, Entry)>()
        );
        assert!(size_of::<Value>() <= 24);
        assert!(size_of::<(CompactBytes, Entry)>() <= 56);
    }
}
