//! WATCHed keys: which clients watch which keys, and which transactions a write has doomed.
//!
//! Every write a handler records touches its key (`command::write`); a `WRITE` command that
//! changed data without recording a key touches all its key arguments. Keys emptied by
//! FLUSHDB, FLUSHALL or SWAPDB are caught by EXEC itself: a key that existed at WATCH and is
//! gone dooms the transaction. EXEC of a doomed client replies with a null array.

use bytes::Bytes;
use std::collections::{HashMap, HashSet};

use crate::store::Dict;

#[derive(Default)]
pub struct Watches {
    /// Watchers of each key, each with whether the key had already expired (but was still
    /// there) when it was watched.
    by_key: Dict<(usize, Bytes), Vec<(u64, bool)>>,
    doomed: HashSet<u64>,
    /// Keys watched while a script was BUSY (the client records them as
    /// [`WATCHED_PENDING`]): whether each existed when the watch took effect.
    pending_exists: HashMap<(u64, usize, Bytes), bool>,
}

/// A client's record of a key watched while a script was BUSY: whether it existed is known
/// only once the script has run the watch (see [`Watches::existed`]).
pub const WATCHED_PENDING: u64 = 2;

impl Watches {
    /// `expired`: the key is there but its TTL has passed (Redis's `watchedKey.expired`): its
    /// deletion by expiry is then no change for this watcher.
    pub fn watch(&mut self, client: u64, db: usize, key: &Bytes, expired: bool) {
        let v = self.by_key.entry((db, crate::store::own(key))).or_default();
        if !v.iter().any(|(c, _)| *c == client) {
            v.push((client, expired));
        }
    }

    /// Record whether a key watched while a script was BUSY existed when its watch took effect.
    pub fn set_pending_exists(&mut self, client: u64, db: usize, key: Bytes, exists: bool) {
        self.pending_exists.insert((client, db, key), exists);
    }

    /// Whether a key the client watched existed at WATCH: its own record, or for a watch made
    /// while a script was BUSY, what the watch found when it took effect.
    pub fn existed(&self, client: u64, db: usize, key: &Bytes, record: u64) -> bool {
        if record == WATCHED_PENDING {
            return self
                .pending_exists
                .get(&(client, db, key.clone()))
                .copied()
                .unwrap_or(false);
        }
        record == 1
    }

    /// Forget every watch of `client` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, client: u64, keys: &[(usize, Bytes, u64)]) {
        for (db, k, record) in keys {
            if *record == WATCHED_PENDING {
                self.pending_exists.remove(&(client, *db, k.clone()));
            }
            let slot = (*db, k.clone());
            if let Some(v) = self.by_key.get_mut(&slot) {
                v.retain(|&(c, _)| c != client);
                if v.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        self.doomed.remove(&client);
    }

    pub fn touch(&mut self, db: usize, key: &Bytes) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(v) = self.by_key.get(&(db, key.clone())) {
            self.doomed.extend(v.iter().map(|(c, _)| *c));
        }
    }

    /// Expiry deleted `key`: a change for its watchers, except those that watched it already
    /// expired (for them it was gone all along; the flag is cleared).
    pub fn touch_expired(&mut self, db: usize, key: &Bytes) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(v) = self.by_key.get_mut(&(db, key.clone())) {
            for (c, expired) in v.iter_mut() {
                if std::mem::take(expired) {
                    continue;
                }
                self.doomed.insert(*c);
            }
        }
    }

    /// The watched keys of database `db`.
    pub fn keys_in(&self, db: usize) -> Vec<Bytes> {
        self.by_key
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    pub fn is_doomed(&self, client: u64) -> bool {
        self.doomed.contains(&client)
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
