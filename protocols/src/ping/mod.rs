//! Ping: request/response round trips, the simplest protocol that carries
//! messages.
//!
//! A [`PingCommand`] makes a node send a request of a chosen size to a peer;
//! the peer answers with a response of the same size that echoes the request's
//! id. The sender reports [`PingEvent::Sent`] when the request leaves,
//! [`PingEvent::Reply`] when the response comes back and
//! [`PingEvent::TimedOut`] if it does not come back within
//! [`PingConfig::timeout`]. Through [`Observe`], `Sent` and `Reply` become the
//! kernel's [`Observation::Sent`] and [`Observation::Delivered`] (two hops),
//! so the kernel measures round-trip times and the fraction answered.
//!
//! The bytes are in [`wire`]; the machine is [`Ping`].
//!
//! ```
//! use protocols::ping::{Ping, PingCommand, PingConfig, PingEvent};
//! use sim_core::{Instant, NodeId, Output, Protocol};
//!
//! let (mut a, mut b) = (Ping::new(NodeId(0), PingConfig::default()),
//!                       Ping::new(NodeId(1), PingConfig::default()));
//! let now = Instant::ZERO;
//! a.handle_command(now, PingCommand { to: NodeId(1), size: 64 });
//! assert!(matches!(a.poll_output(), Some(Output::Event(PingEvent::Sent { .. }))));
//! let Some(Output::Transmit { to: NodeId(1), bytes }) = a.poll_output() else { panic!() };
//! assert_eq!(bytes.len(), 64);
//!
//! b.handle_datagram(now, NodeId(0), &bytes);
//! let Some(Output::Transmit { to: NodeId(0), bytes }) = b.poll_output() else { panic!() };
//!
//! a.handle_datagram(now, NodeId(1), &bytes);
//! assert!(matches!(a.poll_output(), Some(Output::Event(PingEvent::Reply { from: NodeId(1), .. }))));
//! assert_eq!(a.poll_timeout(), None);
//! ```

mod config;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sim_core::{DropCause, Instant, NodeId, Observation, Observe, Output, Protocol};

pub use config::PingConfig;

/// Ask a node to ping a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingCommand {
    /// The peer to ping.
    pub to: NodeId,
    /// The request's size on the wire in bytes. The request is padded to this
    /// size; a size smaller than the header ([`wire::HEADER_LEN`]) gives a
    /// bare header. The response has the same size.
    pub size: u32,
}

/// What a [`Ping`] node reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingEvent {
    /// A request left for `to`.
    Sent {
        /// The round trip's id.
        id: u64,
        /// The peer pinged.
        to: NodeId,
    },
    /// The response to an outstanding request arrived.
    Reply {
        /// The round trip's id.
        id: u64,
        /// The peer that answered.
        from: NodeId,
    },
    /// No response came within the timeout; the request is forgotten and a
    /// late response will be ignored.
    TimedOut {
        /// The round trip's id.
        id: u64,
    },
}

impl Observe for PingEvent {
    /// `Sent` is a message expecting one delivery; `Reply` delivers it after
    /// two hops (there and back); `TimedOut` tells the kernel nothing it does
    /// not already count as undelivered.
    fn observe(&self) -> Option<Observation> {
        match *self {
            PingEvent::Sent { id, .. } => Some(Observation::Sent {
                msg: id,
                expected: 1,
            }),
            PingEvent::Reply { id, .. } => Some(Observation::Delivered { msg: id, hops: 2 }),
            PingEvent::TimedOut { .. } => None,
        }
    }
}

