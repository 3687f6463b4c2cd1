//! The transport a group's stack runs over, chosen by the scenario.
//!
//! A group with no `transport` puts its protocol's datagrams straight on the
//! network (the fastest path, and the default). `transport: Htx(...)` or
//! `Quic(...)` runs the same protocol over that transport through
//! [`protocols::transport::Over`]: each datagram of the protocol becomes one
//! message of the transport, which frames, secures, acknowledges and
//! retransmits it. `Raw` is the adapter with no transport work at all, for
//! measuring the adapter itself. `Manager(...)` is the seed's transport
//! manager, which holds several of these (and the BLE mesh and a relay)
//! and picks one per message by its policy; on the hybrid network its
//! BitChat packets go on the radio.
//!
//! [`Node`] is what the kernel drives: a [`Stack`] either bare or over an
//! [`AnyTransport`].

use std::sync::Arc;

use protocols::htx::{Htx, HtxConfig, HtxNote};
use protocols::quic::{Quic, QuicConfig, QuicNote};
use protocols::transport::{Layered, Over, Raw, Transport, TransportCommand, TransportEvent};
use protocols::transport_manager::{DeviceType, TmNote, TransportManager, TransportManagerConfig};
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
    /// The seed's transport manager: several transports, one chosen per
    /// message.
    Manager(#[serde(default)] Box<ManagerSpec>),
}

/// The transport manager of a group.
///
/// The scenario fills in what it knows better than the file: the node's
/// device type comes from the group's device class (`kind`) where it has
/// one, peers' device types from theirs, the relay server is the first
/// node of the `relay` group (whose nodes serve the relay), and on the
/// hybrid network BitChat's packets are cut one byte under the radio's MTU,
/// room for the manager's tag.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagerSpec {
    /// The group whose first node is the WebSocket relay (none: no relay).
    pub relay: Option<String>,
    /// The manager's parameters: policy, transports held, timers, queues.
    pub config: TransportManagerConfig,
}

impl TransportSpec {
    /// The transport for node `id`, drawing its keys and choices from `rng`;
    /// a manager looks peers' device types up in `devices`.
    pub fn build(&self, id: NodeId, rng: SimRng, devices: &Arc<[DeviceType]>) -> AnyTransport {
        match self {
            TransportSpec::Raw => AnyTransport::Raw(Raw::default()),
            TransportSpec::Htx(c) => AnyTransport::Htx(Box::new(Htx::new(id, *c, rng))),
            TransportSpec::Quic(c) => AnyTransport::Quic(Box::new(Quic::new(id, *c, rng))),
            TransportSpec::Manager(m) => AnyTransport::Manager(Box::new(
                TransportManager::new(id, m.config.clone(), rng).with_directory(devices.clone()),
            )),
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
    /// The transport manager's note.
    Manager(TmNote),
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
    /// The transport manager.
    Manager(Box<TransportManager>),
}

macro_rules! forward {
    ($self:ident, $t:ident => $call:expr) => {
        match $self {
            AnyTransport::Raw($t) => $call,
            AnyTransport::Htx($t) => $call,
            AnyTransport::Quic($t) => $call,
            AnyTransport::Manager($t) => $call,
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
            AnyTransport::Manager(t) => t
                .poll_output()
                .map(|o| o.map_event(|e| e.map_note(TransportNote::Manager))),
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
