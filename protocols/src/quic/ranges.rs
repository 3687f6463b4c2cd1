//! A set of `u64`s kept as disjoint, non-adjacent half-open ranges.
//!
//! QUIC counts everything in ranges: the packet numbers a receiver has seen
//! (what its ACK frames report), the byte ranges of a stream that arrived,
//! were acknowledged or must be sent again, the stream indices that are
//! finished. [`RangeSet`] is that one structure, a `BTreeMap` from a range's
//! start to its end, so every operation is `O(log n)` in the number of gaps
//! and iteration is in ascending (or, reversed, descending) order.

use std::collections::BTreeMap;
use std::ops::Range;

/// Disjoint half-open ranges of `u64`, merged when they touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    /// start → end (exclusive); no two ranges overlap or touch.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Adds `range`, merging it with the ranges it overlaps or touches.
    pub(crate) fn insert(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        let (mut start, mut end) = (range.start, range.end);
        // A range starting at or before `start` that reaches it absorbs it.
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        // Every range starting within [start, end] is swallowed.
        while let Some((&s, &e)) = self.ranges.range(start..=end).next() {
            self.ranges.remove(&s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
    }

    /// Removes `range` from the set, splitting a range that straddles it.
    pub(crate) fn remove(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        if let Some((&s, &e)) = self.ranges.range(..range.start).next_back() {
            if e > range.start {
                self.ranges.insert(s, range.start);
                if e > range.end {
                    self.ranges.insert(range.end, e);
                    return;
                }
            }
        }
        while let Some((&s, &e)) = self.ranges.range(range.start..range.end).next() {
            self.ranges.remove(&s);
            if e > range.end {
                self.ranges.insert(range.end, e);
            }
        }
    }

    /// Whether `value` is in the set.
    pub(crate) fn contains(&self, value: u64) -> bool {
        self.ranges
            .range(..=value)
            .next_back()
            .is_some_and(|(_, &e)| value < e)
    }

    /// Whether the whole of `range` is in the set.
    pub(crate) fn covers(&self, range: Range<u64>) -> bool {
        range.is_empty()
            || self
                .ranges
                .range(..=range.start)
                .next_back()
                .is_some_and(|(_, &e)| range.end <= e)
    }

    /// The parts of `range` that are not in the set, ascending.
    pub(crate) fn gaps_within(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut at = range.start;
        let from = self
            .ranges
            .range(..=range.start)
            .next_back()
            .map_or(range.start, |(&s, _)| s);
        for (&s, &e) in self.ranges.range(from..range.end) {
            if s > at {
                gaps.push(at..s);
            }
            at = at.max(e);
            if at >= range.end {
                break;
            }
        }
        if at < range.end {
            gaps.push(at..range.end);
        }
        gaps
    }

    /// The lowest range, if any.
    pub(crate) fn first(&self) -> Option<Range<u64>> {
        self.ranges.iter().next().map(|(&s, &e)| s..e)
    }

    /// The ranges, highest first.
    pub(crate) fn iter_desc(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.ranges.iter().rev().map(|(&s, &e)| s..e)
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn ranges(set: &RangeSet) -> Vec<(u64, u64)> {
        let mut v: Vec<_> = set.iter_desc().map(|r| (r.start, r.end)).collect();
        v.reverse();
        v
    }

    #[test]
    fn inserts_merge_touching_and_overlapping_ranges() {
        let mut set = RangeSet::default();
        set.insert(10..20);
        set.insert(30..40);
        assert_eq!(ranges(&set), [(10, 20), (30, 40)]);
        set.insert(20..25);
        assert_eq!(ranges(&set), [(10, 25), (30, 40)]);
        set.insert(5..35);
        assert_eq!(ranges(&set), [(5, 40)]);
        assert!(set.contains(5) && set.contains(39) && !set.contains(40));
        assert!(set.covers(6..40) && !set.covers(4..6));
    }

    #[test]
    fn removal_splits_ranges() {
        let mut set = RangeSet::default();
        set.insert(0..100);
        set.remove(40..60);
        assert_eq!(ranges(&set), [(0, 40), (60, 100)]);
        set.remove(30..70);
        assert_eq!(ranges(&set), [(0, 30), (70, 100)]);
        set.remove(0..1000);
        assert!(set.is_empty());
    }

    proptest! {
        /// The set agrees with a plain set of integers under any sequence of
        /// inserts and removes.
        #[test]
        fn agrees_with_a_set_of_integers(
            ops in proptest::collection::vec((any::<bool>(), 0u64..64, 0u64..16), 0..40)
        ) {
            let mut set = RangeSet::default();
            let mut model = BTreeSet::new();
            for (insert, start, len) in ops {
                if insert {
                    set.insert(start..start + len);
                    model.extend(start..start + len);
                } else {
                    set.remove(start..start + len);
                    for v in start..start + len {
                        model.remove(&v);
                    }
                }
            }
            for v in 0..90 {
                prop_assert_eq!(set.contains(v), model.contains(&v));
            }
            let gaps: BTreeSet<u64> = set.gaps_within(10..50).into_iter().flatten().collect();
            let expected: BTreeSet<u64> = (10..50).filter(|v| !model.contains(v)).collect();
            prop_assert_eq!(gaps, expected);
            let rs = ranges(&set);
            for pair in rs.windows(2) {
                prop_assert!(pair[0].1 < pair[1].0, "ranges must not touch");
            }
        }
    }
}
