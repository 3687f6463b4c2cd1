//! GossipSub v1.1: topic meshes, gossip and peer scoring, after the libp2p
//! specs (`pubsub/gossipsub/gossipsub-v1.0.md` and `gossipsub-v1.1.md`).
//!
//! A node joins topics ([`GossipCommand::Subscribe`]); for each it keeps a
//! *mesh* of about `D` peers that get every message in full, maintained on a
//! heartbeat with GRAFT and PRUNE (v1.1: with backoff and peer exchange).
//! To the other peers of a topic it *gossips*: every heartbeat it sends
//! IHAVE with the ids of recent messages from its [`MessageCache`], and a
//! peer that has not seen one answers IWANT. A [`SeenCache`] turns later
//! copies into duplicates. v1.1 adds flood publishing (a node's own messages
//! go to every topic peer), adaptive gossip (a fraction of the peers, at
//! least `D_lazy`) and a [`PeerScore`] per peer whose thresholds gate
//! gossip, publishing, RPCs and peer exchange.
//!
//! Through [`Observe`], [`GossipEvent::Published`], `Delivered`, `Duplicate`
//! and `Relayed` become the kernel's [`Observation`]s, so the kernel measures
//! delivery ratio, latency, hops and redundancy.
//!
//! The bytes are in [`wire`] (the pubsub protobuf `RPC`); the machine is
//! [`Gossip`]; its parameters are [`GossipConfig`].
//!
//! ```
//! use protocols::gossip::{Gossip, GossipCommand, GossipConfig, GossipEvent, TopicId};
//! use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};
//! use sim_core::{Duration, Instant, NodeId, Output, Protocol};
//!
//! let config = GossipConfig::default();
//! let topic = TopicId(1);
//! let mut a = Gossip::new(NodeId(0), config, ChaCha8Rng::seed_from_u64(0));
//! let mut b = Gossip::new(NodeId(1), config, ChaCha8Rng::seed_from_u64(1));
//! let now = Instant::ZERO;
//!
//! // Both join the topic and connect; each tells the other its topics.
//! b.handle_command(now, GossipCommand::Subscribe(topic));
//! a.handle_command(now, GossipCommand::AddPeer(NodeId(1)));
//! b.handle_command(now, GossipCommand::AddPeer(NodeId(0)));
//! let Some(Output::Transmit { to: NodeId(0), bytes }) = b.poll_output() else { panic!() };
//! a.handle_datagram(now, NodeId(1), &bytes);
//!
//! // a publishes: flood publishing sends it to b, which subscribes.
//! a.handle_command(now, GossipCommand::Publish { topic, size: 1024 });
//! assert!(matches!(a.poll_output(), Some(Output::Event(GossipEvent::Published { .. }))));
//! let Some(Output::Transmit { to: NodeId(1), bytes }) = a.poll_output() else { panic!() };
//! assert!(bytes.len() > 1024);
//!
//! let later = now + Duration::from_millis(20);
//! b.handle_datagram(later, NodeId(0), &bytes);
//! assert!(matches!(
//!     b.poll_output(),
//!     Some(Output::Event(GossipEvent::Delivered { hops: 1, from: NodeId(0), .. }))
//! ));
//! ```

mod backoff;
mod config;
mod heartbeat;
mod mcache;
mod peers;
mod score;
mod small;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use sim_core::dist::uniform_below;
use sim_core::{
    Datagram, DropCause, Duration, Instant, NodeId, Observation, Observe, Output, Protocol, SimRng,
};
use smallvec::SmallVec;

pub use crate::seen::SeenCache;
pub use backoff::BackoffTable;
pub use config::{GossipConfig, ScoreParams, ScoreThresholds};
pub use mcache::{CachedMessage, MessageCache};
pub use peers::{Peer, PeerTable, MAX_PEER_TOPICS};
pub use score::{PeerScore, TopicCounters, MAX_SCORED_TOPICS};
pub use wire::{Invalid, MessageId, TopicId};

use score::Retained;
use wire::{ControlRepr, MessageRepr, Prune, RpcRepr, Subscription};

/// What a workload (or the node layer above) can ask of a [`Gossip`] node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GossipCommand {
    /// A connection to this peer is up: it becomes a gossip peer, and is told
    /// this node's subscriptions (as libp2p does on a new connection).
    AddPeer(NodeId),
    /// The connection to this peer is gone: it leaves every mesh and fanout.
    RemovePeer(NodeId),
    /// Join a topic: announce it to every peer and build its mesh.
    Subscribe(TopicId),
    /// Leave a topic: announce it, and PRUNE the mesh (unsubscribe backoff).
    Unsubscribe(TopicId),
    /// Publish a message of `size` payload bytes to `topic`.
    Publish {
        /// The topic.
        topic: TopicId,
        /// The payload's length in bytes.
        size: u32,
    },
}

