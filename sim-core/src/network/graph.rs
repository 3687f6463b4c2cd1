//! Explicit links on a petgraph graph.
//!
//! Each undirected edge of a topology becomes two link directions, each with its
//! own [`LinkConfig`] (so links can be asymmetric), its own state and its own
//! RNG stream. A node can send only to its neighbours: a datagram to any other
//! node is dropped as `no_route`, because multi-hop delivery is the protocols'
//! business here (flooding, DHT routing), not the network's.

use petgraph::graphmap::DiGraphMap;

use super::link::{LinkConfig, LinkState};
use super::{LinkChange, Network, NetworkError};
use crate::metrics::DropCause;
use crate::protocol::NodeId;
use crate::rng::{RngStreams, SimRng};
use crate::time::{Duration, Instant};

/// A network of explicit point-to-point links.
#[derive(Debug)]
pub struct GraphNetwork {
    /// Directed edges; the weight is the index of the direction in `links`.
    graph: DiGraphMap<u32, u32>,
    links: Vec<LinkState>,
    rngs: Vec<SimRng>,
    nodes: u32,
    streams: RngStreams,
}

impl GraphNetwork {
    /// `nodes` nodes and no links yet; link RNG streams derive from `streams`.
    pub fn new(nodes: u32, streams: RngStreams) -> Self {
        let mut graph = DiGraphMap::new();
        for n in 0..nodes {
            graph.add_node(n);
        }
        GraphNetwork {
            graph,
            links: Vec::new(),
            rngs: Vec::new(),
            nodes,
            streams,
        }
    }

    /// Adds a link between `a` and `b`: `forward` configures a→b and `backward`
    /// b→a. Adding an existing direction again replaces its configuration.
    pub fn add_link(&mut self, a: NodeId, b: NodeId, forward: LinkConfig, backward: LinkConfig) {
        self.add_direction(a, b, forward);
        self.add_direction(b, a, backward);
    }

    /// Adds the single direction `from`→`to`.
    pub fn add_direction(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        assert!(
            from.0 < self.nodes && to.0 < self.nodes,
            "link to a node outside the network"
        );
        if let Some(&i) = self.graph.edge_weight(from.0, to.0) {
            self.links[i as usize] = LinkState::new(config);
            return;
        }
        let i = u32::try_from(self.links.len()).expect("fewer than 2^32 links");
        self.links.push(LinkState::new(config));
        self.rngs.push(self.streams.link(i));
        self.graph.add_edge(from.0, to.0, i);
    }

    /// The link direction `from`→`to`, if there is one.
    pub fn link(&self, from: NodeId, to: NodeId) -> Option<&LinkState> {
        self.graph
            .edge_weight(from.0, to.0)
            .map(|&i| &self.links[i as usize])
    }

    /// The directed graph of links.
    pub fn graph(&self) -> &DiGraphMap<u32, u32> {
        &self.graph
    }

    fn link_mut(&mut self, from: NodeId, to: NodeId) -> Option<&mut LinkState> {
        let i = *self.graph.edge_weight(from.0, to.0)?;
        Some(&mut self.links[i as usize])
    }
}

impl Network for GraphNetwork {
    fn node_count(&self) -> u32 {
        self.nodes
    }

    fn send(
        &mut self,
        now: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
    ) -> Result<Instant, DropCause> {
        let Some(&i) = self.graph.edge_weight(from.0, to.0) else {
            return Err(DropCause::NoRoute);
        };
        let i = i as usize;
        self.links[i].transmit(now, len, &mut self.rngs[i])
    }

    fn change_link(
        &mut self,
        a: NodeId,
        b: NodeId,
        change: &LinkChange,
    ) -> Result<(), NetworkError> {
        if self.link(a, b).is_none() && self.link(b, a).is_none() {
            return Err(NetworkError::NoSuchLink(a, b));
        }
        for (from, to) in [(a, b), (b, a)] {
            if let Some(link) = self.link_mut(from, to) {
                match change {
                    LinkChange::Down => link.set_up(false),
                    LinkChange::Up => link.set_up(true),
                    LinkChange::SetLoss(loss) => link.set_loss(loss.clone()),
                }
            }
        }
        Ok(())
    }

    fn min_delay(&self, from: NodeId, to: NodeId) -> Option<Duration> {
        self.link(from, to).map(|l| l.config().min_delay())
    }

    fn neighbours(&self, node: NodeId) -> Option<Vec<NodeId>> {
        Some(self.graph.neighbors(node.0).map(NodeId).collect())
    }
}
