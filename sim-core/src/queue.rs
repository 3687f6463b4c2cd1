//! The event queue: a monotone radix heap ordered by (time, insertion sequence).
//!
//! A discrete-event simulator never schedules into the past, so its queue only
//! has to be a *monotone* priority queue: every key pushed is at least the last
//! key popped (the *floor*). A radix heap exploits that. An item's bucket is
//! fixed by the highest 4-bit digit of its time that differs from the floor,
//! and by the item's value of that digit: 16 levels of 16 buckets. A push is
//! O(1). When the items due exactly at the floor run out, the lowest non-empty
//! bucket is emptied: the floor moves to its earliest time and its items drop
//! to lower levels (or to the front). An item thus moves at most once per
//! level, and in practice a few times, because the live events of a run
//! span a few digits of nanoseconds. With a million events in flight this
//! touches far less memory than a binary heap's log₂ n sift, which is where the
//! speed over the plain heap of `shared/bench/phold_ref.cpp` comes from; with
//! 4-bit rather than 1-bit digits, items move at most a quarter as often.
//!
//! The front: when the lowest bucket holds only a few items and spans a short
//! time, they are not spread over lower levels but sorted by (time, sequence)
//! into `front`, a short run that pops in order; a push that falls inside the
//! run's span is inserted in order. This skips the last few moves of most
//! items. A caller that looks ahead ([`EventQueue::peek_behind`], for
//! prefetching) asks for a front of some length
//! ([`EventQueue::set_lookahead`]), and every pop that would leave it
//! shorter empties the lowest buckets toward it, even while it still holds
//! items (from low levels only: `EAGER_LEVEL`). So the floor can be later
//! than some of the front's items, and an early item (below) may be due
//! after some of them.
//!
//! Early items: a peek moves the floor to the earliest queued item, but the
//! kernel may still schedule something earlier (a node's wake-up, which lives
//! in the kernel's own table, can run before the next queued event and send).
//! Such items go to a small binary heap, `early`, whose top pops whenever it
//! is before the front's first item. In steady state it holds a handful of
//! items; at start-up, when the only queued event may be a workload's first
//! action seconds ahead, it takes every datagram the nodes' first wake-ups
//! send.
//!
//! Ties: items due at the same time come out in sequence order: `front` is
//! sorted by (time, sequence). With [`EventQueue::push`] a push carries a
//! larger sequence number than anything queued, so items due at the same
//! time come out first in, first out.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::Instant;

#[derive(Debug)]
struct Entry<T> {
    time: u64,
    seq: u64,
    item: T,
}

/// An item due before the floor, ordered for a max-heap so that the
/// earliest (time, sequence) is on top.
#[derive(Debug)]
struct Early<T>(Entry<T>);

impl<T> PartialEq for Early<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.0.time, self.0.seq) == (other.0.time, other.0.seq)
    }
}
impl<T> Eq for Early<T> {}
impl<T> PartialOrd for Early<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Early<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.0.time, other.0.seq).cmp(&(self.0.time, self.0.seq))
    }
}

/// A monotone priority queue of `T` keyed by (time, sequence).
#[derive(Debug)]
pub struct EventQueue<T> {
    /// The time the buckets are relative to: the earliest bucketed time when
    /// they were last emptied into the front. Every bucketed item is later
    /// than it and later than every item of `front`.
    floor: u64,
    /// Time of the last popped item: no push may be earlier.
    popped: u64,
    /// Items due before `floor` (see the module docs); they pop first.
    early: BinaryHeap<Early<T>>,
    /// The next items to pop, sorted by (time, sequence); every bucketed item
    /// is due after all of them.
    front: VecDeque<Entry<T>>,
    /// `buckets[level * 256 + digit]` holds items whose time first differs
    /// from `floor` in 8-bit digit `level` (0 = least significant), where the
    /// item's digit is `digit`.
    buckets: Vec<Vec<Entry<T>>>,
    /// One bit per bucket: bit `digit` of `occupied[level]` is set when that
    /// bucket is non-empty.
    occupied: [u64; LEVELS],
    /// Bit `level` set when any bucket of that level is non-empty.
    levels: u32,
    len: usize,
    next_seq: u64,
    /// How many items every pop leaves in the front, where the buckets have
    /// them (see [`EventQueue::set_lookahead`]).
    lookahead: usize,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            floor: 0,
            popped: 0,
            early: BinaryHeap::new(),
            front: VecDeque::new(),
            buckets: (0..LEVELS * DIGITS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            levels: 0,
            len: 0,
            next_seq: 0,
            lookahead: 0,
        }
    }
}

