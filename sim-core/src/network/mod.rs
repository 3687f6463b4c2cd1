//! Network models: what happens to a datagram between two nodes.
//!
//! The kernel asks a [`Network`] two questions per datagram: at send time, when
//! does it reach the receiver's edge (or why is it dropped), and at that moment,
//! when is it handed to the receiver (after the receiver's own access queue, if
//! the model has one). Node state (up or down) and partitions are the kernel's
//! business; everything about links, queues, bandwidth and loss is the model's.
//!
//! Four models share this interface:
//! - [`GraphNetwork`]: explicit links on a petgraph graph, each with a latency
//!   distribution, jitter, bandwidth and a drop-tail queue, loss and MTU;
//! - [`InternetNetwork`]: all pairs, with regions, a latency matrix and per-node
//!   access bandwidth, and no per-pair storage, for overlays of 10⁵–10⁶ nodes;
//! - [`RadioNetwork`]: the radio model for BLE meshes: nodes with positions,
//!   ranges and mobility ([`Mobility`]: static, random waypoint, scripted),
//!   linked while in range, with optional log-distance path loss
//!   ([`PathLoss`]), connection events, airtime and the 244-byte MTU; its
//!   links are dynamic, so it answers broadcasts from a spatial grid and has
//!   no explicit neighbours;
//! - [`HybridNetwork`]: a phone's two networks at once, the internet model
//!   on [`Interface::IP`] and the radio model on [`Interface::RADIO`], with
//!   each datagram sent on the interface a classifier reads from its bytes
//!   (the transport manager's BLE packets on the radio, the rest on IP).
//!
//! # Interfaces
//!
//! A node may have more than one way onto the network. The kernel asks the
//! model which [`Interface`] a datagram leaves by
//! ([`Network::interface`]), passes it to [`Network::send_via`] and
//! [`Network::arrive_via`], and charges the node's battery that interface's
//! price per byte. Models with one network leave all three at their
//! defaults: everything on [`Interface::IP`], the first.

mod graph;
mod hybrid;
mod internet;
mod link;
mod loss;
mod mobility;
mod radio;
mod spatial;

pub use graph::GraphNetwork;
pub use hybrid::{Classifier, HybridNetwork};
pub use internet::{AccessClass, InternetConfig, InternetNetwork};
pub use link::{LinkConfig, LinkState, Transmitter};
pub use loss::{Loss, LossState};
pub use mobility::{Mobility, Point};
pub use radio::{PathLoss, RadioConfig, RadioNetwork, RadioNode};

use crate::metrics::DropCause;
use crate::protocol::NodeId;
use crate::time::{Duration, Instant};

/// A change to one link, applied by a scheduled fault.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkChange {
    /// The link stops carrying packets (both directions).
    Down,
    /// The link carries packets again.
    Up,
    /// The link's loss model is replaced (both directions).
    SetLoss(Loss),
}

/// Why a network refused a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The two nodes have no link between them.
    #[error("there is no link between {0} and {1}")]
    NoSuchLink(NodeId, NodeId),
    /// The model has no per-link state to change.
    #[error("the {0} network model has no links to change")]
    NoLinks(&'static str),
}

/// One of a node's ways onto the network. See the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interface(u8);

impl Interface {
    /// The first interface: the only one of single-network models, and the
    /// IP side (Wi-Fi or cellular) of the hybrid model.
    pub const IP: Interface = Interface(0);
    /// The hybrid model's short-range radio (BLE).
    pub const RADIO: Interface = Interface(1);
    /// How many interfaces a node may have.
    pub const COUNT: usize = 2;

    /// Its index, `0..COUNT`.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A model of the network between nodes. See the [module docs](self).
pub trait Network {
    /// How many nodes the network connects (ids `0..node_count`).
    fn node_count(&self) -> u32;
    /// `from` hands `len` bytes for `to` to the network at `now`: the time they
    /// reach `to`'s edge, or why they are dropped.
    fn send(
        &mut self,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause>;
    /// The datagram reached `to`'s edge at `now`: the time it is handed to `to`
    /// (after `to`'s access queue), or why it is dropped there.
    fn arrive(&mut self, now: Instant, to: NodeId, len: usize) -> Result<Instant, DropCause> {
        let _ = (to, len);
        Ok(now)
    }
    /// Applies a link fault between `a` and `b`.
    fn change_link(
        &mut self,
        a: NodeId,
        b: NodeId,
        change: &LinkChange,
    ) -> Result<(), NetworkError>;
    /// The shortest delay a datagram from `from` to `to` can have, or `None` if
    /// it can never arrive. Property tests hold deliveries against it.
    fn min_delay(&self, from: NodeId, to: NodeId) -> Option<Duration>;
    /// A time `L` within which nodes cannot reach one another, if the model
    /// guarantees one: every datagram sent at `t` reaches its receiver's
    /// edge at `t + L` or later, and [`arrive_via`](Network::arrive_via)
    /// hands it over at once without reading or changing any state. The
    /// kernel may then run the nodes of each window of `L` in parallel
    /// ([`Simulation::run_in_windows`](crate::Simulation::run_in_windows)).
    /// The default is `None`: no guarantee.
    fn lookahead(&self) -> Option<Duration> {
        None
    }
    /// The nodes `node` can send to directly, if the model has explicit links.
    fn neighbours(&self, node: NodeId) -> Option<Vec<NodeId>>;
    /// The nodes a link-layer broadcast from `from` at `now` reaches, pushed
    /// onto `out` in ascending id order (the kernel sends each a copy). The
    /// default is the explicit neighbours, or nobody for models without links
    /// (a broadcast there reaches no one and costs nothing).
    fn broadcast_targets(&mut self, now: Instant, from: NodeId, out: &mut Vec<NodeId>) {
        let _ = now;
        out.extend(self.neighbours(from).unwrap_or_default());
    }
    /// The interface `from` sends `bytes` on. The default is the only one,
    /// [`Interface::IP`].
    fn interface(&self, from: NodeId, bytes: &[u8]) -> Interface {
        let _ = (from, bytes);
        Interface::IP
    }
    /// [`send`](Network::send) on interface `via`. The default ignores the
    /// interface.
    fn send_via(
        &mut self,
        via: Interface,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        let _ = via;
        self.send(now, from, to, len)
    }
    /// [`arrive`](Network::arrive) on interface `via`. The default ignores
    /// the interface.
    fn arrive_via(
        &mut self,
        via: Interface,
        now: Instant,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        let _ = via;
        self.arrive(now, to, len)
    }
}
