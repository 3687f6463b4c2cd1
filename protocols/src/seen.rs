//! The seen cache: which message ids a node has seen in the last `seen_ttl`.
//! Flood, GossipSub and the BLE mesh suppress duplicates with it.

use std::collections::VecDeque;

use sim_core::{Duration, Instant};

/// Message ids a node has seen, each remembered for a fixed time to live
/// (first-seen deadlines, expiry in insertion order), with a membership test
/// built for the relay's hot path.
///
/// An id inserted at `t` is forgotten by the first [`SeenCache::expire`] at
/// or after `t + ttl`; inserting an id already present changes nothing. A
/// cache built [`with_capacity_limit`](SeenCache::with_capacity_limit) also
/// forgets its oldest id to make room for a new one once it is full.
///
/// # Implementation notes
///
/// Every copy of every message a node receives asks this cache first, so a
/// lookup should touch one cache line. A `BTreeSet` (flood's first seen set)
/// visits two or three tree nodes per lookup, a measurable cost at 10⁵ nodes;
/// here membership
/// is an open-addressing table of ids with linear probing, at most half
/// full (deletion shifts entries back, so there are no tombstones), sized
/// to a power of two and shrunk when it empties. Its order never reaches an
/// output: expiry follows the `VecDeque` of (deadline, id), which is already
/// sorted because every entry lives for the same `ttl`.
///
/// Where most lookups are for ids inserted moments ago (GossipSub: the
/// later copies of a message, and the gossip that advertises it), a cache
/// with `RECENT` above 0 also keeps the last `RECENT` ids inserted inline,
/// in the cache value itself (8 fill one cache line): a lookup that finds
/// its id there never reads the table, whose slot for it would be a cache
/// miss of its own. The default, 0, keeps none and adds no bytes.
/// `repr(C)` keeps the fields in the order written: what a lookup reads
/// first.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct SeenCache<const RECENT: usize = 0> {
    /// The last ids inserted, as `id + 1` (0: none; `u64::MAX` is never
    /// here), written round-robin; an id leaves when it is forgotten.
    recent: [u64; RECENT],
    /// Slots hold `id + 1`, so that 0 marks an empty slot; `u64::MAX`,
    /// whose successor would wrap, is kept aside in `has_max`.
    slots: Vec<u64>,
    expiries: VecDeque<(Instant, u64)>,
    ttl: Duration,
    max_len: usize,
    /// Where the next inserted id goes in `recent`.
    recent_next: u32,
    has_max: bool,
}

