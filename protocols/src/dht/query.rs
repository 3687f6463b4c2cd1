//! The iterative lookup: which peers to ask next, when a lookup is done, and
//! the table of requests in flight with their timeouts.
//!
//! [`ClosestPeersIter`] is the paper's node lookup as a pure value: it keeps
//! the candidates it has heard of sorted by XOR distance to the target, hands
//! out the closest one not yet asked while fewer than `α` requests are out,
//! takes in each answer's closer peers, and is finished when the `k` closest
//! candidates that have not failed have all answered. It sends nothing and
//! reads no clock; [`Dht`](super::Dht) does the sending and reports answers
//! and failures back.
//!
//! [`PendingRequests`] is the node's table of requests in flight: each has a
//! request id (to match the answer), the peer it went to, what it was for
//! and a deadline. A request not answered by its deadline fails. All
//! requests have the same timeout and time never goes backwards, so
//! deadlines grow in send order and the table is a queue sorted by deadline:
//! its head is the node's next request timeout.
//!
//! # Depth, or how `hops` is counted
//!
//! Every candidate has a *depth*: 1 for the peers the lookup started from
//! (taken from the routing table), and `d + 1` for a peer heard of in the
//! answer of a peer at depth `d`; a peer named in several answers keeps the
//! smallest such depth. So a peer's depth is the length of the shortest chain
//! "learned of it from the answer of" that leads to it from the start set:
//! the number of request rounds, one after the other, the lookup needed to
//! get that peer's answer, however the answers happened to be timed. The
//! lookup's `hops` ([`ClosestPeersIter::hops`]) is the largest depth among
//! the peers whose answers make up its result, the `k` closest that
//! answered: the iteration depth the result took. (A GET_VALUE or
//! GET_PROVIDERS that finds what it looks for ends at the answer that
//! carried it, and its `hops` is that peer's depth.)
//!
//! This differs from counting waves of `α` requests: a lookup that starts
//! knowing the `k` closest peers still sends `⌈k/α⌉` waves (no more than `α`
//! requests are ever out), but all its answers are at depth 1. The waves are
//! what the "at least ⌈k/α⌉ rounds" answer of the reference counts, and the
//! tests measure them with a network that moves in lockstep.
//!
//! # Implementation notes
//!
//! - The start set is the `k` closest peers of the routing table, as in
//!   rust-libp2p; the libp2p spec seeds `α` peers, and the paper `α` peers of
//!   the closest non-empty bucket. With `k` seeds the first answers can come
//!   from further down the candidate list without a round trip.
//! - The paper's rule "if a round fails to return a closer node, query all
//!   of the `k` closest not yet queried" is subsumed: the lookup always asks
//!   the closest unasked of the `k` closest non-failed candidates, `α` at a
//!   time, until all `k` have answered.
//! - A peer whose request timed out is `Failed` for the rest of the lookup;
//!   a late answer is dropped, not counted (the paper would reconsider it).
//! - Requests to peers that dropped out of the `k` closest (because closer
//!   ones turned up) keep their slot until they end, as in rust-libp2p, but
//!   do not hold up the end of the lookup.

use std::collections::VecDeque;

use sim_core::{Instant, NodeId};

use super::key::{Distance, Key};
use super::wire::MessageType;

/// Where a candidate stands in a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    /// Heard of, not asked yet.
    NotContacted,
    /// Asked; the answer is awaited.
    Waiting,
    /// Answered.
    Succeeded,
    /// Did not answer in time.
    Failed,
}

/// A peer a lookup knows of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The peer.
    pub node: NodeId,
    /// Its distance to the target.
    pub distance: Distance,
    /// Its depth (see the [module docs](self)).
    pub depth: u32,
    /// Where it stands.
    pub state: PeerState,
}

/// An iterative lookup for the `k` peers closest to a target. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct ClosestPeersIter {
    target: Key,
    /// Every candidate, closest first.
    candidates: Vec<Candidate>,
    k: usize,
    alpha: usize,
    waiting: usize,
}

impl ClosestPeersIter {
    /// A lookup for `target` starting from `seeds` (depth 1), keeping the `k`
    /// closest in view and at most `alpha` requests out (both at least 1).
    pub fn new(
        target: Key,
        seeds: impl IntoIterator<Item = NodeId>,
        k: usize,
        alpha: usize,
    ) -> Self {
        let mut iter = ClosestPeersIter {
            target,
            candidates: Vec::new(),
            k: k.max(1),
            alpha: alpha.max(1),
            waiting: 0,
        };
        for node in seeds {
            iter.learn(node, 1);
        }
        iter
    }

    /// The key looked up.
    pub fn target(&self) -> &Key {
        &self.target
    }

