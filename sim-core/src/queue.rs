//! The event queue: a monotone radix heap ordered by (time, insertion sequence).
//!
//! A discrete-event simulator never schedules into the past, so its queue only
//! has to be a *monotone* priority queue: every key pushed is at least the last
//! key popped. A radix heap exploits that. Items sit in 65 buckets by the highest
//! bit in which their time differs from the last popped time; a push is O(1), and
//! each item moves to a lower bucket at most 64 times over its life, usually far
//! fewer. With a million events in flight this touches much less memory than a
//! binary heap's log₂ n sift, which is where the speed over the plain heap of
//! `shared/bench/phold_ref.cpp` comes from.
//!
//! Ties: items due at the same time come out in insertion order (first in, first
//! out). The bucket of items due exactly at the last popped time (`front`) is kept
//! sorted by sequence number: it is refilled only when empty and sorted then,
//! and later pushes carry larger sequence numbers, so appending keeps it sorted.

use std::collections::VecDeque;

use crate::time::Instant;

#[derive(Debug)]
struct Entry<T> {
    time: u64,
    seq: u64,
    item: T,
}

/// A monotone priority queue of `T` keyed by (time, sequence).
#[derive(Debug)]
pub struct EventQueue<T> {
    /// Time of the last popped item: no push may be earlier.
    floor: u64,
    /// Items due exactly at `floor`, in sequence order.
    front: VecDeque<Entry<T>>,
    /// `buckets[i]` holds items whose time differs from `floor` first in bit i
    /// (counting from 0 = least significant).
    buckets: Vec<Vec<Entry<T>>>,
    len: usize,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            floor: 0,
            front: VecDeque::new(),
            buckets: (0..64).map(|_| Vec::new()).collect(),
            len: 0,
            next_seq: 0,
        }
    }
}

impl<T> EventQueue<T> {
    /// An empty queue starting at time zero.
    pub fn new() -> Self {
        Self::default()
    }
    /// How many items are queued.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Takes the next insertion sequence number. The kernel shares one counter
    /// between this queue and its wake-up table so that all its events are
    /// totally ordered by (time, sequence).
    pub fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }
    /// Queues `item` at `time` and returns its sequence number.
    ///
    /// # Panics
    /// If `time` is earlier than the last popped time: that would be an event in
    /// the past, a kernel bug.
    pub fn push(&mut self, time: Instant, item: T) -> u64 {
        let seq = self.next_seq();
        self.push_with_seq(time, seq, item);
        seq
    }
    fn push_with_seq(&mut self, time: Instant, seq: u64, item: T) {
        let time = time.as_nanos();
        assert!(time >= self.floor, "event scheduled in the past");
        self.len += 1;
        let entry = Entry { time, seq, item };
        if time == self.floor {
            self.front.push_back(entry);
        } else {
            self.buckets[bucket_of(time, self.floor)].push(entry);
        }
    }
    /// The key (time, sequence) of the next item, without removing it.
    pub fn peek_key(&mut self) -> Option<(Instant, u64)> {
        if self.front.is_empty() && !self.refill() {
            return None;
        }
        self.front
            .front()
            .map(|e| (Instant::from_nanos(e.time), e.seq))
    }
    /// Removes and returns the next item with its time.
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        if self.front.is_empty() && !self.refill() {
            return None;
        }
        let e = self.front.pop_front()?;
        self.len -= 1;
        Some((Instant::from_nanos(e.time), e.item))
    }
    /// Moves the lowest non-empty bucket down around its minimum time. Returns
    /// false if the queue is empty.
    fn refill(&mut self) -> bool {
        let Some(i) = self.buckets.iter().position(|b| !b.is_empty()) else {
            return false;
        };
        let bucket = std::mem::take(&mut self.buckets[i]);
        let floor = bucket
            .iter()
            .map(|e| e.time)
            .min()
            .expect("non-empty bucket");
        self.floor = floor;
        for e in bucket {
            if e.time == floor {
                self.front.push_back(e);
            } else {
                let j = bucket_of(e.time, floor);
                debug_assert!(j < i);
                self.buckets[j].push(e);
            }
        }
        self.front.make_contiguous().sort_unstable_by_key(|e| e.seq);
        true
    }
}

/// The bucket of `time` relative to `floor` (`time > floor`).
fn bucket_of(time: u64, floor: u64) -> usize {
    63 - (time ^ floor).leading_zeros() as usize
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
    #[should_panic(expected = "past")]
    fn rejects_the_past() {
        let mut q = EventQueue::new();
        q.push(Instant::from_nanos(10), ());
        q.pop();
        q.push(Instant::from_nanos(9), ());
    }

    proptest! {
        /// Interleaved pushes (never before the last pop) and pops come out in
        /// exactly the order of a sort by (time, insertion order).
        #[test]
        fn matches_a_sorted_reference(ops in proptest::collection::vec((0u64..1_000, 0u8..3), 1..400)) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, u64)> = Vec::new();
            let mut now = 0u64;
            for (n, (delta, op)) in ops.into_iter().enumerate() {
                if op == 0 {
                    let got = q.pop();
                    reference.sort();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    prop_assert_eq!(got.map(|(t, i)| (t.as_nanos(), i)), want);
                    if let Some((t, _)) = want { now = t; }
                } else {
                    let t = now + if op == 1 { 0 } else { delta * delta };
                    q.push(Instant::from_nanos(t), n as u64);
                    reference.push((t, n as u64));
                }
                prop_assert_eq!(q.len(), reference.len());
            }
        }
    }
}
