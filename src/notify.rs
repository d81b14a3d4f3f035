//! Keyspace notifications (`notify-keyspace-events`): every change to a key can be published
//! as `__keyspace@<db>__:<key>` (payload: the event name) and `__keyevent@<db>__:<event>`
//! (payload: the key), through the pub/sub hub, exactly as Redis 7.0 does.
//!
//! # API
//! - The flag bits (`crate::config::notify`) live in one [`Notifier`] owned by the store
//!   (`Store::notifier`, outside its lock). `Shared::apply_config` stores them with
//!   [`Notifier::set_flags`]; everything else reads them with one relaxed atomic load, so a
//!   server with notifications off pays a load and a branch per event and allocates nothing.
//! - Command handlers name their events in the write they record,
//!   `ctx.wrote(Write::key(&key).event(class, "event"))` (`command::write`), at the point where
//!   Redis raises them (after the change). The class is the `notify` bit the event belongs to.
//!   [`publish`] is what that write calls when somebody wants the event.
//! - Events raised inside the keyspace itself are queued on the database and published before
//!   the next event of the command (and at its end): `expired` (lazy expiry by a lookup, and
//!   the active expiry cycle) and `new` (a key was created). See `store::Db`.
//!
//! # Order and locks
//! Events are published while the store lock is held, right where they happen, so subscribers
//! see them in execution order, interleaved correctly across clients, inside MULTI/EXEC and
//! scripts, and for blocked clients served by a push (their pop events follow the push's).
//! Publishing never takes the store lock (the hub has its own locks: store -> hub order), and a
//! subscriber's messages go through its outbox like any other output, after the frames already
//! queued for it.
//!
//! # Cost
//! Measured with callgrind on a pipelined SET/LPUSH/LPOP mix (redis-benchmark -P 16, 60k
//! requests): notifications off cost ~30 instructions per request (~0.8%); `KEA` with nobody
//! subscribed ~1,400 per request (two channel names built and looked up), where redis-server
//! 7.0 spends ~4,400 more per request for the same.
//!
//! DEVIATION(redis): the `m` (keymiss) and `e` (evicted) classes are accepted but never raised:
//! ferrymq evicts nothing (maxmemory acts as noeviction) and does not track read misses.
//! MEMORY USAGE and WATCH remove a key past its TTL when they meet it (raising `expired`),
//! where Redis leaves it for the next lookup.
//!
//! DEVIATION(redis): a RESP3 client subscribed to events raised by its own transaction gets
//! the push frames before EXEC's reply; Redis 7.0 writes them inside EXEC's array, between the
//! replies of the commands that raised them (Redis 7.2 moved them after the reply).

use bytes::{BufMut, BytesMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::config::notify::{KEYEVENT, KEYSPACE};
use crate::pubsub::hub::{Hub, Kind};

/// The configured notification classes, shared by the store and the command context, and the
/// hub events are published through.
#[derive(Default)]
pub struct Notifier {
    flags: AtomicU32,
    /// None: events are dropped (a store built without a server, in tests).
    hub: Option<Arc<Hub>>,
}

impl Notifier {
    /// The `notify-keyspace-events` bits (relaxed: a CONFIG SET takes effect for the commands
    /// that start after it, as in Redis).
    #[inline]
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// Events go to `hub`.
    pub fn with_hub(hub: Option<Arc<Hub>>) -> Self {
        Notifier {
            flags: AtomicU32::new(0),
            hub,
        }
    }

    /// The hub events are published through.
    pub fn hub(&self) -> Option<&Hub> {
        self.hub.as_deref()
    }
}

/// Would an event of `class` be published with these flags? (Redis: the class must be on, and
/// at least one of K and E.)
#[inline]
pub fn wanted(flags: u32, class: u32) -> bool {
    flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Publish one event: the keyspace message first, then the keyevent one, as Redis does. The
/// caller checked [`wanted`].
pub fn publish(hub: &Hub, flags: u32, db: usize, event: &str, key: &[u8]) {
    let mut channel = BytesMut::with_capacity(24 + key.len().max(event.len()));
    if flags & KEYSPACE != 0 {
        channel.put_slice(b"__keyspace@");
        channel.put_slice(db.to_string().as_bytes());
        channel.put_slice(b"__:");
        channel.put_slice(key);
        hub.publish(Kind::Channel, &channel, event.as_bytes());
        channel.clear();
    }
    if flags & KEYEVENT != 0 {
        channel.put_slice(b"__keyevent@");
        channel.put_slice(db.to_string().as_bytes());
        channel.put_slice(b"__:");
        channel.put_slice(event.as_bytes());
        hub.publish(Kind::Channel, &channel, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::notify::*;

    #[test]
    fn an_event_needs_its_class_and_a_channel_kind() {
        assert!(!wanted(0, GENERIC));
        assert!(!wanted(GENERIC, GENERIC), "neither K nor E");
        assert!(wanted(GENERIC | KEYSPACE, GENERIC));
        assert!(wanted(ALL | KEYEVENT, LIST));
        assert!(!wanted(ALL | KEYEVENT, NEW), "A does not include n");
        assert!(wanted(NEW | KEYEVENT, NEW));
    }

    #[test]
    fn notifier_flags_round_trip() {
        let n = Notifier::default();
        assert_eq!(n.flags(), 0);
        n.set_flags(ALL | KEYSPACE);
        assert_eq!(n.flags(), ALL | KEYSPACE);
        assert!(n.hub().is_none());
    }
}
