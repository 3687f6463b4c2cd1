//! A libp2p node of the seed's network (`shared/seeds/003…`): Kademlia for
//! finding peers and records, GossipSub for messages, Identify and Ping, all
//! on one node, as bootstrap or worker.
//!
//! # How the parts work together
//!
//! - The node's DHT starts by bootstrapping through the bootstrap nodes it is
//!   given (a lookup for its own key), then refreshes buckets as its config
//!   says; a warm-started DHT ([`crate::dht::WarmStart`]) has its table
//!   already.
//! - Every peer the DHT's routing table gains becomes a gossip peer (a libp2p
//!   connection carries every protocol), until the node has `gossip_peers` of
//!   them, and is asked to identify itself; so a node finds its gossip peers
//!   through the DHT, as in the seed.
//! - A worker subscribes to its topics at start; a bootstrap node takes part
//!   in gossip (it forwards and gossips) but subscribes to nothing, like the
//!   seed's bootstrap service. The seed's relay role (circuit relay and DCUtR
//!   hole punching) is not modelled: the simulated network has no NATs.
//!
//! # Wire
//!
//! One datagram carries one protocol's message behind a one-byte protocol tag
//! (`K` Kademlia, `G` GossipSub, `I` Identify, `P` Ping), standing in for the
//! stream-per-protocol negotiation of multistream-select. A datagram with an
//! unknown tag is a counted `malformed` drop.
//!
//! # Driving it
//!
//! - getters: [`Libp2pNode::id`], [`Libp2pNode::role`], [`Libp2pNode::dht`],
//!   [`Libp2pNode::gossip`];
//! - inputs: `handle_command` ([`Libp2pCommand`]), `handle_datagram`,
//!   `handle_timeout`;
//! - outputs: `poll_output` until `None`, then `poll_timeout`.

use std::collections::VecDeque;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sim_core::{
    Datagram, DropCause, Instant, NodeId, Observation, Observe, Output, Protocol, SimRng,
};

use crate::dht::{Dht, DhtCommand, DhtConfig, DhtEvent};
use crate::gossip::{Gossip, GossipCommand, GossipConfig, GossipEvent, TopicId};
use crate::identify::{Identify, IdentifyCommand, IdentifyEvent};
use crate::ping::{Ping, PingCommand, PingConfig, PingEvent};

/// A node's part in the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// An entry point: answers the DHT, forwards gossip, subscribes to nothing.
    Bootstrap,
    /// A worker: joins through the bootstrap nodes and subscribes to topics.
    #[default]
    Worker,
}

/// A libp2p node's parameters, as a scenario writes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Libp2pConfig {
    /// The node's role.
    pub role: Role,
    /// Topics a worker subscribes to at start.
    pub topics: Vec<u32>,
    /// How many DHT-discovered peers become gossip peers (default 50). A real
    /// node stays connected to every peer its DHT finds; a small cap is
    /// dangerous: the first peers a node hears from are its low-latency
    /// neighbours, and with 12 of them the libp2p-network scenario's mesh
    /// split by region (delivery ratio 0.33 instead of 1.0).
    pub gossip_peers: u32,
    /// The DHT's parameters.
    pub dht: DhtConfig,
    /// GossipSub's parameters.
    pub gossip: GossipConfig,
}

impl Default for Libp2pConfig {
    fn default() -> Self {
        Libp2pConfig {
            role: Role::Worker,
            topics: vec![0],
            gossip_peers: 50,
            dht: DhtConfig::default(),
            gossip: GossipConfig::default(),
        }
    }
}

/// What a workload can ask of a libp2p node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Libp2pCommand {
    /// Publish `size` payload bytes on a topic.
    Publish {
        /// The topic.
        topic: TopicId,
        /// Payload bytes.
        size: u32,
    },
    /// A DHT operation (lookup, put, provide…).
    Dht(DhtCommand),
    /// Ping a peer.
    Ping(PingCommand),
}

