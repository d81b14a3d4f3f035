//! Client-side caching (CLIENT TRACKING), as Redis 7.0 does it.
//!
//! - Default mode: after a read-only command of a tracking client, its keys are remembered in
//!   [`Tracking::remember`] (key → client ids, one table for all databases, as in Redis). The
//!   first write of such a key ([`Tracking::invalidate`], called from the write hook and for
//!   keys lazy or active expiry deletes) sends each remembered client one `invalidate` message
//!   and forgets the key: a client must read it again to hear of the next change.
//! - BCAST mode: clients subscribe to key prefixes (the empty prefix by default); every write
//!   of a matching key is collected per prefix and sent when the unit ends
//!   ([`Tracking::flush_broadcasts`]), one message per prefix with its keys in order.
//! - FLUSHDB/FLUSHALL send every tracking client an `invalidate` with a null key list.
//! - Messages go to the client itself when it speaks RESP3 (a push), or to the client it
//!   redirects to: a RESP3 push there, or, for a RESP2 connection in Pub/Sub mode, a message on
//!   `__redis__:invalidate`. A RESP2 client without redirection gets nothing.
//! - A message for the client whose command is running is sent after that command's reply
//!   (the connection takes it from [`ClientTracking::pending`]), as Redis defers it.
//! - NOLOOP: a client hears nothing of the writes it made itself.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::connection::ClientHandle;
use crate::protocol::Reply;
use crate::store::Dict;

/// A client's tracking settings, as its connection keeps them (read on every command).
#[derive(Clone)]
pub struct ClientTracking {
    /// Client id the messages go to (0: the client itself).
    pub redirect: u64,
    pub redirect_to: Option<Arc<ClientHandle>>,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING given for the next command (or the transaction being queued).
    pub caching: bool,
    /// BCAST prefixes, in order.
    pub prefixes: Vec<Bytes>,
}

impl ClientTracking {
    /// Whether the keys of a read-only command are remembered now (OPTIN needs CLIENT CACHING
    /// YES before it, OPTOUT remembers unless CLIENT CACHING NO was given).
    pub fn remembers(&self) -> bool {
        let skipped = (self.optin && !self.caching) || (self.optout && self.caching);
        !(self.bcast || skipped)
    }
}

/// The keys of one invalidation message (None: everything, after a flush).
pub type Invalidation = Option<Vec<Bytes>>;

struct Tracker {
    handle: Arc<ClientHandle>,
    settings: ClientTracking,
    /// The redirect target went away (reported once, then nothing is sent).
    broken: bool,
}

#[derive(Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    /// Keys written since the last broadcast, with the client that wrote each last.
    keys: BTreeMap<Bytes, Option<u64>>,
}

#[derive(Default)]
pub struct Tracking {
    clients: HashMap<u64, Tracker>,
    table: Dict<Bytes, HashSet<u64>>,
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    /// Some prefix holds keys to broadcast.
    dirty_prefixes: bool,
}

impl Tracking {
    /// True when no client tracks anything: the write hook then costs one branch.
    #[inline]
    pub fn is_off(&self) -> bool {
        self.clients.is_empty()
    }

