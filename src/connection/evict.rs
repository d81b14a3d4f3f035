//! Client eviction (`maxmemory-clients`): when the memory held by the normal and pub/sub
//! clients together reaches the limit, the biggest evictable clients are disconnected, as
//! Redis's evictClients does, so that client buffers cannot push the dataset out.
//!
//! API: one [`ClientMemory`] is shared by the client [`Registry`](super::Registry) and the
//! pub/sub hub. While the limit is set, whoever changes a client's buffers reports it with
//! [`ClientMemory::update`] — the connection after each read and each command and at the end
//! of a batch, its writer after each write, a publisher after queueing a message — and the
//! connection then calls [`Registry::evict_clients`](super::Registry::evict_clients), which
//! does nothing (one atomic load and a compare) while
//! the total is under the limit. With the limit off (the default) both return after one
//! atomic load, and nothing is tracked; setting it recounts every client
//! ([`Registry::recount_memory`](super::Registry::recount_memory)).
//!
//! A client's memory is what Redis's getClientMemoryUsage counts that ferrymq has: its query
//! buffer (with the arguments of a partial command), its output (the outbox's buffer and the
//! bytes being written) and the fixed 16 KiB reply buffer every Redis client has. Replicas
//! and the master link are neither counted nor evicted; clients with CLIENT NO-EVICT on are
//! counted but never evicted (as in Redis, where the cron keeps their usage in the totals).
//!
//! DEVIATION(redis): Redis evicts from its biggest power-of-two size class first, in the
//! order clients entered it; ferrymq evicts the biggest client first.

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use tracing::{info, warn};

use super::ClientHandle;

/// Redis's PROTO_REPLY_CHUNK_BYTES: the reply buffer each client has from the start.
pub const REPLY_BUFFER: usize = 16 * 1024;

/// The smallest effective limit (Redis: so a bad setting cannot lock every client out).
const MIN_LIMIT: u64 = 128 * 1024;

/// [`ClientHandle::counted_mem`] of a client that has gone: never counted again.
pub const GONE: usize = usize::MAX;

#[derive(Default)]
pub struct ClientMemory {
    /// The limit in bytes (0: client eviction is off), from `maxmemory-clients` and
    /// `maxmemory` ([`limit_from_config`]).
    limit: AtomicU64,
    /// Sum of [`ClientHandle::counted_mem`] over the clients counted.
    total: AtomicI64,
    /// Clients evicted (INFO `evicted_clients`).
    pub evicted: AtomicU64,
    /// One eviction pass at a time: two connections over the limit at once must not both
    /// evict for the same excess.
    pass: Mutex<()>,
}

/// Redis's getClientEvictionLimit: `maxmemory-clients` as bytes, or (negative) as a
/// percentage of `maxmemory` (nothing without a `maxmemory`); at least 128 KiB; 0 is off.
pub fn limit_from_config(maxmemory_clients: i64, maxmemory: i64) -> u64 {
    let bytes = if maxmemory_clients < 0 && maxmemory > 0 {
        (maxmemory as f64 * -(maxmemory_clients as f64) / 100.0) as u64
    } else if maxmemory_clients > 0 {
        maxmemory_clients as u64
    } else {
        return 0;
    };
    bytes.max(MIN_LIMIT)
}

impl ClientMemory {
    /// The limit in force (0: off).
    #[inline]
    pub fn limit(&self) -> u64 {
        self.limit.load(Relaxed)
    }

    /// Set the limit; true when client eviction was just turned on (the caller recounts
    /// every client, since nothing was tracked while it was off).
    pub fn set_limit(&self, limit: u64) -> bool {
        self.limit.swap(limit, Relaxed) == 0 && limit != 0
    }

    /// Memory of normal and pub/sub clients, as last reported.
    pub fn total(&self) -> i64 {
        self.total.load(Relaxed)
    }

    /// Re-measure `h` and bring the total up to date (nothing while the limit is off).
    #[inline]
    pub fn update(&self, h: &ClientHandle) {
        if self.limit() != 0 {
            self.recount(h);
        }
    }

    /// Re-measure `h` whatever the limit.
    pub fn recount(&self, h: &ClientHandle) {
        let now = h.counted_usage();
        let mut old = h.counted_mem.load(Relaxed);
        loop {
            if old == GONE {
                return;
            }
            match h
                .counted_mem
                .compare_exchange_weak(old, now, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(o) => old = o,
            }
        }
        if now != old {
            self.total.fetch_add(now as i64 - old as i64, Relaxed);
        }
    }

