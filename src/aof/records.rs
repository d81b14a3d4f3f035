//! The keys an RDB capture has serialized so far, and their records.
//!
//! A full sync or BGSAVE of a million small keys makes a million records. Kept as a map of
//! owned keys to owned buffers, that was two allocations and a key copy per key while the
//! store lock was held, and as many frees after. Here every record goes to the end of one
//! buffer (the arena), behind a small header and the key as it is; the index is a table of
//! arena offsets, hashed by (database, key) and compared against the key in the arena. A
//! record dropped because its key changed is marked dead where it lies; the arena is compacted
//! when the dead part outgrows the live one.
//!
//! Entry layout in the arena: `flags` (1 byte), database (u32), key length (u64), body length
//! (u64; for a copied value, its index in `copies`), the key, the body (the record as
//! [`rdb::write_record`] writes it: expiry, access word, type, key, value). The lengths are
//! 64-bit: a key or a record may pass 4 GiB when `proto-max-bulk-len` allows it.

use std::collections::BTreeMap;

use ahash::RandomState;
use hashbrown::HashTable;

use crate::store::rdb::{self, Encodings};
use crate::store::{Entry, Value};

const DEAD: u8 = 1;
const TTL: u8 = 2;
const COPIED: u8 = 4;
const HEAD: usize = 21;
/// Dead bytes that, once also more than the live ones, make the arena compact. (Small in tests,
/// so that the property test compacts often.)
const COMPACT_AT: usize = if cfg!(test) { 16 * 1024 } else { 1 << 20 };

/// Lists and streams with at least this many elements are copied in the capture's critical
/// section and encoded after it: encoding a 1M-entry stream took ~300 ms under the store lock
/// (every client waited), copying its nodes takes a fraction of that. (Small in tests, so that
/// the rewrite's property tests take this path.)
const COPY_ELEMENTS: u64 = if cfg!(test) { 8 } else { 4096 };

/// Whether a capture copies `v` and encodes it later.
pub(crate) fn is_big(v: &Value) -> bool {
    match v {
        Value::List(l) => l.len() as u64 >= COPY_ELEMENTS,
        Value::Stream(s) => s.len() >= COPY_ELEMENTS,
        _ => false,
    }
}

/// What a copied value counts for in a batch's byte budget: a copy is costly too, so a few of
/// them end a batch.
pub(crate) const COPY_COST: usize = super::rewrite::BATCH_BYTES / 4;

/// A big value as it was when captured, written once the capture has ended (with no lock
/// held), with the entry's access word and expiry of that moment.
pub(crate) struct Copied {
    pub(crate) value: Box<Value>,
    pub(crate) lru: u32,
    pub(crate) ttl: Option<i64>,
}

/// One record, as [`RecordSet::for_each_in`] hands it out.
pub(crate) enum RecordRef<'a> {
    /// The record's bytes.
    Written(&'a [u8]),
    /// The key and the copy to write it from.
    Copied(&'a [u8], &'a Copied),
}

#[derive(Default)]
pub(crate) struct RecordSet {
    arena: Vec<u8>,
    index: HashTable<usize>,
    hasher: RandomState,
    copies: Vec<Option<Copied>>,
    /// Bytes of dead entries in the arena.
    dead: usize,
}

struct Head {
    flags: u8,
    db: usize,
    key_len: usize,
    body_len: usize,
}

fn head(arena: &[u8], off: usize) -> Head {
    let u32_at =
        |p: usize| u32::from_le_bytes(arena[p..p + 4].try_into().expect("4 bytes")) as usize;
    let u64_at =
        |p: usize| u64::from_le_bytes(arena[p..p + 8].try_into().expect("8 bytes")) as usize;
    Head {
        flags: arena[off],
        db: u32_at(off + 1),
        key_len: u64_at(off + 5),
        body_len: u64_at(off + 13),
    }
}

