//! Deterministic random-number streams derived from the scenario seed.
//!
//! Every consumer of randomness gets its own ChaCha8 stream: one per node (and
//! per incarnation, so a node restarted with fresh state does not replay its old
//! choices), one per graph link, one for each all-pairs network model, workload
//! and fault source. A stream is the ChaCha key expanded from the scenario seed
//! plus a 64-bit stream number that encodes (domain, sub-index, index), so
//! streams never overlap and adding a node never shifts another node's stream.
//! Nothing here, or anywhere in a run, touches a global RNG.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::protocol::NodeId;

/// The RNG every part of a run uses.
pub type SimRng = ChaCha8Rng;

/// Who a stream belongs to; part of the stream number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Domain {
    /// A node's protocol stack.
    Node = 1,
    /// One directed or undirected link of a graph network.
    Link = 2,
    /// A network model's own per-packet randomness (all-pairs models).
    Network = 3,
    /// A workload source.
    Workload = 4,
    /// A fault source (churn).
    Fault = 5,
    /// Topology generation and placement.
    Topology = 6,
    /// A node's movement in the radio model (random-waypoint legs).
    Mobility = 7,
    /// A node's transport (HTX or QUIC keys and choices), per incarnation.
    Transport = 8,
}

/// Derives independent streams from one scenario seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngStreams {
    seed: u64,
}

impl RngStreams {
    /// Streams for a run with this scenario seed.
    pub fn new(seed: u64) -> Self {
        RngStreams { seed }
    }
    /// The scenario seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The stream of `domain`, sub-index `sub` (24 bits used) and `index`.
    pub fn stream(&self, domain: Domain, sub: u32, index: u32) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let stream = (domain as u64) << 56 | u64::from(sub & 0x00FF_FFFF) << 32 | u64::from(index);
        rng.set_stream(stream);
        rng
    }
    /// The stream of a node's `incarnation` (0 at start, +1 per fresh restart).
    pub fn node(&self, node: NodeId, incarnation: u32) -> SimRng {
        self.stream(Domain::Node, incarnation, node.0)
    }
    /// The stream of graph link number `link`.
    pub fn link(&self, link: u32) -> SimRng {
        self.stream(Domain::Link, 0, link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let s = RngStreams::new(42);
        assert_eq!(
            s.node(NodeId(3), 0).next_u64(),
            s.node(NodeId(3), 0).next_u64()
        );
        assert_ne!(
            s.node(NodeId(3), 0).next_u64(),
            s.node(NodeId(4), 0).next_u64()
        );
        assert_ne!(
            s.node(NodeId(3), 0).next_u64(),
            s.node(NodeId(3), 1).next_u64()
        );
        assert_ne!(s.node(NodeId(3), 0).next_u64(), s.link(3).next_u64());
        assert_ne!(
            s.node(NodeId(3), 0).next_u64(),
            RngStreams::new(43).node(NodeId(3), 0).next_u64()
        );
    }
}