    /// Every candidate, closest first.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// How many requests are out.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// The next peer to ask, now marked [`PeerState::Waiting`]: the closest
    /// not yet asked among the `k` closest non-failed candidates, if fewer
    /// than `α` requests are out. Call until it returns `None`.
    pub fn next_peer(&mut self) -> Option<NodeId> {
        if self.waiting >= self.alpha {
            return None;
        }
        let node = self
            .in_view()
            .find(|c| c.state == PeerState::NotContacted)?
            .node;
        self.find_mut(node)?.state = PeerState::Waiting;
        self.waiting += 1;
        Some(node)
    }

    /// `peer` answered, naming `closer` peers. Returns `false` (and changes
    /// nothing) if no request to `peer` was out.
    pub fn on_success(&mut self, peer: NodeId, closer: impl IntoIterator<Item = NodeId>) -> bool {
        let Some(c) = self.find_mut(peer) else {
            return false;
        };
        if c.state != PeerState::Waiting {
            return false;
        }
        c.state = PeerState::Succeeded;
        let depth = c.depth + 1;
        self.waiting -= 1;
        for node in closer {
            self.learn(node, depth);
        }
        true
    }

    /// The request to `peer` failed. Returns `false` if none was out.
    pub fn on_failure(&mut self, peer: NodeId) -> bool {
        match self.find_mut(peer) {
            Some(c) if c.state == PeerState::Waiting => {
                c.state = PeerState::Failed;
                self.waiting -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether the lookup is over: none of the `k` closest non-failed
    /// candidates is still to be asked or awaited (they all answered, or
    /// there were none).
    pub fn is_finished(&self) -> bool {
        self.in_view().all(|c| c.state == PeerState::Succeeded)
    }

    /// The depth of `peer`, if it is a candidate.
    pub fn depth(&self, peer: NodeId) -> Option<u32> {
        self.candidates
            .iter()
            .find(|c| c.node == peer)
            .map(|c| c.depth)
    }

    /// The result so far: up to `k` of the closest candidates that answered,
    /// closest first.
    pub fn result(&self) -> Vec<NodeId> {
        self.in_view()
            .filter(|c| c.state == PeerState::Succeeded)
            .map(|c| c.node)
            .collect()
    }

    /// The largest depth among the peers of [`result`](Self::result), 0 if
    /// none answered: the lookup's `hops`.
    pub fn hops(&self) -> u32 {
        self.in_view()
            .filter(|c| c.state == PeerState::Succeeded)
            .map(|c| c.depth)
            .max()
            .unwrap_or(0)
    }

    /// The `k` closest candidates that have not failed.
    fn in_view(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .iter()
            .filter(|c| c.state != PeerState::Failed)
            .take(self.k)
    }

    fn find_mut(&mut self, peer: NodeId) -> Option<&mut Candidate> {
        self.candidates.iter_mut().find(|c| c.node == peer)
    }

    /// Adds `node` at `depth`, or lowers its depth if it is known.
    fn learn(&mut self, node: NodeId, depth: u32) {
        let distance = Key::for_node(node).distance(&self.target);
        match self
            .candidates
            .binary_search_by(|c| c.distance.cmp(&distance))
        {
            Ok(i) => {
                let c = &mut self.candidates[i];
                c.depth = c.depth.min(depth);
            }
            Err(i) => self.candidates.insert(
                i,
                Candidate {
                    node,
                    distance,
                    depth,
                    state: PeerState::NotContacted,
                },
            ),
        }
    }
}

/// What a request in flight is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A step of lookup `lookup` (FIND_NODE, GET_VALUE or GET_PROVIDERS).
    Lookup(u64),
    /// A PUT_VALUE or ADD_PROVIDER of lookup `lookup`'s store phase.
    Store(u64),
    /// A PING to a bucket's oldest entry.
    Ping,
}

/// A request in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The request id its answer must carry.
    pub id: u64,
    /// The peer it went to (the answer must come from it).
    pub peer: NodeId,
    /// The message type the answer must have.
    pub kind: MessageType,
    /// When it fails if unanswered.
    pub deadline: Instant,
    /// What it is for.
    pub purpose: Purpose,
}

/// The requests in flight, sorted by deadline. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct PendingRequests {
    queue: VecDeque<Pending>,
}

impl PendingRequests {
    /// No request in flight.
    pub fn new() -> Self {
        PendingRequests::default()
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Every request in flight, earliest deadline first.
    pub fn iter(&self) -> impl Iterator<Item = &Pending> {
        self.queue.iter()
    }

    /// Bytes of heap the table holds.
    pub fn heap_bytes(&self) -> usize {
        self.queue.capacity() * std::mem::size_of::<Pending>()
    }

    /// Adds a request, keeping deadline order (a later or equal deadline,
    /// the usual case, goes to the back).
    pub fn insert(&mut self, pending: Pending) {
        let at = self
            .queue
            .partition_point(|p| p.deadline <= pending.deadline);
        self.queue.insert(at, pending);
    }

    /// Takes the request `id` if it went to `from`: the answer matches it.
    pub fn take(&mut self, id: u64, from: NodeId) -> Option<Pending> {
        let i = self
            .queue
            .iter()
            .position(|p| p.id == id && p.peer == from)?;
        let pending = self.queue.remove(i);
        self.release();
        pending
    }

    /// Takes the earliest request whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Pending> {
        if self.queue.front()?.deadline > now {
            return None;
        }
        let pending = self.queue.pop_front();
        self.release();
        pending
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.front().map(|p| p.deadline)
    }

