//! A one-value hand-over between two threads, for the windows' lanes.
//!
//! A window lasts a few milliseconds of wall time, and waking a sleeping
//! thread through the OS takes 100–200 µs on a virtual machine: a tenth of
//! the window. So the receiver first spins for a while, which catches a
//! value that comes within the window's usual slack, and only then sleeps
//! (`park`) until the sender wakes it (`unpark`). Spinning yields now and
//! then, for machines with more threads than cores.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::Thread;

/// How many times a receiver checks for the value before it sleeps: some
/// hundreds of microseconds.
const SPINS: u32 = 1 << 14;
/// A spinning receiver yields its core once per this many checks.
const YIELD_EVERY: u32 = 64;

/// A slot that one thread puts values in and another takes them from.
pub(super) struct Handoff<T> {
    full: AtomicBool,
    value: Mutex<Option<T>>,
}

impl<T> Default for Handoff<T> {
    fn default() -> Self {
        Handoff {
            full: AtomicBool::new(false),
            value: Mutex::new(None),
        }
    }
}

impl<T> Handoff<T> {
    /// Puts `value` in the slot, replacing one not yet taken, and wakes
    /// `receiver` if it sleeps.
    pub(super) fn put(&self, value: T, receiver: &Thread) {
        *self.value.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        self.full.store(true, Ordering::Release);
        receiver.unpark();
    }

    /// Waits for a value and takes it. Only the receiver calls this.
    pub(super) fn take(&self) -> T {
        let mut spins = 0;
        while !self.full.load(Ordering::Acquire) {
            if spins < SPINS {
                spins += 1;
                if spins % YIELD_EVERY == 0 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            } else {
                // An `unpark` after the value was put wakes this even if it
                // came first.
                std::thread::park();
            }
        }
        self.full.store(false, Ordering::Relaxed);
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("a full slot holds a value")
    }
}
