//! Sorted set values: members ordered by (score, member bytes), as in Redis.
//!
//! A member → score table for O(1) lookups plus a `BTreeSet` of (score, member) for ordered
//! access. Scores are never NaN (commands reject NaN before they reach this module), and
//! `-0` and `0` compare equal, as with C's `<` in Redis's skiplist.
//!
//! The encoding reported to OBJECT ENCODING follows Redis 7.0: `listpack` while the set has at
//! most `zset-max-listpack-entries` members of at most `zset-max-listpack-value` bytes, then
//! `skiplist` for good (Redis's ZRANGESTORE/ZUNIONSTORE/ZINTERSTORE re-check their destination,
//! see [`ZSet::shrink_encoding`]).
//!
//! DEVIATION(redis): rank operations (ZRANK, ZRANGE by index, ZREMRANGEBYRANK) walk the tree
//! from the nearer end, O(min(rank, len - rank)) instead of the skiplist's O(log n); score
//! lookups are O(log n + m), and so are lex lookups when all scores are equal (otherwise they
//! walk from the start, as Redis's lex search assumes equal scores anyway).
//!
//! Pure data structure: no protocol, no locks. Callers copy request bytes before inserting.

use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use super::ScanMap;

/// `zset-max-listpack-entries`, `zset-max-listpack-value`.
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
pub struct Entry {
    pub score: f64,
    pub member: Bytes,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .partial_cmp(&o.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| self.member.cmp(&o.member))
    }
}

fn probe(score: f64) -> Entry {
    Entry {
        score,
        member: Bytes::new(),
    }
}

/// A score interval as ZRANGEBYSCORE takes it (`(` marks an exclusive end).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub minex: bool,
    pub max: f64,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
    /// True when no score can be inside (Redis checks this before looking at the set).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic interval (`-`, `+`, `[member`, `(member`).
#[derive(Clone, Debug)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m >= &b[..],
            LexBound::Excl(b) => m > &b[..],
        }
    }
    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= &b[..],
            LexBound::Excl(b) => m < &b[..],
        }
    }
    /// Redis's `zslIsInLexRange` pre-check: an interval that cannot contain anything.
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a), Excl(b)) | (Excl(a), Incl(b)) | (Excl(a), Excl(b)) => a >= b,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ZSet {
    dict: ScanMap<Bytes, f64>,
    tree: BTreeSet<Entry>,
    skiplist: bool,
}

impl ZSet {
    /// An empty set in the encoding Redis's `zsetTypeCreate` picks for its first member.
    pub fn new(first_member_len: usize, limits: Limits) -> Self {
        ZSet {
            skiplist: limits.entries == 0 || first_member_len > limits.value,
            ..ZSet::default()
        }
    }

