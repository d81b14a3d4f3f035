//! The one hook of a write: a handler that changed data describes what it did to a key as a
//! [`Write`] and hands it to [`Ctx::wrote`]; every consequence follows from that record, in
//! Redis's order (`signalModifiedKey`, `notifyKeyspaceEvent`, `server.dirty++`,
//! `alsoPropagate`, `signalKeyAsReady` are one call here):
//!
//! - the change count (INFO's `rdb_changes_since_last_save`, and whether the request is
//!   propagated at all);
//! - WATCH: the key counts as modified (once a handler has recorded a write, only the keys it
//!   recorded do; a `WRITE` command that recorded none touches all its key arguments);
//! - blocked clients waiting on the key re-check it ([`Write::wakes`]);
//! - the effect to replay (the request itself unless [`Write::effect`] gives another one),
//!   recorded in the engine's effects log for the AOF and any other consumer;
//! - keyspace events, published at once so their order relative to a script's `PUBLISH` stays
//!   Redis's.
//!
//! The private methods below are the only code that performs those steps for a handler.

use bytes::Bytes;

use super::Ctx;
use crate::config::notify::GENERIC;
use crate::notify;

/// What one write did to one key (or, for [`Write::unkeyed`], to the server). Built with the
/// methods below and consumed by [`Ctx::wrote`].
#[must_use = "a Write does nothing until it is passed to ctx.wrote"]
pub struct Write<'k> {
    key: Option<&'k Bytes>,
    db: Option<usize>,
    changes: u64,
    events: [Option<(u32, &'static str)>; 2],
    wakes: bool,
    del_if_gone: bool,
    /// A whole database or all of them were emptied (tracking clients hear of it).
    flushed: bool,
    effect: Effect,
}

/// What is replayed for a write.
enum Effect {
    /// The request itself, at the end of the command (unless another write gave an effect).
    Request,
    One(Vec<Bytes>),
    Many(Vec<Vec<Bytes>>),
}

impl<'k> Write<'k> {
    /// One change to `key` in the client's database.
    #[inline]
    pub fn key(key: &'k Bytes) -> Self {
        Write {
            key: Some(key),
            db: None,
            changes: 1,
            events: [None, None],
            wakes: false,
            del_if_gone: false,
            flushed: false,
            effect: Effect::Request,
        }
    }

    /// One change that belongs to no key (FLUSHALL, FUNCTION LOAD, SWAPDB).
    #[inline]
    pub fn unkeyed() -> Self {
        Write {
            key: None,
            ..Write::key(&EMPTY)
        }
    }

    /// FLUSHDB/FLUSHALL: every key changed (clients caching keys are told to drop them all).
    #[inline]
    pub fn flushed() -> Self {
        Write {
            flushed: true,
            ..Write::unkeyed()
        }
    }

    /// The key is in database `db`, not the client's (MOVE, COPY ... DB).
    #[inline]
    pub fn in_db(mut self, db: usize) -> Self {
        self.db = Some(db);
        self
    }

    /// It counts as `n` changes (per element for some commands, as Redis counts; 0 when another
    /// write of the same command already counted it).
    #[inline]
    pub fn changes(mut self, n: usize) -> Self {
        self.changes = n as u64;
        self
    }

    /// Keyspace event `name` of `class` (a `config::notify` bit) on the key; at most two per
    /// write, raised in the order given.
    #[inline]
    pub fn event(mut self, class: u32, name: &'static str) -> Self {
        let slot = if self.events[0].is_none() { 0 } else { 1 };
        debug_assert!(self.events[slot].is_none(), "at most two events per write");
        self.events[slot] = Some((class, name));
        self
    }

    /// Then `del` when the key no longer exists (the command emptied a container).
    #[inline]
    pub fn del_if_gone(mut self) -> Self {
        self.del_if_gone = true;
        self
    }

    /// Clients blocked on the key re-check it (data was added, or the key was deleted or
    /// replaced: a waiting XREADGROUP learns its group is gone).
    #[inline]
    pub fn wakes(mut self) -> Self {
        self.wakes = true;
        self
    }

    /// [`Write::wakes`] when `cond` holds.
    #[inline]
    pub fn wakes_if(mut self, cond: bool) -> Self {
        self.wakes |= cond;
        self
    }

    /// Replay `argv` instead of the request (blocking pops, `*` IDs, relative expiries). Once a
    /// write of the command gives an effect, the request itself is not replayed.
    #[inline]
    pub fn effect(mut self, argv: Vec<Bytes>) -> Self {
        self.effect = match self.effect {
            Effect::Request => Effect::One(argv),
            Effect::One(first) => Effect::Many(vec![first, argv]),
            Effect::Many(mut v) => {
                v.push(argv);
                Effect::Many(v)
            }
        };
        self
    }

    /// Replay these instead of the request; none at all when `effects` is empty.
    #[inline]
    pub fn effects(mut self, effects: Vec<Vec<Bytes>>) -> Self {
        self.effect = match self.effect {
            Effect::Request => Effect::Many(effects),
            Effect::One(first) => {
                let mut v = vec![first];
                v.extend(effects);
                Effect::Many(v)
            }
            Effect::Many(mut v) => {
                v.extend(effects);
                Effect::Many(v)
            }
        };
        self
    }
}

static EMPTY: Bytes = Bytes::from_static(b"");

impl Ctx<'_> {
    /// Carry out every consequence of `w` (see the module documentation). The only hook a
    /// handler calls when it changed data.
    #[inline]
    pub fn wrote(&mut self, w: Write) {
        let db = w.db.unwrap_or(self.client.db);
        self.dirty += w.changes;
        match w.effect {
            Effect::Request => {}
            Effect::One(argv) => self.propagate_in(db, argv),
            Effect::Many(v) => {
                self.propagated = true;
                for argv in v {
                    self.propagate_in(db, argv);
                }
            }
        }
        if w.flushed {
            self.tracking_flushed();
        }
        let Some(key) = w.key else {
            return;
        };
        self.touch_in(db, key);
        if w.wakes {
            self.store().signal_ready(db, key);
        }
        for (class, name) in w.events.into_iter().flatten() {
            self.notify_in(db, class, name, key);
        }
        if w.del_if_gone {
            self.notify_del_if_gone(db, key);
        }
    }

    /// Record `argv` as (one of) the effect(s) to replay, in database `db`.
    fn propagate_in(&mut self, db: usize, argv: Vec<Bytes>) {
        self.propagated = true;
        let tx = self.tx;
        self.store().propagate(db, &argv, tx);
    }

    /// `key` was modified (for WATCH): once a handler names a modified key, only the keys it
    /// names count (BLPOP over several keys modifies only the one it popped from).
    #[inline]
    fn touch_in(&mut self, db: usize, key: &Bytes) {
        self.touched = true;
        self.modified(db, key);
    }

    /// Keyspace event `event` of `class` on `key` in `db`. With notifications off it is a load
    /// and a branch.
    #[inline(always)]
    fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        let flags = self.shared.store.notifier().flags();
        if notify::wanted(flags, class) {
            self.notify_slow(flags, db, event, key);
        }
    }

    /// `del` on `key` if it no longer exists: a command that emptied a container deleted it
    /// (Redis raises this after the command's own event).
    #[inline(always)]
    fn notify_del_if_gone(&mut self, db: usize, key: &[u8]) {
        let flags = self.shared.store.notifier().flags();
        if notify::wanted(flags, GENERIC) && !self.store().dbs[db].map.contains_key(key) {
            self.notify_slow(flags, db, "del", key);
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&mut self, flags: u32, db: usize, event: &str, key: &[u8]) {
        // Events the keyspace raised first (an expired key found by this command's lookup, a
        // key it created) go out before this one.
        self.store().publish_pending();
        notify::publish(&self.shared.pubsub, flags, db, event, key);
    }
}