/// Fibonacci hashing: the top bits of `id · 2⁶⁴/φ`.
fn slot_of(id: u64, mask: usize) -> usize {
    let bits = mask.count_ones();
    if bits == 0 {
        return 0;
    }
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

impl<const RECENT: usize> SeenCache<RECENT> {
    /// An empty cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        SeenCache {
            recent: [0; RECENT],
            slots: Vec::new(),
            expiries: VecDeque::new(),
            ttl,
            max_len: usize::MAX,
            recent_next: 0,
            has_max: false,
        }
    }

    /// The same cache, holding at most `max_len` ids (at least one): once
    /// full, inserting a new id first forgets the oldest, as a bounded
    /// message cache in the field does (BitChat keeps about 1,000).
    pub fn with_capacity_limit(mut self, max_len: usize) -> Self {
        self.max_len = max_len.max(1);
        self
    }

    /// How long an entry lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.expiries.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.expiries.is_empty()
    }

    /// Whether `id` is remembered.
    pub fn contains(&self, id: u64) -> bool {
        if id == u64::MAX {
            return self.has_max;
        }
        self.recent.contains(&(id + 1)) || self.find(id + 1).is_ok()
    }

    /// Remembers `id` from `now` until `now + ttl`. Returns `true` if it was
    /// new, `false` if it was already remembered (its deadline is unchanged).
    pub fn insert(&mut self, now: Instant, id: u64) -> bool {
        if self.expiries.len() >= self.max_len && !self.contains(id) {
            self.forget_oldest();
        }
        if id == u64::MAX {
            if self.has_max {
                return false;
            }
            self.has_max = true;
        } else {
            if (self.expiries.len() + 1) * 2 > self.slots.len() {
                self.resize(((self.expiries.len() + 1) * 2).next_power_of_two().max(16));
            }
            match self.find(id + 1) {
                Ok(_) => return false,
                Err(slot) => self.slots[slot] = id + 1,
            }
            if RECENT > 0 {
                self.recent[self.recent_next as usize] = id + 1;
                self.recent_next = (self.recent_next + 1) % RECENT as u32;
            }
        }
        self.expiries.push_back((now.saturating_add(self.ttl), id));
        true
    }

    /// Forgets every id whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Instant) {
        while self
            .expiries
            .front()
            .is_some_and(|&(deadline, _)| deadline <= now)
        {
            self.forget_oldest();
        }
        if self.slots.len() > 16 && self.expiries.len() * 8 < self.slots.len() {
            self.resize((self.expiries.len() * 2).next_power_of_two().max(16));
        }
        if self.expiries.is_empty() {
            self.expiries.shrink_to(16);
        }
    }

    /// The earliest deadline, if any id is remembered.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiries.front().map(|&(deadline, _)| deadline)
    }

    /// Forgets the id inserted first, if any.
    fn forget_oldest(&mut self) {
        let Some((_, id)) = self.expiries.pop_front() else {
            return;
        };
        if id == u64::MAX {
            self.has_max = false;
        } else if let Ok(slot) = self.find(id + 1) {
            self.remove_slot(slot);
            if let Some(r) = self.recent.iter_mut().find(|r| **r == id + 1) {
                *r = 0;
            }
        }
    }

    /// The slot holding `key` (`Ok`), or the empty slot where it would go.
    fn find(&self, key: u64) -> Result<usize, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let mut i = slot_of(key, mask);
        loop {
            match self.slots[i] {
                0 => return Err(i),
                k if k == key => return Ok(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Empties slot `i`, shifting later entries of its probe run back.
    fn remove_slot(&mut self, mut i: usize) {
        let mask = self.slots.len() - 1;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let key = self.slots[j];
            if key == 0 {
                break;
            }
            // The entry at j may move to i if its home slot is not in (i, j].
            let home = slot_of(key, mask);
            let between = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !between {
                self.slots[i] = key;
                i = j;
            }
        }
        self.slots[i] = 0;
    }

    fn resize(&mut self, size: usize) {
        self.slots = vec![0; size];
        let mask = size - 1;
        for &(_, id) in &self.expiries {
            if id == u64::MAX {
                continue;
            }
            let mut i = slot_of(id + 1, mask);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = id + 1;
        }
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
        // An id in the inline ring too is forgotten at its deadline.
        let mut seen = SeenCache::<8>::new(Duration::from_secs(10));
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
    fn the_extreme_ids_are_ids_like_any_other() {
        let mut seen = SeenCache::<8>::new(Duration::from_secs(1));
        for id in [0, u64::MAX, u64::MAX - 1] {
            assert!(seen.insert(at(0), id));
            assert!(!seen.insert(at(0), id));
            assert!(seen.contains(id));
        }
        seen.expire(at(1));
        assert!(!seen.contains(0) && !seen.contains(u64::MAX) && !seen.contains(u64::MAX - 1));
    }

    #[test]
    fn the_table_grows_and_shrinks() {
        let mut seen: SeenCache = SeenCache::new(Duration::from_secs(1));
        for id in 0..10_000u64 {
            seen.insert(at(0), id << 32 | id);
        }
        assert_eq!(seen.len(), 10_000);
        assert!(seen.slots.len() >= 20_000);
        assert!((0..10_000u64).all(|id| seen.contains(id << 32 | id)));
        seen.expire(at(1));
        assert_eq!(seen.slots.len(), 16);
    }

    #[test]
    fn a_full_cache_forgets_its_oldest_id_first() {
        let mut seen = SeenCache::<8>::new(Duration::from_secs(10)).with_capacity_limit(3);
        for id in 1..=3 {
            assert!(seen.insert(at(id), id));
        }
        assert!(!seen.insert(at(4), 2), "a present id makes no room");
        assert_eq!(seen.len(), 3);
        assert!(seen.insert(at(5), 4));
        assert_eq!(seen.len(), 3);
        assert!(!seen.contains(1) && seen.contains(2) && seen.contains(4));
        assert_eq!(seen.next_expiry(), Some(at(12)));
        seen.expire(at(15));
        assert!(seen.is_empty());
    }

    proptest! {
        /// The cache, with and without the inline ring, agrees with a map
        /// from id to deadline, whatever the sequence of inserts and
        /// expiries at non-decreasing times (few distinct ids, so that probe
        /// runs collide and wrap).
        #[test]
        fn agrees_with_a_map_of_deadlines(
            ops in proptest::collection::vec((0u64..3, any::<bool>(), 0u64..40), 0..300),
        ) {
            let ttl = Duration::from_secs(5);
            let mut seen: SeenCache = SeenCache::new(ttl);
            let mut ringed = SeenCache::<8>::new(ttl);
            let mut model: BTreeMap<u64, Instant> = BTreeMap::new();
            let mut now = Instant::ZERO;
            for (step, insert, id) in ops {
                now += Duration::from_secs(step);
                // Ids that share their low bits, and the extremes.
                let id = match id {
                    38 => u64::MAX,
                    39 => 0,
                    id => id << 40 | 3,
                };
                if insert {
                    let new = !model.contains_key(&id);
                    if new {
                        model.insert(id, now + ttl);
                    }
                    prop_assert_eq!(seen.insert(now, id), new);
                    prop_assert_eq!(ringed.insert(now, id), new);
                } else {
                    model.retain(|_, deadline| *deadline > now);
                    seen.expire(now);
                    ringed.expire(now);
                }
                prop_assert_eq!(seen.len(), model.len());
                for probe in (0..40u64).map(|i| i << 40 | 3).chain([0, u64::MAX]) {
                    prop_assert_eq!(seen.contains(probe), model.contains_key(&probe));
                    prop_assert_eq!(ringed.contains(probe), model.contains_key(&probe));
                }
                prop_assert_eq!(seen.next_expiry(), model.values().min().copied());
            }
        }
    }
}
