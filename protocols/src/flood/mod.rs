//! Flood: hop-limited broadcast with duplicate suppression, as a BLE mesh or
//! a naive gossip layer does it.
//!
//! A [`FloodCommand::Broadcast`] makes a node originate a message and send it
//! to all its neighbours. A node that receives a message for the first time
//! delivers it ([`FloodEvent::Delivered`]) and, if the message's hop limit
//! allows, relays it once to every neighbour but the one it came from. A
//! [`SeenCache`] remembers the ids a node has seen for
//! [`FloodConfig::seen_ttl`], so later copies are only counted
//! ([`FloodEvent::Duplicate`]). Through [`Observe`], `Sent` and `Delivered`
//! become the kernel's [`Observation`]s, so the kernel measures reach, latency
//! and hops.
//!
//! A message originated with hop limit `h` travels at most `h` hops: on a line
//! `0 – 1 – … – 19`, a broadcast from node 0 with hop limit `h` is delivered
//! at exactly nodes `1..=h`.
//!
//! The bytes are in [`wire`]; the machine is [`Flood`].
//!
//! ```
//! use protocols::flood::{Flood, FloodCommand, FloodConfig, FloodEvent};
//! use sim_core::{Instant, NodeId, Output, Protocol};
//!
//! let config = FloodConfig { hop_limit: 1, ..FloodConfig::default() };
//! let mut origin = Flood::new(NodeId(0), vec![NodeId(1)], config);
//! let mut relay = Flood::new(NodeId(1), vec![NodeId(0), NodeId(2)], config);
//! let now = Instant::ZERO;
//!
//! origin.handle_command(now, FloodCommand::Broadcast { size: 20 });
//! assert!(matches!(origin.poll_output(), Some(Output::Event(FloodEvent::Sent { .. }))));
//! let Some(Output::Transmit { to: NodeId(1), bytes }) = origin.poll_output() else { panic!() };
//!
//! relay.handle_datagram(now, NodeId(0), &bytes);
//! assert!(matches!(
//!     relay.poll_output(),
//!     Some(Output::Event(FloodEvent::Delivered { hops: 1, from: NodeId(0), .. }))
//! ));
//! // Hop limit 1: the message has travelled as far as it may, so no relay.
//! assert!(relay.poll_output().is_none());
//! ```

mod config;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use sim_core::{Datagram, DropCause, Instant, NodeId, Observation, Observe, Output, Protocol};

pub use crate::seen::SeenCache;
pub use config::FloodConfig;

/// What a workload can ask of a [`Flood`] node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloodCommand {
    /// Originate a message with a payload of `size` bytes (the datagram adds
    /// [`wire::HEADER_LEN`] bytes of header) and send it to every neighbour.
    Broadcast {
        /// The payload's length in bytes.
        size: u32,
    },
}

/// What a [`Flood`] node reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloodEvent {
    /// This node originated message `msg`.
    Sent {
        /// The message's id.
        msg: u64,
        /// The deliveries expected, from [`FloodConfig::expected_recipients`].
        expected: u32,
    },
    /// Message `msg` arrived here for the first time.
    Delivered {
        /// The message's id.
        msg: u64,
        /// Hops the copy travelled from the origin to here.
        hops: u32,
        /// The neighbour it came from.
        from: NodeId,
    },
    /// This node forwarded message `msg` to its other neighbours.
    Relayed {
        /// The message's id.
        msg: u64,
    },
    /// Another copy of a message this node has seen arrived; it is neither
    /// delivered nor relayed.
    Duplicate {
        /// The message's id.
        msg: u64,
        /// The neighbour it came from.
        from: NodeId,
    },
}

impl Observe for FloodEvent {
    /// `Sent`, `Delivered` and `Relayed` are message-level facts; duplicates
    /// are not.
    fn observe(&self) -> Option<Observation> {
        match *self {
            FloodEvent::Sent { msg, expected } => Some(Observation::Sent { msg, expected }),
            FloodEvent::Delivered { msg, hops, .. } => Some(Observation::Delivered { msg, hops }),
            FloodEvent::Relayed { msg } => Some(Observation::Relayed { msg }),
            FloodEvent::Duplicate { .. } => None,
        }
    }
}

