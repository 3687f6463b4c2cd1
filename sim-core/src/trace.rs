//! The ordered event log and the 64-bit trace hash folded over it.
//!
//! Every step the kernel takes — a datagram sent, delivered or dropped, a timer
//! fired, a command or fault applied, a message observed — becomes one
//! [`TraceRecord`], in the order the kernel runs them. The [`TraceHash`] folds
//! each record's fields (all integers) in that order, so two runs have the same
//! hash exactly when they did the same things at the same virtual times. It uses
//! no platform-dependent input (no `usize`, no pointer, no std `Hasher`, whose
//! algorithm may change between Rust releases).

use std::fmt;

use crate::metrics::DropCause;
use crate::protocol::NodeId;
use crate::time::Instant;

/// What one step of the kernel did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A node handed a datagram to the network (`peer` = destination).
    Send,
    /// A datagram was handed to a node's protocol (`peer` = source).
    Receive,
    /// A datagram or message was dropped (`cause` says why).
    Drop,
    /// A node's timer fired.
    Timeout,
    /// The workload gave a node a command.
    Command,
    /// A node crashed.
    Crash,
    /// A node came back up.
    Restart,
    /// A link changed (down, up, loss; `peer` = the other end).
    LinkFault,
    /// A protocol reported a new application message (`size` = message id).
    MessageSent,
    /// A protocol delivered an application message (`size` = message id).
    MessageDelivered,
    /// A protocol started a lookup (`size` = lookup id).
    LookupStarted,
    /// A protocol ended a lookup (`size` = lookup id).
    LookupDone,
    /// The network split (`size` = the number of groups named).
    Partition,
    /// Every partition ended.
    Heal,
    /// A node's battery crossed into another band (`size` = the band, 0
    /// critical to 3 high).
    Battery,
    /// A node's battery ran out and the node went down for good.
    BatteryEmpty,
}

impl TraceKind {
    /// The kind's name in trace CSV files.
    pub fn name(self) -> &'static str {
        match self {
            TraceKind::Send => "send",
            TraceKind::Receive => "receive",
            TraceKind::Drop => "drop",
            TraceKind::Timeout => "timeout",
            TraceKind::Command => "command",
            TraceKind::Crash => "crash",
            TraceKind::Restart => "restart",
            TraceKind::LinkFault => "link_fault",
            TraceKind::MessageSent => "message_sent",
            TraceKind::MessageDelivered => "message_delivered",
            TraceKind::LookupStarted => "lookup_started",
            TraceKind::LookupDone => "lookup_done",
            TraceKind::Partition => "partition",
            TraceKind::Heal => "heal",
            TraceKind::Battery => "battery",
            TraceKind::BatteryEmpty => "battery_empty",
        }
    }
}

/// One entry of the ordered event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// When it happened.
    pub time: Instant,
    /// The node it happened at.
    pub node: NodeId,
    /// What happened.
    pub kind: TraceKind,
    /// The other node involved, if any.
    pub peer: Option<NodeId>,
    /// Bytes involved (datagram size), or the message id for message records.
    pub size: u64,
    /// Why, for drops.
    pub cause: Option<DropCause>,
}

/// A 64-bit hash folded over the ordered event log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceHash(u64);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(0x243F_6A88_85A3_08D3)
    }
}

impl TraceHash {
    /// Folds one record into the hash.
    #[inline]
    pub fn fold(&mut self, r: &TraceRecord) {
        let peer = r.peer.map_or(u64::from(u32::MAX), |p| u64::from(p.0));
        let cause = r.cause.map_or(0, |c| c as u64 + 1);
        self.word(r.time.as_nanos());
        self.word(u64::from(r.node.0) << 32 | peer);
        self.word((r.kind as u64) << 8 | cause);
        self.word(r.size);
    }
    #[inline]
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(23) ^ w).wrapping_mul(K);
    }
    /// The hash of everything folded so far (with a final avalanche so that
    /// nearby logs give unrelated hashes).
    pub fn value(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        x ^ (x >> 33)
    }
}

impl fmt::Debug for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.value())
    }
}
impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: u64, kind: TraceKind) -> TraceRecord {
        TraceRecord {
            time: Instant::from_nanos(t),
            node: NodeId(1),
            kind,
            peer: None,
            size: 10,
            cause: None,
        }
    }

    #[test]
    fn order_and_content_matter() {
        let (a, b) = (rec(1, TraceKind::Send), rec(2, TraceKind::Receive));
        let mut h1 = TraceHash::default();
        h1.fold(&a);
        h1.fold(&b);
        let mut h2 = TraceHash::default();
        h2.fold(&b);
        h2.fold(&a);
        assert_ne!(h1.value(), h2.value());
        let mut h3 = TraceHash::default();
        h3.fold(&a);
        h3.fold(&b);
        assert_eq!(h1.value(), h3.value());
        // A fixed log has a fixed hash on every machine.
        assert_eq!(h1.to_string(), "06abe47aaaa77475");
    }
}
