//! The message cache (`mcache`): recent messages in heartbeat windows, for
//! IHAVE gossip and for answering IWANT.

use sim_core::{Instant, NodeId};
use smallvec::SmallVec;

use super::wire::{MessageId, MessageRepr, TopicId};

/// A message as the cache keeps it: what is needed to send it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedMessage {
    /// The message, with `hops` as this node forwards it (one more than the
    /// copy it received; 0 at the author).
    pub message: MessageRepr,
    /// When this node first saw it (for P₃'s near-first window).
    pub received: Instant,
    /// IWANT retransmissions per peer, for the v1.1 retransmission limit.
    served: Vec<(NodeId, u32)>,
}

/// Messages seen in the last `mcache_len` heartbeats, newest window first.
///
/// - [`put`](MessageCache::put) adds to the current window;
/// - [`gossip_ids`](MessageCache::gossip_ids) lists a topic's ids from the
///   newest `mcache_gossip` windows, for IHAVE;
/// - [`serve`](MessageCache::serve) answers an IWANT, at most a given number
///   of times per peer and message;
/// - [`shift`](MessageCache::shift), once per heartbeat after gossip, opens a
///   new window and forgets the oldest.
///
/// # Implementation notes
///
/// The payload is not kept: the simulator's payloads are zeros, so a message
/// is re-emitted from its [`MessageRepr`] (about 40 bytes) rather than from a
/// copy of its bytes, which at 1 KiB per message and 10⁵ nodes would cost
/// hundreds of megabytes. Lookup by id scans the windows: the cache holds
/// the messages of a few heartbeats, and IWANT is rare next to forwarding.
///
/// The windows' headers are kept inline, newest first, up to five of them
/// (the spec's default `mcache_len`), so that the prefetch before an input
/// finds where the current window ends in the node's own state rather than
/// behind one more pointer (a cache miss per event at 10⁵ nodes).
#[derive(Clone, Debug)]
pub struct MessageCache {
    windows: SmallVec<[Vec<CachedMessage>; INLINE_WINDOWS]>,
    history: usize,
    gossip: usize,
}

/// How many windows a cache keeps inline.
const INLINE_WINDOWS: usize = 5;

impl MessageCache {
    /// A cache of `history` windows (at least 1), gossiping from the newest
    /// `gossip` of them (at most `history`).
    pub fn new(history: u32, gossip: u32) -> Self {
        let history = (history as usize).max(1);
        let mut windows = SmallVec::with_capacity(history);
        windows.push(Vec::new());
        MessageCache {
            windows,
            history,
            gossip: (gossip as usize).min(history),
        }
    }

    /// Adds a message to the current window. The caller adds each id once
    /// (the seen cache outlives the message cache).
    pub fn put(&mut self, message: MessageRepr, now: Instant) {
        if let Some(current) = self.windows.first_mut() {
            current.push(CachedMessage {
                message,
                received: now,
                served: Vec::new(),
            });
        }
    }

    /// Prefetches where [`put`](MessageCache::put) writes next (see
    /// [`sim_core::Protocol::prefetch`]).
    pub(crate) fn prefetch(&self) {
        if let Some(window) = self.windows.first() {
            sim_core::prefetch_bytes(
                window.as_ptr_range().end.cast(),
                std::mem::size_of::<CachedMessage>(),
            );
        }
    }

    /// The cached message with this id, if it is still cached.
    pub fn get(&self, id: MessageId) -> Option<&CachedMessage> {
        self.windows.iter().flatten().find(|m| m.message.id == id)
    }

    /// The message for an IWANT from `peer`, unless it is no longer cached
    /// or `peer` has already been served it `limit` times.
    pub fn serve(&mut self, id: MessageId, peer: NodeId, limit: u32) -> Option<MessageRepr> {
        let m = self
            .windows
            .iter_mut()
            .flatten()
            .find(|m| m.message.id == id)?;
        let count = match m.served.iter_mut().find(|(p, _)| *p == peer) {
            Some((_, count)) => count,
            None => {
                m.served.push((peer, 0));
                &mut m.served.last_mut().expect("just pushed").1
            }
        };
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(m.message)
    }

