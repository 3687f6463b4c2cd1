//! The sans-IO contract between the kernel and every protocol.
//!
//! A protocol is a plain value. It never reads a clock, never does I/O, never
//! touches a global RNG and never spawns anything. Everything it learns arrives
//! through a `handle_*` call that carries the current virtual time; everything it
//! wants to do it queues as [`Output`]s for the caller to drain.
//!
//! # The driver's loop
//!
//! The kernel (or a test harness, or a real UDP socket with a real clock) drives a
//! protocol like this, and every driver must keep to it:
//!
//! 1. call exactly one input: [`Protocol::handle_datagram`] when bytes arrive,
//!    [`Protocol::handle_command`] when the workload asks something, or
//!    [`Protocol::handle_timeout`] when the deadline from `poll_timeout` is due;
//! 2. drain [`Protocol::poll_output`] until it returns `None`, sending every
//!    `Transmit` and observing every `Event`;
//! 3. read [`Protocol::poll_timeout`] and arrange to call `handle_timeout` then.
//!
//! Rules a protocol may rely on, and must keep:
//! - `now` never goes backwards from one call to the next;
//! - `handle_timeout` may be called early or when nothing is due (a stale
//!   wake-up); the protocol then does only what is due at `now`;
//! - what crosses the network is bytes in the protocol's real wire format;
//!   parsing them never panics: malformed input is reported as
//!   [`Output::Drop`] with [`DropCause::Malformed`] and otherwise ignored;
//! - timers are plain data (an array of deadlines) and `poll_timeout` returns
//!   the earliest;
//! - randomness comes only from the seeded RNG the protocol's builder receives;
//! - iteration order that can reach an output comes from ordered or indexed
//!   containers, never from a `HashMap`'s order.
//!
//! # Example: a protocol that answers every datagram with its length
//!
//! ```
//! use std::collections::VecDeque;
//! use sim_core::{Instant, NodeId, Output, Protocol};
//!
//! #[derive(Default)]
//! struct Echo { out: VecDeque<Output<usize>> }
//!
//! impl Protocol for Echo {
//!     type Command = ();
//!     type Event = usize;
//!     fn handle_datagram(&mut self, _now: Instant, from: NodeId, bytes: &[u8]) {
//!         self.out.push_back(Output::Event(bytes.len()));
//!         self.out.push_back(Output::Transmit { to: from, bytes: bytes.into() });
//!     }
//!     fn handle_command(&mut self, _now: Instant, _cmd: ()) {}
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_output(&mut self) -> Option<Output<usize>> { self.out.pop_front() }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//! }
//!
//! let mut echo = Echo::default();
//! echo.handle_datagram(Instant::ZERO, NodeId(7), b"hi");
//! assert!(matches!(echo.poll_output(), Some(Output::Event(2))));
//! assert!(matches!(echo.poll_output(), Some(Output::Transmit { to: NodeId(7), .. })));
//! assert!(echo.poll_output().is_none());
//! ```

use std::fmt;

use crate::datagram::Datagram;
use crate::metrics::DropCause;
use crate::time::Instant;

/// The address of a node in the simulated network: its index in the run.
///
/// Protocols use it as their peer address; a real-network driver maps it to a
/// socket address.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId(pub u32);

impl NodeId {
    /// A link-layer broadcast: "every node the network lets me reach directly
    /// right now" (the radios in range, for the BLE model). The kernel sends
    /// one copy to each; in models without links it reaches no one.
    pub const BROADCAST: NodeId = NodeId(u32::MAX);

    /// The node's index, for indexing per-node tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Something a protocol wants done, drained through [`Protocol::poll_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<E> {
    /// Send these bytes to that peer.
    Transmit {
        /// The destination.
        to: NodeId,
        /// The datagram, in the protocol's wire format; the same bytes for
        /// several peers are one clone each, not one copy each.
        bytes: Datagram,
    },
    /// Something happened that the application or the metrics care about.
    Event(E),
    /// The protocol discarded input it could not use; the kernel counts it.
    Drop {
        /// Who sent the discarded bytes.
        from: NodeId,
        /// How many bytes were discarded.
        len: usize,
        /// Why.
        cause: DropCause,
    },
}

impl<E> Output<E> {
    /// The same output with its event (if it is one) mapped through `f`: how a
    /// stack that holds several protocols reports their events as its own.
    pub fn map_event<F>(self, f: impl FnOnce(E) -> F) -> Output<F> {
        match self {
            Output::Transmit { to, bytes } => Output::Transmit { to, bytes },
            Output::Event(e) => Output::Event(f(e)),
            Output::Drop { from, len, cause } => Output::Drop { from, len, cause },
        }
    }
}

/// A sans-IO protocol state machine. See the [module docs](self) for the
/// driver's loop and the rules.
///
/// The kernel runs protocols that are `Send`, with `Send` events: a run in
/// windows ([`crate::kernel::windows`]) hands nodes to other threads. A
/// protocol keeps no shared mutable state outside itself anyway.
pub trait Protocol {
    /// What a workload can ask of the protocol (publish, look up, send…).
    type Command;
    /// What the protocol reports (delivered, lookup done, peer expired…).
    type Event;

