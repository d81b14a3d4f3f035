//! The index of PSUBSCRIBE patterns by literal prefix, so a PUBLISH costs O(patterns that could
//! match its channel) instead of Redis's O(all patterns).
//!
//! # API
//! [`PatternIndex::insert`] / [`PatternIndex::remove`] / [`PatternIndex::get`] by pattern,
//! [`PatternIndex::for_each_match`] for a published channel, [`PatternIndex::values`] for
//! introspection. The hub keeps one behind its pattern lock.
//!
//! # How
//! A pattern's *literal prefix* is the run of bytes before its first glob metacharacter
//! (`*`, `?`, `[`, `\`). Whatever the rest of the pattern, a channel it matches starts with that
//! prefix: the matcher compares those bytes one for one before anything else. So patterns are
//! grouped in buckets keyed by their prefix, and a publish probes only the buckets keyed by a
//! prefix of the channel: one hash lookup per *distinct prefix length* in use that fits in the
//! channel (the lengths are kept sorted, so a publish never looks at a length the index does not
//! hold). Patterns that start with a metacharacter have the empty prefix: that bucket is the
//! small always-checked list. Inside a probed bucket each pattern is confirmed with the glob
//! matcher, so the result is exactly the patterns a full scan would find.
//!
//! The order in which matching patterns are reported is unspecified (Redis walks a dict, whose
//! order is unspecified too): empty prefix first, then by increasing prefix length, then in the
//! bucket's order.

use ahash::{AHashMap, RandomState};
use bytes::Bytes;
use indexmap::IndexMap;

use crate::pubsub::glob::glob_match;

/// The bytes of `pattern` before its first glob metacharacter.
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    &pattern[..end]
}

/// Patterns (each with a value `T`) indexed by literal prefix.
pub struct PatternIndex<T> {
    /// prefix -> (pattern -> value). An `IndexMap` so that removal is O(1) and iteration is a
    /// walk over a dense vector.
    buckets: AHashMap<Bytes, IndexMap<Bytes, T, RandomState>>,
    /// (prefix length, buckets of that length), sorted by length.
    lengths: Vec<(usize, usize)>,
    len: usize,
}

impl<T> Default for PatternIndex<T> {
    fn default() -> Self {
        PatternIndex {
            buckets: AHashMap::default(),
            lengths: Vec::new(),
            len: 0,
        }
    }
}

