//! Which key goes when memory is over `maxmemory`: the eight `maxmemory-policy` choices, by
//! sampling as Redis does (never a full scan).
//!
//! API: the engine keeps one [`Evictor`] (the eviction pool survives between passes, so good
//! candidates found by one sample are remembered) and calls [`Keyspace::evict_one`] until
//! enough memory was freed; each call removes one key and returns it with its value, which the
//! caller drops (measuring what that freed) and turns into a `DEL` effect, an `evicted`
//! event, a watch touch and a woken waiter.
//!
//! - `*-lru`, `*-lfu`, `volatile-ttl`: every database with candidates gives `maxmemory-samples`
//!   keys picked around a random point of its table ([`super::ScanMap::sample`]: all keys for
//!   `allkeys-*`, keys with a TTL for `volatile-*`); each is scored (idle time; 255 minus the
//!   decayed LFU counter; the nearer the expiry the higher) and kept in a pool of the
//!   [`POOL_SIZE`] best seen so far, across databases. The best pool entry that still exists
//!   is evicted (an entry whose key has gone since is skipped).
//! - `*-random`: one random key of the next database with candidates, databases taken in turn.
//! - `noeviction`, or `volatile-*` with no key carrying a TTL: nothing can be evicted.

use bytes::Bytes;

use super::{Keyspace, Value, access};

/// Redis's EVPOOL_SIZE.
pub const POOL_SIZE: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    #[default]
    NoEviction,
}

impl Policy {
    /// The policy named by `maxmemory-policy` (an unknown name: `noeviction`; the config
    /// accepts only the eight).
    pub fn parse(name: &str) -> Policy {
        match name {
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            _ => Policy::NoEviction,
        }
    }

    /// Candidates are all keys (else only keys with a TTL).
    pub fn allkeys(self) -> bool {
        matches!(
            self,
            Policy::AllkeysLru | Policy::AllkeysLfu | Policy::AllkeysRandom
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllkeysRandom | Policy::VolatileRandom)
    }
}

/// A pool candidate: the higher the score, the better to evict.
#[derive(Clone, Debug)]
struct Candidate {
    score: u64,
    db: usize,
    key: Bytes,
}

/// Eviction state kept between passes (the engine owns one).
#[derive(Default)]
pub struct Evictor {
    /// Best candidates seen, ascending by score (the best is last).
    pool: Vec<Candidate>,
    /// The database the random policies visit next.
    next_db: usize,
}

impl Evictor {
    /// Offer a sampled key: kept when the pool has room or it beats the worst entry.
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if self.pool.iter().any(|c| c.db == db && c.key[..] == *key) {
            return;
        }
        if self.pool.len() == POOL_SIZE {
            if score <= self.pool[0].score {
                return;
            }
            self.pool.remove(0);
        }
        let at = self.pool.partition_point(|c| c.score < score);
        self.pool.insert(
            at,
            Candidate {
                score,
                db,
                key: Bytes::copy_from_slice(key),
            },
        );
    }
}

impl Keyspace {
    /// The key `policy` evicts next (its database and name; it is left in place), sampling
    /// `samples` keys per database for the pooled policies; `None` when no key qualifies.
    /// See the module documentation.
    pub fn pick_victim(
        &self,
        ev: &mut Evictor,
        policy: Policy,
        samples: usize,
    ) -> Option<(usize, Bytes)> {
        if policy == Policy::NoEviction {
            return None;
        }
        let allkeys = policy.allkeys();
        let candidates = |d: &super::Db| {
            if allkeys {
                d.map.len()
            } else {
                d.expires.len()
            }
        };
        let (db, key) = if policy.random() {
            let n = self.dbs.len();
            let db = (0..n)
                .map(|i| (ev.next_db + 1 + i) % n)
                .find(|&j| candidates(&self.dbs[j]) > 0)?;
            ev.next_db = db;
            let d = &self.dbs[db];
            let start = rand::random::<u64>() as usize;
            let key = if allkeys {
                d.map.sample(1, start).next()?.0.to_bytes()
            } else {
                d.expires.sample(1, start).next()?.0.to_bytes()
            };
            (db, key)
        } else {
            loop {
                let mut total = 0;
                for (i, d) in self.dbs.iter().enumerate() {
                    let n = candidates(d);
                    if n == 0 {
                        continue;
                    }
                    total += n;
                    populate(ev, i, d, policy, samples);
                }
                if total == 0 {
                    return None;
                }
                // Best first; an entry whose key has gone (or lost its TTL) is skipped.
                let mut found = None;
                while let Some(c) = ev.pool.pop() {
                    let d = &self.dbs[c.db];
                    let live = if allkeys {
                        d.map.contains_key(&c.key[..])
                    } else {
                        d.expires.contains_key(&c.key[..])
                    };
                    if live {
                        found = Some((c.db, c.key));
                        break;
                    }
                }
                if let Some(f) = found {
                    break f;
                }
            }
        };
        Some((db, key))
    }

    /// Pick the next victim ([`Keyspace::pick_victim`]) and remove it: its database, name
    /// and value.
    pub fn evict_one(
        &mut self,
        ev: &mut Evictor,
        policy: Policy,
        samples: usize,
    ) -> Option<(usize, Bytes, Value)> {
        let (db, key) = self.pick_victim(ev, policy, samples)?;
        let value = self.dbs[db].delete(&key)?;
        Some((db, key, value))
    }
}

