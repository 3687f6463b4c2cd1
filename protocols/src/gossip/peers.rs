//! The peer table: connected peers, their topics and their scores.

use sim_core::NodeId;

use super::score::PeerScore;
use super::small::SmallList;
use super::wire::TopicId;

/// The most topics a peer's subscription list keeps; further subscriptions
/// are ignored (bounding what a peer can make us store).
pub const MAX_PEER_TOPICS: usize = 64;

/// What a node knows of one connected peer.
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    /// Its address.
    pub id: NodeId,
    /// Whether the connection counts as outbound (see
    /// [`is_outbound`](super::is_outbound)).
    pub outbound: bool,
    /// The topics it subscribes to, ascending.
    topics: SmallList<TopicId, 2>,
    /// Its score counters.
    pub score: PeerScore,
    /// Its score as the router last computed it: at every heartbeat, and at
    /// once after a penalty (P₃b, P₄, P₇).
    pub current: f64,
}

impl Peer {
    fn new(id: NodeId, outbound: bool) -> Self {
        Peer {
            id,
            outbound,
            topics: SmallList::new(),
            score: PeerScore::new(),
            current: 0.0,
        }
    }

    /// The topics it subscribes to, ascending.
    pub fn topics(&self) -> &[TopicId] {
        self.topics.as_slice()
    }

    /// Whether it subscribes to `topic`.
    pub fn subscribes(&self, topic: TopicId) -> bool {
        self.topics().binary_search(&topic).is_ok()
    }

    /// Records a subscription change; returns whether anything changed.
    pub(crate) fn set_subscribed(&mut self, topic: TopicId, subscribed: bool) -> bool {
        match (self.topics().binary_search(&topic), subscribed) {
            (Err(i), true) if self.topics.len() < MAX_PEER_TOPICS => {
                self.topics.insert(i, topic);
                true
            }
            (Ok(i), false) => {
                self.topics.remove(i);
                true
            }
            _ => false,
        }
    }
}

/// A peer's per-heartbeat IHAVE counters: the 4 bytes the gossip path
/// writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct IHaveCounters {
    /// IHAVE messages accepted from it this heartbeat.
    pub(crate) ihaves: u16,
    /// Message ids asked of it (IWANT) this heartbeat.
    pub(crate) asked: u16,
}

/// Connected peers, ascending by id.
///
/// # Implementation notes
///
/// Three parallel `Vec`s sorted by id: the ids alone (4 bytes each), the
/// IHAVE counters (4 bytes each) and the rest of the peers' state. Every
/// incoming datagram looks its sender up, so the ids of a node's tens of
/// peers fill one or two cache lines, and up to 64 of them
/// are scanned in order rather than bisected: the scan's loads do not wait
/// on one another, so the lines arrive together, where a binary search
/// waits for each. A map would cost an allocation per peer and more misses.
#[derive(Clone, Debug, Default)]
pub struct PeerTable {
    ids: Vec<NodeId>,
    counters: Vec<IHaveCounters>,
    peers: Vec<Peer>,
}

/// Up to this many peers, lookups scan the ids in order.
const LINEAR_SEARCH: usize = 64;

impl PeerTable {
    /// Where `id` is, or would go.
    pub(crate) fn position(&self, id: NodeId) -> Result<usize, usize> {
        if self.ids.len() > LINEAR_SEARCH {
            return self.ids.binary_search(&id);
        }
        let at = self.ids.iter().take_while(|&&x| x < id).count();
        if self.ids.get(at) == Some(&id) {
            Ok(at)
        } else {
            Err(at)
        }
    }

    /// `id`'s IHAVE counters, if connected.
    pub(crate) fn counters_mut(&mut self, id: NodeId) -> Option<&mut IHaveCounters> {
        let i = self.position(id).ok()?;
        Some(&mut self.counters[i])
    }

    /// Prefetches the IHAVE counters (see [`sim_core::Protocol::prefetch`]).
    pub(crate) fn prefetch_counters(&self) {
        sim_core::prefetch(&self.counters[..]);
    }

    /// Zeroes every peer's IHAVE counters (each heartbeat).
    pub(crate) fn reset_ihave_counters(&mut self) {
        self.counters.fill(IHaveCounters::default());
    }

    /// The peer `id`, if connected.
    pub fn get(&self, id: NodeId) -> Option<&Peer> {
        self.position(id).ok().map(|i| &self.peers[i])
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> Option<&mut Peer> {
        self.position(id).ok().map(|i| &mut self.peers[i])
    }

    /// Whether `id` is connected.
    pub fn contains(&self, id: NodeId) -> bool {
        self.position(id).is_ok()
    }

    /// Adds `id` with `score` unless present; returns whether it was added.
    pub(crate) fn insert(
        &mut self,
        id: NodeId,
        outbound: bool,
        score: PeerScore,
        current: f64,
    ) -> bool {
        match self.position(id) {
            Ok(_) => false,
            Err(i) => {
                let mut peer = Peer::new(id, outbound);
                peer.score = score;
                peer.current = current;
                self.ids.insert(i, id);
                self.counters.insert(i, IHaveCounters::default());
                self.peers.insert(i, peer);
                true
            }
        }
    }

    pub(crate) fn remove(&mut self, id: NodeId) -> Option<Peer> {
        let i = self.position(id).ok()?;
        self.ids.remove(i);
        self.counters.remove(i);
        Some(self.peers.remove(i))
    }

    /// The ids of every peer, ascending.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// Every peer, ascending by id.
    pub fn iter(&self) -> std::slice::Iter<'_, Peer> {
        self.peers.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> std::slice::IterMut<'_, Peer> {
        self.peers.iter_mut()
    }

    /// The peers at positions `i` (as from [`PeerTable::iter`]).
    pub(crate) fn at(&self, i: usize) -> &Peer {
        &self.peers[i]
    }

    /// How many peers are connected.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is connected.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}