    /// One step of ZSCAN: the members of the bucket `cursor` names ([`ScanMap::scan`]), or
    /// every member of a listpack at once, in rank order (as Redis); returns the next cursor.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Bytes, f64)) -> u64 {
        if !self.skiplist {
            self.tree.iter().for_each(|e| f(&e.member, e.score));
            return 0;
        }
        self.dict.scan(cursor, |m, &s| f(m, s))
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.dict.get(m).copied()
    }

    /// Set `m`'s score; returns the previous score. `m` must already be an owned copy.
    pub fn insert(&mut self, m: Bytes, score: f64, limits: Limits) -> Option<f64> {
        // Redis 7.0 stores small sets' scores as listpack integers, which turns -0 into 0.
        let score = if score == 0.0 { 0.0 } else { score };
        if !self.skiplist && m.len() > limits.value {
            self.skiplist = true;
        }
        let old = match self.dict.get_mut(&m) {
            Some(s) => {
                let old = *s;
                *s = score;
                self.tree.remove(&Entry {
                    score: old,
                    member: m.clone(),
                });
                Some(old)
            }
            None => {
                self.dict.insert(m.clone(), score);
                None
            }
        };
        self.tree.insert(Entry { score, member: m });
        if !self.skiplist && self.dict.len() > limits.entries {
            self.skiplist = true;
        }
        old
    }

    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let (k, score) = self.dict.remove_entry(m)?;
        self.tree.remove(&Entry { score, member: k });
        Some(score)
    }

    /// 0-based rank of `m` (from the highest score when `rev`). Walks from both ends at once,
    /// so the cost is O(min(rank, len - rank)).
    pub fn rank(&self, m: &[u8], rev: bool) -> Option<usize> {
        let score = self.score(m)?;
        let e = Entry {
            score,
            member: Bytes::copy_from_slice(m),
        };
        let len = self.len();
        let (mut fwd, mut back) = (self.tree.iter(), self.tree.iter().rev());
        let mut below = None;
        for i in 0..len {
            if fwd.next() == Some(&e) {
                below = Some(i);
                break;
            }
            if back.next() == Some(&e) {
                below = Some(len - 1 - i);
                break;
            }
        }
        let below = below?;
        Some(if rev { len - 1 - below } else { below })
    }

    /// Entries from rank `start` to `end` inclusive (both already clamped to `0..len`); walks
    /// from the nearer end.
    pub fn by_rank(&self, start: usize, end: usize, rev: bool) -> Vec<&Entry> {
        let len = self.len();
        if start > end || start >= len {
            return vec![];
        }
        let n = end - start + 1;
        // Ranks counted from the front of the tree.
        let (lo, hi) = if rev {
            (len - 1 - end, len - 1 - start)
        } else {
            (start, end)
        };
        let mut out: Vec<&Entry> = if lo <= len - 1 - hi {
            self.tree.iter().skip(lo).take(n).collect()
        } else {
            let mut v: Vec<&Entry> = self.tree.iter().rev().skip(len - 1 - hi).take(n).collect();
            v.reverse();
            v
        };
        if rev {
            out.reverse();
        }
        out
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.tree.iter()
    }

    /// Entries whose score is in `r`, ascending (descending when `rev`).
    pub fn by_score<'a>(
        &'a self,
        r: ScoreRange,
        rev: bool,
    ) -> Box<dyn Iterator<Item = &'a Entry> + 'a> {
        if r.is_empty() {
            return Box::new(std::iter::empty());
        }
        if rev {
            let upper = if r.max == f64::INFINITY && !r.maxex {
                Bound::Unbounded
            } else if r.maxex {
                Bound::Excluded(probe(r.max))
            } else {
                Bound::Excluded(probe(r.max.next_up()))
            };
            Box::new(
                self.tree
                    .range((Bound::Unbounded, upper))
                    .rev()
                    .skip_while(move |e| !r.lte_max(e.score))
                    .take_while(move |e| r.gte_min(e.score)),
            )
        } else {
            let lower = if r.minex {
                probe(r.min.next_up())
            } else {
                probe(r.min)
            };
            Box::new(
                self.tree
                    .range((Bound::Included(lower), Bound::Unbounded))
                    .skip_while(move |e| !r.gte_min(e.score))
                    .take_while(move |e| r.lte_max(e.score)),
            )
        }
    }

    /// Entries whose member is in `r`, in set order (reversed when `rev`), after skipping
    /// `offset` of them. Like Redis, this assumes all scores are equal; with mixed scores it
    /// follows Redis's listpack walk: nothing unless the last member is >= min and the first
    /// <= max; otherwise start at the first member (in walking order) past the near end, skip
    /// `offset` entries without looking at them, then take entries while they are within the
    /// far end.
    pub fn by_lex<'a>(
        &'a self,
        r: &'a LexRange,
        rev: bool,
        offset: usize,
    ) -> Box<dyn Iterator<Item = &'a Entry> + 'a> {
        if r.is_empty() {
            return Box::new(std::iter::empty());
        }
        match (self.tree.first(), self.tree.last()) {
            (Some(first), Some(last)) if r.gte_min(&last.member) && r.lte_max(&first.member) => {}
            _ => return Box::new(std::iter::empty()),
        }
        // The usual case, every score equal: the interval maps onto a tree range directly.
        if let (Some(first), Some(last)) = (self.tree.first(), self.tree.last())
            && first.score == last.score
        {
            let score = first.score;
            let at = |b: &Bytes| Entry {
                score,
                member: b.clone(),
            };
            let lo = match &r.min {
                LexBound::NegInf => Bound::Unbounded,
                LexBound::Incl(b) => Bound::Included(at(b)),
                LexBound::Excl(b) => Bound::Excluded(at(b)),
                LexBound::PosInf => return Box::new(std::iter::empty()),
            };
            let hi = match &r.max {
                LexBound::PosInf => Bound::Unbounded,
                LexBound::Incl(b) => Bound::Included(at(b)),
                LexBound::Excl(b) => Bound::Excluded(at(b)),
                LexBound::NegInf => return Box::new(std::iter::empty()),
            };
            let range = self.tree.range((lo, hi));
            return if rev {
                Box::new(range.rev().skip(offset))
            } else {
                Box::new(range.skip(offset))
            };
        }
        if rev {
            let mut it = self
                .tree
                .iter()
                .rev()
                .skip_while(move |e| !r.lte_max(&e.member));
            match it.next() {
                Some(e) if r.gte_min(&e.member) => Box::new(
                    std::iter::once(e)
                        .chain(it)
                        .skip(offset)
                        .take_while(move |e| r.gte_min(&e.member)),
                ),
                _ => Box::new(std::iter::empty()),
            }
        } else {
            let mut it = self.tree.iter().skip_while(move |e| !r.gte_min(&e.member));
            match it.next() {
                Some(e) if r.lte_max(&e.member) => Box::new(
                    std::iter::once(e)
                        .chain(it)
                        .skip(offset)
                        .take_while(move |e| r.lte_max(&e.member)),
                ),
                _ => Box::new(std::iter::empty()),
            }
        }
    }

    /// Remove and return the lowest (or highest, `max`) entry.
    pub fn pop(&mut self, max: bool) -> Option<Entry> {
        let e = if max {
            self.tree.pop_last()?
        } else {
            self.tree.pop_first()?
        };
        self.dict.remove(&e.member);
        Some(e)
    }

    /// Re-pick the compact encoding when the content allows it (ZRANGESTORE, ZUNIONSTORE and
    /// ZINTERSTORE results, as Redis's `zsetConvertToListpackIfNeeded`).
    pub fn shrink_encoding(&mut self, limits: Limits) {
        self.skiplist =
            !(self.len() <= limits.entries && self.dict.keys().all(|m| m.len() <= limits.value));
    }

    pub fn encoding(&self) -> &'static str {
        if self.skiplist {
            "skiplist"
        } else {
            "listpack"
        }
    }

    pub fn mem_usage(&self) -> usize {
        let members: usize = self.dict.keys().map(|m| m.len()).sum();
        self.dict.heap_size() + self.tree.len() * (std::mem::size_of::<Entry>() + 8) + members
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i8),
        Rem(u8),
        Pop(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..30, -5i8..5).prop_map(|(m, s)| Op::Add(m, s)),
            1 => (0u8..30).prop_map(Op::Rem),
            1 => any::<bool>().prop_map(Op::Pop),
        ]
    }

    /// Model: member → score plus a BTreeMap ordered by (score, member).
    fn model_order(m: &HashMap<Vec<u8>, i64>) -> Vec<(i64, Vec<u8>)> {
        let b: BTreeMap<(i64, Vec<u8>), ()> =
            m.iter().map(|(k, v)| ((*v, k.clone()), ())).collect();
        b.into_keys().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        #[test]
        fn behaves_like_a_btreemap(ops in proptest::collection::vec(op(), 0..150),
                                   lo in -6i64..6, span in 0i64..8, minex: bool, maxex: bool) {
            let limits = Limits { entries: 8, value: 64 };
            let mut z = ZSet::new(1, limits);
            let mut model: HashMap<Vec<u8>, i64> = HashMap::new();
            for o in ops {
                match o {
                    Op::Add(m, s) => {
                        let key = format!("m{m}").into_bytes();
                        let old = z.insert(Bytes::from(key.clone()), s as f64, limits);
                        prop_assert_eq!(old, model.insert(key, s as i64).map(|v| v as f64));
                    }
                    Op::Rem(m) => {
                        let key = format!("m{m}").into_bytes();
                        prop_assert_eq!(z.remove(&key), model.remove(&key).map(|v| v as f64));
                    }
                    Op::Pop(max) => {
                        let order = model_order(&model);
                        let want = if max { order.last() } else { order.first() }.cloned();
                        let got = z.pop(max).map(|e| (e.score as i64, e.member.to_vec()));
                        if let Some((_, k)) = &want { model.remove(k); }
                        prop_assert_eq!(got, want);
                    }
                }
                let order = model_order(&model);
                let got: Vec<(i64, Vec<u8>)> =
                    z.iter().map(|e| (e.score as i64, e.member.to_vec())).collect();
                prop_assert_eq!(&got, &order);
                prop_assert_eq!(z.len(), model.len());
                for (i, (_, m)) in order.iter().enumerate() {
                    prop_assert_eq!(z.rank(m, false), Some(i));
                    prop_assert_eq!(z.rank(m, true), Some(order.len() - 1 - i));
                }
            }
            let order = model_order(&model);
            for (a, b) in [(0usize, 2usize), (1, 5), (3, 3), (0, 40), (5, 40)] {
                if order.is_empty() { break; }
                let b = b.min(order.len() - 1);
                let want: Vec<Vec<u8>> = order.iter().skip(a).take((b + 1).saturating_sub(a)).map(|(_, m)| m.clone()).collect();
                let got: Vec<Vec<u8>> = z.by_rank(a, b, false).iter().map(|e| e.member.to_vec()).collect();
                prop_assert_eq!(&got, &want);
                let rev_want: Vec<Vec<u8>> = order.iter().rev().skip(a).take((b + 1).saturating_sub(a)).map(|(_, m)| m.clone()).collect();
                let got: Vec<Vec<u8>> = z.by_rank(a, b, true).iter().map(|e| e.member.to_vec()).collect();
                prop_assert_eq!(&got, &rev_want);
            }
            let r = ScoreRange { min: lo as f64, minex, max: (lo + span) as f64, maxex };
            let order = model_order(&model);
            let want: Vec<(i64, Vec<u8>)> = order.iter()
                .filter(|(s, _)| r.gte_min(*s as f64) && r.lte_max(*s as f64)).cloned().collect();
            let fwd: Vec<(i64, Vec<u8>)> =
                z.by_score(r, false).map(|e| (e.score as i64, e.member.to_vec())).collect();
            prop_assert_eq!(&fwd, &want);
            let mut rev: Vec<(i64, Vec<u8>)> =
                z.by_score(r, true).map(|e| (e.score as i64, e.member.to_vec())).collect();
            rev.reverse();
            prop_assert_eq!(&rev, &want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// The tree-range fast path (equal scores) agrees with a filter over all members.
        #[test]
        fn lex_ranges_match_a_filter(members in proptest::collection::btree_set("[a-d]{0,3}", 0..20),
                                     lo in "[-+]|[\\[(][a-d]{0,3}", hi in "[-+]|[\\[(][a-d]{0,3}", rev: bool) {
            let l = Limits::default();
            let mut z = ZSet::new(1, l);
            for m in &members {
                z.insert(Bytes::from(m.clone()), 1.0, l);
            }
            let parse = |s: &str| match s.as_bytes()[0] {
                b'-' => LexBound::NegInf,
                b'+' => LexBound::PosInf,
                b'[' => LexBound::Incl(Bytes::copy_from_slice(&s.as_bytes()[1..])),
                _ => LexBound::Excl(Bytes::copy_from_slice(&s.as_bytes()[1..])),
            };
            let r = LexRange { min: parse(&lo), max: parse(&hi) };
            let mut want: Vec<String> = if r.is_empty() {
                vec![]
            } else {
                members.iter().filter(|m| r.gte_min(m.as_bytes()) && r.lte_max(m.as_bytes())).cloned().collect()
            };
            if rev {
                want.reverse();
            }
            let got: Vec<String> = z
                .by_lex(&r, rev, 0)
                .map(|e| String::from_utf8(e.member.to_vec()).unwrap())
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn lex_ranges_on_equal_scores() {
        let l = Limits::default();
        let mut z = ZSet::new(1, l);
        for m in ["a", "b", "c", "d"] {
            z.insert(Bytes::from(m), 0.0, l);
        }
        let r = LexRange {
            min: LexBound::Excl(Bytes::from("a")),
            max: LexBound::Incl(Bytes::from("c")),
        };
        let got: Vec<&[u8]> = z.by_lex(&r, false, 0).map(|e| &e.member[..]).collect();
        assert_eq!(got, vec![&b"b"[..], b"c"]);
        let got: Vec<&[u8]> = z.by_lex(&r, true, 0).map(|e| &e.member[..]).collect();
        assert_eq!(got, vec![&b"c"[..], b"b"]);
    }

    #[test]
    fn negative_zero_equals_zero() {
        let l = Limits::default();
        let mut z = ZSet::new(1, l);
        z.insert(Bytes::from("b"), -0.0, l);
        z.insert(Bytes::from("a"), 0.0, l);
        let got: Vec<&[u8]> = z.iter().map(|e| &e.member[..]).collect();
        assert_eq!(got, vec![&b"a"[..], b"b"]);
        assert_eq!(z.remove(b"b"), Some(-0.0));
        assert_eq!(z.len(), 1);
    }
}
