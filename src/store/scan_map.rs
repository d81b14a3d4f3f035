//! The keyspace's hash table: open addressing with linear probing over a power-of-two table,
//! built so that SCAN can walk it with Redis's reverse-binary cursor in O(COUNT) per call.
//!
//! # API
//! The usual map operations ([`ScanMap::get`], [`ScanMap::insert`], [`ScanMap::remove`], ...,
//! lookups by a borrowed form of the key as with `HashMap`), plus [`ScanMap::scan`]: visit one
//! *home bucket* and return the next cursor.
//!
//! # Why not `HashMap`
//! `HashMap` (SwissTable) gives no stable way to resume an iteration after the table changed, so
//! SCAN had to read the whole database on every call. Here an element's *home bucket* is
//! `hash & mask`, exactly as in a Redis dict bucket, so Redis's cursor applies unchanged (see
//! [`ScanMap::scan`]): every element present for the whole scan is returned at least once, even
//! when the table grows or shrinks between calls (an element may then be returned twice).
//!
//! # Layout and invariants
//! Two parallel vectors: `hashes` (the element's hash with the top bit set; 0 = empty slot) and
//! `slots`. Probing, resizing and scanning read only `hashes` (8 bytes a slot, dense), and the
//! key itself only when the hash is equal. Linear probing keeps this invariant, on which the
//! scan relies: an element whose home is `b` sits at `b` or after it in the same run of full
//! slots, every slot between them being full. Insertion takes the first empty slot after the
//! home; removal shifts later elements of the run back into the hole (backward-shift deletion,
//! no tombstones), moving each element only towards its home.
//!
//! The table doubles above 3/4 full and halves (to at most 1/2 full) below 1/16 full; a resize
//! rebuilds it at once, as `HashMap` does. Hashes are seeded per table (`ahash::RandomState`), so
//! clients cannot choose colliding keys.

use ahash::RandomState;
use std::borrow::Borrow;
use std::hash::Hash;
use std::ops::Index;

/// Set in every stored hash, so that 0 can mark an empty slot. Above any mask: it never changes
/// an element's home bucket.
const FULL: u64 = 1 << 63;
/// The smallest allocated table. A table that was allocated stays at least this big when it
/// empties, so a key created and deleted over and over costs no allocation.
const MIN_SIZE: usize = 8;

#[derive(Clone)]
pub struct ScanMap<K, V> {
    hasher: RandomState,
    hashes: Vec<u64>,
    slots: Vec<Option<(K, V)>>,
    len: usize,
}

impl<K, V> Default for ScanMap<K, V> {
    fn default() -> Self {
        ScanMap {
            hasher: RandomState::new(),
            hashes: Vec::new(),
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<K: Hash + Eq, V> ScanMap<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots in the table (it changes only when the table is resized).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    fn tag<Q: Hash + ?Sized>(&self, q: &Q) -> u64 {
        self.hasher.hash_one(q) | FULL
    }

    #[inline]
    fn mask(&self) -> usize {
        self.hashes.len() - 1
    }

    #[inline]
    fn find<Q>(&self, h: u64, q: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let s = self.hashes[i];
            if s == 0 {
                return None;
            }
            if s == h && self.slots[i].as_ref().is_some_and(|(k, _)| k.borrow() == q) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn get<Q>(&self, q: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.tag(q), q)?;
        self.slots[i].as_ref().map(|(_, v)| v)
    }

    pub fn get_mut<Q>(&mut self, q: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.tag(q), q)?;
        self.slots[i].as_mut().map(|(_, v)| v)
    }

    pub fn get_key_value<Q>(&self, q: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.tag(q), q)?;
        self.slots[i].as_ref().map(|(k, v)| (k, v))
    }

    pub fn contains_key<Q>(&self, q: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(self.tag(q), q).is_some()
    }