/// What a [`Gossip`] node reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GossipEvent {
    /// This node published message `msg`.
    Published {
        /// The message's id.
        msg: MessageId,
        /// Its topic.
        topic: TopicId,
        /// Deliveries expected, from [`GossipConfig::expected_subscribers`].
        expected: u32,
    },
    /// Message `msg` arrived for the first time and this node subscribes to
    /// its topic: it is delivered to the application.
    Delivered {
        /// The message's id.
        msg: MessageId,
        /// Its topic.
        topic: TopicId,
        /// Hops the copy travelled from the author to here.
        hops: u32,
        /// The peer it came from.
        from: NodeId,
    },
    /// Another copy of a message this node has seen (or authored) arrived.
    Duplicate {
        /// The message's id.
        msg: MessageId,
        /// The peer it came from.
        from: NodeId,
    },
    /// This node forwarded message `msg` to its mesh (once per message).
    Relayed {
        /// The message's id.
        msg: MessageId,
    },
    /// `peer` joined this node's mesh of `topic` (we grafted it, or it
    /// grafted us and we accepted).
    Grafted {
        /// The peer.
        peer: NodeId,
        /// The topic.
        topic: TopicId,
    },
    /// `peer` left this node's mesh of `topic` (we pruned it, it pruned us,
    /// it unsubscribed, it disconnected, or we left the topic).
    Pruned {
        /// The peer.
        peer: NodeId,
        /// The topic.
        topic: TopicId,
    },
    /// An RPC came from a node that was not a peer: the connection is two
    /// sided, so it becomes one (and is told our subscriptions).
    InboundPeer {
        /// The new peer.
        peer: NodeId,
    },
    /// A PRUNE from `from` offered `peer`, which is not connected, through
    /// peer exchange; `added` says whether this node added it as a peer
    /// (see [`GossipConfig::px_peer_limit`]). The node layer may connect to
    /// the others itself.
    PeerExchange {
        /// The pruning peer.
        from: NodeId,
        /// The peer offered.
        peer: NodeId,
        /// Whether it was added as a peer.
        added: bool,
    },
    /// A message from `from` failed validation; it counts against `from`'s
    /// score (P₄) and is neither delivered nor forwarded.
    Invalid {
        /// The sender.
        from: NodeId,
        /// The message's topic.
        topic: TopicId,
        /// What was wrong.
        reason: Invalid,
    },
    /// An RPC of `len` bytes from a graylisted peer (score below
    /// `graylist_threshold`) was ignored unread.
    Ignored {
        /// The sender.
        from: NodeId,
        /// The datagram's length.
        len: usize,
    },
}

impl Observe for GossipEvent {
    /// `Published`, `Delivered`, `Duplicate` and `Relayed` are message-level
    /// facts; the rest are not.
    fn observe(&self) -> Option<Observation> {
        match *self {
            GossipEvent::Published { msg, expected, .. } => Some(Observation::Sent {
                msg: msg.0,
                expected,
            }),
            GossipEvent::Delivered { msg, hops, .. } => {
                Some(Observation::Delivered { msg: msg.0, hops })
            }
            GossipEvent::Duplicate { msg, .. } => Some(Observation::Duplicate { msg: msg.0 }),
            GossipEvent::Relayed { msg } => Some(Observation::Relayed { msg: msg.0 }),
            _ => None,
        }
    }
}

/// The mesh of one subscribed topic.
#[derive(Clone, Debug)]
struct TopicMesh {
    topic: TopicId,
    /// Ascending.
    peers: Vec<NodeId>,
}

/// The fanout of a topic this node publishes to without subscribing
/// (without flood publishing).
#[derive(Clone, Debug)]
struct Fanout {
    topic: TopicId,
    peers: Vec<NodeId>,
    last_published: Instant,
}

/// An IWANT we sent: `peer` advertised `id` and should deliver it by
/// `deadline`, or be penalised (P₇).
#[derive(Clone, Copy, Debug)]
struct Promise {
    id: MessageId,
    peer: NodeId,
    deadline: Instant,
}

