//! The keyspace's hash table: a dense array of elements plus an open-addressing index (linear
//! probing over a power-of-two table), built so that SCAN can walk it with Redis's
//! reverse-binary cursor in O(COUNT) per call, and so that an element costs little more than
//! its own size.
//!
//! # API
//! The usual map operations ([`ScanMap::get`], [`ScanMap::insert`], [`ScanMap::remove`], ...,
//! lookups by a borrowed form of the key as with `HashMap`), plus [`ScanMap::scan`]: visit one
//! *home bucket* and return the next cursor, and [`ScanMap::sample`] for eviction.
//!
//! # Why not `HashMap`
//! `HashMap` (SwissTable) gives no stable way to resume an iteration after the table changed, so
//! SCAN had to read the whole database on every call. Here an element's *home bucket* is
//! `hash & mask`, exactly as in a Redis dict bucket, so Redis's cursor applies unchanged (see
//! [`ScanMap::scan`]): every element present for the whole scan is returned at least once, even
//! when the table grows or shrinks between calls (an element may then be returned twice).
//!
//! # Layout and invariants
//! - `entries`: the elements, dense (positions `0..len`), in chunks of [`CHUNK`] (the first
//!   chunk grows by doubling up to that size, the others are allocated whole), so a big table
//!   never copies its elements to grow and wastes at most one chunk. A removal moves the last
//!   element into the hole (as `Vec::swap_remove`).
//! - `index`: one 8-byte word per bucket, 0 when empty, else the low 32 bits of the element's
//!   hash (high half) and its position + 1 (low half). Probing, resizing and scanning read only
//!   the index, and an element only when the 32 hash bits are equal. The home bucket is
//!   `hash & mask` (so the table has at most 2^32 buckets).
//!
//! Empty buckets cost 8 bytes, not an element's size: at 1M keys of the keyspace a key costs
//! its element (key handle, value, access word) plus ~17 bytes of index, where a table of
//! `Option<(K, V)>` slots cost twice the slot size.
//!
//! Linear probing keeps this invariant, on which the scan relies: an element whose home is `b`
//! sits at `b` or after it in the same run of full buckets, every bucket between them being
//! full. Insertion takes the first empty bucket after the home; removal shifts later words of
//! the run back into the hole (backward-shift deletion, no tombstones), moving each only
//! towards its home.
//!
//! The index doubles above 3/4 full and halves (to at most 1/2 full) below 1/16 full; a resize
//! rebuilds it at once from the stored hash bits (no element is read or moved). Hashes are
//! seeded per table (`ahash::RandomState`), so clients cannot choose colliding keys.

use ahash::RandomState;
use std::borrow::Borrow;
use std::hash::Hash;
use std::ops::Index;

/// The smallest allocated index. A table that was allocated stays at least this big when it
/// empties, so a key created and deleted over and over costs no allocation.
const MIN_SIZE: usize = 8;
/// log2 of [`CHUNK`].
const CHUNK_BITS: u32 = 10;
/// Elements per chunk of `entries`: 1024 keyspace elements are 64 KiB, one allocation each.
const CHUNK: usize = 1 << CHUNK_BITS;
/// Elements a chunk grows by when a whole chunk was refused (see [`ScanMap::insert_checked`]).
const CHUNK_STEP: usize = 16;

#[derive(Clone)]
pub struct ScanMap<K, V> {
    hasher: RandomState,
    index: Vec<u64>,
    entries: Vec<Vec<(K, V)>>,
    len: usize,
}

impl<K, V> Default for ScanMap<K, V> {
    fn default() -> Self {
        ScanMap {
            hasher: RandomState::new(),
            index: Vec::new(),
            entries: Vec::new(),
            len: 0,
        }
    }
}

/// An index word: the element's hash bits and its position.
#[inline]
fn word(h: u32, pos: usize) -> u64 {
    u64::from(h) << 32 | (pos as u64 + 1)
}

/// The position an index word points to.
#[inline]
fn pos_of(w: u64) -> usize {
    (w as u32 as usize) - 1
}

/// The hash bits an index word keeps.
#[inline]
fn hash_of(w: u64) -> u32 {
    (w >> 32) as u32
}

impl<K, V> ScanMap<K, V> {
    #[inline]
    fn entry(&self, pos: usize) -> &(K, V) {
        &self.entries[pos >> CHUNK_BITS][pos & (CHUNK - 1)]
    }

    #[inline]
    fn entry_mut(&mut self, pos: usize) -> &mut (K, V) {
        &mut self.entries[pos >> CHUNK_BITS][pos & (CHUNK - 1)]
    }