    /// Frees the queue's buffer once it is empty, so an idle node holds no
    /// memory for past bursts.
    fn release(&mut self) {
        if self.queue.is_empty() && self.queue.capacity() > 0 {
            self.queue = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use sim_core::Duration;

    use super::*;

    /// Nodes 1..=n sorted by distance to `target`.
    fn by_distance(target: &Key, n: u32) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = (1..=n).map(NodeId).collect();
        nodes.sort_by_key(|&p| Key::for_node(p).distance(target));
        nodes
    }

    #[test]
    fn asks_the_closest_first_and_at_most_alpha_at_a_time() {
        let target = Key::for_node(NodeId(0));
        let sorted = by_distance(&target, 10);
        let mut iter = ClosestPeersIter::new(target, sorted.iter().rev().copied(), 4, 2);
        assert_eq!(iter.next_peer(), Some(sorted[0]));
        assert_eq!(iter.next_peer(), Some(sorted[1]));
        assert_eq!(iter.next_peer(), None, "α = 2 requests out");
        assert!(iter.on_success(sorted[0], []));
        assert!(!iter.on_success(sorted[0], []), "answered once");
        assert_eq!(iter.next_peer(), Some(sorted[2]));
        assert!(iter.on_failure(sorted[1]));
        // sorted[1] failed: the view of k = 4 now reaches sorted[4].
        assert_eq!(iter.next_peer(), Some(sorted[3]));
        assert!(iter.on_success(sorted[2], []));
        assert_eq!(iter.next_peer(), Some(sorted[4]));
        assert!(!iter.is_finished());
        assert!(iter.on_success(sorted[3], []));
        assert!(iter.on_success(sorted[4], []));
        assert!(iter.is_finished());
        assert_eq!(iter.result(), [sorted[0], sorted[2], sorted[3], sorted[4]]);
        assert_eq!(iter.next_peer(), None);
    }

    #[test]
    fn closer_peers_deepen_the_lookup() {
        let target = Key::for_node(NodeId(0));
        let sorted = by_distance(&target, 30);
        // Start from the two farthest; each answer names closer peers.
        let mut iter = ClosestPeersIter::new(target, [sorted[29], sorted[28]], 2, 1);
        let first = iter.next_peer().unwrap();
        assert_eq!(first, sorted[28]);
        iter.on_success(first, [sorted[10], sorted[11]]);
        assert_eq!(iter.depth(sorted[10]), Some(2));
        let second = iter.next_peer().unwrap();
        assert_eq!(second, sorted[10]);
        iter.on_success(second, [sorted[0], sorted[11]]);
        assert_eq!(iter.depth(sorted[0]), Some(3));
        assert_eq!(
            iter.depth(sorted[11]),
            Some(2),
            "the shallower discovery counts"
        );
        assert_eq!(iter.next_peer(), Some(sorted[0]));
        assert!(!iter.is_finished());
        iter.on_success(sorted[0], []);
        // The two closest non-failed, sorted[0] and sorted[10], answered.
        assert!(iter.is_finished());
        assert_eq!(iter.result(), [sorted[0], sorted[10]]);
        assert_eq!(iter.hops(), 3);
    }

    #[test]
    fn a_lookup_with_no_candidates_is_finished_at_once() {
        let mut iter = ClosestPeersIter::new(Key::for_node(NodeId(0)), [], 20, 3);
        assert!(iter.is_finished());
        assert_eq!(iter.next_peer(), None);
        assert_eq!(iter.hops(), 0);
    }

    #[test]
    fn pending_requests_expire_in_deadline_order_and_free_their_buffer() {
        let at = |s| Instant::ZERO + Duration::from_secs(s);
        let req = |id, s| Pending {
            id,
            peer: NodeId(id as u32),
            kind: MessageType::FindNode,
            deadline: at(s),
            purpose: Purpose::Ping,
        };
        let mut pending = PendingRequests::new();
        pending.insert(req(1, 10));
        pending.insert(req(2, 12));
        pending.insert(req(3, 11));
        assert_eq!(pending.next_deadline(), Some(at(10)));
        assert_eq!(pending.take(3, NodeId(4)), None, "wrong peer");
        assert_eq!(pending.take(3, NodeId(3)).map(|p| p.id), Some(3));
        assert_eq!(pending.pop_expired(at(9)), None);
        assert_eq!(pending.pop_expired(at(12)).map(|p| p.id), Some(1));
        assert_eq!(pending.pop_expired(at(12)).map(|p| p.id), Some(2));
        assert!(pending.is_empty());
        assert_eq!(pending.heap_bytes(), 0);
    }
}
