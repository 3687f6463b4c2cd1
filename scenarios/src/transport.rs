//! The transport a group's stack runs over, chosen by the scenario.
//!
//! A group with no `transport` puts its protocol's datagrams straight on the
//! network (the fastest path, and the default). `transport: Htx(...)` or
//! `Quic(...)` runs the same protocol over that transport through
//! [`protocols::transport::Over`]: each datagram of the protocol becomes one
//! message of the transport, which frames, secures, acknowledges and
//! retransmits it. `Raw` is the adapter with no transport work at all, for
//! measuring the adapter itself.
//!
//! [`Node`] is what the kernel drives: a [`Stack`] either bare or over an
//! [`AnyTransport`].

use protocols::htx::{Htx, HtxConfig, HtxNote};
use protocols::quic::{Quic, QuicConfig, QuicNote};
use protocols::transport::{Layered, Over, Raw, Transport, TransportCommand, TransportEvent};
use serde::{Deserialize, Serialize};
use sim_core::{BatteryLevel, Instant, NodeId, Output, Protocol, SimRng};

use crate::stack::{Stack, StackCommand, StackEvent};

/// A transport, as a scenario names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum TransportSpec {
    /// Datagrams handed through the transport adapter unchanged.
    Raw,
    /// The seed's HTX frames over reliable connections.
    Htx(#[serde(default)] HtxConfig),
    /// QUIC-like connections: a stream per message, RFC 9002 recovery.
    Quic(#[serde(default)] QuicConfig),
}

impl TransportSpec {
    /// The transport for node `id`, drawing its keys and choices from `rng`.
    pub fn build(&self, id: NodeId, rng: SimRng) -> AnyTransport {
        match self {
            TransportSpec::Raw => AnyTransport::Raw(Raw::default()),
            TransportSpec::Htx(c) => AnyTransport::Htx(Box::new(Htx::new(id, *c, rng))),
            TransportSpec::Quic(c) => AnyTransport::Quic(Box::new(Quic::new(id, *c, rng))),
        }
    }
}

/// What a transport reports of its own work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportNote {
    /// HTX's note.
    Htx(HtxNote),
    /// QUIC's note.
    Quic(QuicNote),
}

/// Any of the transports, behind one type.
#[derive(Debug)]
pub enum AnyTransport {
    /// No transport work.
    Raw(Raw),
    /// HTX.
    Htx(Box<Htx>),
    /// QUIC.
    Quic(Box<Quic>),
}

macro_rules! forward {
    ($self:ident, $t:ident => $call:expr) => {
        match $self {
            AnyTransport::Raw($t) => $call,
            AnyTransport::Htx($t) => $call,
            AnyTransport::Quic($t) => $call,
        }
    };
}

impl Protocol for AnyTransport {
    type Command = TransportCommand;
    type Event = TransportEvent<TransportNote>;
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        forward!(self, t => t.handle_datagram(now, from, bytes))
    }
    fn handle_command(&mut self, now: Instant, cmd: TransportCommand) {
        forward!(self, t => t.handle_command(now, cmd))
    }
    fn handle_timeout(&mut self, now: Instant) {
        forward!(self, t => t.handle_timeout(now))
    }
    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        match self {
            AnyTransport::Raw(t) => t
                .poll_output()
                .map(|o| o.map_event(|e| e.map_note(|n| match n {}))),
            AnyTransport::Htx(t) => t
                .poll_output()
                .map(|o| o.map_event(|e| e.map_note(TransportNote::Htx))),
            AnyTransport::Quic(t) => t
                .poll_output()
                .map(|o| o.map_event(|e| e.map_note(TransportNote::Quic))),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        forward!(self, t => t.poll_timeout())
    }
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        forward!(self, t => t.handle_battery(now, level))
    }
}

impl Transport for AnyTransport {
    type Note = TransportNote;
}

/// A node as the kernel drives it: its protocol stack, on the network or
/// over a transport.
#[derive(Debug)]
pub enum Node {
    /// Datagrams straight on the network.
    Bare(Stack),
    /// Over a transport.
    Over(Box<Over<Stack, AnyTransport>>),
}

/// A node's event: its stack's, or its transport's note.
pub type NodeEvent = Layered<StackEvent, TransportNote>;

impl Protocol for Node {
    type Command = StackCommand;
    type Event = NodeEvent;
    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        match self {
            Node::Bare(s) => s.handle_datagram(now, from, bytes),
            Node::Over(o) => o.handle_datagram(now, from, bytes),
        }
    }
    fn handle_command(&mut self, now: Instant, cmd: StackCommand) {
        match self {
            Node::Bare(s) => s.handle_command(now, cmd),
            Node::Over(o) => o.handle_command(now, cmd),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Node::Bare(s) => s.handle_timeout(now),
            Node::Over(o) => o.handle_timeout(now),
        }
    }
    fn poll_output(&mut self) -> Option<Output<NodeEvent>> {
        match self {
            Node::Bare(s) => s.poll_output().map(|o| o.map_event(Layered::App)),
            Node::Over(o) => o.poll_output(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Node::Bare(s) => s.poll_timeout(),
            Node::Over(o) => o.poll_timeout(),
        }
    }
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        match self {
            Node::Bare(s) => s.handle_battery(now, level),
            Node::Over(o) => o.handle_battery(now, level),
        }
    }
    fn prefetch(&self, round: u32) {
        match self {
            Node::Bare(s) => s.prefetch(round),
            Node::Over(o) => o.prefetch(round),
        }
    }
}
