//! Set values.
//!
//! Two layouts, as Redis 7.0 encodes sets (so OBJECT ENCODING and the order of SMEMBERS for
//! integer sets match redis-server):
//! - `Intset`: sorted `i64`s, while every member is the canonical decimal form of an integer
//!   and there are at most `set-max-intset-entries` of them;
//! - `Table`: a hash table of byte strings, from the first member that breaks either rule
//!   (never converted back). It keeps its members in a vector with a member → slot index
//!   (removal swaps the last member into the hole), so SPOP and SRANDMEMBER pick in O(1).
//!
//! Pure data structure: no protocol, no locks. Callers copy request bytes before inserting.

use bytes::Bytes;

use super::ScanMap;

/// A member as an intset stores it: only the canonical form of an `i64` qualifies.
pub fn as_int(m: &[u8]) -> Option<i64> {
    crate::protocol::request::parse_i64(m)
}

fn int_bytes(i: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(i).as_bytes())
}

#[derive(Clone, Debug)]
pub enum Set {
    Intset(Vec<i64>),
    Table(Table),
}

/// Members in a vector plus their slots, for O(1) membership and O(1) random picks.
#[derive(Clone, Debug, Default)]
pub struct Table {
    items: Vec<Bytes>,
    slots: ScanMap<Bytes, usize>,
}

impl Table {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn contains(&self, m: &[u8]) -> bool {
        self.slots.contains_key(m)
    }
    fn insert(&mut self, m: Bytes) -> bool {
        if self.slots.contains_key(&m) {
            return false;
        }
        self.slots.insert(m.clone(), self.items.len());
        self.items.push(m);
        true
    }
    fn remove(&mut self, m: &[u8]) -> bool {
        let Some(i) = self.slots.remove(m) else {
            return false;
        };
        self.items.swap_remove(i);
        if let Some(moved) = self.items.get(i) {
            *self.slots.get_mut(moved).expect("indexed") = i;
        }
        true
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(Vec::new())
    }
}

impl Set {
    pub fn new() -> Self {
        Set::default()
    }

