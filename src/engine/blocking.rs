//! Clients blocked on keys (BLPOP, BLMOVE, XREAD BLOCK, XREADGROUP BLOCK, ...).
//!
//! API, all under the store lock:
//! - A blocking handler that finds nothing to serve calls `Ctx::block`, which registers a
//!   [`Waiter`] here, before the lock is released, so no push between "empty" and "waiting" can
//!   be missed.
//! - A write recorded with `.wakes()` (`command::write`) calls `StoreInner::signal_ready(db, key)`;
//!   it only records the key when somebody waits on it, so the common no-waiter case costs one
//!   hash lookup.
//! - After each command, dispatch calls `command::serve_ready_keys`, which re-runs each waiting
//!   command (in arrival order per key) with blocking disabled; the first run that produces a
//!   reply unregisters the waiter, pushes the reply into its outbox and wakes its connection.
//! - A waiter's connection that times out, is unblocked (CLIENT UNBLOCK) or disconnects removes
//!   the waiter with [`Blocking::remove`]: whoever removes it sends the one reply, so a client
//!   gets exactly one reply and an element is never handed to a client that already gave up.

use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::command::CommandEntry;
use crate::connection::ClientHandle;
use crate::protocol::Reply;
use crate::store::Dict;

pub struct Waiter {
    pub client: Arc<ClientHandle>,
    pub db: usize,
    pub keys: Vec<Bytes>,
    /// The blocked command, re-run when one of `keys` is signalled.
    pub argv: Vec<Bytes>,
    pub cmd: &'static CommandEntry,
    pub resp: u8,
    /// What the client receives when the timeout expires.
    pub timeout_reply: Reply,
    /// Absolute deadline in unix ms (0 = forever), for CLIENT LIST / debugging.
    pub deadline_ms: i64,
}

#[derive(Default)]
pub struct Blocking {
    by_key: Dict<(usize, Bytes), VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
    ready: VecDeque<(usize, Bytes)>,
    ready_set: HashSet<(usize, Bytes)>,
}

impl Blocking {
    pub fn register(&mut self, waiter: Waiter) {
        let id = waiter.client.id;
        for k in &waiter.keys {
            let q = self.by_key.entry((waiter.db, k.clone())).or_default();
            // A command may name the same key twice; wait on it once.
            if !q.contains(&id) {
                q.push_back(id);
            }
        }
        self.waiters.insert(id, waiter);
    }

    /// Unregister a waiter; `None` if it was not (or no longer) blocked.
    pub fn remove(&mut self, client_id: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&client_id)?;
        for k in &w.keys {
            let slot = (w.db, k.clone());
            if let Some(q) = self.by_key.get_mut(&slot) {
                q.retain(|&id| id != client_id);
                if q.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        Some(w)
    }

    pub fn get(&self, client_id: u64) -> Option<&Waiter> {
        self.waiters.get(&client_id)
    }

    /// The waiter of `client_id`, to change what its timeout answers (WAIT's count so far).
    pub fn get_mut(&mut self, client_id: u64) -> Option<&mut Waiter> {
        self.waiters.get_mut(&client_id)
    }

    pub fn is_blocked(&self, client_id: u64) -> bool {
        self.waiters.contains_key(&client_id)
    }

    /// Record that `key` may now satisfy waiters (only if some wait on it).
    pub fn signal_ready(&mut self, db: usize, key: &Bytes) {
        if self.by_key.is_empty() {
            return;
        }
        let slot = (db, key.clone());
        if self.by_key.contains_key(&slot) && self.ready_set.insert(slot.clone()) {
            self.ready.push_back(slot);
        }
    }

    /// A key was deleted or overwritten: waiters re-check it (XREADGROUP waiters get an error when
    /// their group disappears; list waiters simply keep waiting).
    pub fn signal_deleted(&mut self, db: usize, key: &Bytes) {
        self.signal_ready(db, key);
    }

    pub fn pop_ready(&mut self) -> Option<(usize, Bytes)> {
        let slot = self.ready.pop_front()?;
        self.ready_set.remove(&slot);
        Some(slot)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Client ids waiting on `key`, in arrival order.
    pub fn waiting_on(&self, db: usize, key: &Bytes) -> Vec<u64> {
        self.by_key
            .get(&(db, key.clone()))
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// How many clients wait on `key` (the dashboard's blocked consumers of a queue).
    pub fn waiters_on(&self, db: usize, key: &Bytes) -> usize {
        self.by_key.get(&(db, key.clone())).map_or(0, |q| q.len())
    }

    /// Every key clients wait on: (db, key, how many wait, the first waiter's command), for
    /// the dashboard (a drained queue has no key, only waiters).
    pub fn waited_keys(&self) -> Vec<(usize, Bytes, usize, &'static str)> {
        self.by_key
            .iter()
            .map(|((db, key), q)| {
                let cmd = q
                    .front()
                    .and_then(|id| self.waiters.get(id))
                    .map_or("", |w| w.cmd.full_name.as_str());
                (*db, key.clone(), q.len(), cmd)
            })
            .collect()
    }

    /// INFO clients `blocked_clients`.
    pub fn blocked_clients(&self) -> usize {
        self.waiters.len()
    }

    /// INFO clients `total_blocking_keys`.
    pub fn blocking_keys(&self) -> usize {
        self.by_key.len()
    }

    /// Every key of `db` that has waiters becomes ready (FLUSHDB/SWAPDB change what they see).
    pub fn signal_db(&mut self, db: usize) {
        let keys: Vec<Bytes> = self
            .by_key
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect();
        for k in keys {
            self.signal_ready(db, &k);
        }
    }
}
