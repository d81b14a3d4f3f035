//! Hash values: field → value maps.
//!
//! Two layouts, chosen the way Redis 7.0 chooses its encodings, so OBJECT ENCODING and the
//! order of HGETALL/HKEYS/HVALS/HSCAN match redis-server for the same commands:
//! - `Listpack`: a vector of pairs in insertion order (updates keep their place, deletions
//!   close the gap), used while the hash has at most `hash-max-listpack-entries` fields and
//!   every field and value is at most `hash-max-listpack-value` bytes;
//! - `Table`: a hash table, from the first time a limit is exceeded (never converted back).
//!
//! Pure data structure: no protocol, no locks. Callers copy request bytes before inserting.

use bytes::Bytes;

use super::ScanMap;

/// The two conversion thresholds (`hash-max-listpack-entries`, `hash-max-listpack-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 128,
            value: 64,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Hash {
    Listpack(Vec<(Bytes, Bytes)>),
    Table(ScanMap<Bytes, Bytes>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Vec::new())
    }
}

impl Hash {
    pub fn new() -> Self {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(v) => v.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        match self {
            Hash::Listpack(v) => v.iter().find(|(f, _)| f == field).map(|(_, v)| v),
            Hash::Table(t) => t.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Convert to a table before inserting items of these lengths when they exceed the limits
    /// (Redis's `hashTypeTryConversion`, run on all the arguments before any insertion).
    pub fn prepare(&mut self, max_item_len: usize, limits: Limits) {
        if max_item_len > limits.value {
            self.convert_to_table();
        }
    }

    fn convert_to_table(&mut self) {
        if let Hash::Listpack(v) = self {
            let t: ScanMap<Bytes, Bytes> = std::mem::take(v).into_iter().collect();
            *self = Hash::Table(t);
        }
    }

    /// Set `field` to `value`; true when the field is new.
    pub fn insert(&mut self, field: Bytes, value: Bytes, limits: Limits) -> bool {
        if field.len() > limits.value || value.len() > limits.value {
            self.convert_to_table();
        }
        let new = match self {
            Hash::Listpack(v) => match v.iter_mut().find(|(f, _)| *f == field) {
                Some(slot) => {
                    slot.1 = value;
                    false
                }
                None => {
                    v.push((field, value));
                    true
                }
            },
            Hash::Table(t) => t.insert(field, value).is_none(),
        };
        if self.len() > limits.entries {
            self.convert_to_table();
        }
        new
    }

    /// Remove `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(v) => match v.iter().position(|(f, _)| f == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = (&Bytes, &Bytes)> + '_> {
        match self {
            Hash::Listpack(v) => Box::new(v.iter().map(|(f, v)| (f, v))),
            Hash::Table(t) => Box::new(t.iter()),
        }
    }

    /// The `i`-th pair in iteration order (`i < len`).
    pub fn nth(&self, i: usize) -> Option<(&Bytes, &Bytes)> {
        match self {
            Hash::Listpack(v) => v.get(i).map(|(f, v)| (f, v)),
            Hash::Table(t) => t.iter().nth(i),
        }
    }

    /// One step of HSCAN: the pairs of the bucket `cursor` names ([`ScanMap::scan`]), or every
    /// pair of a listpack at once (as Redis); returns the next cursor.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Bytes, &Bytes)) -> u64 {
        match self {
            Hash::Listpack(v) => {
                v.iter().for_each(|(k, v)| f(k, v));
                0
            }
            Hash::Table(t) => t.scan(cursor, f),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, Hash::Listpack(_))
    }

    pub fn mem_usage(&self) -> usize {
        let items: usize = self.iter().map(|(f, v)| f.len() + v.len()).sum();
        match self {
            Hash::Listpack(v) => v.capacity() * std::mem::size_of::<(Bytes, Bytes)>() + items,
            Hash::Table(t) => t.heap_size() + items + 8 * t.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8, usize),
        Del(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..40, any::<u8>(), 0usize..80).prop_map(|(f, v, l)| Op::Set(f, v, l)),
            (0u8..40).prop_map(Op::Del),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec(op(), 0..200)) {
            let limits = Limits { entries: 16, value: 64 };
            let mut h = Hash::new();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut order: Vec<Vec<u8>> = Vec::new();
            for o in ops {
                match o {
                    Op::Set(f, v, l) => {
                        let f = vec![f];
                        let v = vec![v; l];
                        let new = h.insert(Bytes::from(f.clone()), Bytes::from(v.clone()), limits);
                        prop_assert_eq!(new, !model.contains_key(&f));
                        if new { order.push(f.clone()); }
                        model.insert(f, v);
                    }
                    Op::Del(f) => {
                        let had = h.remove(&[f]);
                        prop_assert_eq!(had, model.remove(&vec![f]).is_some());
                        order.retain(|x| x != &vec![f]);
                    }
                }
                prop_assert_eq!(h.len(), model.len());
                for (f, v) in &model {
                    prop_assert_eq!(h.get(f).map(|b| b.to_vec()), Some(v.clone()));
                }
                if h.is_listpack() {
                    // Listpack order is insertion order, as in Redis.
                    let got: Vec<Vec<u8>> = h.iter().map(|(f, _)| f.to_vec()).collect();
                    prop_assert_eq!(&got, &order);
                    prop_assert!(model.len() <= limits.entries);
                    prop_assert!(model.values().all(|v| v.len() <= limits.value));
                }
            }
        }
    }
}