    /// `h` has gone (or is going): take it out of the total for good.
    pub fn forget(&self, h: &ClientHandle) {
        let old = h.counted_mem.swap(GONE, Relaxed);
        if old != GONE && old != 0 {
            self.total.fetch_sub(old as i64, Relaxed);
        }
    }

    /// True when the total has reached the limit (one atomic load while the limit is off).
    #[inline]
    pub fn over(&self) -> bool {
        let limit = self.limit();
        limit != 0 && self.total() >= limit as i64
    }

    /// While the total is at or over the limit, disconnect the biggest evictable client
    /// among `clients` (see the module documentation). Cheap when under the limit.
    pub(super) fn evict(&self, clients: &super::Registry) {
        if !self.over() {
            return;
        }
        // Another connection is evicting for the same excess.
        let Some(_pass) = self.pass.try_lock() else {
            return;
        };
        let mut candidates: Vec<(usize, Arc<ClientHandle>)> = clients
            .all()
            .into_iter()
            .filter(|h| !h.is_killed() && h.evictable())
            .map(|h| (h.counted_mem.load(Relaxed), h))
            .filter(|(m, _)| *m != GONE)
            .collect();
        // The biggest last, popped first.
        candidates.sort_by_key(|(m, _)| *m);
        while self.over() {
            let Some((mem, h)) = candidates.pop() else {
                warn!("Over client maxmemory after evicting all evictable clients");
                break;
            };
            info!(client = h.id, addr = %h.addr, mem, "Evicting client");
            h.kill();
            self.forget(&h);
            self.evicted.fetch_add(1, Relaxed);
        }
    }
}

impl ClientHandle {
    /// What this client holds for the eviction count (see the module documentation).
    pub fn memory_usage(&self) -> usize {
        let qbuf = self.qbuf.load(Relaxed);
        let qbuf_cap = self.qbuf_cap.load(Relaxed).max(qbuf);
        self.outbox.memory() + qbuf_cap + REPLY_BUFFER
    }

    /// What the client counts for client eviction: its memory, or 0 for a replica or the
    /// link to a master.
    pub fn counted_usage(&self) -> usize {
        if self.counts_for_eviction() {
            self.memory_usage()
        } else {
            0
        }
    }

    /// A normal or pub/sub client (not a replica, nor the link to a master).
    fn counts_for_eviction(&self) -> bool {
        let info = self.info.lock();
        !info.replica && !info.master
    }

    /// A client eviction may disconnect: counted, and without CLIENT NO-EVICT.
    fn evictable(&self) -> bool {
        let info = self.info.lock();
        !info.replica && !info.master && !info.no_evict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_follows_redis() {
        assert_eq!(limit_from_config(0, 1 << 30), 0);
        assert_eq!(limit_from_config(-10, 0), 0);
        assert_eq!(limit_from_config(3 << 20, 0), 3 << 20);
        assert_eq!(limit_from_config(-10, 100 << 20), 10 << 20);
        assert_eq!(limit_from_config(1000, 0), MIN_LIMIT);
        assert_eq!(limit_from_config(-1, 1 << 20), MIN_LIMIT);
    }

    #[test]
    fn the_biggest_evictable_client_goes_first() {
        let reg = super::super::Registry::default();
        let m = reg.memory.clone();
        let hs: Vec<_> = (1..=3)
            .map(|i| {
                let h = Arc::new(ClientHandle::new(i, format!("a{i}"), "l".into(), false));
                reg.add(h.clone());
                h
            })
            .collect();
        // Client 3 is the biggest but may not be evicted.
        hs[2].info.lock().no_evict = true;
        assert!(m.set_limit(u64::MAX / 2));
        for (h, n) in hs.iter().zip([60_000, 90_000, 200_000]) {
            h.outbox.push_bytes(&vec![b'x'; n]);
            m.update(h);
        }
        // A limit that evicting client 2 alone satisfies (buffer sizes depend on the
        // allocator, so it is taken from what was counted).
        let second = hs[1].counted_mem.load(Relaxed) as i64;
        assert!(second > hs[0].counted_mem.load(Relaxed) as i64);
        assert!(!m.set_limit((m.total() - second / 2) as u64));
        assert!(m.over());
        reg.evict_clients();
        assert!(hs[1].is_killed(), "the biggest evictable one");
        assert!(!hs[0].is_killed() && !hs[2].is_killed());
        assert_eq!(m.evicted.load(Relaxed), 1);
        assert!(!m.over());
        // A client that has gone is not counted again.
        m.update(&hs[1]);
        assert_eq!(hs[1].counted_mem.load(Relaxed), GONE);
    }
}