    /// Bytes arrived from `from` at time `now`.
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]);
    /// The workload asks something of this node at time `now`.
    fn handle_command(&mut self, now: Instant, cmd: Self::Command);
    /// The deadline last returned by [`Protocol::poll_timeout`] may be due.
    fn handle_timeout(&mut self, now: Instant);
    /// The next queued output, or `None` when the queue is drained.
    fn poll_output(&mut self) -> Option<Output<Self::Event>>;
    /// The earliest time the protocol needs `handle_timeout`, if any.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The device's battery crossed into `level` at `now` (only where the
    /// scenario models energy). A battery-aware protocol changes what it does;
    /// the default ignores it.
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        let _ = (now, level);
    }
    /// A performance hint, not an input: the driver will soon give this
    /// protocol an input. A protocol whose state is spread over the heap may
    /// [`prefetch`] the memory that input will read, so
    /// that the cache misses of several upcoming inputs overlap instead of
    /// being waited for one by one. It must change nothing; the driver may
    /// call it any number of times, or never.
    ///
    /// The driver calls it in rounds for the same input, the last round
    /// nearest the input: in round 0 only the protocol value itself is known
    /// to be in cache, so a protocol prefetches what its own fields point
    /// to; in round `r`, it may follow pointers prefetched in round `r − 1`
    /// (a box spends a round on itself). The default does nothing.
    fn prefetch(&self, round: u32) {
        let _ = round;
    }
}

/// How full a device's battery is, in the bands the mobile seed's
/// battery-aware policy uses: critical below 10 %, low below 20 %, medium
/// below 50 %, high otherwise. A node whose battery is empty goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BatteryLevel {
    /// Below 10 %.
    Critical,
    /// 10 % to 20 %.
    Low,
    /// 20 % to 50 %.
    Medium,
    /// 50 % and above.
    High,
}

impl BatteryLevel {
    /// The band a state of charge (0.0 to 1.0) falls in.
    pub fn of_fraction(charge: f64) -> Self {
        if charge < 0.10 {
            BatteryLevel::Critical
        } else if charge < 0.20 {
            BatteryLevel::Low
        } else if charge < 0.50 {
            BatteryLevel::Medium
        } else {
            BatteryLevel::High
        }
    }
}

/// A boxed protocol is a protocol: stacks box their large variants.
impl<P: Protocol + ?Sized> Protocol for Box<P> {
    type Command = P::Command;
    type Event = P::Event;
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        (**self).handle_datagram(now, from, bytes)
    }
    fn handle_command(&mut self, now: Instant, cmd: Self::Command) {
        (**self).handle_command(now, cmd)
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now)
    }
    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        (**self).poll_output()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        (**self).handle_battery(now, level)
    }
    /// Round 0 prefetches the boxed value; later rounds are the value's.
    fn prefetch(&self, round: u32) {
        match round.checked_sub(1) {
            None => crate::prefetch(&**self),
            Some(r) => (**self).prefetch(r),
        }
    }
}

/// What the kernel's metrics learn from a protocol event.
///
/// Protocols that carry messages implement this on their event type so that the
/// kernel can measure delivery ratio, latency and hops without knowing the
/// protocol. The kernel records the send time itself when it sees
/// [`Observation::Sent`], and computes latency from its own record, so a
/// protocol cannot misreport it.
pub trait Observe {
    /// What this event means for the metrics, if anything.
    fn observe(&self) -> Option<Observation>;
}

/// A message-level fact reported by a protocol event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A new application message left this node, with `expected` deliveries
    /// counted against it (the recipients it is meant to reach).
    Sent {
        /// The message's id, unique in the run.
        msg: u64,
        /// How many deliveries the message should produce.
        expected: u32,
    },
    /// An application message arrived at this node after `hops` hops.
    Delivered {
        /// The message's id.
        msg: u64,
        /// Network hops the copy that arrived travelled.
        hops: u32,
    },
    /// This node forwarded message `msg` for another node (once per
    /// message, however many copies it sent).
    Relayed {
        /// The message's id.
        msg: u64,
    },
    /// Another copy of message `msg` arrived here after it was delivered
    /// (counted per node: the cost of redundancy).
    Duplicate {
        /// The message's id.
        msg: u64,
    },
    /// This node started lookup `lookup` (a DHT query); ids are unique in the
    /// run, like message ids.
    LookupStarted {
        /// The lookup's id.
        lookup: u64,
    },
    /// Lookup `lookup` ended: whether it found what it looked for, after how
    /// many rounds of requests (`hops`) and how many requests in all.
    LookupDone {
        /// The lookup's id.
        lookup: u64,
        /// Rounds of requests until it ended.
        hops: u32,
        /// Requests sent.
        requests: u32,
        /// Whether it found the value, the providers or the closest peers it
        /// looked for.
        success: bool,
    },
}

/// Asks the CPU to bring `*value` (its first [`PREFETCH_MAX`] bytes) into
/// cache, without waiting for it: a hint for [`Protocol::prefetch`] and the
/// kernel. It has no effect on behaviour.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    prefetch_bytes((value as *const T).cast(), std::mem::size_of_val(value));
}

/// The most bytes one [`prefetch`] asks for: six cache lines.
pub const PREFETCH_MAX: usize = 384;

/// Asks the CPU to bring the bytes `start..start + len` (the first
/// [`PREFETCH_MAX`] of them) into cache, without waiting: any address will
/// do, even one past the end of an allocation. Compiles to nothing off
/// x86-64.
#[inline(always)]
pub fn prefetch_bytes(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let len = len.min(PREFETCH_MAX);
        let lines = (0..len).step_by(64).chain(len.checked_sub(1));
        for offset in lines {
            // SAFETY: a prefetch is only a hint: it never faults, reads
            // nothing into the program and writes no memory, whatever the
            // address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}