impl Head {
    fn key<'a>(&self, arena: &'a [u8], off: usize) -> &'a [u8] {
        &arena[off + HEAD..off + HEAD + self.key_len]
    }
    /// Bytes the entry takes in the arena.
    fn size(&self) -> usize {
        HEAD + self.key_len
            + if self.flags & COPIED != 0 {
                0
            } else {
                self.body_len
            }
    }
}

fn hash_of(hasher: &RandomState, db: usize, key: &[u8]) -> u64 {
    hasher.hash_one((db, key))
}

fn hash_at(hasher: &RandomState, arena: &[u8], off: usize) -> u64 {
    let h = head(arena, off);
    hash_of(hasher, h.db, h.key(arena, off))
}

impl RecordSet {
    /// A set with room for `n` keys in its index.
    pub(crate) fn with_capacity(n: usize) -> RecordSet {
        RecordSet {
            index: HashTable::with_capacity(n),
            ..RecordSet::default()
        }
    }

    /// Keys with a record.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    fn find(&self, db: usize, key: &[u8]) -> Option<usize> {
        let arena = &self.arena;
        self.index
            .find(hash_of(&self.hasher, db, key), |&off| {
                let h = head(arena, off);
                h.db == db && h.key(arena, off) == key
            })
            .copied()
    }

    pub(crate) fn contains(&self, db: usize, key: &[u8]) -> bool {
        self.find(db, key).is_some()
    }

    /// Records `key` of database `db` holding `e` (expiring at `ttl`) unless it has a record
    /// already. Returns the bytes the new record counts for the batch it was taken in, or
    /// `None` when there was one. One probe of the index does both.
    pub(crate) fn insert_new(
        &mut self,
        db: usize,
        key: &[u8],
        e: &Entry,
        ttl: Option<i64>,
        enc: &Encodings,
    ) -> Option<usize> {
        if self.dead > COMPACT_AT && self.dead > self.arena.len() / 2 {
            self.compact();
        }
        let RecordSet {
            arena,
            index,
            hasher,
            copies,
            ..
        } = self;
        let slot = match index.entry(
            hash_of(hasher, db, key),
            |&off| {
                let h = head(arena, off);
                h.db == db && h.key(arena, off) == key
            },
            |&o| hash_at(hasher, arena, o),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => return None,
            hashbrown::hash_table::Entry::Vacant(v) => v,
        };
        let big = is_big(&e.value);
        let off = arena.len();
        let mut flags = if ttl.is_some() { TTL } else { 0 };
        let body_len;
        let cost;
        arena.push(0);
        arena.extend_from_slice(&(db as u32).to_le_bytes());
        arena.extend_from_slice(&(key.len() as u64).to_le_bytes());
        arena.extend_from_slice(&[0; 8]);
        arena.extend_from_slice(key);
        if big {
            flags |= COPIED;
            body_len = copies.len();
            copies.push(Some(Copied {
                value: Box::new(e.value.clone()),
                lru: e.lru,
                ttl,
            }));
            cost = COPY_COST;
        } else {
            let start = arena.len();
            rdb::write_record(arena, key, &e.value, e.lru, ttl, enc);
            body_len = arena.len() - start;
            cost = body_len;
        }
        arena[off] = flags;
        arena[off + 13..off + 21].copy_from_slice(&(body_len as u64).to_le_bytes());
        slot.insert(off);
        Some(cost)
    }

    /// Marks the entry at `off` dead (it has left the index).
    fn kill(arena: &mut [u8], copies: &mut [Option<Copied>], dead: &mut usize, off: usize) {
        let h = head(arena, off);
        arena[off] |= DEAD;
        if h.flags & COPIED != 0 {
            copies[h.body_len] = None;
        }
        *dead += h.size();
    }

    /// Drops the record of `key`; whether it had one.
    pub(crate) fn remove(&mut self, db: usize, key: &[u8]) -> bool {
        let RecordSet {
            arena,
            index,
            hasher,
            copies,
            dead,
        } = self;
        let found = index.find_entry(hash_of(hasher, db, key), |&off| {
            let h = head(arena, off);
            h.db == db && h.key(arena, off) == key
        });
        match found {
            Ok(entry) => {
                let (off, _) = entry.remove();
                Self::kill(arena, copies, dead, off);
                true
            }
            Err(_) => false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.arena = Vec::new();
        self.index.clear();
        self.copies = Vec::new();
        self.dead = 0;
    }

    /// Drops every record of database `db` (FLUSHDB).
    pub(crate) fn clear_db(&mut self, db: usize) {
        let RecordSet {
            arena,
            index,
            copies,
            dead,
            ..
        } = self;
        index.retain(|&mut off| {
            if head(arena, off).db != db {
                return true;
            }
            Self::kill(arena, copies, dead, off);
            false
        });
    }

    /// Databases `a` and `b` trade records (SWAPDB).
    pub(crate) fn swap_dbs(&mut self, a: usize, b: usize) {
        let offs: Vec<usize> = self.index.drain().collect();
        for &off in &offs {
            let db = head(&self.arena, off).db;
            let to = if db == a {
                b
            } else if db == b {
                a
            } else {
                db
            };
            self.arena[off + 1..off + 5].copy_from_slice(&(to as u32).to_le_bytes());
        }
        self.reindex(offs);
    }

    fn reindex(&mut self, offs: Vec<usize>) {
        let RecordSet {
            arena,
            index,
            hasher,
            ..
        } = self;
        for off in offs {
            index.insert_unique(hash_at(hasher, arena, off), off, |&o| {
                hash_at(hasher, arena, o)
            });
        }
    }

    /// Moves the live entries down over the dead ones.
    fn compact(&mut self) {
        let mut offs = Vec::with_capacity(self.index.len());
        let (mut read, mut write) = (0, 0);
        while read < self.arena.len() {
            let h = head(&self.arena, read);
            let size = h.size();
            if h.flags & DEAD == 0 {
                self.arena.copy_within(read..read + size, write);
                offs.push(write);
                write += size;
            }
            read += size;
        }
        self.arena.truncate(write);
        self.dead = 0;
        self.index.clear();
        self.reindex(offs);
    }

    /// Per database holding records: (keys, keys with an expiry), in database order.
    pub(crate) fn counts(&self) -> BTreeMap<usize, (usize, usize)> {
        let mut by_db: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        self.each(|h, _| {
            let c = by_db.entry(h.db).or_default();
            c.0 += 1;
            c.1 += usize::from(h.flags & TTL != 0);
        });
        by_db
    }

    fn each(&self, mut f: impl FnMut(&Head, usize)) {
        let mut off = 0;
        while off < self.arena.len() {
            let h = head(&self.arena, off);
            if h.flags & DEAD == 0 {
                f(&h, off);
            }
            off += h.size();
        }
    }

    /// Every record of database `db`, in the order they were taken.
    pub(crate) fn for_each_in(&self, db: usize, mut f: impl FnMut(RecordRef<'_>)) {
        let arena = &self.arena;
        self.each(|h, off| {
            if h.db != db {
                return;
            }
            if h.flags & COPIED != 0 {
                let copy = self.copies[h.body_len].as_ref().expect("a live copy");
                f(RecordRef::Copied(h.key(arena, off), copy));
            } else {
                let start = off + HEAD + h.key_len;
                f(RecordRef::Written(&arena[start..start + h.body_len]));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn entry(v: &[u8]) -> Entry {
        Entry {
            value: Value::Str(v.into()),
            lru: 0,
        }
    }

    /// What the set holds, read back through its public calls: (database, record), sorted.
    fn contents(s: &RecordSet) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        for &db in s.counts().keys() {
            s.for_each_in(db, |r| {
                let RecordRef::Written(bytes) = r else {
                    panic!("small values are written")
                };
                out.push((db, bytes.to_vec()));
            });
        }
        out.sort();
        out
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(usize, u8, u8),
        Remove(usize, u8),
        ClearDb(usize),
        Swap(usize, usize),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..3usize, 0..40u8, any::<u8>()).prop_map(|(d, k, v)| Op::Insert(d, k, v)),
            4 => (0..3usize, 0..40u8).prop_map(|(d, k)| Op::Remove(d, k)),
            1 => (0..3usize).prop_map(Op::ClearDb),
            1 => (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Swap(a, b)),
            1 => Just(Op::Clear),
        ]
    }

    #[test]
    fn a_big_list_is_copied_and_an_expiry_is_counted() {
        let enc = Encodings::default();
        let mut s = RecordSet::with_capacity(4);
        let mut l = crate::store::list::List::new();
        for i in 0..COPY_ELEMENTS {
            l.push_back(i.to_string().as_bytes());
        }
        let cost = s.insert_new(
            1,
            b"big",
            &Entry {
                value: Value::List(Box::new(l)),
                lru: 0,
            },
            Some(5),
            &enc,
        );
        assert_eq!(cost, Some(COPY_COST));
        s.insert_new(1, b"small", &entry(b"v"), None, &enc);
        assert_eq!(
            s.counts().into_iter().collect::<Vec<_>>(),
            vec![(1, (2, 1))]
        );
        let mut seen = Vec::new();
        s.for_each_in(1, |r| match r {
            RecordRef::Copied(k, c) => seen.push((k.to_vec(), c.ttl)),
            RecordRef::Written(_) => seen.push((b"written".to_vec(), None)),
        });
        assert_eq!(
            seen,
            vec![(b"big".to_vec(), Some(5)), (b"written".to_vec(), None)]
        );
        assert!(s.remove(1, b"big"));
        assert!(!s.contains(1, b"big") && s.contains(1, b"small"));
        assert_eq!(s.len(), 1);
    }

    proptest! {
        /// The set agrees with a map of (db, key) -> record after any sequence of calls,
        /// compaction included (values are long enough for dead bytes to pass its threshold).
        #[test]
        fn behaves_as_a_map(ops in proptest::collection::vec(op(), 1..400)) {
            let enc = Encodings::default();
            let mut s = RecordSet::default();
            let mut model: HashMap<(usize, Vec<u8>), Vec<u8>> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(d, k, v) => {
                        let key = format!("key:{k}").into_bytes();
                        if model.contains_key(&(d, key.clone())) {
                            continue;
                        }
                        let value = vec![v; 3000 + usize::from(k)];
                        prop_assert!(s.insert_new(d, &key, &entry(&value), None, &enc).is_some());
                        prop_assert!(s.insert_new(d, &key, &entry(b"x"), None, &enc).is_none());
                        let mut rec = Vec::new();
                        rdb::write_record(&mut rec, &key, &Value::Str(value.into()), 0, None, &enc);
                        model.insert((d, key), rec);
                    }
                    Op::Remove(d, k) => {
                        let key = format!("key:{k}").into_bytes();
                        prop_assert_eq!(s.remove(d, &key), model.remove(&(d, key)).is_some());
                    }
                    Op::ClearDb(d) => {
                        s.clear_db(d);
                        model.retain(|(db, _), _| *db != d);
                    }
                    Op::Swap(a, b) => {
                        s.swap_dbs(a, b);
                        model = model
                            .into_iter()
                            .map(|((d, k), v)| {
                                let d = if d == a { b } else if d == b { a } else { d };
                                ((d, k), v)
                            })
                            .collect();
                    }
                    Op::Clear => {
                        s.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(s.len(), model.len());
            }
            for (d, k) in model.keys() {
                prop_assert!(s.contains(*d, k));
            }
            let mut want: Vec<_> = model.iter().map(|((d, _), r)| (*d, r.clone())).collect();
            want.sort();
            prop_assert_eq!(contents(&s), want);
        }
    }
}