    /// Bytes the table holds on the heap (index and element arrays; not what the elements
    /// themselves point to), for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        self.index.capacity() * 8
            + self.entries.capacity() * std::mem::size_of::<Vec<(K, V)>>()
            + self
                .entries
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<(K, V)>())
                .sum::<usize>()
    }
}

impl<K: Hash + Eq, V> ScanMap<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at position `pos` of the dense array (`0..len`). A removal moves the last
    /// element into the hole, so a walk by position that stays at a position after removing
    /// its element visits every element (the active expiry cycle walks `expires` this way).
    pub fn at(&self, pos: usize) -> Option<(&K, &V)> {
        (pos < self.len).then(|| {
            let (k, v) = self.entry(pos);
            (k, v)
        })
    }

    /// Buckets in the index (it changes only when the table is resized).
    pub fn capacity(&self) -> usize {
        self.index.len()
    }

    #[inline]
    fn tag<Q: Hash + ?Sized>(&self, q: &Q) -> u32 {
        self.hasher.hash_one(q) as u32
    }

    #[inline]
    fn mask(&self) -> usize {
        self.index.len() - 1
    }

    /// The bucket holding the element equal to `q` (`h`: its hash bits).
    #[inline]
    fn find<Q>(&self, h: u32, q: &Q) -> Option<usize>
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
            let w = self.index[i];
            if w == 0 {
                return None;
            }
            if hash_of(w) == h && self.entry(pos_of(w)).0.borrow() == q {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The position of the element equal to `q`.
    #[inline]
    fn position<Q>(&self, q: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(self.tag(q), q).map(|i| pos_of(self.index[i]))
    }

    pub fn get<Q>(&self, q: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let p = self.position(q)?;
        Some(&self.entry(p).1)
    }

    pub fn get_mut<Q>(&mut self, q: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let p = self.position(q)?;
        Some(&mut self.entry_mut(p).1)
    }

    pub fn get_key_value<Q>(&self, q: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (k, v) = self.entry(self.position(q)?);
        Some((k, v))
    }

    pub fn contains_key<Q>(&self, q: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(self.tag(q), q).is_some()
    }

    /// Insert or replace; returns the value replaced.
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.insert_checked(key, value, |_| true)
    }

    /// [`ScanMap::insert`], asking `may_grow(bytes)` before an allocation of that many more
    /// bytes for the table itself (a bigger index, a new chunk of elements), as Redis's
    /// dictExpandAllowed for the keyspace. Refused, the index fills up to 7/8 before it
    /// doubles anyway (Redis lets a refused table reach a load of 1.618), and the elements
    /// take a small step of room instead of a whole chunk.
    ///
    /// DEVIATION(redis): the forced growth comes at a load of 7/8, not 1.618: an open-addressing
    /// index cannot hold more elements than buckets, and linear probing slows sharply past 7/8.
    pub fn insert_checked(
        &mut self,
        key: K,
        value: V,
        may_grow: impl Fn(usize) -> bool,
    ) -> Option<V> {
        let h = self.tag(&key);
        if let Some(i) = self.find(h, &key) {
            let p = pos_of(self.index[i]);
            return Some(std::mem::replace(&mut self.entry_mut(p).1, value));
        }
        assert!(self.len < u32::MAX as usize, "ScanMap: too many elements");
        let n = self.len + 1;
        if n * 4 > self.index.len() * 3
            && (n * 8 > self.index.len() * 7 || may_grow(self.index.len() * 2 * 8))
        {
            self.resize((self.index.len() * 2).max(MIN_SIZE));
        }
        let p = self.len;
        self.push_entry((key, value), may_grow);
        self.place(word(h, p));
        self.len += 1;
        None
    }

    /// Append an element at position `len`. A chunk after the first is allocated whole, or,
    /// when `may_grow` refuses that, grown by [`CHUNK_STEP`] elements or a quarter at a time.
    fn push_entry(&mut self, e: (K, V), may_grow: impl Fn(usize) -> bool) {
        let whole = self.entries.len() > 1;
        let size = std::mem::size_of::<(K, V)>();
        match self.entries.last_mut() {
            Some(c) if c.len() < CHUNK => {
                if c.len() == c.capacity() {
                    // A cloned or stepped chunk: give it its whole size at once if allowed;
                    // the first chunk doubles, as a Vec does.
                    let rest = CHUNK - c.len();
                    let want = if whole {
                        rest
                    } else {
                        c.len().max(4).min(rest)
                    };
                    if may_grow(want * size) {
                        c.reserve_exact(want);
                    } else {
                        c.reserve_exact((c.len() / 4).clamp(CHUNK_STEP.min(rest), rest));
                    }
                }
                c.push(e);
            }
            _ => {
                let mut c = if self.entries.is_empty() {
                    Vec::new()
                } else if may_grow(CHUNK * size) {
                    Vec::with_capacity(CHUNK)
                } else {
                    Vec::with_capacity(CHUNK_STEP)
                };
                c.push(e);
                self.entries.push(c);
            }
        }
    }

    /// Take the element at position `len - 1` (the table is not empty).
    fn pop_entry(&mut self) -> (K, V) {
        let c = self.entries.last_mut().expect("not empty");
        let e = c.pop().expect("chunks are never left empty but the first");
        if c.is_empty() && self.entries.len() > 1 {
            self.entries.pop();
        }
        e
    }

    /// Put an index word in the first empty bucket from its home (the table has room).
    fn place(&mut self, w: u64) {
        let mask = self.mask();
        let mut i = hash_of(w) as usize & mask;
        while self.index[i] != 0 {
            i = (i + 1) & mask;
        }
        self.index[i] = w;
    }

    fn resize(&mut self, size: usize) {
        debug_assert!(size.is_power_of_two() && size * 3 >= self.len * 4);
        assert!(size <= 1 << 32, "ScanMap: index too large");
        let old = std::mem::replace(&mut self.index, vec![0; size]);
        for w in old {
            if w != 0 {
                self.place(w);
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
        let p = pos_of(self.index[i]);
        self.unlink(i);
        // The last element fills the hole: its index word is repointed.
        let last = self.len - 1;
        let removed = if p == last {
            self.pop_entry()
        } else {
            let h = self.tag(&self.entry(last).0);
            let mask = self.mask();
            let mut j = h as usize & mask;
            while self.index[j] != word(h, last) {
                j = (j + 1) & mask;
            }
            self.index[j] = word(h, p);
            let tail = self.pop_entry();
            std::mem::replace(self.entry_mut(p), tail)
        };
        self.len -= 1;
        if self.index.len() > MIN_SIZE && self.len * 16 < self.index.len() {
            self.resize((self.len * 2).next_power_of_two().max(MIN_SIZE));
            if self.entries.len() == 1 {
                let c = &mut self.entries[0];
                c.shrink_to((self.len * 2).max(MIN_SIZE));
            }
        }
        Some(removed)
    }

    /// Empty bucket `i` of the index. Backward shift: move each later word of the run into the
    /// hole when the hole lies between its home and its bucket, so no element ends up separated
    /// from its home by an empty bucket.
    fn unlink(&mut self, i: usize) {
        let mask = self.mask();
        let mut hole = i;
        let mut j = (i + 1) & mask;
        loop {
            let w = self.index[j];
            if w == 0 {
                break;
            }
            let home = hash_of(w) as usize & mask;
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.index[hole] = w;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.index[hole] = 0;
    }

    /// Every element, in position order (stable while nothing is removed).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().flatten().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Up to `count` distinct entries: the ones following a random position, wrapping around
    /// (as Redis's `dictGetSomeKeys`, for eviction's sampling). Every key is equally likely to
    /// start the run, and the cost does not depend on the table's size. `start` is the random
    /// number choosing the position.
    pub fn sample(&self, count: usize, start: usize) -> impl Iterator<Item = (&K, &V)> + '_ {
        let n = self.len;
        let want = count.min(n);
        let first = if n == 0 { 0 } else { start % n };
        (0..want).map(move |i| {
            let (k, v) = self.entry((first + i) % n);
            (k, v)
        })
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
    /// A step costs the length of the run of full buckets from the bucket: O(1) on average at
    /// the table's load.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = self.mask();
        let bucket = cursor as usize & mask;
        let mut i = bucket;
        loop {
            let w = self.index[i];
            if w == 0 {
                break;
            }
            if hash_of(w) as usize & mask == bucket {
                let (k, v) = self.entry(pos_of(w));
                f(k, v);
            }
            i = (i + 1) & mask;
        }
        let v = cursor | !(mask as u64);
        v.reverse_bits().wrapping_add(1).reverse_bits()
    }
}

/// Where a [`ScanMap::walk`] stands: the next home bucket, and the table's size when it was
/// set (0: not started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    home: usize,
    size: usize,
}

