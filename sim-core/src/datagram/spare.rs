//! Each thread's spare datagram buffers, by length.
//!
//! A GossipSub relay frees the 1 KiB message it received and allocates the
//! one it forwards, once per event; with windows the two happen on different
//! threads from the ones that allocated them. glibc serves chunks that size
//! from its shared bins, not from a thread's cache (which stops at 1,032
//! bytes), and its functions took about 9 % of gossip-100k's samples
//! (`perf`). Kept here instead, a buffer freed by a thread is
//! the next one that thread writes, while still in its cache.
//!
//! Only buffers of at least [`MIN_LEN`] bytes are kept (smaller ones are
//! cheap to allocate), of at most [`CLASSES`] lengths at a time (a run's
//! large datagrams mostly share one or two lengths), and at most
//! [`MAX_BYTES`] per thread, so that a burst does not stay allocated for
//! ever. Which buffer a datagram gets changes nothing it holds: a spare is
//! zeroed when it is taken.
//!
//! Measured on gossip-100k's first 13 s (1.01 M large buffers): with
//! spares that died with each stretch's thread and 8 MiB per thread, 22 %
//! of allocations found a spare; with lanes carrying their spares across
//! stretches and 64 MiB (a message's wave has tens of thousands in
//! flight), 88 %.

use std::cell::RefCell;
use std::sync::Arc;

/// The shortest buffer worth keeping.
pub(super) const MIN_LEN: usize = 512;
/// How many lengths a thread keeps spares of.
const CLASSES: usize = 4;
/// The most bytes a thread keeps in spares.
const MAX_BYTES: usize = 64 << 20;

/// A thread's spares; a lane that runs on a new thread for each stretch of
/// windows carries its own from one thread to the next
/// ([`swap_with_thread`](Spares::swap_with_thread)).
#[derive(Default)]
pub(crate) struct Spares {
    /// `(length, buffers of that length)`; a new length replaces the class
    /// at `next_evicted`, round robin.
    classes: Vec<(usize, Vec<Arc<[u8]>>)>,
    next_evicted: usize,
    bytes: usize,
}

thread_local! {
    static SPARES: RefCell<Spares> = const {
        RefCell::new(Spares { classes: Vec::new(), next_evicted: 0, bytes: 0 })
    };
}

impl Spares {
    /// Exchanges these spares with the calling thread's.
    pub(crate) fn swap_with_thread(&mut self) {
        // Once the thread's spares are gone, there is nothing to exchange.
        let _ = SPARES.try_with(|s| std::mem::swap(self, &mut s.borrow_mut()));
    }
}

/// A spare buffer of exactly `len` bytes, unshared, zeroed.
pub(super) fn take(len: usize) -> Option<Arc<[u8]>> {
    if len < MIN_LEN {
        return None;
    }
    let mut buffer = SPARES
        .try_with(|s| {
            let mut s = s.borrow_mut();
            let (_, buffers) = s.classes.iter_mut().find(|(l, _)| *l == len)?;
            let buffer = buffers.pop()?;
            s.bytes -= len;
            Some(buffer)
        })
        .ok()
        .flatten()?;
    Arc::get_mut(&mut buffer)
        .expect("a spare is not shared")
        .fill(0);
    Some(buffer)
}

/// Keeps `buffer`, if it is the last copy, for this thread's next [`take`]
/// of its length, or lets it go.
pub(super) fn keep(mut buffer: Arc<[u8]>) {
    let len = buffer.len();
    if len < MIN_LEN || Arc::get_mut(&mut buffer).is_none() {
        return;
    }
    // Once the thread's spares are gone, the buffer is simply freed.
    let _ = SPARES.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.bytes + len > MAX_BYTES {
            return;
        }
        let class = match s.classes.iter().position(|(l, _)| *l == len) {
            Some(class) => class,
            None if s.classes.len() < CLASSES => {
                s.classes.push((len, Vec::new()));
                s.classes.len() - 1
            }
            None => {
                let class = s.next_evicted;
                s.next_evicted = (class + 1) % CLASSES;
                let (old_len, old) = std::mem::replace(&mut s.classes[class], (len, Vec::new()));
                s.bytes -= old_len * old.len();
                class
            }
        };
        s.classes[class].1.push(buffer);
        s.bytes += len;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(len: usize) -> Arc<[u8]> {
        std::iter::repeat_n(0, len).collect()
    }

    #[test]
    fn a_new_length_evicts_the_oldest_class_and_short_ones_are_not_kept() {
        for k in 0..=CLASSES {
            keep(buffer(MIN_LEN + k));
        }
        assert!(take(MIN_LEN).is_none(), "evicted by the fifth length");
        for k in 1..=CLASSES {
            assert_eq!(take(MIN_LEN + k).map(|b| b.len()), Some(MIN_LEN + k));
            assert!(take(MIN_LEN + k).is_none());
        }
        keep(buffer(MIN_LEN - 1));
        assert!(take(MIN_LEN - 1).is_none());
    }

    #[test]
    fn a_thread_keeps_at_most_max_bytes() {
        let len = 1 << 20;
        for _ in 0..=MAX_BYTES / len {
            keep(buffer(len));
        }
        let mut taken = 0;
        while take(len).is_some() {
            taken += 1;
        }
        assert_eq!(taken, MAX_BYTES / len);
    }

    #[test]
    fn spares_move_between_threads_with_their_lane() {
        keep(buffer(MIN_LEN));
        let mut lane = Spares::default();
        lane.swap_with_thread();
        assert!(take(MIN_LEN).is_none(), "the lane holds them now");
        std::thread::scope(|s| {
            s.spawn(|| {
                lane.swap_with_thread();
                assert!(take(MIN_LEN).is_some(), "the lane's thread has them");
            });
        });
    }
}