/// One node's GossipSub v1.1 router.
///
/// # Methods
///
/// - Getters: [`id`](Gossip::id), [`config`](Gossip::config),
///   [`subscriptions`](Gossip::subscriptions), [`peers`](Gossip::peers),
///   [`mesh`](Gossip::mesh), [`fanout`](Gossip::fanout),
///   [`score`](Gossip::score), [`backoff`](Gossip::backoff),
///   [`seen`](Gossip::seen), [`mcache`](Gossip::mcache),
///   [`promises`](Gossip::promises), [`retained`](Gossip::retained),
///   [`next_heartbeat`](Gossip::next_heartbeat).
/// - Inputs, from [`Protocol`]:
///   [`handle_command`](Protocol::handle_command) adds or removes a peer,
///   joins or leaves a topic, or publishes;
///   [`handle_datagram`](Protocol::handle_datagram) processes one RPC
///   (subscriptions, then messages, then control);
///   [`handle_timeout`](Protocol::handle_timeout) runs the heartbeat when it
///   is due.
/// - Outputs, from [`Protocol`]: [`poll_output`](Protocol::poll_output)
///   yields events, transmits and drops in the order they arose (an event
///   before the transmits it explains);
///   [`poll_timeout`](Protocol::poll_timeout) is the next heartbeat.
///
/// A driver calls one `handle_*`, drains `poll_output` to `None`, then reads
/// `poll_timeout` and calls `handle_timeout` no earlier than that instant.
///
/// # Behaviour
///
/// - Heartbeat (every `heartbeat_interval`, first at a random offset in
///   `[0, heartbeat_interval)` drawn from the node's RNG, so that 10⁵ nodes
///   do not beat in the same nanosecond; a node built later keeps that
///   phase): score decay; expiry of backoffs, seen ids, broken IWANT
///   promises (P₇) and retained scores; per topic, prune peers with a
///   negative score, graft up to `D` when below `D_low` (peers with score
///   ≥ 0, not backing off), prune down to `D` when above `D_high` (keeping
///   the `D_score` best, the rest at random, at least `D_out` outbound,
///   with PX), graft outbound peers while fewer than `D_out`, and every
///   `opportunistic_graft_ticks` graft peers above a low median score;
///   fanout expiry and top-up; IHAVE to `max(D_lazy, gossip_factor ·
///   eligible)` non-mesh peers above `gossip_threshold`; the control
///   messages of one heartbeat go to each peer in one RPC; then the message
///   cache shifts. It is the only timer: every expiry waits for it.
/// - A message is processed once: the first copy is recorded in the seen
///   set and the message cache, credited to its sender (P₂, and P₃ if the
///   sender is in the mesh), delivered if this node subscribes to the topic,
///   and forwarded to the topic's mesh except the sender and the author.
///   Later copies, and copies of this node's own messages, are duplicates.
/// - GRAFT: ignored for a topic we do not subscribe to; answered with PRUNE
///   (and the backoff extended) during a backoff, which also costs the peer
///   a behaviour penalty, or when its score is negative or the mesh already
///   has `D_high` peers and the peer is not outbound (with PX then). PRUNE:
///   leave the mesh, back off for the backoff it carries (or
///   `prune_backoff`), and use its PX if the pruning peer scores at least
///   `accept_px_threshold`.
/// - IHAVE (from peers at or above `gossip_threshold`, at most
///   `max_ihave_messages` per peer and heartbeat, only for subscribed
///   topics): unseen ids are asked for with IWANT, at most
///   `max_ihave_length` per peer and heartbeat, and one of them, drawn at
///   random, is a promise. IWANT: answered from the message cache, each
///   message at most `gossip_retransmission` times per peer.
/// - RPCs from a peer below `graylist_threshold` are ignored unread
///   ([`GossipEvent::Ignored`]). Bytes that are not an RPC give exactly one
///   `Output::Drop { cause: DropCause::Malformed, .. }` and nothing else.
///
/// # Implementation notes
///
/// Departures from the specs, and what the simulator fills in:
///
/// - **Wire**: peer ids are 4-byte node ids, topics decimal strings, message
///   ids 12 raw bytes in fields the spec types as `string`, and `Message`
///   carries an extra `hops` field (number 1000) for the kernel's hop
///   counts, which a real implementation skips as unknown; see [`wire`].
///   One RPC per datagram, length-prefixed as on a libp2p stream.
/// - **Payloads** are zeros of the published size; the message cache keeps
///   a message's header, not its bytes, and IWANT answers re-emit it.
/// - **Messages are unsigned** (the simulator has no keys); a message with
///   a signature or key, or without `from`/`seqno`, fails validation and
///   costs its sender P₄. The spec's default policy signs every message.
/// - **Sequence numbers** are 32 bits (wire: 8 bytes), starting where the
///   builder says ([`Gossip::with_initial_seq`]).
/// - **Connection direction**: the simulator has no dialer, so each
///   connection's direction is a fixed hash of the pair ([`is_outbound`]):
///   outbound at exactly one end, for about half of a node's peers. `D_out`,
///   the GRAFT-at-`D_high` rule and the outbound quota use it.
/// - **Inbound connections**: an RPC from a node that is not a peer makes
///   it one (as an inbound connection would), and it is told our topics.
///   There is no connection manager: the node layer decides how many peers
///   a node keeps (`RemovePeer`); only PX additions are capped here.
/// - **Peer exchange**: PX records carry no signed peer record (the spec
///   allows leaving it out); a received record becomes a peer directly
///   while this node has fewer than `px_peer_limit` peers, standing in for
///   a dial and a connection manager.
/// - **Scoring**: one set of topic parameters for every topic (the spec has
///   one per topic, and topics without parameters score nothing); decay
///   runs at every heartbeat (the spec's `DecayInterval` is the heartbeat);
///   P₁ and P₃'s activation use the exact time since the GRAFT rather than a
///   lazily updated one; P₅ (application) and P₆ (IP colocation) are left
///   out; only a disconnected peer's non-idle score is retained, for
///   `retain_score`. A duplicate counts for P₃ if it arrives within
///   `mesh_message_deliveries_window` of the first copy (no validation
///   pipeline: the near-first window starts at arrival). The router compares
///   thresholds with each peer's score as of the last heartbeat, refreshed
///   at once after a penalty, a graft or a prune ([`Peer::current`]): a
///   penalty takes effect at once, a reward (P₁, P₂, P₃) at the next
///   heartbeat, which spares a score computation per datagram.
/// - **Explicit peering, extended validators, IDONTWANT (v1.2)** are not
///   implemented: every valid message is accepted.
/// - **Backoff slack** is one heartbeat: the heartbeat does not re-graft a
///   peer until one heartbeat after its backoff ends, while a GRAFT is
///   penalised only before the backoff ends.
/// - **Spam limits** take go-libp2p's defaults (`gossip_retransmission` 3,
///   `max_ihave_length` 5000, `max_ihave_messages` 10,
///   `iwant_followup_time` 3 s); a peer's subscription list and score
///   counters keep at most [`MAX_PEER_TOPICS`] and [`MAX_SCORED_TOPICS`]
///   topics.
/// - **IWANT answers** go one message per datagram (a datagram network has
///   an MTU; a stream would coalesce them).
/// - **Graylisted RPCs** are reported as [`GossipEvent::Ignored`], not as an
///   `Output::Drop`: the kernel's drop causes have none for "refused".
///
/// # Performance
///
/// At 10⁵ nodes every datagram goes to a node whose state is out of cache,
/// so the cache lines touched per datagram, more than the instructions,
/// set the speed. Hence: `repr(C)` keeps the fields in the order written,
/// what every datagram touches first; an RPC of messages only, or of IHAVE
/// only (nearly every datagram), is read in place without allocating or
/// copying the payload ([`wire::MessagesOnly`], [`wire::IHavesOnly`]); the
/// graylist and gossip thresholds are checked against a lower bound of all
/// scores before any peer is looked up; the seen cache is a flat hash
/// table ([`SeenCache`]) behind an inline line of the ids inserted last,
/// where the later copies of a message and the gossip about it find their
/// id without a miss (`seen` sits last of the hot fields, past the bytes
/// the kernel prefetches of a boxed node, and [`Gossip::prefetch`] asks for
/// it); the peer table's ids sit
/// apart from the rest of its state ([`PeerTable`]), and a peer's topics
/// and score counters are inline for the first one or two topics, so that
/// the heartbeat reads its peers from one allocation rather than from two
/// more per peer; a message is encoded once per forward, by hand, into one
/// shared [`Datagram`] that every transmit of it clones, and so are a
/// heartbeat's IHAVE (when it is the heartbeat's only control message) and
/// the IWANT that answers it.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Gossip {
    // Hot: read by every datagram.
    id: NodeId,
    /// A lower bound of every connected and retained peer's current score:
    /// while it is at or above a threshold, no peer is below it, and the
    /// graylist and gossip checks need not look the sender up.
    min_score: f64,
    graylist_threshold: f64,
    gossip_threshold: f64,
    /// Whether P₃ or P₃b has a weight (else duplicates need no scoring).
    scores_p3: bool,
    /// `max_ihave_messages` and `max_ihave_length`, at most 2¹⁶ − 1.
    max_ihave_messages: u16,
    max_ihave_length: u16,
    next_heartbeat: Instant,
    outputs: VecDeque<Output<GossipEvent>>,
    peers: PeerTable,
    /// By topic; the first inline (nodes mostly join one topic), so that
    /// its peer list is one pointer away.
    mesh: SmallVec<[TopicMesh; 1]>,
    promises: Vec<Promise>,
    mcache: MessageCache,
    seen: SeenCache<SEEN_RECENT>,
    // Cold.
    next_seq: u32,
    ticks: u64,
    heartbeat_interval: Duration,
    fanout: Vec<Fanout>,
    backoff: BackoffTable,
    retained: Vec<Retained>,
    rng: SimRng,
    config: GossipConfig,
}