impl<T> EventQueue<T> {
    /// An empty queue starting at time zero.
    pub fn new() -> Self {
        Self::default()
    }
    /// Keeps the front run at least `n` items long after every pop, as far
    /// as the queue holds items, so that [`EventQueue::peek_behind`] sees
    /// that far; 0 (the default) keeps it as short as the radix heap makes
    /// it. A longer run costs in-order insertions, and buckets are emptied
    /// earlier, so only a caller that looks ahead should ask for one. The
    /// order of the items is the same either way.
    pub fn set_lookahead(&mut self, n: usize) {
        self.lookahead = n;
    }
    /// How many items are queued.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Takes the next insertion sequence number.
    fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }
    /// Queues `item` at `time` and returns its sequence number, the next of
    /// the queue's own counter: it goes after every item queued for the
    /// same time.
    ///
    /// # Panics
    /// If `time` is earlier than the last popped time: that would be an event in
    /// the past, a kernel bug.
    pub fn push(&mut self, time: Instant, item: T) -> u64 {
        let seq = self.next_seq();
        self.push_at(time, seq, item);
        seq
    }
    /// Queues `item` at `time` with the sequence number `seq`, chosen by the
    /// caller: the kernel numbers the events of several queues from one
    /// counter, and numbers some events after the fact (see
    /// `crate::kernel`'s windows). A queue fed this way should not also be
    /// fed by [`EventQueue::push`], and no two of its items may share a key.
    ///
    /// # Panics
    /// As [`EventQueue::push`].
    pub fn push_at(&mut self, time: Instant, seq: u64, item: T) {
        let time = time.as_nanos();
        assert!(time >= self.popped, "event scheduled in the past");
        self.len += 1;
        let entry = Entry { time, seq, item };
        if time < self.floor {
            return self.early.push(Early(entry));
        }
        match self.front.back() {
            Some(last) if time <= last.time => {
                let at = self
                    .front
                    .partition_point(|e| (e.time, e.seq) <= (time, seq));
                self.front.insert(at, entry);
            }
            _ if time == self.floor => self.front.push_back(entry),
            _ => self.file(entry),
        }
    }
    /// The item `n` places behind the next one, if it is already sorted into
    /// the run that pops next (a cheap look ahead for prefetching; `None`
    /// says nothing about the queue beyond that run).
    pub fn peek_behind(&self, n: usize) -> Option<&T> {
        if !self.early.is_empty() {
            return None;
        }
        self.front.get(n).map(|e| &e.item)
    }
    /// The key (time, sequence) of the next item, without removing it.
    #[inline]
    pub fn peek_key(&mut self) -> Option<(Instant, u64)> {
        if self.front.is_empty() {
            self.fill_front(1);
        }
        let early = self.early.peek().map(|Early(e)| (e.time, e.seq));
        let front = self.front.front().map(|e| (e.time, e.seq));
        let (time, seq) = match (early, front) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some((Instant::from_nanos(time), seq))
    }
    /// Removes and returns the next item with its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        // Left with `lookahead` items or more, where the buckets have them,
        // so that `peek_behind` sees that far after every pop.
        if self.front.len() <= self.lookahead {
            self.fill_front(self.lookahead + 1);
        }
        let early_first = match (self.early.peek(), self.front.front()) {
            (Some(Early(e)), Some(f)) => (e.time, e.seq) < (f.time, f.seq),
            (early, _) => early.is_some(),
        };
        let e = if early_first {
            self.early.pop()?.0
        } else {
            self.front.pop_front()?
        };
        self.len -= 1;
        self.popped = e.time;
        Some((Instant::from_nanos(e.time), e.item))
    }
    /// Puts an item later than the floor into its bucket.
    #[inline]
    fn file(&mut self, entry: Entry<T>) {
        let (level, digit) = bucket_of(entry.time, self.floor);
        self.buckets[level * DIGITS + digit].push(entry);
        self.occupied[level] |= 1 << digit;
        self.levels |= 1 << level;
    }

    /// Moves the lowest buckets to the front until it holds `n` items, the
    /// buckets are empty, or (while the front holds items) the lowest
    /// bucket's level is above [`EAGER_LEVEL`].
    fn fill_front(&mut self, n: usize) {
        while self.front.len() < n && self.levels != 0 {
            if !self.front.is_empty() && self.levels.trailing_zeros() as usize > EAGER_LEVEL {
                return;
            }
            self.advance();
        }
    }

    /// Empties the lowest non-empty bucket toward the front. Every item of
    /// that bucket is due after every item of the front and before every
    /// other bucketed item. A small bucket of a low level is sorted onto the
    /// front's end. Any other bucket's earliest time becomes the floor: its
    /// items due then go to the front's end, and the rest drop to lower
    /// levels. The other buckets stay valid relative to the new floor, which
    /// agrees with the old one on every digit above the bucket's level.
    fn advance(&mut self) {
        let level = self.levels.trailing_zeros() as usize;
        let digit = self.occupied[level].trailing_zeros() as usize;
        self.occupied[level] &= !(1 << digit);
        if self.occupied[level] == 0 {
            self.levels &= !(1 << level);
        }
        let slot = level * DIGITS + digit;
        let mut bucket = std::mem::take(&mut self.buckets[slot]);
        if bucket.len() <= SMALL_BUCKET && level <= SMALL_LEVEL {
            bucket.sort_unstable_by_key(|e| (e.time, e.seq));
            if self.front.is_empty() {
                // The bucket's vector becomes the front and the front's
                // buffer becomes the bucket (both conversions are O(1) and
                // keep their allocations).
                self.floor = bucket[0].time;
                let empty = std::mem::replace(&mut self.front, VecDeque::from(bucket));
                self.buckets[slot] = Vec::from(empty);
            } else {
                self.front.extend(bucket.drain(..));
                self.buckets[slot] = bucket;
            }
            return;
        }
        let floor = bucket
            .iter()
            .map(|e| e.time)
            .min()
            .expect("non-empty bucket");
        self.floor = floor;
        let start = self.front.len();
        for e in bucket.drain(..) {
            if e.time == floor {
                self.front.push_back(e);
            } else {
                debug_assert!(bucket_of(e.time, floor).0 < level);
                self.file(e);
            }
        }
        self.front.make_contiguous()[start..].sort_unstable_by_key(|e| e.seq);
        // Put the emptied vector back so its allocation is reused.
        self.buckets[slot] = bucket;
    }
}