/// Sample `samples` candidates of database `i` into the pool.
fn populate(ev: &mut Evictor, i: usize, d: &super::Db, policy: Policy, samples: usize) {
    let start = rand::random::<u64>() as usize;
    let access = d.access;
    let score_of = |word: u32| match policy {
        Policy::AllkeysLfu | Policy::VolatileLfu => 255 - access.decayed(word) as u64,
        _ => access::idle_ms(word),
    };
    match policy {
        Policy::VolatileTtl => {
            for (k, &at) in d.expires.sample(samples, start) {
                ev.offer(u64::MAX - at.max(0) as u64, i, k);
            }
        }
        _ if policy.allkeys() => {
            for (k, e) in d.map.sample(samples, start) {
                ev.offer(score_of(e.access_word()), i, k);
            }
        }
        _ => {
            for (k, _) in d.expires.sample(samples, start) {
                if let Some(e) = d.map.get(&k[..]) {
                    ev.offer(score_of(e.access_word()), i, k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{string_form, unix_ms};

    fn s(v: &str) -> Value {
        Value::Str(crate::store::CompactBytes::new(v.as_bytes()))
    }

    fn filled(n: usize) -> Keyspace {
        let mut ks = Keyspace::new(2);
        ks.begin_command(0, unix_ms(), false);
        for i in 0..n {
            let k = Bytes::from(format!("k{i}"));
            ks.dbs[i % 2].set(&k, s("v"));
        }
        ks
    }

    #[test]
    fn noeviction_and_volatile_without_ttls_evict_nothing() {
        let mut ks = filled(10);
        let mut ev = Evictor::default();
        for p in [
            Policy::NoEviction,
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            assert!(ks.evict_one(&mut ev, p, 5).is_none(), "{p:?}");
        }
        assert_eq!(ks.dbs[0].len() + ks.dbs[1].len(), 10);
    }

    #[test]
    fn allkeys_policies_empty_every_database() {
        for p in [
            Policy::AllkeysLru,
            Policy::AllkeysLfu,
            Policy::AllkeysRandom,
        ] {
            let mut ks = filled(50);
            let mut ev = Evictor::default();
            let mut n = 0;
            while ks.evict_one(&mut ev, p, 5).is_some() {
                n += 1;
            }
            assert_eq!(n, 50, "{p:?}");
            assert!(ks.dbs.iter().all(|d| d.is_empty()));
        }
    }

    #[test]
    fn volatile_policies_take_only_keys_with_a_ttl() {
        for p in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let mut ks = filled(40);
            let far = unix_ms() + 3_600_000;
            for i in (0..40).step_by(4) {
                let k = format!("k{i}");
                ks.dbs[i % 2].set_expire(k.as_bytes(), far + i as i64);
            }
            let mut ev = Evictor::default();
            let mut gone = Vec::new();
            while let Some((_, k, _)) = ks.evict_one(&mut ev, p, 5) {
                gone.push(k);
            }
            assert_eq!(gone.len(), 10, "{p:?}");
            assert!(gone.iter().all(|k| {
                let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
                i.is_multiple_of(4)
            }));
        }
    }

    #[test]
    fn volatile_ttl_takes_the_nearest_expiry_first() {
        let mut ks = Keyspace::new(1);
        ks.begin_command(0, unix_ms(), false);
        let far = unix_ms() + 3_600_000;
        for i in 0..10 {
            let k = Bytes::from(format!("k{i}"));
            ks.dbs[0].set(&k, s("v"));
            ks.dbs[0].set_expire(&k, far + i * 1000);
        }
        let mut ev = Evictor::default();
        // With samples covering the whole database the order is exact.
        for i in 0..10 {
            let (_, k, _) = ks.evict_one(&mut ev, Policy::VolatileTtl, 10).unwrap();
            assert_eq!(k, Bytes::from(format!("k{i}")));
        }
    }

    #[test]
    fn lru_takes_the_longest_idle_and_lfu_the_least_used() {
        let mut ks = Keyspace::new(1);
        ks.begin_command(0, unix_ms(), false);
        for i in 0..10u32 {
            let k = Bytes::from(format!("k{i}"));
            ks.dbs[0].set(&k, s("v"));
            // Idle 100 - i seconds: k0 the longest.
            let word = access::lru_clock().wrapping_sub(100 - i) & string_form::ACCESS_BITS;
            ks.dbs[0].set_lru(&k, word);
        }
        let mut ev = Evictor::default();
        let (_, k, _) = ks.evict_one(&mut ev, Policy::AllkeysLru, 10).unwrap();
        assert_eq!(&k[..], b"k0");

        let lfu = access::Policy {
            lfu: true,
            log_factor: 10,
            decay_time: 1,
            no_shared_integers: false,
        };
        ks.set_access(lfu);
        for i in 1..10u32 {
            let k = format!("k{i}");
            ks.dbs[0].set_lru(k.as_bytes(), lfu.restored(Some(10 + i), None));
        }
        let mut ev = Evictor::default();
        let (_, k, _) = ks.evict_one(&mut ev, Policy::AllkeysLfu, 10).unwrap();
        assert_eq!(&k[..], b"k1");
    }
}