/// What a libp2p node reports: its parts' events.
#[derive(Clone, Debug, PartialEq)]
pub enum Libp2pEvent {
    /// From the DHT.
    Dht(DhtEvent),
    /// From GossipSub.
    Gossip(GossipEvent),
    /// From Identify.
    Identify(IdentifyEvent),
    /// From Ping.
    Ping(PingEvent),
}

impl Observe for Libp2pEvent {
    fn observe(&self) -> Option<Observation> {
        match self {
            Libp2pEvent::Dht(e) => e.observe(),
            Libp2pEvent::Gossip(e) => e.observe(),
            Libp2pEvent::Identify(e) => e.observe(),
            Libp2pEvent::Ping(e) => e.observe(),
        }
    }
}

const TAG_DHT: u8 = b'K';
const TAG_GOSSIP: u8 = b'G';
const TAG_IDENTIFY: u8 = b'I';
const TAG_PING: u8 = b'P';

/// The protocol ids a node announces through Identify.
const PROTOCOLS: [&str; 4] = [
    "/ipfs/kad/1.0.0",
    "/meshsub/1.1.0",
    "/ipfs/id/1.0.0",
    "/ipfs/ping/1.0.0",
];

/// One libp2p node. See the [module docs](self).
#[derive(Debug)]
pub struct Libp2pNode {
    id: NodeId,
    config: Libp2pConfig,
    dht: Dht,
    gossip: Gossip,
    identify: Identify,
    ping: Ping,
    /// Whether the start-up work (bootstrap, subscriptions) is done.
    started: bool,
    outputs: VecDeque<Output<Libp2pEvent>>,
}

impl Libp2pNode {
    /// A node with address `id` that joins through `bootstrap` (the other
    /// bootstrap nodes, for a bootstrap node). Its parts draw their RNG
    /// streams and initial sequence numbers from `rng`, so a node rebuilt
    /// after a crash neither repeats its choices nor reuses message ids.
    pub fn new(id: NodeId, bootstrap: Vec<NodeId>, config: Libp2pConfig, mut rng: SimRng) -> Self {
        let (seq, ping_seq, lookup_seq) = (rng.next_u32(), rng.next_u32(), rng.next_u32());
        let gossip_rng = fork(&mut rng);
        let dht = Dht::new(id, bootstrap, config.dht, rng).with_initial_lookup_seq(lookup_seq);
        let gossip = Gossip::new(id, config.gossip, gossip_rng).with_initial_seq(seq);
        let identify = Identify::new(
            id,
            PROTOCOLS.iter().map(|p| p.to_string()).collect(),
            "p2psim",
        );
        let ping = Ping::new(id, PingConfig::default()).with_initial_seq(ping_seq);
        Libp2pNode {
            id,
            config,
            dht,
            gossip,
            identify,
            ping,
            started: false,
            outputs: VecDeque::new(),
        }
    }