    /// CLIENT TRACKING ON (after the command checked the options).
    pub fn enable(&mut self, handle: Arc<ClientHandle>, settings: ClientTracking) {
        let id = handle.id;
        if settings.bcast {
            let prefixes: Vec<Bytes> = if settings.prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                settings.prefixes.clone()
            };
            for p in prefixes {
                self.prefixes.entry(p).or_default().clients.insert(id);
            }
        }
        self.clients.insert(
            id,
            Tracker {
                handle,
                settings,
                broken: false,
            },
        );
    }

    /// CLIENT TRACKING OFF, or the client disconnected.
    pub fn disable(&mut self, id: u64) {
        if self.clients.remove(&id).is_none() {
            return;
        }
        self.prefixes.retain(|_, p| {
            p.clients.remove(&id);
            !p.clients.is_empty()
        });
    }

    /// The BCAST prefixes a client is subscribed to, in order (CLIENT TRACKINGINFO).
    pub fn prefixes_of(&self, id: u64) -> Vec<Bytes> {
        self.prefixes
            .iter()
            .filter(|(_, p)| p.clients.contains(&id))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Whether the client's redirect target went away.
    pub fn is_broken(&self, id: u64) -> bool {
        self.clients.get(&id).is_some_and(|t| {
            t.broken
                || t.settings
                    .redirect_to
                    .as_ref()
                    .is_some_and(|h| h.outbox.is_closing())
        })
    }

    /// Remember that client `id` read `keys`.
    pub fn remember<'k>(&mut self, id: u64, keys: impl Iterator<Item = &'k Bytes>) {
        for k in keys {
            if self
                .table
                .entry(crate::store::own(k))
                .or_default()
                .insert(id)
            {
                self.items += 1;
            }
        }
    }

    /// `key` was modified by client `by` (None: the server, e.g. expiry). Sends the
    /// invalidations due now; returns true when `by` itself must hear of it after its reply.
    pub fn invalidate(&mut self, key: &Bytes, by: Option<u64>) -> bool {
        if !self.prefixes.is_empty() {
            for (p, state) in self.prefixes.iter_mut() {
                if key.starts_with(p) {
                    state.keys.insert(crate::store::own(key), by);
                    self.dirty_prefixes = true;
                }
            }
        }
        self.forget(key, by)
    }

    /// Drop `key` from the table, telling the clients that read it (but `by`, which is told
    /// after its reply: the return value).
    fn forget(&mut self, key: &Bytes, by: Option<u64>) -> bool {
        let Some(ids) = self.table.remove(key) else {
            return false;
        };
        self.items -= ids.len();
        let mut own = false;
        for id in ids {
            let Some(t) = self.clients.get_mut(&id) else {
                continue;
            };
            if t.settings.bcast || (t.settings.noloop && Some(id) == by) {
                continue;
            }
            if Some(id) == by {
                own = true;
                continue;
            }
            send(t, Some(std::slice::from_ref(key)));
        }
        own
    }

    /// `tracking-table-max-keys` (Redis's trackingLimitUsedSlots, from the server cron): while
    /// more keys are tracked than `max` (0: no limit), forget keys, each as if it had changed
    /// (its clients are told, BCAST prefixes are not), at most `effort` per call.
    pub fn limit_keys(&mut self, max: usize, effort: usize) {
        let mut n = 0;
        while max > 0 && self.table.len() > max && n < effort {
            let Some(k) = self.table.keys().next().cloned() else {
                break;
            };
            self.forget(&k, None);
            n += 1;
        }
    }

    /// FLUSHDB/FLUSHALL: every tracking client hears that everything changed; the table is
    /// emptied. Returns true when `by` is tracking (it hears after its reply).
    pub fn invalidate_all(&mut self, by: Option<u64>) -> bool {
        self.table.clear();
        self.items = 0;
        let mut own = false;
        for (id, t) in self.clients.iter_mut() {
            if Some(*id) == by {
                own = true;
            } else {
                send(t, None);
            }
        }
        own
    }

    /// Send the keys written under each BCAST prefix since the last call (the end of a unit,
    /// as Redis sends them before its event loop sleeps). The messages for client `current`
    /// (whose command is ending) are returned, to follow its reply.
    pub fn flush_broadcasts(&mut self, current: Option<u64>) -> Vec<Invalidation> {
        let mut own = Vec::new();
        if !std::mem::take(&mut self.dirty_prefixes) {
            return own;
        }
        for p in self.prefixes.values_mut() {
            if p.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut p.keys);
            for id in &p.clients {
                let Some(t) = self.clients.get_mut(id) else {
                    continue;
                };
                let list: Vec<Bytes> = if t.settings.noloop {
                    keys.iter()
                        .filter(|(_, by)| **by != Some(*id))
                        .map(|(k, _)| k.clone())
                        .collect()
                } else {
                    keys.keys().cloned().collect()
                };
                if list.is_empty() {
                    continue;
                }
                if Some(*id) == current {
                    own.push(Some(list));
                } else {
                    send(t, Some(&list));
                }
            }
        }
        own
    }

    /// Send what was deferred for client `id` until its reply went out.
    pub fn send_deferred(&mut self, id: u64, pending: Vec<Invalidation>) {
        let Some(t) = self.clients.get_mut(&id) else {
            return;
        };
        for p in pending {
            send(t, p.as_deref());
        }
    }

    /// INFO: tracking clients, keys in the table, client ids across them, BCAST prefixes.
    pub fn stats(&self) -> (usize, usize, usize, usize) {
        (
            self.clients.len(),
            self.table.len(),
            self.items,
            self.prefixes.len(),
        )
    }
}

/// Deliver one invalidation (`keys` None: a flush) as Redis's `sendTrackingMessage` does.
fn send(t: &mut Tracker, keys: Option<&[Bytes]>) {
    let target = match &t.settings.redirect_to {
        Some(r) => {
            if r.outbox.is_closing() {
                // Reported to the tracking client once; then nothing can be delivered.
                if !t.broken {
                    t.broken = true;
                    let resp = t.handle.info.lock().resp;
                    if resp >= 3 {
                        let msg = Reply::Push(vec![
                            Reply::bulk_str("tracking-redir-broken"),
                            Reply::Int(t.settings.redirect as i64),
                        ]);
                        t.handle.outbox.push_reply(&msg, resp);
                        t.handle.outbox.wake();
                    }
                }
                return;
            }
            r
        }
        None => &t.handle,
    };
    let (resp, subscribed) = {
        let info = target.info.lock();
        (info.resp, info.sub + info.psub + info.ssub > 0)
    };
    let value = match keys {
        Some(k) => Reply::Array(k.iter().cloned().map(Reply::Bulk).collect()),
        None => Reply::Null,
    };
    let msg = if resp >= 3 {
        Reply::Push(vec![Reply::bulk_str("invalidate"), value])
    } else if t.settings.redirect_to.is_some() && subscribed {
        Reply::Array(vec![
            Reply::bulk_str("message"),
            Reply::bulk_str("__redis__:invalidate"),
            value,
        ])
    } else {
        return;
    };
    target.outbox.push_reply(&msg, resp);
    target.outbox.wake();
}