    /// Ids of `topic` from the newest `mcache_gossip` windows, newest first,
    /// at most `max` of them.
    pub fn gossip_ids(&self, topic: TopicId, max: usize) -> Vec<MessageId> {
        self.windows
            .iter()
            .take(self.gossip)
            .flatten()
            .filter(|m| m.message.topic == topic)
            .map(|m| m.message.id)
            .take(max)
            .collect()
    }

    /// Opens a new window, forgetting the oldest if there are `mcache_len`.
    pub fn shift(&mut self) {
        if self.windows.len() >= self.history {
            // The oldest window, emptied, becomes the newest (keeping its
            // allocation).
            if let Some(oldest) = self.windows.last_mut() {
                oldest.clear();
            }
            self.windows.rotate_right(1);
        } else {
            self.windows.insert(0, Vec::new());
        }
    }

    /// How many messages are cached.
    pub fn len(&self) -> usize {
        self.windows.iter().map(Vec::len).sum()
    }

    /// Whether no message is cached.
    pub fn is_empty(&self) -> bool {
        self.windows.iter().all(Vec::is_empty)
    }

    /// How many windows there are now (at most `mcache_len`).
    pub fn windows(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u32, topic: u32) -> MessageRepr {
        MessageRepr {
            id: MessageId::new(NodeId(1), seq),
            topic: TopicId(topic),
            data_len: 10,
            hops: 1,
        }
    }

    #[test]
    fn messages_leave_after_history_shifts() {
        let mut c = MessageCache::new(3, 2);
        c.put(msg(0, 0), Instant::ZERO);
        c.shift();
        c.put(msg(1, 0), Instant::ZERO);
        c.shift();
        assert!(c.get(msg(0, 0).id).is_some());
        assert_eq!(c.len(), 2);
        c.shift(); // msg 0's window was the third: now dropped
        assert!(c.get(msg(0, 0).id).is_none());
        assert!(c.get(msg(1, 0).id).is_some());
        assert_eq!(c.windows(), 3);
    }

    #[test]
    fn gossip_covers_the_newest_windows_of_one_topic() {
        let mut c = MessageCache::new(5, 2);
        c.put(msg(0, 0), Instant::ZERO);
        c.shift();
        c.put(msg(1, 0), Instant::ZERO);
        c.put(msg(2, 9), Instant::ZERO);
        c.shift();
        c.put(msg(3, 0), Instant::ZERO);
        // Windows: [3], [1, 2], [0]; gossip looks at the newest two.
        let ids = |v: Vec<MessageId>| v.into_iter().map(|id| id.seqno()).collect::<Vec<_>>();
        assert_eq!(ids(c.gossip_ids(TopicId(0), 100)), [3, 1]);
        assert_eq!(ids(c.gossip_ids(TopicId(9), 100)), [2]);
        assert_eq!(ids(c.gossip_ids(TopicId(0), 1)), [3]);
        assert!(c.get(msg(0, 0).id).is_some(), "still cached, not gossiped");
    }

    #[test]
    fn iwant_is_served_a_limited_number_of_times_per_peer() {
        let mut c = MessageCache::new(5, 3);
        c.put(msg(0, 0), Instant::ZERO);
        let id = msg(0, 0).id;
        for _ in 0..3 {
            assert_eq!(c.serve(id, NodeId(7), 3), Some(msg(0, 0)));
        }
        assert_eq!(c.serve(id, NodeId(7), 3), None);
        assert_eq!(c.serve(id, NodeId(8), 3), Some(msg(0, 0)));
        assert_eq!(c.serve(MessageId(42), NodeId(8), 3), None);
    }
}