/// A bucket this small is sorted straight into the front rather than spread
/// over lower levels (measured with `benches/phold-compare.sh`)…
const SMALL_BUCKET: usize = 64;
/// …if its level spans at most 16⁴ ns (65 µs). A front spanning more catches
/// many later pushes, each an insertion in the middle of the run: in a
/// 10,000-node GossipSub run, fronts of milliseconds made such insertions a
/// quarter of the run time.
const SMALL_LEVEL: usize = 3;
/// A front that still holds items is filled from buckets of this level or
/// lower only, so that the floor moves at most 16⁵ ns (1 ms) ahead of it:
/// pushes due before the floor go to the early items, which the front's
/// look-ahead does not see, and a run that queues events a few hundred
/// microseconds ahead (a downlink's serialization) would put most of them
/// there.
const EAGER_LEVEL: usize = 4;
/// Bits per digit: wide enough that items move rarely, narrow enough that the
/// buckets' ends stay in cache (measured with `benches/phold-compare.sh`).
const DIGIT_BITS: usize = 4;
const DIGITS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = 64usize.div_ceil(DIGIT_BITS);

/// The bucket (level, digit) of `time` relative to `floor` (`time > floor`).
#[inline]
fn bucket_of(time: u64, floor: u64) -> (usize, usize) {
    let highest = 63 - (time ^ floor).leading_zeros() as usize;
    let level = highest / DIGIT_BITS;
    (
        level,
        (time >> (level * DIGIT_BITS)) as usize & (DIGITS - 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn same_time_is_fifo() {
        let mut q = EventQueue::new();
        for i in 0..5 {
            q.push(Instant::from_nanos(10), i);
        }
        q.push(Instant::from_nanos(5), 99);
        assert_eq!(q.pop(), Some((Instant::from_nanos(5), 99)));
        // pushed at the current time after a pop: still behind the earlier ones
        q.push(Instant::from_nanos(10), 5);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, i)| i).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn every_pop_leaves_the_asked_for_front() {
        // 2,000 events 37 ns apart, pushed out of order: buckets of levels
        // up to 4, which the front is filled from even while it holds items.
        let mut q = EventQueue::new();
        q.set_lookahead(32);
        for i in 0..2_000u64 {
            let k = i * 7919 % 2_000;
            q.push(Instant::from_nanos(k * 37), k);
        }
        let mut want = 0;
        while let Some((_, k)) = q.pop() {
            assert_eq!(k, want);
            want += 1;
            let shown = (q.len() as u64).min(32);
            for n in 0..shown {
                assert_eq!(q.peek_behind(n as usize), Some(&(want + n)), "after {k}");
            }
        }
        assert_eq!(want, 2_000);
    }

    #[test]
    #[should_panic(expected = "past")]
    fn rejects_the_past() {
        let mut q = EventQueue::new();
        q.push(Instant::from_nanos(10), ());
        q.pop();
        q.push(Instant::from_nanos(9), ());
    }

    proptest! {
        /// Interleaved pushes (never before the last pop), peeks and pops come
        /// out in exactly the order of a sort by (time, insertion order),
        /// whatever front the queue keeps. A peek moves the floor to the
        /// earliest queued item; pushes between the last pop and that floor
        /// must still come out first (the kernel does this when a node's
        /// wake-up runs before the next queued event). What the front shows
        /// after a pop is what comes next.
        #[test]
        fn matches_a_sorted_reference(
            ops in proptest::collection::vec((0u64..1_000, 0u8..5), 1..3000),
            lookahead in prop_oneof![Just(0usize), 1usize..40],
        ) {
            let mut q = EventQueue::new();
            q.set_lookahead(lookahead);
            let mut reference: Vec<(u64, u64)> = Vec::new();
            let mut now = 0u64;
            for (n, (delta, op)) in ops.into_iter().enumerate() {
                if op == 0 {
                    let got = q.pop();
                    reference.sort();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    prop_assert_eq!(got.map(|(t, i)| (t.as_nanos(), i)), want);
                    if let Some((t, _)) = want { now = t; }
                    for (k, (_, i)) in reference.iter().enumerate().take(lookahead) {
                        if let Some(shown) = q.peek_behind(k) {
                            prop_assert_eq!(shown, i);
                        }
                    }
                } else if op == 4 {
                    let want = reference.iter().min().copied();
                    prop_assert_eq!(q.peek_key().map(|(t, _)| t.as_nanos()), want.map(|(t, _)| t));
                } else {
                    let t = now + match op { 1 => 0, 2 => delta, _ => delta * delta };
                    q.push(Instant::from_nanos(t), n as u64);
                    reference.push((t, n as u64));
                }
                prop_assert_eq!(q.len(), reference.len());
            }
        }
    }
}