impl<T> PatternIndex<T> {
    /// Distinct patterns held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, pattern: &[u8]) -> Option<&T> {
        self.buckets.get(literal_prefix(pattern))?.get(pattern)
    }

    /// Add `pattern` (or replace its value, returning the old one).
    pub fn insert(&mut self, pattern: Bytes, value: T) -> Option<T> {
        let prefix = literal_prefix(&pattern);
        let bucket = match self.buckets.get_mut(prefix) {
            Some(b) => b,
            None => {
                let n = prefix.len();
                match self.lengths.binary_search_by_key(&n, |&(l, _)| l) {
                    Ok(i) => self.lengths[i].1 += 1,
                    Err(i) => self.lengths.insert(i, (n, 1)),
                }
                let key = pattern.slice(..n);
                self.buckets.entry(key).or_default()
            }
        };
        let old = bucket.insert(pattern, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Remove `pattern`, returning its value.
    pub fn remove(&mut self, pattern: &[u8]) -> Option<T> {
        let prefix = literal_prefix(pattern);
        let bucket = self.buckets.get_mut(prefix)?;
        let value = bucket.swap_remove(pattern)?;
        self.len -= 1;
        if bucket.is_empty() {
            self.buckets.remove(prefix);
            let i = self
                .lengths
                .binary_search_by_key(&prefix.len(), |&(l, _)| l)
                .expect("a bucket's length is listed");
            self.lengths[i].1 -= 1;
            if self.lengths[i].1 == 0 {
                self.lengths.remove(i);
            }
        }
        Some(value)
    }

    /// Every (pattern, value), in no particular order.
    pub fn values(&self) -> impl Iterator<Item = (&Bytes, &T)> {
        self.buckets.values().flat_map(|b| b.iter())
    }

    /// Call `f` for every pattern that matches `channel` (exactly those a full scan with the
    /// glob matcher finds).
    pub fn for_each_match(&self, channel: &[u8], mut f: impl FnMut(&Bytes, &T)) {
        for &(n, _) in &self.lengths {
            if n > channel.len() {
                break;
            }
            let Some(bucket) = self.buckets.get(&channel[..n]) else {
                continue;
            };
            for (pattern, value) in bucket {
                if glob_match(pattern, channel, false) {
                    f(pattern, value);
                }
            }
        }
    }

    /// How many patterns [`Self::for_each_match`] would test against `channel` (bench and tests:
    /// the cost of a publish).
    pub fn candidates(&self, channel: &[u8]) -> usize {
        self.lengths
            .iter()
            .take_while(|&&(n, _)| n <= channel.len())
            .filter_map(|&(n, _)| self.buckets.get(&channel[..n]))
            .map(|b| b.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix(b"news.*"), b"news.");
        assert_eq!(literal_prefix(b"*x"), b"");
        assert_eq!(literal_prefix(b"a\\.b"), b"a");
        assert_eq!(literal_prefix(b"ab[c]"), b"ab");
        assert_eq!(literal_prefix(b"plain"), b"plain");
        assert_eq!(literal_prefix(b""), b"");
    }

    #[test]
    fn probes_only_patterns_that_can_match() {
        let mut ix = PatternIndex::default();
        for i in 0..1000 {
            ix.insert(Bytes::from(format!("user:{i}:*")), i);
        }
        ix.insert(Bytes::from_static(b"*"), -1);
        assert_eq!(ix.candidates(b"user:7:x"), 2);
        let mut got = vec![];
        ix.for_each_match(b"user:7:x", |_, v| got.push(*v));
        got.sort();
        assert_eq!(got, [-1, 7]);
        assert_eq!(ix.remove(b"user:7:*"), Some(7));
        assert_eq!(ix.remove(b"user:7:*"), None);
        assert_eq!(ix.len(), 1000);
        for i in 0..1000 {
            ix.remove(format!("user:{i}:*").as_bytes());
        }
        ix.remove(b"*");
        assert!(ix.is_empty());
        assert!(ix.buckets.is_empty());
        assert!(ix.lengths.is_empty());
    }

    fn naive(patterns: &BTreeSet<Vec<u8>>, channel: &[u8]) -> BTreeSet<Vec<u8>> {
        patterns
            .iter()
            .filter(|p| glob_match(p, channel, false))
            .cloned()
            .collect()
    }

    /// Bytes from a small alphabet heavy in metacharacters, so that escapes, classes, ranges
    /// and unterminated classes all occur.
    fn word(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"ab.*?[]^-\\".to_vec()), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The index reports exactly the patterns a full scan with the glob matcher finds, as
        /// patterns come and go.
        #[test]
        fn index_equals_a_full_scan(
            ops in prop::collection::vec((any::<bool>(), word(7)), 1..60),
            channels in prop::collection::vec(word(9), 1..30),
        ) {
            let mut ix = PatternIndex::default();
            let mut model = BTreeSet::new();
            for (add, p) in ops {
                if add {
                    ix.insert(Bytes::from(p.clone()), ());
                    model.insert(p);
                } else {
                    prop_assert_eq!(ix.remove(&p).is_some(), model.remove(&p));
                }
                prop_assert_eq!(ix.len(), model.len());
                for c in &channels {
                    let mut got = BTreeSet::new();
                    ix.for_each_match(c, |p, _| {
                        assert!(got.insert(p.to_vec()), "reported twice");
                    });
                    prop_assert_eq!(&got, &naive(&model, c));
                }
            }
        }
    }
}
