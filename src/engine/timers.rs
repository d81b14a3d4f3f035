//! Wake-ups at a time: a key's blocked readers are checked again when something they wait for
//! becomes due (a pending entry's visibility timeout passing). One ordered set of
//! `(due, db, key)` with at most one element per key (its earliest); the server's timer task
//! sleeps until the first element, so an idle server does no work, and a new earliest element
//! wakes the task through [`Timers::notifier`].

use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Default)]
pub struct Timers {
    set: BTreeSet<(i64, usize, Bytes)>,
    by_key: HashMap<(usize, Bytes), i64, ahash::RandomState>,
    notify: Arc<tokio::sync::Notify>,
}

impl Timers {
    /// Ask for `key` of `db` to be signalled ready at unix ms `due` (kept only if earlier than
    /// what the key already has).
    pub fn add(&mut self, due: i64, db: usize, key: &Bytes) {
        if let Some(&at) = self.by_key.get(&(db, key.clone()))
            && at <= due
        {
            return;
        }
        let key = crate::store::own(key);
        if let Some(old) = self.by_key.insert((db, key.clone()), due) {
            self.set.remove(&(old, db, key.clone()));
        }
        let earliest = self.set.first().is_none_or(|f| due < f.0);
        self.set.insert((due, db, key));
        if earliest {
            self.notify.notify_one();
        }
    }

    /// The earliest due time, if any.
    pub fn next(&self) -> Option<i64> {
        self.set.first().map(|f| f.0)
    }

    /// Remove and return the keys due at `now`.
    pub fn take_due(&mut self, now: i64) -> Vec<(usize, Bytes)> {
        let mut out = Vec::new();
        while let Some((at, _, _)) = self.set.first() {
            if *at > now {
                break;
            }
            let (_, db, key) = self.set.pop_first().expect("non-empty");
            self.by_key.remove(&(db, key.clone()));
            out.push((db, key));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// An empty set that wakes the same task as `other`.
    pub fn sharing(other: &Timers) -> Timers {
        Timers {
            notify: other.notify.clone(),
            ..Timers::default()
        }
    }

    /// Wake the timer task (something else it watches got an earlier time).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Notified when a new earliest time is added.
    pub fn notifier(&self) -> Arc<tokio::sync::Notify> {
        self.notify.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_timer_per_key_the_earliest() {
        let mut t = Timers::default();
        let k = Bytes::from_static(b"k");
        t.add(100, 0, &k);
        t.add(200, 0, &k);
        assert_eq!(t.len(), 1);
        t.add(50, 0, &k);
        assert_eq!((t.len(), t.next()), (1, Some(50)));
        t.add(70, 1, &k);
        assert_eq!(t.take_due(60), vec![(0, k.clone())]);
        assert_eq!(t.next(), Some(70));
        assert!(t.take_due(69).is_empty());
        assert_eq!(t.take_due(70), vec![(1, k.clone())]);
        assert!(t.is_empty());
        // A key taken can be added again at any time.
        t.add(500, 0, &k);
        assert_eq!(t.next(), Some(500));
    }
}
