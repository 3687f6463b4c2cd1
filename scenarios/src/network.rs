//! The network model a scenario chose, behind one type.

use sim_core::network::{HybridNetwork, Interface, LinkChange, NetworkError, RadioNetwork};
use sim_core::{DropCause, Duration, GraphNetwork, Instant, InternetNetwork, Network, NodeId};

/// Any of the network models; forwards every call.
#[derive(Debug)]
pub enum AnyNetwork {
    /// Explicit links.
    Graph(GraphNetwork),
    /// All pairs through regions.
    Internet(Box<InternetNetwork>),
    /// Radios in a field.
    Radio(Box<RadioNetwork>),
    /// Internet and radio together.
    Hybrid(Box<HybridNetwork>),
}

macro_rules! forward {
    ($self:ident, $net:ident => $call:expr) => {
        match $self {
            AnyNetwork::Graph($net) => $call,
            AnyNetwork::Internet($net) => $call,
            AnyNetwork::Radio($net) => $call,
            AnyNetwork::Hybrid($net) => $call,
        }
    };
}

impl Network for AnyNetwork {
    fn node_count(&self) -> u32 {
        forward!(self, n => n.node_count())
    }
    fn send(
        &mut self,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        forward!(self, n => n.send(now, from, to, len))
    }
    fn arrive(&mut self, now: Instant, to: NodeId, len: usize) -> Result<Instant, DropCause> {
        forward!(self, n => n.arrive(now, to, len))
    }
    fn change_link(
        &mut self,
        a: NodeId,
        b: NodeId,
        change: &LinkChange,
    ) -> Result<(), NetworkError> {
        forward!(self, n => n.change_link(a, b, change))
    }
    fn min_delay(&self, from: NodeId, to: NodeId) -> Option<Duration> {
        forward!(self, n => n.min_delay(from, to))
    }
    fn lookahead(&self) -> Option<Duration> {
        forward!(self, n => n.lookahead())
    }
    fn neighbours(&self, node: NodeId) -> Option<Vec<NodeId>> {
        forward!(self, n => n.neighbours(node))
    }
    fn broadcast_targets(&mut self, now: Instant, from: NodeId, out: &mut Vec<NodeId>) {
        forward!(self, n => n.broadcast_targets(now, from, out))
    }
    fn interface(&self, from: NodeId, bytes: &[u8]) -> Interface {
        forward!(self, n => n.interface(from, bytes))
    }
    fn send_via(
        &mut self,
        via: Interface,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        forward!(self, n => n.send_via(via, now, from, to, len))
    }
    fn arrive_via(
        &mut self,
        via: Interface,
        now: Instant,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        forward!(self, n => n.arrive_via(via, now, to, len))
    }
}