    /// Insert or replace; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let h = self.tag(&key);
        if let Some(i) = self.find(h, &key) {
            let (_, v) = self.slots[i].as_mut().expect("found slots are full");
            return Some(std::mem::replace(v, value));
        }
        if (self.len + 1) * 4 > self.hashes.len() * 3 {
            self.resize((self.hashes.len() * 2).max(MIN_SIZE));
        }
        self.place(h, key, value);
        self.len += 1;
        None
    }

    /// Put an element in the first empty slot from its home (the key is known to be absent and
    /// the table to have room).
    fn place(&mut self, h: u64, key: K, value: V) {
        let mask = self.mask();
        let mut i = h as usize & mask;
        while self.hashes[i] != 0 {
            i = (i + 1) & mask;
        }
        self.hashes[i] = h;
        self.slots[i] = Some((key, value));
    }

    fn resize(&mut self, size: usize) {
        debug_assert!(size.is_power_of_two() && size * 3 >= self.len * 4);
        let hashes = std::mem::replace(&mut self.hashes, vec![0; size]);
        let slots = std::mem::replace(&mut self.slots, (0..size).map(|_| None).collect());
        for (h, slot) in hashes.into_iter().zip(slots) {
            if let Some((k, v)) = slot {
                self.place(h, k, v);
            }
        }
    }

    pub fn remove<Q>(&mut self, q: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(q).map(|(_, v)| v)
    }

    pub fn remove_entry<Q>(&mut self, q: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(self.tag(q), q)?;
        let removed = self.slots[i].take();
        self.len -= 1;
        // Backward shift: move each later element of the run into the hole when the hole lies
        // between its home and its slot, so no element ends up separated from its home by an
        // empty slot.
        let mask = self.mask();
        let mut hole = i;
        let mut j = (i + 1) & mask;
        loop {
            let s = self.hashes[j];
            if s == 0 {
                break;
            }
            let home = s as usize & mask;
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.hashes[hole] = s;
                self.slots[hole] = self.slots[j].take();
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.hashes[hole] = 0;
        self.slots[hole] = None;
        if self.hashes.len() > MIN_SIZE && self.len * 16 < self.hashes.len() {
            self.resize((self.len * 2).next_power_of_two().max(MIN_SIZE));
        }
        removed
    }

    /// Every element, in table order (stable while the table is not resized).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().map(|(k, v)| (k, v)))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Up to `count` distinct entries picked near a random point of the table: the occupied
    /// slots following a random slot, wrapping around (Redis's `dictGetSomeKeys`, for
    /// eviction's sampling). Not uniform per key, but every key can be picked, and the cost
    /// does not depend on the table's size. `start` is the random number choosing the point.
    pub fn sample(&self, count: usize, start: usize) -> impl Iterator<Item = (&K, &V)> + '_ {
        let n = self.slots.len();
        let want = count.min(self.len);
        let first = if n == 0 { 0 } else { start % n };
        (0..n)
            .map(move |i| (first + i) % n)
            .filter_map(move |i| self.slots[i].as_ref().map(|(k, v)| (k, v)))
            .take(want)
    }

    /// One step of a SCAN: call `f` for every element whose home bucket is the one `cursor`
    /// names, and return the cursor of the next step (0 when the walk is over).
    ///
    /// As Redis's `dictScan`: the cursor's low bits (under the table's mask) name a bucket, and
    /// the next cursor is the current one with its *reversed* bits incremented (high bits first).
    /// Growing the table by a factor 2^k splits bucket `b` into the buckets whose low bits are
    /// `b`, which the reversed increment has not visited yet; shrinking merges buckets whose
    /// low bits were all not yet visited, or already visited (then their elements may be
    /// returned again). So an element present for the whole walk is returned at least once.
    /// A step costs the length of the run of full slots from the bucket: O(1) on average at
    /// the table's load.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = self.mask();
        let bucket = cursor as usize & mask;
        let mut i = bucket;
        loop {
            let s = self.hashes[i];
            if s == 0 {
                break;
            }
            if s as usize & mask == bucket {
                let (k, v) = self.slots[i].as_ref().expect("full slot");
                f(k, v);
            }
            i = (i + 1) & mask;
        }
        let v = cursor | !(mask as u64);
        v.reverse_bits().wrapping_add(1).reverse_bits()
    }
}

impl<K: Hash + Eq + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for ScanMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, Q, V> Index<&Q> for ScanMap<K, V>
where
    K: Hash + Eq + Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    type Output = V;

    fn index(&self, q: &Q) -> &V {
        self.get(q).expect("key present")
    }
}

