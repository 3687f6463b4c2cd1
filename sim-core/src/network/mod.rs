//! Network models: what happens to a datagram between two nodes.
//!
//! The kernel asks a [`Network`] two questions per datagram: at send time, when
//! does it reach the receiver's edge (or why is it dropped), and at that moment,
//! when is it handed to the receiver (after the receiver's own access queue, if
//! the model has one). Node state (up or down) and partitions are the kernel's
//! business; everything about links, queues, bandwidth and loss is the model's.
//!
//! Three models share this interface:
//! - [`GraphNetwork`]: explicit links on a petgraph graph, each with a latency
//!   distribution, jitter, bandwidth and a drop-tail queue, loss and MTU;
//! - [`InternetNetwork`]: all pairs, with regions, a latency matrix and per-node
//!   access bandwidth, and no per-pair storage, for overlays of 10⁵–10⁶ nodes;
//! - [`RadioNetwork`]: the radio model for BLE meshes: nodes with positions,
//!   ranges and mobility ([`Mobility`]: static, random waypoint, scripted),
//!   linked while in range, with optional log-distance path loss
//!   ([`PathLoss`]), connection events, airtime and the 244-byte MTU; its
//!   links are dynamic, so it answers broadcasts from a spatial grid and has
//!   no explicit neighbours.

mod graph;
mod internet;
mod link;
mod loss;
mod mobility;
mod radio;
mod spatial;

pub use graph::GraphNetwork;
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
}
