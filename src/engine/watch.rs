//! WATCHed keys: which clients watch which keys, and which transactions a write has doomed.
//!
//! Every write a handler records touches its key (`command::write`); a `WRITE` command that
//! changed data without recording a key touches all its key arguments. Keys emptied by
//! FLUSHDB, FLUSHALL or SWAPDB are caught by EXEC itself: a key that existed at WATCH and is
//! gone dooms the transaction. EXEC of a doomed client replies with a null array.

use bytes::Bytes;
use std::collections::HashSet;

use crate::store::Dict;

#[derive(Default)]
pub struct Watches {
    by_key: Dict<(usize, Bytes), Vec<u64>>,
    doomed: HashSet<u64>,
}

impl Watches {
    pub fn watch(&mut self, client: u64, db: usize, key: &Bytes) {
        let v = self.by_key.entry((db, crate::store::own(key))).or_default();
        if !v.contains(&client) {
            v.push(client);
        }
    }

    /// Forget every watch of `client` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, client: u64, keys: &[(usize, Bytes, u64)]) {
        for (db, k, _) in keys {
            let slot = (*db, k.clone());
            if let Some(v) = self.by_key.get_mut(&slot) {
                v.retain(|&c| c != client);
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
            self.doomed.extend(v.iter().copied());
        }
    }

    pub fn is_doomed(&self, client: u64) -> bool {
        self.doomed.contains(&client)
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