impl Ctx<'_> {
    /// `key` in `db` was modified: WATCHers are doomed, clients caching it are told (Redis's
    /// `signalModifiedKey`).
    #[inline]
    pub(super) fn modified(&mut self, db: usize, key: &Bytes) {
        let store = self.store();
        if !store.watches.is_empty() {
            store.watches.touch(db, key);
        }
        if !store.tracking.is_off() {
            self.tracking_invalidate(key);
        }
    }

    #[cold]
    #[inline(never)]
    fn tracking_invalidate(&mut self, key: &Bytes) {
        let id = self.client.id;
        let own = self.store().tracking.invalidate(key, Some(id));
        if own {
            self.defer_invalidation(Some(vec![key.clone()]));
        }
    }

    #[cold]
    #[inline(never)]
    fn tracking_flushed(&mut self) {
        let id = self.client.id;
        let store = self.store();
        // The table is emptied even when no client tracks any more (its keys stay counted in
        // INFO until then, as in Redis, which frees the whole table on a flush).
        if store.tracking.invalidate_all(Some(id)) {
            self.defer_invalidation(None);
        }
    }

    /// The BCAST messages this client's own command caused: they follow its reply.
    #[cold]
    #[inline(never)]
    pub(super) fn take_own_broadcasts(&mut self) {
        let id = self.client.id;
        let own = match self.store_if_locked() {
            Some(store) if !store.tracking.is_off() => store.tracking.flush_broadcasts(Some(id)),
            _ => return,
        };
        self.client.tracking_pending.extend(own);
    }

    /// The running client's own invalidation goes out after its reply, and so does a served
    /// waiter's (`serve_ready_keys` sends it after pushing the reply).
    fn defer_invalidation(&mut self, inv: crate::engine::tracking::Invalidation) {
        if self.client.tracking.is_some() || self.rerun {
            self.client.tracking_pending.push(inv);
        } else {
            let id = self.client.id;
            self.store().tracking.send_deferred(id, vec![inv]);
        }
    }
}