/// How many of the last ids seen [`Gossip`]'s seen cache keeps inline (one
/// cache line): the later copies of a message, and the IHAVEs of the last
/// few heartbeats, mostly ask about ids this recent.
pub const SEEN_RECENT: usize = 8;

impl Gossip {
    /// A node with address `id`, no peers and no subscriptions. `rng`
    /// (the node's stream) draws the heartbeat's phase and every random
    /// choice of peers.
    pub fn new(id: NodeId, config: GossipConfig, mut rng: SimRng) -> Self {
        // A zero interval would beat forever at one instant.
        let heartbeat_interval = config.heartbeat_interval.max(Duration::from_nanos(1));
        let phase = uniform_below(&mut rng, heartbeat_interval.as_nanos());
        let p = &config.score;
        Gossip {
            id,
            min_score: 0.0,
            graylist_threshold: config.thresholds.graylist_threshold,
            gossip_threshold: config.thresholds.gossip_threshold,
            scores_p3: p.mesh_message_deliveries_weight != 0.0
                || p.mesh_failure_penalty_weight != 0.0,
            max_ihave_messages: u16::try_from(config.max_ihave_messages).unwrap_or(u16::MAX),
            max_ihave_length: u16::try_from(config.max_ihave_length).unwrap_or(u16::MAX),
            config,
            heartbeat_interval,
            rng,
            next_seq: 0,
            next_heartbeat: Instant::from_nanos(phase),
            ticks: 0,
            peers: PeerTable::default(),
            mesh: SmallVec::new(),
            fanout: Vec::new(),
            backoff: BackoffTable::new(),
            seen: SeenCache::new(config.seen_ttl),
            mcache: MessageCache::new(config.mcache_len, config.mcache_gossip),
            promises: Vec::new(),
            retained: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Makes this node number its messages from `seq` on instead of 0.
    ///
    /// A message id is `from ‖ seqno`, and ids must be unique in a run. A
    /// node rebuilt after a crash that lost its state would start again at 0
    /// and reuse its earlier ids, which the other nodes' seen caches would
    /// drop as duplicates and the kernel would count as reused. Builders
    /// therefore start each incarnation at a random sequence number drawn
    /// from its RNG stream, as libp2p randomises its initial seqno.
    pub fn with_initial_seq(mut self, seq: u32) -> Self {
        self.next_seq = seq;
        self
    }

    // ----- getters -----

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &GossipConfig {
        &self.config
    }

    /// The topics it subscribes to, ascending.
    pub fn subscriptions(&self) -> impl Iterator<Item = TopicId> + '_ {
        self.mesh.iter().map(|m| m.topic)
    }

    /// Whether it subscribes to `topic`.
    pub fn is_subscribed(&self, topic: TopicId) -> bool {
        self.mesh_pos(topic).is_ok()
    }

    /// Its connected peers.
    pub fn peers(&self) -> &PeerTable {
        &self.peers
    }

    /// Its mesh of `topic`, ascending (empty if it does not subscribe).
    pub fn mesh(&self, topic: TopicId) -> &[NodeId] {
        self.mesh_pos(topic)
            .map_or(&[][..], |i| &self.mesh[i].peers[..])
    }

    /// Its fanout of `topic` (empty if none).
    pub fn fanout(&self, topic: TopicId) -> &[NodeId] {
        self.fanout
            .iter()
            .find(|f| f.topic == topic)
            .map_or(&[][..], |f| &f.peers[..])
    }

    /// `peer`'s score as the router uses it, if connected (or its score is
    /// retained): for a connected peer, as of the last heartbeat or penalty;
    /// for a retained score, at `now`. The exact score at any time is
    /// [`PeerScore::score`] of [`Peer::score`].
    pub fn score(&self, peer: NodeId, now: Instant) -> Option<f64> {
        self.score_of(peer, now)
    }

    /// Its backoff table.
    pub fn backoff(&self) -> &BackoffTable {
        &self.backoff
    }

    /// The message ids it remembers.
    pub fn seen(&self) -> &SeenCache<SEEN_RECENT> {
        &self.seen
    }

    /// Its message cache.
    pub fn mcache(&self) -> &MessageCache {
        &self.mcache
    }

    /// IWANT promises awaiting delivery.
    pub fn promises(&self) -> usize {
        self.promises.len()
    }

    /// Scores of disconnected peers it still remembers.
    pub fn retained(&self) -> usize {
        self.retained.len()
    }

    /// When the next heartbeat is due.
    pub fn next_heartbeat(&self) -> Instant {
        self.next_heartbeat
    }

    // ----- helpers -----

    fn mesh_pos(&self, topic: TopicId) -> Result<usize, usize> {
        self.mesh.binary_search_by_key(&topic, |m| m.topic)
    }

    fn in_mesh(&self, topic: TopicId, peer: NodeId) -> bool {
        self.mesh_pos(topic)
            .is_ok_and(|i| self.mesh[i].peers.binary_search(&peer).is_ok())
    }

    fn score_of(&self, peer: NodeId, now: Instant) -> Option<f64> {
        match self.peers.get(peer) {
            Some(p) => Some(p.current),
            None => {
                let r = self.retained.iter().find(|r| r.peer == peer)?;
                Some(r.score.score(&self.config.score, now))
            }
        }
    }

    /// Recomputes `peer`'s current score (after a penalty, a graft or a
    /// prune; the heartbeat recomputes every peer's).
    fn rescore(&mut self, peer: NodeId, now: Instant) {
        let params = &self.config.score;
        if let Some(p) = self.peers.get_mut(peer) {
            p.current = p.score.score(params, now);
            self.min_score = self.min_score.min(p.current);
        }
    }

    fn event(&mut self, e: GossipEvent) {
        self.outputs.push_back(Output::Event(e));
    }

    fn send(&mut self, to: NodeId, bytes: Datagram) {
        self.outputs.push_back(Output::Transmit { to, bytes });
    }

    /// Adds `peer` to mesh number `mi`.
    fn add_to_mesh(&mut self, now: Instant, mi: usize, peer: NodeId) {
        let mesh = &mut self.mesh[mi];
        if let Err(at) = mesh.peers.binary_search(&peer) {
            mesh.peers.insert(at, peer);
            let topic = mesh.topic;
            if let Some(p) = self.peers.get_mut(peer) {
                p.score.graft(topic, now);
            }
            self.rescore(peer, now);
            self.event(GossipEvent::Grafted { peer, topic });
        }
    }

    /// Removes `peer` from mesh number `mi`, if it is there.
    fn remove_from_mesh(&mut self, now: Instant, mi: usize, peer: NodeId) {
        let mesh = &mut self.mesh[mi];
        if let Ok(at) = mesh.peers.binary_search(&peer) {
            mesh.peers.remove(at);
            let topic = mesh.topic;
            if let Some(p) = self.peers.get_mut(peer) {
                p.score.prune(topic, &self.config.score, now);
            }
            self.rescore(peer, now);
            self.event(GossipEvent::Pruned { peer, topic });
        }
    }

    /// Peers subscribed to `topic`, other than `exclude`, with a score of at
    /// least `min`, ascending.
    fn topic_peers(&self, topic: TopicId, min: f64, exclude: &[NodeId]) -> Vec<NodeId> {
        self.peers
            .iter()
            .filter(|p| p.subscribes(topic) && p.current >= min && !exclude.contains(&p.id))
            .map(|p| p.id)
            .collect()
    }

    /// A PRUNE of `topic` for `peer`, backing it off locally for `backoff`;
    /// with `px`, it offers up to `prune_peers` other topic peers that score
    /// at least 0.
    fn prune_for(
        &mut self,
        now: Instant,
        topic: TopicId,
        peer: NodeId,
        backoff: Duration,
        px: bool,
    ) -> Prune {
        self.backoff.set(topic, peer, now.saturating_add(backoff));
        let peers = if px && self.config.prune_peers > 0 {
            let mut peers = self.topic_peers(topic, 0.0, &[peer]);
            sample(&mut self.rng, &mut peers, self.config.prune_peers as usize);
            peers
        } else {
            Vec::new()
        };
        Prune {
            topic,
            peers,
            // Whole seconds on the wire, rounded up so as never to shorten it.
            backoff: Some(backoff.as_nanos().div_ceil(1_000_000_000)),
        }
    }

    /// `peer` is connected: add it (with its retained score, if any) and
    /// tell it our subscriptions.
    fn connect(&mut self, now: Instant, peer: NodeId) {
        let score = match self.retained.iter().position(|r| r.peer == peer) {
            Some(i) => self.retained.remove(i).score,
            None => PeerScore::new(),
        };
        let current = score.score(&self.config.score, now);
        self.min_score = self.min_score.min(current);
        let outbound = is_outbound(self.id, peer);
        if self.peers.insert(peer, outbound, score, current) && !self.mesh.is_empty() {
            let hello = RpcRepr {
                subscriptions: self
                    .subscriptions()
                    .map(|topic| Subscription {
                        subscribe: true,
                        topic,
                    })
                    .collect(),
                ..RpcRepr::default()
            };
            self.send(peer, hello.emit().into());
        }
    }

    /// An RPC came from `peer`: if it is not a peer yet, it becomes one.
    fn ensure_peer(&mut self, now: Instant, peer: NodeId) {
        if !self.peers.contains(peer) {
            self.event(GossipEvent::InboundPeer { peer });
            self.connect(now, peer);
        }
    }

    fn disconnect(&mut self, now: Instant, peer: NodeId) {
        if !self.peers.contains(peer) {
            return;
        }
        for mi in 0..self.mesh.len() {
            self.remove_from_mesh(now, mi, peer);
        }
        for f in &mut self.fanout {
            f.peers.retain(|&p| p != peer);
        }
        self.promises.retain(|p| p.peer != peer);
        if let Some(p) = self.peers.remove(peer) {
            if !p.score.is_idle() && self.config.score.retain_score > Duration::ZERO {
                self.retained.push(Retained {
                    peer,
                    until: now.saturating_add(self.config.score.retain_score),
                    score: p.score,
                });
            }
        }
    }

    fn subscribe(&mut self, now: Instant, topic: TopicId) {
        let Err(mi) = self.mesh_pos(topic) else {
            return;
        };
        // JOIN: the fanout's peers first, then other topic peers, up to D.
        let d = self.config.d as usize;
        let mut chosen = match self.fanout.iter().position(|f| f.topic == topic) {
            Some(fi) => {
                let fanout = self.fanout.remove(fi).peers;
                fanout
                    .into_iter()
                    .filter(|&p| {
                        self.peers
                            .get(p)
                            .is_some_and(|p| p.subscribes(topic) && p.current >= 0.0)
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        sample(&mut self.rng, &mut chosen, d);
        if chosen.len() < d {
            let mut more = self.topic_peers(topic, 0.0, &chosen);
            let slack = self.heartbeat_interval;
            more.retain(|&p| !self.backoff.is_backing_off(topic, p, now, slack));
            sample(&mut self.rng, &mut more, d - chosen.len());
            chosen.extend(more);
        }
        self.mesh.insert(
            mi,
            TopicMesh {
                topic,
                peers: Vec::new(),
            },
        );
        for &p in &chosen {
            self.add_to_mesh(now, mi, p);
        }
        let sub = Subscription {
            subscribe: true,
            topic,
        };
        let grafts = chosen
            .iter()
            .map(|&p| {
                let control = ControlRepr {
                    graft: vec![topic],
                    ..ControlRepr::default()
                };
                (p, control)
            })
            .collect();
        self.announce(sub, grafts);
    }

    fn unsubscribe(&mut self, now: Instant, topic: TopicId) {
        let Ok(mi) = self.mesh_pos(topic) else {
            return;
        };
        // LEAVE: PRUNE the mesh (with PX for peers that score at least 0).
        let mesh = self.mesh[mi].peers.clone();
        for &p in &mesh {
            self.remove_from_mesh(now, mi, p);
        }
        self.mesh.remove(mi);
        let backoff = self.config.unsubscribe_backoff;
        let prunes = mesh
            .iter()
            .map(|&p| {
                let px = self.score_of(p, now).is_some_and(|s| s >= 0.0);
                let control = ControlRepr {
                    prune: vec![self.prune_for(now, topic, p, backoff, px)],
                    ..ControlRepr::default()
                };
                (p, control)
            })
            .collect();
        let sub = Subscription {
            subscribe: false,
            topic,
        };
        self.announce(sub, prunes);
    }

    /// Tells every peer about `sub`, with `control` piggybacked for the
    /// peers it names; the plain announcement is encoded once.
    fn announce(&mut self, sub: Subscription, mut control: Vec<(NodeId, ControlRepr)>) {
        let plain = Datagram::from(
            RpcRepr {
                subscriptions: vec![sub],
                ..RpcRepr::default()
            }
            .emit(),
        );
        let peers: Vec<NodeId> = self.peers.iter().map(|p| p.id).collect();
        for peer in peers {
            let bytes = match control.iter().position(|(p, _)| *p == peer) {
                Some(i) => RpcRepr {
                    subscriptions: vec![sub],
                    control: control.swap_remove(i).1,
                    ..RpcRepr::default()
                }
                .emit()
                .into(),
                None => plain.clone(),
            };
            self.send(peer, bytes);
        }
    }

    fn publish(&mut self, now: Instant, topic: TopicId, size: u32) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let id = MessageId::new(self.id, seq);
        self.seen.insert(now, id.0);
        let message = MessageRepr {
            id,
            topic,
            data_len: size,
            hops: 0,
        };
        self.mcache.put(message, now);
        self.event(GossipEvent::Published {
            msg: id,
            topic,
            expected: self.config.expected_subscribers,
        });
        let publish_threshold = self.config.thresholds.publish_threshold;
        let targets = if self.config.flood_publish {
            self.topic_peers(topic, publish_threshold, &[])
        } else if let Ok(mi) = self.mesh_pos(topic) {
            self.mesh[mi].peers.clone()
        } else {
            let fi = match self.fanout.iter().position(|f| f.topic == topic) {
                Some(fi) => fi,
                None => {
                    self.fanout.push(Fanout {
                        topic,
                        peers: Vec::new(),
                        last_published: now,
                    });
                    self.fanout.len() - 1
                }
            };
            if self.fanout[fi].peers.is_empty() {
                let mut peers = self.topic_peers(topic, publish_threshold, &[]);
                sample(&mut self.rng, &mut peers, self.config.d as usize);
                self.fanout[fi].peers = peers;
            }
            self.fanout[fi].last_published = now;
            self.fanout[fi].peers.clone()
        };
        if !targets.is_empty() {
            let bytes = message.emit();
            for to in targets {
                self.send(to, bytes.clone());
            }
        }
    }

    fn handle_subscription(&mut self, now: Instant, from: NodeId, sub: Subscription) {
        let Some(peer) = self.peers.get_mut(from) else {
            return;
        };
        if !peer.set_subscribed(sub.topic, sub.subscribe) || sub.subscribe {
            return;
        }
        if let Ok(mi) = self.mesh_pos(sub.topic) {
            self.remove_from_mesh(now, mi, from);
        }
        if let Some(f) = self.fanout.iter_mut().find(|f| f.topic == sub.topic) {
            f.peers.retain(|&p| p != from);
        }
    }

    fn handle_message(&mut self, now: Instant, from: NodeId, m: MessageRepr) {
        if m.id.from_node() == self.id || self.seen.contains(m.id.0) {
            self.event(GossipEvent::Duplicate { msg: m.id, from });
            if self.scores_p3 && self.in_mesh(m.topic, from) {
                let params = &self.config.score;
                let window = params.mesh_message_deliveries_window;
                let near_first = self
                    .mcache
                    .get(m.id)
                    .is_some_and(|c| now <= c.received.saturating_add(window));
                if near_first {
                    if let Some(p) = self.peers.get_mut(from) {
                        p.score.near_first_delivery(m.topic, params);
                    }
                }
            }
            return;
        }
        self.seen.insert(now, m.id.0);
        if !self.promises.is_empty() {
            self.promises.retain(|p| p.id != m.id);
        }
        if let Some(p) = self.peers.get_mut(from) {
            p.score.first_delivery(m.topic, &self.config.score);
        }
        // Only a forged copy can have travelled 2^32 hops already.
        let onward = MessageRepr {
            hops: m.hops.saturating_add(1),
            ..m
        };
        self.mcache.put(onward, now);
        let Ok(mi) = self.mesh_pos(m.topic) else {
            return;
        };
        self.event(GossipEvent::Delivered {
            msg: m.id,
            topic: m.topic,
            hops: onward.hops,
            from,
        });
        let author = m.id.from_node();
        let forward = |p: &&NodeId| **p != from && **p != author;
        if self.mesh[mi].peers.iter().any(|p| forward(&p)) {
            self.event(GossipEvent::Relayed { msg: m.id });
            // Encoded once; the transmits share the bytes.
            let bytes = onward.emit();
            for &to in self.mesh[mi].peers.iter().filter(forward) {
                self.outputs.push_back(Output::Transmit {
                    to,
                    bytes: bytes.clone(),
                });
            }
        }
    }

    fn handle_control(&mut self, now: Instant, from: NodeId, control: ControlRepr) {
        if control.is_empty() {
            return;
        }
        let Some(score) = self.score_of(from, now) else {
            return;
        };
        let mut reply = ControlRepr::default();
        for topic in control.graft {
            self.handle_graft(now, from, topic, score, &mut reply);
        }
        for prune in control.prune {
            self.handle_prune(now, from, prune, score);
        }
        let mut served = Vec::new();
        if score >= self.config.thresholds.gossip_threshold {
            let ihaves = control
                .ihave
                .iter()
                .map(|h| (h.topic, h.ids.iter().copied()));
            self.handle_ihave(now, from, ihaves, &mut reply);
            let limit = self.config.gossip_retransmission;
            for id in control.iwant {
                served.extend(self.mcache.serve(id, from, limit));
            }
        }
        if !reply.is_empty() {
            let rpc = RpcRepr {
                control: reply,
                ..RpcRepr::default()
            };
            self.send(from, rpc.emit().into());
        }
        for m in served {
            self.send(from, m.emit());
        }
    }

    fn handle_graft(
        &mut self,
        now: Instant,
        from: NodeId,
        topic: TopicId,
        score: f64,
        reply: &mut ControlRepr,
    ) {
        // v1.1: a GRAFT for a topic we are not in is ignored (no PRUNE, no PX).
        let Ok(mi) = self.mesh_pos(topic) else {
            return;
        };
        if self.mesh[mi].peers.binary_search(&from).is_ok() {
            return;
        }
        let backoff = self.config.prune_backoff;
        if self
            .backoff
            .until(topic, from)
            .is_some_and(|until| now < until)
        {
            if let Some(p) = self.peers.get_mut(from) {
                p.score.penalise(1.0);
            }
            self.rescore(from, now);
            reply
                .prune
                .push(self.prune_for(now, topic, from, backoff, false));
            return;
        }
        let outbound = self.peers.get(from).is_some_and(|p| p.outbound);
        let full = self.mesh[mi].peers.len() >= self.config.d_high as usize;
        if score < 0.0 || (full && !outbound) {
            let px = score >= 0.0;
            reply
                .prune
                .push(self.prune_for(now, topic, from, backoff, px));
            return;
        }
        self.add_to_mesh(now, mi, from);
    }

    fn handle_prune(&mut self, now: Instant, from: NodeId, prune: Prune, score: f64) {
        let Ok(mi) = self.mesh_pos(prune.topic) else {
            return;
        };
        self.remove_from_mesh(now, mi, from);
        let backoff = prune.backoff.map_or(self.config.prune_backoff, |secs| {
            Duration::from_secs(1)
                .checked_mul(secs)
                .unwrap_or(Duration::MAX)
        });
        self.backoff
            .set(prune.topic, from, now.saturating_add(backoff));
        if score >= self.config.thresholds.accept_px_threshold.max(0.0) {
            for peer in prune.peers {
                if peer == self.id || self.peers.contains(peer) {
                    continue;
                }
                let added = self.peers.len() < self.config.px_peer_limit as usize;
                self.event(GossipEvent::PeerExchange { from, peer, added });
                if added {
                    self.connect(now, peer);
                }
            }
        }
    }

    fn handle_ihave<I: Iterator<Item = MessageId>>(
        &mut self,
        now: Instant,
        from: NodeId,
        ihave: impl Iterator<Item = (TopicId, I)>,
        reply: &mut ControlRepr,
    ) {
        let Some(peer) = self.peers.counters_mut(from) else {
            return;
        };
        let mut wanted = Vec::new();
        for (topic, ids) in ihave {
            if peer.ihaves >= self.max_ihave_messages {
                break;
            }
            peer.ihaves += 1;
            if self.mesh.binary_search_by_key(&topic, |m| m.topic).is_err() {
                continue;
            }
            for id in ids {
                if peer.asked >= self.max_ihave_length {
                    break;
                }
                if !self.seen.contains(id.0) {
                    wanted.push(id);
                    peer.asked += 1;
                }
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        if !wanted.is_empty() {
            let k = uniform_below(&mut self.rng, wanted.len() as u64) as usize;
            self.promises.push(Promise {
                id: wanted[k],
                peer: from,
                deadline: now.saturating_add(self.config.iwant_followup_time),
            });
            reply.iwant.extend(wanted);
        }
    }
}

/// Whether this node's connection to `peer` counts as outbound (this node
/// dialed it).
///
/// The simulator has no dialer: a connection is just two `AddPeer`s. So
/// each connection gets a fixed direction from a hash of the pair: outbound
/// for exactly one of the two ends, and for about half of any node's peers,
/// as for a node that dials as often as it is dialed. The mesh's `D_out`
/// quota is kept over these directions.
pub fn is_outbound(node: NodeId, peer: NodeId) -> bool {
    let odd = (node.0 ^ peer.0).count_ones() % 2 == 1;
    (node.0 < peer.0) == odd
}

/// Keeps a uniform random `k` of `v` (all of it if `k >= v.len()`), by a
/// partial Fisher–Yates shuffle: deterministic for a given RNG and order.
fn sample(rng: &mut SimRng, v: &mut Vec<NodeId>, k: usize) {
    if k >= v.len() {
        return;
    }
    for i in 0..k {
        let j = i + uniform_below(rng, (v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(k);
}

/// Shuffles `v` uniformly (Fisher–Yates).
fn shuffle(rng: &mut SimRng, v: &mut [NodeId]) {
    for i in (1..v.len()).rev() {
        let j = uniform_below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

impl Protocol for Gossip {
    type Command = GossipCommand;
    type Event = GossipEvent;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        let drop = Output::Drop {
            from,
            len: bytes.len(),
            cause: DropCause::Malformed,
        };
        if from == self.id {
            // Only a misbehaving driver loops a node's datagrams back to it.
            self.outputs.push_back(drop);
            return;
        }
        let graylist = self.graylist_threshold;
        if self.min_score < graylist && self.score_of(from, now).is_some_and(|s| s < graylist) {
            self.event(GossipEvent::Ignored {
                from,
                len: bytes.len(),
            });
            return;
        }
        // The relay's hot path: an RPC of valid messages only, read without
        // allocating (and without copying the payloads).
        if let Some(messages) = wire::MessagesOnly::new(bytes) {
            self.ensure_peer(now, from);
            for m in messages {
                self.handle_message(now, from, m);
            }
            return;
        }
        // Each heartbeat's gossip: an RPC of IHAVEs only, read likewise.
        if let Some(ihaves) = wire::IHavesOnly::new(bytes) {
            self.ensure_peer(now, from);
            let threshold = self.gossip_threshold;
            if self.min_score >= threshold
                || self.score_of(from, now).is_some_and(|s| s >= threshold)
            {
                let mut reply = ControlRepr::default();
                self.handle_ihave(now, from, ihaves, &mut reply);
                // The reply is an IWANT alone, if anything.
                if !reply.iwant.is_empty() {
                    self.send(from, wire::emit_iwant(&reply.iwant));
                }
            }
            return;
        }
        let Ok(rpc) = RpcRepr::parse(bytes) else {
            self.outputs.push_back(drop);
            return;
        };
        self.ensure_peer(now, from);
        for sub in rpc.subscriptions {
            self.handle_subscription(now, from, sub);
        }
        for m in rpc.messages {
            self.handle_message(now, from, m);
        }
        for bad in rpc.invalid {
            if let Some(p) = self.peers.get_mut(from) {
                p.score.invalid_message(bad.topic);
            }
            self.rescore(from, now);
            self.event(GossipEvent::Invalid {
                from,
                topic: bad.topic,
                reason: bad.reason,
            });
        }
        self.handle_control(now, from, rpc.control);
    }

    fn handle_command(&mut self, now: Instant, cmd: GossipCommand) {
        match cmd {
            GossipCommand::AddPeer(peer) => {
                if peer != self.id {
                    self.connect(now, peer);
                }
            }
            GossipCommand::RemovePeer(peer) => self.disconnect(now, peer),
            GossipCommand::Subscribe(topic) => self.subscribe(now, topic),
            GossipCommand::Unsubscribe(topic) => self.unsubscribe(now, topic),
            GossipCommand::Publish { topic, size } => self.publish(now, topic, size),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_heartbeat {
            return;
        }
        self.heartbeat(now);
        let interval = self.heartbeat_interval;
        self.next_heartbeat = self.next_heartbeat.saturating_add(interval);
        if self.next_heartbeat <= now {
            // Woken late (or built after its first beat was due): skip the
            // missed beats, keeping the phase.
            let behind = now
                .saturating_duration_since(self.next_heartbeat)
                .as_nanos();
            let skip = behind / interval.as_nanos() + 1;
            self.next_heartbeat = self
                .next_heartbeat
                .saturating_add(interval.saturating_mul(skip));
        }
    }

    fn poll_output(&mut self) -> Option<Output<GossipEvent>> {
        self.outputs.pop_front().or_else(|| {
            // Drained: the next input writes from the buffer's start again
            // (`clear` rewinds), where `prefetch` can find it.
            self.outputs.clear();
            None
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_heartbeat)
    }

    /// In round 0 (the only one): the peer ids and IHAVE counters (every
    /// datagram looks its sender up), the start of the outputs' buffer
    /// (where the input's outputs go, the queue being drained), the first
    /// mesh's peers, the end of the current message-cache window (a
    /// first copy is cached and forwarded to the mesh) and the seen cache's
    /// own fields (its line of recent ids answers most datagrams), which
    /// lie past the bytes the kernel prefetches of a boxed node. The mesh
    /// and the windows are inline, so this reads nothing outside the node's
    /// state.
    fn prefetch(&self, round: u32) {
        if round != 0 {
            return;
        }
        sim_core::prefetch(self.peers.ids());
        self.peers.prefetch_counters();
        // An empty deque's first slice starts at its buffer.
        let outputs = self.outputs.as_slices().0.as_ptr();
        sim_core::prefetch_bytes(outputs.cast(), 128);
        if let Some(mesh) = self.mesh.first() {
            sim_core::prefetch(&mesh.peers[..]);
        }
        self.mcache.prefetch();
        sim_core::prefetch(&self.seen);
    }
}