impl<K: Hash + Eq, V> FromIterator<(K, V)> for ScanMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = ScanMap::default();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Every element sits in the run of full slots that starts at its home.
    fn check_invariant<K: Hash + Eq, V>(m: &ScanMap<K, V>) {
        let mut n = 0;
        for i in 0..m.hashes.len() {
            let s = m.hashes[i];
            assert_eq!(s == 0, m.slots[i].is_none());
            if s == 0 {
                continue;
            }
            n += 1;
            let mask = m.mask();
            let mut j = s as usize & mask;
            while j != i {
                assert_ne!(m.hashes[j], 0, "gap between an element and its home");
                j = (j + 1) & mask;
            }
        }
        assert_eq!(n, m.len);
    }

    #[test]
    fn map_operations() {
        let mut m: ScanMap<Vec<u8>, u32> = ScanMap::default();
        assert_eq!(m.scan(0, |_, _| panic!()), 0);
        for i in 0..1000u32 {
            assert_eq!(m.insert(i.to_string().into_bytes(), i), None);
        }
        assert_eq!(m.insert(b"7".to_vec(), 70), Some(7));
        assert_eq!(m.len(), 1000);
        assert_eq!(m[b"7".as_slice()], 70);
        check_invariant(&m);
        for i in (0..1000u32).step_by(2) {
            assert!(m.remove(i.to_string().as_bytes()).is_some());
        }
        check_invariant(&m);
        assert!(!m.contains_key(b"10".as_slice()));
        assert_eq!(m.get(b"11".as_slice()), Some(&11));
        for i in 0..1000u32 {
            m.remove(i.to_string().as_bytes());
        }
        assert!(m.is_empty());
        assert_eq!(m.capacity(), MIN_SIZE, "shrinks back as it empties");
    }

    #[test]
    fn a_full_walk_returns_each_element_once_when_nothing_changes() {
        let m: ScanMap<u32, ()> = (0..5000).map(|i| (i, ())).collect();
        let mut seen = BTreeMap::new();
        let mut cursor = 0;
        loop {
            cursor = m.scan(cursor, |k, _| *seen.entry(*k).or_insert(0) += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 5000);
        assert!(seen.values().all(|&n| n == 1));
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Scan this many steps.
        Steps(usize),
        /// Insert this many new keys (a burst grows the table).
        Add(u32),
        /// Remove every key ≡ r (mod 4) among the transient ones, or most of them.
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..40).prop_map(Op::Steps),
            (1u32..3000).prop_map(Op::Add),
            (0u8..5).prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Keys present for the whole walk are all returned, whatever is added or removed
        /// (growing and shrinking the table) between steps.
        #[test]
        fn keys_present_throughout_are_returned(
            stable in 0u32..2000,
            transient in 0u32..3000,
            ops in prop::collection::vec(op(), 1..40),
        ) {
            let mut m: ScanMap<u32, ()> = ScanMap::default();
            // Stable keys: 0..stable. Transient keys: from 1_000_000 up.
            for k in 0..stable {
                m.insert(k, ());
            }
            let mut next = 1_000_000u32;
            for _ in 0..transient {
                m.insert(next, ());
                next += 1;
            }
            let mut seen = BTreeSet::new();
            let mut cursor = 0u64;
            let mut started = false;
            let mut resized = false;
            'walk: for o in &ops {
                match o {
                    Op::Steps(n) => {
                        for _ in 0..*n {
                            cursor = m.scan(cursor, |k, _| { seen.insert(*k); });
                            started = true;
                            if cursor == 0 {
                                break 'walk;
                            }
                        }
                    }
                    Op::Add(n) => {
                        let cap = m.capacity();
                        for _ in 0..*n {
                            m.insert(next, ());
                            next += 1;
                        }
                        resized |= started && cap != m.capacity();
                    }
                    Op::Remove(r) => {
                        let cap = m.capacity();
                        let gone: Vec<u32> = m
                            .keys()
                            .copied()
                            .filter(|k| *k >= 1_000_000 && (*r == 4 || k % 4 != u32::from(*r)))
                            .collect();
                        for k in gone {
                            m.remove(&k);
                        }
                        resized |= started && cap != m.capacity();
                    }
                }
            }
            // The walk always ends: finish it if the operations did not.
            while cursor != 0 || !started {
                cursor = m.scan(cursor, |k, _| { seen.insert(*k); });
                started = true;
            }
            check_invariant(&m);
            for k in 0..stable {
                prop_assert!(seen.contains(&k), "stable key {} missed (resized: {})", k, resized);
            }
        }
    }

    /// The same guarantee through a growth by 16x and a shrink back, each in mid-walk.
    #[test]
    fn grow_and_shrink_in_mid_walk() {
        let mut m: ScanMap<u32, ()> = (0..1000).map(|i| (i, ())).collect();
        let small = m.capacity();
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        for _ in 0..300 {
            cursor = m.scan(cursor, |k, _| {
                seen.insert(*k);
            });
        }
        for k in 1_000_000..1_020_000 {
            m.insert(k, ());
        }
        assert!(m.capacity() >= small * 16);
        for _ in 0..3000 {
            cursor = m.scan(cursor, |k, _| {
                seen.insert(*k);
            });
        }
        for k in 1_000_000..1_020_000 {
            m.remove(&k);
        }
        assert!(m.capacity() <= small * 2, "shrank");
        while cursor != 0 {
            cursor = m.scan(cursor, |k, _| {
                seen.insert(*k);
            });
        }
        assert!((0..1000).all(|k| seen.contains(&k)));
    }
}