    /// An empty set in the layout Redis picks for a first member `m`.
    pub fn for_member(m: &[u8]) -> Self {
        if as_int(m).is_some() {
            Set::Intset(Vec::new())
        } else {
            Set::Table(Table::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Intset(v) => as_int(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            Set::Table(t) => t.contains(m),
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Intset(v) = self {
            let mut t = Table::default();
            for &i in v.iter() {
                t.insert(int_bytes(i));
            }
            *self = Set::Table(t);
        }
    }

    /// Add `m`; true when it is new. `max_intset` is `set-max-intset-entries`.
    pub fn insert(&mut self, m: Bytes, max_intset: usize) -> bool {
        if let Set::Intset(v) = self {
            match as_int(&m) {
                Some(i) => {
                    return match v.binary_search(&i) {
                        Ok(_) => false,
                        Err(pos) => {
                            v.insert(pos, i);
                            if v.len() > max_intset {
                                self.convert_to_table();
                            }
                            true
                        }
                    };
                }
                None => self.convert_to_table(),
            }
        }
        match self {
            Set::Table(t) => t.insert(m),
            Set::Intset(_) => unreachable!("converted above"),
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Intset(v) => match as_int(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            Set::Table(t) => t.remove(m),
        }
    }

    /// Members in iteration order (ascending for intsets).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Bytes> + '_> {
        match self {
            Set::Intset(v) => Box::new(v.iter().map(|&i| int_bytes(i))),
            Set::Table(t) => Box::new(t.items.iter().cloned()),
        }
    }

    /// The `i`-th member in iteration order (`i < len`).
    pub fn nth(&self, i: usize) -> Option<Bytes> {
        match self {
            Set::Intset(v) => v.get(i).map(|&i| int_bytes(i)),
            Set::Table(t) => t.items.get(i).cloned(),
        }
    }

    /// A uniformly random member.
    pub fn random(&self) -> Option<Bytes> {
        if self.is_empty() {
            return None;
        }
        self.nth(rand::random_range(0..self.len()))
    }

    /// Remove and return a random member.
    pub fn pop_random(&mut self) -> Option<Bytes> {
        let m = self.random()?;
        self.remove(&m);
        Some(m)
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// One step of SSCAN: the members of the bucket `cursor` names ([`ScanMap::scan`]), or
    /// every member of an intset at once (as Redis); returns the next cursor.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(Bytes)) -> u64 {
        match self {
            Set::Intset(v) => {
                v.iter().for_each(|&i| f(int_bytes(i)));
                0
            }
            Set::Table(t) => t.slots.scan(cursor, |m, _| f(m.clone())),
        }
    }

    pub fn is_intset(&self) -> bool {
        matches!(self, Set::Intset(_))
    }

    pub fn mem_usage(&self) -> usize {
        match self {
            Set::Intset(v) => v.capacity() * 8,
            Set::Table(t) => {
                t.items.capacity() * std::mem::size_of::<Bytes>()
                    + t.slots.heap_size()
                    + t.items.iter().map(|b| b.len()).sum::<usize>()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet as StdSet;

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-20i64..20).prop_map(|i| i.to_string().into_bytes()),
            "[a-c0]{1,2}".prop_map(|s| s.into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        #[test]
        fn behaves_like_a_hashset(ops in proptest::collection::vec((any::<bool>(), member()), 0..200)) {
            let mut s = Set::new();
            let mut model: StdSet<Vec<u8>> = StdSet::new();
            for (add, m) in ops {
                if add {
                    prop_assert_eq!(s.insert(Bytes::from(m.clone()), 16), model.insert(m));
                } else {
                    prop_assert_eq!(s.remove(&m), model.remove(&m));
                }
                prop_assert_eq!(s.len(), model.len());
                let got: StdSet<Vec<u8>> = s.iter().map(|b| b.to_vec()).collect();
                prop_assert_eq!(&got, &model);
                for m in &model {
                    prop_assert!(s.contains(m));
                }
                if let Set::Intset(v) = &s {
                    prop_assert!(v.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(v.len() <= 16);
                }
            }
        }
    }

    #[test]
    fn non_canonical_integers_are_strings() {
        let mut s = Set::new();
        s.insert(Bytes::from_static(b"1"), 512);
        assert!(s.is_intset());
        s.insert(Bytes::from_static(b"01"), 512);
        assert!(!s.is_intset());
        assert!(s.contains(b"1") && s.contains(b"01"));
    }

    /// AOF rewrite of hashes, sets and sorted sets: batches of 64 elements that rebuild the
    /// same content when replayed.
    #[test]
    fn rewrite_rebuilds_values_in_batches() {
        use crate::store::Value;
        use crate::store::hash::{Hash, Limits as HLimits};
        use crate::store::zset::{Limits as ZLimits, ZSet};
        let key = Bytes::from_static(b"k");
        let mut h = Hash::new();
        let mut st = Set::new();
        let mut z = ZSet::new(1, ZLimits::default());
        for i in 0..150 {
            h.insert(
                Bytes::from(format!("f{i}")),
                Bytes::from(format!("v{i}")),
                HLimits::default(),
            );
            st.insert(Bytes::from(format!("{i}")), 512);
            z.insert(
                Bytes::from(format!("m{i}")),
                i as f64 / 3.0,
                ZLimits::default(),
            );
        }
        z.insert(
            Bytes::from_static(b"inf"),
            f64::INFINITY,
            ZLimits::default(),
        );

        let mut out = Vec::new();
        Value::Hash(Box::new(h.clone())).rewrite(&key, &mut out);
        assert_eq!(out.len(), 3);
        assert!(
            out.iter()
                .all(|c| &c[0][..] == b"HSET" && c.len() <= 2 + 128)
        );
        let mut h2 = Hash::new();
        for c in &out {
            for fv in c[2..].chunks(2) {
                h2.insert(fv[0].clone(), fv[1].clone(), HLimits::default());
            }
        }
        assert_eq!(h2.len(), h.len());
        assert!(h.iter().all(|(f, v)| h2.get(f) == Some(v)));

        let mut out = Vec::new();
        Value::Set(Box::new(st.clone())).rewrite(&key, &mut out);
        assert_eq!(out.len(), 3);
        let mut s2 = Set::new();
        for c in &out {
            assert_eq!(&c[0][..], b"SADD");
            for m in &c[2..] {
                s2.insert(m.clone(), 512);
            }
        }
        assert_eq!(s2.len(), st.len());
        assert!(st.iter().all(|m| s2.contains(&m)));

        let mut out = Vec::new();
        Value::ZSet(Box::new(z.clone())).rewrite(&key, &mut out);
        assert_eq!(out.len(), 3);
        let mut z2 = ZSet::new(1, ZLimits::default());
        for c in &out {
            assert_eq!(&c[0][..], b"ZADD");
            for sm in c[2..].chunks(2) {
                let score = crate::num::string2d(&sm[0]).expect("score");
                z2.insert(sm[1].clone(), score, ZLimits::default());
            }
        }
        let a: Vec<(f64, Bytes)> = z.iter().map(|e| (e.score, e.member.clone())).collect();
        let b: Vec<(f64, Bytes)> = z2.iter().map(|e| (e.score, e.member.clone())).collect();
        assert_eq!(a, b);
    }
}
