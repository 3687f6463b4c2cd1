//! The duplicate-suppression cache: which message ids a node has seen lately.

use std::collections::{BTreeSet, VecDeque};

use sim_core::{Duration, Instant};

/// Message ids a node has seen, each remembered for a fixed time to live.
///
/// An id inserted at `t` is forgotten by the first [`SeenSet::expire`] at or
/// after `t + ttl`. Inserting an id already present changes nothing: the
/// entry keeps its first deadline, so a message that keeps arriving is still
/// forgotten on time.
///
/// # Implementation notes
///
/// Every entry lives for the same `ttl` and `now` never goes backwards, so
/// deadlines grow in insertion order: a `VecDeque` of `(deadline, id)` is a
/// queue already sorted by deadline, and expiry pops from its front. The
/// `BTreeSet` answers membership. A driver that breaks the time contract only
/// delays some expiries; nothing panics.
#[derive(Clone, Debug)]
pub struct SeenSet {
    ttl: Duration,
    ids: BTreeSet<u64>,
    expiries: VecDeque<(Instant, u64)>,
}

impl SeenSet {
    /// An empty set whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        SeenSet {
            ttl,
            ids: BTreeSet::new(),
            expiries: VecDeque::new(),
        }
    }

    /// How long an entry lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is remembered.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.contains(&id)
    }

    /// Remembers `id` from `now` until `now + ttl`. Returns `true` if it was
    /// new, `false` if it was already remembered (its deadline is unchanged).
    pub fn insert(&mut self, now: Instant, id: u64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.expiries.push_back((now.saturating_add(self.ttl), id));
        true
    }

    /// Forgets every id whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.expiries.front() {
            if deadline > now {
                break;
            }
            self.expiries.pop_front();
            self.ids.remove(&id);
        }
    }

    /// The earliest deadline, if any id is remembered.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiries.front().map(|&(deadline, _)| deadline)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn at(secs: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(secs)
    }

    #[test]
    fn remembers_an_id_until_its_deadline() {
        let mut seen = SeenSet::new(Duration::from_secs(10));
        assert!(seen.insert(at(1), 7));
        assert!(!seen.insert(at(2), 7), "a second insert is a duplicate");
        assert!(seen.contains(7));
        assert_eq!(seen.next_expiry(), Some(at(11)), "the first deadline stays");

        seen.expire(Instant::from_nanos(at(11).as_nanos() - 1));
        assert!(seen.contains(7));
        seen.expire(at(11));
        assert!(!seen.contains(7));
        assert!(seen.is_empty());
        assert_eq!(seen.next_expiry(), None);
    }

    #[test]
    fn expires_in_insertion_order() {
        let mut seen = SeenSet::new(Duration::from_secs(10));
        for (t, id) in [(0, 30), (1, 10), (2, 20)] {
            seen.insert(at(t), id);
        }
        seen.expire(at(11));
        assert_eq!(seen.len(), 1);
        assert!(seen.contains(20));
        assert_eq!(seen.next_expiry(), Some(at(12)));
    }

    proptest! {
        /// The set agrees with a map from id to deadline, whatever the
        /// sequence of inserts and expiries at non-decreasing times.
        #[test]
        fn agrees_with_a_map_of_deadlines(
            ops in proptest::collection::vec((0u64..5, any::<bool>(), 0u64..8), 0..60),
        ) {
            let ttl = Duration::from_secs(3);
            let mut seen = SeenSet::new(ttl);
            let mut model: BTreeMap<u64, Instant> = BTreeMap::new();
            let mut now = Instant::ZERO;
            for (step, insert, id) in ops {
                now += Duration::from_secs(step);
                if insert {
                    let new = !model.contains_key(&id);
                    if new {
                        model.insert(id, now + ttl);
                    }
                    prop_assert_eq!(seen.insert(now, id), new);
                } else {
                    model.retain(|_, deadline| *deadline > now);
                    seen.expire(now);
                }
                prop_assert_eq!(seen.len(), model.len());
                prop_assert!(model.keys().all(|&id| seen.contains(id)));
                prop_assert_eq!(seen.next_expiry(), model.values().min().copied());
            }
        }
    }
}