/// One node's flood state machine.
///
/// # Methods
///
/// - Getters: [`id`](Flood::id), [`neighbours`](Flood::neighbours),
///   [`config`](Flood::config), [`seen`](Flood::seen).
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   originates a message; [`handle_datagram`](Protocol::handle_datagram)
///   delivers, relays or discards a copy;
///   [`handle_timeout`](Protocol::handle_timeout) forgets seen ids whose time
///   to live has run out.
/// - Outputs, from [`Protocol`]: [`poll_output`](Protocol::poll_output) yields
///   events, transmits and drops in the order they arose (an event before the
///   transmits it explains); [`poll_timeout`](Protocol::poll_timeout) is the
///   next expiry in the seen set.
///
/// A driver calls one `handle_*`, drains `poll_output` to `None`, then reads
/// `poll_timeout` and calls `handle_timeout` no earlier than that instant.
///
/// # Behaviour
///
/// - Message ids are `(origin node id << 32) | sequence`, the sequence
///   counting from 0 and wrapping after 2³² messages.
/// - The origin puts its own message in its seen set, so it neither delivers
///   nor relays it when copies come back.
/// - A copy is relayed only if its hop limit is above 1, with the hop limit
///   one less and the hop count one more, to every neighbour but the sender.
///   Each node therefore relays a message at most once while it remembers it.
/// - A well-formed copy that arrives with hop limit 0 could not have been sent
///   by this protocol; it is dropped with [`DropCause::Expired`].
/// - Every input first expires the seen ids due at `now`.
/// - Bytes that are not a flood datagram give exactly one
///   `Output::Drop { cause: DropCause::Malformed, .. }` and nothing else.
///
/// # Implementation notes
///
/// - The payload stands for an application message of the requested size;
///   relays re-emit the header they parsed with a zero payload of the same
///   length rather than copy the bytes they received.
/// - Once a node forgets an id (after `seen_ttl`), a copy still in flight is
///   delivered and relayed again; the hop limit bounds how far such a late
///   copy spreads. Flooding in the field (BLE mesh's message cache) has the
///   same trade-off between memory and duplicates.
#[derive(Clone, Debug)]
pub struct Flood {
    id: NodeId,
    neighbours: Vec<NodeId>,
    config: FloodConfig,
    next_seq: u32,
    seen: SeenCache,
    outputs: VecDeque<Output<FloodEvent>>,
}

impl Flood {
    /// A node with address `id` that floods to `neighbours`.
    ///
    /// The neighbours are sorted and deduplicated, and `id` itself is left
    /// out, so each neighbour gets one copy and transmits leave in node order.
    pub fn new(id: NodeId, mut neighbours: Vec<NodeId>, config: FloodConfig) -> Self {
        neighbours.sort_unstable();
        neighbours.dedup();
        neighbours.retain(|&n| n != id);
        Flood {
            id,
            neighbours,
            config,
            next_seq: 0,
            seen: SeenCache::new(config.seen_ttl),
            outputs: VecDeque::new(),
        }
    }

    /// Makes this node number its messages from `seq` on instead of 0.
    ///
    /// A message id is (node << 32) | sequence number, and ids must be unique
    /// in a run. A node rebuilt after a crash that lost its state would start
    /// again at 0 and reuse its earlier ids, so builders start each
    /// incarnation at a random sequence number drawn from its RNG stream, as
    /// libp2p does with its randomised seqno. Two incarnations then collide
    /// only if their ranges overlap (probability about messages / 2³²), and
    /// the kernel counts any reused id it sees.
    pub fn with_initial_seq(mut self, seq: u32) -> Self {
        self.next_seq = seq;
        self
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The nodes it floods to, in ascending order.
    pub fn neighbours(&self) -> &[NodeId] {
        &self.neighbours
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &FloodConfig {
        &self.config
    }

    /// The message ids it remembers.
    pub fn seen(&self) -> &SeenCache {
        &self.seen
    }

    /// Queues `repr` for every neighbour except `except`, encoded once.
    fn send(&mut self, repr: wire::Repr, except: Option<NodeId>) {
        let bytes = Datagram::from(repr.to_bytes());
        for &to in &self.neighbours {
            if Some(to) != except {
                self.outputs.push_back(Output::Transmit {
                    to,
                    bytes: bytes.clone(),
                });
            }
        }
    }
}

impl Protocol for Flood {
    type Command = FloodCommand;
    type Event = FloodEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.seen.expire(now);
        let drop = |cause| Output::Drop {
            from,
            len: bytes.len(),
            cause,
        };
        let repr = match wire::Packet::new_checked(bytes).and_then(|p| wire::Repr::parse(&p)) {
            Ok(repr) => repr,
            Err(_) => {
                self.outputs.push_back(drop(DropCause::Malformed));
                return;
            }
        };
        if repr.hop_limit == 0 {
            self.outputs.push_back(drop(DropCause::Expired));
            return;
        }
        if !self.seen.insert(now, repr.id) {
            self.outputs
                .push_back(Output::Event(FloodEvent::Duplicate { msg: repr.id, from }));
            return;
        }
        self.outputs.push_back(Output::Event(FloodEvent::Delivered {
            msg: repr.id,
            hops: u32::from(repr.hops) + 1,
            from,
        }));
        if repr.hop_limit > 1 {
            let relay = wire::Repr {
                hop_limit: repr.hop_limit - 1,
                // Only a forged copy can have travelled 255 hops already.
                hops: repr.hops.saturating_add(1),
                ..repr
            };
            if self.neighbours.iter().any(|&n| n != from) {
                self.outputs
                    .push_back(Output::Event(FloodEvent::Relayed { msg: repr.id }));
                self.send(relay, Some(from));
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: FloodCommand) {
        self.seen.expire(now);
        match cmd {
            FloodCommand::Broadcast { size } => {
                let msg = (u64::from(self.id.0) << 32) | u64::from(self.next_seq);
                self.next_seq = self.next_seq.wrapping_add(1);
                self.seen.insert(now, msg);
                self.outputs.push_back(Output::Event(FloodEvent::Sent {
                    msg,
                    expected: self.config.expected_recipients,
                }));
                if self.config.hop_limit > 0 {
                    let repr = wire::Repr {
                        id: msg,
                        hop_limit: self.config.hop_limit,
                        hops: 0,
                        payload_len: size,
                    };
                    self.send(repr, None);
                }
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.seen.expire(now);
    }

    fn poll_output(&mut self) -> Option<Output<FloodEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.seen.next_expiry()
    }
}