    /// Puts `peers` in the DHT's routing table with no message (a warm start,
    /// see [`crate::dht::WarmStart`]); at start the node also makes the first
    /// `gossip_peers` of them its gossip peers.
    pub fn with_dht_peers(mut self, peers: impl IntoIterator<Item = NodeId>) -> Self {
        self.dht = self.dht.with_peers(peers);
        self
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// Its role.
    pub fn role(&self) -> Role {
        self.config.role
    }
    /// Its DHT.
    pub fn dht(&self) -> &Dht {
        &self.dht
    }
    /// Its GossipSub router.
    pub fn gossip(&self) -> &Gossip {
        &self.gossip
    }

    fn start(&mut self, now: Instant) {
        // The DHT bootstraps itself on its first timeout (`bootstrap_on_start`).
        self.started = true;
        let warm: Vec<NodeId> = self
            .dht
            .connected_peers()
            .take(self.config.gossip_peers as usize)
            .collect();
        for peer in warm {
            self.connect(now, peer);
        }
        if self.config.role == Role::Worker {
            for &t in &self.config.topics {
                self.gossip
                    .handle_command(now, GossipCommand::Subscribe(TopicId(t)));
            }
        }
        self.collect(now);
    }

    /// Makes `peer` a gossip peer (and asks it to identify itself) while the
    /// node has fewer than `gossip_peers`.
    fn connect(&mut self, now: Instant, peer: NodeId) {
        if (self.gossip.peers().len() as u32) < self.config.gossip_peers
            && !self.gossip.peers().contains(peer)
        {
            self.gossip
                .handle_command(now, GossipCommand::AddPeer(peer));
            self.identify
                .handle_command(now, IdentifyCommand::Ask(peer));
        }
    }

    /// Moves every part's outputs to this node's queue, tagging datagrams and
    /// acting on the events that tie the parts together.
    fn collect(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(out) = self.dht.poll_output() {
                progressed = true;
                if let Output::Event(DhtEvent::PeerAdded(peer)) = &out {
                    self.connect(now, *peer);
                }
                self.outputs
                    .push_back(tag(TAG_DHT, out.map_event(Libp2pEvent::Dht)));
            }
            while let Some(out) = self.gossip.poll_output() {
                progressed = true;
                self.outputs
                    .push_back(tag(TAG_GOSSIP, out.map_event(Libp2pEvent::Gossip)));
            }
            while let Some(out) = self.identify.poll_output() {
                progressed = true;
                self.outputs
                    .push_back(tag(TAG_IDENTIFY, out.map_event(Libp2pEvent::Identify)));
            }
            while let Some(out) = self.ping.poll_output() {
                progressed = true;
                self.outputs
                    .push_back(tag(TAG_PING, out.map_event(Libp2pEvent::Ping)));
            }
            if !progressed {
                return;
            }
        }
    }
}

/// A fresh RNG stream for a part, drawn from the node's own.
fn fork(rng: &mut SimRng) -> SimRng {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    <SimRng as rand::SeedableRng>::from_seed(seed)
}

/// Puts the protocol tag in front of a datagram.
fn tag<E>(t: u8, out: Output<E>) -> Output<E> {
    match out {
        Output::Transmit { to, bytes } => {
            let tagged = Datagram::zeroed(bytes.len() + 1, |b| {
                b[0] = t;
                b[1..].copy_from_slice(&bytes);
            });
            Output::Transmit { to, bytes: tagged }
        }
        other => other,
    }
}

impl Protocol for Libp2pNode {
    type Command = Libp2pCommand;
    type Event = Libp2pEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        match bytes.split_first() {
            Some((&TAG_DHT, rest)) => self.dht.handle_datagram(now, from, rest),
            Some((&TAG_GOSSIP, rest)) => self.gossip.handle_datagram(now, from, rest),
            Some((&TAG_IDENTIFY, rest)) => self.identify.handle_datagram(now, from, rest),
            Some((&TAG_PING, rest)) => self.ping.handle_datagram(now, from, rest),
            _ => self.outputs.push_back(Output::Drop {
                from,
                len: bytes.len(),
                cause: DropCause::Malformed,
            }),
        }
        self.collect(now);
    }

    fn handle_command(&mut self, now: Instant, cmd: Libp2pCommand) {
        if !self.started {
            self.start(now);
        }
        match cmd {
            Libp2pCommand::Publish { topic, size } => self
                .gossip
                .handle_command(now, GossipCommand::Publish { topic, size }),
            Libp2pCommand::Dht(c) => self.dht.handle_command(now, c),
            Libp2pCommand::Ping(c) => self.ping.handle_command(now, c),
        }
        self.collect(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if !self.started {
            return self.start(now);
        }
        if self.dht.poll_timeout().is_some_and(|t| t <= now) {
            self.dht.handle_timeout(now);
        }
        if self.gossip.poll_timeout().is_some_and(|t| t <= now) {
            self.gossip.handle_timeout(now);
        }
        if self.ping.poll_timeout().is_some_and(|t| t <= now) {
            self.ping.handle_timeout(now);
        }
        self.collect(now);
    }

    fn poll_output(&mut self) -> Option<Output<Libp2pEvent>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if !self.started {
            // Start as soon as the kernel drives the node.
            return Some(Instant::ZERO);
        }
        [
            self.dht.poll_timeout(),
            self.gossip.poll_timeout(),
            self.ping.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