impl<K, V> ScanMap<K, V> {
    /// Visits the elements of the next `homes` home buckets in ascending order; returns true
    /// once every bucket has been visited. A whole-table walk (an RDB capture, which is not a
    /// client's SCAN and keeps its position itself) reads the index front to back instead of
    /// in SCAN's reverse-binary order, where each step was a cache (and TLB) miss on a big
    /// table.
    ///
    /// It keeps SCAN's guarantee: every element present for the whole walk is visited at least
    /// once, however the table grows or shrinks between calls. Buckets below the position
    /// were visited. When the table grows, an element in a new bucket below it sat in the same
    /// old bucket (its home's low bits are unchanged), so it was visited; when the table
    /// shrinks from n to m buckets, new bucket j gathers old buckets j, j + m, ..., the last
    /// being j + n - m: the walk goes back by n - m, revisiting what it must.
    pub fn walk(&self, w: &mut Walk, homes: usize, mut f: impl FnMut(&K, &V)) -> bool {
        let n = if self.len == 0 { 0 } else { self.index.len() };
        if w.size != 0 && n < w.size {
            w.home = w.home.saturating_sub(w.size - n);
        }
        w.size = n;
        if w.home >= n {
            return true;
        }
        let mask = n - 1;
        let (start, end) = (w.home, (w.home + homes.max(1)).min(n));
        // Positions in unwrapped terms: an element sits at its home or after it in the same run
        // of full buckets, wrapping past the end, so the walk goes on past `end` to the run's
        // end. The table is never full (at most 3/4), so that run ends.
        let mut p = start;
        loop {
            let word = self.index[p & mask];
            if word == 0 {
                if p >= end {
                    break;
                }
            } else if (start..end).contains(&(hash_of(word) as usize & mask)) {
                let (k, v) = self.entry(pos_of(word));
                f(k, v);
            }
            p += 1;
        }
        w.home = end;
        end >= n
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

    /// Every element sits in the run of full buckets that starts at its home, and the index
    /// words point to each position exactly once, with the element's hash bits.
    fn check_invariant<K: Hash + Eq, V>(m: &ScanMap<K, V>) {
        if m.index.is_empty() {
            assert_eq!(m.len, 0);
            return;
        }
        let mut n = 0;
        let mut seen = vec![false; m.len];
        let mask = m.mask();
        for i in 0..m.index.len() {
            let w = m.index[i];
            if w == 0 {
                continue;
            }
            n += 1;
            let p = pos_of(w);
            assert!(
                !std::mem::replace(&mut seen[p], true),
                "position {p} indexed twice"
            );
            assert_eq!(hash_of(w), m.tag(&m.entry(p).0));
            let mut j = hash_of(w) as usize & mask;
            while j != i {
                assert_ne!(m.index[j], 0, "gap between an element and its home");
                j = (j + 1) & mask;
            }
        }
        assert_eq!(n, m.len);
        assert_eq!(m.iter().count(), m.len);
        let chunks = m.entries.len();
        for (c, chunk) in m.entries.iter().enumerate() {
            if c + 1 < chunks {
                assert_eq!(chunk.len(), CHUNK, "only the last chunk is partly filled");
            }
        }
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
        assert_eq!(m.entries.len(), 1, "the chunks went with the elements");
    }

    #[derive(Debug, Clone)]
    enum MapOp {
        Insert(u16, u32),
        Remove(u16),
        Get(u16),
        /// Insert this many keys from 10 000 up, then remove them (a resize up and down).
        Burst(u16),
    }

    fn map_op() -> impl Strategy<Value = MapOp> {
        prop_oneof![
            4 => (0u16..3000, any::<u32>()).prop_map(|(k, v)| MapOp::Insert(k, v)),
            3 => (0u16..3000).prop_map(MapOp::Remove),
            2 => (0u16..3000).prop_map(MapOp::Get),
            1 => (1u16..3000).prop_map(MapOp::Burst),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The same operations on a `ScanMap` and on `std::collections::HashMap` give the same
        /// answers and the same contents, and the layout invariants hold after each step.
        #[test]
        fn behaves_as_std_hashmap(ops in prop::collection::vec(map_op(), 1..400)) {
            let mut m: ScanMap<Vec<u8>, u32> = ScanMap::default();
            let mut model: std::collections::HashMap<Vec<u8>, u32> = Default::default();
            let key = |k: u16| k.to_string().into_bytes();
            for o in &ops {
                match *o {
                    MapOp::Insert(k, v) => prop_assert_eq!(m.insert(key(k), v), model.insert(key(k), v)),
                    MapOp::Remove(k) => prop_assert_eq!(m.remove_entry(&key(k)[..]), model.remove_entry(&key(k))),
                    MapOp::Get(k) => {
                        prop_assert_eq!(m.get(&key(k)[..]), model.get(&key(k)));
                        prop_assert_eq!(m.contains_key(&key(k)[..]), model.contains_key(&key(k)));
                    }
                    MapOp::Burst(n) => {
                        for i in 0..n {
                            m.insert(key(10_000 + i), 0);
                        }
                        check_invariant(&m);
                        for i in 0..n {
                            prop_assert_eq!(m.remove(&key(10_000 + i)[..]), Some(0));
                        }
                    }
                }
                prop_assert_eq!(m.len(), model.len());
            }
            check_invariant(&m);
            let mut got: Vec<(Vec<u8>, u32)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
            let mut want: Vec<(Vec<u8>, u32)> = model.into_iter().collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
            // A sample of everything returns every element once.
            let mut sampled: Vec<&Vec<u8>> = m.sample(usize::MAX, 12345).map(|(k, _)| k).collect();
            sampled.sort();
            sampled.dedup();
            prop_assert_eq!(sampled.len(), m.len());
        }
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

    /// A map of the stable keys `0..stable` and `transient` keys from 1 000 000 up; the next
    /// transient key.
    fn stable_and_transient(stable: u32, transient: u32) -> (ScanMap<u32, ()>, u32) {
        let mut m = ScanMap::default();
        for k in 0..stable {
            m.insert(k, ());
        }
        let mut next = 1_000_000u32;
        for _ in 0..transient {
            m.insert(next, ());
            next += 1;
        }
        (m, next)
    }

    /// Applies `Add` or `Remove` (transient keys only); `Steps` is the caller's.
    fn change(m: &mut ScanMap<u32, ()>, o: &Op, next: &mut u32) {
        match o {
            Op::Steps(_) => {}
            Op::Add(n) => {
                for _ in 0..*n {
                    m.insert(*next, ());
                    *next += 1;
                }
            }
            Op::Remove(r) => {
                let gone: Vec<u32> = m
                    .keys()
                    .copied()
                    .filter(|k| *k >= 1_000_000 && (*r == 4 || k % 4 != u32::from(*r)))
                    .collect();
                for k in gone {
                    m.remove(&k);
                }
            }
        }
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
            let (mut m, mut next) = stable_and_transient(stable, transient);
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
                    _ => {
                        let cap = m.capacity();
                        change(&mut m, o, &mut next);
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// [`ScanMap::walk`] gives the scan's guarantee: keys present for the whole walk are
        /// all visited, whatever is added or removed (growing and shrinking the table) between
        /// steps.
        #[test]
        fn a_walk_visits_keys_present_throughout(
            stable in 0u32..2000,
            transient in 0u32..3000,
            homes in 1usize..64,
            ops in prop::collection::vec(op(), 1..40),
        ) {
            let (mut m, mut next) = stable_and_transient(stable, transient);
            let mut seen = BTreeSet::new();
            let mut w = Walk::default();
            let mut done = false;
            'walk: for o in &ops {
                match o {
                    Op::Steps(n) => {
                        for _ in 0..*n {
                            done = m.walk(&mut w, homes, |k, _| { seen.insert(*k); });
                            if done {
                                break 'walk;
                            }
                        }
                    }
                    _ => change(&mut m, o, &mut next),
                }
            }
            while !done {
                done = m.walk(&mut w, homes, |k, _| { seen.insert(*k); });
            }
            for k in 0..stable {
                prop_assert!(seen.contains(&k), "stable key {} missed", k);
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

    #[test]
    fn refused_growth_fills_the_index_further_and_steps_the_chunks() {
        let mut m: ScanMap<u32, u32> = ScanMap::default();
        for k in 0..(3 * CHUNK as u32) {
            m.insert(k, k);
        }
        let buckets = m.capacity();
        let chunks_cap: usize = m.entries.iter().map(|c| c.capacity()).sum();
        assert_eq!(chunks_cap, 3 * CHUNK);
        // Refused: the index waits until 7/8 full, the new chunk gets a step.
        let refuse = |_: usize| false;
        let mut k = 3 * CHUNK as u32;
        while (m.len() + 1) * 8 <= buckets * 7 {
            m.insert_checked(k, k, refuse);
            k += 1;
        }
        assert_eq!(m.capacity(), buckets);
        let last = m.entries.last().unwrap();
        assert!(last.capacity() < CHUNK, "{}", last.capacity());
        // Past 7/8 the index doubles anyway.
        m.insert_checked(k, k, refuse);
        assert_eq!(m.capacity(), buckets * 2);
        for j in 0..=k {
            assert_eq!(m.get(&j), Some(&j));
        }
        // Allowed again: the next chunk is whole.
        while m.entries.len() == 4 || m.entries.last().unwrap().len() < CHUNK {
            k += 1;
            m.insert_checked(k, k, |_| true);
        }
        assert_eq!(m.len(), k as usize + 1);
        assert_eq!(m.entries[3].capacity(), CHUNK);
    }
}