/// One node's ping state machine.
///
/// # Methods
///
/// - Getters: [`id`](Ping::id), [`config`](Ping::config),
///   [`outstanding`](Ping::outstanding).
/// - Inputs, from [`Protocol`]: [`handle_command`](Protocol::handle_command)
///   sends a request; [`handle_datagram`](Protocol::handle_datagram) answers
///   requests and matches responses; [`handle_timeout`](Protocol::handle_timeout)
///   expires requests whose deadline has come.
/// - Outputs, from [`Protocol`]: [`poll_output`](Protocol::poll_output) yields
///   transmits, events and drops in the order they arose;
///   [`poll_timeout`](Protocol::poll_timeout) is the earliest deadline of an
///   outstanding request.
///
/// A driver calls one `handle_*`, drains `poll_output` to `None`, then reads
/// `poll_timeout` and calls `handle_timeout` no earlier than that instant.
///
/// # Behaviour
///
/// - Request ids are `(node id << 32) | sequence`, the sequence counting from
///   0 and wrapping after 2³² requests.
/// - A request is answered whether or not this node pinged anyone; answering
///   keeps no state.
/// - A response counts only if its id is outstanding and it comes from the
///   node that was pinged; any other response (unknown, duplicate, late, or
///   from a third node) is ignored without an output.
/// - Every input first expires the requests due at `now`, so a response that
///   arrives at or after its deadline is late, whether the driver calls
///   `handle_timeout` before or after delivering it.
/// - Bytes that are not a ping datagram give exactly one
///   `Output::Drop { cause: DropCause::Malformed, .. }` and nothing else.
#[derive(Clone, Debug)]
pub struct Ping {
    id: NodeId,
    config: PingConfig,
    next_seq: u32,
    /// Requests awaiting a response, by id.
    outstanding: BTreeMap<u64, Outstanding>,
    /// The timer table: one deadline per outstanding request, earliest first.
    deadlines: BTreeSet<(Instant, u64)>,
    outputs: VecDeque<Output<PingEvent>>,
}

/// A request awaiting its response.
#[derive(Clone, Copy, Debug)]
struct Outstanding {
    to: NodeId,
    deadline: Instant,
}

impl Ping {
    /// A node with address `id` and no request outstanding.
    pub fn new(id: NodeId, config: PingConfig) -> Self {
        Ping {
            id,
            config,
            next_seq: 0,
            outstanding: BTreeMap::new(),
            deadlines: BTreeSet::new(),
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

    /// The parameters it was built with.
    pub fn config(&self) -> &PingConfig {
        &self.config
    }

    /// How many requests await a response.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Forgets every request whose deadline is at or before `now`, reporting
    /// each as timed out, earliest first.
    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            self.outstanding.remove(&id);
            self.outputs
                .push_back(Output::Event(PingEvent::TimedOut { id }));
        }
    }
}

impl Protocol for Ping {
    type Command = PingCommand;
    type Event = PingEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.expire(now);
        let repr = match wire::Packet::new_checked(bytes).and_then(|p| wire::Repr::parse(&p)) {
            Ok(repr) => repr,
            Err(_) => {
                self.outputs.push_back(Output::Drop {
                    from,
                    len: bytes.len(),
                    cause: DropCause::Malformed,
                });
                return;
            }
        };
        match repr.kind {
            wire::Kind::Request => {
                let response = wire::Repr {
                    kind: wire::Kind::Response,
                    ..repr
                };
                self.outputs.push_back(Output::Transmit {
                    to: from,
                    bytes: response.to_bytes().into(),
                });
            }
            wire::Kind::Response => {
                let Some(request) = self.outstanding.get(&repr.id) else {
                    return;
                };
                if request.to != from {
                    return;
                }
                self.deadlines.remove(&(request.deadline, repr.id));
                self.outstanding.remove(&repr.id);
                self.outputs
                    .push_back(Output::Event(PingEvent::Reply { id: repr.id, from }));
            }
        }
    }

    fn handle_command(&mut self, now: Instant, cmd: PingCommand) {
        self.expire(now);
        let id = (u64::from(self.id.0) << 32) | u64::from(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        let deadline = now.saturating_add(self.config.timeout);
        let request = Outstanding {
            to: cmd.to,
            deadline,
        };
        // Only a sequence that wrapped all the way round can reuse an id that
        // is still outstanding; the new request then replaces the old one.
        if let Some(old) = self.outstanding.insert(id, request) {
            self.deadlines.remove(&(old.deadline, id));
        }
        self.deadlines.insert((deadline, id));
        let repr = wire::Repr {
            kind: wire::Kind::Request,
            id,
            padding: cmd.size.saturating_sub(wire::HEADER_LEN as u32),
        };
        self.outputs
            .push_back(Output::Event(PingEvent::Sent { id, to: cmd.to }));
        self.outputs.push_back(Output::Transmit {
            to: cmd.to,
            bytes: repr.to_bytes().into(),
        });
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    fn poll_output(&mut self) -> Option<Output<PingEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }
}
