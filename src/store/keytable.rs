//! The table a database keeps its keys in (and their expiry times): a hash table keyed by the
//! key's bytes, with the two things `std::collections::HashMap` cannot do cheaply.
//!
//! - **Random sampling** ([`KeyTable::sample`]): eviction (`maxmemory-policy`) and RANDOMKEY
//!   need a few keys picked at random without reading the whole table. As Redis's
//!   `dictGetSomeKeys`, a sample starts at a random bucket and walks on to the next occupied
//!   ones, so it costs about `count / load factor` bucket reads, whatever the table's size.
//! - **Shrinking** ([`KeyTable::remove`]): a table whose keys were mostly deleted gives its
//!   memory back (Redis resizes a dict below 10% fill in its cron; here the remove that
//!   crosses an eighth of the capacity rebuilds the table at twice the keys left, so the cost
//!   is amortised over the removals that led there).
//!
//! Keys are `Bytes` (binary-safe); lookups take `&[u8]`.

use ahash::RandomState;
use bytes::Bytes;
use hashbrown::HashTable;

/// Below this capacity a table is never shrunk (rebuilding tiny tables gains nothing).
const SHRINK_MIN_CAPACITY: usize = 128;

pub struct KeyTable<V> {
    table: HashTable<(Bytes, V)>,
    hasher: RandomState,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            table: HashTable::new(),
            hasher: RandomState::new(),
        }
    }
}

impl<V: Clone> Clone for KeyTable<V> {
    fn clone(&self) -> Self {
        KeyTable {
            table: self.table.clone(),
            hasher: self.hasher.clone(),
        }
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for KeyTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.table.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<V> KeyTable<V> {
    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let h = self.hash(key);
        self.table.find(h, |(k, _)| k[..] == *key).map(|(_, v)| v)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let h = self.hash(key);
        self.table
            .find_mut(h, |(k, _)| k[..] == *key)
            .map(|(_, v)| v)
    }

    #[inline]
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&Bytes, &V)> {
        let h = self.hash(key);
        self.table
            .find(h, |(k, _)| k[..] == *key)
            .map(|(k, v)| (k, v))
    }

    #[inline]
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Insert or replace; returns the old value (the stored key is kept when replacing).
    pub fn insert(&mut self, key: Bytes, value: V) -> Option<V> {
        let h = self.hash(&key);
        let hasher = &self.hasher;
        match self
            .table
            .entry(h, |(k, _)| *k == key, |(k, _)| hasher.hash_one(&k[..]))
        {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                Some(std::mem::replace(&mut o.get_mut().1, value))
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert((key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.remove_entry(key).map(|(_, v)| v)
    }

    pub fn remove_entry(&mut self, key: &[u8]) -> Option<(Bytes, V)> {
        let h = self.hash(key);
        let (kv, _) = self
            .table
            .find_entry(h, |(k, _)| k[..] == *key)
            .ok()?
            .remove();
        self.maybe_shrink();
        Some(kv)
    }

    /// Rebuild a table that has become mostly empty (see the module documentation).
    #[inline]
    fn maybe_shrink(&mut self) {
        let cap = self.table.capacity();
        if cap >= SHRINK_MIN_CAPACITY && self.table.len() * 8 < cap {
            let hasher = &self.hasher;
            self.table
                .shrink_to(self.table.len() * 2, |(k, _)| hasher.hash_one(&k[..]));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &V)> + '_ {
        self.table.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Bytes> + '_ {
        self.table.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.table.iter().map(|(_, v)| v)
    }

    /// Up to `count` distinct entries picked near a random point of the table: the occupied
    /// buckets following a random bucket, wrapping around (Redis's `dictGetSomeKeys`). Not
    /// uniform per key, but every key can be picked, and the cost does not depend on the
    /// table's size. `start` is the random number choosing the point.
    pub fn sample(&self, count: usize, start: usize) -> impl Iterator<Item = (&Bytes, &V)> + '_ {
        let n = self.table.num_buckets();
        let want = count.min(self.table.len());
        let first = if n == 0 { 0 } else { start % n };
        (0..n)
            .map(move |i| (first + i) % n)
            .filter_map(move |i| self.table.get_bucket(i))
            .take(want)
            .map(|(k, v)| (k, v))
    }
}

impl<V, K: AsRef<[u8]> + ?Sized> std::ops::Index<&K> for KeyTable<V> {
    type Output = V;
    /// The value at `key`; panics when absent (as `HashMap`'s indexing).
    fn index(&self, key: &K) -> &V {
        self.get(key.as_ref()).expect("key in table")
    }
}

impl<V> FromIterator<(Bytes, V)> for KeyTable<V> {
    fn from_iter<I: IntoIterator<Item = (Bytes, V)>>(iter: I) -> Self {
        let mut t = KeyTable::default();
        for (k, v) in iter {
            t.insert(k, v);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(i: usize) -> Bytes {
        Bytes::from(format!("k{i}"))
    }

    #[test]
    fn behaves_as_a_map() {
        let mut t = KeyTable::default();
        assert!(t.insert(key(1), 1).is_none());
        assert_eq!(t.insert(key(1), 2), Some(1));
        assert_eq!(t.get(b"k1"), Some(&2));
        *t.get_mut(b"k1").unwrap() = 3;
        assert_eq!(t.get_key_value(b"k1"), Some((&key(1), &3)));
        assert!(t.contains_key(b"k1") && !t.contains_key(b"k2"));
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove(b"k1"), Some(3));
        assert!(t.remove(b"k1").is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn samples_are_distinct_live_keys_and_cover_the_table() {
        let mut t = KeyTable::default();
        for i in 0..1000 {
            t.insert(key(i), i);
        }
        let mut seen = HashSet::new();
        for start in 0..2000 {
            let s: Vec<_> = t.sample(5, start * 7919).map(|(k, _)| k.clone()).collect();
            assert_eq!(s.len(), 5);
            assert_eq!(s.iter().collect::<HashSet<_>>().len(), 5);
            seen.extend(s);
        }
        // Every bucket is a possible starting point: every key gets picked.
        assert_eq!(seen.len(), 1000);
        // Never more than there are.
        let mut small = KeyTable::default();
        small.insert(key(1), 1);
        assert_eq!(small.sample(5, 3).count(), 1);
        assert_eq!(KeyTable::<u8>::default().sample(5, 3).count(), 0);
    }

    #[test]
    fn a_mostly_emptied_table_shrinks() {
        let mut t = KeyTable::default();
        for i in 0..100_000 {
            t.insert(key(i), i);
        }
        let big = t.capacity();
        for i in 0..99_990 {
            t.remove(&key(i));
        }
        assert!(t.capacity() * 100 < big, "{} vs {big}", t.capacity());
        for i in 99_990..100_000 {
            assert_eq!(t.get(&key(i)), Some(&i));
        }
    }
}
